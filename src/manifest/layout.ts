// Partition layout (reference §5.6): turn a definition's partition table (sizes only) into a
// laid-out table (every start and size in bytes, UUIDs filled from the seeded RNG), plus the
// helpers stages need: fstab entries, mount units, loopback devices and mounts, device names.
//
// Arithmetic: sector 512 B, grain 1 MiB; GPT reserves 512 + 128*128 B at the start and the same
// at the end; DOS reserves 512 B at the start only. First start = alignUp(header + start_offset).
// Non-root partitions keep their order; the partition holding `/` goes last and grows to fill
// max(alignUp(end + footer), alignUp(image size)).
import type {
  BtrfsPayload,
  FilesystemPayload,
  LogicalVolume,
  LuksPayload,
  LvmPayload,
  Partition,
  PartitionTable,
} from '../defs/types.js';
import { KilnError } from '../util/errors.js';
import { dosDiskId, uuid4, vfatVolumeId, type Rng } from './rng.js';
import type { Device, Mount } from './types.js';

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;
export const DEFAULT_SECTOR_SIZE = 512;
export const GRAIN = MiB;
/** GPT: protective MBR sector + header sector... as upstream counts it: 512 + 128 entries * 128 B. */
export const GPT_HEADER_SIZE = 512 + 128 * 128;
export const GPT_FOOTER_SIZE = GPT_HEADER_SIZE;
export const DOS_HEADER_SIZE = 512;

export const GUID = {
  BIOS_BOOT: '21686148-6449-6E6F-744E-656564454649',
  ESP: 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B',
  LINUX_DATA: '0FC63DAF-8483-4772-8E79-3D69D8477DE4',
  XBOOTLDR: 'BC13C2FF-59E6-4262-A352-B275FD6F7172',
  LVM: 'E6D6D379-F507-44C2-A23C-238F2A3DF928',
} as const;

/** A partition after layout: start and size are set (bytes). */
export interface LaidOutPartition extends Partition {
  start: number;
  size: number;
}

/** A partition table after layout. `size` is the whole disk image in bytes. */
export interface LaidOutPartitionTable extends PartitionTable {
  uuid: string;
  sector_size: number;
  start_offset: number;
  size: number;
  partitions: LaidOutPartition[];
}

export interface LayoutRequest {
  /** the image size asked for (image type default_size, or larger); bytes */
  size: number;
  /** directory -> minimum bytes, summed per owning mountpoint (image type required_partition_sizes) */
  requiredSizes?: Record<string, number>;
  /** blueprint customizations.filesystem */
  filesystems?: { mountpoint: string; minsize: number }[];
  /** filesystem type for partitions added for new blueprint mountpoints (distro default_fs_type) */
  defaultFsType?: string;
  /** drives every generated UUID */
  rng: Rng;
  /** names the input in errors, e.g. `image type "minimal-raw-xz"` */
  context?: string;
}

export const alignUp = (n: number, grain: number = GRAIN): number => Math.ceil(n / grain) * grain;

// ---------------------------------------------------------------------------------------------
// payload inspection

function payloadKind(part: { payload_type?: string; payload?: unknown }): 'filesystem' | 'lvm' | 'btrfs' | 'luks' | 'raw' | 'none' {
  if (!part.payload) return 'none';
  const t = part.payload_type;
  if (t === 'lvm' || (part.payload as LvmPayload).logical_volumes) return 'lvm';
  if (t === 'btrfs' || (part.payload as BtrfsPayload).subvolumes) return 'btrfs';
  if (t === 'luks') return 'luks';
  if (t === 'raw') return 'raw';
  return 'filesystem';
}

/** Every mountpoint reachable inside a partition (filesystems, LVs, btrfs subvolumes, LUKS). */
function partitionMountpoints(part: { payload_type?: string; payload?: unknown }): string[] {
  switch (payloadKind(part)) {
    case 'filesystem':
      return (part.payload as FilesystemPayload).mountpoint ? [(part.payload as FilesystemPayload).mountpoint!] : [];
    case 'lvm':
      return (part.payload as LvmPayload).logical_volumes.flatMap((lv) => partitionMountpoints(lv));
    case 'btrfs':
      return (part.payload as BtrfsPayload).subvolumes.map((s) => s.mountpoint).filter(Boolean);
    case 'luks':
      return partitionMountpoints(part.payload as LuksPayload);
    default:
      return [];
  }
}

