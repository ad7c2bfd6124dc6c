// Typed builders for the osbuild stages the generators use. Each returns a Stage whose options
// follow the stage's schema in reference/osbuild-schemas (schema_2.options, or the v1 `schema`
// for meta files without schema_2). Optional values that are unset are left out of the options
// (upstream serializes with Go's omitempty), so the JSON only says what was asked for.
import type { FileCustomization } from '../defs/types.js';
import type { LoadedRepo } from '../repo/types.js';
import type { Package } from '../rpm/types.js';
import { KilnError } from '../util/errors.js';
import { GUID, escapeMountpoint, wholeDiskDevice, type FstabEntry, type LaidOutPartition, type LaidOutPartitionTable, type MountUnit, loopbackDevice } from './layout.js';
import { vfatVolid } from './rng.js';
import type { SourceCollector } from './sources.js';
import type { Device, Input, Mount, Stage } from './types.js';

export const SELINUX_FILE_CONTEXTS = 'etc/selinux/targeted/contexts/files/file_contexts';
export const INSTALL_EXEC_LABEL = 'system_u:object_r:install_exec_t:s0';

/** Drop keys whose value is undefined, so options only carry what was set. */
export function compact<T extends Record<string, unknown>>(o: T): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return out as T;
}

function stage(type: string, options?: Record<string, unknown>, extra: Partial<Stage> = {}): Stage {
  const s: Stage = { type };
  if (extra.inputs) s.inputs = extra.inputs;
  if (options !== undefined) s.options = compact(options);
  if (extra.devices) s.devices = extra.devices;
  if (extra.mounts) s.mounts = extra.mounts;
  return s;
}

// ---------------------------------------------------------------------------------------------
// inputs

/** org.osbuild.tree input of one pipeline's tree. */
export function treeInput(pipeline: string): Input {
  return { type: 'org.osbuild.tree', origin: 'org.osbuild.pipeline', references: [`name:${pipeline}`] };
}

/** org.osbuild.files input of one file produced by a pipeline. */
export function pipelineFileInput(pipeline: string, file: string): Input {
  return { type: 'org.osbuild.files', origin: 'org.osbuild.pipeline', references: { [`name:${pipeline}`]: { file } } };
}

/** org.osbuild.files input of source items (checksum ids). */
export function sourceFilesInput(ids: string[]): Input {
  return { type: 'org.osbuild.files', origin: 'org.osbuild.source', references: ids.map((id) => ({ id })) };
}

// ---------------------------------------------------------------------------------------------
// package installation

export interface RpmStageOptions {
  ostreeBooted?: boolean;
  dbpath?: string;
  disableDracut?: boolean;
  excludeDocs?: boolean;
  installLangs?: string[];
  /** kernel-install environment etc. pass through untouched */
  extra?: Record<string, unknown>;
}

/**
 * org.osbuild.rpm installing `packages` (one depsolved transaction). Adds the packages to
 * `sources`. gpgkeys = key texts of the repositories that supplied these packages, sorted and
 * deduplicated; a package from a repo with check_gpg gets `rpm.check_gpg` metadata, and such a
 * repo without keys is an error (nothing could verify the package).
 */
export function rpmStage(packages: Package[], repos: LoadedRepo[], sources: SourceCollector, opts: RpmStageOptions = {}): Stage {
  const byId = new Map(repos.map((r) => [r.config.id, r]));
  const ids = sources.addPackages(packages, repos);
  const keys = new Set<string>();
  const refs: { id: string; options?: Record<string, unknown> }[] = [];
  const seen = new Set<string>();
  packages.forEach((pkg, i) => {
    const repo = byId.get(pkg.repoId)!;
    const check = repo.config.checkGpg === true;
    if (check && repo.gpgkeyTexts.length === 0) {
      throw new KilnError(`repo "${repo.config.id}" has check_gpg set but no gpg keys, so package ${pkg.name} cannot be verified`);
    }
    for (const k of repo.gpgkeyTexts) keys.add(k);
    const id = ids[i]!;
    if (seen.has(id)) return;
    seen.add(id);
    refs.push(check ? { id, options: { metadata: { 'rpm.check_gpg': true } } } : { id });
  });
  const options: Record<string, unknown> = {
    gpgkeys: keys.size ? [...keys].sort() : undefined,
    dbpath: opts.dbpath,
    ostree_booted: opts.ostreeBooted || undefined,
    disable_dracut: opts.disableDracut || undefined,
    exclude: opts.excludeDocs ? { docs: true } : undefined,
    install_langs: opts.installLangs?.length ? opts.installLangs : undefined,
    ...(opts.extra ?? {}),
  };
  return stage('org.osbuild.rpm', options, {
    inputs: { packages: { type: 'org.osbuild.files', origin: 'org.osbuild.source', references: refs } },
  });
}

