// Shipped definitions: every distro x type x arch resolves, and the resolved values carry the
// facts recorded in the upstream reference (expected values typed in from the reference).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  loadDefinitions, listImages, resolveImageType, describeImage, allPackageNames, allPackageGroups,
  hostDistro, hostArch, defaultDefinitionsDir,
} from '../src/defs/index.js';
import { KilnError } from '../src/util/errors.js';

const defs = loadDefinitions();
const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
const TYPES = [
  'minimal-raw-xz', 'minimal-raw-zst', 'iot-commit', 'iot-container', 'iot-raw-xz', 'iot-qcow2', 'iot-installer',
  'iot-simplified-installer', 'iot-bootable-container', 'generic-qcow2', 'generic-container',
];
const DISTROS = ['fedora-42', 'fedora-43', 'fedora-rawhide'];
const ARCHES = ['x86_64', 'aarch64'];
const ESP = 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B';
const XBOOTLDR = 'BC13C2FF-59E6-4262-A352-B275FD6F7172';
const LINUX = '0FC63DAF-8483-4772-8E79-3D69D8477DE4';

test('the shipped definitions load from the package directory', () => {
  assert.equal(defs.path, defaultDefinitionsDir());
  assert.match(defs.sha256, /^[0-9a-f]{64}$/);
  assert.deepEqual(defs.files, ['distros.yaml', 'fedora/imagetypes.yaml']);
});

test('every distro x type x arch is listed and resolves', () => {
  const listed = listImages(defs);
  assert.equal(listed.length, DISTROS.length * TYPES.length * ARCHES.length);
  for (const distro of DISTROS) for (const type of TYPES) for (const arch of ARCHES) {
    assert.ok(listed.some((e) => e.distro === distro && e.type === type && e.arch === arch), `${distro} ${type} ${arch} listed`);
    const r = resolveImageType(defs, distro, type, arch);
    assert.equal(r.name, type);
    assert.equal(r.arch, arch);
    assert.equal(r.platform.arch, arch);
    assert.deepEqual(r.source, { path: defs.path, sha256: defs.sha256 });
    assert.ok(r.package_sets.build.include.includes('python3'), 'runner packages in the build root');
    assert.ok(r.exports.every((e) => r.payload_pipelines!.includes(e)));
  }
});

test('fedora-42 minimal-raw-xz x86_64 matches the F42 reference', () => {
  const r = resolveImageType(defs, 'fedora-42', 'minimal-raw-xz', 'x86_64');
  assert.equal(r.filename, 'disk.raw.xz');
  assert.equal(r.compression, 'xz');
  assert.equal(r.default_size, 2 * GiB);
  assert.equal(r.boot_mode, 'uefi');
  assert.deepEqual(r.exports, ['xz']);
  assert.deepEqual(r.required_partition_sizes, { '/': GiB, '/usr': 2 * GiB });
  const pt = r.partition_table!;
  assert.equal(pt.type, 'gpt');
  assert.equal(pt.start_offset, undefined);
  assert.equal(pt.partitions.length, 3);
  const [esp, boot, root] = pt.partitions as any[];
  assert.equal(esp.size, 200 * MiB);
  assert.equal(esp.type, ESP);
  assert.deepEqual(esp.payload, { type: 'vfat', mountpoint: '/boot/efi', label: 'ESP', fstab_options: 'defaults,uid=0,gid=0,umask=077,shortname=winnt', fstab_freq: 0, fstab_passno: 2 });
  assert.equal(boot.size, 2 * GiB);
  assert.equal(boot.type, XBOOTLDR);
  assert.equal(boot.payload.mountpoint, '/boot');
  assert.equal(root.type, LINUX);
  assert.equal(root.payload.mountpoint, '/');
  // F42 values of the version conditions
  assert.deepEqual(r.image_config.kernel_options, ['ro']);
  assert.equal(r.image_config.install_weak_deps, true);
  assert.deepEqual(r.image_config.enabled_services, ['NetworkManager.service', 'initial-setup.service', 'sshd.service', 'firewalld.service']);
  assert.equal(r.image_config.machine_id_uninitialized, false);
  assert.equal(r.disk_config?.mount_configuration, 'fstab');
  // inherited from the distro defaults
  assert.equal(r.image_config.hostname, 'localhost.localdomain');
  assert.equal(r.image_config.timezone, 'UTC');
  assert.equal(r.image_config.default_kernel, 'kernel-core');
  assert.equal(r.distro.runner, 'org.osbuild.fedora42');
  assert.equal(r.distro.module_platform_id, 'platform:f42');
  // build root as computed upstream for this image (reference §4.6), plus zstd: Kiln's one
  // deliberate addition (definitions/distros.yaml says why)
  assert.deepEqual(r.package_sets.build.include,
    ['coreutils', 'dosfstools', 'e2fsprogs', 'glibc', 'policycoreutils', 'python3', 'rpm', 'selinux-policy-targeted', 'systemd', 'xz', 'zstd']);
  // ...so the zst variant asks for the very same build root, and shares every pipeline before its last
  const zst = resolveImageType(defs, 'fedora-42', 'minimal-raw-zst', 'x86_64');
  assert.deepEqual(zst.package_sets.build.include, r.package_sets.build.include);
  const os = r.package_sets.os;
  for (const p of ['@core', 'initial-setup', 'kernel', 'dosfstools', 'e2fsprogs', 'grub2-efi-x64', 'shim-x64', 'efibootmgr', 'dracut-config-generic']) {
    assert.ok(os.include.includes(p), `os includes ${p}`);
  }
  assert.deepEqual(os.exclude, ['dracut-config-rescue']);
});

