// Disk and container generators: pipelines, stage order and options for minimal-raw-xz/-zst,
// generic-qcow2 (x86_64, aarch64) and generic-container, from fixture depsolve results; schema
// validity of every stage (validateManifest); determinism; blueprint customizations; bad inputs.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Blueprint } from '../src/blueprint/types.js';
import { emptyBlueprint } from '../src/blueprint/types.js';
import type { PartitionTable, ResolvedImageType } from '../src/defs/types.js';
import type { LoadedRepo } from '../src/repo/types.js';
import type { Package } from '../src/rpm/types.js';
import { containerGenerator } from '../src/manifest/generators/container.js';
import { diskGenerator } from '../src/manifest/generators/disk.js';
import { pipelineIds } from '../src/manifest/ids.js';
import { GUID, GiB, MiB } from '../src/manifest/layout.js';
import type { DepsolvedPipeline, GeneratorRequest, Manifest, Stage } from '../src/manifest/types.js';
import { validateManifest } from '../src/manifest/validate.js';

const ESP_OPTS = 'defaults,uid=0,gid=0,umask=077,shortname=winnt';
const FEDORA_KEY = '-----BEGIN PGP PUBLIC KEY BLOCK-----\nfedora\n-----END PGP PUBLIC KEY BLOCK-----\n';

