// The hidden --preview override (upstream image-builder's `--preview`, which koji-image-builder
// passes as `--preview true|false` from a task's opts.preview): parsing of its value, and its
// effect on the one place the distro's preview flag shows in a manifest, the installer's
// buildstamp (`final` is the opposite of preview). Without the flag the definitions decide.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateManifest, withPreview, type ManifestOptions } from '../src/build/manifest.js';
import { parsePreview } from '../src/cli/manifest.js';
import { loadDefinitions, resolveImageType } from '../src/defs/index.js';
import type { Manifest } from '../src/manifest/types.js';
import { demoRepoUrls, ostreeRepoUrl } from './helpers/demo.js';

const root = resolve(fileURLToPath(import.meta.url), '../../..');
const work = mkdtempSync(join(tmpdir(), 'kiln-cli-preview-'));
const env = { ...process.env, XDG_CACHE_HOME: join(work, 'cache') };
const rpmmdCache = join(work, 'rpmmd');

function run(bin: 'kiln' | 'image-builder', args: string[]) {
  const r = spawnSync(process.execPath, [join(root, 'bin', `${bin}.js`), ...args], { encoding: 'utf8', env, timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The `final` option of the manifest's org.osbuild.buildstamp stage (there is exactly one). */
function buildstampFinal(m: Manifest): unknown {
  const stamps = m.pipelines.flatMap((p) => p.stages).filter((s) => s.type === 'org.osbuild.buildstamp');
  assert.equal(stamps.length, 1, 'one buildstamp stage');
  return (stamps[0]!.options as Record<string, unknown>).final;
}

// fedora-42 is a release, fedora-rawhide (alias fedora-45) a preview: the override is checked
// in both directions, against what the definitions themselves say.
const defs = loadDefinitions();
const definedPreview = (distro: string) => resolveImageType(defs, distro, 'iot-installer', 'x86_64').distro.preview;
const REFS = { 'fedora-42': 'fedora/42/x86_64/iot', 'fedora-rawhide': 'fedora/45/x86_64/iot' } as const;

let repos: Record<string, string>;
let ostreeUrl: string;
before(async () => {
  repos = await demoRepoUrls();
  ostreeUrl = await ostreeRepoUrl(Object.values(REFS));
});
after(() => rmSync(work, { recursive: true, force: true }));

describe('--preview value', () => {
  test('Go boolean spellings are accepted; a bare flag means true', () => {
    for (const v of ['1', 't', 'T', 'TRUE', 'true', 'True']) assert.equal(parsePreview(v), true, v);
    for (const v of ['0', 'f', 'F', 'FALSE', 'false', 'False']) assert.equal(parsePreview(v), false, v);
    assert.equal(parsePreview(undefined), true);
  });

  test('`--preview maybe` fails naming the flag and the value, for manifest, build and the image-builder alias', () => {
    for (const [bin, cmd] of [['kiln', 'manifest'], ['kiln', 'build'], ['image-builder', 'manifest']] as const) {
      const r = run(bin, [cmd, 'iot-installer', '--distro', 'fedora-42', '--arch', 'x86_64', '--preview', 'maybe']);
      assert.notEqual(r.code, 0, `${bin} ${cmd}`);
      assert.match(r.stderr, /error: --preview: invalid value "maybe": expected true or false/, `${bin} ${cmd}: ${r.stderr}`);
      assert.equal(r.stdout, '');
    }
  });

  test('a bare --preview before the image type is reported, not taken as a type-less build', () => {
    const r = run('kiln', ['manifest', '--preview', 'iot-installer', '--distro', 'fedora-42']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /--preview: invalid value "iot-installer".*--preview=true/);
  });

  test('the flag is hidden from help, like upstream', () => {
    const r = run('kiln', ['manifest', '--help']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /--ostree-url/);
    assert.doesNotMatch(r.stdout, /--preview/);
  });

  test('build --manifest refuses --preview (a saved manifest is not regenerated)', () => {
    const file = join(work, 'saved.json');
    writeFileSync(file, JSON.stringify({ version: '2', pipelines: [{ name: 'build' }] }));
    const r = run('kiln', ['build', '--manifest', file, '--preview=false', '--output-dir', join(work, 'out')]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /--preview .*cannot be used with --manifest/);
  });
});

describe('--preview in the manifest', () => {
  function opts(distro: keyof typeof REFS, type: string, preview?: boolean): ManifestOptions {
    return {
      imageType: type,
      distro,
      arch: 'x86_64',
      forceRepos: [repos.x86_64!],
      seed: 7n,
      ostree: { url: ostreeUrl, ref: REFS[distro] },
      rpmmdCache,
      ...(type === 'iot-simplified-installer' ? { blueprint: { name: 'p', packages: [], modules: [], groups: [], customizations: { installation_device: '/dev/vda' } } } : {}),
      ...(preview !== undefined ? { preview } : {}),
    };
  }

  test('the definitions disagree between the two distros used here (else the checks below prove nothing)', () => {
    assert.equal(definedPreview('fedora-42'), false);
    assert.equal(definedPreview('fedora-rawhide'), true);
  });

  for (const distro of ['fedora-42', 'fedora-rawhide'] as const) {
    test(`${distro} iot-installer: buildstamp final follows the definitions without the flag and the override with it`, async () => {
      const defined = definedPreview(distro);
      const plain = await generateManifest(opts(distro, 'iot-installer'));
      assert.equal(buildstampFinal(plain.manifest), !defined, 'no flag: definitions value');
      assert.equal(plain.imageType.distro.preview, defined);

      const flipped = await generateManifest(opts(distro, 'iot-installer', !defined));
      assert.equal(buildstampFinal(flipped.manifest), defined, 'override');
      assert.equal(flipped.imageType.distro.preview, !defined);

      // passing the value the definitions already have changes nothing at all
      const same = await generateManifest(opts(distro, 'iot-installer', defined));
      assert.deepEqual(same.manifest, plain.manifest);

      // the override did not leak into the definitions: a later build without it is as before
      assert.equal(definedPreview(distro), defined);
      const again = await generateManifest(opts(distro, 'iot-installer'));
      assert.deepEqual(again.manifest, plain.manifest);
    });
  }

  test('withPreview copies the image type and its distro instead of editing them', () => {
    const it = resolveImageType(defs, 'fedora-42', 'iot-installer', 'x86_64');
    const before = structuredClone(it);
    const over = withPreview(it, true);
    assert.notEqual(over, it);
    assert.notEqual(over.distro, it.distro);
    assert.equal(over.distro.preview, true);
    assert.deepEqual(it, before);
    assert.equal(withPreview(it, undefined), it);
  });

  test('kiln manifest iot-simplified-installer: --preview=true and --preview false (the Koji form) reach the buildstamp', () => {
    const bp = join(work, 'bp.toml');
    writeFileSync(bp, 'name = "p"\n[customizations]\ninstallation_device = "/dev/vda"\n');
    const base = ['manifest', 'iot-simplified-installer', '--distro', 'fedora-42', '--arch', 'x86_64', '--seed', '7', '--blueprint', bp,
      '--force-repo', repos.x86_64!, '--ostree-url', ostreeUrl, '--rpmmd-cache', rpmmdCache];
    const final = (args: string[]) => {
      const r = run('kiln', [...base, ...args]);
      assert.equal(r.code, 0, r.stderr);
      return buildstampFinal(JSON.parse(r.stdout) as Manifest);
    };
    assert.equal(definedPreview('fedora-42'), false);
    assert.equal(final([]), true);
    assert.equal(final(['--preview=true']), false);
    assert.equal(final(['--preview', 'true']), false);
    assert.equal(final(['--preview', 'false']), true);
    assert.equal(final(['--preview']), false);
  });
});