test('fedora-43 applies the F43+ conditions', () => {
  const r = resolveImageType(defs, 'fedora-43', 'minimal-raw-xz', 'x86_64');
  assert.deepEqual(r.image_config.kernel_options, ['rw']);
  assert.equal(r.image_config.install_weak_deps, false);
  assert.ok(!r.image_config.enabled_services!.includes('firewalld.service'));
  assert.deepEqual(r.package_sets.os.exclude, ['dracut-config-rescue', 'firewalld']);
  assert.equal(r.disk_config?.mount_configuration, 'units');
  const c42 = resolveImageType(defs, 'fedora-42', 'iot-commit', 'x86_64');
  const c43 = resolveImageType(defs, 'fedora-43', 'iot-commit', 'x86_64');
  const craw = resolveImageType(defs, 'fedora-rawhide', 'iot-commit', 'x86_64');
  assert.ok(c42.package_sets.os.include.includes('basesystem') && !c42.package_sets.os.include.includes('filesystem'));
  assert.ok(c43.package_sets.os.include.includes('filesystem') && !c43.package_sets.os.include.includes('basesystem'));
  assert.ok(c43.package_sets.os.include.includes('ssh-key-dir'));
  assert.ok(!craw.package_sets.os.include.includes('ssh-key-dir'));
  assert.equal(c42.image_config.enabled_services!.length, 12);
  assert.deepEqual(c43.image_config.enabled_services, ['NetworkManager.service', 'firewalld.service', 'sshd.service', 'greenboot-healthcheck', 'bootloader-update']);
  // platforms: F44 and older use the compat firmware group
  assert.deepEqual(c42.platform.packages.compat, ['zd1211-firmware']);
  assert.equal(craw.platform.packages.compat, undefined);
});

test('aarch64 minimal-raw uses a dos table with a 16 MiB offset and the RPi boot file', () => {
  const r = resolveImageType(defs, 'fedora-42', 'minimal-raw', 'aarch64');
  assert.equal(r.name, 'minimal-raw-xz');
  assert.equal(r.partition_table!.type, 'dos');
  assert.equal(r.partition_table!.start_offset, 16 * MiB);
  assert.equal(r.partition_table!.partitions[0]!.type, '06');
  assert.equal(r.partition_table!.partitions[0]!.bootable, true);
  assert.deepEqual(r.platform.boot_files, [['/usr/share/uboot/rpi_arm64/u-boot.bin', '/boot/efi/rpi-u-boot.bin']]);
  assert.ok(r.package_sets.os.include.includes('grub2-efi-aa64'));
  const zst = resolveImageType(defs, 'fedora-42', 'minimal-raw-zst', 'aarch64');
  assert.equal(zst.filename, 'disk.raw.zst');
  assert.equal(zst.compression, 'zstd');
  assert.ok(zst.package_sets.build.include.includes('zstd'));
});

