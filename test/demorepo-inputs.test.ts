// createDemoRepo input handling, stamp/rebuild behaviour and the small EVR comparer, on a tiny
// single-arch repository so it stays fast. The end-to-end repository checks live in
// demorepo-build.test.ts.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { createDemoRepo, defaultDemoRepoDir } from '../src/demorepo/index.js';
import { vercmp } from '../src/demorepo/evr.js';
import { KilnError } from '../src/util/errors.js';

function primaryNames(repo: string): string[] {
  const repomd = fs.readFileSync(path.join(repo, 'repodata', 'repomd.xml'), 'utf8');
  const href = /<data type="primary">[\s\S]*?<location href="([^"]+)"/.exec(repomd)![1]!;
  const xml = zlib.gunzipSync(fs.readFileSync(path.join(repo, href))).toString('utf8');
  return [...xml.matchAll(/<package type="rpm">\s*<name>([^<]+)<\/name>/g)].map((m) => m[1]!);
}

function groupIds(repo: string): string[] {
  const repomd = fs.readFileSync(path.join(repo, 'repodata', 'repomd.xml'), 'utf8');
  const href = /<data type="group">[\s\S]*?<location href="([^"]+)"/.exec(repomd)![1]!;
  return [...fs.readFileSync(path.join(repo, href), 'utf8').matchAll(/<group>\s*<id>([^<]+)<\/id>/g)].map((m) => m[1]!);
}

