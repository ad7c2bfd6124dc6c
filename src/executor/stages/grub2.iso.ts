// org.osbuild.grub2.iso: the EFI/BOOT tree of an installer ISO (later packed into efiboot.img):
// for each architecture (X64, IA32, AA64...) shim (BOOT<ARCH>.EFI), MokManager and grub
// (gcd<arch>.efi as grub<arch>.efi) copied from the build root's /boot/efi/EFI/<vendor>/, grub's
// unicode font, and grub.cfg (also as BOOT.cfg when IA32 is among the architectures). The
// binaries come from the build root (shim-*, grub2-efi-* packages); their absence is an error
// naming the file.
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KilnError } from '../../util/errors.js';
import { isoGrubConfig, type IsoMenuOptions, validateIsoMenu } from './grub2-iso-config.js';
import { buildrootPath, checkOpt } from './ostree-util.js';
import type { StageContext, StageImpl } from './types.js';
import { requireKeys, requireString } from './util.js';

function fromBuildroot(ctx: StageContext, p: string, dst: string, pkg: string): void {
  const src = buildrootPath(ctx, p);
  if (!existsSync(src)) throw new KilnError(`${ctx.what}: ${p} is missing from the ${ctx.buildroot.mode === 'host' ? 'host' : 'build root'} (needs ${pkg})`);
  copyFileSync(src, dst);
}

export const grub2IsoStage: StageImpl = {
  type: 'org.osbuild.grub2.iso',
  validate(stage, what) {
    requireKeys(stage, what, ['product', 'kernel', 'isolabel', 'architectures', 'vendor', 'fips', 'troubleshooting', 'test', 'install', 'custom', 'config']);
    validateIsoMenu(stage, what);
    const archs = checkOpt<string[]>(stage, 'architectures', 'string[]', what, true)!;
    if (archs.length === 0) throw new KilnError(`${what}: option "architectures" needs at least one EFI architecture (e.g. X64)`);
    for (const a of archs) if (!/^[A-Za-z0-9]+$/.test(a)) throw new KilnError(`${what}: option "architectures": "${a}" is not an EFI architecture name`);
    requireString(stage, 'vendor', what);
  },
  async run(ctx) {
    const o = ctx.options as unknown as IsoMenuOptions & { architectures: string[]; vendor: string };
    const efidir = join(ctx.tree, 'EFI/BOOT');
    if (existsSync(efidir)) throw new KilnError(`${ctx.what}: the tree already has /EFI/BOOT`);
    mkdirSync(efidir, { recursive: true });
    for (const arch of o.architectures.map((a) => a.toLowerCase())) {
      const vdir = `/boot/efi/EFI/${o.vendor}`;
      fromBuildroot(ctx, `${vdir}/shim${arch}.efi`, join(efidir, `BOOT${arch}.EFI`.toUpperCase()), `shim-${arch}`);
      fromBuildroot(ctx, `${vdir}/mm${arch}.efi`, join(efidir, `mm${arch}.efi`), `shim-${arch}`);
      fromBuildroot(ctx, `${vdir}/gcd${arch}.efi`, join(efidir, `grub${arch}.efi`), `grub2-efi-${arch}-cdboot`);
    }
    mkdirSync(join(efidir, 'fonts'), { recursive: true });
    fromBuildroot(ctx, '/usr/share/grub/unicode.pf2', join(efidir, 'fonts/unicode.pf2'), 'grub2-tools');
    const cfg = isoGrubConfig(o, 'efi');
    writeFileSync(join(efidir, 'grub.cfg'), cfg);
    if (o.architectures.includes('IA32')) writeFileSync(join(efidir, 'BOOT.cfg'), cfg);
  },
};