/** org.osbuild.selinux: label the tree from the targeted policy; `labels` for explicit paths. */
export function selinuxStage(opts: { labels?: Record<string, string>; forceAutorelabel?: boolean; fileContexts?: string } = {}): Stage {
  return stage('org.osbuild.selinux', {
    file_contexts: opts.fileContexts ?? SELINUX_FILE_CONTEXTS,
    labels: opts.labels && Object.keys(opts.labels).length ? opts.labels : undefined,
    force_autorelabel: opts.forceAutorelabel || undefined,
  });
}

// ---------------------------------------------------------------------------------------------
// system configuration

export function kernelCmdlineStage(rootFsUuid: string, kernelOpts: string): Stage {
  return stage('org.osbuild.kernel-cmdline', { root_fs_uuid: rootFsUuid, kernel_opts: kernelOpts });
}

/** org.osbuild.fix-bls; `prefix: ""` when /boot is its own partition, none without a table. */
export function fixBlsStage(prefix?: string): Stage {
  return stage('org.osbuild.fix-bls', { prefix });
}

export function localeStage(language: string): Stage {
  return stage('org.osbuild.locale', { language });
}

export function hostnameStage(hostname: string): Stage {
  return stage('org.osbuild.hostname', { hostname });
}

export function timezoneStage(zone: string): Stage {
  return stage('org.osbuild.timezone', { zone });
}

export function keymapStage(keymap: string, x11Layouts?: string[]): Stage {
  return stage('org.osbuild.keymap', { keymap, 'x11-keymap': x11Layouts?.length ? { layouts: x11Layouts } : undefined });
}

export function sysconfigStage(kernel: { update_default?: boolean; default_kernel?: string }): Stage {
  return stage('org.osbuild.sysconfig', { kernel: compact({ ...kernel }) });
}

export function fstabStage(entries: FstabEntry[]): Stage {
  return stage('org.osbuild.fstab', { filesystems: entries });
}

export function systemdUnitCreateStage(unit: MountUnit | { filename: string; 'unit-path'?: 'usr' | 'etc'; 'unit-type'?: 'system' | 'global'; config: Record<string, unknown> }): Stage {
  return stage('org.osbuild.systemd.unit.create', { filename: unit.filename, 'unit-type': (unit as { 'unit-type'?: string })['unit-type'], 'unit-path': unit['unit-path'], config: unit.config });
}

export interface SystemdOptions {
  enabled?: string[];
  disabled?: string[];
  masked?: string[];
  defaultTarget?: string;
}

/** org.osbuild.systemd; undefined when there is nothing to do. */
export function systemdStage(o: SystemdOptions): Stage | undefined {
  const nz = (a?: string[]) => (a && a.length ? a : undefined);
  if (!nz(o.enabled) && !nz(o.disabled) && !nz(o.masked) && !o.defaultTarget) return undefined;
  return stage('org.osbuild.systemd', {
    enabled_services: nz(o.enabled),
    disabled_services: nz(o.disabled),
    masked_services: nz(o.masked),
    default_target: o.defaultTarget,
  });
}

export function systemdPresetStage(presets: { name: string; state: 'enable' | 'disable' }[]): Stage {
  return stage('org.osbuild.systemd.preset', { presets });
}

export function dracutConfStage(filename: string, config: Record<string, unknown>): Stage {
  return stage('org.osbuild.dracut.conf', { filename, config });
}

export function systemdJournaldStage(filename: string, config: Record<string, unknown>): Stage {
  return stage('org.osbuild.systemd-journald', { filename, config });
}

export interface UserOptions {
  uid?: number;
  gid?: number;
  groups?: string[];
  description?: string;
  home?: string;
  shell?: string;
  password?: string;
  key?: string;
  expiredate?: number;
}

