// org.osbuild.grub2: the BLS-style GRUB2 configuration osbuild's stage writes:
//   /etc/default/grub          (unless write_defaults: false) for later grub2-mkconfig runs
//   /boot/grub2/grubenv        the 1024-byte environment block: kernelopts, saved_entry
//   /boot/grub2/grub.cfg       main config: load_env, next/saved entry, search, blscfg
//   /boot/efi/EFI/<vendor>/grub.cfg  the main config (UEFI only), or with `uefi.unified` or
//                              hybrid (uefi + legacy) a redirect to /boot/grub2/grub.cfg
// `legacy` (a platform such as i386-pc) copies the build root's grub modules and unicode font
// into /boot/grub2 (host build root: also /usr/lib/grub2, /usr/share/grub2, see os-util.ts);
// `uefi.install` copies EFI/BOOT and EFI/<vendor> from the build root.
import { copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KilnError } from '../../util/errors.js';
import type { StageContext, StageImpl } from './types.js';
import { allowKeys, buildRootPath, checkBool, checkInt, checkObject, checkString, checkStringArray, firstInBuildRoot, grubFontPaths, grubModuleDirs, optionsOf, resolveInRoot } from './os-util.js';

const UUID_RE = /^([0-9A-Za-z]{8}(-[0-9A-Za-z]{4}){3}-[0-9A-Za-z]{12}|[0-9A-Za-z]{4}-[0-9A-Za-z]{4})$/;

export interface FsSpec {
  uuid?: string;
  label?: string;
}

export interface GrubCfg {
  default?: string;
  disable_recovery?: boolean;
  disable_submenu?: boolean;
  distributor?: string;
  terminal?: string[];
  terminal_input?: string[];
  terminal_output?: string[];
  timeout?: number;
  timeout_style?: 'hidden' | 'menu' | 'countdown';
  serial?: string;
}

export interface Grub2Options {
  rootfs?: FsSpec;
  bootfs?: FsSpec;
  root_fs_uuid?: string;
  boot_fs_uuid?: string;
  kernel_opts?: string;
  legacy?: boolean | string;
  uefi?: { vendor: string; efi_src_dir?: string; install?: boolean; unified?: boolean };
  saved_entry?: string;
  write_defaults?: boolean;
  write_cmdline?: boolean;
  ignition?: boolean;
  greenboot?: boolean;
  config?: GrubCfg;
  compat_version?: 1 | 2;
}

function fsSpec(s: FsSpec): { kind: 'UUID' | 'LABEL'; id: string } {
  return s.uuid ? { kind: 'UUID', id: s.uuid } : { kind: 'LABEL', id: s.label! };
}

/** /etc/default/grub text (GRUB_CMDLINE_LINUX carries kernel_opts only, no root=). */
export function grubDefaultsText(kernelOpts: string, c: GrubCfg): string {
  const lines = [`GRUB_CMDLINE_LINUX="${kernelOpts}"`, `GRUB_TIMEOUT=${c.timeout ?? 0}`, 'GRUB_ENABLE_BLSCFG=true'];
  if (c.disable_recovery !== undefined) lines.push(`GRUB_DISABLE_RECOVERY=${c.disable_recovery}`);
  if (c.disable_submenu !== undefined) lines.push(`GRUB_DISABLE_SUBMENU=${c.disable_submenu}`);
  if (c.distributor) lines.push(`GRUB_DISTRIBUTOR="${c.distributor}"`);
  if (c.serial) lines.push(`GRUB_SERIAL_COMMAND="${c.serial}"`);
  if (c.terminal?.length) lines.push(`GRUB_TERMINAL="${c.terminal.join(' ')}"`);
  if (c.terminal_input?.length) lines.push(`GRUB_TERMINAL_INPUT="${c.terminal_input.join(' ')}"`);
  if (c.terminal_output?.length) lines.push(`GRUB_TERMINAL_OUTPUT="${c.terminal_output.join(' ')}"`);
  if (c.timeout_style) lines.push(`GRUB_TIMEOUT_STYLE=${c.timeout_style}`);
  if (c.default !== undefined) lines.push(`GRUB_DEFAULT=${c.default}`);
  return lines.join('\n') + '\n';
}