function minimalPT(arch: string): PartitionTable {
  if (arch === 'x86_64') {
    return {
      type: 'gpt',
      partitions: [
        { size: 200 * MiB, type: GUID.ESP, payload_type: 'filesystem', payload: { type: 'vfat', mountpoint: '/boot/efi', label: 'ESP', fstab_options: ESP_OPTS, fstab_passno: 2 } },
        { size: 2 * GiB, type: GUID.XBOOTLDR, payload_type: 'filesystem', payload: { type: 'ext4', mountpoint: '/boot', label: 'boot', fstab_options: 'defaults' } },
        { size: 2 * GiB, type: GUID.LINUX_DATA, payload_type: 'filesystem', payload: { type: 'ext4', mountpoint: '/', label: 'root', fstab_options: 'defaults' } },
      ],
    };
  }
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

function genericPT(arch: string): PartitionTable {
  const pt = minimalPT('x86_64');
  if (arch === 'x86_64') pt.partitions.unshift({ size: MiB, type: GUID.BIOS_BOOT, bootable: true });
  return pt;
}

function distro(major: number): ResolvedImageType['distro'] {
  return {
    name: `fedora-${major}`, distro_like: 'fedora', product: 'Fedora', major_version: major, os_version: String(major), release_version: String(major),
    module_platform_id: `platform:f${major}`, preview: false, runner: `org.osbuild.fedora${major}`, runner_build_packages: ['glibc', 'systemd', 'python3'],
    iso_label_tmpl: '', default_fs_type: 'ext4',
  };
}

const PLATFORM_PKGS: Record<string, string[]> = {
  x86_64: ['dracut-config-generic', 'efibootmgr', 'grub2-efi-x64', 'shim-x64'],
  aarch64: ['dracut-config-generic', 'efibootmgr', 'grub2-efi-aa64', 'grub2-tools', 'shim-aa64'],
};

/** minimal-raw-xz / -zst as the reference describes them (§2.4, §3.1, §4.1). */
function minimalRaw(arch: string, major = 42, zst = false): ResolvedImageType {
  return {
    name: zst ? 'minimal-raw-zst' : 'minimal-raw-xz', aliases: [], arch, distro: distro(major),
    filename: zst ? 'disk.raw.zst' : 'disk.raw.xz', mime_type: 'application/xz', compression: zst ? 'zstd' : 'xz', bootable: true, boot_iso: false,
    default_size: 2 * GiB, image_func: 'disk', exports: [zst ? 'zstd' : 'xz'], required_partition_sizes: { '/': GiB, '/usr': 2 * GiB },
    platform: {
      arch, uefi_vendor: 'fedora', image_format: 'raw',
      packages: arch === 'aarch64' ? { bootloader: PLATFORM_PKGS[arch]!, firmware: ['arm-image-installer', 'bcm283x-firmware', 'uboot-images-armv8'] } : { bootloader: PLATFORM_PKGS[arch]! },
      build_packages: {},
      boot_files: arch === 'aarch64' ? [['/usr/share/uboot/rpi_arm64/u-boot.bin', '/boot/efi/rpi-u-boot.bin']] : undefined,
    },
    boot_mode: 'uefi',
    package_sets: { os: { include: ['@core', 'initial-setup', 'NetworkManager-wifi'], exclude: major >= 43 ? ['dracut-config-rescue', 'firewalld'] : ['dracut-config-rescue'] } },
    partition_table: minimalPT(arch),
    image_config: {
      hostname: 'localhost.localdomain', locale: 'C.UTF-8', timezone: 'UTC', default_kernel: 'kernel-core', update_default_kernel: true,
      machine_id_uninitialized: false, install_weak_deps: major < 43, kernel_options: [major >= 43 ? 'rw' : 'ro'],
      enabled_services: ['NetworkManager.service', 'initial-setup.service', 'sshd.service', ...(major < 43 ? ['firewalld.service'] : [])],
      grub2_config: { timeout: 5 },
      files: [{ path: '/root/anaconda-ks.cfg', user: 'root', group: 'root', data: '# Run initial-setup on first boot\nfirstboot --reconfig\n' }],
    },
    disk_config: { mount_configuration: major >= 43 ? 'units' : 'fstab' },
    blueprint: { supported_options: [], required_options: [] }, source: { path: 'fixture', sha256: '0'.repeat(64) },
  };
}

function genericQcow2(arch: string): ResolvedImageType {
  const it = minimalRaw(arch);
  return {
    ...it, name: 'generic-qcow2', filename: 'disk.qcow2', mime_type: 'application/x-qemu-disk', compression: '', exports: ['qcow2'],
    platform: {
      arch, uefi_vendor: 'fedora', image_format: 'qcow2', qcow2_compat: arch === 'aarch64' ? '1.1' : '',
      bios_platform: arch === 'x86_64' ? 'i386-pc' : undefined,
      packages: { bootloader: [...PLATFORM_PKGS[arch]!, ...(arch === 'x86_64' ? ['grub2-pc'] : [])] },
      build_packages: arch === 'x86_64' ? { bios: ['grub2-pc'] } : {},
    },
    boot_mode: arch === 'x86_64' ? 'hybrid' : 'uefi',
    partition_table: genericPT(arch),
    image_config: { ...it.image_config, files: [], machine_id_uninitialized: true, default_target: 'multi-user.target' },
  };
}

let n = 0;
function pkg(name: string, arch: string, version = '1.0', release = '1.fc42', repoId = 'fedora'): Package {
  n++;
  return {
    name, arch, epoch: 0, version, release, location: `Packages/${name[0]}/${name}-${version}-${release}.${arch}.rpm`,
    checksum: { type: 'sha256', value: n.toString(16).padStart(64, '0') }, provides: [], requires: [], conflicts: [], obsoletes: [],
    recommends: [], suggests: [], supplements: [], enhances: [], files: [], repoId,
  };
}

function repos(): LoadedRepo[] {
  return [
    {
      config: { id: 'fedora', metalink: 'https://mirrors.fedoraproject.org/metalink?repo=fedora-42&arch=x86_64', checkGpg: true },
      baseurl: 'https://dl.example/fedora/', revision: 'r', packages: [], groups: [], environments: [], gpgkeyTexts: [FEDORA_KEY],
    },
    { config: { id: 'local', baseurl: ['file:///srv/local/'] }, baseurl: 'file:///srv/local/', revision: 'r', packages: [], groups: [], environments: [], gpgkeyTexts: [] },
  ];
}

function depsolved(arch: string, opts: { tar?: boolean; bpPackages?: boolean } = {}): Record<string, DepsolvedPipeline> {
  const build = ['coreutils', 'dosfstools', 'e2fsprogs', 'glibc', 'policycoreutils', 'python3', 'rpm', 'selinux-policy-targeted', 'systemd', 'xz', ...(opts.tar ? ['tar'] : [])].map((p) => pkg(p, arch));
  const os1 = ['bash', 'kernel', 'kernel-core', 'systemd', 'NetworkManager', 'selinux-policy-targeted', ...PLATFORM_PKGS[arch]!].map((p) =>
    p.startsWith('kernel') ? pkg(p, arch, '6.14.5', '300.fc42') : pkg(p, arch),
  );
  const os3 = opts.bpPackages ? [pkg('tmux', arch, '3.5', '1.fc42', 'local')] : [];
  return {
    build: { transactions: [build], repos: repos().slice(0, 1) },
    os: { transactions: [os1, [], ...(opts.bpPackages ? [os3] : [])], repos: repos() },
  };
}

function req(it: ResolvedImageType, bp: Blueprint = emptyBlueprint(), seed = 0n, useLibrepo = true): GeneratorRequest {
  return { imageType: it, blueprint: bp, seed, repos: [], useLibrepo };
}

const types = (s: Stage[]) => s.map((x) => x.type.replace('org.osbuild.', ''));
const stagesOf = (m: Manifest, p: string) => m.pipelines.find((x) => x.name === p)!.stages;
const find = (m: Manifest, p: string, t: string) => stagesOf(m, p).filter((s) => s.type === `org.osbuild.${t}`);

function assertValid(m: Manifest): void {
  assert.deepEqual(validateManifest(JSON.parse(JSON.stringify(m))), []);
}

describe('minimal-raw-xz x86_64 (F42)', () => {
  const it0 = minimalRaw('x86_64');
  const m = diskGenerator.serialize(req(it0), { depsolved: depsolved('x86_64') });

  it('package sets: build set per §4.6, os chain of platform+kernel+PT tools+os set, then selinux', () => {
    const sets = diskGenerator.packageSets(req(it0));
    assert.deepEqual(Object.keys(sets), ['build', 'os']);
    assert.deepEqual(sets['build']![0]!.include, ['coreutils', 'dosfstools', 'e2fsprogs', 'glibc', 'policycoreutils', 'python3', 'rpm', 'selinux-policy-targeted', 'systemd', 'xz']);
    const os = sets['os']!;
    assert.equal(os.length, 2, 'no blueprint packages: transaction 3 dropped');
    assert.deepEqual([...os[0]!.include].sort(), ['@core', 'NetworkManager-wifi', 'dosfstools', 'dracut-config-generic', 'e2fsprogs', 'efibootmgr', 'grub2-efi-x64', 'initial-setup', 'kernel', 'shim-x64'].sort());
    assert.deepEqual(os[0]!.exclude, ['dracut-config-rescue']);
    assert.equal(os[0]!.installWeakDeps, true);
    assert.deepEqual(os[1], { include: ['selinux-policy-targeted'], exclude: [], installWeakDeps: false });
    assert.equal(diskGenerator.ostreeSource(req(it0)), undefined);
  });

  it('pipelines build, os, image, xz; only build has a runner', () => {
    assert.deepEqual(m.pipelines.map((p) => [p.name, p.build ?? null, p.runner ?? null]), [
      ['build', null, 'org.osbuild.fedora42'],
      ['os', 'name:build', null],
      ['image', 'name:build', null],
      ['xz', 'name:build', null],
    ]);
    assert.equal('metadata' in m, false);
  });

  it('os stage order per §5.2', () => {
    assert.deepEqual(types(stagesOf(m, 'os')), [
      'kernel-cmdline', 'rpm', 'fix-bls', 'locale', 'hostname', 'timezone', 'sysconfig', 'fstab', 'grub2', 'copy', 'chown', 'systemd', 'selinux',
    ]);
  });

  it('os stage options', () => {
    const [kc] = find(m, 'os', 'kernel-cmdline');
    const [fstab] = find(m, 'os', 'fstab');
    const fss = fstab!.options!['filesystems'] as { uuid: string; path: string; vfs_type: string; options: string; passno?: number }[];
    assert.deepEqual(fss.map((f) => [f.path, f.vfs_type, f.options, f.passno]), [
      ['/', 'ext4', 'defaults', undefined],
      ['/boot', 'ext4', 'defaults', undefined],
      ['/boot/efi', 'vfat', ESP_OPTS, 2],
    ]);
    const rootUuid = fss[0]!.uuid;
    assert.deepEqual(kc!.options, { root_fs_uuid: rootUuid, kernel_opts: 'ro' });
    assert.deepEqual(find(m, 'os', 'fix-bls')[0]!.options, { prefix: '' });
    assert.deepEqual(find(m, 'os', 'locale')[0]!.options, { language: 'C.UTF-8' });
    assert.deepEqual(find(m, 'os', 'sysconfig')[0]!.options, { kernel: { update_default: true, default_kernel: 'kernel-core' } });
    assert.deepEqual(find(m, 'os', 'grub2')[0]!.options, {
      root_fs_uuid: rootUuid, boot_fs_uuid: fss[1]!.uuid, kernel_opts: 'ro', uefi: { vendor: 'fedora', unified: true },
      saved_entry: 'ffffffffffffffffffffffffffffffff-6.14.5-300.fc42.x86_64', write_cmdline: false, config: { timeout: 5 }, compat_version: 2,
    });
    assert.deepEqual(find(m, 'os', 'systemd')[0]!.options, { enabled_services: ['NetworkManager.service', 'initial-setup.service', 'sshd.service', 'firewalld.service'] });
    assert.deepEqual(find(m, 'os', 'selinux')[0]!.options, { file_contexts: 'etc/selinux/targeted/contexts/files/file_contexts' });
    const rpm = find(m, 'os', 'rpm');
    assert.equal(rpm.length, 1, 'the empty selinux transaction gives no stage');
    assert.deepEqual(rpm[0]!.options, { gpgkeys: [FEDORA_KEY] });
  });

  it('anaconda-ks.cfg from an inline source, chowned to root', () => {
    const [copy] = find(m, 'os', 'copy');
    const [name] = Object.keys(copy!.inputs!);
    const id = `sha256:${name!.slice(5)}`;
    assert.deepEqual(copy!.options, { paths: [{ from: `input://${name}/${id}`, to: 'tree:///root/anaconda-ks.cfg', remove_destination: true }] });
    const data = (m.sources['org.osbuild.inline']!.items[id] as { data: string }).data;
    assert.match(Buffer.from(data, 'base64').toString(), /firstboot --reconfig/);
    assert.deepEqual(find(m, 'os', 'chown')[0]!.options, { items: { '/root/anaconda-ks.cfg': { user: 'root', group: 'root' } } });
  });

  it('image pipeline: truncate, sfdisk, mkfs per fs, copy; no grub2.inst (UEFI only)', () => {
    const st = stagesOf(m, 'image');
    assert.deepEqual(types(st), ['truncate', 'sfdisk', 'mkfs.fat', 'mkfs.ext4', 'mkfs.ext4', 'copy']);
    assert.deepEqual(st[0]!.options, { filename: 'disk.img', size: String(5322 * MiB) });
    const sf = st[1]!.options as { label: string; uuid: string; partitions: { start: number; size: number; type: string; uuid: string }[] };
    assert.equal(sf.label, 'gpt');
    assert.deepEqual(sf.partitions.map((p) => [p.start, p.size, p.type]), [
      [2048, 409600, GUID.ESP],
      [201 * 2048, 2048 * 2048, GUID.XBOOTLDR],
      [2249 * 2048, (5322 - 2249) * 2048 - 33, GUID.LINUX_DATA],
    ]);
    assert.deepEqual(st[1]!.devices, { device: { type: 'org.osbuild.loopback', options: { filename: 'disk.img', lock: true } } });
    const fat = st[2]!;
    assert.match(fat.options!['volid'] as string, /^[0-9A-F]{8}$/);
    assert.equal(fat.options!['label'], 'ESP');
    assert.deepEqual(fat.devices, { device: { type: 'org.osbuild.loopback', options: { filename: 'disk.img', start: 2048, size: 409600, lock: true } } });
    assert.equal(st[4]!.options!['label'], 'root');
    const copy = st[5]!;
    assert.deepEqual(copy.options, { paths: [{ from: 'input://root-tree/', to: 'mount://-/' }] });
    assert.deepEqual(copy.inputs, { 'root-tree': { type: 'org.osbuild.tree', origin: 'org.osbuild.pipeline', references: ['name:os'] } });
    assert.deepEqual(copy.mounts!.map((x) => [x.name, x.type, x.source, x.target]), [
      ['-', 'org.osbuild.ext4', '-', '/'],
      ['boot', 'org.osbuild.ext4', 'boot', '/boot'],
      ['boot-efi', 'org.osbuild.fat', 'boot-efi', '/boot/efi'],
    ]);
    // the fstab ESP uuid is the mkfs volid with a dash
    const fss = find(m, 'os', 'fstab')[0]!.options!['filesystems'] as { uuid: string; path: string }[];
    assert.equal(fss[2]!.uuid.replace('-', ''), fat.options!['volid']);
  });

  it('xz pipeline compresses image/disk.img into the definition filename', () => {
    assert.deepEqual(stagesOf(m, 'xz'), [
      { type: 'org.osbuild.xz', inputs: { file: { type: 'org.osbuild.files', origin: 'org.osbuild.pipeline', references: { 'name:image': { file: 'disk.img' } } } }, options: { filename: 'disk.raw.xz' } },
    ]);
  });

  it('sources: librepo items for every package, metalink mirror', () => {
    const lr = m.sources['org.osbuild.librepo']!;
    assert.equal(Object.keys(lr.items).length, 10 + 10);
    assert.deepEqual(lr.options, { mirrors: { fedora: { url: 'https://mirrors.fedoraproject.org/metalink?repo=fedora-42&arch=x86_64', type: 'metalink' } } });
    const curl = diskGenerator.serialize(req(it0, emptyBlueprint(), 0n, false), { depsolved: depsolved('x86_64') });
    assert.equal(curl.sources['org.osbuild.librepo'], undefined);
    assert.equal(Object.keys(curl.sources['org.osbuild.curl']!.items).length, 20);
  });

  it('validates against the osbuild schemas; every stage has a computable id', () => {
    assertValid(m);
    const ids = pipelineIds(m);
    assert.equal(new Set(ids.values()).size, 4);
  });

  it('deterministic for a seed; another seed changes only the UUIDs', () => {
    const again = diskGenerator.serialize(req(it0), { depsolved: depsolved('x86_64') });
    // fixture checksums depend on a counter, so regenerate the same depsolve for both sides
    n = 0;
    const a = JSON.stringify(diskGenerator.serialize(req(it0, emptyBlueprint(), 5n), { depsolved: depsolved('x86_64') }));
    n = 0;
    const b = JSON.stringify(diskGenerator.serialize(req(it0, emptyBlueprint(), 5n), { depsolved: depsolved('x86_64') }));
    n = 0;
    const c = JSON.stringify(diskGenerator.serialize(req(it0, emptyBlueprint(), 6n), { depsolved: depsolved('x86_64') }));
    assert.equal(a, b);
    assert.notEqual(a, c);
    const uuidRe = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|"[0-9A-F]{4}-?[0-9A-F]{4}"/g;
    assert.equal(a.replace(uuidRe, 'U'), c.replace(uuidRe, 'U'));
    assert.deepEqual(types(stagesOf(again, 'os')), types(stagesOf(m, 'os')));
  });
});

describe('minimal-raw F43 (mount units, rw, no weak deps) and aarch64', () => {
  it('F43 x86_64: systemd.unit.create for /boot and /boot/efi instead of fstab, enabled', () => {
    const it0 = minimalRaw('x86_64', 43);
    const sets = diskGenerator.packageSets(req(it0));
    assert.equal(sets['os']![0]!.installWeakDeps, false);
    assert.deepEqual(sets['os']![0]!.exclude, ['dracut-config-rescue', 'firewalld']);
    const m = diskGenerator.serialize(req(it0), { depsolved: depsolved('x86_64') });
    assert.deepEqual(types(stagesOf(m, 'os')), [
      'kernel-cmdline', 'rpm', 'fix-bls', 'locale', 'hostname', 'timezone', 'sysconfig', 'systemd.unit.create', 'systemd.unit.create', 'grub2', 'copy', 'chown', 'systemd', 'selinux',
    ]);
    const units = find(m, 'os', 'systemd.unit.create');
    assert.deepEqual(units.map((u) => u.options!['filename']), ['boot-efi.mount', 'boot.mount']);
    assert.equal(units[0]!.options!['unit-path'], 'etc');
    assert.deepEqual(find(m, 'os', 'systemd')[0]!.options!['enabled_services'], ['NetworkManager.service', 'initial-setup.service', 'sshd.service', 'boot-efi.mount', 'boot.mount']);
    assert.equal(find(m, 'os', 'kernel-cmdline')[0]!.options!['kernel_opts'], 'rw');
    assert.equal(m.pipelines[0]!.runner, 'org.osbuild.fedora43');
    assertValid(m);
  });

  it('aarch64: dos table with 16 MiB offset, boot files copied onto the ESP', () => {
    const it0 = minimalRaw('aarch64');
    const sets = diskGenerator.packageSets(req(it0));
    for (const p of ['arm-image-installer', 'bcm283x-firmware', 'uboot-images-armv8', 'grub2-efi-aa64', 'shim-aa64']) assert.ok(sets['os']![0]!.include.includes(p), p);
    const m = diskGenerator.serialize(req(it0), { depsolved: depsolved('aarch64') });
    const st = stagesOf(m, 'image');
    assert.deepEqual(types(st), ['truncate', 'sfdisk', 'mkfs.fat', 'mkfs.ext4', 'mkfs.ext4', 'copy', 'copy']);
    const sf = st[1]!.options as { label: string; uuid: string; partitions: { start: number; bootable?: boolean; type: string; uuid?: string }[] };
    assert.equal(sf.label, 'dos');
    assert.match(sf.uuid, /^0x[0-9a-f]{8}$/);
    assert.deepEqual(sf.partitions.map((p) => [p.start / 2048, p.type, p.bootable ?? false, p.uuid]), [
      [17, '06', true, undefined],
      [217, '83', false, undefined],
      [2265, '83', false, undefined],
    ]);
    assert.equal(st[0]!.options!['size'], String(5337 * MiB));
    assert.deepEqual(st[6]!.options, { paths: [{ from: 'input://root-tree/usr/share/uboot/rpi_arm64/u-boot.bin', to: 'mount://-/boot/efi/rpi-u-boot.bin' }] });
    assert.match(find(m, 'os', 'grub2')[0]!.options!['saved_entry'] as string, /-6\.14\.5-300\.fc42\.aarch64$/);
    assert.equal(find(m, 'os', 'grub2')[0]!.options!['legacy'], undefined);
    assertValid(m);
  });

  it('minimal-raw-zst: zstd pipeline and build package', () => {
    const it0 = minimalRaw('x86_64', 42, true);
    assert.ok(diskGenerator.packageSets(req(it0))['build']![0]!.include.includes('zstd'));
    const m = diskGenerator.serialize(req(it0), { depsolved: depsolved('x86_64') });
    assert.deepEqual(m.pipelines.map((p) => p.name), ['build', 'os', 'image', 'zstd']);
    assert.deepEqual(stagesOf(m, 'zstd')[0]!.options, { filename: 'disk.raw.zst' });
    assertValid(m);
  });
});

describe('generic-qcow2', () => {
  it('x86_64 hybrid: BIOS boot partition, legacy grub, grub2.inst, qcow2 without compat', () => {
    const it0 = genericQcow2('x86_64');
    const sets = diskGenerator.packageSets(req(it0));
    for (const p of ['qemu-img', 'grub2-pc']) assert.ok(sets['build']![0]!.include.includes(p), p);
    const m = diskGenerator.serialize(req(it0), { depsolved: depsolved('x86_64', { tar: true }) });
    assert.deepEqual(m.pipelines.map((p) => p.name), ['build', 'os', 'image', 'qcow2']);
    assert.deepEqual(Object.keys(find(m, 'build', 'selinux')[0]!.options!['labels'] as object), ['/usr/bin/cp', '/usr/bin/tar']);
    const grub = find(m, 'os', 'grub2')[0]!.options!;
    assert.equal(grub['legacy'], 'i386-pc');
    assert.deepEqual(grub['config'], { timeout: 5 });
    const osTypes = types(stagesOf(m, 'os'));
    assert.deepEqual(osTypes.slice(-3), ['systemd', 'machine-id', 'selinux']);
    assert.deepEqual(find(m, 'os', 'systemd')[0]!.options!['default_target'], 'multi-user.target');
    assert.deepEqual(find(m, 'os', 'machine-id')[0]!.options, { 'first-boot': 'yes' });
    const img = stagesOf(m, 'image');
    assert.deepEqual(types(img), ['truncate', 'sfdisk', 'mkfs.fat', 'mkfs.ext4', 'mkfs.ext4', 'copy', 'grub2.inst']);
    const sf = img[1]!.options as { partitions: { start: number; size: number; type: string; bootable?: boolean; uuid?: string }[] };
    assert.deepEqual(sf.partitions[0], { bootable: true, size: 2048, start: 2048, type: GUID.BIOS_BOOT, uuid: sf.partitions[0]!.uuid });
    assert.deepEqual(img[6]!.options, {
      filename: 'disk.img', platform: 'i386-pc', location: 2048,
      core: { type: 'mkimage', partlabel: 'gpt', filesystem: 'ext4' },
      prefix: { type: 'partition', partlabel: 'gpt', number: 2, path: '/grub2' },
    });
    assert.deepEqual(stagesOf(m, 'qcow2'), [
      { type: 'org.osbuild.qemu', inputs: { image: { type: 'org.osbuild.files', origin: 'org.osbuild.pipeline', references: { 'name:image': { file: 'disk.img' } } } }, options: { filename: 'disk.qcow2', format: { type: 'qcow2' } } },
    ]);
    assertValid(m);
  });

  it('aarch64 uefi: no grub2.inst, qcow2 compat 1.1', () => {
    const m = diskGenerator.serialize(req(genericQcow2('aarch64')), { depsolved: depsolved('aarch64') });
    assert.ok(!types(stagesOf(m, 'image')).includes('grub2.inst'));
    assert.deepEqual(stagesOf(m, 'qcow2')[0]!.options, { filename: 'disk.qcow2', format: { type: 'qcow2', compat: '1.1' } });
    assertValid(m);
  });
});

describe('blueprint customizations', () => {
  const bp: Blueprint = {
    ...emptyBlueprint(),
    packages: [{ name: 'tmux' }, { name: 'vim-enhanced', version: '9.1.*' }],
    groups: [{ name: 'container-management' }],
    customizations: {
      hostname: 'kiln-host',
      kernel: { append: 'console=ttyS0 nosmt' },
      timezone: { timezone: 'Europe/Prague', ntpservers: ['pool.ntp.org'] },
      locale: { languages: ['cs_CZ.UTF-8'], keyboard: 'cz' },
      firewall: { ports: ['8080:tcp'], services: { enabled: ['cockpit'], disabled: ['dhcpv6-client'] } },
      services: { enabled: ['cockpit.socket'], disabled: ['bluetooth.service'], masked: ['rpcbind.service'] },
      user: [{ name: 'alice', password: 'secret', key: 'ssh-ed25519 AAAA alice', groups: ['wheel'], uid: 1001 }],
      group: [{ name: 'devs', gid: 2000 }],
      files: [{ path: '/etc/motd', data: 'hello\n', mode: '0644', user: 'alice' }],
      directories: [{ path: '/srv/data', mode: '0750', user: 'alice', group: 'devs', ensure_parents: true }],
      filesystem: [{ mountpoint: '/', minsize: 10 * GiB }],
    },
  };

  it('package chain gets customization and blueprint transactions', () => {
    const sets = diskGenerator.packageSets(req(minimalRaw('x86_64'), bp));
    const os = sets['os']!;
    assert.equal(os.length, 3);
    assert.deepEqual(os[1]!.include, ['selinux-policy-targeted', 'chrony', 'firewalld']);
    assert.deepEqual(os[2], { include: ['tmux', 'vim-enhanced-9.1.*', '@container-management'], exclude: [], installWeakDeps: false });
    assert.ok(sets['build']![0]!.include.includes('shadow-utils'));
  });

  it('stages carry the customizations; the manifest validates', () => {
    const m = diskGenerator.serialize(req(minimalRaw('x86_64'), bp), { depsolved: depsolved('x86_64', { bpPackages: true }) });
    assert.equal(find(m, 'os', 'rpm').length, 2);
    assert.deepEqual(find(m, 'os', 'hostname')[0]!.options, { hostname: 'kiln-host' });
    assert.deepEqual(find(m, 'os', 'timezone')[0]!.options, { zone: 'Europe/Prague' });
    assert.deepEqual(find(m, 'os', 'locale')[0]!.options, { language: 'cs_CZ.UTF-8' });
    assert.deepEqual(find(m, 'os', 'keymap')[0]!.options, { keymap: 'cz' });
    assert.deepEqual(find(m, 'os', 'chrony')[0]!.options, { timeservers: ['pool.ntp.org'] });
    assert.deepEqual(find(m, 'os', 'firewall')[0]!.options, { ports: ['8080:tcp'], enabled_services: ['cockpit'], disabled_services: ['dhcpv6-client'] });
    assert.equal(find(m, 'os', 'kernel-cmdline')[0]!.options!['kernel_opts'], 'ro console=ttyS0 nosmt');
    assert.equal(find(m, 'os', 'grub2')[0]!.options!['kernel_opts'], 'ro console=ttyS0 nosmt');
    assert.deepEqual(find(m, 'os', 'systemd')[0]!.options, {
      enabled_services: ['NetworkManager.service', 'initial-setup.service', 'sshd.service', 'firewalld.service', 'cockpit.socket'],
      disabled_services: ['bluetooth.service'],
      masked_services: ['rpcbind.service'],
    });
    assert.deepEqual(find(m, 'os', 'groups')[0]!.options, { groups: { devs: { gid: 2000 } } });
    const alice = (find(m, 'os', 'users')[0]!.options!['users'] as Record<string, Record<string, unknown>>)['alice']!;
    assert.match(alice['password'] as string, /^\$6\$/);
    assert.deepEqual({ ...alice, password: 'x' }, { uid: 1001, groups: ['wheel'], password: 'x', key: 'ssh-ed25519 AAAA alice' });
    assert.deepEqual(find(m, 'os', 'mkdir')[0]!.options, { paths: [{ path: '/srv/data', mode: 0o750, parents: true, exist_ok: true }] });
    assert.deepEqual(find(m, 'os', 'chmod')[0]!.options, { items: { '/etc/motd': { mode: '0644' } } });
    const chowns = find(m, 'os', 'chown').map((s) => s.options);
    assert.deepEqual(chowns, [{ items: { '/srv/data': { user: 'alice', group: 'devs' } } }, { items: { '/root/anaconda-ks.cfg': { user: 'root', group: 'root' }, '/etc/motd': { user: 'alice' } } }]);
    // users exist before the files owned by them
    const t = types(stagesOf(m, 'os'));
    assert.ok(t.indexOf('users') < t.indexOf('copy'));
    assert.equal(t[t.length - 1], 'selinux');
    // blueprint filesystem grew root: 201 + 2048 MiB before it, 10 GiB root -> disk
    assert.equal(stagesOf(m, 'image')[0]!.options!['size'], String((2249 + 10 * 1024 + 1) * MiB));
    // the tmux package comes from the unsigned local repo: no check_gpg for it, mirror by baseurl
    const rpm2 = find(m, 'os', 'rpm')[1]!;
    assert.deepEqual((rpm2.inputs!['packages']!.references as { options?: unknown }[])[0]!.options, undefined);
    assert.deepEqual(rpm2.options, {}, 'no keys: no gpgkeys option at all');
    assert.deepEqual((m.sources['org.osbuild.librepo']!.options as { mirrors: Record<string, unknown> }).mirrors['local'], { url: 'file:///srv/local/', type: 'baseurl' });
    assertValid(m);
  });
});

describe('generic-container', () => {
  function containerType(arch: string): ResolvedImageType {
    const it0 = minimalRaw(arch);
    return {
      ...it0, name: 'generic-container', filename: 'container.tar', mime_type: 'application/x-tar', compression: '', bootable: false, image_func: 'container',
      exports: ['container'], partition_table: undefined, required_partition_sizes: {}, boot_mode: 'none', disk_config: undefined,
      platform: { arch, packages: {}, build_packages: {} },
      package_sets: { os: { include: ['bash', 'coreutils', 'dnf5'], exclude: ['kernel'] } },
      image_config: { locale: 'C.UTF-8', timezone: 'UTC', hostname: 'localhost.localdomain', install_weak_deps: false },
    };
  }

  it('build, os (no kernel, no boot), container oci-archive', () => {
    const it0 = containerType('aarch64');
    const sets = containerGenerator.packageSets(req(it0));
    assert.ok(!sets['os']![0]!.include.includes('kernel'));
    assert.ok(sets['build']![0]!.include.includes('tar'));
    const m = containerGenerator.serialize(req(it0), { depsolved: depsolved('aarch64', { tar: true }) });
    assert.deepEqual(m.pipelines.map((p) => p.name), ['build', 'os', 'container']);
    assert.deepEqual(types(stagesOf(m, 'os')), ['rpm', 'locale', 'hostname', 'timezone', 'selinux']);
    assert.deepEqual(stagesOf(m, 'container'), [
      { type: 'org.osbuild.oci-archive', inputs: { base: { type: 'org.osbuild.tree', origin: 'org.osbuild.pipeline', references: ['name:os'] } }, options: { architecture: 'arm64', filename: 'container.tar' } },
    ]);
    assertValid(m);
  });

  it('wrong exports is an error naming the image type', () => {
    assert.throws(() => containerGenerator.packageSets(req({ ...containerType('x86_64'), exports: ['tar'] })), /"generic-container": exports \["tar"\] must be \["container"\]/);
  });
});

describe('bad inputs', () => {
  it('missing kernel in the depsolve', () => {
    const d = depsolved('x86_64');
    d['os']!.transactions[0] = d['os']!.transactions[0]!.filter((p) => p.name !== 'kernel');
    assert.throws(() => diskGenerator.serialize(req(minimalRaw('x86_64')), { depsolved: d }), /kernel package "kernel" is not among the depsolved os packages/);
  });

  it('missing os depsolve, export mismatch, no partition table, unsupported format', () => {
    assert.throws(() => diskGenerator.serialize(req(minimalRaw('x86_64')), { depsolved: { build: depsolved('x86_64')['build']! } }), /"minimal-raw-xz": no depsolved packages for the os pipeline/);
    assert.throws(() => diskGenerator.packageSets(req({ ...minimalRaw('x86_64'), exports: ['image'] })), /"minimal-raw-xz": exports \["image"\] must be \["xz"\]/);
    assert.throws(() => diskGenerator.packageSets(req({ ...minimalRaw('x86_64'), partition_table: undefined })), /"minimal-raw-xz" \(x86_64\): a disk image needs a partition_table/);
    const ova = genericQcow2('x86_64');
    ova.platform = { ...ova.platform, image_format: 'ova' };
    assert.throws(() => diskGenerator.packageSets(req(ova)), /image_format "ova" is not supported yet/);
  });

  it('a bad blueprint mountpoint names the entry', () => {
    const bp = { ...emptyBlueprint(), customizations: { filesystem: [{ mountpoint: '/proc', minsize: GiB }] } };
    assert.throws(() => diskGenerator.packageSets(req(minimalRaw('x86_64'), bp)), /image type "minimal-raw-xz" \(x86_64\): blueprint customizations\.filesystem\[0\]: mountpoint "\/proc" is not allowed/);
  });

  it('a bad directory mode names the path', () => {
    const bp = { ...emptyBlueprint(), customizations: { directories: [{ path: '/srv/x', mode: 'rwx' }] } };
    assert.throws(() => diskGenerator.serialize(req(minimalRaw('x86_64'), bp), { depsolved: depsolved('x86_64') }), /"\/srv\/x": mode "rwx"/);
  });
});
