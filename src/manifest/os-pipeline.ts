// The `os` pipeline of package-based images: the OS tree installed from RPMs and configured from
// the image config and the blueprint (reference §4 and §5.2). Also reusable by the ostree commit
// generators (no partition table, rpm options for ostree, extra stages before/after).
import type { Blueprint } from '../blueprint/types.js';
import type { FileCustomization, ResolvedImageType } from '../defs/types.js';
import type { Transaction } from '../depsolve/types.js';
import type { Package } from '../rpm/types.js';
import { KilnError } from '../util/errors.js';
import { BUILD_REF } from './build-pipeline.js';
import { fsForMountpoint, fstabEntries, mountUnits, partitionTablePackages, rootFs, type LaidOutPartitionTable } from './layout.js';
import { hashPassword } from './password.js';
import type { Rng } from './rng.js';
import type { SourceCollector } from './sources.js';
import {
  chownDirsStage,
  chronyStage,
  firewallStage,
  dracutConfStage,
  fileStages,
  fixBlsStage,
  fstabStage,
  groupsStage,
  grub2Stage,
  hostnameStage,
  kernelCmdlineStage,
  keymapStage,
  localeStage,
  machineIdStage,
  mkdirStage,
  parseMode,
  rpmStage,
  selinuxStage,
  sysconfigStage,
  systemdJournaldStage,
  systemdPresetStage,
  systemdStage,
  systemdUnitCreateStage,
  timezoneStage,
  usersStage,
  type RpmStageOptions,
  type UserOptions,
} from './stages.js';
import type { DepsolvedPipeline, Pipeline, Stage } from './types.js';

function uniq(xs: string[]): string[] {
  return [...new Set(xs)];
}

/** The kernel package: blueprint `customizations.kernel.name`, else `kernel`. */
export function kernelName(bp: Blueprint): string {
  return bp.customizations?.kernel?.name || 'kernel';
}

export interface OsPackageSetOptions {
  /** install a kernel (bootable or ostree-based images) */
  kernel: boolean;
  /** partition table whose filesystem tools go into transaction 1 */
  partitionTable?: { partitions: unknown[] } & Parameters<typeof partitionTablePackages>[0];
  /** the definitions' package set to use (default `os`) */
  packageSet?: string;
  /** more packages for transaction 1 (e.g. environment packages) */
  extraInclude?: string[];
}

/**
 * The os chain (reference §4): 1) platform packages + kernel + PT tools + the image type's set
 * (weak deps per image config); 2) customization packages, always selinux-policy-targeted (no weak
 * deps); 3) blueprint packages and groups (no weak deps). Empty transactions are dropped.
 */
export function osPackageSetChain(it: ResolvedImageType, bp: Blueprint, o: OsPackageSetOptions): Transaction[] {
  const setName = o.packageSet ?? 'os';
  const set = it.package_sets[setName] ?? { include: [], exclude: [] };
  const t1: string[] = [...Object.values(it.platform.packages ?? {}).flat()];
  if (o.kernel) t1.push(kernelName(bp));
  if (o.partitionTable) t1.push(...partitionTablePackages(o.partitionTable));
  t1.push(...(o.extraInclude ?? []), ...set.include);

  const c = bp.customizations ?? {};
  const t2: string[] = ['selinux-policy-targeted'];
  if (c.timezone?.ntpservers?.length) t2.push('chrony');
  if (c.firewall) t2.push('firewalld');

  const t3: string[] = [];
  for (const p of bp.packages ?? []) {
    if (!p.name) throw new KilnError('blueprint packages: an entry has no name');
    t3.push(p.version && p.version !== '*' ? `${p.name}-${p.version}` : p.name);
  }
  for (const m of bp.modules ?? []) if (m.name) t3.push(m.version && m.version !== '*' ? `${m.name}-${m.version}` : m.name);
  for (const g of bp.groups ?? []) {
    if (!g.name) throw new KilnError('blueprint groups: an entry has no name');
    t3.push(`@${g.name}`);
  }

  const chain: Transaction[] = [
    { include: uniq(t1), exclude: uniq(set.exclude), installWeakDeps: it.image_config.install_weak_deps ?? true },
    { include: uniq(t2), exclude: [], installWeakDeps: false },
    { include: uniq(t3), exclude: [], installWeakDeps: false },
  ];
  return chain.filter((t) => t.include.length > 0);
}

/** `<version>-<release>.<arch>` of the depsolved kernel package (for saved_entry). */
export function kernelVersion(packages: Package[], name: string): string {
  const k = packages.find((p) => p.name === name);
  if (!k) throw new KilnError(`kernel package "${name}" is not among the depsolved os packages`);
  return `${k.version}-${k.release}.${k.arch}`;
}

