// Partition layout arithmetic (reference §5.6), UUID generation, naming, fstab and mount helpers.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import type { PartitionTable } from '../src/defs/types.js';
import {
  GUID,
  MiB,
  GiB,
  devicesAndMounts,
  escapeMountpoint,
  fsForMountpoint,
  fstabEntries,
  layoutPartitionTable,
  mountUnits,
  partitionTablePackages,
  rootFs,
} from '../src/manifest/layout.js';
import { Rng } from '../src/manifest/rng.js';

const ESP_OPTS = 'defaults,uid=0,gid=0,umask=077,shortname=winnt';

/** minimal-raw x86_64 (reference §3.1) */
function minimalX86(): PartitionTable {
  return {
    type: 'gpt',
    partitions: [
      { size: 200 * MiB, type: GUID.ESP, payload_type: 'filesystem', payload: { type: 'vfat', mountpoint: '/boot/efi', label: 'ESP', fstab_options: ESP_OPTS, fstab_freq: 0, fstab_passno: 2 } },
      { size: 2 * GiB, type: GUID.XBOOTLDR, payload_type: 'filesystem', payload: { type: 'ext4', mountpoint: '/boot', label: 'boot', fstab_options: 'defaults' } },
      { size: 2 * GiB, type: GUID.LINUX_DATA, payload_type: 'filesystem', payload: { type: 'ext4', mountpoint: '/', label: 'root', fstab_options: 'defaults' } },
    ],
  };
}

/** minimal-raw aarch64: dos, 16 MiB start offset */
function minimalAarch64(): PartitionTable {
  return {
    type: 'dos',
    start_offset: 16 * MiB,
    partitions: [
      { size: 200 * MiB, type: '06', bootable: true, payload_type: 'filesystem', payload: { type: 'vfat', mountpoint: '/boot/efi', label: 'ESP', fstab_options: ESP_OPTS, fstab_passno: 2 } },
      { size: 2 * GiB, type: '83', payload_type: 'filesystem', payload: { type: 'ext4', mountpoint: '/boot', label: 'boot', fstab_options: 'defaults' } },
      { size: 2 * GiB, type: '83', payload_type: 'filesystem', payload: { type: 'ext4', mountpoint: '/', label: 'root', fstab_options: 'defaults' } },
    ],
  };
}

const REQUIRED = { '/': 1 * GiB, '/usr': 2 * GiB };
const GPT_FOOTER = 512 + 128 * 128;

