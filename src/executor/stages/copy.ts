// org.osbuild.copy: copy files or trees between input://, mount:// and tree:// locations with
// `cp -a --reflink=auto`. A source ending in "/" copies the directory's contents (rsync style).
import { KilnError } from '../../util/errors.js';
import type { StageImpl } from './types.js';
import { requireKeys, resolveUrl } from './util.js';

interface CopyPath {
  from: string;
  to: string;
  remove_destination?: boolean;
}

export const copyStage: StageImpl = {
  type: 'org.osbuild.copy',
  validate(stage, what) {
    requireKeys(stage, what, ['paths']);
    const paths = stage.options?.paths as CopyPath[] | undefined;
    if (!Array.isArray(paths) || paths.length === 0) throw new KilnError(`${what}: option "paths" needs at least one {from, to}`);
    paths.forEach((p, i) => {
      if (typeof p.from !== 'string' || !/^(input:\/\/[^/]+\/|mount:\/\/[^/]+\/|tree:\/\/\/)/.test(p.from)) throw new KilnError(`${what}: paths[${i}].from "${String(p.from)}" must be input://, mount:// or tree:/// URL`);
      if (typeof p.to !== 'string' || !/^(mount:\/\/[^/]+\/|tree:\/\/\/)/.test(p.to)) throw new KilnError(`${what}: paths[${i}].to "${String(p.to)}" must be a mount:// or tree:/// URL`);
      const m = /^input:\/\/([^/]+)\//.exec(p.from);
      if (m && !stage.inputs?.[m[1]!]) throw new KilnError(`${what}: paths[${i}].from names input "${m[1]}", which the stage does not have`);
      const n = /^mount:\/\/([^/]+)\//.exec(p.to) ?? /^mount:\/\/([^/]+)\//.exec(p.from);
      if (n && !(stage.mounts ?? []).some((x) => x.name === n[1])) throw new KilnError(`${what}: paths[${i}] names mount "${n[1]}", which the stage does not have`);
    });
  },
  async run(ctx) {
    for (const p of ctx.options.paths as CopyPath[]) {
      let src = resolveUrl(ctx, p.from, ['input', 'mount', 'tree']);
      const dst = resolveUrl(ctx, p.to, ['mount', 'tree']);
      if (p.from.endsWith('/')) src = src.replace(/\/*$/, '/.');
      const args = ['cp', '-a', '--reflink=auto'];
      if (p.remove_destination) args.push('--remove-destination');
      await ctx.run([...args, ctx.toSandbox(src), ctx.toSandbox(dst)], { what: `${ctx.what}: copying ${p.from} to ${p.to}` });
    }
  },
};