export function usersStage(users: Record<string, UserOptions>): Stage {
  const u: Record<string, unknown> = {};
  for (const [name, opts] of Object.entries(users)) u[name] = compact({ ...opts });
  return stage('org.osbuild.users', { users: u });
}

export function groupsStage(groups: Record<string, { gid?: number }>): Stage {
  const g: Record<string, unknown> = {};
  for (const [name, opts] of Object.entries(groups)) g[name] = compact({ ...opts });
  return stage('org.osbuild.groups', { groups: g });
}

export interface Grub2Options {
  rootFsUuid: string;
  bootFsUuid?: string;
  kernelOpts: string;
  /** BIOS platform, e.g. i386-pc */
  legacy?: string;
  uefiVendor?: string;
  uefiInstall?: boolean;
  savedEntry?: string;
  writeCmdline?: boolean;
  greenboot?: boolean;
  ignition?: boolean;
  config?: { default?: string; timeout?: number; terminal_output?: string[]; [k: string]: unknown };
}

export function grub2Stage(o: Grub2Options): Stage {
  return stage('org.osbuild.grub2', {
    root_fs_uuid: o.rootFsUuid,
    boot_fs_uuid: o.bootFsUuid,
    kernel_opts: o.kernelOpts,
    legacy: o.legacy,
    uefi: o.uefiVendor ? compact({ vendor: o.uefiVendor, install: o.uefiInstall || undefined, unified: true }) : undefined,
    saved_entry: o.savedEntry,
    greenboot: o.greenboot || undefined,
    ignition: o.ignition || undefined,
    write_cmdline: o.writeCmdline,
    config: o.config && Object.keys(compact({ ...o.config })).length ? compact({ ...o.config }) : undefined,
    compat_version: 2,
  });
}

// ---------------------------------------------------------------------------------------------
// files and directories

/** Parse an octal mode string ("0755", "755") to a number; names the path on error. */
export function parseMode(mode: string, path: string): number {
  if (!/^0?[0-7]{3,4}$/.test(mode)) throw new KilnError(`file/directory "${path}": mode "${mode}" is not an octal mode like 0644`);
  return parseInt(mode, 8);
}

/** org.osbuild.mkdir for directories (modes as numbers). */
export function mkdirStage(paths: { path: string; mode?: number; parents?: boolean; exist_ok?: boolean }[]): Stage {
  return stage('org.osbuild.mkdir', { paths: paths.map((p) => compact({ ...p })) });
}

/**
 * Files with content -> org.osbuild.copy from inline sources (one input per file,
 * `file-<hex>`), then org.osbuild.chmod / org.osbuild.chown for those with mode/owner.
 * Returns the stages in that order (empty when no files).
 */
export function fileStages(files: FileCustomization[], sources: SourceCollector): Stage[] {
  if (files.length === 0) return [];
  const inputs: Record<string, Input> = {};
  const paths: { from: string; to: string; remove_destination: boolean }[] = [];
  const chmod: Record<string, { mode: string }> = {};
  const chown: Record<string, { user?: string | number; group?: string | number }> = {};
  for (const f of files) {
    if (!f.path?.startsWith('/')) throw new KilnError(`file "${f.path}": path must be absolute`);
    const id = sources.addInline(f.data ?? '');
    const name = `file-${id.slice('sha256:'.length)}`;
    inputs[name] = { type: 'org.osbuild.files', origin: 'org.osbuild.source', references: [id] };
    paths.push({ from: `input://${name}/${id}`, to: `tree://${f.path}`, remove_destination: true });
    if (f.mode) chmod[f.path] = { mode: f.mode };
    if (f.user !== undefined || f.group !== undefined) chown[f.path] = compact({ user: f.user, group: f.group });
  }
  const out: Stage[] = [stage('org.osbuild.copy', { paths }, { inputs })];
  if (Object.keys(chmod).length) out.push(stage('org.osbuild.chmod', { items: chmod }));
  if (Object.keys(chown).length) out.push(stage('org.osbuild.chown', { items: chown }));
  return out;
}

