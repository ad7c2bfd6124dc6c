// Broken definition files: each error must name the file, the key path and the line, plus the
// problem. The expected line is found by searching the edited text, not by asking the loader.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadDefinitions, defaultDefinitionsDir, resolveImageType } from '../src/defs/index.js';
import { KilnError } from '../src/util/errors.js';

const tmpRoots: string[] = [];
after(() => {
  for (const d of tmpRoots) rmSync(d, { recursive: true, force: true });
});

function copyDefs(): string {
  const d = mkdtempSync(join(tmpdir(), 'kiln-defs-bad-'));
  tmpRoots.push(d);
  cpSync(defaultDefinitionsDir(), d, { recursive: true });
  return d;
}

/** Replace `from` (must occur exactly `nth` times from the start; default first) and return the 1-based line of `marker` afterwards. */
function edit(dir: string, rel: string, from: string, to: string, marker: string = to): { file: string; line: number } {
  const file = join(dir, rel);
  const text = readFileSync(file, 'utf8');
  const idx = text.indexOf(from);
  assert.ok(idx >= 0, `test setup: "${from}" not found in ${rel}`);
  const out = text.slice(0, idx) + to + text.slice(idx + from.length);
  writeFileSync(file, out);
  const at = out.indexOf(marker, Math.max(0, idx - 200));
  assert.ok(at >= 0, `test setup: marker "${marker}" not found`);
  return { file, line: out.slice(0, at).split('\n').length };
}

function loadError(dir: string): string {
  try {
    loadDefinitions(dir);
  } catch (e) {
    assert.ok(e instanceof KilnError, `expected KilnError, got ${String(e)}`);
    return e.message;
  }
  assert.fail('loading broken definitions succeeded');
}

function assertNames(msg: string, file: string, line: number, keyPath: string, problem: RegExp): void {
  const want = `${file}:${line}: ${keyPath}: `;
  const hit = msg.split('\n').find((l) => l.startsWith(want));
  assert.ok(hit, `no error line starting with "${want}" in:\n${msg}`);
  assert.match(hit, problem);
}

const IT = 'fedora/imagetypes.yaml';

test('unknown key in an image type', () => {
  const dir = copyDefs();
  const { file, line } = edit(dir, IT, '    name_aliases: [minimal-raw]\n', '    name_aliases: [minimal-raw]\n    frobnicate: true\n', 'frobnicate');
  assertNames(loadError(dir), file, line, 'image_types.minimal-raw-xz.frobnicate', /unknown key "frobnicate"/);
});

test('wrong type and missing required key', () => {
  const dir = copyDefs();
  const a = edit(dir, IT, '    bootable: true\n    default_size: 2 GiB\n', '    bootable: "yes"\n    default_size: 2 GiB\n', 'bootable: "yes"');
  const msg1 = loadError(dir);
  assertNames(msg1, a.file, a.line, 'image_types.minimal-raw-xz.bootable', /wrong type: expected true or false/);

  const dir2 = copyDefs();
  const b = edit(dir2, IT, '    filename: commit.tar\n', '', '  iot-commit:');
  assertNames(loadError(dir2), b.file, b.line, 'image_types.iot-commit', /missing required key "filename"/);
});

test('bad platform arch inside an anchored platform is reported at the anchor line', () => {
  const dir = copyDefs();
  const { file, line } = edit(dir, IT, '  minimal_x86_64: &minimal_x86_64\n    arch: x86_64\n', '  minimal_x86_64: &minimal_x86_64\n    arch: x86\n', 'arch: x86\n');
  assertNames(loadError(dir), file, line, 'image_types.minimal-raw-xz.platforms[0].arch', /invalid value "x86"/);
});

test('bad size string', () => {
  const dir = copyDefs();
  const { file, line } = edit(dir, IT, '    default_size: 6 GiB\n', '    default_size: 6 gigs\n', 'default_size: 6 gigs');
  assertNames(loadError(dir), file, line, 'image_types.iot-raw-xz.default_size', /bad size string "6 gigs": unknown unit "gigs"/);
});

test('unknown condition key and bad version comparison value', () => {
  const dir = copyDefs();
  const marker = 'version_lesser: "43"';
  const { file, line } = edit(dir, IT, '            when: {version_greater_or_equal: "43"}\n            append: {exclude: [firewalld]}',
    `            when: {${marker}}\n            append: {exclude: [firewalld]}`, marker);
  assertNames(loadError(dir), file, line,
    'image_types.minimal-raw-xz.package_sets.os.conditions.fedora 43 and newer drop firewalld.when.version_lesser', /unknown key "version_lesser"/);

  const dir2 = copyDefs();
  const b = edit(dir2, IT, '        when: {version_less_than: "45"}\n        override:', '        when: {version_less_than: "forty-five"}\n        override:', 'forty-five');
  const msg = loadError(dir2);
  assertNames(msg, b.file, b.line,
    'image_types.iot-commit.platforms_override.conditions.fedora 44 and older keep the compat firmware.when.version_less_than',
    /bad version comparison value "forty-five"/);
});

