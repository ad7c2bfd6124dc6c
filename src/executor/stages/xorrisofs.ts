// org.osbuild.xorrisofs: an ISO 9660 (Rock Ridge, Joliet) image of the `tree` input, made with
// the build root's `xorrisofs`, in one of three layouts osbuild knows:
//  * grub2 (`grub2mbr` given): hybrid image with grub2's MBR, the EFI image (`efi`, a file of the
//    input) appended as GPT partition 2 and used as the EFI El Torito entry, BIOS El Torito from
//    `boot` with grub2 boot info;
//  * ppc64le (`chrp_boot` given): CHRP boot, no EFI;
//  * syslinux (otherwise): optional isohybrid MBR (`isohybridmbr`), BIOS El Torito from `boot`,
//    EFI El Torito from `efi` (a path on the ISO).
// `grub2mbr` and `isohybridmbr` are files of the build root.
import { existsSync } from 'node:fs';
import { KilnError } from '../../util/errors.js';
import { buildrootPath, checkKeys, checkOpt, checkValue, needTool, requireInputType } from './ostree-util.js';
import type { StageContext, StageImpl } from './types.js';
import { requireKeys, requireString, resolveUrl, treePath } from './util.js';

interface Options {
  filename: string;
  volid: string;
  sysid?: string;
  pub?: string;
  appid?: string;
  prep?: string;
  boot?: { image: string; catalog: string; nobootinfo?: boolean };
  efi?: string;
  grub2mbr?: string;
  isohybridmbr?: string;
  isolevel?: number;
  exclude?: string[];
  rational_rock?: boolean;
  untranslated_filenames?: boolean;
  full_filenames?: boolean;
  volset?: string;
  chrp_boot?: boolean;
}

const KEYS = ['filename', 'volid', 'sysid', 'pub', 'appid', 'prep', 'boot', 'efi', 'grub2mbr', 'isohybridmbr', 'isolevel', 'exclude', 'rational_rock', 'untranslated_filenames', 'full_filenames', 'volset', 'chrp_boot'];

function ids(o: Options): string[] {
  const a: string[] = [];
  if (o.isolevel) a.push('-iso-level', String(o.isolevel));
  a.push('-V', o.volid);
  if (o.sysid) a.push('-sysid', o.sysid);
  if (o.pub) a.push('-publisher', o.pub);
  if (o.appid) a.push('-appid', o.appid);
  if (o.prep) a.push('-preparer', o.prep);
  return a;
}

function buildrootFile(ctx: StageContext, p: string, key: string): string {
  if (!existsSync(buildrootPath(ctx, p))) throw new KilnError(`${ctx.what}: option "${key}": ${p} is missing from the ${ctx.buildroot.mode === 'host' ? 'host' : 'build root'}`);
  return p;
}

