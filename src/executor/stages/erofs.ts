// org.osbuild.erofs: an EROFS image `filename` in the tree from the `tree` input (or `source`)
// with `mkfs.erofs` (erofs-utils in the build root): -z <method>[,<level>], -E <options>,
// -C <cluster-size>, --exclude-regex per `exclude_paths`.
import { KilnError } from '../../util/errors.js';
import { checkKeys, checkOpt, checkValue, needTool, requireInputType } from './ostree-util.js';
import { imageSource, imageTarget, validateSource } from './squashfs.js';
import type { StageImpl } from './types.js';
import { requireKeys, requireString } from './util.js';

const METHODS = ['lz4', 'lz4hc', 'lzma', 'zstd'];
const EXTENDED = ['all-fragments', 'dedupe', 'force-inode-compact', 'force-inode-extended', 'force-inode-blockmap', 'force-chunk-indexes', 'fragments', 'noinline_data', 'ztailpacking'];

export const erofsStage: StageImpl = {
  type: 'org.osbuild.erofs',
  validate(stage, what) {
    requireKeys(stage, what, ['filename', 'source', 'exclude_paths', 'compression', 'cluster-size', 'options']);
    requireString(stage, 'filename', what);
    validateSource(stage, what);
    checkOpt(stage, 'exclude_paths', 'string[]', what);
    const c = checkOpt<Record<string, unknown>>(stage, 'compression', 'object', what);
    if (c) {
      checkKeys(c, ['method', 'level'], what, 'compression');
      const m = checkValue<string>(c, 'method', 'string', what, 'compression.method', true)!;
      if (!METHODS.includes(m)) throw new KilnError(`${what}: option "compression.method" must be one of ${METHODS.join(', ')}, got "${m}"`);
      checkValue(c, 'level', 'number', what, 'compression.level');
    }
    checkOpt(stage, 'cluster-size', 'number', what);
    const opts = checkOpt<string[]>(stage, 'options', 'string[]', what);
    if (opts !== undefined) {
      if (opts.length === 0) throw new KilnError(`${what}: option "options" needs at least one entry`);
      for (const x of opts) if (!EXTENDED.includes(x)) throw new KilnError(`${what}: option "options": unknown extended option "${x}" (allowed: ${EXTENDED.join(', ')})`);
    }
    requireInputType(stage, 'tree', ['org.osbuild.tree'], what);
  },
  async run(ctx) {
    const o = ctx.options as { filename: string; exclude_paths?: string[]; compression?: { method: string; level?: number }; 'cluster-size'?: number; options?: string[] };
    needTool(ctx, 'mkfs.erofs', 'erofs-utils');
    const args = ['mkfs.erofs', ctx.toSandbox(imageTarget(ctx)), ctx.toSandbox(imageSource(ctx)), '--quiet'];
    if (o.compression) args.push('-z', o.compression.level ? `${o.compression.method},${o.compression.level}` : o.compression.method);
    if (o.options?.length) args.push('-E', o.options.join(','));
    if (o['cluster-size']) args.push('-C', String(o['cluster-size']));
    for (const e of o.exclude_paths ?? []) args.push('--exclude-regex', e);
    await ctx.run(args, { what: `${ctx.what}: creating ${o.filename}` });
  },
};
