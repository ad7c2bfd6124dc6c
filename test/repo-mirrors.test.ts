// Metalink, mirrorlist and $variable substitution, against repositories served over HTTP.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadRepo } from '../src/repo/load.js';
import { basearch, substitute } from '../src/repo/subst.js';
import { KilnError } from '../src/util/errors.js';
import { createRepo } from './helpers/createrepo.js';
import { serveDir, type TestServer } from './helpers/http.js';
import { buildRpms, type FakePkg } from './helpers/rpmbuild.js';

const PKGS: FakePkg[] = [{ name: 'mirrored', version: '1', release: '1', arch: 'noarch' }];

function metalink(entries: { url: string; pref: number; protocol?: string }[], hashes: string[], alternates: string[] = []): string {
  return `<?xml version="1.0" encoding="utf-8"?>
<metalink version="3.0" xmlns="http://www.metalinker.org/" type="dynamic" xmlns:mm0="http://fedorahosted.org/mirrormanager">
 <files>
  <file name="repomd.xml">
   <mm0:timestamp>1700000000</mm0:timestamp>
   <size>1234</size>
   <verification>
${hashes.map((h) => `    <hash type="sha256">${h}</hash>`).join('\n')}
    <hash type="md5">00000000000000000000000000000000</hash>
   </verification>
   <mm0:alternates>
${alternates.map((h) => `    <mm0:alternate><mm0:timestamp>1</mm0:timestamp><verification><hash type="sha256">${h}</hash></verification></mm0:alternate>`).join('\n')}
   </mm0:alternates>
   <resources maxconnections="1">
${entries.map((e) => `    <url protocol="${e.protocol ?? 'http'}" type="${e.protocol ?? 'http'}" location="XX" preference="${e.pref}">${e.url}</url>`).join('\n')}
   </resources>
  </file>
 </files>
</metalink>
`;
}