describe('demo repository inputs', () => {
  let tmp = '';
  before(() => {
    tmp = fs.mkdtempSync(os.tmpdir() + '/kiln-demorepo-inputs-');
  });
  after(() => {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  async function rejects(opts: Parameters<typeof createDemoRepo>[0], re: RegExp): Promise<void> {
    await assert.rejects(createDemoRepo(opts), (e: unknown) => {
      assert.ok(e instanceof KilnError, String(e));
      assert.match(e.message, re);
      return true;
    });
  }

  it('rejects an unsupported architecture, naming it', async () => {
    await rejects({ outDir: path.join(tmp, 'a'), arches: ['x86_64', 'sparc64'], packageNames: ['bash'] }, /'sparc64'/);
  });

  it('rejects an invalid package name, naming it', async () => {
    await rejects({ outDir: path.join(tmp, 'b'), arches: ['x86_64'], packageNames: ['bash', 'foo bar'] }, /'foo bar'.*not a valid RPM package name/);
    await rejects({ outDir: path.join(tmp, 'b'), arches: ['x86_64'], packageNames: ['@'] }, /'@' names no group/);
  });

  it('rejects a non-numeric releasever, empty names and empty arches', async () => {
    await rejects({ outDir: path.join(tmp, 'c'), arches: ['x86_64'], packageNames: ['bash'], releasever: 'rawhide' }, /releasever 'rawhide'/);
    await rejects({ outDir: path.join(tmp, 'c'), arches: ['x86_64'], packageNames: [] }, /packageNames is empty/);
    await rejects({ outDir: path.join(tmp, 'c'), arches: [], packageNames: ['bash'] }, /arches must list/);
  });

  it('rejects an outDir rpmbuild could not work in, naming it', async () => {
    await rejects({ outDir: path.join(tmp, 'with space'), arches: ['x86_64'], packageNames: ['bash'] }, /outDir '.*with space'/);
    assert.ok(!fs.existsSync(path.join(tmp, 'with space')));
  });

  it('rejects a bad group id, naming it', async () => {
    await rejects({ outDir: path.join(tmp, 'd'), arches: ['x86_64'], packageNames: ['bash'],
      groups: [{ id: 'bad id', name: 'Bad', default: false, uservisible: true, packages: [] }] }, /"bad id"/);
  });

  it('refuses to replace an arch directory it did not make', async () => {
    const out = path.join(tmp, 'foreign');
    fs.mkdirSync(path.join(out, 'x86_64'), { recursive: true });
    fs.writeFileSync(path.join(out, 'x86_64', 'precious.txt'), 'keep me');
    await rejects({ outDir: out, arches: ['x86_64'], packageNames: ['bash'] }, /refusing to replace .*x86_64/);
    assert.equal(fs.readFileSync(path.join(out, 'x86_64', 'precious.txt'), 'utf8'), 'keep me');
  });

  it('builds a small repo with groups, reuses it, and rebuilds when the inputs change', async () => {
    const out = path.join(tmp, 'small');
    const messages: string[] = [];
    const opts = {
      outDir: out, arches: ['x86_64'], releasever: '43', packageNames: ['bash', '@Custom Stuff'],
      groups: [{ id: 'extra', name: 'Extra', default: false, uservisible: true, packages: [{ name: 'tar', type: 'mandatory' as const }] }],
      onProgress: (m: string) => messages.push(m),
    };
    const first = await createDemoRepo(opts);
    assert.equal(first.reused, false);
    const repo = first.repos['x86_64']!;
    const names = primaryNames(repo);
    for (const n of ['bash', 'tar', 'glibc', 'filesystem', 'systemd', 'fedora-release']) assert.ok(names.includes(n), n);
    assert.deepEqual(groupIds(repo).sort(), ['core', 'custom-stuff', 'extra']);
    assert.ok(messages.some((m) => /no built-in comps group 'Custom Stuff'/.test(m)), messages.join('\n'));
    // releasever reaches the dist tag and os-release.
    const rel = fs.readdirSync(path.join(repo, 'Packages', 'f')).find((f) => f.startsWith('fedora-release-identity-basic-'))!;
    assert.equal(rel, 'fedora-release-identity-basic-43-26.noarch.rpm');
    const cpio = execFileSync('rpm2cpio', [path.join(repo, 'Packages', 'f', rel)]);
    assert.match(cpio.toString('latin1'), /VERSION_ID=43\n/);
    assert.ok(fs.readdirSync(path.join(repo, 'Packages', 'b')).includes('bash-5.2.37-1.fc43.x86_64.rpm'));
    // Only the repo and the stamp remain: no work directories left behind.
    assert.deepEqual(fs.readdirSync(out).sort(), ['.kiln-demo-repo.stamp', 'x86_64']);

    const second = await createDemoRepo(opts);
    assert.equal(second.reused, true);

    const third = await createDemoRepo({ ...opts, packageNames: [...opts.packageNames, 'cowsay'] });
    assert.equal(third.reused, false);
    assert.ok(primaryNames(repo).includes('cowsay'));
    assert.deepEqual(fs.readdirSync(out).sort(), ['.kiln-demo-repo.stamp', 'x86_64']);
  });

  it('a repo whose stamp is gone is rebuilt, not trusted, and the rebuild is byte-identical', async () => {
    const out = path.join(tmp, 'small');
    const opts = { outDir: out, arches: ['x86_64'], releasever: '43', packageNames: ['bash', 'xz'] };
    await createDemoRepo(opts);
    const digest = () => {
      const dir = path.join(out, 'x86_64', 'Packages');
      return fs.readdirSync(dir, { recursive: true }).map(String).filter((f) => f.endsWith('.rpm')).sort()
        .map((f) => `${f} ${createHash('sha256').update(fs.readFileSync(path.join(dir, f))).digest('hex')}`);
    };
    const before = digest();
    fs.rmSync(path.join(out, '.kiln-demo-repo.stamp'));
    const r = await createDemoRepo(opts);
    assert.equal(r.reused, false);
    assert.ok(fs.existsSync(path.join(out, '.kiln-demo-repo.stamp')));
    assert.deepEqual(digest(), before);
  });

  it('defaultDemoRepoDir follows the user: /var/cache for root, XDG cache otherwise', () => {
    const d = defaultDemoRepoDir();
    if (process.geteuid!() === 0) assert.equal(d, '/var/cache/kiln/demo-repo');
    else assert.ok(d.endsWith(path.join('kiln', 'demo-repo')) && !d.startsWith('/var/cache'));
  });
});

describe('vercmp agrees with rpm', () => {
  it('matches rpm.vercmp on tricky pairs', () => {
    const pairs: [string, string][] = [['1.0', '1.0.0'], ['1.0', '1.0'], ['2.10', '2.9'], ['1.0~rc1', '1.0'], ['1.0a', '1.0'],
      ['9.9p1', '9.9'], ['20250509', '20150904'], ['1.0^git1', '1.0'], ['1.0^git1', '1.0.1'], ['010', '10'], ['a', '1'],
      ['6.5', '6.5.20250125'], ['1.fc42', '1.fc43'], ['3.18', '3']];
    const lua = pairs.map(([a, b]) => `print(rpm.vercmp("${a}", "${b}") .. "\\n")`).join(' ');
    const expected = execFileSync('rpm', ['--eval', `%{lua: ${lua}}`], { encoding: 'utf8' }).trim().split('\n').map(Number);
    assert.deepEqual(pairs.map(([a, b]) => vercmp(a, b)), expected);
  });
});
