// A tiny disk image built end to end with real tools and loop devices, inspected with tools
// independent of the executor (sfdisk -J, blkid, fsck, debugfs, xz -t, qemu-img, zstd, tar).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import type { Device, Manifest } from '../src/manifest/types.js';
import { runManifest } from '../src/executor/run.js';
import { assertNoLeaks, collect, mkTmp, sha256, sh, tmpEntries } from './executor-helpers.js';

const ESP = 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B';
const LINUX = '0FC63DAF-8483-4772-8E79-3D69D8477DE4';
const DISK_UUID = 'D209C89E-EA5E-4FBD-B161-B461CCE297E0';
const P1_UUID = '68B2905B-DF3E-4FB3-80FA-49D1E773AA33';
const P2_UUID = '6264D520-3FB9-423F-8AB8-7A0A8E3D3562';
const ROOT_UUID = '6e4ff95f-f662-45ee-a82a-bdf44a2d0b75';
const BOOT_UUID = '0194fdc2-fa2f-4cc0-81d3-ff12045b73c8';
const P3_UUID = 'CB07C243-BC44-4717-853E-28852021225B';
const EFI = { start: 2048, size: 16384 };
const BOOT = { start: 18432, size: 32768 };
const ROOT = { start: 51200, size: 77824 };

const bootText = 'on /boot\n';
const efiText = 'on the ESP\n';

function loop(filename: string, part: { start: number; size: number }, lock = false): Device {
  return { type: 'org.osbuild.loopback', options: { filename, start: part.start, size: part.size, ...(lock ? { lock: true } : {}) } };
}

export function imageManifest(): Manifest {
  const bootSum = sha256(bootText);
  const efiSum = sha256(efiText);
  return {
    version: '2',
    sources: {
      'org.osbuild.inline': {
        items: {
          [bootSum]: { encoding: 'base64', data: Buffer.from(bootText).toString('base64') },
          [efiSum]: { encoding: 'base64', data: Buffer.from(efiText).toString('base64') },
        },
      },
    },
    pipelines: [
      {
        name: 'tree',
        stages: [
          { type: 'org.osbuild.mkdir', options: { paths: [{ path: '/etc', exist_ok: true }, { path: '/boot/efi/EFI/fedora', parents: true }, { path: '/usr/share/zoneinfo', parents: true }] } },
          { type: 'org.osbuild.hostname', options: { hostname: 'kiln-test' } },
          { type: 'org.osbuild.locale', options: { language: 'en_US.UTF-8' } },
          { type: 'org.osbuild.timezone', options: { zone: 'UTC' } },
          { type: 'org.osbuild.kernel-cmdline', options: { root_fs_uuid: ROOT_UUID, kernel_opts: 'ro console=ttyS0' } },
          { type: 'org.osbuild.fstab', options: { filesystems: [{ uuid: ROOT_UUID, vfs_type: 'ext4', path: '/', options: 'defaults' }, { uuid: '7B77-95E7', vfs_type: 'vfat', path: '/boot/efi', options: 'umask=077', passno: 2 }] } },
          {
            type: 'org.osbuild.copy',
            inputs: { f: { type: 'org.osbuild.files', origin: 'org.osbuild.source', references: [bootSum, efiSum] } },
            options: {
              paths: [
                { from: `input://f/${bootSum}`, to: 'tree:///boot/hello.txt' },
                { from: `input://f/${efiSum}`, to: 'tree:///boot/efi/EFI/fedora/grub.cfg' },
              ],
            },
          },
        ],
      },
      {
        name: 'image',
        build: 'name:tree',
        stages: [
          { type: 'org.osbuild.truncate', options: { filename: 'disk.img', size: '64M' } },
          {
            type: 'org.osbuild.sfdisk',
            options: {
              label: 'gpt',
              uuid: DISK_UUID,
              partitions: [
                { start: EFI.start, size: EFI.size, type: ESP, uuid: P1_UUID, name: 'EFI System' },
                { start: BOOT.start, size: BOOT.size, type: LINUX, uuid: P2_UUID, name: 'boot' },
                { start: ROOT.start, size: ROOT.size, type: LINUX, uuid: P3_UUID, name: 'root', attrs: [60] },
              ],
            },
            devices: { device: { type: 'org.osbuild.loopback', options: { filename: 'disk.img', lock: true } } },
          },
          { type: 'org.osbuild.mkfs.fat', options: { volid: '7B7795E7', label: 'ESP' }, devices: { device: loop('disk.img', EFI, true) } },
          { type: 'org.osbuild.mkfs.ext4', options: { uuid: BOOT_UUID, label: 'boot' }, devices: { device: loop('disk.img', BOOT, true) } },
          { type: 'org.osbuild.mkfs.ext4', options: { uuid: ROOT_UUID, label: 'root' }, devices: { device: loop('disk.img', ROOT, true) } },
          {
            type: 'org.osbuild.copy',
            inputs: { 'root-tree': { type: 'org.osbuild.tree', origin: 'org.osbuild.pipeline', references: ['name:tree'] } },
            options: { paths: [{ from: 'input://root-tree/', to: 'mount://root/' }] },
            devices: { root: loop('disk.img', ROOT), boot: loop('disk.img', BOOT), efi: loop('disk.img', EFI) },
            mounts: [
              { name: 'root', type: 'org.osbuild.ext4', source: 'root', target: '/' },
              { name: 'boot', type: 'org.osbuild.ext4', source: 'boot', target: '/boot' },
              // a kernel without vfat (like this test machine's) gets the mtools fallback
              { name: 'efi', type: 'org.osbuild.fat', source: 'efi', target: '/boot/efi', options: { uid: 0, gid: 0, umask: '077' } },
            ],
          },
        ],
      },
      {
        name: 'xz',
        build: 'name:tree',
        stages: [{ type: 'org.osbuild.xz', inputs: { file: { type: 'org.osbuild.files', origin: 'org.osbuild.pipeline', references: { 'name:image': { file: 'disk.img' } } } }, options: { filename: 'disk.img.xz' } }],
      },
      {
        name: 'zst',
        build: 'name:tree',
        stages: [{ type: 'org.osbuild.zstd', inputs: { file: { type: 'org.osbuild.files', origin: 'org.osbuild.pipeline', references: { 'name:image': { file: 'disk.img' } } } }, options: { filename: 'disk.img.zst' } }],
      },
      {
        name: 'qcow2',
        build: 'name:tree',
        stages: [
          {
            type: 'org.osbuild.qemu',
            inputs: { image: { type: 'org.osbuild.files', origin: 'org.osbuild.pipeline', references: { 'name:image': { file: 'disk.img' } } } },
            options: { filename: 'disk.qcow2', format: { type: 'qcow2', compat: '1.1' } },
          },
        ],
      },
      {
        name: 'archive',
        build: 'name:tree',
        stages: [{ type: 'org.osbuild.tar', inputs: { tree: { type: 'org.osbuild.tree', origin: 'org.osbuild.pipeline', references: ['name:tree'] } }, options: { filename: 'root.tar', selinux: false, acls: false } }],
      },
    ],
  };
}