/**
 * The grub environment block: a "# GRUB Environment Block" header line, `name=value` lines,
 * padded with '#' to exactly 1024 bytes (grub2-editenv's format; grub rewrites it in place).
 */
export function grubenvText(vars: [string, string][]): string {
  let data = '# GRUB Environment Block\n';
  for (const [k, v] of vars) data += `${k}=${v}\n`;
  const n = Buffer.byteLength(data);
  if (n > 1024) throw new KilnError(`grubenv: the variables take ${n} bytes, more than the 1024-byte block`);
  return data + '#'.repeat(1024 - n);
}

/** The main grub.cfg: select the next/saved BLS entry, find the grub file system, run blscfg. */
export function grubCfgText(o: { search: string; timeout: number; grubHome: string; ignition: boolean; greenboot: boolean; serial?: string; terminalInput?: string[]; terminalOutput?: string[]; compatVersion: number }): string {
  const features: string[] = [];
  if (o.ignition) {
    // ignition.firstboot (org.osbuild.ignition) present: boot with `ignition.firstboot`, using
    // the network arguments the file may set
    features.push(
      [
        '',
        '# Ignition support',
        'set ignition_firstboot=""',
        `if [ -f "${o.grubHome}ignition.firstboot" ]; then`,
        "    set ignition_network_kcmdline=''",
        `    source "${o.grubHome}ignition.firstboot"`,
        '    set ignition_firstboot="ignition.firstboot ${ignition_network_kcmdline}"',
        'fi',
        '',
      ].join('\n'),
    );
  }
  if (o.greenboot) {
    // greenboot: count failed boots down, fall back to the previous deployment at zero
    features.push(
      [
        '',
        '# greenboot support, aka boot counter and boot success reporting',
        'insmod increment',
        'if [ -n "${boot_counter}" -a "${boot_success}" = "0" ]; then',
        '  if  [ "${boot_counter}" = "0" -o "${boot_counter}" = "-1" ]; then',
        '    set default=1',
        '    set boot_counter=-1',
        '  else',
        '    decrement boot_counter',
        '  fi',
        '  save_env boot_counter',
        'fi',
        '',
        'set boot_success=0',
        'save_env boot_success',
        '',
      ].join('\n'),
    );
  }
  // compat_version 1 left unset template variables in the output verbatim (osbuild's old bug)
  const unset = (name: string): string => (o.compatVersion >= 2 ? '' : `\${${name}}`);
  const serial = o.serial ? `\n${o.serial}` : unset('serial');
  const tin = o.terminalInput?.length ? `\nterminal_input ${o.terminalInput.join(' ')}` : unset('terminal_input');
  const tout = o.terminalOutput?.length ? `\nterminal_output ${o.terminalOutput.join(' ')}` : unset('terminal_output');
  return [
    '',
    `set timeout=${o.timeout}`,
    '',
    '# load the grubenv file',
    'load_env',
    '',
    '# the next entry (grub2-reboot) wins once, else the saved one (grub2-set-default)',
    '',
    'if [ "${next_entry}" ] ; then',
    '   set default="${next_entry}"',
    '   set next_entry=',
    '   save_env next_entry',
    '   set boot_once=true',
    'else',
    '   set default="${saved_entry}"',
    'fi',
    '',
    `search --no-floppy --set=root ${o.search}`,
    'set boot=${root}',
    'function load_video {',
    '  insmod all_video',
    '}',
    `${features.join('\n')}${serial}${tin}${tout}`,
    'blscfg',
    '',
  ].join('\n');
}

/** The ESP's grub.cfg that hands over to the main one in /boot/grub2 (unified or hybrid boot). */
export function grubRedirectText(grubHome: string): string {
  return ['', `search --no-floppy --set prefix --file ${grubHome}grub2/grub.cfg`, `set prefix=($prefix)${grubHome}grub2`, 'configfile $prefix/grub.cfg', ''].join('\n');
}

