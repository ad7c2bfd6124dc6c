// Loading real repositories (rpmbuild + createrepo_c) in every metadata compression, over
// file:// and http://, checked against what `rpm -qp` says about the same RPM files.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { loadRepo } from '../src/repo/load.js';
import type { Dep, Package } from '../src/rpm/types.js';
import { createRepo, writeComps, type RepoCompression } from './helpers/createrepo.js';
import { serveDir, type TestServer } from './helpers/http.js';
import { buildRpms, type FakePkg } from './helpers/rpmbuild.js';

export const FIXTURE: FakePkg[] = [
  {
    name: 'foo',
    version: '1.0',
    release: '1',
    arch: 'noarch',
    requires: ['bar >= 2.0', '(baz if qux)', 'libx.so.1()(64bit)'],
    requiresPre: ['/bin/sh'],
    recommends: ['qux > 1'],
    provides: ['config(foo) = 1.0-1'],
    files: [
      { path: '/usr/share/foo/a.txt', content: 'a\n' },
      { path: '/etc/foo.conf', content: 'x=1\n' },
      { path: '/usr/bin/foo', content: '#!/bin/sh\necho foo\n' },
    ],
  },
  { name: 'foo', version: '1.1', release: '2', arch: 'noarch', requires: ['bar'], files: [{ path: '/usr/share/foo/b.txt' }] },
  {
    name: 'bar',
    version: '2.5',
    release: '3.fc42',
    epoch: 2,
    arch: 'x86_64',
    provides: ['libx.so.1()(64bit)', 'virtual-bar = 1.0'],
    conflicts: ['oldbar < 1'],
    obsoletes: ['barold <= 1.0-1'],
    supplements: ['(bar and langpacks-de)'],
    suggests: ['baz'],
    enhances: ['foo'],
    files: [{ path: '/usr/lib64/libx.so.1', content: 'ELF?' }, { path: '/usr/share/bar/' }, { path: '/usr/share/bar/data' }],
  },
  { name: 'baz', version: '0.9', release: '1', arch: 'aarch64', files: [{ path: '/usr/bin/baz', content: 'b' }] },
  {
    name: 'qux',
    version: '3',
    release: '1',
    arch: 'i686',
    summary: 'Qux & <friends>',
    description: 'Line one.\nLine "two" & <three>.',
    license: 'GPL-2.0-or-later AND MIT',
    url: 'https://example.org/qux',
    vendor: 'Kiln Test',
  },
];

const OPS: Record<string, string> = { EQ: '=', LT: '<', LE: '<=', GT: '>', GE: '>=' };
export function depString(d: Dep): string {
  if (!d.flags) return d.name;
  return `${d.name} ${OPS[d.flags]} ${d.epoch ? `${d.epoch}:` : ''}${d.version ?? ''}${d.release ? `-${d.release}` : ''}`;
}

interface RpmTruth {
  name: string;
  epoch: number;
  version: string;
  release: string;
  arch: string;
  summary: string;
  description: string;
  license: string;
  url?: string;
  vendor?: string;
  sourcerpm: string;
  buildtime: number;
  deps: Record<string, string[]>;
  files: string[];
}

const QF = '%{NAME}\\n%|EPOCH?{%{EPOCH}}:{0}|\\n%{VERSION}\\n%{RELEASE}\\n%{ARCH}\\n%{LICENSE}\\n%|URL?{%{URL}}:{}|\\n%|VENDOR?{%{VENDOR}}:{}|\\n%{SOURCERPM}\\n%{BUILDTIME}\\n%{SUMMARY}\\n';
function rpmTruth(file: string): RpmTruth {
  const q = (...args: string[]) => execFileSync('rpm', ['-qp', ...args, file], { encoding: 'utf8' });
  const [name, epoch, version, release, arch, license, url, vendor, sourcerpm, buildtime, summary] = q('--qf', QF).split('\n');
  const lines = (s: string) => s.split('\n').filter((l) => l !== '' && l !== '(contains no files)');
  const deps: Record<string, string[]> = {};
  for (const kind of ['requires', 'provides', 'conflicts', 'obsoletes', 'recommends', 'suggests', 'supplements', 'enhances']) {
    // createrepo_c leaves rpmlib() dependencies out of primary.xml, as it should.
    deps[kind] = lines(q(`--${kind}`)).filter((l) => !l.startsWith('rpmlib('));
  }
  return {
    name: name!,
    epoch: Number(epoch),
    version: version!,
    release: release!,
    arch: arch!,
    license: license!,
    url: url || undefined,
    vendor: vendor || undefined,
    sourcerpm: sourcerpm!,
    buildtime: Number(buildtime),
    summary: summary!,
    description: q('--qf', '%{DESCRIPTION}'),
    deps,
    files: lines(q('-l')).sort(),
  };
}