test('export that is not a payload pipeline, unknown template variable, duplicate alias', () => {
  const dir = copyDefs();
  const a = edit(dir, IT, '    exports: [commit-archive]\n', '    exports: [commit-tarball]\n', 'commit-tarball');
  const b = edit(dir, IT, '    ostree: {ref: "{{.Distro.Name}}/{{.Distro.MajorVersion}}/{{.Arch}}/iot"}\n    blueprint:\n      supported_options: [distro, packages, groups, customizations.directories, customizations.files,\n                          customizations.kernel, customizations.services, customizations.user, customizations.group]\n      required_options: []\n\n  iot-container:',
    '    ostree: {ref: "{{.Distro.Name}}/{{.Release}}/iot"}\n    blueprint:\n      supported_options: [distro, packages, groups, customizations.directories, customizations.files,\n                          customizations.kernel, customizations.services, customizations.user, customizations.group]\n      required_options: []\n\n  iot-container:', '{{.Release}}');
  // shape errors are reported first; the cross-key check runs once shapes are valid
  const msg = loadError(dir);
  assertNames(msg, b.file, b.line, 'image_types.iot-commit.ostree.ref', /unknown template variable \.Release/);
  assert.equal(msg.split('\n').length, 1, `one error, reported once:\n${msg}`);
  edit(dir, IT, '{{.Release}}', '{{.Arch}}');
  assertNames(loadError(dir), a.file, a.line, 'image_types.iot-commit.exports[0]', /export "commit-tarball" is not one of payload_pipelines/);

  const dir2 = copyDefs();
  const c = edit(dir2, IT, '    name_aliases: [iot-qcow2-image]\n', '    name_aliases: [iot-qcow2-image, qcow2]\n', 'iot-qcow2-image, qcow2');
  // iot-qcow2 comes first in the file, so generic-qcow2's own "qcow2" alias is the clash reported
  const text = readFileSync(c.file, 'utf8');
  const line = text.slice(0, text.indexOf('    name_aliases: [qcow2, guest-image]')).split('\n').length;
  assertNames(loadError(dir2), c.file, line, 'image_types.generic-qcow2.name_aliases[0]', /alias "qcow2" is already the name or alias of image type "iot-qcow2"/);
});

test('distros file: wrong type, unknown key, missing image types file', () => {
  const dir = copyDefs();
  const a = edit(dir, 'distros.yaml', '    name: fedora-43\n    major_version: 43\n', '    name: fedora-43\n    major_version: forty-three\n', 'forty-three');
  const b = edit(dir, 'distros.yaml', '    preview: true\n', '    preview: true\n    colour: blue\n', 'colour');
  const msg = loadError(dir);
  assertNames(msg, a.file, a.line, 'distros[1].major_version', /wrong type: expected an integer/);
  assertNames(msg, b.file, b.line, 'distros[2].colour', /unknown key "colour"/);

  const dir2 = copyDefs();
  const c = edit(dir2, 'distros.yaml', '    defs_path: fedora\n', '    defs_path: fedora-nope\n', 'defs_path: fedora-nope');
  assertNames(loadError(dir2), c.file, c.line, 'distros[0].defs_path', /fedora-nope\/imagetypes\.yaml does not exist/);
});

test('YAML syntax errors and partition-table shape errors name file and line', () => {
  const dir = copyDefs();
  const a = edit(dir, IT, '    mime_type: application/x-tar\n    image_func: ostree_commit\n', '    mime_type: application/x-tar\n    image_func: [ostree_commit\n', 'image_func: [ostree_commit');
  const msg = loadError(dir);
  assert.match(msg, new RegExp(`^${a.file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:\\d+: YAML syntax error`, 'm'));

  const dir2 = copyDefs();
  const b = edit(dir2, IT, '        - size: 2569 MiB\n          type: 0FC63DAF-8483-4772-8E79-3D69D8477DE4\n          payload_type: filesystem\n',
    '        - size: 2569 MiB\n          type: 0FC63DAF-8483-4772-8E79-3D69D8477DE4\n          payload_type: zfs\n', 'payload_type: zfs');
  assertNames(loadError(dir2), b.file, b.line, 'image_types.iot-raw-xz.partition_table.x86_64.partitions[2].payload_type', /invalid value "zfs"/);
});

test('an intact copy loads, has the same hash, and a one-byte change alters it', () => {
  const dir = copyDefs();
  const shipped = loadDefinitions();
  const copy = loadDefinitions(dir);
  assert.equal(copy.sha256, shipped.sha256);
  assert.equal(copy.path, dir);
  edit(dir, 'distros.yaml', 'vendor: Fedora Project', 'vendor: Fedora Project!');
  const changed = loadDefinitions(dir);
  assert.notEqual(changed.sha256, shipped.sha256);
  assert.equal(resolveImageType(changed, 'fedora-42', 'minimal-raw-xz', 'x86_64').source.sha256, changed.sha256);
  assert.equal(resolveImageType(changed, 'fedora-42', 'minimal-raw-xz', 'x86_64').distro.vendor, 'Fedora Project!');
});

test('missing directory or distros file', () => {
  assert.throws(() => loadDefinitions('/nonexistent/kiln-defs'), /\/nonexistent\/kiln-defs does not exist/);
  const dir = mkdtempSync(join(tmpdir(), 'kiln-defs-empty-'));
  tmpRoots.push(dir);
  assert.throws(() => loadDefinitions(dir), new RegExp(`${dir} has no distros\\.yaml`));
});
