// image_func `ostree_disk` (iot-raw-xz, iot-qcow2, atomic desktop disks): deploy a resolved ostree
// commit into a fresh sysroot (`ostree-deployment`), write it into a partitioned disk (`image`),
// then compress (`xz`) or convert (`qcow2`). Reference §5.4. The deployment and image pipelines
// are exported for the simplified installer, which embeds such a disk in an ISO.
import type { Blueprint } from '../../blueprint/types.js';
import type { FilesystemPayload, LuksPayload, LvmPayload, ResolvedImageType } from '../../defs/types.js';
import { KilnError } from '../../util/errors.js';
import { BUILD_REF, buildPackageSet, buildPipeline } from '../build-pipeline.js';
import {
  allFilesystems,
  devicesAndMounts,
  escapeMountpoint,
  fstabEntries,
  isPlain,
  layoutPartitionTable,
  loopbackDevice,
  mountTypeFor,
  rootFs,
  fsForMountpoint,
  type LaidOutPartition,
  type LaidOutPartitionTable,
} from '../layout.js';
import {
  inDeployment,
  lvm2CreateStage,
  lvm2MetadataStage,
  luks2FormatStage,
  ostreeCheckoutInput,
  ostreeConfigStage,
  ostreeDeployStage,
  ostreeFillvarStage,
  ostreeInitFsStage,
  ostreeOsInitStage,
  ostreePullStage,
  ostreeRemotesStage,
  ostreeSelinuxStage,
  ostreeSourceInput,
  ignitionStage,
  clevisLuksBindStage,
  luks2RemoveKeyStage,
  type Deployment,
} from '../ostree-stages.js';
import { Rng } from '../rng.js';
import { SourceCollector } from '../sources.js';
import {
  copyStage,
  fileStages,
  fstabStage,
  groupsStage,
  grub2InstStage,
  grub2Stage,
  keymapStage,
  localeStage,
  mkdirStage,
  mkfsStage,
  parseMode,
  qemuStage,
  sfdiskStage,
  systemdStage,
  treeInput,
  truncateStage,
  usersStage,
  xzStage,
  zstdStage,
} from '../stages.js';
import type { Device, GeneratorRequest, ImageGenerator, Manifest, Mount, PackageSetChains, Pipeline, ResolvedCommit, SerializeInput, Stage } from '../types.js';
import { blueprintUsers } from '../os-pipeline.js';
import { cfgBool, cfgList, cfgString, deploymentKernelOpts, deploymentSource, groupsOptions, ostreeNames, requireCommit } from './ostree-common.js';

export const DEPLOYMENT_PIPELINE = 'ostree-deployment';
export const IMAGE_PIPELINE = 'image';
export const DISK_FILE = 'disk.img';
const SYSROOT_REPO = '/ostree/repo';

/** What the finished disk is turned into, from the image type. */
export function diskFormat(it: ResolvedImageType): 'xz' | 'zstd' | 'qcow2' | 'raw' {
  if (it.platform.image_format === 'qcow2' || it.exports.includes('qcow2')) return 'qcow2';
  if (it.compression === 'xz') return 'xz';
  if (it.compression === 'zstd') return 'zstd';
  return 'raw';
}

/** Does the deployment need shadow-utils in the build root (users, groups, locked root)? */
function needsShadowUtils(it: ResolvedImageType, bp: Blueprint): boolean {
  const c = bp.customizations;
  return !!it.image_config.lock_root_user || !!c.user?.length || !!c.sshkey?.length || !!c.group?.length;
}

/** Build-root packages for an ostree deployment + disk image (reference §4.6). */
export function ostreeDiskBuildPackages(it: ResolvedImageType, bp: Blueprint): string[] {
  const extra = [
    ...Object.values(it.platform.packages ?? {}).flat(),
    'rpm-ostree',
    'dracut-config-generic',
    'efibootmgr',
  ];
  if (needsShadowUtils(it, bp)) extra.push('shadow-utils');
  return extra;
}

/** Lay out the type's partition table for this request (seeded UUIDs, blueprint filesystems). */
export function layoutFor(req: GeneratorRequest, rng: Rng): LaidOutPartitionTable {
  const it = req.imageType;
  if (!it.partition_table) throw new KilnError(`image type ${it.name}: the definition has no partition table for ${it.arch}`);
  return layoutPartitionTable(it.partition_table, {
    size: it.default_size,
    requiredSizes: it.required_partition_sizes,
    filesystems: req.blueprint.customizations.filesystem,
    defaultFsType: it.distro.default_fs_type,
    rng,
    context: `image type "${it.name}"`,
  });
}

