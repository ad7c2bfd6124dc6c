// org.osbuild.ostree.init: an empty ostree repository at `path` (default /repo) in the tree, in
// `mode` (default archive), made with the build root's `ostree init`.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { checkEnum, checkOpt } from './ostree-util.js';
import type { StageImpl } from './types.js';
import { requireKeys, treePath } from './util.js';

const MODES = ['bare', 'bare-user', 'bare-user-only', 'archive'] as const;

export const ostreeInitStage: StageImpl = {
  type: 'org.osbuild.ostree.init',
  validate(stage, what) {
    requireKeys(stage, what, ['mode', 'path']);
    checkEnum(stage, 'mode', MODES, what);
    checkOpt(stage, 'path', 'string', what);
  },
  async run(ctx) {
    const o = ctx.options as { mode?: string; path?: string };
    const repo = treePath(ctx, o.path ?? '/repo');
    mkdirSync(dirname(repo), { recursive: true });
    await ctx.run(['ostree', 'init', `--mode=${o.mode ?? 'archive'}`, `--repo=${ctx.toSandbox(repo)}`], { what: `${ctx.what}: creating repository ${o.path ?? '/repo'}` });
  },
};
