// A site's own small definitions directory (`--definitions DIR`) with its own distro and type.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadDefinitions, listImages, resolveImageType, describeImage, allPackageNames } from '../src/defs/index.js';

const dir = mkdtempSync(join(tmpdir(), 'kiln-defs-site-'));
after(() => rmSync(dir, { recursive: true, force: true }));

mkdirSync(join(dir, 'acme'));
writeFileSync(join(dir, 'distros.yaml'), `
distros:
  - name: "acme-{{.MajorVersion}}"
    major_version: 7
    distro_like: acme
    product: Acme
    os_version: "{{.MajorVersion}}.0"
    module_platform_id: "platform:acme{{.MajorVersion}}"
    iso_label_tmpl: "{{.Product}}-{{.Distro.MajorVersion}}-{{.ISOLabel}}-{{.Arch}}"
    default_fs_type: xfs
    defs_path: acme
    runner: {name: "org.osbuild.acme{{.MajorVersion}}", build_packages: [acme-runner]}
    partition_tool_packages: {xfs: [xfsprogs], vfat: [dosfstools]}
    image_config: {hostname: acme.local, timezone: Europe/Prague}
`);
writeFileSync(join(dir, 'acme', 'imagetypes.yaml'), `
image_types:
  appliance:
    name_aliases: [box]
    filename: disk.qcow2
    mime_type: application/x-qemu-disk
    bootable: true
    default_size: 3 GiB
    image_func: disk
    exports: [qcow2]
    payload_pipelines: [os, image, qcow2]
    platforms:
      - arch: x86_64
        bios_platform: i386-pc
        packages: {boot: [grub2-pc]}
    package_sets:
      os:
        include: [acme-base]
        conditions:
          new:
            when: {version_greater_or_equal: "7", arch: x86_64}
            append: {include: [acme-new]}
          old:
            when: {version_less_than: "7"}
            append: {include: [acme-old]}
    partition_table:
      x86_64:
        type: dos
        partitions:
          - {size: 1 GiB, type: "83", payload_type: filesystem, payload: {type: xfs, mountpoint: /}}
    image_config:
      timezone: UTC
pipeline_build_packages:
  os: [rpm]
  image: []
  qcow2: [qemu-img]
`);

test('a site definitions directory loads, lists and resolves on its own', () => {
  const defs = loadDefinitions(dir);
  assert.equal(defs.path, dir);
  assert.deepEqual(listImages(defs), [{ distro: 'acme-7', type: 'appliance', arch: 'x86_64' }]);
  const r = resolveImageType(defs, 'acme-7', 'box', 'x86_64');
  assert.equal(r.name, 'appliance');
  assert.equal(r.distro.os_version, '7.0');
  assert.equal(r.distro.runner, 'org.osbuild.acme7');
  assert.equal(r.boot_mode, 'legacy');
  assert.equal(r.default_size, 3 * 1024 ** 3);
  assert.deepEqual(r.image_config, { hostname: 'acme.local', timezone: 'UTC' });
  assert.deepEqual(r.package_sets.os.include, ['acme-base', 'acme-new', 'grub2-pc', 'kernel', 'selinux-policy-targeted', 'xfsprogs']);
  assert.deepEqual(r.package_sets.build.include, ['acme-runner', 'qemu-img', 'rpm', 'xfsprogs']);
  assert.deepEqual(r.source, { path: dir, sha256: defs.sha256 });
  assert.notEqual(defs.sha256, loadDefinitions().sha256);
  assert.equal(describeImage(r).partition_type, 'dos');
  assert.ok(allPackageNames(defs).includes('acme-new'));
  assert.ok(!allPackageNames(defs).includes('acme-old'), 'a condition that never holds asks for nothing');
  assert.throws(() => resolveImageType(defs, 'fedora-42', 'minimal-raw-xz', 'x86_64'), /cannot find image for: distro:"fedora-42"/);
});