/**
 * Kernel command line: image config kernel_options + blueprint kernel.append. With mount units
 * (no fstab to remount root), root's non-default fstab options move to `rootflags=` and an `ro`
 * among them decides ro/rw (inferred, reference §5.2).
 */
export function kernelOptions(it: ResolvedImageType, bp: Blueprint, pt?: LaidOutPartitionTable): string {
  let opts: string[] = [...(it.image_config.kernel_options ?? [])];
  const append = bp.customizations?.kernel?.append;
  if (append) opts.push(...append.split(/\s+/).filter(Boolean));
  if (pt && it.disk_config?.mount_configuration === 'units') {
    const rootOpts = (rootFs(pt).fstab_options || 'defaults').split(',').filter((x) => x && x !== 'defaults');
    if (rootOpts.includes('ro')) opts = opts.filter((x) => x !== 'rw' && x !== 'ro').concat('ro');
    const flags = rootOpts.filter((x) => x !== 'ro' && x !== 'rw');
    if (flags.length) opts.push(`rootflags=${flags.join(',')}`);
  }
  return opts.join(' ');
}

export interface OsPipelineConfig {
  /** pipeline name, default `os` */
  name?: string;
  /** kernel installed + bootloader configured (disk images) */
  bootable: boolean;
  /** laid-out table of the disk the tree goes onto (fstab/units, kernel cmdline, grub2) */
  partitionTable?: LaidOutPartitionTable;
  /** extra org.osbuild.rpm options (ostree_booted, dbpath, ...) */
  rpmOptions?: RpmStageOptions;
  /** stages before everything else (e.g. ostree.passwd) */
  prepend?: Stage[];
  /** stages right before org.osbuild.selinux */
  beforeSelinux?: Stage[];
  /** stages after org.osbuild.selinux (e.g. ostree.preptree) */
  append?: Stage[];
  /** when true, emit fix-bls even without a partition table (ostree commits) */
  fixBls?: boolean;
  /** RNG for password salts (blueprint plaintext passwords) */
  rng: Rng;
}

