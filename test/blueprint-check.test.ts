// checkDistro and checkSupported/supportErrors: the blueprint against --distro and the image
// type's supported/required option lists.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { blueprintOptionPaths, checkDistro, checkSupported, emptyBlueprint, parseBlueprint, supportErrors, unknownOptionPaths } from '../src/blueprint/index.js';
import { KilnError } from '../src/util/errors.js';

const bp = (toml: string) => parseBlueprint(toml, 'toml', 'test.toml');

describe('checkDistro', () => {
  it('mismatch is an error naming the key and both values', () => {
    assert.throws(
      () => checkDistro(bp('distro = "fedora-41"'), 'fedora-42'),
      (e: unknown) =>
        e instanceof KilnError && e.message === 'blueprint distro "fedora-41" (key: distro) does not match --distro "fedora-42"',
    );
  });
  it('returns --distro, else the blueprint distro, else undefined', () => {
    assert.equal(checkDistro(bp('distro = "fedora-42"'), 'fedora-42'), 'fedora-42');
    assert.equal(checkDistro(bp('distro = "fedora-41"'), undefined), 'fedora-41');
    assert.equal(checkDistro(emptyBlueprint(), 'fedora-43'), 'fedora-43');
    assert.equal(checkDistro(emptyBlueprint(), undefined), undefined);
  });
});

const SIMPLIFIED_SUPPORTED = [
  'customizations.installation_device',
  'customizations.fdo',
  'customizations.ignition',
  'customizations.kernel.append',
  'customizations.user',
  'customizations.group',
];
const SIMPLIFIED_REQUIRED = ['customizations.installation_device'];

describe('checkSupported', () => {
  it('accepts a blueprint within the supported options', () => {
    const b = bp(`
name = "ok"
version = "1.0.0"
description = "metadata is always allowed"
distro = "fedora-42"
[customizations]
installation_device = "/dev/vda"
[customizations.kernel]
append = "quiet"
[[customizations.user]]
name = "core"
key = "ssh-ed25519 AAAA"
[customizations.fdo]
manufacturing_server_url = "http://fdo:8080"
`);
    assert.deepEqual(supportErrors(b, SIMPLIFIED_SUPPORTED, SIMPLIFIED_REQUIRED, 'iot-simplified-installer'), []);
    checkSupported(b, SIMPLIFIED_SUPPORTED, SIMPLIFIED_REQUIRED, 'iot-simplified-installer');
  });

  it('names each unsupported option and the image type', () => {
    const b = bp(`
[[packages]]
name = "vim"
[customizations]
hostname = "h"
installation_device = "/dev/vda"
[customizations.kernel]
name = "kernel-rt"
append = "quiet"
[[customizations.filesystem]]
mountpoint = "/var"
minsize = "1 GiB"
`);
    assert.deepEqual(supportErrors(b, SIMPLIFIED_SUPPORTED, SIMPLIFIED_REQUIRED, 'iot-simplified-installer').sort(), [
      'blueprint option customizations.filesystem is not supported by image type "iot-simplified-installer"',
      'blueprint option customizations.hostname is not supported by image type "iot-simplified-installer"',
      'blueprint option customizations.kernel.name is not supported by image type "iot-simplified-installer"',
      'blueprint option packages is not supported by image type "iot-simplified-installer"',
    ]);
    assert.throws(
      () => checkSupported(b, SIMPLIFIED_SUPPORTED, SIMPLIFIED_REQUIRED, 'iot-simplified-installer'),
      (e: unknown) => e instanceof KilnError && e.message.split('\n').length === 4 && e.message.includes('customizations.kernel.name'),
    );
  });

  it('a missing required option is an error naming it and the type', () => {
    const b = bp('[customizations.kernel]\nappend = "quiet"\n');
    assert.deepEqual(supportErrors(b, SIMPLIFIED_SUPPORTED, SIMPLIFIED_REQUIRED, 'iot-simplified-installer'), [
      'image type "iot-simplified-installer" requires blueprint option customizations.installation_device, which is not set',
    ]);
    assert.deepEqual(supportErrors(emptyBlueprint(), [], ['customizations.installation_device'], 'x').length, 1);
  });

  it('a listed prefix covers its children; array elements are checked per element', () => {
    const b = bp(`
[[customizations.user]]
name = "a"
password = "secret"
[[customizations.user]]
name = "b"
key = "ssh-ed25519 AAAA"
`);
    assert.deepEqual(supportErrors(b, ['customizations'], [], 't'), []);
    assert.deepEqual(supportErrors(b, ['customizations.user'], [], 't'), []);
    assert.deepEqual(supportErrors(b, ['customizations.user.name', 'customizations.user.key'], [], 't'), [
      'blueprint option customizations.user[0].password is not supported by image type "t"',
    ]);
  });

  it('required nested options are checked inside every array element', () => {
    const b = bp(`
[[customizations.user]]
name = "a"
key = "k"
[[customizations.user]]
name = "b"
`);
    assert.deepEqual(supportErrors(b, ['customizations.user'], ['customizations.user.key'], 't'), [
      'image type "t" requires blueprint option customizations.user[1].key, which is not set',
    ]);
  });

  it('unset values (absent, empty lists, empty tables) do not count as used', () => {
    const b = bp('packages = []\n[customizations]\n[customizations.kernel]\n');
    assert.deepEqual(supportErrors(b, [], [], 'minimal-raw'), []);
    assert.deepEqual(supportErrors(emptyBlueprint(), [], [], 'minimal-raw'), []);
  });

  it('an empty supported list allows only metadata', () => {
    const b = bp('name = "n"\n[[groups]]\nname = "core"\n');
    assert.deepEqual(supportErrors(b, [], [], 'container'), ['blueprint option groups is not supported by image type "container"']);
  });
});

describe('option paths', () => {
  it('lists the blueprint keys as dotted paths', () => {
    const paths = blueprintOptionPaths();
    for (const p of ['packages', 'groups', 'distro', 'customizations.user', 'customizations.user.key', 'customizations.kernel.append', 'customizations.installation_device', 'customizations.fdo', 'customizations.ignition.firstboot.url']) {
      assert.ok(paths.includes(p), p);
    }
  });
  it('unknownOptionPaths flags typos in definitions', () => {
    assert.deepEqual(unknownOptionPaths(['customizations.user', 'customizations.kernal', 'customizations.kernel.append', 'packages.name', 'pkgs']), ['customizations.kernal', 'pkgs']);
  });
});