/** Is `dir` at or below `mountpoint` (path-wise, not string-prefix-wise)? */
export function isUnder(dir: string, mountpoint: string): boolean {
  if (mountpoint === '/') return dir.startsWith('/');
  return dir === mountpoint || dir.startsWith(mountpoint + '/');
}

function cleanPath(p: string): string {
  const c = ('/' + p).replace(/\/+/g, '/').replace(/(.)\/$/, '$1');
  return c;
}

/** Mountpoints a blueprint may not create or resize (system directories, ESP). */
const DENIED_MOUNTPOINTS = ['/bin', '/boot/efi', '/dev', '/etc', '/lib', '/lib64', '/lost+found', '/proc', '/run', '/sbin', '/sys', '/sysroot', '/usr/bin', '/usr/lib', '/usr/lib64', '/usr/sbin'];

// ---------------------------------------------------------------------------------------------
// layout

/**
 * Lay out `base` for an image of at least `req.size` bytes. Returns a new table (the input is not
 * modified) with every start/size in bytes, partitions reordered so the root partition is last,
 * and every missing UUID generated from `req.rng` (PT, then per partition: partition UUID (GPT),
 * then its filesystem UUID).
 */
export function layoutPartitionTable(base: PartitionTable, req: LayoutRequest): LaidOutPartitionTable {
  const ctx = req.context ? `${req.context}: ` : '';
  const pt = structuredClone(base) as PartitionTable;
  const sector = pt.sector_size ?? DEFAULT_SECTOR_SIZE;
  if (pt.type !== 'gpt' && pt.type !== 'dos') throw new KilnError(`${ctx}partition_table.type "${String(pt.type)}" must be gpt or dos`);
  if (!Array.isArray(pt.partitions) || pt.partitions.length === 0) throw new KilnError(`${ctx}partition_table has no partitions`);
  pt.partitions.forEach((p, i) => {
    if (!Number.isFinite(p.size) || p.size < 0) throw new KilnError(`${ctx}partition_table.partitions[${i}].size must be a byte count, got ${JSON.stringify(p.size)}`);
  });

  applyBlueprintFilesystems(pt, req, ctx);
  applyRequiredSizes(pt, req.requiredSizes ?? {});
  fitContainers(pt);

  // order: non-root partitions as given, then the root partition
  const rootIdx = pt.partitions.findIndex((p) => partitionMountpoints(p).includes('/'));
  const order = pt.partitions.filter((_, i) => i !== rootIdx);
  const growing = rootIdx >= 0 ? pt.partitions[rootIdx]! : order.pop()!;
  order.push(growing);

  const header = pt.type === 'gpt' ? GPT_HEADER_SIZE : DOS_HEADER_SIZE;
  const footer = pt.type === 'gpt' ? GPT_FOOTER_SIZE : 0;
  const startOffset = pt.start_offset ?? 0;
  let cur = alignUp(header + startOffset);
  const laid: LaidOutPartition[] = [];
  for (const p of order) {
    const size = alignUp(p.size);
    laid.push({ ...p, start: cur, size });
    cur += size;
  }
  const last = laid[laid.length - 1]!;
  const total = Math.max(alignUp(last.start + last.size + footer + (pt.extra_padding ?? 0)), alignUp(req.size));
  last.size = total - last.start - footer;
  if (pt.type === 'dos' && laid.length > 4) throw new KilnError(`${ctx}a dos partition table holds at most 4 partitions, this one has ${laid.length}`);

  const out: LaidOutPartitionTable = {
    ...pt,
    uuid: pt.uuid ?? '',
    sector_size: sector,
    start_offset: startOffset,
    size: total,
    partitions: laid,
  };
  fillUuids(out, req.rng);
  return out;
}

