// --force-repo / --extra-repo parsing and upstream-format repository files.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { repoConfigsFromFlags } from '../src/repo/flags.js';
import { loadRepos } from '../src/repo/load.js';
import { parseRepositoryFile, readRepositoryFile } from '../src/repo/repofile.js';
import { KilnError } from '../src/util/errors.js';
import { createRepo } from './helpers/createrepo.js';
import { serveDir, type TestServer } from './helpers/http.js';
import { buildRpms } from './helpers/rpmbuild.js';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

describe('repo flags', () => {
  test('forced and extra repos get upstream ids and names', () => {
    const r = repoConfigsFromFlags({ forceRepos: ['https://example.com/fedora/42/x86_64/os/', 'file:///srv/repo'], extraRepos: ['http://mirror.local:8080/extra'] });
    assert.deepEqual(r, [
      { id: 'forced-repo-0', name: 'forced repo#0 example.com/fedora/42/x86_64/os/', baseurl: ['https://example.com/fedora/42/x86_64/os/'], checkGpg: false, checkRepoGpg: false },
      { id: 'forced-repo-1', name: 'forced repo#1 /srv/repo', baseurl: ['file:///srv/repo'], checkGpg: false, checkRepoGpg: false },
      { id: 'extra-repo-0', name: 'extra repo#0 mirror.local:8080/extra', baseurl: ['http://mirror.local:8080/extra'], checkGpg: false, checkRepoGpg: false },
    ]);
    assert.deepEqual(repoConfigsFromFlags({}), []);
  });

  test('a URL without scheme is an error naming it', () => {
    assert.throws(
      () => repoConfigsFromFlags({ extraRepos: ['/srv/repo'] }),
      (e: unknown) => e instanceof KilnError && e.message === 'scheme missing in /srv/repo',
    );
    assert.throws(() => repoConfigsFromFlags({ forceRepos: ['example.com/repo'] }), /scheme missing in example\.com\/repo/);
  });

  describe('loading flag repos', () => {
    let tmp: string;
    let srv: TestServer;
    before(async () => {
      tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-repo-flags-'));
      await buildRpms(path.join(tmp, 'a'), [{ name: 'from-a', version: '1', release: '1', arch: 'noarch' }]);
      await createRepo(path.join(tmp, 'a'));
      await buildRpms(path.join(tmp, 'b'), [{ name: 'from-b', version: '1', release: '1', arch: 'x86_64' }]);
      await createRepo(path.join(tmp, 'b'), { compress: 'zstd' });
      srv = await serveDir(tmp);
    });
    after(async () => {
      await srv?.close();
      fs.rmSync(tmp, { recursive: true, force: true });
    });

    test('loadRepos loads forced + extra repos in parallel, in order', async () => {
      const configs = repoConfigsFromFlags({ forceRepos: [`${srv.url}/a/`], extraRepos: [`file://${tmp}/b`] });
      const repos = await loadRepos(configs, { arch: 'x86_64' });
      assert.deepEqual(
        repos.map((r) => [r.config.id, r.packages.map((p) => `${p.name}:${p.repoId}`)]),
        [
          ['forced-repo-0', ['from-a:forced-repo-0']],
          ['extra-repo-0', ['from-b:extra-repo-0']],
        ],
      );
    });

    test('duplicate ids are refused', async () => {
      await assert.rejects(loadRepos([{ id: 'x', baseurl: [`${srv.url}/a/`] }, { id: 'x', baseurl: [`${srv.url}/b/`] }], { arch: 'x86_64' }), /repository id "x" is used twice/);
    });
  });
});

describe('repository files', () => {
  const KEY = '-----BEGIN PGP PUBLIC KEY BLOCK-----\nabc\n-----END PGP PUBLIC KEY BLOCK-----\n';
  const doc = {
    x86_64: [
      { name: 'fedora', metalink: 'https://mirrors.fedoraproject.org/metalink?repo=fedora-42&arch=x86_64', gpgkey: KEY, check_gpg: true, metadata_expire: '6h' },
      { name: 'local', baseurl: ['file:///srv/a', 'file:///srv/b'], gpgkeys: ['file:///k1', 'file:///k2'], check_gpg: false, module_hotfixes: true, package_sets: ['os'] },
    ],
    aarch64: [{ name: 'arm', baseurl: 'https://example.com/arm/' }],
  };

  test('entries become RepoConfigs with upstream-compatible ids', () => {
    const r = parseRepositoryFile(JSON.stringify(doc), 'fedora-42.json', 'x86_64');
    assert.equal(r.length, 2);
    // id = sha256(baseurls + metalink + mirrorlist + gpgkeys + "*bool" + metadata_expire + "bool" [+ "*bool" for module_hotfixes])
    assert.equal(r[0]!.id, sha(doc.x86_64[0]!.metalink! + KEY + '*bool' + '6h' + 'bool'));
    assert.equal(r[1]!.id, sha('file:///srv/a' + 'file:///srv/b' + 'file:///k1' + 'file:///k2' + '*bool' + 'bool' + '*bool'));
    assert.deepEqual(r[0], { id: r[0]!.id, name: 'fedora', metalink: doc.x86_64[0]!.metalink, gpgkeys: [KEY], checkGpg: true });
    assert.deepEqual(r[1], { id: r[1]!.id, name: 'local', baseurl: ['file:///srv/a', 'file:///srv/b'], gpgkeys: ['file:///k1', 'file:///k2'], checkGpg: false, packageSets: ['os'] });
    const arm = parseRepositoryFile(JSON.stringify(doc), 'f.json', 'aarch64');
    assert.deepEqual(arm[0]!.baseurl, ['https://example.com/arm/']);
    assert.deepEqual(parseRepositoryFile(JSON.stringify(doc), 'f.json', 's390x'), []);
  });

  test('errors name the file and entry', () => {
    assert.throws(() => parseRepositoryFile('{', 'bad.json', 'x86_64'), /bad\.json: invalid JSON/);
    assert.throws(() => parseRepositoryFile('{"x86_64": [{"name": "n"}]}', 'r.json', 'x86_64'), /r\.json: x86_64\[0\]: needs baseurl, metalink or mirrorlist/);
    assert.throws(() => parseRepositoryFile('{"x86_64": [{"baseurl": 5}]}', 'r.json', 'x86_64'), /r\.json: x86_64\[0\]\.baseurl: expected a string or a list of strings/);
    assert.throws(() => parseRepositoryFile('{"x86_64": [{"baseurl": "http://x", "chek_gpg": true}]}', 'r.json', 'x86_64'), /unknown key "chek_gpg"/);
    assert.throws(() => readRepositoryFile('/nonexistent/kiln.json', 'x86_64'), /cannot read repository file \/nonexistent\/kiln\.json/);
  });

  test('readRepositoryFile reads from disk', () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-repofile-'));
    try {
      const f = path.join(tmp, 'fedora-42.json');
      fs.writeFileSync(f, JSON.stringify(doc));
      assert.deepEqual(readRepositoryFile(f, 'x86_64'), parseRepositoryFile(JSON.stringify(doc), f, 'x86_64'));
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});