function grub2Args(ctx: StageContext, o: Options): string[] {
  const a = ['-verbose', '-rock', '-joliet', ...ids(o), '--grub2-mbr', buildrootFile(ctx, o.grub2mbr!, 'grub2mbr')];
  if (o.efi) {
    const efi = resolveUrl(ctx, `input://tree/${o.efi.replace(/^\/+/, '')}`, ['input']);
    if (!existsSync(efi)) throw new KilnError(`${ctx.what}: option "efi": ${o.efi} is not in the input tree`);
    a.push('-partition_offset', '16', '-appended_part_as_gpt', '-append_partition', '2', 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B', ctx.toSandbox(efi));
  }
  a.push('-iso_mbr_part_type', 'EBD0A0A2-B9E5-4433-87C0-68B6B72699C7');
  if (o.boot) {
    a.push('-b', o.boot.image, '-c', o.boot.catalog, '--boot-catalog-hide', '-no-emul-boot', '-boot-load-size', '4');
    if (!o.boot.nobootinfo) a.push('-boot-info-table', '--grub2-boot-info');
    if (o.efi) a.push('-eltorito-alt-boot', '-e', '--interval:appended_partition_2:all::');
  }
  a.push('-no-emul-boot');
  return a;
}

function ppcArgs(o: Options): string[] {
  const a = ['-verbose', '-rock', '-joliet', ...ids(o)];
  if (o.rational_rock) a.push('-rational-rock');
  if (o.untranslated_filenames) a.push('-untranslated-filenames');
  if (o.full_filenames) a.push('-full-iso9660-filenames');
  if (o.volset) a.push('-volset', o.volset, '-volset-size', '1', '-volset-seqno', '1');
  if (o.chrp_boot) a.push('-chrp-boot');
  return a;
}

function syslinuxArgs(ctx: StageContext, o: Options): string[] {
  const a = ['-verbose', ...ids(o)];
  if (o.isohybridmbr) a.push('-isohybrid-mbr', buildrootFile(ctx, o.isohybridmbr, 'isohybridmbr'));
  if (o.boot) {
    a.push('-b', o.boot.image, '-c', o.boot.catalog, '--boot-catalog-hide', '-boot-load-size', '4');
    if (!o.boot.nobootinfo) a.push('-boot-info-table');
    a.push('-no-emul-boot');
  }
  a.push('-rock', '-joliet');
  if (o.efi) {
    a.push('-eltorito-alt-boot', '-e', o.efi, '-no-emul-boot');
    if (o.isohybridmbr) a.push('-isohybrid-gpt-basdat');
  }
  return a;
}

export const xorrisofsStage: StageImpl = {
  type: 'org.osbuild.xorrisofs',
  validate(stage, what) {
    requireKeys(stage, what, KEYS);
    requireString(stage, 'filename', what);
    const volid = requireString(stage, 'volid', what);
    // ISO 9660 allows 32 characters (the schema's pattern is unanchored: no stricter check)
    if (volid.length > 32) throw new KilnError(`${what}: option "volid" "${volid}" is longer than 32 characters`);
    const sysid = checkOpt<string>(stage, 'sysid', 'string', what);
    if (sysid !== undefined && (sysid.length < 1 || sysid.length > 32)) throw new KilnError(`${what}: option "sysid" must be 1-32 characters`);
    for (const k of ['pub', 'appid', 'prep', 'volset']) {
      const v = checkOpt<string>(stage, k, 'string', what);
      if (v !== undefined && (v.length < 1 || v.length > 128)) throw new KilnError(`${what}: option "${k}" must be 1-128 characters`);
    }
    const boot = checkOpt<Record<string, unknown>>(stage, 'boot', 'object', what);
    if (boot) {
      checkKeys(boot, ['image', 'catalog', 'nobootinfo'], what, 'boot');
      checkValue(boot, 'image', 'string', what, 'boot.image', true);
      checkValue(boot, 'catalog', 'string', what, 'boot.catalog', true);
      checkValue(boot, 'nobootinfo', 'boolean', what, 'boot.nobootinfo');
    }
    for (const k of ['efi', 'grub2mbr', 'isohybridmbr']) checkOpt(stage, k, 'string', what);
    const lvl = checkOpt<number>(stage, 'isolevel', 'integer', what);
    if (lvl !== undefined && (lvl < 1 || lvl > 4)) throw new KilnError(`${what}: option "isolevel" must be 1 to 4, got ${lvl}`);
    checkOpt(stage, 'exclude', 'string[]', what);
    for (const k of ['rational_rock', 'untranslated_filenames', 'full_filenames', 'chrp_boot']) checkOpt(stage, k, 'boolean', what);
    if (stage.options?.chrp_boot !== undefined && stage.options?.efi) throw new KilnError(`${what}: option "efi" is not supported with "chrp_boot" (no UEFI on ppc64le)`);
    requireInputType(stage, 'tree', ['org.osbuild.tree'], what);
  },
  async run(ctx) {
    needTool(ctx, 'xorrisofs', 'xorriso');
    const o = ctx.options as unknown as Options;
    const tree = ctx.inputs.tree!.path;
    const layout = o.chrp_boot !== undefined ? ppcArgs(o) : o.grub2mbr !== undefined ? grub2Args(ctx, o) : syslinuxArgs(ctx, o);
    const args = ['xorrisofs', ...layout];
    for (const e of o.exclude ?? []) args.push('-exclude', e);
    args.push('-o', ctx.toSandbox(treePath(ctx, o.filename)), ctx.toSandbox(tree));
    ctx.setMetadata({ layout: o.chrp_boot !== undefined ? 'ppc64le' : o.grub2mbr !== undefined ? 'grub2' : 'syslinux' });
    await ctx.run(args, { what: `${ctx.what}: creating ${o.filename}` });
  },
};
