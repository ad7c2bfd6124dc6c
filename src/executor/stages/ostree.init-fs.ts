// org.osbuild.ostree.init-fs: turn the (empty) tree into an ostree sysroot skeleton with
// `ostree admin init-fs --modern` (ostree/repo in bare mode, boot/, sysroot/...).
import { KilnError } from '../../util/errors.js';
import { SYSROOT_ENV } from './ostree-util.js';
import type { StageImpl } from './types.js';

export const ostreeInitFsStage: StageImpl = {
  type: 'org.osbuild.ostree.init-fs',
  validate(stage, what) {
    if (stage.options && Object.keys(stage.options).length) throw new KilnError(`${what}: takes no options, got ${Object.keys(stage.options).join(', ')}`);
  },
  async run(ctx) {
    const t = ctx.toSandbox(ctx.tree);
    await ctx.run(['ostree', 'admin', 'init-fs', '--modern', `--sysroot=${t}`, t], { what: ctx.what, extraEnv: SYSROOT_ENV });
  },
};