/** org.osbuild.copy with explicit paths, inputs, devices and mounts. */
export function copyStage(paths: { from: string; to: string; remove_destination?: boolean }[], extra: { inputs?: Record<string, Input>; devices?: Record<string, Device>; mounts?: Mount[] } = {}): Stage {
  return stage('org.osbuild.copy', { paths: paths.map((p) => compact({ ...p })) }, extra);
}

// ---------------------------------------------------------------------------------------------
// disk images

export function truncateStage(filename: string, size: number): Stage {
  return stage('org.osbuild.truncate', { filename, size: String(size) });
}

/** org.osbuild.sfdisk writing the laid-out table (start/size in sectors) to `filename`. */
export function sfdiskStage(pt: LaidOutPartitionTable, filename: string): Stage {
  const s = pt.sector_size;
  const partitions = pt.partitions.map((p) =>
    compact({
      bootable: p.bootable || undefined,
      size: Math.floor(p.size / s),
      start: p.start / s,
      type: p.type,
      uuid: pt.type === 'gpt' ? p.uuid : undefined,
      name: pt.type === 'gpt' ? p.label : undefined,
      attrs: pt.type === 'gpt' && p.attrs?.length ? p.attrs : undefined,
    }),
  );
  return stage('org.osbuild.sfdisk', { label: pt.type, uuid: pt.uuid, partitions }, { devices: { device: wholeDiskDevice(filename, pt) } });
}

/** The mkfs stage for the filesystem on `part` (device named `device`, locked loopback). */
export function mkfsStage(pt: LaidOutPartitionTable, part: LaidOutPartition, filename: string): Stage {
  const fs = part.payload as { type: string; uuid?: string; label?: string } | undefined;
  if (!fs?.type) throw new KilnError(`partition at ${part.start} has no filesystem to create`);
  const devices = { device: loopbackDevice(filename, pt, part, true) };
  switch (fs.type) {
    case 'vfat':
      return stage('org.osbuild.mkfs.fat', { volid: vfatVolid(fs.uuid!), label: fs.label }, { devices });
    case 'ext4':
      return stage('org.osbuild.mkfs.ext4', { uuid: fs.uuid, label: fs.label }, { devices });
    case 'xfs':
      return stage('org.osbuild.mkfs.xfs', { uuid: fs.uuid, label: fs.label }, { devices });
    case 'btrfs':
      return stage('org.osbuild.mkfs.btrfs', { uuid: fs.uuid, label: fs.label }, { devices });
    case 'swap':
      return stage('org.osbuild.mkswap', { uuid: fs.uuid, label: fs.label }, { devices });
    default:
      throw new KilnError(`cannot create a "${fs.type}" filesystem (supported: vfat, ext4, xfs, btrfs, swap)`);
  }
}

/**
 * org.osbuild.grub2.inst for BIOS boot: core image in the BIOS boot partition (GPT) or after the
 * MBR (DOS), config prefix on the /boot (or root) partition.
 */
export function grub2InstStage(pt: LaidOutPartitionTable, filename: string, platform: string): Stage {
  const s = pt.sector_size;
  const bootIdx = pt.partitions.findIndex((p) => (p.payload as { mountpoint?: string } | undefined)?.mountpoint === '/boot');
  const rootIdx = pt.partitions.findIndex((p) => (p.payload as { mountpoint?: string } | undefined)?.mountpoint === '/');
  const idx = bootIdx >= 0 ? bootIdx : rootIdx;
  if (idx < 0) throw new KilnError('grub2.inst: the partition table has no plain /boot or / filesystem for the grub config');
  const fsType = (pt.partitions[idx]!.payload as { type: string }).type;
  // where the core image goes: the BIOS boot partition (gpt), a PReP partition (dos, ppc64le),
  // else the gap right after the MBR (dos)
  const coreIdx = pt.partitions.findIndex((p) => (pt.type === 'gpt' ? p.type.toUpperCase() === GUID.BIOS_BOOT : p.type.toLowerCase() === '41'));
  if (pt.type === 'gpt' && coreIdx < 0) throw new KilnError(`grub2.inst (${platform}): a gpt table needs a BIOS boot partition (${GUID.BIOS_BOOT})`);
  const location = coreIdx >= 0 ? pt.partitions[coreIdx]!.start / s : 1;
  return stage('org.osbuild.grub2.inst', {
    filename,
    platform,
    location,
    core: { type: 'mkimage', partlabel: pt.type, filesystem: fsType },
    prefix: { type: 'partition', partlabel: pt.type, number: idx, path: bootIdx >= 0 ? '/grub2' : '/boot/grub2' },
  });
}

