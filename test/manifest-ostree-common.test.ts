// Helpers shared by the ostree generators: ref templating, ISO labels, deployment kernel options,
// and installer ISO variants (erofs root, UEFI-only boot) driven by iso_config.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { deploymentKernelOpts, isoLabel, substituteArch } from '../src/manifest/generators/ostree-common.js';
import { ostreeInstallerGenerator } from '../src/manifest/generators/ostree-installer.js';
import { validateManifest } from '../src/manifest/validate.js';
import { KilnError } from '../src/util/errors.js';
import { COMMIT, emptyBp, fakeDepsolve, iotInstaller, iotRawXz, request } from './manifest-ostree-fixtures.js';

describe('substituteArch', () => {
  it('replaces $arch, ${arch}, $basearch and ${basearch}; leaves other text alone', () => {
    assert.equal(substituteArch('fedora/rawhide/$arch/iot', 'aarch64'), 'fedora/rawhide/aarch64/iot');
    assert.equal(substituteArch('a/${basearch}/b/${arch}/$basearch', 'x86_64'), 'a/x86_64/b/x86_64/x86_64');
    assert.equal(substituteArch('fedora/42/x86_64/iot', 'aarch64'), 'fedora/42/x86_64/iot');
    assert.equal(substituteArch('$architecture', 'x'), '$architecture', 'only whole variable names');
  });
});

describe('isoLabel', () => {
  it('renders the distro template with the type label, or keeps an already rendered label', () => {
    assert.equal(isoLabel(iotInstaller('aarch64')), 'Fedora-42-IoT-aarch64');
    assert.equal(isoLabel({ ...iotInstaller('x86_64'), iso_label: 'Fedora-42-IoT-x86_64' }), 'Fedora-42-IoT-x86_64');
  });
  it('names an unknown template field', () => {
    const it = iotInstaller('x86_64');
    const bad = { ...it, distro: { ...it.distro, iso_label_tmpl: '{{.Product}}-{{.Nope}}' } };
    assert.throws(() => isoLabel(bad), (e: Error) => e instanceof KilnError && /iso_label_tmpl/.test(e.message) && /Nope/.test(e.message));
  });
});

describe('deploymentKernelOpts', () => {
  it('adds the ignition platform once, $ignition_firstboot unless disabled, then the blueprint append without duplicates', () => {
    const bp = emptyBp();
    bp.customizations = { kernel: { append: 'rw  quiet console=ttyS0' } };
    assert.deepEqual(deploymentKernelOpts(iotRawXz('x86_64'), bp), ['rw', 'coreos.no_persist_ip', 'ignition.platform.id=metal', '$ignition_firstboot', 'quiet', 'console=ttyS0']);
    const it = iotRawXz('x86_64');
    it.image_config = { ...it.image_config, kernel_options: ['rw', 'ignition.platform.id=openstack'], ignition_firstboot: false };
    assert.deepEqual(deploymentKernelOpts(it, emptyBp()), ['rw', 'ignition.platform.id=openstack']);
    const noIgn = iotRawXz('x86_64');
    delete noIgn.image_config.ignition_platform;
    assert.deepEqual(deploymentKernelOpts(noIgn, emptyBp()), ['rw', 'coreos.no_persist_ip']);
  });
});

describe('iot-installer iso_config variants', () => {
  it('rootfs_type erofs + boot_type uefi on x86_64: erofs install.img, no BIOS boot, erofs-utils in the build root', () => {
    const it = iotInstaller('x86_64');
    it.iso_config = { rootfs_type: 'erofs', boot_type: 'uefi' };
    const req = request(it);
    const chains = ostreeInstallerGenerator.packageSets(req);
    assert.ok(chains['build']![0]!.include.includes('erofs-utils'));
    assert.ok(!chains['build']![0]!.include.includes('squashfs-tools'));
    assert.ok(!chains['build']![0]!.include.includes('grub2-pc-modules'));
    const m = ostreeInstallerGenerator.serialize(req, { depsolved: fakeDepsolve(chains, 'x86_64'), commit: COMMIT });
    const tree = m.pipelines.find((p) => p.name === 'bootiso-tree')!;
    const erofs = tree.stages.find((s) => s.type === 'org.osbuild.erofs')!;
    assert.deepEqual(erofs.options, { filename: 'images/install.img', compression: { method: 'lzma', level: 6 }, options: ['fragments'], 'cluster-size': 1048576 });
    assert.ok(!tree.stages.some((s) => s.type === 'org.osbuild.squashfs' || s.type === 'org.osbuild.grub2.iso.legacy'));
    const iso = m.pipelines.find((p) => p.name === 'bootiso')!.stages[0]!.options as Record<string, unknown>;
    assert.equal(iso['boot'], undefined);
    assert.deepEqual((m.pipelines.find((p) => p.name === 'efiboot-tree')!.stages[0]!.options as any).architectures, ['X64']);
    assert.deepEqual(validateManifest(m), []);
  });

  it('bad iso_config values are named', () => {
    const it = iotInstaller('x86_64');
    it.iso_config = { rootfs_type: 'ext4' };
    assert.throws(() => ostreeInstallerGenerator.packageSets(request(it)), (e: Error) => e instanceof KilnError && /iso_config.rootfs_type "ext4"/.test(e.message));
    it.iso_config = { boot_type: 'syslinux' };
    assert.throws(() => ostreeInstallerGenerator.packageSets(request(it)), (e: Error) => e instanceof KilnError && /boot_type "syslinux"/.test(e.message));
  });
});
