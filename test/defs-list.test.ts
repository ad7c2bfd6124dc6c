// `list --filter` semantics (prefixes, bare terms, globs, AND) and glob matching.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadDefinitions, listImages, globMatch, parseSize } from '../src/defs/index.js';
import { compareVersions, whenMatches } from '../src/defs/conditions.js';
import { KilnError } from '../src/util/errors.js';

const defs = loadDefinitions();
const key = (e: { distro: string; type: string; arch: string }): string => `${e.distro} ${e.type} ${e.arch}`;

test('glob matching: * ? [set] [range] [!neg], literal dots and anchors', () => {
  assert.ok(globMatch('iot*', 'iot-raw-xz'));
  assert.ok(!globMatch('iot*', 'fedora-iot-commit'));
  assert.ok(globMatch('*iot*', 'fedora-iot-commit'));
  assert.ok(globMatch('fedora-4?', 'fedora-42'));
  assert.ok(!globMatch('fedora-4?', 'fedora-420'));
  assert.ok(globMatch('fedora-4[23]', 'fedora-43'));
  assert.ok(!globMatch('fedora-4[23]', 'fedora-45'));
  assert.ok(globMatch('fedora-4[0-3]', 'fedora-41'));
  assert.ok(globMatch('fedora-4[!2]', 'fedora-43'));
  assert.ok(!globMatch('fedora-4[!2]', 'fedora-42'));
  assert.ok(!globMatch('disk.raw', 'diskXraw'), 'dot is literal');
  assert.ok(globMatch('a+b(c)', 'a+b(c)'), 'regex characters are literal');
});

test('no filters lists everything, sorted, once', () => {
  const all = listImages(defs);
  const keys = all.map(key);
  assert.equal(new Set(keys).size, keys.length);
  assert.deepEqual(keys, [...keys].sort((a, b) => {
    const [da, ta, aa] = a.split(' ');
    const [db, tb, ab] = b.split(' ');
    return da!.localeCompare(db!) || ta!.localeCompare(tb!) || aa!.localeCompare(ab!);
  }));
});

test('prefixed filters and AND across filters', () => {
  const r = listImages(defs, ['distro:fedora-42', 'arch:aarch64', 'type:iot-*']);
  assert.deepEqual(r.map((e) => e.type).sort(), ['iot-bootable-container', 'iot-commit', 'iot-container', 'iot-installer', 'iot-qcow2',
    'iot-raw-xz', 'iot-simplified-installer']);
  assert.ok(r.every((e) => e.distro === 'fedora-42' && e.arch === 'aarch64'));
  // type: also matches aliases, and reports the canonical name
  assert.deepEqual(listImages(defs, ['type:guest-image', 'distro:fedora-43']).map(key), ['fedora-43 generic-qcow2 aarch64', 'fedora-43 generic-qcow2 x86_64']);
  // bootmode is derived from the platform
  const hybrid = listImages(defs, ['bootmode:hybrid', 'distro:fedora-42']).map((e) => `${e.type} ${e.arch}`);
  assert.deepEqual(hybrid.sort(), ['generic-qcow2 x86_64', 'iot-bootable-container x86_64', 'iot-commit x86_64', 'iot-container x86_64', 'iot-installer x86_64']);
  assert.deepEqual(listImages(defs, ['bootmode:none', 'arch:x86_64', 'distro:fedora-43']).map((e) => e.type), ['generic-container']);
  assert.deepEqual(listImages(defs, ['bootmode:legacy']), []);
});

test('bare terms match distro, arch, type or alias', () => {
  assert.deepEqual(listImages(defs, ['minimal-raw', 'fedora-43']).map(key), ['fedora-43 minimal-raw-xz aarch64', 'fedora-43 minimal-raw-xz x86_64']);
  assert.equal(listImages(defs, ['aarch64']).length, listImages(defs, ['arch:aarch64']).length);
  assert.equal(listImages(defs, ['fedora-42']).length, 22);
  // the rawhide alias names the same distro
  assert.deepEqual(listImages(defs, ['fedora-45', 'iot-commit']).map(key), ['fedora-rawhide iot-commit aarch64', 'fedora-rawhide iot-commit x86_64']);
  assert.deepEqual(listImages(defs, ['distro:fedora-rawhide', 'type:iot-commit']), listImages(defs, ['distro:fedora-45', 'type:iot-commit']));
  assert.deepEqual(listImages(defs, ['no-such-thing']), []);
});

test('unknown filter prefix is an error listing the supported ones', () => {
  assert.throws(() => listImages(defs, ['colour:blue']), (e: unknown) =>
    e instanceof KilnError && /unsupported filter prefix "colour"/.test(e.message) && /"distro:", "arch:", "type:", "bootmode:"/.test(e.message));
});

test('size strings and version conditions', () => {
  assert.equal(parseSize('2 GiB'), 2 * 1024 ** 3);
  assert.equal(parseSize('200MiB'), 200 * 1024 ** 2);
  assert.equal(parseSize('5 GB'), 5e9);
  assert.equal(parseSize(4096), 4096);
  assert.equal(parseSize('512'), 512);
  assert.match((parseSize('2 GiBs') as { error: string }).error, /unknown unit "GiBs"/);
  assert.match((parseSize('-1 MiB') as { error: string }).error, /bad size string/);
  assert.match((parseSize(true) as { error: string }).error, /expected a string/);
  assert.equal(compareVersions('9.10', '9.9'), 1);
  assert.equal(compareVersions('43', '43.0'), 0);
  assert.equal(compareVersions('42', '100'), -1, 'numeric, not lexical');
  const t = { distroNames: ['fedora-rawhide', 'fedora-45'], version: '45', arch: 'aarch64' };
  assert.ok(whenMatches({ version_greater_or_equal: '45', arch: 'aarch64' }, t));
  assert.ok(!whenMatches({ version_greater_or_equal: '45', arch: 'x86_64' }, t), 'keys are AND-ed');
  assert.ok(whenMatches({ distro_name: 'fedora-45' }, t));
  assert.ok(!whenMatches({ not_distro_name: 'fedora-rawhide' }, t));
  assert.ok(whenMatches({ version_equal: '45', version_less_than: '46' }, t));
  assert.ok(whenMatches({}, t), 'an empty when always holds');
});