function applyBlueprintFilesystems(pt: PartitionTable, req: LayoutRequest, ctx: string): void {
  for (const [i, fsc] of (req.filesystems ?? []).entries()) {
    const where = `${ctx}blueprint customizations.filesystem[${i}]`;
    if (typeof fsc.mountpoint !== 'string' || !fsc.mountpoint.startsWith('/')) throw new KilnError(`${where}: mountpoint ${JSON.stringify(fsc.mountpoint)} must be an absolute path`);
    const mp = cleanPath(fsc.mountpoint);
    if (mp.split('/').includes('..') || mp.split('/').includes('.')) throw new KilnError(`${where}: mountpoint "${fsc.mountpoint}" must be a clean path`);
    if (DENIED_MOUNTPOINTS.some((d) => isUnder(mp, d))) throw new KilnError(`${where}: mountpoint "${mp}" is not allowed`);
    if (!Number.isFinite(fsc.minsize) || fsc.minsize < 0) throw new KilnError(`${where}: minsize must be a byte count, got ${JSON.stringify(fsc.minsize)}`);
    if (growEntity(pt, mp, fsc.minsize)) continue;
    // a new mountpoint: only plain tables (every partition a filesystem or raw) can take a new partition
    const plain = pt.partitions.every((p) => ['filesystem', 'raw', 'none'].includes(payloadKind(p)));
    if (!plain) throw new KilnError(`${where}: adding the new mountpoint "${mp}" to a partition table with LVM, btrfs or LUKS is not supported; use an existing mountpoint (${allMountpoints(pt).join(', ')})`);
    pt.partitions.push({
      size: fsc.minsize,
      type: pt.type === 'gpt' ? GUID.LINUX_DATA : '83',
      payload_type: 'filesystem',
      payload: { type: req.defaultFsType ?? 'ext4', mountpoint: mp, fstab_options: 'defaults', fstab_freq: 0, fstab_passno: 0 },
    });
  }
}

function allMountpoints(pt: PartitionTable): string[] {
  return pt.partitions.flatMap((p) => partitionMountpoints(p));
}

/** Grow the entity that has exactly `mp` as mountpoint to at least `size`; false if none has it. */
function growEntity(pt: PartitionTable, mp: string, size: number): boolean {
  for (const part of pt.partitions) {
    const kind = payloadKind(part);
    if (kind === 'filesystem' || kind === 'btrfs' || kind === 'luks') {
      if (!partitionMountpoints(part).includes(mp)) continue;
      if (kind === 'luks' && payloadKind(part.payload as LuksPayload) === 'lvm') {
        return growLv(part, (part.payload as LuksPayload).payload as LvmPayload, mp, size, LUKS2_HEADER_SIZE);
      }
      part.size = Math.max(part.size, size);
      return true;
    }
    if (kind === 'lvm') {
      if (growLv(part, part.payload as LvmPayload, mp, size)) return true;
    }
  }
  return false;
}

/** LVM: grow the LV, then make the physical partition big enough for the whole VG. */
function growLv(part: Partition, vg: LvmPayload, mp: string, size: number, overhead = 0): boolean {
  const lv = vg.logical_volumes.find((l: LogicalVolume) => partitionMountpoints(l).includes(mp));
  if (!lv) return false;
  lv.size = Math.max(lv.size, size);
  part.size = Math.max(part.size, vgSize(vg) + overhead);
  return true;
}

/** LUKS2 header space (cryptsetup's default for LUKS2). */
export const LUKS2_HEADER_SIZE = 16 * MiB;
/** LVM extent size; LVs are allocated in whole extents. */
export const LVM_EXTENT_SIZE = 4 * MiB;
/** Room for the LVM label and metadata area at the start of a physical volume. */
export const LVM_METADATA_SIZE = MiB;

/** Bytes a volume group needs on its physical volume: every LV in whole extents + metadata. */
function vgSize(vg: LvmPayload): number {
  return vg.logical_volumes.reduce((a, l) => a + alignUp(l.size, LVM_EXTENT_SIZE), 0) + LVM_METADATA_SIZE;
}

