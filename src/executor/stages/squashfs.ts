// org.osbuild.squashfs: a squashfs image `filename` in the tree from the `tree` input (or the
// `source` mount:// / input:// location) with `mksquashfs`, compression `method` plus its -X
// options (bcj), and `exclude_paths` as regular expressions. -noappend: never add to an old image.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { KilnError } from '../../util/errors.js';
import { checkKeys, checkOpt, checkValue, requireInputType } from './ostree-util.js';
import type { StageContext, StageImpl } from './types.js';
import { requireKeys, requireString, resolveUrl, treePath } from './util.js';
import type { Stage } from '../../manifest/types.js';

/** Validate `source` (mount://... or input://name/...) as the squashfs and erofs schemas allow. */
export function validateSource(stage: Stage, what: string): void {
  const src = checkOpt<string>(stage, 'source', 'string', what);
  if (src === undefined) return;
  if (!/^mount:\/\//.test(src) && !/^input:\/\/[^/]+\//.test(src)) throw new KilnError(`${what}: option "source" must be a mount:// or input://<name>/ URL, got "${src}"`);
}

/** Host path of what goes into the image. */
export function imageSource(ctx: StageContext): string {
  const src = ctx.options.source as string | undefined;
  if (src) return resolveUrl(ctx, src, ['mount', 'input']);
  const inp = ctx.inputs.tree;
  if (!inp) throw new KilnError(`${ctx.what}: input "tree" is missing`);
  return inp.path;
}

/** Host path of the image file, its directory created. */
export function imageTarget(ctx: StageContext): string {
  const target = treePath(ctx, ctx.options.filename as string);
  mkdirSync(dirname(target), { recursive: true });
  return target;
}

const BCJ = ['x86', 'arm', 'armthumb', 'powerpc', 'sparc', 'ia64'];

export const squashfsStage: StageImpl = {
  type: 'org.osbuild.squashfs',
  validate(stage, what) {
    requireKeys(stage, what, ['filename', 'source', 'exclude_paths', 'compression']);
    requireString(stage, 'filename', what);
    validateSource(stage, what);
    checkOpt(stage, 'exclude_paths', 'string[]', what);
    const c = checkOpt<Record<string, unknown>>(stage, 'compression', 'object', what);
    if (c) {
      checkKeys(c, ['method', 'options'], what, 'compression');
      const m = checkValue<string>(c, 'method', 'string', what, 'compression.method', true)!;
      if (!['gzip', 'lz4', 'xz', 'zstd'].includes(m)) throw new KilnError(`${what}: option "compression.method" must be one of gzip, lz4, xz, zstd, got "${m}"`);
      const o = checkValue<Record<string, unknown>>(c, 'options', 'object', what, 'compression.options');
      if (o) {
        checkKeys(o, ['bcj'], what, 'compression.options');
        const b = checkValue<string>(o, 'bcj', 'string', what, 'compression.options.bcj');
        if (b !== undefined && !BCJ.includes(b)) throw new KilnError(`${what}: option "compression.options.bcj" must be one of ${BCJ.join(', ')}, got "${b}"`);
      }
    }
    requireInputType(stage, 'tree', ['org.osbuild.tree'], what);
  },
  async run(ctx) {
    const o = ctx.options as { filename: string; exclude_paths?: string[]; compression?: { method: string; options?: Record<string, string> } };
    const args = ['mksquashfs', ctx.toSandbox(imageSource(ctx)), ctx.toSandbox(imageTarget(ctx)), '-noappend'];
    if (o.compression) {
      args.push('-comp', o.compression.method);
      for (const [k, v] of Object.entries(o.compression.options ?? {})) args.push(`-X${k}`, v);
    }
    if (o.exclude_paths?.length) args.push('-regex', '-e', ...o.exclude_paths);
    await ctx.run(args, { what: `${ctx.what}: creating ${o.filename}` });
  },
};
