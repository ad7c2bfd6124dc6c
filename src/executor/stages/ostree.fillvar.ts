// org.osbuild.ostree.fillvar: populate the stateroot's /var for a deployment, as anaconda and
// Fedora CoreOS do on first boot: var/lib and var/log, then the directories the deployment's
// tmpfiles.d declare for home, roothome, lib/rpm, opt, srv, usrlocal, mnt, media, spool and
// spool/mail (`systemd-tmpfiles --create --boot --root=<deployment> --prefix=/var/<dir>`), each
// only if it does not exist yet. The stateroot's var is bind-mounted at the deployment's /var.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { KilnError } from '../../util/errors.js';
import { bindAt, findDeployment, needTool, validateDeployment } from './ostree-util.js';
import type { StageImpl } from './types.js';
import { requireKeys } from './util.js';

const TMPFILES_DIRS = ['home', 'roothome', 'lib/rpm', 'opt', 'srv', 'usrlocal', 'mnt', 'media', 'spool', 'spool/mail'];

export const ostreeFillvarStage: StageImpl = {
  type: 'org.osbuild.ostree.fillvar',
  validate(stage, what) {
    requireKeys(stage, what, ['deployment']);
    validateDeployment(stage, what);
  },
  async run(ctx) {
    needTool(ctx, 'systemd-tmpfiles', 'systemd');
    const { osname, path: dep } = await findDeployment(ctx);
    const stateVar = join(ctx.tree, 'ostree/deploy', osname, 'var');
    if (!existsSync(stateVar)) throw new KilnError(`${ctx.what}: stateroot ${osname} has no var directory`);
    await bindAt(ctx, stateVar, join(dep, 'var'));
    for (const d of ['lib', 'log']) mkdirSync(join(dep, 'var', d), { recursive: true });
    for (const d of TMPFILES_DIRS) {
      if (existsSync(join(dep, 'var', d))) continue;
      // 65: some lines were ignored, the rest applied (systemd-tmpfiles(8))
      await ctx.run(['systemd-tmpfiles', '--create', '--boot', `--root=${ctx.toSandbox(dep)}`, `--prefix=/var/${d}`], { what: `${ctx.what}: provisioning /var/${d}`, okCodes: [0, 65] });
    }
  },
};
