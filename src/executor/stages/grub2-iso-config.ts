// The grub.cfg of an installer ISO, shared by org.osbuild.grub2.iso (UEFI) and
// org.osbuild.grub2.iso.legacy (BIOS): header (video, modules, timeout, search by ISO label),
// then custom entries, "Install", "Test this media & install", optional FIPS entry and the
// Troubleshooting submenu, each booting <kernel.dir>/vmlinuz and initrd.img with kernel.opts.
import { KilnError } from '../../util/errors.js';
import type { Stage } from '../../manifest/types.js';
import { checkKeys, checkOpt, checkValue } from './ostree-util.js';

export interface IsoMenuOptions {
  product: { name: string; version: string };
  kernel: { dir?: string; opts?: string[] };
  isolabel: string;
  fips?: boolean;
  troubleshooting?: boolean;
  test?: boolean;
  install?: boolean;
  custom?: { name: string; linux: string; initrd: string }[];
  config?: { timeout?: number; default?: number };
}

export function validateIsoMenu(stage: Stage, what: string): void {
  const p = checkOpt<Record<string, unknown>>(stage, 'product', 'object', what, true)!;
  checkKeys(p, ['name', 'version'], what, 'product');
  checkValue(p, 'name', 'string', what, 'product.name', true);
  checkValue(p, 'version', 'string', what, 'product.version', true);
  const k = checkOpt<Record<string, unknown>>(stage, 'kernel', 'object', what, true)!;
  checkValue(k, 'dir', 'string', what, 'kernel.dir', true);
  checkValue(k, 'opts', 'string[]', what, 'kernel.opts');
  checkOpt(stage, 'isolabel', 'string', what, true);
  for (const b of ['fips', 'troubleshooting', 'test', 'install']) checkOpt(stage, b, 'boolean', what);
  const custom = stage.options?.custom;
  if (custom !== undefined) {
    if (!Array.isArray(custom)) throw new KilnError(`${what}: option "custom" must be an array`);
    custom.forEach((c: unknown, i) => {
      if (!c || typeof c !== 'object') throw new KilnError(`${what}: option "custom[${i}]" must be an object`);
      checkKeys(c as Record<string, unknown>, ['name', 'linux', 'initrd'], what, `custom[${i}]`);
      for (const f of ['name', 'linux', 'initrd']) checkValue(c as Record<string, unknown>, f, 'string', what, `custom[${i}].${f}`, true);
    });
  }
  const cfg = checkOpt<Record<string, unknown>>(stage, 'config', 'object', what);
  if (cfg) {
    checkKeys(cfg, ['timeout', 'default'], what, 'config');
    const t = checkValue<number>(cfg, 'timeout', 'integer', what, 'config.timeout');
    if (t !== undefined && t < 0) throw new KilnError(`${what}: option "config.timeout" must be >= 0`);
    checkValue(cfg, 'default', 'integer', what, 'config.default');
  }
}

/** ${name} substitution that leaves unknown names alone (like Python's safe_substitute). */
function subst(text: string, vars: Record<string, string>): string {
  return text.replace(/\$\{(\w+)\}|\$(\w+)/g, (m, a: string | undefined, b: string | undefined) => vars[(a ?? b)!] ?? m);
}

const CLASSES = "--class fedora --class gnu-linux --class gnu --class os";

export function isoGrubConfig(o: IsoMenuOptions, flavour: 'efi' | 'bios'): string {
  const kdir = o.kernel.dir ?? '/images/pxeboot';
  const vars: Record<string, string> = {
    product: o.product.name,
    version: o.product.version,
    kernelpath: `${kdir.replace(/\/+$/, '')}/vmlinuz`,
    initrdpath: `${kdir.replace(/\/+$/, '')}/initrd.img`,
    isolabel: o.isolabel,
    root: (o.kernel.opts ?? []).join(' '),
  };
  const entry = (title: string, extra: string, indent = ''): string =>
    `\n${indent}menuentry '${title}' ${CLASSES} {\n${indent}\tlinux ${vars.kernelpath} ${vars.root} ${extra}\n${indent}\tinitrd ${vars.initrdpath}\n${indent}}`;
  const name = `${vars.product} ${vars.version}`;
  let custom = '';
  for (const c of o.custom ?? []) {
    const e = `\nmenuentry '${c.name}' ${CLASSES} {\n\tlinux ${c.linux}\n\tinitrd ${c.initrd}\n}`;
    custom += subst(e, vars);
  }
  const install = o.install ?? true ? entry(`Install ${name}`, 'quiet') : '';
  const test = o.test ?? true ? entry(`Test this media & install ${name}`, 'rd.live.check quiet') : '';
  const fips = o.fips ? entry(`Install ${name} in FIPS mode`, 'quiet fips=1') + '\n' : '';
  let trouble = '';
  if (o.troubleshooting ?? true) {
    trouble = "\nsubmenu 'Troubleshooting -->' {" + entry(`Install ${name} in basic graphics mode`, 'nomodeset quiet', '\t') + entry(`Rescue a ${vars.product} system`, 'inst.rescue quiet', '\t');
    if (flavour === 'bios') trouble += `\n\tmenuentry 'Boot first drive' ${CLASSES} {\n\t\tchainloader (hd0)+1\n\t}`;
    trouble += '\n}';
  }
  const dflt = o.config?.default !== undefined ? `set default="${o.config.default}"\n` : '';
  const video = flavour === 'efi' ? '  insmod efi_gop\n  insmod efi_uga\n  insmod video_bochs\n  insmod video_cirrus\n  insmod all_video\n' : '  insmod all_video\n';
  return (
    `${dflt}\nfunction load_video {\n${video}}\n\nload_video\nset gfxpayload=keep\ninsmod gzio\ninsmod part_gpt\ninsmod ext2\n` +
    (flavour === 'bios' ? 'insmod chain\n' : '') +
    `\nset timeout=${o.config?.timeout ?? 60}\n### END /etc/grub.d/00_header ###\n\nsearch --no-floppy --set=root -l '${o.isolabel}'\n\n` +
    `${custom}\n${install}\n${test}\n${fips}\n${trouble}\n`
  );
}