/** Make every LVM/LUKS partition large enough for what it contains (headers included). */
function fitContainers(pt: PartitionTable): void {
  for (const part of pt.partitions) {
    const kind = payloadKind(part);
    if (kind === 'lvm') part.size = Math.max(part.size, vgSize(part.payload as LvmPayload));
    if (kind === 'luks') {
      const inner = part.payload as LuksPayload;
      const innerKind = payloadKind(inner);
      const innerSize = innerKind === 'lvm' ? vgSize(inner.payload as LvmPayload) : 0;
      part.size = Math.max(part.size, innerSize + LUKS2_HEADER_SIZE);
    }
  }
}

function applyRequiredSizes(pt: PartitionTable, required: Record<string, number>): void {
  const mps = allMountpoints(pt);
  const sums = new Map<string, number>();
  for (const [dir, size] of Object.entries(required)) {
    if (!size) continue;
    // the owner is the longest mountpoint that contains dir
    const owner = mps.filter((m) => isUnder(dir, m)).sort((a, b) => b.length - a.length)[0];
    if (!owner) continue;
    sums.set(owner, (sums.get(owner) ?? 0) + size);
  }
  for (const [mp, size] of sums) growEntity(pt, mp, size);
}

function fillUuids(pt: LaidOutPartitionTable, rng: Rng): void {
  if (!pt.uuid) pt.uuid = pt.type === 'dos' ? dosDiskId(uuid4(rng)) : uuid4(rng);
  for (const part of pt.partitions) {
    if (pt.type === 'gpt' && !part.uuid) part.uuid = uuid4(rng);
    fillPayloadUuids(part, rng);
  }
}

function fillPayloadUuids(part: { payload_type?: string; payload?: unknown }, rng: Rng): void {
  switch (payloadKind(part)) {
    case 'filesystem': {
      const fs = part.payload as FilesystemPayload;
      if (!fs.uuid) fs.uuid = fs.type === 'vfat' ? vfatVolumeId(uuid4(rng)) : uuid4(rng);
      break;
    }
    case 'btrfs': {
      const b = part.payload as BtrfsPayload;
      if (!b.uuid) b.uuid = uuid4(rng);
      break;
    }
    case 'lvm':
      for (const lv of (part.payload as LvmPayload).logical_volumes) fillPayloadUuids(lv, rng);
      break;
    case 'luks': {
      const l = part.payload as LuksPayload;
      if (!l.uuid) l.uuid = uuid4(rng);
      fillPayloadUuids(l, rng);
      break;
    }
    default:
      break;
  }
}

// ---------------------------------------------------------------------------------------------
// queries

/** A filesystem directly on a partition (the "plain" case every disk helper below supports). */
export interface PlainFilesystem {
  fs: FilesystemPayload;
  partition: LaidOutPartition;
  /** 0-based index in the laid-out table (sfdisk order) */
  index: number;
}

/** Filesystems sitting directly on partitions, in partition order. */
export function plainFilesystems(pt: LaidOutPartitionTable): PlainFilesystem[] {
  const out: PlainFilesystem[] = [];
  pt.partitions.forEach((partition, index) => {
    if (payloadKind(partition) === 'filesystem') out.push({ fs: partition.payload as FilesystemPayload, partition, index });
  });
  return out;
}

/** Every filesystem payload (plain, in LVs, in LUKS), in partition order. */
export function allFilesystems(pt: PartitionTable): FilesystemPayload[] {
  const walk = (p: { payload_type?: string; payload?: unknown }): FilesystemPayload[] => {
    switch (payloadKind(p)) {
      case 'filesystem':
        return [p.payload as FilesystemPayload];
      case 'lvm':
        return (p.payload as LvmPayload).logical_volumes.flatMap(walk);
      case 'luks':
        return walk(p.payload as LuksPayload);
      default:
        return [];
    }
  };
  return pt.partitions.flatMap(walk);
}

/** The filesystem mounted exactly at `mountpoint`, if any. */
export function fsForMountpoint(pt: PartitionTable, mountpoint: string): FilesystemPayload | undefined {
  return allFilesystems(pt).find((f) => f.mountpoint === mountpoint);
}

/** The root filesystem; throws when the table has none (or root is on btrfs, see btrfsRoot). */
export function rootFs(pt: PartitionTable): FilesystemPayload {
  const fs = fsForMountpoint(pt, '/');
  if (!fs) throw new KilnError(`partition table has no filesystem mounted at "/"`);
  return fs;
}

