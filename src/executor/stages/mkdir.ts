// org.osbuild.mkdir: create directories in the tree or on a mount.
import { existsSync, mkdirSync } from 'node:fs';
import { KilnError } from '../../util/errors.js';
import type { StageImpl } from './types.js';
import { requireKeys, resolveUrl } from './util.js';

interface MkdirPath {
  path: string;
  mode?: number;
  parents?: boolean;
  exist_ok?: boolean;
}

export const mkdirStage: StageImpl = {
  type: 'org.osbuild.mkdir',
  validate(stage, what) {
    requireKeys(stage, what, ['paths']);
    const paths = (stage.options?.paths ?? []) as MkdirPath[];
    if (!Array.isArray(paths)) throw new KilnError(`${what}: option "paths" must be an array`);
    paths.forEach((p, i) => {
      if (typeof p.path !== 'string' || !p.path) throw new KilnError(`${what}: paths[${i}].path is required`);
      if (/(^|\/)\.\.(\/|$)/.test(p.path)) throw new KilnError(`${what}: paths[${i}].path "${p.path}" contains ".."`);
    });
  },
  async run(ctx) {
    for (const p of (ctx.options.paths ?? []) as MkdirPath[]) {
      const target = resolveUrl(ctx, p.path, ['tree', 'mount']);
      if (existsSync(target)) {
        if (p.exist_ok || p.parents) continue;
        throw new KilnError(`${ctx.what}: "${p.path}" already exists`);
      }
      try {
        // the mode is applied with the process umask, as mkdir(2) does
        mkdirSync(target, { recursive: p.parents === true, mode: p.mode ?? 0o777 });
      } catch (err) {
        throw new KilnError(`${ctx.what}: cannot create "${p.path}": ${(err as Error).message}`);
      }
    }
  },
};
