// productmd metadata: the type/format facts (copied from productmd 2a28dec images.py as literal
// lists), Pungi's suffix mapping, the validation productmd applies, uniqueness, and the exact
// serialization (checked against Python's own json.dumps).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { SUPPORTED_IMAGE_FORMATS, SUPPORTED_IMAGE_TYPES, findTypeAndFormat } from '../src/compose/image-types.js';
import {
  ImageManifest,
  composeHeader,
  composeInfoDocument,
  imageProblems,
  imagesDocument,
  serializeMetadata,
  type ProductmdImage,
} from '../src/compose/productmd.js';
import { composeIdentity, type ReleaseInfo } from '../src/compose/compose-id.js';
import type { VariantConfig } from '../src/compose/config.js';
import { KilnError } from '../src/util/errors.js';

// productmd/images.py (release-engineering/productmd 2a28dec): sorted(IMAGE_TYPE_FORMAT_MAPPING)
const PRODUCTMD_TYPES = [
  'appx', 'boot', 'bootable-container', 'cd', 'container', 'docker', 'dvd', 'dvd-debuginfo', 'dvd-ostree', 'dvd-ostree-osbuild', 'ec2',
  'fex', 'kvm', 'live', 'live-osbuild', 'liveimg-squashfs', 'netinst', 'ociarchive', 'p2v', 'qcow', 'qcow2', 'raw', 'raw-xz', 'rescue',
  'rhevm-ova', 'tar-gz', 'vagrant-hyperv', 'vagrant-libvirt', 'vagrant-virtualbox', 'vagrant-vmware-fusion', 'vdi', 'vhd-compressed',
  'vmdk', 'vpc', 'vsphere-ova', 'wsl2',
];
// ... and sorted(set(chain(*mapping.values())))
const PRODUCTMD_FORMATS = [
  'appx', 'erofs', 'erofs.gz', 'erofs.xz', 'iso', 'liveimg.squashfs', 'oci', 'ociarchive', 'qcow', 'qcow2', 'raw', 'raw.xz', 'rhevm.ova',
  'squashfs', 'squashfs.gz', 'squashfs.xz', 'tar', 'tar.gz', 'tar.xz', 'vagrant-hyperv.box', 'vagrant-libvirt.box', 'vagrant-virtualbox.box',
  'vagrant-vmware-fusion.box', 'vdi', 'vhd', 'vhd.gz', 'vhd.xz', 'vhdfixed.xz', 'vmdk', 'vsphere.ova', 'wsl',
];

const REL: ReleaseInfo = { name: 'Fedora-IoT', short: 'Fedora-IoT', version: '42', type: 'ga' };
const ID = composeIdentity(REL, { type: 'nightly', date: '20251127', respin: 0 });

function img(over: Partial<ProductmdImage> = {}): ProductmdImage {
  return {
    path: 'IoT/x86_64/images/Fedora-IoT-raw-42-20251127.n.0.x86_64.raw.xz',
    mtime: 1764201600,
    size: 1234,
    volume_id: null,
    type: 'raw-xz',
    format: 'raw.xz',
    arch: 'x86_64',
    disc_number: 1,
    disc_count: 1,
    checksums: { sha256: 'a'.repeat(64) },
    implant_md5: null,
    bootable: false,
    subvariant: 'IoT',
    ...over,
  };
}

test('productmd type and format lists are the ones productmd 1.2 accepts', () => {
  assert.deepEqual([...SUPPORTED_IMAGE_TYPES], PRODUCTMD_TYPES);
  assert.deepEqual([...SUPPORTED_IMAGE_FORMATS], PRODUCTMD_FORMATS);
  assert.ok(!PRODUCTMD_TYPES.includes('iso'), '"iso" is deliberately not a productmd type');
  assert.ok(!PRODUCTMD_FORMATS.some((f) => f.includes('zst')), 'productmd has no zst format');
});