/** Does the table hold LVM, btrfs or LUKS (which the plain disk helpers do not handle)? */
export function isPlain(pt: PartitionTable): boolean {
  return pt.partitions.every((p) => ['filesystem', 'raw', 'none'].includes(payloadKind(p)));
}

/** Packages needed to create and use this table's filesystems (reference §4). */
export function partitionTablePackages(pt: PartitionTable): string[] {
  const pk = new Set<string>();
  const walk = (p: { payload_type?: string; payload?: unknown }): void => {
    switch (payloadKind(p)) {
      case 'filesystem': {
        const t = (p.payload as FilesystemPayload).type;
        if (t === 'vfat') pk.add('dosfstools');
        else if (t === 'ext4') pk.add('e2fsprogs');
        else if (t === 'xfs') pk.add('xfsprogs');
        else if (t === 'btrfs') pk.add('btrfs-progs');
        break;
      }
      case 'lvm':
        pk.add('lvm2');
        (p.payload as LvmPayload).logical_volumes.forEach(walk);
        break;
      case 'btrfs':
        pk.add('btrfs-progs');
        break;
      case 'luks':
        ['clevis', 'clevis-luks', 'cryptsetup'].forEach((x) => pk.add(x));
        walk(p.payload as LuksPayload);
        break;
      default:
        break;
    }
  };
  pt.partitions.forEach(walk);
  return [...pk].sort();
}

// ---------------------------------------------------------------------------------------------
// naming

/** `systemd-escape --path`: `/` -> `-`, `/boot/efi` -> `boot-efi`, `-` -> `\x2d`. */
export function escapeMountpoint(mountpoint: string): string {
  const trimmed = mountpoint.replace(/\/+/g, '/').replace(/^\/|\/$/g, '');
  if (trimmed === '') return '-';
  let out = '';
  const bytes = Buffer.from(trimmed, 'utf8');
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    const ch = String.fromCharCode(b);
    if (ch === '/') out += '-';
    else if (/[A-Za-z0-9:_]/.test(ch) || (ch === '.' && i > 0)) out += ch;
    else out += '\\x' + b.toString(16).padStart(2, '0');
  }
  return out;
}

/** Unit file name of the mount unit for a mountpoint: `boot-efi.mount`, `-.mount`. */
export function mountUnitName(mountpoint: string): string {
  return escapeMountpoint(mountpoint) + '.mount';
}

const MOUNT_TYPES: Record<string, string> = {
  ext4: 'org.osbuild.ext4',
  vfat: 'org.osbuild.fat',
  xfs: 'org.osbuild.xfs',
  btrfs: 'org.osbuild.btrfs',
};

/** The osbuild mount type for a filesystem type; throws for types osbuild cannot mount. */
export function mountTypeFor(fsType: string): string {
  const t = MOUNT_TYPES[fsType];
  if (!t) throw new KilnError(`no osbuild mount type for filesystem type "${fsType}"`);
  return t;
}

/** An org.osbuild.loopback device over one partition of `filename` (start/size in sectors). */
export function loopbackDevice(filename: string, pt: LaidOutPartitionTable, part: LaidOutPartition, lock = false): Device {
  const s = pt.sector_size;
  const options: Record<string, unknown> = { filename, start: part.start / s, size: Math.floor(part.size / s) };
  if (s !== DEFAULT_SECTOR_SIZE) options['sector-size'] = s;
  if (lock) options['lock'] = true;
  return { type: 'org.osbuild.loopback', options };
}

/** An org.osbuild.loopback device over the whole image (for sfdisk, bootloader installers). */
export function wholeDiskDevice(filename: string, pt: LaidOutPartitionTable, lock = true): Device {
  const options: Record<string, unknown> = { filename };
  if (pt.sector_size !== DEFAULT_SECTOR_SIZE) options['sector-size'] = pt.sector_size;
  if (lock) options['lock'] = true;
  return { type: 'org.osbuild.loopback', options };
}

/**
 * Devices and mounts that mount every filesystem of the image at its mountpoint, for stages that
 * write into the image (copy, bootloader). Device/mount names are escaped mountpoints; mounts are
 * sorted by target so parents come first. Plain tables only (LVM/LUKS/btrfs: KilnError).
 */
