// A real local compose from the built-in demo repository: the IoT chain (iot-commit, then
// iot-raw-xz deploying that commit) and Minimal, built with Kiln's executor, laid out as a
// compose tree. The metadata is checked against productmd's rules and the CHECKSUM files are
// recomputed with sha256sum; nothing here reads the tree back with Kiln's code.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { demoRepoUrls } from './helpers/demo.js';

const root = resolve(fileURLToPath(import.meta.url), '../../..');
const work = mkdtempSync(join(tmpdir(), 'kiln-compose-e2e-'));
after(() => rmSync(work, { recursive: true, force: true }));

// productmd 1.2 compose id: <short>-<version>[-<type_suffix>]-<date>[.<type>].<respin>
const COMPOSE_ID = /^[A-Za-z0-9-]+-\d+(\.\d+)*-\d{8}(\.(n|t|ci))?\.\d+$/;

interface Image {
  path: string; mtime: number; size: number; volume_id: string | null; type: string; format: string; arch: string;
  disc_number: number; disc_count: number; checksums: Record<string, string>; implant_md5: string | null; bootable: boolean; subvariant: string;
}

test('local compose of IoT (commit -> raw image) and Minimal from the demo repository', { timeout: 1_200_000 }, async () => {
  const repos = await demoRepoUrls();
  const repoRoot = repos.x86_64!.replace(/\/x86_64$/, '');
  const config = join(work, 'compose.yaml');
  writeFileSync(
    config,
    `release: {name: Fedora, short: Fedora, version: "42", type: ga}
compose: {type: nightly}
variants:
  - {uid: IoT, name: IoT, type: variant, arches: [x86_64]}
  - {uid: Minimal, name: Minimal, type: variant, arches: [x86_64]}
media_checksums: [sha256]
global_backend: local
global_release: "!RELEASE_FROM_LABEL_DATE_TYPE_RESPIN"
imagebuilder_distro: fedora-42
imagebuilder_seed: 11
imagebuilder_repos: ["${repoRoot}/$arch"]
imagebuilder:
  "^IoT$":
    - name: Fedora-IoT-commit
      types: [iot-commit]
    - name: Fedora-IoT-raw
      types: [iot-raw-xz]
      subvariant: IoT
  "^Minimal$":
    - name: Fedora-Minimal
      types: [minimal-raw-xz]
      subvariant: Minimal
`,
  );
  const topdir = join(work, 'composes');
  const r = spawnSync(process.execPath, [join(root, 'bin', 'kiln.js'), 'compose', config, '--topdir', topdir, '--buildroot', 'host', '--cache', join(work, 'store'), '--json'], {
    encoding: 'utf8',
    timeout: 1_200_000,
  });
  assert.equal(r.status, 0, `compose failed:\n${r.stderr.slice(-4000)}`);
  const report = JSON.parse(r.stdout) as { compose_id?: string; id?: string; status: string };
  const ids = readdirSync(topdir).filter((d) => !d.startsWith('latest-'));
  assert.equal(ids.length, 1);
  const id = ids[0]!;
  const dir = join(topdir, id);
  assert.match(id, COMPOSE_ID);
  assert.match(id, /^Fedora-42-\d{8}\.n\.0$/);
  assert.equal(readFileSync(join(dir, 'COMPOSE_ID'), 'utf8').trim(), id);
  assert.equal(readFileSync(join(dir, 'STATUS'), 'utf8').trim(), 'FINISHED');
  assert.equal(report.status, 'FINISHED');
  assert.equal(readlinkSync(join(topdir, 'latest-Fedora-42')), id);

  // productmd images.json: header, compose, every image field, types/formats from the suffix
  const images = JSON.parse(readFileSync(join(dir, 'compose/metadata/images.json'), 'utf8')) as {
    header: { type: string; version: string };
    payload: { compose: { id: string; date: string; type: string; respin: number }; images: Record<string, Record<string, Image[]>> };
  };
  assert.deepEqual(images.header, { type: 'productmd.images', version: '1.2' });
  assert.equal(images.payload.compose.id, id);
  assert.equal(images.payload.compose.type, 'nightly');
  const all = Object.entries(images.payload.images).flatMap(([variant, byArch]) => Object.entries(byArch).flatMap(([arch, list]) => list.map((i) => ({ variant, arch, i }))));
  const byVariant = (v: string) => all.filter((x) => x.variant === v).map((x) => x.i);
  assert.equal(byVariant('IoT').length, 1, 'the commit archive is not a productmd image; the raw image is');
  assert.equal(byVariant('Minimal').length, 1);
  const seen = new Set<string>();
  for (const { variant, arch, i } of all) {
    assert.equal(arch, 'x86_64');
    assert.equal(i.arch, 'x86_64');
    assert.equal(i.type, 'raw-xz', 'productmd type for .raw.xz');
    assert.equal(i.format, 'raw.xz', 'productmd format for .raw.xz');
    assert.ok(i.path.startsWith(`${variant}/x86_64/images/`), i.path);
    assert.equal(i.disc_number, 1);
    assert.equal(i.disc_count, 1);
    assert.equal(typeof i.bootable, 'boolean');
    assert.equal(i.subvariant, variant);
    const file = join(dir, 'compose', i.path);
    assert.equal(statSync(file).size, i.size);
    assert.equal(i.mtime, Math.floor(statSync(file).mtimeMs / 1000));
    const sha = execFileSync('sha256sum', [file], { encoding: 'utf8' }).split(' ')[0];
    assert.equal(i.checksums.sha256, sha);
    execFileSync('xz', ['-t', file]);
    const key = `${i.path}`;
    assert.ok(!seen.has(key), 'images are unique');
    seen.add(key);
    // the CHECKSUM file beside the image lists it with the recomputed digest
    const sums = readFileSync(join(dir, 'compose', variant, 'x86_64', 'images', 'CHECKSUM'), 'utf8');
    const name = i.path.split('/').pop()!;
    assert.ok(sums.includes(`SHA256 (${name}) = ${sha}`), sums);
  }
  // composeinfo.json names both variants
  const info = JSON.parse(readFileSync(join(dir, 'compose/metadata/composeinfo.json'), 'utf8')) as { header: { type: string }; payload: { compose: { id: string }; variants: Record<string, unknown> } };
  assert.equal(info.header.type, 'productmd.composeinfo');
  assert.equal(info.payload.compose.id, id);
  assert.deepEqual(Object.keys(info.payload.variants).sort(), ['IoT', 'Minimal']);
  // one log per image build
  const logs = execFileSync('find', [join(dir, 'logs'), '-type', 'f'], { encoding: 'utf8' }).trim().split('\n');
  assert.ok(logs.length >= 3, logs.join('\n'));

  // the raw IoT image deploys the commit the compose built: compare the deployed checksum
  const commitTar = execFileSync('find', [join(dir, 'work'), '-name', '*.tar', '-path', '*iot-commit*'], { encoding: 'utf8' }).trim().split('\n')[0] ??
    execFileSync('find', [join(dir, 'work'), '-name', '*.tar'], { encoding: 'utf8' }).trim().split('\n')[0]!;
  assert.ok(commitTar && existsSync(commitTar), 'the commit archive is kept in work/');
  const x = join(work, 'commit');
  execFileSync('mkdir', ['-p', x]);
  execFileSync('tar', ['-xf', commitTar, '-C', x]);
  const commit = execFileSync('ostree', ['rev-parse', `--repo=${join(x, 'repo')}`, 'fedora/42/x86_64/iot'], { encoding: 'utf8' }).trim();
  const rawImage = join(dir, 'compose', byVariant('IoT')[0]!.path);
  const raw = join(work, 'iot.raw');
  execFileSync('sh', ['-c', `xz -dc '${rawImage}' > '${raw}'`]);
  const parts = JSON.parse(execFileSync('sfdisk', ['-J', raw], { encoding: 'utf8' })).partitiontable.partitions as { start: number; size: number }[];
  const rootPart = parts[parts.length - 1]!;
  const loop = execFileSync('losetup', ['--find', '--show', '--read-only', '--offset', String(rootPart.start * 512), '--sizelimit', String(rootPart.size * 512), raw], { encoding: 'utf8' }).trim();
  const mnt = join(work, 'mnt');
  execFileSync('mkdir', ['-p', mnt]);
  try {
    execFileSync('mount', ['-o', 'ro,noload', loop, mnt]);
    try {
      const deploys = readdirSync(join(mnt, 'ostree/deploy/fedora-iot/deploy'));
      assert.ok(deploys.some((d) => d.startsWith(commit)), `deploys ${commit}: ${deploys.join(',')}`);
    } finally {
      spawnSync('umount', [mnt]);
    }
  } finally {
    spawnSync('losetup', ['-d', loop]);
  }
});