// ---------------------------------------------------------------------------------------------
// ostree-deployment

export interface DeploymentOptions {
  req: GeneratorRequest;
  pt: LaidOutPartitionTable;
  commit: ResolvedCommit;
  sources: SourceCollector;
  /** for password salts (after the layout has drawn its UUIDs) */
  rng: Rng;
}

/** The deployment's identity: stateroot name and ref. */
export function deploymentOf(it: ResolvedImageType, commit: ResolvedCommit): Deployment {
  return { osname: ostreeNames(it).osname, ref: commit.ref };
}

export function ostreeDeploymentPipeline(o: DeploymentOptions): Pipeline {
  const { req, pt, commit, sources, rng } = o;
  const it = req.imageType;
  const bp = req.blueprint;
  const { osname, remote } = ostreeNames(it);
  const dep = deploymentOf(it, commit);
  sources.addOstreeCommit(commit.checksum, { url: commit.url });

  const root = rootFs(pt);
  const ic = it.image_config;
  // filesystems the deployment must see mounted besides /: every other mountpoint of the laid-out
  // table (the definitions' `ostree_mounts` lists the defaults; blueprint filesystems add to them)
  const mountpoints = allFilesystems(pt)
    .map((f) => f.mountpoint)
    .filter((m): m is string => !!m && m !== '/' && m !== 'none')
    .sort();
  const kernelOpts = deploymentKernelOpts(it, bp);
  // An encrypted root must be unlocked by the initramfs (clevis): name the LUKS container(s), as
  // osbuild's own ostree image example does (inferred for upstream images).
  for (const part of pt.partitions) {
    if (part.payload_type === 'luks' && (part.payload as LuksPayload).uuid) kernelOpts.push(`luks.uuid=${(part.payload as LuksPayload).uuid}`);
  }

  const stages: Stage[] = [ostreeInitFsStage(), ostreeOsInitStage(osname)];
  // The ESP mountpoint must exist with tight permissions before the deployment is written.
  if (mountpoints.includes('/boot/efi')) stages.push(mkdirStage([{ path: '/boot/efi', mode: 0o700 }]));
  stages.push(ostreePullStage(SYSROOT_REPO, ostreeSourceInput(commit.checksum, commit.ref), remote));
  stages.push(
    ostreeDeployStage({
      osname,
      ref: commit.ref,
      remote,
      mounts: mountpoints,
      rootfs: root.label ? { label: root.label } : { uuid: root.uuid! },
      kernelOpts,
    }),
  );
  if (it.image_config['use_ostree_remotes']) {
    stages.push(ostreeRemotesStage(SYSROOT_REPO, [{ name: remote, url: commit.url }]));
  }
  stages.push(ostreeFillvarStage(dep));
  const sysroot = { readonly: cfgBool(ic, 'ostree_sysroot_readonly') ?? true, bootloader: cfgString(ic, 'ostree_bootloader') ?? 'none' };
  stages.push(inDeployment(ostreeConfigStage(SYSROOT_REPO, sysroot), dep));
  stages.push(inDeployment(fstabStage(fstabEntries(pt)), dep));

  const groups = groupsOptions(bp);
  if (groups) stages.push(inDeployment(groupsStage(groups), dep));
  const users = blueprintUsers(bp, rng);
  if (Object.keys(users).length) stages.push(inDeployment(usersStage(users), dep));
  if (ic.ignition_platform) {
    stages.push(ignitionStage(cfgList(ic, 'ignition_network_kernel_options') ?? ['systemd.firstboot=off', 'systemd.condition-first-boot=true']));
  }
  if (it.image_config.lock_root_user && !users['root']) {
    stages.push(inDeployment(usersStage({ root: { password: '!locked' } }), dep));
  }
  const keymap = bp.customizations.locale?.keyboard ?? it.image_config.keymap ?? it.image_config.keyboard;
  if (keymap) stages.push(inDeployment(keymapStage(keymap), dep));
  const locale = bp.customizations.locale?.languages?.[0] ?? it.image_config.locale;
  if (locale) stages.push(inDeployment(localeStage(locale), dep));

  const boot = fsForMountpoint(pt, '/boot');
  const grubConfig = it.image_config.grub2_config;
  stages.push(
    grub2Stage({
      rootFsUuid: root.uuid!,
      bootFsUuid: boot?.uuid,
      kernelOpts: kernelOpts.join(' '),
      legacy: it.platform.bios_platform,
      uefiVendor: it.platform.uefi_vendor,
      uefiInstall: true,
      greenboot: cfgBool(ic, 'greenboot') ?? true,
      ignition: !!ic.ignition_platform,
      writeCmdline: false,
      config: grubConfig ? { ...grubConfig } : undefined,
    }),
  );

  stages.push(...customizationStages(bp, sources).map((s) => inDeployment(s, dep)));
  stages.push(ostreeSelinuxStage(dep));
  return { name: DEPLOYMENT_PIPELINE, build: BUILD_REF, stages };
}

