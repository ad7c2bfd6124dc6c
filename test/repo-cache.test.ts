// Metadata cache: keyed by the repomd.xml checksum, hit without refetching primary, corrupt
// entries detected and refetched, atomic writes, a new repomd means a new entry.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { decodeRepoCache, encodeRepoCache, CorruptCacheError } from '../src/repo/cache.js';
import { loadRepo, repoCacheDirName } from '../src/repo/load.js';
import type { RepoConfig } from '../src/repo/types.js';
import { createRepo, readHrefs } from './helpers/createrepo.js';
import { serveDir, type TestServer } from './helpers/http.js';
import { buildRpms, type FakePkg } from './helpers/rpmbuild.js';

const PKGS: FakePkg[] = [
  { name: 'one', version: '1', release: '1', arch: 'noarch', requires: ['two >= 2', '(three or four)'], requiresPre: ['/bin/sh'], files: [{ path: '/usr/share/one/x' }] },
  { name: 'two', version: '2', release: '1', epoch: 1, arch: 'x86_64', provides: ['libtwo.so.2()(64bit)'], files: [{ path: '/usr/lib64/libtwo.so.2' }, { path: '/usr/share/two/' }] },
  { name: 'three', version: '3', release: '1', arch: 'aarch64', summary: 'Three ünïcödé ✓' },
];

function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(path.relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}

