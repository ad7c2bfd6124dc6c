// org.osbuild.bootupd.gen-metadata: turn the tree's bootloader payload (/usr/lib/ostree-boot or
// /boot/efi) into bootupd's update metadata (/usr/lib/bootupd/updates/*.json) with the tree's
// own `bootupctl backend generate-update-metadata`, chrooted into the tree with /dev, /proc and
// /sys bound read-only (as osbuild does). No bootupctl in the tree is an error, and so is a run
// that writes no metadata (a placeholder tool must not pass for a real one).
//
// Native fallback (host build root only): when the tree's bootupctl exists but cannot be executed
// at all (chroot reports "failed to run command", exit 126/127: e.g. the demo repository's
// placeholder programs, or a tree for another architecture), Kiln writes what bootupctl 0.2.27
// (Fedora 42's) writes, and logs that it did:
//   EFI (x86_64, aarch64, riscv64 trees): /usr/lib/ostree-boot/{loader,grub2} are removed and
//     /usr/lib/ostree-boot/efi/EFI is moved to /usr/lib/bootupd/updates/EFI. Without
//     /usr/lib/ostree-boot an existing updates/EFI is used as it is; without either, /boot/efi/EFI
//     is *copied* there (Kiln's choice for trees not run through ostree.preptree; bootupd itself
//     would fail). EFI.json gets {"timestamp", "version"}: the owners of every file under
//     updates/EFI (queried as /boot/efi/EFI/<file>, where the packages put them) from
//     `rpm --root <tree> --dbpath <tree's db> -q --qf '%{nevra},%{buildtime} ' -f ...`: version =
//     the distinct NEVRAs sorted and joined with ",", timestamp = the newest build time (RFC 3339).
//   BIOS (x86_64, ppc64le trees): BIOS.json the same way from the owner of /usr/sbin/grub2-install,
//     skipped when the tree has none (as bootupd >= 0.2.29 does).
// The tree's architecture is the arch of the package owning /usr/bin/bootupctl. The tree's rpm
// database is the first non-empty of /usr/lib/sysimage/rpm, /usr/share/rpm (bootupd's order),
// /var/lib/rpm. Not covered: the /usr/lib/efi layout of Fedora >= 44 (an error says so), and the
// "versions" list newer bootupd adds (optional in its format: it then compares "version").
import { cpSync, existsSync, lstatSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KilnError } from '../../util/errors.js';
import type { StageContext, StageImpl } from './types.js';
import { allowKeys, bindApiFsInTree, optionsOf, resolveInRoot, treeTool } from './os-util.js';

const UPDATES = 'usr/lib/bootupd/updates';
const BOOTUPCTL = '/usr/bin/bootupctl';
const GRUB_INSTALL = '/usr/sbin/grub2-install';
// rpm -q exits with the number of arguments that failed: read the output whatever the code
const ANY_EXIT = Array.from({ length: 256 }, (_, i) => i);

/** rpm arches whose bootupd builds have the EFI / BIOS components. */
const EFI_ARCHES = new Set(['x86_64', 'aarch64', 'riscv64']);
const BIOS_ARCHES = new Set(['x86_64', 'ppc64le', 'ppc64']);

export interface UpdateMetadata {
  timestamp: string;
  version: string;
}

/** A chroot whose command could not be executed at all (not: ran and failed). */
export function chrootCouldNotExec(code: number, stderr: string): boolean {
  return (code === 126 || code === 127) && /chroot:\s*failed to run command/.test(stderr);
}

/**
 * bootupd's metadata from `rpm -q --qf '%{nevra},%{buildtime} ' -f ...` output: the distinct
 * NEVRAs sorted (byte order) and joined with ",", and the newest build time as RFC 3339 UTC.
 */