function fileSha(p: string): string {
  return createHash('sha256').update(fs.readFileSync(p)).digest('hex');
}

describe('executor: a small disk image', () => {
  const dir = mkTmp('image');
  const tmpBefore = tmpEntries(dir);
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('builds truncate+sfdisk+mkfs.fat+mkfs.ext4+copy via loop devices, then xz/zstd/qcow2/tar', async () => {
    const store = path.join(dir, 'store');
    const out = path.join(dir, 'out');
    const ev = collect();
    const r = await runManifest(imageManifest(), { store, outputDir: out, exports: ['image', 'xz', 'zst', 'qcow2', 'archive', 'tree'], buildroot: 'host', handleSignals: false, onEvent: ev.on });
    assertNoLeaks(dir, store, tmpBefore);

    // host build root announced for pipelines with a build pipeline; the first one runs on the host
    const br = ev.of('buildroot');
    assert.equal(br.find((e) => e.pipeline === 'tree')?.mode, 'host-first');
    assert.equal(br.find((e) => e.pipeline === 'image')?.mode, 'host');
    assert.match(br.find((e) => e.pipeline === 'image')!.message, /NOT the tree of pipeline "tree"/);
    // timings per stage
    assert.equal(r.pipelines.image!.stages.length, 6);
    for (const s of r.pipelines.image!.stages) assert.ok(s.status === 'ran' && s.duration >= 0);
    assert.equal(ev.of('stage-finish').length, 7 + 6 + 4);
    const fatNote = ev.of('log').some((e) => /no vfat; FAT file system staged through mtools/.test(e.message));
    assert.equal(fatNote, !fs.readFileSync('/proc/filesystems', 'utf8').includes('vfat'), 'the mtools fallback is used exactly when the kernel lacks vfat');

    // the tree's config files
    const tree = path.join(out, 'tree');
    assert.equal(fs.readFileSync(path.join(tree, 'etc/hostname'), 'utf8'), 'kiln-test\n');
    assert.equal(fs.readFileSync(path.join(tree, 'etc/locale.conf'), 'utf8'), 'LANG=en_US.UTF-8\n');
    assert.equal(fs.readlinkSync(path.join(tree, 'etc/localtime')), '../usr/share/zoneinfo/UTC');
    assert.equal(fs.readFileSync(path.join(tree, 'etc/kernel/cmdline'), 'utf8'), `root=UUID=${ROOT_UUID} ro console=ttyS0`);
    assert.deepEqual(
      fs.readFileSync(path.join(tree, 'etc/fstab'), 'utf8').trim().split('\n').map((l) => l.split(/\s+/)),
      [
        [`UUID=${ROOT_UUID}`, '/', 'ext4', 'defaults', '0', '0'],
        ['UUID=7B77-95E7', '/boot/efi', 'vfat', 'umask=077', '0', '2'],
      ],
    );
    assert.ok(ev.of('log').some((e) => /time zone "UTC" is not in the tree/.test(e.message)));

    // partition table, read back by sfdisk itself
    const disk = path.join(out, 'image', 'disk.img');
    assert.equal(fs.statSync(disk).size, 64 * 1024 * 1024);
    const pt = (JSON.parse(sh('sfdisk', ['-J', disk])) as { partitiontable: { label: string; id: string; partitions: { start: number; size: number; type: string; uuid: string; name: string; attrs?: string }[] } }).partitiontable;
    assert.equal(pt.label, 'gpt');
    assert.equal(pt.id, DISK_UUID);
    assert.equal(pt.partitions.length, 3);
    assert.deepEqual(
      pt.partitions.map((p) => [p.start, p.size, p.type, p.uuid, p.name]),
      [
        [EFI.start, EFI.size, ESP, P1_UUID, 'EFI System'],
        [BOOT.start, BOOT.size, LINUX, P2_UUID, 'boot'],
        [ROOT.start, ROOT.size, LINUX, P3_UUID, 'root'],
      ],
    );
    assert.match(pt.partitions[2]!.attrs ?? '', /GUID:60/);

    // file systems, through our own read-only loop devices
    const loops: string[] = [];
    try {
      const attach = (p: { start: number; size: number }): string => {
        const l = sh('losetup', ['--show', '-f', '-r', '--offset', String(p.start * 512), '--sizelimit', String(p.size * 512), disk]).trim();
        loops.push(l);
        return l;
      };
      const efi = attach(EFI);
      const boot = attach(BOOT);
      const root = attach(ROOT);
      const blk = (dev: string): Record<string, string> => Object.fromEntries(sh('blkid', ['-p', '-o', 'export', dev]).trim().split('\n').map((l) => l.split('=') as [string, string]));
      const b1 = blk(efi);
      assert.equal(b1.TYPE, 'vfat');
      assert.equal(b1.UUID, '7B77-95E7');
      assert.equal(b1.LABEL, 'ESP');
      for (const [dev, uuid, label] of [[boot, BOOT_UUID, 'boot'], [root, ROOT_UUID, 'root']] as const) {
        const b = blk(dev);
        assert.equal(b.TYPE, 'ext4');
        assert.equal(b.UUID, uuid);
        assert.equal(b.LABEL, label);
        sh('fsck.ext4', ['-n', '-f', dev]);
      }
      sh('fsck.fat', ['-n', efi]);
      // the tree landed on the root fs (read with debugfs, no mount), /boot's part on the boot fs
      assert.equal(sh('debugfs', ['-R', 'cat /etc/hostname', root]), 'kiln-test\n');
      assert.doesNotMatch(sh('debugfs', ['-R', 'ls /boot', root]), /hello\.txt/);
      assert.equal(sh('debugfs', ['-R', 'cat /hello.txt', boot]), bootText);
      assert.match(sh('debugfs', ['-R', 'ls /', boot]), /efi/);
      assert.doesNotMatch(sh('debugfs', ['-R', 'ls /efi', boot]), /EFI/, 'the ESP content is not on /boot');
      // ...and the /boot/efi part on the ESP (read with mtools: no mount needed)
      assert.equal(execFileSync('mtype', ['-i', efi, '::/EFI/fedora/grub.cfg'], { encoding: 'utf8', env: { ...process.env, MTOOLS_SKIP_CHECK: '1' } }), efiText);
    } finally {
      for (const l of loops) execFileSync('losetup', ['-d', l]);
    }

    // compressed and converted images decode to the same bytes
    const raw = fileSha(disk);
    const xzf = path.join(out, 'xz', 'disk.img.xz');
    sh('xz', ['-t', xzf]);
    assert.equal(createHash('sha256').update(execFileSync('xz', ['-dc', xzf], { maxBuffer: 128 << 20 })).digest('hex'), raw);
    const zf = path.join(out, 'zst', 'disk.img.zst');
    sh('zstd', ['-q', '-t', zf]);
    const q = path.join(out, 'qcow2', 'disk.qcow2');
    const info = JSON.parse(sh('qemu-img', ['info', '--output=json', q])) as { format: string; 'virtual-size': number; 'format-specific': { data: { compat: string } } };
    assert.equal(info.format, 'qcow2');
    assert.equal(info['virtual-size'], 64 * 1024 * 1024);
    assert.equal(info['format-specific'].data.compat, '1.1');
    sh('qemu-img', ['compare', '-f', 'raw', '-F', 'qcow2', disk, q]);
    const list = sh('tar', ['-tf', path.join(out, 'archive', 'root.tar')]);
    assert.match(list, /^\.\/etc\/hostname$/m);
    assert.match(list, /^\.\/boot\/hello\.txt$/m);
    assert.match(list, /^\.\/boot\/efi\/EFI\/fedora\/grub\.cfg$/m);
    assertNoLeaks(dir, store, tmpBefore);
  });
});