describe('layoutPartitionTable: reference examples', () => {
  it('minimal-raw x86_64: ESP 1-201 MiB, /boot 201-2249 MiB, root 2249-5322 MiB', () => {
    const pt = layoutPartitionTable(minimalX86(), { size: 2 * GiB, requiredSizes: REQUIRED, rng: new Rng(0n) });
    const [esp, boot, root] = pt.partitions;
    assert.equal(esp!.start, 1 * MiB);
    assert.equal(esp!.size, 200 * MiB);
    assert.equal(boot!.start, 201 * MiB);
    assert.equal(boot!.size, 2048 * MiB);
    assert.equal(root!.start, 2249 * MiB);
    // root grows to the disk end minus the GPT backup header
    assert.equal(root!.start + root!.size, 5322 * MiB - GPT_FOOTER);
    assert.equal(pt.size, 5_580_521_472);
  });

  it('minimal-raw aarch64 (dos, 16 MiB offset): 17/217/2265/5337 MiB, no footer', () => {
    const pt = layoutPartitionTable(minimalAarch64(), { size: 2 * GiB, requiredSizes: REQUIRED, rng: new Rng(0n) });
    assert.deepEqual(pt.partitions.map((p) => p.start / MiB), [17, 217, 2265]);
    assert.equal(pt.partitions[2]!.start + pt.partitions[2]!.size, 5337 * MiB);
    assert.equal(pt.size, 5337 * MiB);
  });

  it('iot-raw-xz x86_64: 8 MiB offset, required {"/":0}, root grows to fill 6 GiB', () => {
    const base: PartitionTable = {
      type: 'gpt',
      uuid: 'D209C89E-EA5E-4FBD-B161-B461CCE297E0',
      start_offset: 8 * MiB,
      partitions: [
        { size: 501 * MiB, type: GUID.ESP, payload: { type: 'vfat', mountpoint: '/boot/efi', label: 'ESP', fstab_options: 'umask=0077,shortname=winnt', fstab_passno: 2 } },
        { size: 2 * GiB, type: GUID.LINUX_DATA, payload: { type: 'ext4', mountpoint: '/boot', label: 'boot', fstab_options: 'defaults', fstab_freq: 1, fstab_passno: 2 } },
        { size: 2569 * MiB, type: GUID.LINUX_DATA, payload: { type: 'ext4', mountpoint: '/', label: 'root', fstab_options: 'defaults,ro', fstab_freq: 1, fstab_passno: 1 } },
      ],
    };
    const pt = layoutPartitionTable(base, { size: 6 * GiB, requiredSizes: { '/': 0 }, rng: new Rng(1n) });
    assert.deepEqual(pt.partitions.map((p) => p.start / MiB), [9, 510, 2558]);
    assert.equal(pt.size, 6 * GiB);
    assert.equal(pt.partitions[2]!.size, 6 * GiB - 2558 * MiB - GPT_FOOTER);
    assert.equal(pt.uuid, 'D209C89E-EA5E-4FBD-B161-B461CCE297E0', 'a fixed PT uuid is kept');
  });

  it('generic x86_64 with a 1 MiB BIOS boot partition first', () => {
    const base = minimalX86();
    base.partitions.unshift({ size: 1 * MiB, type: GUID.BIOS_BOOT, bootable: true });
    const pt = layoutPartitionTable(base, { size: 2 * GiB, requiredSizes: REQUIRED, rng: new Rng(0n) });
    assert.deepEqual(pt.partitions.map((p) => p.start / MiB), [1, 2, 202, 2250]);
    assert.equal(pt.size, 5323 * MiB);
  });

  it('the image size wins when larger than the partitions', () => {
    const pt = layoutPartitionTable(minimalX86(), { size: 10 * GiB, requiredSizes: REQUIRED, rng: new Rng(0n) });
    assert.equal(pt.size, 10 * GiB);
    assert.equal(pt.partitions[2]!.size, 10 * GiB - 2249 * MiB - GPT_FOOTER);
  });

  it('unaligned sizes are rounded up to the 1 MiB grain', () => {
    const base = minimalX86();
    base.partitions[0]!.size = 200 * MiB + 1;
    const pt = layoutPartitionTable(base, { size: 2 * GiB, rng: new Rng(0n) });
    assert.equal(pt.partitions[0]!.size, 201 * MiB);
    assert.equal(pt.partitions[1]!.start, 202 * MiB);
  });

  it('the root partition goes last even when listed first', () => {
    const base = minimalX86();
    base.partitions.unshift(base.partitions.pop()!);
    const pt = layoutPartitionTable(base, { size: 2 * GiB, rng: new Rng(0n) });
    assert.deepEqual(pt.partitions.map((p) => (p.payload as { mountpoint: string }).mountpoint), ['/boot/efi', '/boot', '/']);
  });

  it('does not modify its input', () => {
    const base = minimalX86();
    const copy = structuredClone(base);
    layoutPartitionTable(base, { size: 2 * GiB, requiredSizes: REQUIRED, rng: new Rng(0n) });
    assert.deepEqual(base, copy);
  });
});