test('ostree types: refs, urls, partition tables, ignition platform', () => {
  const c = resolveImageType(defs, 'fedora-42', 'iot-commit', 'x86_64');
  assert.equal(c.ostree?.ref, 'fedora/42/x86_64/iot');
  assert.equal(c.ostree?.url, undefined);
  assert.equal(c.boot_mode, 'hybrid');
  assert.equal(c.image_config.install_weak_deps, false);
  assert.equal(c.image_config.bootupd_gen_metadata, true);
  assert.deepEqual(c.image_config.ostree_preptree, { etc_group_members: ['wheel', 'docker'] });
  for (const p of ['rpm-ostree', 'tar', 'grub2-pc', 'shim-ia32']) assert.ok(c.package_sets.build.include.includes(p), `build has ${p}`);
  assert.equal(resolveImageType(defs, 'fedora-45', 'iot-commit', 'aarch64').ostree?.ref, 'fedora/45/aarch64/iot');
  assert.equal(resolveImageType(defs, 'fedora-42', 'iot-container', 'x86_64').image_config.install_weak_deps, true);

  const raw = resolveImageType(defs, 'fedora-42', 'fedora-iot-raw-image', 'x86_64');
  assert.equal(raw.name, 'iot-raw-xz');
  assert.equal(raw.default_size, 6 * GiB);
  assert.deepEqual(raw.required_partition_sizes, { '/': 0 });
  assert.equal(raw.ostree?.name, 'fedora-iot');
  assert.equal(raw.ostree?.url, 'mirrorlist=https://ostree.fedoraproject.org/iot/mirrorlist');
  assert.equal(raw.partition_table!.uuid, 'D209C89E-EA5E-4FBD-B161-B461CCE297E0');
  assert.equal(raw.partition_table!.start_offset, 8 * MiB);
  assert.deepEqual(raw.partition_table!.partitions.map((p) => p.size), [501 * MiB, 2 * GiB, 2569 * MiB]);
  assert.equal(raw.image_config.ignition_platform, 'metal');
  assert.equal(raw.image_config.lock_root_user, true);
  assert.equal(raw.boot_mode, 'uefi');
  assert.deepEqual(raw.package_sets.build.include, ['coreutils', 'dosfstools', 'dracut-config-generic', 'e2fsprogs', 'efibootmgr', 'glibc',
    'grub2-efi-x64', 'python3', 'rpm-ostree', 'selinux-policy-targeted', 'shadow-utils', 'shim-x64', 'systemd', 'xz', 'zstd']);

  const q = resolveImageType(defs, 'fedora-42', 'iot-qcow2-image', 'aarch64');
  assert.equal(q.image_config.ignition_platform, 'qemu');
  assert.equal(q.platform.qcow2_compat, '1.1');
  assert.equal(q.partition_table!.uuid, '0xc1748067');
  assert.equal(q.default_size, 10 * GiB);

  const inst = resolveImageType(defs, 'fedora-42', 'fedora-iot-installer', 'x86_64');
  assert.equal(inst.iso_label, 'Fedora-42-IoT-x86_64');
  assert.equal(inst.boot_iso, true);
  assert.ok(inst.package_sets.installer.include.includes('fedora-release-iot'));
  assert.ok(inst.package_sets.installer.include.includes('memtest86+'));
  assert.equal(inst.iso_config?.rootfs_type, 'squashfs');
  assert.equal(resolveImageType(defs, 'fedora-rawhide', 'iot-installer', 'aarch64').iso_config?.rootfs_type, 'erofs');
  assert.equal(resolveImageType(defs, 'fedora-42', 'iot-installer', 'aarch64').boot_mode, 'uefi');

  const simp = resolveImageType(defs, 'fedora-42', 'iot-simplified-installer', 'x86_64');
  assert.equal(simp.ostree?.name, 'fedora');
  assert.ok(simp.blueprint.required_options.includes('customizations.installation_device'));
  const luks = simp.partition_table!.partitions[2] as any;
  assert.equal(luks.payload_type, 'luks');
  assert.equal(luks.payload.payload.logical_volumes[0].size, 8 * GiB);
  for (const p of ['lvm2', 'cryptsetup', 'clevis-luks']) assert.ok(simp.package_sets.build.include.includes(p), `build has ${p}`);
});

test('aliases resolve to canonical names; rawhide answers to both names', () => {
  assert.equal(resolveImageType(defs, 'fedora-42', 'qcow2', 'x86_64').name, 'generic-qcow2');
  assert.equal(resolveImageType(defs, 'fedora-42', 'guest-image', 'aarch64').name, 'generic-qcow2');
  assert.equal(resolveImageType(defs, 'fedora-42', 'container', 'x86_64').name, 'generic-container');
  assert.equal(resolveImageType(defs, 'distro:fedora-42', 'type:fedora-iot-commit', 'arch:x86_64').name, 'iot-commit');
  const a = resolveImageType(defs, 'fedora-45', 'iot-commit', 'x86_64');
  const b = resolveImageType(defs, 'fedora-rawhide', 'iot-commit', 'x86_64');
  assert.equal(a.distro.name, 'fedora-rawhide');
  assert.deepEqual(a, b);
  assert.equal(a.distro.preview, true);
});

test('unknown combinations and globs are refused with upstream-style messages', () => {
  assert.throws(() => resolveImageType(defs, 'fedora-42', 'foo', 'x86_64'),
    (e: unknown) => e instanceof KilnError && e.message === 'cannot find image for: distro:"fedora-42" type:"foo" arch:"x86_64"');
  assert.throws(() => resolveImageType(defs, 'fedora-41', 'minimal-raw-xz', 'x86_64'), /cannot find image for: distro:"fedora-41"/);
  assert.throws(() => resolveImageType(defs, 'fedora-42', 'minimal-raw-xz', 's390x'), /arch:"s390x"/);
  assert.throws(() => resolveImageType(defs, 'fedora-42', 'iot-*', 'x86_64'), /cannot use globs in image type "iot-\*"/);
});