/** Blueprint directories, files and services, applied inside the deployment. */
function customizationStages(bp: Blueprint, sources: SourceCollector): Stage[] {
  const out: Stage[] = [];
  const dirs = bp.customizations.directories ?? [];
  if (dirs.length) {
    out.push(
      mkdirStage(
        dirs.map((d) => ({
          path: d.path,
          mode: d.mode ? parseMode(d.mode, d.path) : undefined,
          parents: d.ensure_parents || undefined,
          exist_ok: true,
        })),
      ),
    );
  }
  out.push(...fileStages(bp.customizations.files ?? [], sources));
  const svc = systemdStage({
    enabled: bp.customizations.services?.enabled,
    disabled: bp.customizations.services?.disabled,
    masked: bp.customizations.services?.masked,
  });
  if (svc) out.push(svc);
  return out;
}

// ---------------------------------------------------------------------------------------------
// image

/**
 * Devices for a filesystem inside LUKS (and LVM) on `part`: loopback `disk-p<N>` -> luks2
 * `luks-<uuid[:4]>` -> lvm2.lv `<lv name>`. Returns them and the name of the topmost device.
 */
function stackedDevices(pt: LaidOutPartitionTable, part: LaidOutPartition, luks: LuksPayload, lvName: string | undefined): { devices: Record<string, Device>; top: string } {
  const loop = `disk-p${pt.partitions.indexOf(part) + 1}`;
  const luksName = `luks-${(luks.uuid ?? '').slice(0, 4)}`;
  const devices: Record<string, Device> = {
    [loop]: loopbackDevice(DISK_FILE, pt, part),
    [luksName]: { type: 'org.osbuild.luks2', parent: loop, options: { passphrase: luks.passphrase ?? '' } },
  };
  if (!lvName) return { devices, top: luksName };
  devices[lvName] = { type: 'org.osbuild.lvm2.lv', parent: luksName, options: { volume: lvName } };
  return { devices, top: lvName };
}

/**
 * The `image` pipeline: create the disk, its partitions and filesystems, and copy the tree of
 * `treePipeline` into it. Plain tables use the shared layout helpers; a LUKS2 partition (with or
 * without LVM inside) is formatted with luks2.format, lvm2.create and mkfs through stacked
 * devices, bound to clevis and, when asked, stripped of its build passphrase.
 */