test('file suffix -> (type, format) as Pungi\'s imagebuilder phase maps it', () => {
  const cases: [string, [string, string] | undefined][] = [
    ['Fedora-IoT-raw-42-1.x86_64.raw.xz', ['raw-xz', 'raw.xz']],
    ['Fedora-Minimal-42-1.aarch64.raw.xz', ['raw-xz', 'raw.xz']],
    ['Fedora-IoT-ostree-42-1.x86_64.iso', ['boot', 'iso']],
    ['Fedora-IoT-qcow2-42-1.x86_64.qcow2', ['qcow2', 'qcow2']],
    ['x.oci.tar.xz', ['container', 'tar.xz']], // image-builder table wins over docker's tar.xz
    ['x.tar.xz', ['docker', 'tar.xz']],
    ['x.tar.gz', ['docker', 'tar.gz']], // dict order: docker before tar-gz
    ['x.vagrant.libvirt.box', ['vagrant-libvirt', 'vagrant-libvirt.box']],
    ['x.vagrant.virtualbox.box', ['vagrant-virtualbox', 'vagrant-virtualbox.box']],
    ['x.wsl', ['wsl2', 'wsl']],
    ['x.vhd.xz', ['vhd-compressed', 'vhd.xz']],
    ['x.raw', ['raw', 'raw']],
    ['Fedora-Minimal-42-1.x86_64.raw.zst', undefined],
    ['Fedora-IoT-commit-42-1.x86_64.tar', undefined],
    ['Fedora-IoT-raw-42-1.x86_64.osbuild-manifest.json', undefined],
    ['Fedora-IoT-raw-42-1.x86_64.image-os.spdx.json', undefined],
  ];
  for (const [name, want] of cases) {
    const got = findTypeAndFormat(name);
    assert.deepEqual(got ? [got.type, got.format] : undefined, want, name);
  }
});

test('image validation refuses what productmd refuses', () => {
  assert.deepEqual(imageProblems(img()), []);
  const bad: [Partial<ProductmdImage>, RegExp][] = [
    [{ path: '' }, /path/],
    [{ size: 0 }, /size 0 must be a non-zero integer/],
    [{ mtime: 1.5 }, /mtime/],
    [{ type: 'iso' }, /type "iso" is not a productmd image type/],
    [{ format: 'raw.zst' }, /format "raw.zst"/],
    [{ checksums: {} }, /checksums must not be empty/],
    [{ implant_md5: 'ABC' }, /implant_md5/],
    [{ volume_id: '' }, /volume_id/],
    [{ additional_variants: ['Server'] }, /only unified images/],
  ];
  for (const [over, re] of bad) {
    const p = imageProblems(img(over));
    assert.ok(p.some((x) => re.test(x)), `${JSON.stringify(over)}: ${p.join('; ')}`);
  }
});

test('images are unique by subvariant/type/format/arch/disc across the compose', () => {
  const m = new ImageManifest();
  m.add('IoT', 'x86_64', img());
  // same identity and checksums elsewhere: allowed (the same image in two variants)
  m.add('Everything', 'x86_64', img({ path: 'Everything/x86_64/images/same.raw.xz' }));
  assert.throws(
    () => m.add('Server', 'x86_64', img({ path: 'Server/x86_64/images/other.raw.xz', checksums: { sha256: 'b'.repeat(64) } })),
    (e: unknown) => e instanceof KilnError && /Server\/x86_64: Server\/x86_64\/images\/other\.raw\.xz: has the same subvariant\/type\/format\/arch\/disc as IoT\/x86_64/.test((e as Error).message),
  );
  // a different subvariant makes it unique
  m.add('Server', 'x86_64', img({ path: 'Server/x86_64/images/other.raw.xz', checksums: { sha256: 'b'.repeat(64) }, subvariant: 'Server' }));
  assert.throws(() => m.add('IoT', 'src', img({ arch: 'src' })), /source arches/);
  assert.throws(() => m.add('IoT', 'arm65', img({ arch: 'arm65' })), /not an RPM arch/);
  assert.throws(() => m.add('IoT', 'x86_64', img({ size: 0, path: 'p' })), /IoT\/x86_64: p: size 0/);
  assert.equal(m.count(), 3);
});

function pythonCanonical(text: string): string {
  // what productmd's build_file writes for the same data
  return execFileSync(
    '/usr/bin/python3',
    ['-c', 'import json,sys; d=json.load(sys.stdin); sys.stdout.write(json.dumps(d, indent=4, sort_keys=True, separators=(",", ": ")))'],
    { input: text, encoding: 'utf8' },
  );
}