describe('required sizes and blueprint filesystems', () => {
  it('sums required sizes per owning mountpoint (/usr on root) but not across mountpoints', () => {
    const pt = layoutPartitionTable(minimalX86(), { size: 0, requiredSizes: { '/': 1 * GiB, '/usr': 2 * GiB, '/boot/grub2': 3 * GiB }, rng: new Rng(0n) });
    assert.equal(pt.partitions[1]!.size, 3 * GiB, '/boot owns /boot/grub2');
    assert.ok(pt.partitions[2]!.size >= 3 * GiB - GPT_FOOTER);
    assert.equal(pt.partitions[2]!.start, 201 * MiB + 3 * GiB);
  });

  it('grows an existing mountpoint to the blueprint minsize', () => {
    const pt = layoutPartitionTable(minimalX86(), {
      size: 2 * GiB,
      filesystems: [{ mountpoint: '/', minsize: 20 * GiB }, { mountpoint: '/boot', minsize: 3 * GiB }],
      rng: new Rng(0n),
    });
    assert.equal(pt.partitions[1]!.size, 3 * GiB);
    // 20 GiB + the backup GPT header does not fit the 1 MiB grain: the disk gets one more MiB
    // and root, being last, takes it
    assert.equal(pt.partitions[2]!.size, 20 * GiB + MiB - GPT_FOOTER);
  });

  it('adds a new mountpoint as a partition before root, with the default filesystem type', () => {
    const pt = layoutPartitionTable(minimalX86(), { size: 2 * GiB, filesystems: [{ mountpoint: '/var/', minsize: 5 * GiB }], defaultFsType: 'xfs', rng: new Rng(0n) });
    assert.equal(pt.partitions.length, 4);
    const v = pt.partitions[2]!;
    assert.equal((v.payload as { mountpoint: string }).mountpoint, '/var');
    assert.equal((v.payload as { type: string }).type, 'xfs');
    assert.equal(v.type, GUID.LINUX_DATA);
    assert.equal(v.size, 5 * GiB);
    assert.equal((pt.partitions[3]!.payload as { mountpoint: string }).mountpoint, '/');
  });

  it('rejects system directories and relative paths, naming the entry', () => {
    assert.throws(
      () => layoutPartitionTable(minimalX86(), { size: 0, filesystems: [{ mountpoint: '/', minsize: 1 }, { mountpoint: '/etc', minsize: GiB }], rng: new Rng(0n), context: 'image type "x"' }),
      /image type "x": blueprint customizations\.filesystem\[1\]: mountpoint "\/etc" is not allowed/,
    );
    assert.throws(() => layoutPartitionTable(minimalX86(), { size: 0, filesystems: [{ mountpoint: 'var', minsize: GiB }], rng: new Rng(0n) }), /filesystem\[0\].*must be an absolute path/);
    assert.throws(() => layoutPartitionTable(minimalX86(), { size: 0, filesystems: [{ mountpoint: '/boot/efi', minsize: GiB }], rng: new Rng(0n) }), /"\/boot\/efi" is not allowed/);
    assert.throws(() => layoutPartitionTable(minimalX86(), { size: 0, filesystems: [{ mountpoint: '/srv', minsize: -1 }], rng: new Rng(0n) }), /minsize must be a byte count/);
  });

  it('refuses a new mountpoint on an LVM table, listing the existing ones', () => {
    const base: PartitionTable = {
      type: 'gpt',
      partitions: [
        { size: 500 * MiB, type: GUID.ESP, payload: { type: 'vfat', mountpoint: '/boot/efi' } },
        { size: 5 * GiB, type: GUID.LVM, payload_type: 'lvm', payload: { name: 'vg', logical_volumes: [{ name: 'root', size: 3 * GiB, payload_type: 'filesystem', payload: { type: 'xfs', mountpoint: '/' } }] } },
      ],
    };
    assert.throws(() => layoutPartitionTable(base, { size: 0, filesystems: [{ mountpoint: '/srv', minsize: GiB }], rng: new Rng(0n) }), /"\/srv".*not supported.*\/boot\/efi, \//);
    // an existing LV grows, and its partition with it
    const pt = layoutPartitionTable(base, { size: 0, filesystems: [{ mountpoint: '/', minsize: 8 * GiB }], rng: new Rng(0n) });
    assert.ok(pt.partitions[1]!.size >= 8 * GiB);
    assert.deepEqual(partitionTablePackages(base), ['dosfstools', 'lvm2', 'xfsprogs']);
  });

  it('LUKS and LVM partitions are made big enough for their contents and headers', () => {
    const base: PartitionTable = {
      type: 'gpt',
      partitions: [
        { size: 501 * MiB, type: GUID.ESP, payload: { type: 'vfat', mountpoint: '/boot/efi' } },
        {
          size: 8 * GiB, type: GUID.LINUX_DATA, payload_type: 'luks',
          payload: { label: 'crypt_root', payload_type: 'lvm', payload: { name: 'rootvg', logical_volumes: [{ name: 'rootlv', size: 8 * GiB, payload_type: 'filesystem', payload: { type: 'ext4', mountpoint: '/' } }] } },
        },
      ],
    };
    const pt = layoutPartitionTable(base, { size: 0, rng: new Rng(0n) });
    // 8 GiB LV + 1 MiB LVM metadata + 16 MiB LUKS2 header, then the root grows by the grain rounding
    assert.equal(pt.partitions[1]!.start, 502 * MiB);
    assert.equal(pt.size, 502 * MiB + 8 * GiB + 17 * MiB + MiB);
    const lv = ((pt.partitions[1]!.payload as { payload: { logical_volumes: { size: number; payload: { uuid: string } }[] } }).payload.logical_volumes[0])!;
    assert.equal(lv.size, 8 * GiB);
    assert.match(lv.payload.uuid, /^[0-9a-f-]{36}$/);
    assert.match((pt.partitions[1]!.payload as { uuid: string }).uuid, /^[0-9a-f-]{36}$/, 'LUKS uuid generated');
  });

  it('rejects bad tables', () => {
    assert.throws(() => layoutPartitionTable({ type: 'mbr' as 'dos', partitions: [] }, { size: 0, rng: new Rng(0n) }), /type "mbr" must be gpt or dos/);
    assert.throws(() => layoutPartitionTable({ type: 'gpt', partitions: [] }, { size: 0, rng: new Rng(0n) }), /no partitions/);
    const five: PartitionTable = { type: 'dos', partitions: Array.from({ length: 5 }, (_, i) => ({ size: MiB, type: '83', payload: { type: 'ext4', mountpoint: i === 0 ? '/' : `/d${i}` } })) };
    assert.throws(() => layoutPartitionTable(five, { size: 0, rng: new Rng(0n) }), /at most 4 partitions/);
  });
});

describe('UUIDs from the seed', () => {
  const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

  it('fills PT, partition and filesystem UUIDs; same seed gives the same table', () => {
    const a = layoutPartitionTable(minimalX86(), { size: 0, rng: new Rng(42n) });
    const b = layoutPartitionTable(minimalX86(), { size: 0, rng: new Rng(42n) });
    const c = layoutPartitionTable(minimalX86(), { size: 0, rng: new Rng(43n) });
    assert.deepEqual(a, b);
    assert.notEqual(a.uuid, c.uuid);
    assert.match(a.uuid, UUID_RE);
    for (const p of a.partitions) assert.match(p.uuid!, UUID_RE);
    assert.match(fsForMountpoint(a, '/boot/efi')!.uuid!, /^[0-9A-F]{4}-[0-9A-F]{4}$/);
    assert.match(rootFs(a).uuid!, UUID_RE);
    const all = [a.uuid, ...a.partitions.map((p) => p.uuid), ...a.partitions.map((p) => (p.payload as { uuid: string }).uuid)];
    assert.equal(new Set(all).size, all.length, 'all distinct');
  });

  it('dos: PT id 0x + 8 hex, no partition UUIDs', () => {
    const a = layoutPartitionTable(minimalAarch64(), { size: 0, rng: new Rng(7n) });
    assert.match(a.uuid, /^0x[0-9a-f]{8}$/);
    for (const p of a.partitions) assert.equal(p.uuid, undefined);
  });

  it('keeps UUIDs the definition sets', () => {
    const base = minimalX86();
    base.partitions[2]!.uuid = '6264D520-3FB9-423F-8AB8-7A0A8E3D3562';
    (base.partitions[0]!.payload as { uuid?: string }).uuid = '7B77-95E7';
    const a = layoutPartitionTable(base, { size: 0, rng: new Rng(7n) });
    assert.equal(a.partitions[2]!.uuid, '6264D520-3FB9-423F-8AB8-7A0A8E3D3562');
    assert.equal(fsForMountpoint(a, '/boot/efi')!.uuid, '7B77-95E7');
  });
});

describe('naming, fstab, devices, mounts, units', () => {
  it('escapes mountpoints like systemd-escape --path', () => {
    const paths = ['/', '/boot/efi', '/var/my-data', '/a.b/.c', '/srv/ü x', '//var//log/'];
    const expected = execFileSync('systemd-escape', ['--path', ...paths], { encoding: 'utf8' }).trim().split(/\s+/);
    // systemd-escape prints space-separated results; "ü x" contains no raw space after escaping
    assert.deepEqual(paths.map(escapeMountpoint), expected);
  });

  it('fstab entries sorted by passno then path, zero freq/passno left out', () => {
    const pt = layoutPartitionTable(minimalX86(), { size: 0, rng: new Rng(3n) });
    const e = fstabEntries(pt);
    assert.deepEqual(e.map((x) => x.path), ['/', '/boot', '/boot/efi']);
    assert.deepEqual(e[2], { uuid: fsForMountpoint(pt, '/boot/efi')!.uuid, vfs_type: 'vfat', path: '/boot/efi', options: ESP_OPTS, passno: 2 });
    assert.equal('passno' in e[0]!, false);
    assert.equal('freq' in e[0]!, false);
  });

  it('loopback devices in sectors and mounts sorted by target', () => {
    const pt = layoutPartitionTable(minimalX86(), { size: 0, requiredSizes: REQUIRED, rng: new Rng(3n) });
    const { devices, mounts } = devicesAndMounts(pt, 'disk.img');
    assert.deepEqual(mounts.map((m) => [m.name, m.type, m.target]), [
      ['-', 'org.osbuild.ext4', '/'],
      ['boot', 'org.osbuild.ext4', '/boot'],
      ['boot-efi', 'org.osbuild.fat', '/boot/efi'],
    ]);
    assert.deepEqual(devices['boot-efi'], { type: 'org.osbuild.loopback', options: { filename: 'disk.img', start: 2048, size: 409600 } });
    assert.deepEqual(devices['-']!.options, { filename: 'disk.img', start: 2249 * 2048, size: (5322 * MiB - GPT_FOOTER - 2249 * MiB) / 512 });
  });

  it('mount units for every non-root filesystem', () => {
    const pt = layoutPartitionTable(minimalX86(), { size: 0, rng: new Rng(3n) });
    const units = mountUnits(pt);
    assert.deepEqual(units.map((u) => u.filename), ['boot-efi.mount', 'boot.mount']);
    assert.deepEqual(units[0]!.config['Mount'], { What: `/dev/disk/by-uuid/${fsForMountpoint(pt, '/boot/efi')!.uuid}`, Where: '/boot/efi', Type: 'vfat', Options: ESP_OPTS });
  });
});