export function ostreeImagePipeline(req: GeneratorRequest, pt: LaidOutPartitionTable, treePipeline: string, commit: ResolvedCommit): Pipeline {
  const it = req.imageType;
  const stages: Stage[] = [truncateStage(DISK_FILE, pt.size), sfdiskStage(pt, DISK_FILE)];
  const copyDevices: Record<string, Device> = {};
  const copyMounts: Mount[] = [];
  const luksParts: { part: LaidOutPartition; luks: LuksPayload }[] = [];

  for (const part of pt.partitions) {
    if (part.payload_type === 'luks' || (part.payload && 'cipher' in part.payload) || (part.payload && 'clevis' in part.payload)) {
      const luks = part.payload as LuksPayload;
      luksParts.push({ part, luks });
      stages.push(...luksStages(pt, part, luks));
      continue;
    }
    if (part.payload && (part.payload as FilesystemPayload).type) stages.push(mkfsStage(pt, part, DISK_FILE));
  }

  if (isPlain(pt)) {
    const dm = devicesAndMounts(pt, DISK_FILE);
    Object.assign(copyDevices, dm.devices);
    copyMounts.push(...dm.mounts);
  } else {
    // plain filesystems
    const plainOnly: LaidOutPartitionTable = { ...pt, partitions: pt.partitions.filter((p) => !luksParts.some((l) => l.part === p)) };
    const dm = devicesAndMounts(plainOnly, DISK_FILE);
    Object.assign(copyDevices, dm.devices);
    copyMounts.push(...dm.mounts);
    for (const { part, luks } of luksParts) {
      for (const { fs, lv } of luksFilesystems(luks)) {
        if (!fs.mountpoint) continue;
        const { devices, top } = stackedDevices(pt, part, luks, lv);
        Object.assign(copyDevices, devices);
        copyMounts.push({ name: escapeMountpoint(fs.mountpoint), type: mountTypeFor(fs.type), source: top, target: fs.mountpoint });
      }
    }
    copyMounts.sort((a, b) => (a.target! < b.target! ? -1 : a.target! > b.target! ? 1 : 0));
  }

  stages.push(
    copyStage([{ from: 'input://root-tree/', to: 'mount://-/' }], {
      inputs: { 'root-tree': treeInput(treePipeline) },
      devices: copyDevices,
      mounts: copyMounts,
    }),
  );

  // Platform boot files (e.g. the Raspberry Pi u-boot on aarch64) come from a checkout of the commit.
  const bootFiles = it.platform.boot_files ?? [];
  if (bootFiles.length) {
    stages.push(
      copyStage(
        bootFiles.map(([src, dst]) => ({ from: `input://ostree-tree/${commit.checksum}${src}`, to: `mount://-${dst}` })),
        { inputs: { 'ostree-tree': ostreeCheckoutInput(commit.checksum) }, devices: copyDevices, mounts: copyMounts },
      ),
    );
  }
  if (it.platform.bios_platform) stages.push(grub2InstStage(pt, DISK_FILE, it.platform.bios_platform));

  for (const { part, luks } of luksParts) stages.push(...luksFinishStages(pt, part, luks));
  return { name: IMAGE_PIPELINE, build: BUILD_REF, stages };
}

function luksFilesystems(luks: LuksPayload): { fs: FilesystemPayload; lv?: string }[] {
  if (luks.payload_type === 'lvm' || 'logical_volumes' in luks.payload) {
    return (luks.payload as LvmPayload).logical_volumes.map((lv) => ({ fs: lv.payload, lv: lv.name }));
  }
  return [{ fs: luks.payload as FilesystemPayload }];
}

/** luks2.format, then (LVM) lvm2.create, then mkfs of every filesystem inside. */
function luksStages(pt: LaidOutPartitionTable, part: LaidOutPartition, luks: LuksPayload): Stage[] {
  if (!luks.uuid) throw new KilnError('LUKS partition has no UUID (lay out the table first)');
  const out: Stage[] = [];
  const fmt = luks2FormatStage({
    passphrase: luks.passphrase ?? '',
    uuid: luks.uuid,
    label: luks.label,
    cipher: luks.cipher,
    pbkdf: { method: 'argon2i', memory: luks.pbkdf?.memory, iterations: luks.pbkdf?.iterations ?? 4, parallelism: luks.pbkdf?.parallelism },
  });
  fmt.devices = { device: loopbackDevice(DISK_FILE, pt, part, true) };
  out.push(fmt);
  const fss = luksFilesystems(luks);
  if (fss.some((f) => f.lv)) {
    const vg = luks.payload as LvmPayload;
    // The LUKS2 header (16 MiB) comes out of the partition, so the LV holding / takes whatever is
    // left (created last) instead of a fixed size that might no longer fit; other LVs keep theirs.
    const isRoot = (lv: LvmPayload['logical_volumes'][number]) => lv.payload.mountpoint === '/';
    const volumes: ({ name: string; size: string } | { name: string; extents: string })[] = vg.logical_volumes
      .filter((lv) => !isRoot(lv))
      .map((lv) => ({ name: lv.name, size: `${Math.floor(lv.size / 512)}s` }));
    for (const lv of vg.logical_volumes.filter(isRoot)) volumes.push({ name: lv.name, extents: '100%FREE' });
    const create = lvm2CreateStage(volumes);
    create.devices = { luks: loopbackDevice(DISK_FILE, pt, part), device: { type: 'org.osbuild.luks2', parent: 'luks', options: { passphrase: luks.passphrase ?? '' } } };
    out.push(create);
  }
  for (const { fs, lv } of fss) {
    const devices: Record<string, Device> = { luks: loopbackDevice(DISK_FILE, pt, part) };
    if (lv) {
      devices['lvm'] = { type: 'org.osbuild.luks2', parent: 'luks', options: { passphrase: luks.passphrase ?? '' } };
      devices['device'] = { type: 'org.osbuild.lvm2.lv', parent: 'lvm', options: { volume: lv } };
    } else {
      devices['device'] = { type: 'org.osbuild.luks2', parent: 'luks', options: { passphrase: luks.passphrase ?? '' } };
    }
    const s = mkfsStage(pt, { ...part, payload_type: 'filesystem', payload: fs }, DISK_FILE);
    s.devices = devices;
    out.push(s);
  }
  return out;
}

