// org.osbuild.tar: archive the `tree` input into `filename` in the tree with tar(1).
import { readdirSync } from 'node:fs';
import { KilnError } from '../../util/errors.js';
import type { StageImpl } from './types.js';
import { requireInput, requireKeys, requireString, treePath } from './util.js';

interface TarOptions {
  filename: string;
  format?: string;
  compression?: 'auto' | 'xz' | 'gzip' | 'zstd';
  acls?: boolean;
  selinux?: boolean;
  xattrs?: boolean;
  'root-node'?: 'include' | 'omit';
  paths?: string[];
  sparse?: boolean;
  transform?: string;
  'numeric-owner'?: boolean;
}

export const tarStage: StageImpl = {
  type: 'org.osbuild.tar',
  validate(stage, what) {
    requireKeys(stage, what, ['filename', 'format', 'compression', 'acls', 'selinux', 'xattrs', 'root-node', 'paths', 'sparse', 'transform', 'numeric-owner']);
    requireString(stage, 'filename', what);
    requireInput(stage, 'tree', what);
    const o = (stage.options ?? {}) as unknown as TarOptions;
    if (o.paths && o['root-node']) throw new KilnError(`${what}: options "paths" and "root-node" exclude each other`);
    if (o.format && !['gnu', 'oldgnu', 'posix', 'ustar', 'v7'].includes(o.format)) throw new KilnError(`${what}: option "format" "${o.format}" is not a tar format`);
    if (o.compression && !['auto', 'xz', 'gzip', 'zstd'].includes(o.compression)) throw new KilnError(`${what}: option "compression" "${o.compression}" is not supported`);
  },
  async run(ctx) {
    const o = ctx.options as unknown as TarOptions;
    const src = ctx.inputs.tree!.path;
    const out = treePath(ctx, o.filename);
    const args = ['tar', '--create', `--format=${o.format ?? 'gnu'}`, `--file=${ctx.toSandbox(out)}`];
    const comp = o.compression ?? 'auto';
    args.push(comp === 'auto' ? '--auto-compress' : comp === 'gzip' ? '--gzip' : comp === 'xz' ? '--xz' : '--zstd');
    if (o.acls !== false) args.push('--acls');
    if (o.selinux !== false) args.push('--selinux');
    if (o.xattrs !== false) args.push('--xattrs', '--xattrs-include=*');
    if (o.sparse) args.push('--sparse');
    if (o.transform) args.push(`--transform=${o.transform}`);
    if (o['numeric-owner']) args.push('--numeric-owner');
    args.push('--directory', ctx.toSandbox(src));
    if (o.paths) args.push('--', ...o.paths);
    else if (o['root-node'] === 'omit') args.push('--', ...readdirSync(src).sort());
    else args.push('.');
    await ctx.run(args, { what: ctx.what });
  },
};
