// The bad paths of `kiln build`, run as a user would (the CLI in a child process): interrupted
// builds, corrupt sources, unreachable repositories, a full disk, two builds on one cache. Each
// must end with a clear error, no leaked loop device or mount, no temp directory left in the
// store, no artifact under its final name, and a cache the next build can use.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { demoRepoUrls } from './helpers/demo.js';
import { serveDir } from './helpers/http.js';
import { loopsUnder, mountsUnder } from './executor-helpers.js';

const root = resolve(fileURLToPath(import.meta.url), '../../..');
const work = mkdtempSync(join(tmpdir(), 'kiln-build-fail-'));
let repos: Record<string, string>;

const BASE = 'fedora-42-minimal-raw-xz-x86_64';

function args(cache: string, out: string, repo: string, extra: string[] = []): string[] {
  return [join(root, 'bin', 'kiln.js'), 'build', 'minimal-raw-xz', '--distro', 'fedora-42', '--arch', 'x86_64', '--force-repo', repo, '--seed', '3', '--buildroot', 'host', '--cache', cache, '--output-dir', out, '--progress', 'verbose', ...extra];
}

function kiln(argv: string[]) {
  const r = spawnSync(process.execPath, argv, { encoding: 'utf8', timeout: 900_000 });
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/** No final-named artifact, no temp names, no loop devices or mounts, no store temp dirs. */
function assertClean(cache: string, out: string): void {
  if (existsSync(out)) {
    const files = readdirSync(out);
    assert.ok(!files.includes(`${BASE}.raw.xz`), `no artifact under its final name: ${files.join(',')}`);
    for (const f of files) assert.ok(!f.startsWith('.kiln-build-') && !f.includes('.partial-'), `leftover ${f}`);
  }
  assert.deepEqual(loopsUnder(cache), [], 'no loop devices left');
  assert.deepEqual(mountsUnder(cache), [], 'no mounts left');
  assert.deepEqual(loopsUnder(out), []);
  const tmp = join(cache, 'tmp');
  if (existsSync(tmp)) assert.deepEqual(readdirSync(tmp), [], 'store tmp is empty');
}

/** Run a build and send SIGINT once a line matching `when` appears on stderr. */
function interruptWhen(argv: string[], when: RegExp): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string; sawTrigger: boolean }> {
  return new Promise((res) => {
    const child = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let sent = false;
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (!sent && when.test(stderr)) {
        sent = true;
        child.kill('SIGINT');
      }
    });
    child.stdout.resume();
    child.on('exit', (code, signal) => res({ code, signal, stderr, sawTrigger: sent }));
  });
}

before(async () => {
  repos = await demoRepoUrls();
});
after(() => rmSync(work, { recursive: true, force: true }));

describe('bad inputs', () => {
  test('an unreachable repository names the repository and leaves nothing', () => {
    const cache = join(work, 'c-unreach');
    const out = join(work, 'o-unreach');
    const r = kiln(args(cache, out, 'http://127.0.0.1:9/repo'));
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /error: .*127\.0\.0\.1:9/);
    assertClean(cache, out);
  });

  test('a source with a wrong checksum is refused and not admitted to the cache', () => {
    const cache = join(work, 'c-sum');
    const out = join(work, 'o-sum');
    const m = kiln([join(root, 'bin', 'kiln.js'), 'manifest', 'minimal-raw-xz', '--distro', 'fedora-42', '--arch', 'x86_64', '--force-repo', repos.x86_64, '--seed', '3', '--use-librepo=false']);
    assert.equal(m.code, 0, m.stderr);
    // point one package's checksum at different content: swap in another package's URL
    const manifest = JSON.parse(m.stdout) as { sources: Record<string, { items: Record<string, { url: string }> }> };
    const items = manifest.sources['org.osbuild.curl']!.items;
    const keys = Object.keys(items);
    const victim = keys[0]!;
    items[victim] = { url: items[keys[1]!]!.url };
    const file = join(work, 'bad.osbuild-manifest.json');
    writeFileSync(file, JSON.stringify(manifest));
    const r = kiln([join(root, 'bin', 'kiln.js'), 'build', '--manifest', file, '--buildroot', 'host', '--cache', cache, '--output-dir', out, '--progress', 'verbose']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /checksum/i);
    assert.ok(r.stderr.includes(victim.split(':')[1]!.slice(0, 12)), `error names the item: ${r.stderr.slice(-600)}`);
    const files = join(cache, 'sources', 'org.osbuild.files');
    if (existsSync(files)) assert.ok(!readdirSync(files).includes(victim), 'the bad item is not in the cache');
    assertClean(cache, out);
  });

  test('a saved manifest that is not JSON names the file', () => {
    const file = join(work, 'broken.json');
    writeFileSync(file, '{"version": "2", pipelines: }');
    const r = kiln([join(root, 'bin', 'kiln.js'), 'build', '--manifest', file, '--cache', join(work, 'c-broken'), '--output-dir', join(work, 'o-broken')]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /broken\.json: not valid JSON/);
  });
});