export function devicesAndMounts(pt: LaidOutPartitionTable, filename: string): { devices: Record<string, Device>; mounts: Mount[] } {
  if (!isPlain(pt)) throw new KilnError('mounting partition tables with LVM, btrfs or LUKS is not supported yet (plain filesystems only)');
  const devices: Record<string, Device> = {};
  const mounts: Mount[] = [];
  for (const { fs, partition } of plainFilesystems(pt)) {
    if (!fs.mountpoint || fs.type === 'swap') continue;
    const name = escapeMountpoint(fs.mountpoint);
    devices[name] = loopbackDevice(filename, pt, partition);
    mounts.push({ name, type: mountTypeFor(fs.type), source: name, target: fs.mountpoint });
  }
  mounts.sort((a, b) => (a.target! < b.target! ? -1 : a.target! > b.target! ? 1 : 0));
  // devices in the same order as the mounts, so the JSON reads alike
  const ordered: Record<string, Device> = {};
  for (const m of mounts) ordered[m.name] = devices[m.name]!;
  return { devices: ordered, mounts };
}

// ---------------------------------------------------------------------------------------------
// fstab and mount units

export interface FstabEntry {
  uuid: string;
  vfs_type: string;
  path: string;
  options: string;
  freq?: number;
  passno?: number;
}

/** org.osbuild.fstab entries: every mounted filesystem (and swap), sorted by passno then path. */
export function fstabEntries(pt: PartitionTable): FstabEntry[] {
  const out: FstabEntry[] = [];
  for (const fs of allFilesystems(pt)) {
    if (fs.type !== 'swap' && !fs.mountpoint) continue;
    if (!fs.uuid) throw new KilnError(`filesystem ${fs.mountpoint ?? fs.type} has no UUID (lay out the table first)`);
    const e: FstabEntry = { uuid: fs.uuid, vfs_type: fs.type, path: fs.type === 'swap' ? 'none' : fs.mountpoint!, options: fs.fstab_options || 'defaults' };
    // zero values are left out, as upstream's omitempty does
    if (fs.fstab_freq) e.freq = fs.fstab_freq;
    if (fs.fstab_passno) e.passno = fs.fstab_passno;
    out.push(e);
  }
  out.sort((a, b) => (a.passno ?? 0) - (b.passno ?? 0) || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return out;
}

/** One org.osbuild.systemd.unit.create stage's options, for a mount (or swap) unit. */
export interface MountUnit {
  filename: string;
  'unit-path': 'etc';
  config: Record<string, unknown>;
}

/**
 * Mount units replacing fstab (F43+ `mount_configuration: units`), one per non-root filesystem
 * and swap, installed in /etc and wanted by local-fs.target / swap.target. The root filesystem is
 * mounted by the initrd from the kernel command line (root=UUID=..., rootflags=...), so it gets
 * no unit. (Inferred from the reference §5.2; upstream's exact unit text is not recorded.)
 */
export function mountUnits(pt: PartitionTable): MountUnit[] {
  const units: MountUnit[] = [];
  for (const fs of allFilesystems(pt)) {
    if (!fs.uuid) throw new KilnError(`filesystem ${fs.mountpoint ?? fs.type} has no UUID (lay out the table first)`);
    const what = `/dev/disk/by-uuid/${fs.uuid}`;
    if (fs.type === 'swap') {
      units.push({
        filename: escapeMountpoint(what) + '.swap',
        'unit-path': 'etc',
        config: { Swap: { What: what }, Install: { WantedBy: ['swap.target'] } },
      });
      continue;
    }
    if (!fs.mountpoint || fs.mountpoint === '/') continue;
    units.push({
      filename: mountUnitName(fs.mountpoint),
      'unit-path': 'etc',
      config: {
        Mount: { What: what, Where: fs.mountpoint, Type: fs.type, Options: fs.fstab_options || 'defaults' },
        Install: { WantedBy: ['local-fs.target'] },
      },
    });
  }
  units.sort((a, b) => (a.filename < b.filename ? -1 : a.filename > b.filename ? 1 : 0));
  return units;
}