function assertMatchesRpm(p: Package, t: RpmTruth, withFilelists: boolean): void {
  const id = `${p.name}-${p.version}`;
  assert.equal(p.epoch, t.epoch, id);
  assert.equal(p.release, t.release, id);
  assert.equal(p.arch, t.arch, id);
  assert.equal(p.summary, t.summary, id);
  assert.equal(p.description, t.description, id);
  assert.equal(p.license, t.license, id);
  assert.equal(p.url, t.url, id);
  assert.equal(p.vendor, t.vendor, id);
  assert.equal(p.sourceRpm, t.sourcerpm, id);
  assert.equal(p.buildTime, t.buildtime, id);
  for (const kind of Object.keys(t.deps) as (keyof Package & keyof RpmTruth['deps'])[]) {
    const got = (p[kind] as Dep[]).map(depString).sort();
    assert.deepEqual(got, [...t.deps[kind]!].sort(), `${id} ${kind}`);
  }
  if (withFilelists) assert.deepEqual([...p.files].sort(), t.files, `${id} files`);
  else for (const f of p.files) assert.ok(t.files.includes(f), `${id}: primary file ${f} is a real file`);
}

describe('repo load: real repositories', () => {
  let tmp: string;
  let rpms: string[];
  const truth = new Map<string, RpmTruth>();
  let comps: string;
  const repos = new Map<RepoCompression, string>();
  let srv: TestServer;

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-repo-load-'));
    rpms = await buildRpms(path.join(tmp, 'rpms'), FIXTURE);
    for (const r of rpms) truth.set(path.basename(r), rpmTruth(r));
    comps = path.join(tmp, 'comps.xml');
    writeComps(
      comps,
      [
        { id: 'core', name: 'Core', description: 'Smallest possible installation', default: true, uservisible: false, packages: ['foo', { name: 'bar', type: 'default' }, { name: 'qux', type: 'optional' }, { name: 'baz', type: 'conditional', requires: 'bar' }] },
        { id: 'extras', packages: ['qux'] },
      ],
      [{ id: 'minimal-environment', name: 'Minimal Install', groups: ['core'], options: ['extras'] }],
    );
    for (const c of ['gz', 'xz', 'zstd', 'none'] as const) {
      const dir = path.join(tmp, `repo-${c}`);
      fs.cpSync(path.join(tmp, 'rpms'), dir, { recursive: true });
      await createRepo(dir, { compress: c, groupFile: comps });
      repos.set(c, dir);
    }
    srv = await serveDir(tmp);
  });
  after(async () => {
    await srv?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('createrepo helper produced the requested compression', () => {
    const suffix: Record<RepoCompression, RegExp> = { gz: /\.xml\.gz$/, xz: /\.xml\.xz$/, zstd: /\.xml\.zst$/, none: /\.xml$/ };
    for (const [c, dir] of repos) {
      const repomd = fs.readFileSync(path.join(dir, 'repodata/repomd.xml'), 'utf8');
      const href = /<data type="primary">[\s\S]*?<location href="([^"]+)"/.exec(repomd)![1]!;
      assert.match(href, suffix[c], c);
    }
  });

  for (const c of ['gz', 'xz', 'zstd', 'none'] as const) {
    for (const via of ['file', 'http'] as const) {
      test(`${c} metadata over ${via}:// matches rpm -qp`, async () => {
        const dir = repos.get(c)!;
        const baseurl = via === 'file' ? pathToFileURL(dir).toString() : `${srv.url}/repo-${c}/`;
        const repo = await loadRepo({ id: `t-${c}`, baseurl: [baseurl] }, { arch: 'x86_64' });
        assert.equal(repo.packages.length, FIXTURE.length);
        for (const p of repo.packages) {
          assert.equal(p.repoId, `t-${c}`);
          const file = path.basename(p.location);
          const t = truth.get(file);
          assert.ok(t, `location ${p.location} names a built rpm`);
          assertMatchesRpm(p, t, true);
          // location + checksum point at the real file
          const data = fs.readFileSync(path.join(dir, p.location));
          assert.equal(p.checksum.type, 'sha256');
          assert.equal(p.checksum.value, (await import('node:crypto')).createHash('sha256').update(data).digest('hex'));
          assert.equal(p.downloadSize, data.length);
        }
        assert.ok(repo.baseurl.endsWith('/'));
        assert.equal(repo.revision, (await import('node:crypto')).createHash('sha256').update(fs.readFileSync(path.join(dir, 'repodata/repomd.xml'))).digest('hex'));
        // comps
        assert.deepEqual(
          repo.groups.map((g) => g.id),
          ['core', 'extras'],
        );
        const core = repo.groups[0]!;
        assert.equal(core.name, 'Core');
        assert.equal(core.description, 'Smallest possible installation');
        assert.equal(core.default, true);
        assert.equal(core.uservisible, false);
        assert.deepEqual(core.packages, [
          { name: 'foo', type: 'mandatory' },
          { name: 'bar', type: 'default' },
          { name: 'qux', type: 'optional' },
          { name: 'baz', type: 'conditional', requires: 'bar' },
        ]);
        assert.equal(repo.groups[1]!.uservisible, true);
        assert.deepEqual(repo.environments, [{ id: 'minimal-environment', name: 'Minimal Install', groups: ['core'], options: ['extras'] }]);
      });
    }
  }

  test('sha512 / sha1 checksums as repomd says', async () => {
    for (const sum of ['sha512', 'sha1'] as const) {
      const dir = path.join(tmp, `repo-${sum}`);
      fs.cpSync(path.join(tmp, 'rpms'), dir, { recursive: true });
      await createRepo(dir, { compress: 'xz', checksum: sum });
      assert.match(fs.readFileSync(path.join(dir, 'repodata/repomd.xml'), 'utf8'), new RegExp(`<checksum type="${sum}">`));
      const repo = await loadRepo({ id: sum, baseurl: [pathToFileURL(dir).toString()] }, { arch: 'x86_64' });
      for (const p of repo.packages) {
        assert.equal(p.checksum.type, sum);
        assert.equal(p.checksum.value, (await import('node:crypto')).createHash(sum).update(fs.readFileSync(path.join(dir, p.location))).digest('hex'));
      }
      // a damaged file is caught with that algorithm too
      const primary = /<data type="primary">[\s\S]*?<location href="([^"]+)"/.exec(fs.readFileSync(path.join(dir, 'repodata/repomd.xml'), 'utf8'))![1]!;
      const buf = fs.readFileSync(path.join(dir, primary));
      buf[buf.length >> 1] ^= 1;
      fs.writeFileSync(path.join(dir, primary), buf);
      await assert.rejects(loadRepo({ id: sum, baseurl: [pathToFileURL(dir).toString()] }, { arch: 'x86_64' }), new RegExp(`repo "${sum}": checksum mismatch for ${primary.replace(/\./g, '\\.')}: expected ${sum}`));
    }
  });

  test('filelists: false keeps only primary files', async () => {
    const repo = await loadRepo({ id: 'nofl', baseurl: [pathToFileURL(repos.get('gz')!).toString()] }, { arch: 'x86_64', filelists: false });
    const foo = repo.packages.find((p) => p.name === 'foo' && p.version === '1.0')!;
    // primary lists /etc and bin files, not /usr/share
    assert.deepEqual([...foo.files].sort(), ['/etc/foo.conf', '/usr/bin/foo']);
    for (const p of repo.packages) assertMatchesRpm(p, truth.get(path.basename(p.location))!, false);
  });

  test('rich and pre dependencies are parsed structurally', async () => {
    const repo = await loadRepo({ id: 'deps', baseurl: [pathToFileURL(repos.get('gz')!).toString()] }, { arch: 'x86_64' });
    const foo = repo.packages.find((p) => p.name === 'foo' && p.version === '1.0')!;
    assert.deepEqual(
      foo.requires.find((d) => d.name.startsWith('(')),
      { name: '(baz if qux)' },
    );
    assert.deepEqual(
      foo.requires.find((d) => d.name === '/bin/sh'),
      { name: '/bin/sh', pre: true },
    );
    assert.deepEqual(
      foo.requires.find((d) => d.name === 'bar'),
      { name: 'bar', flags: 'GE', version: '2.0' },
    );
    const bar = repo.packages.find((p) => p.name === 'bar')!;
    assert.deepEqual(
      bar.provides.find((d) => d.name === 'bar'),
      { name: 'bar', flags: 'EQ', epoch: 2, version: '2.5', release: '3.fc42' },
    );
  });

  test('gpg keys: texts kept, file URLs fetched', async () => {
    const keyText = '-----BEGIN PGP PUBLIC KEY BLOCK-----\nnot really a key\n-----END PGP PUBLIC KEY BLOCK-----\n';
    const keyFile = path.join(tmp, 'RPM-GPG-KEY-test-x86_64');
    fs.writeFileSync(keyFile, 'key from file\n');
    const repo = await loadRepo(
      { id: 'keys', baseurl: [pathToFileURL(repos.get('gz')!).toString()], gpgkeys: [keyText, pathToFileURL(path.join(tmp, 'RPM-GPG-KEY-test-$basearch')).toString(), `${srv.url}/RPM-GPG-KEY-test-x86_64`] },
      { arch: 'x86_64', filelists: false },
    );
    assert.deepEqual(repo.gpgkeyTexts, [keyText, 'key from file\n', 'key from file\n']);
  });
});
