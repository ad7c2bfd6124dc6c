// org.osbuild.grub2.iso.legacy: the BIOS (or powerpc-ieee1275) grub of an installer ISO: the
// platform's grub modules copied from the build root's /usr/lib/grub/<platform> into `grub2dir`
// (default boot/grub2) and grub.cfg next to them (the same menu as grub2.iso, plus "Boot first
// drive"). The modules come from the build root (grub2-pc-modules); their absence is an error.
import { cpSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KilnError } from '../../util/errors.js';
import { isoGrubConfig, type IsoMenuOptions, validateIsoMenu } from './grub2-iso-config.js';
import { buildrootPath, checkEnum, checkOpt } from './ostree-util.js';
import type { StageImpl } from './types.js';
import { requireKeys, treePath } from './util.js';

export const grub2IsoLegacyStage: StageImpl = {
  type: 'org.osbuild.grub2.iso.legacy',
  validate(stage, what) {
    requireKeys(stage, what, ['grub2dir', 'product', 'kernel', 'isolabel', 'fips', 'troubleshooting', 'test', 'install', 'platform', 'custom', 'config']);
    validateIsoMenu(stage, what);
    checkOpt(stage, 'grub2dir', 'string', what);
    checkEnum(stage, 'platform', ['i386-pc', 'powerpc-ieee1275'], what);
  },
  async run(ctx) {
    const o = ctx.options as unknown as IsoMenuOptions & { grub2dir?: string; platform?: string };
    const dir = treePath(ctx, o.grub2dir || 'boot/grub2');
    const platform = o.platform ?? 'i386-pc';
    const mods = buildrootPath(ctx, `/usr/lib/grub/${platform}`);
    if (!existsSync(mods)) throw new KilnError(`${ctx.what}: /usr/lib/grub/${platform} is missing from the ${ctx.buildroot.mode === 'host' ? 'host' : 'build root'} (needs the grub2 ${platform} modules package)`);
    mkdirSync(dir, { recursive: true });
    cpSync(mods, join(dir, platform), { recursive: true, preserveTimestamps: true });
    writeFileSync(join(dir, 'grub.cfg'), isoGrubConfig(o, 'bios'));
  },
};