function checkFs(v: unknown, name: string, what: string): void {
  if (!checkObject(v, name, what)) return;
  allowKeys(v, ['uuid', 'label'], what, `option ${name}.`);
  const n = (v.uuid !== undefined ? 1 : 0) + (v.label !== undefined ? 1 : 0);
  if (n !== 1) throw new KilnError(`${what}: option "${name}" needs exactly one of uuid, label`);
  checkString(v.uuid, `${name}.uuid`, what, { re: UUID_RE });
  checkString(v.label, `${name}.label`, what, { re: /^[^\s"'\\]+$/ });
}

// grub script and shell-sourced defaults: keep values to one line without quotes
const SAFE_RE = /^[^"\n\\$`]*$/;
// kernel_opts may name grub variables: upstream's ostree images pass "$ignition_firstboot",
// expanded by grub when the BLS entry's options use $kernelopts; one line, no quotes
const KERNEL_OPTS_RE = /^[^"\n\\`]*$/;

export const grub2Stage: StageImpl = {
  type: 'org.osbuild.grub2',
  validate(stage, what) {
    const o = optionsOf(stage);
    allowKeys(o, ['compat_version', 'rootfs', 'bootfs', 'root_fs_uuid', 'boot_fs_uuid', 'kernel_opts', 'legacy', 'uefi', 'saved_entry', 'write_defaults', 'write_cmdline', 'ignition', 'greenboot', 'config'], what);
    if ((o.rootfs === undefined) === (o.root_fs_uuid === undefined)) throw new KilnError(`${what}: exactly one of options "root_fs_uuid" and "rootfs" is required`);
    checkString(o.root_fs_uuid, 'root_fs_uuid', what, { re: UUID_RE });
    checkString(o.boot_fs_uuid, 'boot_fs_uuid', what, { re: UUID_RE });
    checkFs(o.rootfs, 'rootfs', what);
    checkFs(o.bootfs, 'bootfs', what);
    if (o.compat_version !== undefined && o.compat_version !== 1 && o.compat_version !== 2) throw new KilnError(`${what}: option "compat_version" must be 1 or 2`);
    checkString(o.kernel_opts, 'kernel_opts', what, { re: KERNEL_OPTS_RE });
    if (o.legacy !== undefined && typeof o.legacy !== 'boolean') checkString(o.legacy, 'legacy', what, { re: /^[a-z0-9_-]+$/, nonEmpty: true });
    if (checkObject(o.uefi, 'uefi', what)) {
      allowKeys(o.uefi, ['vendor', 'efi_src_dir', 'install', 'unified'], what, 'option uefi.');
      checkString(o.uefi.vendor, 'uefi.vendor', what, { required: true, re: /^[A-Za-z0-9._-]+$/ });
      checkString(o.uefi.efi_src_dir, 'uefi.efi_src_dir', what, { re: /^\/\S*$/ });
      checkBool(o.uefi.install, 'uefi.install', what);
      checkBool(o.uefi.unified, 'uefi.unified', what);
    }
    checkString(o.saved_entry, 'saved_entry', what, { re: /^[^\n=]+$/ });
    for (const k of ['write_defaults', 'write_cmdline', 'ignition', 'greenboot']) checkBool(o[k], k, what);
    if (checkObject(o.config, 'config', what)) {
      const c = o.config;
      allowKeys(c, ['default', 'disable_recovery', 'disable_submenu', 'distributor', 'terminal', 'terminal_input', 'terminal_output', 'timeout', 'timeout_style', 'serial'], what, 'option config.');
      checkString(c.default, 'config.default', what, { re: SAFE_RE });
      checkBool(c.disable_recovery, 'config.disable_recovery', what);
      checkBool(c.disable_submenu, 'config.disable_submenu', what);
      checkString(c.distributor, 'config.distributor', what, { re: SAFE_RE });
      for (const k of ['terminal', 'terminal_input', 'terminal_output']) checkStringArray(c[k], `config.${k}`, what, { re: /^[A-Za-z0-9_-]+$/ });
      checkInt(c.timeout, 'config.timeout', what, { min: 0 });
      checkString(c.timeout_style, 'config.timeout_style', what, { oneOf: ['hidden', 'menu', 'countdown'] });
      checkString(c.serial, 'config.serial', what, { re: SAFE_RE });
    }
  },
  async run(ctx) {
    const o = ctx.options as Grub2Options;
    const c = o.config ?? {};
    const rootfs: FsSpec = o.rootfs ?? { uuid: o.root_fs_uuid! };
    const bootfs: FsSpec | undefined = o.bootfs ?? (o.boot_fs_uuid ? { uuid: o.boot_fs_uuid } : undefined);
    const kernelOpts = o.kernel_opts ?? '';
    const legacy = o.legacy === true ? 'i386-pc' : typeof o.legacy === 'string' ? o.legacy : undefined;
    const hybrid = !!(o.uefi && legacy);
    // grub's paths are relative to the file system holding /boot/grub2
    const grubHome = bootfs ? '/' : '/boot/';
    const grubFs = fsSpec(bootfs ?? rootfs);

    // legacy boot needs files from the build root: check them before writing anything
    let modDir: string | undefined;
    let font: string | undefined;
    if (legacy) {
      // host mode also accepts other distributions' paths (os-util.ts: grubModuleDirs, grubFontPaths)
      const dirs = grubModuleDirs(ctx, legacy);
      const fonts = grubFontPaths(ctx);
      const host = ctx.buildroot.mode === 'host';
      const m = firstInBuildRoot(ctx, dirs);
      const f = firstInBuildRoot(ctx, fonts);
      if (!m) throw new KilnError(`${ctx.what}: option "legacy" ("${legacy}") needs the build root's ${dirs.join(' or ')} (grub2 BIOS modules, e.g. package grub2-pc-modules${host ? '; on Debian/Ubuntu grub-pc-bin' : ''}), which does not exist`);
      if (!f) throw new KilnError(`${ctx.what}: option "legacy" needs the build root's ${fonts.join(' or ')} (package grub2-tools${host ? '; on Debian/Ubuntu grub-common' : ''}), which does not exist`);
      modDir = buildRootPath(ctx, m);
      font = buildRootPath(ctx, f);
    }

    if (o.write_defaults ?? true) {
      mkdirSync(join(ctx.tree, 'etc/default'), { recursive: true });
      const f = join(ctx.tree, 'etc/default/grub');
      rmSync(f, { force: true });
      writeFileSync(f, grubDefaultsText(kernelOpts, c), { mode: 0o644 });
    }

    const grub2 = join(ctx.tree, 'boot/grub2');
    mkdirSync(grub2, { recursive: true });
    const grubenv = join(grub2, 'grubenv');
    // grub2-efi leaves grubenv as a link into the ESP; hybrid boot keeps one real grubenv here.
    // Without hybrid the write goes through the link (to the ESP's grubenv), as osbuild's does.
    if (hybrid) rmSync(grubenv, { force: true });
    const root = fsSpec(rootfs);
    const vars: [string, string][] = [];
    if (o.write_cmdline ?? true) vars.push(['kernelopts', `root=${root.kind}=${root.id} ${kernelOpts}`]);
    if (o.saved_entry) vars.push(['saved_entry', o.saved_entry]);
    let envText: string;
    try {
      envText = grubenvText(vars);
    } catch (e) {
      throw new KilnError(`${ctx.what}: ${(e as Error).message} (options kernel_opts/saved_entry)`);
    }
    // through the link chroot-style: an absolute link target must not reach the host's /boot
    const envTarget = resolveInRoot(ctx.tree, 'boot/grub2/grubenv', ctx.what);
    mkdirSync(join(envTarget, '..'), { recursive: true });
    writeFileSync(envTarget, envText);

    let cfgPath = 'boot/grub2/grub.cfg';
    if (o.uefi) {
      const vendor = o.uefi.vendor;
      if (o.uefi.install) copyEfi(ctx, o.uefi.efi_src_dir ?? '/boot/efi/EFI', vendor);
      const espCfg = `boot/efi/EFI/${vendor}/grub.cfg`;
      if (hybrid || o.uefi.unified) {
        mkdirSync(join(ctx.tree, 'boot/efi/EFI', vendor), { recursive: true });
        writeFileSync(join(ctx.tree, espCfg), grubRedirectText(grubHome));
      } else cfgPath = espCfg;
    }
    mkdirSync(join(ctx.tree, cfgPath, '..'), { recursive: true });
    const search = `${grubFs.kind === 'UUID' ? '--fs-uuid' : '--label'} ${grubFs.id}`;
    writeFileSync(
      join(ctx.tree, cfgPath),
      grubCfgText({ search, timeout: c.timeout ?? 0, grubHome, ignition: o.ignition ?? false, greenboot: o.greenboot ?? false, serial: c.serial, terminalInput: c.terminal_input, terminalOutput: c.terminal_output, compatVersion: o.compat_version ?? 1 }),
    );

    if (legacy) {
      const target = join(grub2, legacy);
      mkdirSync(target, { recursive: true });
      for (const name of readdirSync(modDir!).sort()) {
        // fdt.lst is an empty file grub does not need in /boot
        if (!/\.(mod|lst)$/.test(name) || name === 'fdt.lst') continue;
        copyFileSync(join(modDir!, name), join(target, name));
      }
      mkdirSync(join(grub2, 'fonts'), { recursive: true });
      copyFileSync(font!, join(grub2, 'fonts/unicode.pf2'));
    }
  },
};

/** uefi.install: EFI/BOOT and EFI/<vendor> from the build root into the tree's ESP. */
function copyEfi(ctx: StageContext, srcDir: string, vendor: string): void {
  const hasBoth = (dir: string): boolean => ['BOOT', vendor].every((d) => existsSync(join(dir, d)) && statSync(join(dir, d)).isDirectory());
  let from = buildRootPath(ctx, srcDir);
  if (!hasBoth(from)) {
    const alt = ctx.buildroot.mode === 'host' ? treeEfiPayload(ctx.tree, hasBoth) : undefined;
    if (!alt) {
      const missing = ['BOOT', vendor].find((d) => !existsSync(join(from, d))) ?? vendor;
      throw new KilnError(`${ctx.what}: option "uefi.install" needs the build root's ${srcDir}/${missing}, which does not exist${ctx.buildroot.mode === 'host' ? ' (nor does the tree carry an EFI payload in /usr/lib/bootupd/updates/EFI or /usr/lib/ostree-boot/efi/EFI)' : ''}`);
    }
    ctx.log(`the host has no ${srcDir}/{BOOT,${vendor}} (the build root's shim and grub2-efi files); using the OS tree's own EFI payload /${alt.slice(ctx.tree.length + 1)} (host build root)`);
    from = alt;
  }
  for (const d of ['BOOT', vendor]) cpSync(join(from, d), join(ctx.tree, 'boot/efi/EFI', d), { recursive: true, dereference: true });
}

/**
 * Host build root only: the host is not the distribution and has no shim/grub2-efi files, but
 * the OS tree being made bootable carries the same packages' EFI payload: bootupd's update
 * payload or ostree's /usr/lib/ostree-boot copy, in the tree itself or in its (first) ostree
 * deployment.
 */
function treeEfiPayload(tree: string, ok: (dir: string) => boolean): string | undefined {
  const roots = [tree];
  const deployRoot = join(tree, 'ostree/deploy');
  if (existsSync(deployRoot)) {
    for (const os of readdirSync(deployRoot).sort()) {
      const d = join(deployRoot, os, 'deploy');
      if (!existsSync(d)) continue;
      for (const dep of readdirSync(d).sort()) if (statSync(join(d, dep)).isDirectory()) roots.push(join(d, dep));
    }
  }
  for (const r of roots) {
    for (const sub of ['usr/lib/bootupd/updates/EFI', 'usr/lib/ostree-boot/efi/EFI']) {
      const dir = join(r, sub);
      if (existsSync(dir) && ok(dir)) return dir;
    }
  }
  return undefined;
}