describe('repo metadata cache', () => {
  let tmp: string;
  let repoDir: string;
  let srv: TestServer;
  let cfg: RepoConfig;

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-repo-cache-'));
    repoDir = path.join(tmp, 'repo');
    await buildRpms(repoDir, PKGS);
    await createRepo(repoDir, { compress: 'xz' });
    srv = await serveDir(repoDir);
    cfg = { id: 'cached', baseurl: [srv.url + '/'] };
  });
  after(async () => {
    await srv?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('second load is served from the cache (primary not refetched) and is identical', async () => {
    const cacheDir = path.join(tmp, 'c1');
    const primary = '/' + readHrefs(path.join(repoDir, 'repodata/repomd.xml')).primary!;
    srv.requests.length = 0;
    const cold = await loadRepo(cfg, { arch: 'x86_64', cacheDir });
    assert.equal(srv.requests.filter((r) => r === primary).length, 1);
    const revision = createHash('sha256').update(fs.readFileSync(path.join(repoDir, 'repodata/repomd.xml'))).digest('hex');
    assert.equal(cold.revision, revision);
    // layout: <cacheDir>/<repo dir>/<repomd sha256>/<file>, no temp files left behind
    assert.deepEqual(listFiles(cacheDir), [path.join(repoCacheDirName(cfg), revision, 'primary+filelists.kcache')]);
    srv.requests.length = 0;
    const logs: string[] = [];
    const warm = await loadRepo(cfg, { arch: 'x86_64', cacheDir, log: (m) => logs.push(m) });
    assert.deepEqual(srv.requests, ['/repodata/repomd.xml']);
    assert.ok(logs.some((l) => /from cache/.test(l)), logs.join('\n'));
    assert.deepEqual(warm.packages, cold.packages);
    assert.deepEqual(warm.groups, cold.groups);
    assert.equal(warm.revision, cold.revision);
    assert.equal(warm.baseurl, cold.baseurl);
    // primary-only loads use their own entry
    srv.requests.length = 0;
    const noFl = await loadRepo(cfg, { arch: 'x86_64', cacheDir, filelists: false });
    assert.equal(srv.requests.filter((r) => r === primary).length, 1);
    assert.equal(noFl.packages.length, cold.packages.length);
  });

  test('a corrupt cache entry is detected, removed and refetched', async () => {
    const cacheDir = path.join(tmp, 'c2');
    const cold = await loadRepo(cfg, { arch: 'x86_64', cacheDir });
    const [entry] = listFiles(cacheDir);
    const file = path.join(cacheDir, entry!);
    for (const damage of ['flip', 'truncate', 'empty'] as const) {
      const buf = fs.readFileSync(file);
      if (damage === 'flip') {
        buf[buf.length >> 1] ^= 0x55;
        fs.writeFileSync(file, buf);
      } else if (damage === 'truncate') fs.writeFileSync(file, buf.subarray(0, buf.length - 100));
      else fs.writeFileSync(file, '');
      srv.requests.length = 0;
      const logs: string[] = [];
      const again = await loadRepo(cfg, { arch: 'x86_64', cacheDir, log: (m) => logs.push(m) });
      assert.ok(logs.some((l) => /corrupt/.test(l)), `${damage}: ${logs.join('\n')}`);
      assert.ok(srv.requests.length > 1, `${damage}: metadata refetched`);
      assert.deepEqual(again.packages, cold.packages, damage);
      // and the entry was rewritten whole
      assert.deepEqual(decodeRepoCache(fs.readFileSync(file)).packages, cold.packages);
    }
  });

  test('a changed repository gets a new entry keyed by the new repomd checksum', async () => {
    const cacheDir = path.join(tmp, 'c3');
    const dir2 = path.join(tmp, 'repo2');
    fs.cpSync(repoDir, dir2, { recursive: true });
    const srv2 = await serveDir(dir2);
    try {
      const c: RepoConfig = { id: 'changing', baseurl: [srv2.url] };
      const first = await loadRepo(c, { arch: 'x86_64', cacheDir });
      await buildRpms(dir2, [{ name: 'four', version: '4', release: '1', arch: 'noarch' }]);
      await createRepo(dir2, { compress: 'gz' });
      const second = await loadRepo(c, { arch: 'x86_64', cacheDir });
      assert.notEqual(first.revision, second.revision);
      assert.deepEqual(
        second.packages.map((p) => p.name).sort(),
        ['four', 'one', 'three', 'two'],
      );
      const revs = fs.readdirSync(path.join(cacheDir, repoCacheDirName(c))).sort();
      assert.deepEqual(revs, [first.revision, second.revision].sort());
    } finally {
      await srv2.close();
    }
  });

  test('concurrent loads into one cache agree and leave one complete entry', async () => {
    const cacheDir = path.join(tmp, 'c4');
    const results = await Promise.all([1, 2, 3].map(() => loadRepo(cfg, { arch: 'x86_64', cacheDir })));
    for (const r of results) assert.deepEqual(r.packages, results[0]!.packages);
    const files = listFiles(cacheDir);
    assert.equal(files.length, 1, files.join(', '));
    assert.deepEqual(decodeRepoCache(fs.readFileSync(path.join(cacheDir, files[0]!))).packages, results[0]!.packages);
  });

  test('cache format round-trips and rejects damage', () => {
    const pkgs = [
      {
        name: 'a',
        arch: 'x86_64',
        epoch: 3,
        version: '1.0',
        release: '1',
        summary: 'ü',
        description: undefined,
        url: undefined,
        license: 'MIT',
        vendor: undefined,
        buildTime: 1700000000,
        sourceRpm: 'a-1.0-1.src.rpm',
        location: 'a.rpm',
        checksum: { type: 'sha256', value: 'ab' },
        downloadSize: 5_000_000_000,
        installSize: undefined,
        provides: [{ name: 'a', flags: 'EQ' as const, epoch: 3, version: '1.0', release: '1' }],
        requires: [{ name: '(b if c)' }, { name: '/bin/sh', pre: true }, { name: 'd', flags: 'GE' as const, version: '2', pre: true }],
        conflicts: [],
        obsoletes: [],
        recommends: [],
        suggests: [],
        supplements: [],
        enhances: [],
        files: ['/a', '/b c'],
        repoId: 'x',
      },
    ];
    const enc = encodeRepoCache({ packages: pkgs, groups: [{ id: 'g', name: 'G', default: false, uservisible: true, packages: [] }], environments: [], info: { k: 1 } });
    const dec = decodeRepoCache(enc);
    assert.deepEqual(dec.packages, pkgs);
    assert.deepEqual(dec.info, { k: 1 });
    const bad = Buffer.from(enc);
    bad[20] ^= 1;
    assert.throws(() => decodeRepoCache(bad), CorruptCacheError);
    assert.throws(() => decodeRepoCache(Buffer.from('garbage')), CorruptCacheError);
  });
});
