// Option semantics of individual stages, each checked with an independent tool.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import type { Manifest, Stage } from '../src/manifest/types.js';
import { formatEvent } from '../src/executor/log.js';
import { runManifest } from '../src/executor/run.js';
import { assertNoLeaks, collect, mkTmp, sh, tmpEntries } from './executor-helpers.js';

describe('executor stages', () => {
  const dir = mkTmp('stages');
  const tmpBefore = tmpEntries(dir);
  let n = 0;
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  async function build(stages: Stage[], sources: Manifest['sources'] = {}): Promise<string> {
    const out = path.join(dir, `out${++n}`);
    const store = path.join(dir, `store${n}`);
    const ev = collect();
    await runManifest({ version: '2', sources, pipelines: [{ name: 'p', stages }] }, { store, outputDir: out, exports: ['p'], buildroot: 'host', handleSignals: false, onEvent: ev.on });
    // every event renders (or is deliberately silent) without throwing
    const lines = ev.events.map(formatEvent).filter((l): l is string => l !== undefined);
    assert.ok(lines.some((l) => /^pipeline p: [0-9a-f]{64}$/.test(l)));
    assertNoLeaks(dir, store, tmpBefore);
    return path.join(out, 'p');
  }

  it('sfdisk: dos label with partition numbers and a bootable flag; gpt attribute bits', async () => {
    const loop = { device: { type: 'org.osbuild.loopback', options: { filename: 'd.img' } } };
    const tree = await build([
      { type: 'org.osbuild.truncate', options: { filename: 'd.img', size: '16M' } },
      { type: 'org.osbuild.sfdisk', devices: loop, options: { label: 'mbr', uuid: '0x14fc63d2', partitions: [{ partnum: 2, start: 2048, size: 4096, type: '83', bootable: true }, { partnum: 4, start: 8192, size: 4096, type: 'ef' }] } },
      { type: 'org.osbuild.truncate', options: { filename: 'g.img', size: '16M' } },
      {
        type: 'org.osbuild.sfdisk',
        devices: { device: { type: 'org.osbuild.loopback', options: { filename: 'g.img' } } },
        options: { label: 'gpt', uuid: '11111111-2222-3333-4444-555555555555', partitions: [{ start: 2048, size: 4096, type: '21686148-6449-6E6F-744E-656564454649', attrs: [0, 2, 60] }] },
      },
    ]);
    type PT = { partitiontable: { label: string; id: string; partitions: { node: string; start: number; size: number; type: string; bootable?: boolean; attrs?: string }[] } };
    const dos = (JSON.parse(sh('sfdisk', ['-J', path.join(tree, 'd.img')])) as PT).partitiontable;
    assert.equal(dos.label, 'dos');
    assert.equal(dos.id, '0x14fc63d2');
    assert.deepEqual(dos.partitions.map((p) => [p.node.slice(-1), p.start, p.size, p.type, p.bootable ?? false]), [['2', 2048, 4096, '83', true], ['4', 8192, 4096, 'ef', false]]);
    const gpt = (JSON.parse(sh('sfdisk', ['-J', path.join(tree, 'g.img')])) as PT).partitiontable;
    assert.equal(gpt.partitions[0]!.attrs, 'RequiredPartition LegacyBIOSBootable GUID:60');
  });

  it('copy: trailing slash copies contents, without it the directory; remove_destination replaces a symlink', async () => {
    const tree = await build([
      { type: 'org.osbuild.mkdir', options: { paths: [{ path: '/src/sub', parents: true }, { path: '/a' }, { path: '/b' }, { path: '/etc' }] } },
      { type: 'org.osbuild.hostname', options: { hostname: 'h1' } },
      { type: 'org.osbuild.copy', options: { paths: [{ from: 'tree:///etc/', to: 'tree:///a/' }, { from: 'tree:///etc', to: 'tree:///b/' }] } },
      { type: 'org.osbuild.locale', options: { language: 'C.UTF-8' } },
      { type: 'org.osbuild.timezone', options: { zone: 'UTC' } },
      // etc/localtime is a symlink: copying onto it with remove_destination replaces the link itself
      { type: 'org.osbuild.copy', options: { paths: [{ from: 'tree:///etc/locale.conf', to: 'tree:///etc/localtime', remove_destination: true }] } },
    ]);
    assert.deepEqual(fs.readdirSync(path.join(tree, 'a')), ['hostname']);
    assert.deepEqual(fs.readdirSync(path.join(tree, 'b')), ['etc']);
    assert.equal(fs.lstatSync(path.join(tree, 'etc/localtime')).isSymbolicLink(), false);
    assert.equal(fs.readFileSync(path.join(tree, 'etc/localtime'), 'utf8'), 'LANG=C.UTF-8\n');
  });

  it('mkdir: mode honoured, an existing directory is an error unless exist_ok', async () => {
    const tree = await build([{ type: 'org.osbuild.mkdir', options: { paths: [{ path: '/m', mode: 0o700 }, { path: '/m', exist_ok: true }] } }]);
    assert.equal(fs.statSync(path.join(tree, 'm')).mode & 0o777, 0o700);
    await assert.rejects(build([{ type: 'org.osbuild.mkdir', options: { paths: [{ path: '/m' }, { path: '/m' }] } }]), /stage 1 \(org\.osbuild\.mkdir\): "\/m" already exists/);
  });

  it('tar: root-node omit and explicit paths; qemu: vmdk and vpc', async () => {
    const m: Manifest = {
      version: '2',
      sources: {},
      pipelines: [
        { name: 't', stages: [{ type: 'org.osbuild.mkdir', options: { paths: [{ path: '/etc' }, { path: '/var' }] } }, { type: 'org.osbuild.hostname', options: { hostname: 'tarred' } }, { type: 'org.osbuild.truncate', options: { filename: 'raw.img', size: '1M' } }] },
        {
          name: 'out',
          build: 'name:t',
          stages: [
            { type: 'org.osbuild.tar', inputs: { tree: { type: 'org.osbuild.tree', origin: 'org.osbuild.pipeline', references: ['name:t'] } }, options: { filename: 'omit.tar.gz', 'root-node': 'omit', selinux: false } },
            { type: 'org.osbuild.tar', inputs: { tree: { type: 'org.osbuild.tree', origin: 'org.osbuild.pipeline', references: ['name:t'] } }, options: { filename: 'paths.tar', paths: ['etc/hostname'], format: 'posix', compression: 'auto', selinux: false } },
            { type: 'org.osbuild.qemu', inputs: { image: { type: 'org.osbuild.files', origin: 'org.osbuild.pipeline', references: { 'name:t': { file: 'raw.img' } } } }, options: { filename: 'd.vmdk', format: { type: 'vmdk', subformat: 'streamOptimized' } } },
            { type: 'org.osbuild.qemu', inputs: { image: { type: 'org.osbuild.files', origin: 'org.osbuild.pipeline', references: { 'name:t': { file: 'raw.img' } } } }, options: { filename: 'd.vhd', format: { type: 'vpc' } } },
          ],
        },
      ],
    };
    const out = path.join(dir, 'tq');
    const store = path.join(dir, 'tqs');
    await runManifest(m, { store, outputDir: out, exports: ['out'], buildroot: 'host', handleSignals: false });
    const o = path.join(out, 'out');
    assert.deepEqual(sh('tar', ['-tzf', path.join(o, 'omit.tar.gz')]).trim().split('\n').filter((l) => !l.includes('/') || l.split('/').length === 2 && l.endsWith('/')).sort(), ['etc/', 'raw.img', 'var/']);
    assert.equal(sh('tar', ['-tf', path.join(o, 'paths.tar')]).trim(), 'etc/hostname');
    const vmdk = JSON.parse(sh('qemu-img', ['info', '--output=json', path.join(o, 'd.vmdk')])) as { format: string; 'format-specific': { data: { 'create-type': string } } };
    assert.equal(vmdk.format, 'vmdk');
    assert.equal(vmdk['format-specific'].data['create-type'], 'streamOptimized');
    const vpc = JSON.parse(sh('qemu-img', ['info', '-f', 'vpc', '--output=json', path.join(o, 'd.vhd')])) as { format: string; 'virtual-size': number };
    assert.equal(vpc.format, 'vpc'); // fixed VHD: a footer at the end, so name the format
    assert.equal(vpc['virtual-size'], 1024 * 1024, 'force_size keeps the exact size');
    assertNoLeaks(dir, store, tmpBefore);
  });

  it('FAT through mtools (forced): content survives between stages, fsck.fat is clean', async () => {
    const loop = { device: { type: 'org.osbuild.loopback', options: { filename: 'esp.img' } } };
    const fatMount = (target: string): Stage['mounts'] => [{ name: 'esp', type: 'org.osbuild.fat', source: 'device', target }];
    process.env.KILN_FAT_MOUNT = 'mtools';
    let tree: string;
    try {
      tree = await build([
        { type: 'org.osbuild.mkdir', options: { paths: [{ path: '/src/EFI/BOOT', parents: true }, { path: '/etc' }] } },
        { type: 'org.osbuild.hostname', options: { hostname: 'on-fat' } },
        { type: 'org.osbuild.truncate', options: { filename: 'esp.img', size: '32M' } },
        { type: 'org.osbuild.mkfs.fat', devices: loop, options: { volid: 'ABCD1234', label: 'ESP' } },
        { type: 'org.osbuild.copy', devices: loop, mounts: fatMount('/'), options: { paths: [{ from: 'tree:///src/', to: 'mount://esp/' }] } },
        { type: 'org.osbuild.copy', devices: loop, mounts: fatMount('/'), options: { paths: [{ from: 'tree:///etc/hostname', to: 'mount://esp/EFI/BOOT/' }] } },
      ]);
    } finally {
      delete process.env.KILN_FAT_MOUNT;
    }
    const img = path.join(tree, 'esp.img');
    sh('fsck.fat', ['-n', img]);
    const env = { ...process.env, MTOOLS_SKIP_CHECK: '1' };
    const listing = execFileSync('mdir', ['-i', img, '-/', '-b', '::/'], { encoding: 'utf8', env }).trim().split('\n').sort();
    assert.deepEqual(listing, ['::/EFI/', '::/EFI/BOOT/', '::/EFI/BOOT/hostname']);
    assert.equal(execFileSync('mtype', ['-i', img, '::/EFI/BOOT/hostname'], { encoding: 'utf8', env }), 'on-fat\n');
    assert.match(sh('blkid', ['-p', '-o', 'export', img]), /^UUID=ABCD-1234$/m);
  });
});
