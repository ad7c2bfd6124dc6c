// org.osbuild.ostree.os-init: a new stateroot `osname` in the tree's sysroot
// (`ostree admin os-init`), i.e. ostree/deploy/<osname>/{deploy,var}.
import { SYSROOT_ENV } from './ostree-util.js';
import type { StageImpl } from './types.js';
import { requireKeys, requireString } from './util.js';

export const ostreeOsInitStage: StageImpl = {
  type: 'org.osbuild.ostree.os-init',
  validate(stage, what) {
    requireKeys(stage, what, ['osname']);
    requireString(stage, 'osname', what);
  },
  async run(ctx) {
    const osname = ctx.options.osname as string;
    await ctx.run(['ostree', 'admin', 'os-init', osname, `--sysroot=${ctx.toSandbox(ctx.tree)}`], { what: ctx.what, extraEnv: SYSROOT_ENV });
  },
};