test('describeImage gives upstream describe keys, pipelines and packages per pipeline', () => {
  const d = describeImage(resolveImageType(defs, 'fedora-43', 'minimal-raw', 'x86_64'));
  assert.deepEqual(Object.keys(d), ['distro', 'type', 'arch', 'os_version', 'bootmode', 'partition_type', 'default_filename',
    'build_pipelines', 'payload_pipelines', 'packages', 'blueprint', 'partition_table']);
  assert.equal(d.type, 'minimal-raw-xz');
  assert.equal(d.os_version, '43');
  assert.equal(d.partition_type, 'gpt');
  assert.deepEqual(d.build_pipelines, ['build']);
  assert.deepEqual(d.payload_pipelines, ['os', 'image', 'xz']);
  // the merged os list of the upstream F43 describe example (before the Aug-2025 additions)
  for (const p of ['@core', 'NetworkManager-wifi', 'brcmfmac-firmware', 'dosfstools', 'dracut-config-generic', 'e2fsprogs', 'efibootmgr',
    'grub2-efi-x64', 'initial-setup', 'iwlwifi-mvm-firmware', 'kernel', 'libxkbcommon', 'realtek-firmware', 'selinux-policy-targeted', 'shim-x64']) {
    assert.ok(d.packages.os!.include.includes(p), `os has ${p}`);
  }
  assert.deepEqual(d.packages.os!.exclude, ['dracut-config-rescue', 'firewalld']);
  const inst = describeImage(resolveImageType(defs, 'fedora-42', 'iot-installer', 'x86_64'));
  assert.deepEqual(Object.keys(inst.packages).sort(), ['anaconda-tree', 'build']);
  assert.equal(inst.partition_table, undefined);
  assert.equal(inst.partition_type, '');
  assert.deepEqual(inst.payload_pipelines, ['anaconda-tree', 'efiboot-tree', 'bootiso-tree', 'bootiso']);
  assert.deepEqual(describeImage(resolveImageType(defs, 'fedora-42', 'iot-commit', 'x86_64')).payload_pipelines, ['os', 'ostree-commit', 'commit-archive']);
  assert.equal(describeImage(resolveImageType(defs, 'fedora-42', 'generic-container', 'x86_64')).bootmode, 'none');
});

test('allPackageNames covers every requested package; groups are separate', () => {
  const names = allPackageNames(defs);
  assert.deepEqual(names, [...names].sort());
  for (const p of ['kernel', 'grub2-efi-x64', 'shim-aa64', 'zd1211-firmware', 'erofs-utils', 'squashfs-tools', 'glibc', 'python3',
    'xorriso', 'lvm2', 'btrfs-progs', 'xfsprogs', 'anaconda', 'fedora-release-iot', 'basesystem', 'filesystem', 'bootc', 'nginx', 'qemu-img', 'chrony']) {
    assert.ok(names.includes(p), `has ${p}`);
  }
  assert.ok(!names.some((n) => n.startsWith('@')));
  assert.ok(!names.includes('dracut-config-rescue'), 'excludes are not requested');
  assert.deepEqual(allPackageGroups(defs), ['Fedora Cloud Server', 'core']);
  // every resolved include is covered
  for (const e of listImages(defs)) {
    const r = resolveImageType(defs, e.distro, e.type, e.arch);
    for (const ps of Object.values(r.package_sets)) for (const p of ps.include) if (!p.startsWith('@')) assert.ok(names.includes(p), p);
  }
});

test('hostDistro reads ID-VERSION_ID; hostArch maps node arch names', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-defs-host-'));
  try {
    const f = join(dir, 'os-release');
    writeFileSync(f, 'NAME="Fedora Linux"\nID=fedora\nVERSION_ID=42\n');
    assert.equal(hostDistro([f]), 'fedora-42');
    writeFileSync(f, 'NAME=x\nID=fedora\n');
    assert.throws(() => hostDistro([f]), (e: unknown) => e instanceof KilnError && e.message.includes(f) && /VERSION_ID/.test(e.message));
    writeFileSync(f, 'ID="fedora"\nVERSION_ID="43"\n');
    assert.equal(hostDistro([join(dir, 'nope'), f]), 'fedora-43', 'falls back to the next file, strips quotes');
    assert.throws(() => hostDistro([join(dir, 'nope')]), /use --distro/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.equal(hostArch('x64'), 'x86_64');
  assert.equal(hostArch('arm64'), 'aarch64');
  assert.throws(() => hostArch('mips'), /unsupported host architecture "mips"/);
});