export function xzStage(filename: string, fromPipeline: string, file: string): Stage {
  return stage('org.osbuild.xz', { filename }, { inputs: { file: pipelineFileInput(fromPipeline, file) } });
}

export function zstdStage(filename: string, fromPipeline: string, file: string): Stage {
  return stage('org.osbuild.zstd', { filename }, { inputs: { file: pipelineFileInput(fromPipeline, file) } });
}

export function gzipStage(filename: string, fromPipeline: string, file: string): Stage {
  return stage('org.osbuild.gzip', { filename }, { inputs: { file: pipelineFileInput(fromPipeline, file) } });
}

/** org.osbuild.qemu converting a raw image; `compat` only for qcow2 (omitted when empty). */
export function qemuStage(filename: string, format: 'qcow2' | 'vmdk' | 'vpc' | 'vhdx' | 'vdi', fromPipeline: string, file: string, compat?: string): Stage {
  const fmt: Record<string, unknown> = { type: format };
  if (format === 'qcow2' && compat) fmt['compat'] = compat;
  // VMware wants the stream-optimized (compressed, appendable) flavour for uploads
  if (format === 'vmdk') fmt['subformat'] = 'streamOptimized';
  return stage('org.osbuild.qemu', { filename, format: fmt }, { inputs: { image: pipelineFileInput(fromPipeline, file) } });
}

export function tarStage(filename: string, fromPipeline: string, opts: { rootNode?: 'include' | 'omit'; paths?: string[]; format?: string; numericOwner?: boolean } = {}): Stage {
  return stage(
    'org.osbuild.tar',
    { filename, format: opts.format, 'root-node': opts.rootNode, paths: opts.paths, 'numeric-owner': opts.numericOwner },
    { inputs: { tree: treeInput(fromPipeline) } },
  );
}

/** org.osbuild.oci-archive of one tree as a single-layer image. */
export function ociArchiveStage(filename: string, architecture: string, fromPipeline: string, config?: Record<string, unknown>): Stage {
  return stage('org.osbuild.oci-archive', { architecture, filename, config }, { inputs: { base: treeInput(fromPipeline) } });
}

/** Name of a mount/device for a mountpoint (re-exported for generators). */
export { escapeMountpoint };

/** OCI image architecture name for an RPM arch (x86_64 -> amd64, aarch64 -> arm64). */
export function ociArch(arch: string): string {
  const m: Record<string, string> = { x86_64: 'amd64', aarch64: 'arm64', ppc64le: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };
  const a = m[arch];
  if (!a) throw new KilnError(`no OCI architecture for arch "${arch}"`);
  return a;
}

/** org.osbuild.machine-id: `yes` leaves /etc/machine-id uninitialized so first boot sets it. */
export function machineIdStage(firstBoot: 'yes' | 'no' | 'preserve'): Stage {
  return stage('org.osbuild.machine-id', { 'first-boot': firstBoot });
}

/** org.osbuild.chown for directories (or files) with an owner and/or group. */
export function chownDirsStage(items: { path: string; user?: string | number; group?: string | number }[]): Stage {
  const o: Record<string, unknown> = {};
  for (const it of items) o[it.path] = compact({ user: it.user, group: it.group });
  return stage('org.osbuild.chown', { items: o });
}

/** org.osbuild.chrony with NTP servers (blueprint timezone.ntpservers). */
export function chronyStage(timeservers: string[]): Stage {
  return stage('org.osbuild.chrony', { timeservers });
}

/** org.osbuild.firewall from the blueprint firewall customization; undefined when empty. */
export function firewallStage(o: { ports?: string[]; enabled?: string[]; disabled?: string[] }): Stage | undefined {
  const nz = (a?: string[]) => (a && a.length ? a : undefined);
  if (!nz(o.ports) && !nz(o.enabled) && !nz(o.disabled)) return undefined;
  return stage('org.osbuild.firewall', { ports: nz(o.ports), enabled_services: nz(o.enabled), disabled_services: nz(o.disabled) });
}
