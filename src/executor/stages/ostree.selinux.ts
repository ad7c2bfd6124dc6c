// org.osbuild.ostree.selinux: label what deploying created, since ostree only labels when SELinux
// is enabled on the build host: the sysroot's /boot (kernel, initramfs, BLS entries), the
// deployment's /etc (the 3-way merge output) and the stateroot's /var, with setfiles and the
// deployment's own policy (SELINUXTYPE of its etc/selinux/config or usr/etc/selinux/config).
//
// Without setfiles the executor setting selinuxWithoutTools decides, as for org.osbuild.selinux:
// fail (default), or leave them unlabeled with a warning and {"selinux": "unlabeled"} metadata.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KilnError } from '../../util/errors.js';
import { findDeployment, validateDeployment } from './ostree-util.js';
import type { StageImpl } from './types.js';
import { requireKeys } from './util.js';

/** The deployment's policy name and its directory (etc/selinux or usr/etc/selinux). */
export function deploymentPolicy(root: string): { home: string; policy: string } | undefined {
  for (const p of ['etc/selinux', 'usr/etc/selinux']) {
    const cfg = join(root, p, 'config');
    if (!existsSync(cfg)) continue;
    const m = /^\s*SELINUXTYPE\s*=\s*(\S+)\s*$/m.exec(readFileSync(cfg, 'utf8'));
    if (m) return { home: join(root, p), policy: m[1]! };
  }
  return undefined;
}

export const ostreeSelinuxStage: StageImpl = {
  type: 'org.osbuild.ostree.selinux',
  validate(stage, what) {
    requireKeys(stage, what, ['deployment']);
    validateDeployment(stage, what);
  },
  async run(ctx) {
    const { osname, path: root } = await findDeployment(ctx);
    const pol = deploymentPolicy(root);
    if (!pol) throw new KilnError(`${ctx.what}: the deployment has no SELinux policy (no SELINUXTYPE in etc/selinux/config or usr/etc/selinux/config)`);
    const spec = join(pol.home, pol.policy, 'contexts/files/file_contexts');
    if (!existsSync(spec)) throw new KilnError(`${ctx.what}: policy "${pol.policy}" has no file_contexts (${spec})`);
    if (!ctx.buildroot.hasTool('setfiles')) {
      const msg = `${ctx.what}: setfiles not found in the ${ctx.buildroot.mode === 'host' ? 'host' : 'build root'}; cannot label the deployment`;
      if (ctx.settings.selinuxWithoutTools !== 'warn') throw new KilnError(`${msg} (install policycoreutils, or run with the distribution's build root)`);
      ctx.log(`WARNING: ${msg}; /boot, the deployment's /etc and /var are left UNLABELED`);
      ctx.setMetadata({ selinux: 'unlabeled', reason: 'setfiles not found' });
      return;
    }
    const stateroot = join(ctx.tree, 'ostree/deploy', osname);
    for (const [base, sub] of [
      [ctx.tree, 'boot'],
      [root, 'etc'],
      [stateroot, 'var'],
    ] as const) {
      if (!existsSync(join(base, sub))) continue;
      await ctx.run(['setfiles', '-F', '-r', ctx.toSandbox(base), ctx.toSandbox(spec), ctx.toSandbox(join(base, sub))], { what: `${ctx.what}: labelling /${sub}` });
    }
  },
};