/** Build the os pipeline from its depsolved transactions (one rpm stage per non-empty one). */
export function osPipeline(
  it: ResolvedImageType,
  bp: Blueprint,
  depsolved: DepsolvedPipeline | undefined,
  sources: SourceCollector,
  cfg: OsPipelineConfig,
): Pipeline {
  const name = cfg.name ?? 'os';
  if (!depsolved || depsolved.transactions.every((t) => t.length === 0)) {
    throw new KilnError(`image type "${it.name}": no depsolved packages for the ${name} pipeline`);
  }
  const ic = it.image_config;
  const c = bp.customizations ?? {};
  const pt = cfg.partitionTable;
  const stages: Stage[] = [];

  for (const d of ic.dracut_conf ?? []) stages.push(dracutConfStage(d.filename, d.config));
  stages.push(...(cfg.prepend ?? []));

  const kopts = cfg.bootable && pt ? kernelOptions(it, bp, pt) : '';
  if (cfg.bootable && pt) stages.unshift(kernelCmdlineStage(rootFs(pt).uuid!, kopts));

  for (const t of depsolved.transactions) if (t.length > 0) stages.push(rpmStage(t, depsolved.repos, sources, cfg.rpmOptions));

  if (cfg.bootable || cfg.fixBls) {
    // BLS entries carry a /boot prefix; strip it when /boot is its own filesystem
    const separateBoot = pt ? !!fsForMountpoint(pt, '/boot') : false;
    stages.push(fixBlsStage(separateBoot ? '' : undefined));
  }

  const language = c.locale?.languages?.[0] ?? ic.locale;
  if (language) stages.push(localeStage(language));
  const keyboard = c.locale?.keyboard ?? ic.keyboard ?? ic.keymap;
  if (keyboard) stages.push(keymapStage(keyboard));
  const hostname = c.hostname ?? ic.hostname;
  if (hostname) stages.push(hostnameStage(hostname));
  const zone = c.timezone?.timezone ?? ic.timezone;
  if (zone) stages.push(timezoneStage(zone));
  if (c.timezone?.ntpservers?.length) stages.push(chronyStage(c.timezone.ntpservers));
  if (ic.update_default_kernel !== undefined || ic.default_kernel !== undefined) {
    stages.push(sysconfigStage({ update_default: ic.update_default_kernel, default_kernel: ic.default_kernel }));
  }

  const mountUnitNames: string[] = [];
  if (pt) {
    const mode = it.disk_config?.mount_configuration ?? 'fstab';
    if (mode === 'fstab') stages.push(fstabStage(fstabEntries(pt)));
    else if (mode === 'units') {
      for (const u of mountUnits(pt)) {
        stages.push(systemdUnitCreateStage(u));
        mountUnitNames.push(u.filename);
      }
    }
  }

  if (cfg.bootable && pt) {
    const pkgs = depsolved.transactions.flat();
    const vendor = it.platform.uefi_vendor;
    const bios = it.platform.bios_platform;
    if ((it.platform.bootloader ?? 'grub2') === 'grub2' && (vendor || bios)) {
      stages.push(
        grub2Stage({
          rootFsUuid: rootFs(pt).uuid!,
          bootFsUuid: fsForMountpoint(pt, '/boot')?.uuid,
          kernelOpts: kopts,
          legacy: bios,
          uefiVendor: vendor,
          savedEntry: `ffffffffffffffffffffffffffffffff-${kernelVersion(pkgs, kernelName(bp))}`,
          writeCmdline: false,
          config: ic.grub2_config,
        }),
      );
    }
  }

  // blueprint groups and users before files, so files can be owned by them
  if (c.group?.length) {
    const groups: Record<string, { gid?: number }> = {};
    for (const g of c.group) groups[g.name] = { gid: g.gid };
    stages.push(groupsStage(groups));
  }
  const users = blueprintUsers(bp, cfg.rng);
  if (Object.keys(users).length) stages.push(usersStage(users));

  if (c.directories?.length) {
    const dirs = c.directories.map((d) => {
      if (!d.path?.startsWith('/')) throw new KilnError(`blueprint customizations.directories: path "${d.path}" must be absolute`);
      return { path: d.path, mode: d.mode ? parseMode(d.mode, d.path) : undefined, parents: d.ensure_parents || undefined, exist_ok: true };
    });
    stages.push(mkdirStage(dirs));
    const owned = c.directories.filter((d) => d.user !== undefined || d.group !== undefined);
    if (owned.length) stages.push(chownDirsStage(owned));
  }
  const files: FileCustomization[] = [...(ic.files ?? []), ...(c.files ?? [])];
  stages.push(...fileStages(files, sources));

  const fw = c.firewall ? firewallStage({ ports: c.firewall.ports, enabled: c.firewall.services?.enabled, disabled: c.firewall.services?.disabled }) : undefined;
  if (fw) stages.push(fw);
  if (ic.systemd_journald) stages.push(systemdJournaldStage(ic.systemd_journald.filename, ic.systemd_journald.config));
  const sd = systemdStage({
    enabled: uniq([...(ic.enabled_services ?? []), ...(c.services?.enabled ?? []), ...mountUnitNames]),
    disabled: uniq([...(ic.disabled_services ?? []), ...(c.services?.disabled ?? [])]),
    masked: uniq([...(ic.masked_services ?? []), ...(c.services?.masked ?? [])]),
    defaultTarget: ic.default_target,
  });
  if (sd) stages.push(sd);
  // presets come after the explicit service list (reference §5.3: systemd, then systemd.preset)
  if (ic.presets?.length) stages.push(systemdPresetStage(ic.presets));
  if (ic.machine_id_uninitialized) stages.push(machineIdStage('yes'));

  stages.push(...(cfg.beforeSelinux ?? []));
  stages.push(selinuxStage({ forceAutorelabel: ic.selinux_force_relabel }));
  stages.push(...(cfg.append ?? []));

  return { name, build: BUILD_REF, stages };
}

/** Blueprint users in org.osbuild.users shape; plaintext passwords are hashed (sha512-crypt). */
export function blueprintUsers(bp: Blueprint, rng: Rng): Record<string, UserOptions> {
  const out: Record<string, UserOptions> = {};
  for (const [i, u] of (bp.customizations?.user ?? []).entries()) {
    if (!u.name) throw new KilnError(`blueprint customizations.user[${i}]: name is required`);
    out[u.name] = {
      uid: u.uid,
      gid: u.gid,
      groups: u.groups?.length ? u.groups : undefined,
      description: u.description,
      home: u.home,
      shell: u.shell,
      password: u.password === undefined ? undefined : hashPassword(u.password, rng),
      key: u.key,
      expiredate: u.expiredate,
    };
  }
  for (const k of bp.customizations?.sshkey ?? []) {
    if (out[k.user]) out[k.user]!.key = out[k.user]!.key ?? k.key;
    else out[k.user] = { key: k.key };
  }
  return out;
}