/** After the copy: clevis binding, removal of the build passphrase, and LVM metadata (VG name). */
function luksFinishStages(pt: LaidOutPartitionTable, part: LaidOutPartition, luks: LuksPayload): Stage[] {
  const out: Stage[] = [];
  const dev = () => ({ device: loopbackDevice(DISK_FILE, pt, part) });
  if (luks.clevis) {
    const bind = clevisLuksBindStage({ passphrase: luks.passphrase ?? '', pin: luks.clevis.pin, policy: luks.clevis.policy });
    bind.devices = dev();
    out.push(bind);
    if (luks.clevis.remove_passphrase) {
      const rm = luks2RemoveKeyStage(luks.passphrase ?? '');
      rm.devices = dev();
      out.push(rm);
    }
  }
  if (luks.payload_type === 'lvm' || 'logical_volumes' in luks.payload) {
    const vg = luks.payload as LvmPayload;
    // lvm2.metadata renames the VG (created under a throwaway name) and stamps its description.
    const meta = lvm2MetadataStage(vg.name, 'osbuild', vg.description ?? 'Built with osbuild');
    // With the passphrase removed the LUKS device is opened by clevis' null pin; osbuild's luks2
    // device only knows passphrases, so write the metadata before the key is removed.
    meta.devices = {
      luks: loopbackDevice(DISK_FILE, pt, part),
      device: { type: 'org.osbuild.luks2', parent: 'luks', options: { passphrase: luks.passphrase ?? '' } },
    };
    out.unshift(meta);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// the generator

/** The pipelines after `image` that turn the disk into the exported artifact. */
export function finishPipelines(it: ResolvedImageType): Pipeline[] {
  switch (diskFormat(it)) {
    case 'xz':
      return [{ name: 'xz', build: BUILD_REF, stages: [xzStage(it.filename, IMAGE_PIPELINE, DISK_FILE)] }];
    case 'zstd':
      return [{ name: 'zstd', build: BUILD_REF, stages: [zstdStage(it.filename, IMAGE_PIPELINE, DISK_FILE)] }];
    case 'qcow2':
      return [{ name: 'qcow2', build: BUILD_REF, stages: [qemuStage(it.filename, 'qcow2', IMAGE_PIPELINE, DISK_FILE, it.platform.qcow2_compat || undefined)] }];
    default:
      return [];
  }
}

export const ostreeDiskGenerator: ImageGenerator = {
  packageSets(req: GeneratorRequest): PackageSetChains {
    const it = req.imageType;
    const fmt = diskFormat(req.imageType);
    const kinds = ['ostree-deployment', 'image', ...(fmt === 'raw' ? [] : [fmt])];
    return { build: [buildPackageSet(it, kinds, ostreeDiskBuildPackages(it, req.blueprint))] };
  },

  ostreeSource(req: GeneratorRequest) {
    return deploymentSource(req);
  },

  serialize(req: GeneratorRequest, input: SerializeInput): Manifest {
    const it = req.imageType;
    const commit = requireCommit(req, input);
    const sources = new SourceCollector(req.useLibrepo);
    const rng = new Rng(req.seed);
    const build = buildPipeline(it, input.depsolved['build'], sources);
    const pt = layoutFor(req, rng);
    const pipelines: Pipeline[] = [
      build,
      ostreeDeploymentPipeline({ req, pt, commit, sources, rng }),
      ostreeImagePipeline(req, pt, DEPLOYMENT_PIPELINE, commit),
      ...finishPipelines(it),
    ];
    return { version: '2', pipelines, sources: sources.toJSON() };
  },
};