export function metadataFromRpmOutput(out: string): UpdateMetadata {
  const pkgs = new Map<string, number>();
  for (const item of out.split(/\s+/).filter(Boolean)) {
    const comma = item.indexOf(',');
    const t = Number(item.slice(comma + 1));
    if (comma <= 0 || !/^\d+$/.test(item.slice(comma + 1))) throw new KilnError(`cannot parse rpm output item "${item}" (expected NEVRA,BUILDTIME)`);
    pkgs.set(item.slice(0, comma), t);
  }
  if (pkgs.size === 0) throw new KilnError('rpm found no packages owning the files');
  const names = [...pkgs.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const newest = Math.max(...pkgs.values());
  return { timestamp: new Date(newest * 1000).toISOString().replace(/\.000Z$/, 'Z'), version: names.join(',') };
}

/** Regular files under `dir`, as paths relative to it ("BOOT/BOOTX64.EFI"); links are an error. */
export function payloadFiles(dir: string, what: string, rel = ''): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(dir, rel)).sort()) {
    const r = rel ? `${rel}/${name}` : name;
    const st = lstatSync(join(dir, r));
    if (st.isDirectory()) out.push(...payloadFiles(dir, what, r));
    else if (st.isFile()) out.push(r);
    else throw new KilnError(`${what}: ${join(dir, r)} is not a regular file or directory (bootupd's payload may hold only those)`);
  }
  return out;
}

/** The tree's rpm database directory (absolute inside the tree), or undefined. */
export function treeDbPath(tree: string): string | undefined {
  for (const d of ['/usr/lib/sysimage/rpm', '/usr/share/rpm', '/var/lib/rpm']) {
    const host = join(tree, d);
    if (existsSync(host) && readdirSync(host).some((n) => !n.startsWith('.'))) return d;
  }
  return undefined;
}

async function rpmQuery(ctx: StageContext, dbpath: string, qf: string, files: string[]): Promise<string> {
  const r = await ctx.run(['rpm', '--root', ctx.toSandbox(ctx.tree), '--dbpath', dbpath, '-q', '--qf', qf, '-f', ...files], { what: ctx.what, okCodes: ANY_EXIT });
  if (r.code !== 0) {
    const why = (r.stdout + '\n' + r.stderr).split('\n').filter((l) => /not owned|No such file|error/i.test(l)).slice(0, 10).join('; ');
    throw new KilnError(`${ctx.what}: rpm -qf in the tree's database (${dbpath}) failed: ${why || r.stderr.trim() || `exit code ${r.code}`}`);
  }
  return r.stdout;
}

function writeMetadata(ctx: StageContext, component: string, meta: UpdateMetadata): void {
  // compact JSON, as bootupd's serde_json::to_vec writes it
  writeFileSync(join(ctx.tree, UPDATES, `${component}.json`), JSON.stringify(meta), { mode: 0o644 });
  ctx.log(`generated update layout for ${component}: ${meta.version}`);
}

/** The EFI payload into updates/EFI (see the header); returns its directory. */
function placeEfiPayload(ctx: StageContext): string {
  const dest = join(ctx.tree, UPDATES, 'EFI');
  if (existsSync(join(ctx.tree, 'usr/lib/efi'))) {
    throw new KilnError(`${ctx.what}: the tree has /usr/lib/efi (bootupd's layout for Fedora 44 and later), which Kiln's native fallback does not implement; a build root that can run the tree's bootupctl is needed`);
  }
  const ostreeBoot = join(ctx.tree, 'usr/lib/ostree-boot');
  if (existsSync(ostreeBoot)) {
    for (const cruft of ['loader', 'grub2']) rmSync(join(ostreeBoot, cruft), { recursive: true, force: true });
    const src = join(ostreeBoot, 'efi/EFI');
    if (!existsSync(src)) throw new KilnError(`${ctx.what}: the tree has /usr/lib/ostree-boot but no /usr/lib/ostree-boot/efi/EFI (the EFI payload bootupd moves to /${UPDATES}/EFI)`);
    if (existsSync(dest)) throw new KilnError(`${ctx.what}: both /usr/lib/ostree-boot/efi/EFI and /${UPDATES}/EFI exist; refusing to move one into the other`);
    renameSync(src, dest);
    return dest;
  }
  if (existsSync(dest)) return dest;
  const esp = join(ctx.tree, 'boot/efi/EFI');
  if (existsSync(esp)) {
    // copy, not move: /boot/efi is the installed ESP content of a tree not made into a commit
    cpSync(esp, dest, { recursive: true, preserveTimestamps: true, verbatimSymlinks: true });
    return dest;
  }
  throw new KilnError(`${ctx.what}: no EFI payload in the tree: none of /usr/lib/ostree-boot/efi/EFI, /${UPDATES}/EFI, /boot/efi/EFI exists`);
}

