// org.osbuild.ostree.pull: copy the commits of the `commits` input into the tree's repository at
// `repo` with `ostree pull-local`, by the input's ref (or the commit when it has none), and under
// `remote` when given (so the ref becomes <remote>:<ref>).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { KilnError } from '../../util/errors.js';
import { checkOpt, ostreeInput, requireInputType } from './ostree-util.js';
import type { StageImpl } from './types.js';
import { requireKeys, requireString, treePath } from './util.js';

export const ostreePullStage: StageImpl = {
  type: 'org.osbuild.ostree.pull',
  validate(stage, what) {
    requireKeys(stage, what, ['repo', 'remote']);
    requireString(stage, 'repo', what);
    checkOpt(stage, 'remote', 'string', what);
    requireInputType(stage, 'commits', ['org.osbuild.ostree'], what);
  },
  async run(ctx) {
    const o = ctx.options as { repo: string; remote?: string };
    const target = treePath(ctx, o.repo);
    if (!existsSync(join(target, 'config'))) throw new KilnError(`${ctx.what}: option "repo": ${o.repo} is not an ostree repository in the tree (run org.osbuild.ostree.init or init-fs first)`);
    const { repo, commits } = ostreeInput(ctx, 'commits');
    for (const c of commits) {
      const ref = c.ref ?? c.commit;
      const args = ['ostree', 'pull-local', ctx.toSandbox(repo), ref];
      if (o.remote) args.push(`--remote=${o.remote}`);
      await ctx.run([...args, `--repo=${ctx.toSandbox(target)}`], { what: `${ctx.what}: pulling ${ref} (${c.commit})` });
    }
  },
};