describe('repo mirrors and substitution', () => {
  let tmp: string;
  let srv: TestServer;
  let repomdSha: string;

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-repo-mirror-'));
    // the repository lives at /i386/42/ so $basearch and $releasever can be tested
    const dir = path.join(tmp, 'i386', '42');
    await buildRpms(dir, PKGS);
    await createRepo(dir, { compress: 'gz' });
    repomdSha = createHash('sha256').update(fs.readFileSync(path.join(dir, 'repodata/repomd.xml'))).digest('hex');
    srv = await serveDir(tmp);
  });
  after(async () => {
    await srv?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('basearch mapping and substitution', () => {
    assert.equal(basearch('x86_64'), 'x86_64');
    assert.equal(basearch('i686'), 'i386');
    assert.equal(basearch('aarch64'), 'aarch64');
    const vars = { arch: 'i686', releasever: '42.1' };
    assert.equal(substitute('a/$basearch/$arch/$releasever/${releasever_major}/$unknown', vars, 'x'), 'a/i386/i686/42.1/42/$unknown');
    assert.throws(() => substitute('r/$releasever/', { arch: 'x86_64' }, 'repo "r"'), (e: unknown) => e instanceof KilnError && /repo "r".*\$releasever/.test(e.message));
  });

  test('baseurl with $basearch and $releasever', async () => {
    const repo = await loadRepo({ id: 'subst', baseurl: [`${srv.url}/$basearch/$releasever/`] }, { arch: 'i686', releasever: '42' });
    assert.equal(repo.baseurl, `${srv.url}/i386/42/`);
    assert.deepEqual(
      repo.packages.map((p) => p.name),
      ['mirrored'],
    );
  });

  test('metalink: failover past a dead mirror, rsync ignored, verified against the sha256', async () => {
    srv.addFile(
      '/metalink',
      metalink(
        [
          { url: 'rsync://example.invalid/x/repodata/repomd.xml', pref: 100, protocol: 'rsync' },
          { url: `${srv.url}/dead/repodata/repomd.xml`, pref: 99 },
          { url: `${srv.url}/i386/42/repodata/repomd.xml`, pref: 50 },
        ],
        [repomdSha],
      ),
    );
    srv.requestUrls.length = 0;
    const logs: string[] = [];
    const repo = await loadRepo({ id: 'ml', metalink: `${srv.url}/metalink?repo=fedora-$releasever&arch=$basearch` }, { arch: 'i686', releasever: '42', log: (m) => logs.push(m) });
    assert.equal(repo.baseurl, `${srv.url}/i386/42/`);
    assert.equal(repo.packages.length, 1);
    assert.equal(srv.requestUrls[0], '/metalink?repo=fedora-42&arch=i386');
    assert.ok(srv.requestUrls.includes('/dead/repodata/repomd.xml'));
    assert.ok(logs.some((l) => /HTTP 404.*trying next mirror/.test(l)), logs.join('\n'));
  });

  test('metalink: repomd matching only an alternate hash is accepted', async () => {
    srv.addFile('/metalink-alt', metalink([{ url: `${srv.url}/i386/42/repodata/repomd.xml`, pref: 100 }], ['0'.repeat(64)], [repomdSha]));
    const repo = await loadRepo({ id: 'ml-alt', metalink: `${srv.url}/metalink-alt` }, { arch: 'x86_64' });
    assert.equal(repo.packages.length, 1);
  });

  test('metalink: hash mismatch is an error naming the repo and repomd URL', async () => {
    srv.addFile('/metalink-bad', metalink([{ url: `${srv.url}/i386/42/repodata/repomd.xml`, pref: 100 }], ['f'.repeat(64)]));
    await assert.rejects(loadRepo({ id: 'ml-bad', metalink: `${srv.url}/metalink-bad` }, { arch: 'x86_64' }), (e: unknown) => {
      assert.ok(e instanceof KilnError);
      assert.match(e.message, /repo "ml-bad"/);
      assert.match(e.message, /checksum mismatch for .*\/i386\/42\/repodata\/repomd\.xml/);
      assert.match(e.message, /metalink/);
      return true;
    });
  });

  test('metalink without usable URLs', async () => {
    srv.addFile('/metalink-empty', metalink([{ url: 'rsync://x/repodata/repomd.xml', pref: 1, protocol: 'rsync' }], []));
    await assert.rejects(loadRepo({ id: 'ml-empty', metalink: `${srv.url}/metalink-empty` }, { arch: 'x86_64' }), /repo "ml-empty": metalink .*metalink-empty lists no http\(s\) URL/);
  });

  test('mirrorlist: comments skipped, first working mirror used', async () => {
    srv.addFile('/mirrorlist', `# generated\n\nftp://old.example/\n${srv.url}/gone/\n${srv.url}/$basearch/42/\n`);
    const repo = await loadRepo({ id: 'mlist', mirrorlist: `${srv.url}/mirrorlist` }, { arch: 'i686' });
    // variables in mirrorlist entries are substituted (as librepo does); the dead mirror is skipped
    assert.equal(repo.baseurl, `${srv.url}/i386/42/`);
    assert.equal(repo.packages.length, 1);
  });

  test('mirrorlist that is really a metalink', async () => {
    srv.addFile('/mirrorlist-ml', metalink([{ url: `${srv.url}/i386/42/repodata/repomd.xml`, pref: 100 }], [repomdSha]));
    const repo = await loadRepo({ id: 'mlist-ml', mirrorlist: `${srv.url}/mirrorlist-ml` }, { arch: 'x86_64' });
    assert.equal(repo.baseurl, `${srv.url}/i386/42/`);
  });

  test('mirrorlist with no usable line', async () => {
    srv.addFile('/mirrorlist-empty', '# nothing\nftp://x/\n');
    await assert.rejects(loadRepo({ id: 'ml-none', mirrorlist: `${srv.url}/mirrorlist-empty` }, { arch: 'x86_64' }), /repo "ml-none": mirrorlist .* lists no http\(s\) or file URL/);
  });
});