describe('interrupts (SIGINT)', () => {
  test('during downloads', async () => {
    // serve the repository slowly so the interrupt lands while packages download
    const dir = fileURLToPath(repos.x86_64);
    const faults: Record<string, { delayMs: number }> = {};
    const walk = (d: string, rel: string): void => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        if (e.isDirectory()) walk(join(d, e.name), `${rel}/${e.name}`);
        else if (e.name.endsWith('.rpm')) faults[`${rel}/${e.name}`] = { delayMs: 400 };
      }
    };
    walk(dir, '');
    const srv = await serveDir(dir, { faults });
    try {
      const cache = join(work, 'c-int-dl');
      const out = join(work, 'o-int-dl');
      const r = await interruptWhen(args(cache, out, srv.url), /sources: \d+ item/);
      assert.ok(r.sawTrigger, `downloads started: ${r.stderr.slice(-800)}`);
      assert.ok(r.signal === 'SIGINT' || (r.code !== null && r.code !== 0), `non-zero exit (${r.code}, ${r.signal})`);
      assertClean(cache, out);
    } finally {
      await srv.close();
    }
  });

  test('during the rpm install, then the cache serves the next build', async () => {
    const cache = join(work, 'c-int-rpm');
    const out = join(work, 'o-int-rpm');
    const r = await interruptWhen(args(cache, out, repos.x86_64), /pipeline os: [0-9a-f]{12}/);
    assert.ok(r.sawTrigger, r.stderr.slice(-800));
    assert.ok(r.signal === 'SIGINT' || (r.code !== null && r.code !== 0));
    assertClean(cache, out);
    // the same cache builds the image afterwards
    const again = kiln(args(cache, out, repos.x86_64));
    assert.equal(again.code, 0, again.stderr.slice(-2000));
    assert.ok(existsSync(join(out, `${BASE}.raw.xz`)));
    execFileSync('xz', ['-t', join(out, `${BASE}.raw.xz`)]);
  });

  test('during the image pipeline (loop devices and mounts in use)', async () => {
    const cache = join(work, 'c-int-img');
    const out = join(work, 'o-int-img');
    const r = await interruptWhen(args(cache, out, repos.x86_64), /stage \d+ org\.osbuild\.copy/);
    assert.ok(r.sawTrigger, r.stderr.slice(-800));
    assert.ok(r.signal === 'SIGINT' || (r.code !== null && r.code !== 0));
    assertClean(cache, out);
  });
});

describe('resources', () => {
  test('a full output disk is a clear error with nothing left behind', () => {
    const cache = join(work, 'c-full');
    const out = join(work, 'o-full');
    mkdirSync(out, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'kiln-test-full', out]);
    try {
      const r = kiln(args(cache, out, repos.x86_64));
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /no space left on device|ENOSPC/i);
      assertClean(cache, out);
    } finally {
      spawnSync('umount', [out]);
    }
  });

  test('two builds sharing one cache at once both succeed', async () => {
    const cache = join(work, 'c-shared');
    const run = (type: string, out: string) =>
      new Promise<{ code: number | null; stderr: string }>((res) => {
        const argv = args(cache, out, repos.x86_64).map((a) => (a === 'minimal-raw-xz' ? type : a));
        const child = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
        let stderr = '';
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        child.stdout.resume();
        child.on('exit', (code) => res({ code, stderr }));
      });
    const [a, b] = await Promise.all([run('minimal-raw-xz', join(work, 'o-shared-a')), run('minimal-raw-zst', join(work, 'o-shared-b'))]);
    assert.equal(a.code, 0, a.stderr.slice(-2000));
    assert.equal(b.code, 0, b.stderr.slice(-2000));
    execFileSync('xz', ['-t', join(work, 'o-shared-a', `${BASE}.raw.xz`)]);
    execFileSync('zstd', ['-t', join(work, 'o-shared-b', 'fedora-42-minimal-raw-zst-x86_64.raw.zst')]);
    assert.deepEqual(readdirSync(join(cache, 'tmp')), []);
    // a metadata file sits beside each image
    const meta = JSON.parse(readFileSync(join(work, 'o-shared-a', `${BASE}.metadata.json`), 'utf8')) as { image: { sha256: string } };
    assert.match(meta.image.sha256, /^[0-9a-f]{64}$/);
    // xz and zst images share their build root (definitions: build_base_packages), so every
    // pipeline before the compression one has the same id: one build makes it, the other waits
    // on the store's lock and takes it from the cache (or never needs it)
    const statuses = ['o-shared-a', 'o-shared-b'].map((d, k) => {
      const f = join(work, d, k === 0 ? `${BASE}.metadata.json` : 'fedora-42-minimal-raw-zst-x86_64.metadata.json');
      const m = JSON.parse(readFileSync(f, 'utf8')) as { pipelines: { name: string; status: string }[] };
      return Object.fromEntries(m.pipelines.map((p) => [p.name, p.status]));
    });
    for (const shared of ['build', 'os', 'image']) {
      assert.equal(statuses.filter((st) => st[shared] === 'built').length, 1, `${shared} built once: ${JSON.stringify(statuses)}`);
    }
    assert.equal(statuses[0]!['xz'], 'built');
    assert.equal(statuses[1]!['zstd'], 'built');
  });
});
