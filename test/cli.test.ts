// The command line as a user meets it: the `kiln` and `image-builder` binaries run as child
// processes, their stdout, stderr and exit codes checked, good and bad inputs alike.
import { before, after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { demoRepoUrls } from './helpers/demo.js';

const root = resolve(fileURLToPath(import.meta.url), '../../..');
const work = mkdtempSync(join(tmpdir(), 'kiln-cli-'));
const env = { ...process.env, XDG_CACHE_HOME: join(work, 'cache') };

function run(bin: 'kiln' | 'image-builder', args: string[], input?: string) {
  const r = spawnSync(process.execPath, [join(root, 'bin', `${bin}.js`), ...args], { encoding: 'utf8', env, input, timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

let repos: Record<string, string>;
before(async () => {
  repos = await demoRepoUrls();
});
after(() => rmSync(work, { recursive: true, force: true }));

describe('help and list', () => {
  test('--help lists the upstream subcommands', () => {
    const r = run('kiln', ['--help']);
    assert.equal(r.code, 0);
    for (const c of ['list', 'describe', 'manifest', 'depsolve']) assert.match(r.stdout, new RegExp(`\\b${c}\\b`));
  });

  test('image-builder alias lists images with upstream text format and filters', () => {
    const r = run('image-builder', ['list', '--filter', 'distro:fedora-42', '--filter', 'type:minimal*']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n').sort();
    assert.deepEqual(lines, [
      'fedora-42 type:minimal-raw-xz arch:aarch64',
      'fedora-42 type:minimal-raw-xz arch:x86_64',
      'fedora-42 type:minimal-raw-zst arch:aarch64',
      'fedora-42 type:minimal-raw-zst arch:x86_64',
    ]);
  });

  test('list --format json is machine readable', () => {
    const r = run('kiln', ['list', '--format', 'json', '--filter', 'arch:aarch64', '--filter', 'type:iot-commit']);
    assert.equal(r.code, 0, r.stderr);
    const rows = JSON.parse(r.stdout) as { distro: { name: string }; arch: { name: string }; image_type: { name: string } }[];
    assert.ok(rows.length >= 2);
    for (const row of rows) {
      assert.equal(row.arch.name, 'aarch64');
      assert.equal(row.image_type.name, 'iot-commit');
    }
  });

  test('an unknown filter prefix is an error naming the supported ones', () => {
    const r = run('kiln', ['list', '--filter', 'color:red']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /error: .*color/);
    assert.match(r.stderr, /distro/);
  });
});

describe('describe', () => {
  test('describe resolves an alias and prints YAML with the partition table', () => {
    const r = run('kiln', ['describe', 'minimal-raw', '--distro', 'fedora-42', '--arch', 'x86_64']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^@WARNING/);
    assert.match(r.stdout, /type: minimal-raw-xz/);
    assert.match(r.stdout, /partition_table:/);
    assert.match(r.stdout, /default_filename: disk\.raw\.xz/);
  });

  test('describe of an unknown type says what it could not find', () => {
    const r = run('kiln', ['describe', 'no-such-image', '--distro', 'fedora-42', '--arch', 'x86_64']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /cannot find image for: distro:"fedora-42" type:"no-such-image" arch:"x86_64"/);
  });
});

describe('manifest', () => {
  test('prints an osbuild v2 manifest with 4-space indent, curl sources with --use-librepo=false', () => {
    const r = run('kiln', ['manifest', 'type:minimal-raw-xz', '--distro', 'distro:fedora-42', '--arch', 'x86_64', '--force-repo', repos.x86_64, '--seed', '1', '--use-librepo=false']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^\{\n {4}"version": "2"/);
    const m = JSON.parse(r.stdout) as { sources: Record<string, { items: Record<string, { url: string }> }> };
    const curl = m.sources['org.osbuild.curl'];
    assert.ok(curl, 'curl source present');
    const urls = Object.values(curl.items).map((i) => i.url);
    assert.ok(urls.length > 10);
    for (const u of urls) assert.ok(u.startsWith(repos.x86_64 + '/'), u);
    assert.ok(!m.sources['org.osbuild.librepo']);
  });

  test('librepo sources are the default, as upstream', () => {
    const r = run('kiln', ['manifest', 'minimal-raw-zst', '--distro', 'fedora-42', '--arch', 'aarch64', '--force-repo', repos.aarch64, '--seed', '1']);
    assert.equal(r.code, 0, r.stderr);
    const m = JSON.parse(r.stdout) as { sources: Record<string, unknown> };
    assert.ok(m.sources['org.osbuild.librepo']);
  });

  test('the same seed gives a byte-identical manifest from the CLI', () => {
    const args = ['manifest', 'generic-qcow2', '--distro', 'fedora-43', '--arch', 'x86_64', '--force-repo', repos.x86_64, '--seed', '99'];
    const a = run('kiln', args);
    const b = run('kiln', args);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(a.stdout, b.stdout);
  });

  test('a blueprint with an unknown key names the key and the file', () => {
    const bp = join(work, 'bad.toml');
    writeFileSync(bp, 'name = "x"\n[customizations]\nhostnme = "typo"\n');
    const r = run('kiln', ['manifest', 'minimal-raw-xz', '--distro', 'fedora-42', '--arch', 'x86_64', '--force-repo', repos.x86_64, '--blueprint', bp]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /hostnme/);
    assert.match(r.stderr, /bad\.toml/);
  });

  test('a blueprint distro that disagrees with --distro is an error', () => {
    const bp = join(work, 'distro.json');
    writeFileSync(bp, JSON.stringify({ name: 'x', distro: 'fedora-43' }));
    const r = run('kiln', ['manifest', 'minimal-raw-xz', '--distro', 'fedora-42', '--arch', 'x86_64', '--force-repo', repos.x86_64, '--blueprint', bp]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /distro/);
    assert.match(r.stderr, /fedora-43/);
  });

  test('a repository URL without a scheme is refused', () => {
    const r = run('kiln', ['manifest', 'minimal-raw-xz', '--distro', 'fedora-42', '--arch', 'x86_64', '--force-repo', '/srv/repo']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /scheme missing in \/srv\/repo/);
  });

  test('an unreachable repository is named in the error', () => {
    const r = run('kiln', ['manifest', 'minimal-raw-xz', '--distro', 'fedora-42', '--arch', 'x86_64', '--force-repo', 'http://127.0.0.1:9/nothing']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /127\.0\.0\.1:9/);
  });

  test('a broken site definitions directory is reported with file and line', () => {
    const defs = join(work, 'defs');
    cpSync(join(root, 'definitions'), defs, { recursive: true });
    // find any YAML file and append a key the schema does not know at top level
    const out = spawnSync('sh', ['-c', `ls ${defs}/fedora/*.yaml | head -1`], { encoding: 'utf8' }).stdout.trim();
    const text = readFileSync(out, 'utf8');
    writeFileSync(out, text + '\nkiln_bogus_key: 1\n');
    const r = run('kiln', ['--definitions', defs, 'list']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /kiln_bogus_key/);
    assert.ok(r.stderr.includes(out.split('/').pop()!), r.stderr);
    assert.match(r.stderr, /line \d+|:\d+/);
  });
});

describe('depsolve', () => {
  test('prints the resolved set sorted by name with repo, location and checksum', () => {
    const r = run('kiln', ['depsolve', '--repo', repos.x86_64, '--arch', 'x86_64', 'bash']);
    assert.equal(r.code, 0, r.stderr);
    const { packages } = JSON.parse(r.stdout) as { packages: { name: string; repo: string; location: string; checksum: string; arch: string }[] };
    const names = packages.map((p) => p.name);
    assert.ok(names.includes('bash'));
    assert.ok(names.includes('glibc'), 'bash pulls glibc in');
    assert.deepEqual(names, [...names].sort());
    for (const p of packages) {
      assert.equal(p.repo, 'repo-0');
      assert.match(p.checksum, /^sha256:[0-9a-f]{64}$/);
      assert.match(p.location, /\.rpm$/);
      assert.ok(['x86_64', 'noarch'].includes(p.arch), p.arch);
    }
  });

  test('an unsatisfiable request exits non-zero and names the spec', () => {
    const r = run('kiln', ['depsolve', '--repo', repos.x86_64, '--arch', 'x86_64', 'kiln-no-such-package']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /kiln-no-such-package/);
  });

  test('@core comes from the comps group', () => {
    const r = run('kiln', ['depsolve', '--repo', repos.x86_64, '--arch', 'x86_64', '--no-weak-deps', '@core']);
    assert.equal(r.code, 0, r.stderr);
    const { packages } = JSON.parse(r.stdout) as { packages: { name: string }[] };
    assert.ok(packages.length > 5);
  });
});
