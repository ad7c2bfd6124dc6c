// The ostree generators driven by the real definitions (definitions/fedora): every IoT type on
// x86_64 and aarch64 for each Fedora release yields a schema-valid manifest with the pipelines the
// definitions list, and the options the definitions set reach the stages.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadDefinitions, resolveImageType } from '../src/defs/index.js';
import { bootableContainerGenerator } from '../src/manifest/generators/bootable-container.js';
import { ostreeCommitGenerator, ostreeContainerGenerator } from '../src/manifest/generators/ostree-commit.js';
import { ostreeDiskGenerator } from '../src/manifest/generators/ostree-disk.js';
import { ostreeInstallerGenerator } from '../src/manifest/generators/ostree-installer.js';
import { ostreeSimplifiedInstallerGenerator } from '../src/manifest/generators/ostree-simplified-installer.js';
import type { ImageGenerator, Manifest } from '../src/manifest/types.js';
import { validateManifest } from '../src/manifest/validate.js';
import { emptyBp, fakeDepsolve, request, type Arch } from './manifest-ostree-fixtures.js';

const GENERATORS: Record<string, ImageGenerator> = {
  ostree_commit: ostreeCommitGenerator,
  ostree_container: ostreeContainerGenerator,
  ostree_disk: ostreeDiskGenerator,
  ostree_installer: ostreeInstallerGenerator,
  ostree_simplified_installer: ostreeSimplifiedInstallerGenerator,
  bootable_container: bootableContainerGenerator,
};

const EXPECTED: Record<string, string[]> = {
  'iot-commit': ['build', 'os', 'ostree-commit', 'commit-archive'],
  'iot-container': ['build', 'os', 'ostree-commit', 'container-tree', 'container'],
  'iot-bootable-container': ['build', 'os', 'ostree-commit', 'ostree-encapsulate'],
  'iot-raw-xz': ['build', 'ostree-deployment', 'image', 'xz'],
  'iot-qcow2': ['build', 'ostree-deployment', 'image', 'qcow2'],
  'iot-installer': ['build', 'anaconda-tree', 'efiboot-tree', 'bootiso-tree', 'bootiso'],
  'iot-simplified-installer': ['build', 'ostree-deployment', 'image', 'xz', 'coi-tree', 'efiboot-tree', 'bootiso-tree', 'bootiso'],
};

const defs = loadDefinitions();

function build(distro: string, type: string, arch: Arch): Manifest {
  const it = resolveImageType(defs, distro, type, arch);
  const g = GENERATORS[it.image_func];
  assert.ok(g, `no ostree generator for image_func ${it.image_func}`);
  const bp = emptyBp();
  if (type === 'iot-simplified-installer') bp.customizations = { installation_device: '/dev/vda' };
  const req = request(it, { blueprint: bp });
  const src = g.ostreeSource(req);
  const commit = src ? { ...src, checksum: 'ab'.repeat(32) } : undefined;
  return g.serialize(req, { depsolved: fakeDepsolve(g.packageSets(req), arch), commit });
}

describe('ostree generators with the shipped definitions', () => {
  for (const distro of ['fedora-42', 'fedora-43']) {
    for (const arch of ['x86_64', 'aarch64'] as Arch[]) {
      it(`${distro} ${arch}: all IoT types are valid manifests with the expected pipelines`, () => {
        for (const [type, pipelines] of Object.entries(EXPECTED)) {
          const m = build(distro, type, arch);
          assert.deepEqual(m.pipelines.map((p) => p.name), pipelines, type);
          assert.deepEqual(validateManifest(m), [], `${distro} ${arch} ${type}`);
        }
      });
    }
  }

  it('fedora-42 iot-installer x86_64: label, BIOS + EFI boot, definitions options in the stages', () => {
    const m = build('fedora-42', 'iot-installer', 'x86_64');
    const tree = m.pipelines.find((p) => p.name === 'bootiso-tree')!;
    const types = tree.stages.map((s) => s.type);
    assert.ok(types.includes('org.osbuild.grub2.iso.legacy') && types.includes('org.osbuild.squashfs'));
    const iso = m.pipelines.find((p) => p.name === 'bootiso')!.stages[0]!.options as Record<string, unknown>;
    assert.equal(iso['volid'], 'Fedora-42-IoT-x86_64');
    const ana = m.pipelines.find((p) => p.name === 'anaconda-tree')!;
    const dracut = ana.stages.find((s) => s.type === 'org.osbuild.dracut')!.options as Record<string, string[]>;
    assert.deepEqual(dracut['add_modules'], ['pollcdrom', 'qemu', 'qemu-net', 'net-lib', 'dbus-broker', 'biosdevname', 'fips', 'anaconda', 'prefixdevname-tools']);
  });

  it('fedora-42 iot-raw-xz aarch64: definitions drive the deployment', () => {
    const m = build('fedora-42', 'iot-raw-xz', 'aarch64');
    const dep = m.pipelines.find((p) => p.name === 'ostree-deployment')!;
    const deploy = dep.stages.find((s) => s.type === 'org.osbuild.ostree.deploy')!.options as Record<string, unknown>;
    assert.equal(deploy['ref'], 'fedora/42/aarch64/iot');
    assert.deepEqual(deploy['kernel_opts'], ['rw', 'coreos.no_persist_ip', 'ignition.platform.id=metal', '$ignition_firstboot']);
    const sfdisk = m.pipelines.find((p) => p.name === 'image')!.stages.find((s) => s.type === 'org.osbuild.sfdisk')!.options as Record<string, unknown>;
    assert.equal(sfdisk['label'], 'dos');
  });
});