/** What `bootupctl backend generate-update-metadata /` writes, done natively (see the header). */
export async function generateUpdateMetadataNative(ctx: StageContext): Promise<string[]> {
  if (!ctx.buildroot.hasTool('rpm')) throw new KilnError(`${ctx.what}: rpm is not in the build root (needed to find the packages owning the bootloader files)`);
  const dbpath = treeDbPath(ctx.tree);
  if (!dbpath) throw new KilnError(`${ctx.what}: the tree has no rpm database (none of /usr/lib/sysimage/rpm, /usr/share/rpm, /var/lib/rpm has content)`);
  const arch = (await rpmQuery(ctx, dbpath, '%{ARCH}\\n', [BOOTUPCTL])).trim().split('\n')[0]!;
  mkdirSync(join(ctx.tree, UPDATES), { recursive: true, mode: 0o755 });
  const written: string[] = [];
  if (BIOS_ARCHES.has(arch)) {
    if (existsSync(resolveInRoot(ctx.tree, GRUB_INSTALL, ctx.what))) {
      writeMetadata(ctx, 'BIOS', metadataFromRpmOutput(await rpmQuery(ctx, dbpath, '%{nevra},%{buildtime} ', [GRUB_INSTALL])));
      written.push('BIOS');
    } else ctx.log(`no ${GRUB_INSTALL} in the tree: no BIOS update metadata`);
  }
  if (EFI_ARCHES.has(arch)) {
    const dir = placeEfiPayload(ctx);
    const files = payloadFiles(dir, ctx.what).map((f) => `/boot/efi/EFI/${f}`);
    if (files.length === 0) throw new KilnError(`${ctx.what}: the EFI payload /${UPDATES}/EFI has no files`);
    let meta: UpdateMetadata;
    try {
      meta = metadataFromRpmOutput(await rpmQuery(ctx, dbpath, '%{nevra},%{buildtime} ', files));
    } catch (e) {
      throw e instanceof KilnError && e.message.startsWith(ctx.what) ? e : new KilnError(`${ctx.what}: EFI payload: ${(e as Error).message}`);
    }
    writeMetadata(ctx, 'EFI', meta);
    written.push('EFI');
  }
  if (!BIOS_ARCHES.has(arch) && !EFI_ARCHES.has(arch)) throw new KilnError(`${ctx.what}: bootupd has no components for architecture "${arch}" (from the package owning ${BOOTUPCTL})`);
  return written;
}

export const bootupdGenMetadataStage: StageImpl = {
  type: 'org.osbuild.bootupd.gen-metadata',
  validate(stage, what) {
    allowKeys(optionsOf(stage), [], what);
  },
  async run(ctx) {
    const tool = treeTool(ctx, [BOOTUPCTL]);
    if (!tool) throw new KilnError(`${ctx.what}: ${BOOTUPCTL} is not in the tree; install bootupd in the image to generate its update metadata`);
    if (!ctx.buildroot.hasTool('chroot')) throw new KilnError(`${ctx.what}: chroot is not in the build root (needed to run the tree's bootupctl)`);
    await bindApiFsInTree(ctx, true);
    const argv = ['chroot', ctx.toSandbox(ctx.tree), tool, 'backend', 'generate-update-metadata', '/'];
    // LC_ALL=C: chroot's own "failed to run command" message must not be translated
    const r = await ctx.run(argv, { what: `${ctx.what}: bootupctl`, okCodes: [0, 126, 127], extraEnv: { LC_ALL: 'C' } });
    let fallback = false;
    if (r.code !== 0) {
      if (ctx.buildroot.mode !== 'host' || !chrootCouldNotExec(r.code, r.stderr)) {
        throw new KilnError(`${ctx.what}: bootupctl: command '${argv.join(' ')}' failed with exit code ${r.code}: ${r.stderr.trim().slice(-2000)}`);
      }
      ctx.log(`the tree's ${tool} cannot be executed (${r.stderr.trim().split('\n').pop()}); using Kiln's native fallback for 'bootupctl backend generate-update-metadata' (host build root)`);
      await generateUpdateMetadataNative(ctx);
      fallback = true;
    }
    const dir = join(ctx.tree, UPDATES);
    const written = existsSync(dir) ? readdirSync(dir).filter((n) => n.endsWith('.json')) : [];
    if (written.length === 0) throw new KilnError(`${ctx.what}: bootupctl backend generate-update-metadata succeeded but wrote no /${UPDATES}/*.json (is the tree's bootupctl real, and is there an EFI or BIOS payload?)`);
    ctx.setMetadata({ 'bootupd.components': written.map((n) => n.replace(/\.json$/, '')).sort(), ...(fallback ? { 'bootupd.native-fallback': true } : {}) });
  },
};