test('images.json: header, compose, images sorted by path, serialized exactly as productmd writes', () => {
  const m = new ImageManifest();
  m.add('IoT', 'x86_64', img({ path: 'IoT/x86_64/iso/b.iso', type: 'dvd-ostree-osbuild', format: 'iso', bootable: true }));
  m.add('IoT', 'x86_64', img({ path: 'IoT/x86_64/images/a.raw.xz', checksums: { sha256: 'c'.repeat(64) } }));
  m.add('IoT', 'aarch64', img({ path: 'IoT/aarch64/images/ä.raw.xz', arch: 'aarch64' }));
  const doc = imagesDocument(composeHeader(ID), m.images) as any;
  assert.deepEqual(doc.header, { type: 'productmd.images', version: '1.2' });
  assert.deepEqual(doc.payload.compose, { id: 'Fedora-IoT-42-20251127.n.0', date: '20251127', type: 'nightly', respin: 0 });
  assert.deepEqual(doc.payload.images.IoT.x86_64.map((i: ProductmdImage) => i.path), ['IoT/x86_64/images/a.raw.xz', 'IoT/x86_64/iso/b.iso']);
  for (const i of doc.payload.images.IoT.x86_64) {
    assert.deepEqual(Object.keys(i).sort(), [
      'arch', 'bootable', 'checksums', 'disc_count', 'disc_number', 'format', 'implant_md5', 'mtime', 'path', 'size', 'subvariant', 'type', 'volume_id',
    ]);
  }
  const text = serializeMetadata(doc);
  assert.equal(text, pythonCanonical(text));
  assert.ok(text.includes('\\u00e4'), 'non-ASCII is escaped as json.dump(ensure_ascii=True) does');
  // a labelled compose records label and final
  const labelled = composeIdentity(REL, { type: 'production', date: '20251127', respin: 0, label: 'RC-1.2' });
  assert.deepEqual((imagesDocument(composeHeader(labelled), {}) as any).payload.compose, {
    id: 'Fedora-IoT-42-20251127.0', date: '20251127', type: 'production', respin: 0, label: 'RC-1.2', final: false,
  });
  assert.throws(() => imagesDocument({ ...composeHeader(ID), id: 'no-date-here' }, {}), /compose\.id "no-date-here"/);
});

test('composeinfo.json: release, variants with sorted arches, paths, children', () => {
  const variants: VariantConfig[] = [
    { uid: 'Server', id: 'Server', name: 'Server', type: 'variant', arches: ['x86_64', 'aarch64'], keyPath: 'variants[0]' },
    { uid: 'Server-optional', id: 'optional', name: 'Server optional', type: 'optional', arches: ['x86_64'], parent: 'Server', keyPath: 'variants[1]' },
  ];
  const doc = composeInfoDocument({
    compose: composeHeader(ID),
    release: REL,
    variants,
    paths: { Server: { images: { x86_64: 'Server/x86_64/images', s390x: 'Server/s390x/images' }, isos: { aarch64: 'Server/aarch64/iso' } } },
  }) as any;
  assert.deepEqual(doc.header, { type: 'productmd.composeinfo', version: '1.2' });
  assert.deepEqual(doc.payload.release, { name: 'Fedora-IoT', short: 'Fedora-IoT', version: '42', type: 'ga', internal: false });
  assert.deepEqual(doc.payload.variants.Server, {
    id: 'Server', uid: 'Server', name: 'Server', type: 'variant', arches: ['aarch64', 'x86_64'],
    // only the variant's own arches are listed
    paths: { images: { x86_64: 'Server/x86_64/images' }, isos: { aarch64: 'Server/aarch64/iso' } },
    variants: ['optional'],
  });
  assert.deepEqual(doc.payload.variants['Server-optional'].uid, 'Server-optional');
  const text = serializeMetadata(doc);
  assert.equal(text, pythonCanonical(text));
  assert.throws(
    () => composeInfoDocument({ compose: composeHeader(ID), release: { ...REL, type: 'beta' }, variants }),
    /release\.type "beta" is not one of fast, ga, updates/,
  );
});
