// Every way loading a repository can fail must give a KilnError naming the repository and the
// file/URL and the problem.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { loadRepo } from '../src/repo/load.js';
import { KilnError } from '../src/util/errors.js';
import { createRepo, readHrefs, replaceRepoFile } from './helpers/createrepo.js';
import { serveDir, type TestServer } from './helpers/http.js';
import { buildRpms, type FakePkg } from './helpers/rpmbuild.js';

const PKGS: FakePkg[] = [
  { name: 'alpha', version: '1', release: '1', arch: 'noarch', requires: ['beta'] },
  { name: 'beta', version: '2', release: '1', arch: 'x86_64' },
];

async function rejectsWith(p: Promise<unknown>, ...patterns: RegExp[]): Promise<string> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof KilnError, `expected KilnError, got ${(e as Error)?.stack}`);
    for (const re of patterns) assert.match(e.message, re);
    return e.message;
  }
  assert.fail('expected an error');
}

describe('repo load: errors', () => {
  let tmp: string;
  let rpmsDir: string;
  let srv: TestServer;
  let n = 0;

  /** A fresh plain-XML repo directory (served by srv at /<name>/). */
  async function freshRepo(compress: 'gz' | 'none' = 'none'): Promise<{ dir: string; name: string }> {
    const name = `r${n++}`;
    const dir = path.join(tmp, name);
    fs.cpSync(rpmsDir, dir, { recursive: true });
    await createRepo(dir, { compress });
    return { dir, name };
  }

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-repo-err-'));
    rpmsDir = path.join(tmp, 'rpms');
    await buildRpms(rpmsDir, PKGS);
    srv = await serveDir(tmp);
  });
  after(async () => {
    await srv?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('checksum mismatch names repo and file', async () => {
    const { name, dir } = await freshRepo('gz');
    const href = readHrefs(path.join(dir, 'repodata/repomd.xml')).primary!;
    srv.setFault(`/${name}/${href}`, { corrupt: true });
    await rejectsWith(loadRepo({ id: 'sums', baseurl: [`${srv.url}/${name}`] }, { arch: 'x86_64' }), /repo "sums"/, /checksum mismatch/, new RegExp(href.replace(/\./g, '\\.')));
  });

  test('bad XML names repo, file and line', async () => {
    const { dir } = await freshRepo();
    const xml = fs.readFileSync(path.join(dir, readHrefs(path.join(dir, 'repodata/repomd.xml')).primary!), 'utf8');
    const lines = xml.split('\n');
    const at = lines.findIndex((l) => l.includes('<summary>'));
    lines[at] = '  <summary>broken</sumary>';
    const href = replaceRepoFile(dir, 'primary', lines.join('\n'));
    const msg = await rejectsWith(loadRepo({ id: 'badxml', baseurl: [pathToFileURL(dir).toString()] }, { arch: 'x86_64' }), /repo "badxml"/, /bad XML/);
    assert.ok(msg.includes(href), msg);
    assert.match(msg, new RegExp(`line ${at + 1}\\b`));
  });

  test('bad filelists XML (parsed in a worker) names repo, file and line', async () => {
    const { dir } = await freshRepo();
    const href = replaceRepoFile(dir, 'filelists', '<?xml version="1.0"?>\n<filelists>\n<package pkgid="x" name="a" arch="noarch">\n<file>/a</fil>\n</package></filelists>');
    const msg = await rejectsWith(loadRepo({ id: 'badfl', baseurl: [pathToFileURL(dir).toString()] }, { arch: 'x86_64' }), /repo "badfl"/, /bad XML/, /line 4/);
    assert.ok(msg.includes(href), msg);
    // without filelists the same repo loads
    const ok = await loadRepo({ id: 'badfl', baseurl: [pathToFileURL(dir).toString()] }, { arch: 'x86_64', filelists: false });
    assert.equal(ok.packages.length, PKGS.length);
  });

  test('invalid content (bad epoch) names the line', async () => {
    const { dir } = await freshRepo();
    const primaryPath = path.join(dir, readHrefs(path.join(dir, 'repodata/repomd.xml')).primary!);
    const xml = fs.readFileSync(primaryPath, 'utf8').replace(/<version epoch="0"/, '<version epoch="x"');
    replaceRepoFile(dir, 'primary', xml);
    await rejectsWith(loadRepo({ id: 'epoch', baseurl: [pathToFileURL(dir).toString()] }, { arch: 'x86_64' }), /repo "epoch"/, /line \d+/, /invalid epoch "x"/);
  });

  test('external entities are never resolved', async () => {
    const secret = path.join(tmp, 'secret.txt');
    fs.writeFileSync(secret, 'TOPSECRET-CONTENT');
    const { dir } = await freshRepo();
    const primaryPath = path.join(dir, readHrefs(path.join(dir, 'repodata/repomd.xml')).primary!);
    const xml = fs
      .readFileSync(primaryPath, 'utf8')
      .replace('<?xml version="1.0" encoding="UTF-8"?>', `<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE metadata [\n<!ENTITY xxe SYSTEM "${pathToFileURL(secret)}">\n<!ENTITY local "inline">\n]>`)
      .replace(/<summary>[^<]*<\/summary>/, '<summary>&xxe;</summary>');
    replaceRepoFile(dir, 'primary', xml);
    const msg = await rejectsWith(loadRepo({ id: 'xxe', baseurl: [pathToFileURL(dir).toString()] }, { arch: 'x86_64' }), /repo "xxe"/, /undefined entity/);
    assert.ok(!msg.includes('TOPSECRET'), msg);
    // The same with a parameter-less internal entity: also refused, not expanded.
    replaceRepoFile(dir, 'primary', xml.replace('&xxe;', '&local;'));
    await rejectsWith(loadRepo({ id: 'xxe2', baseurl: [pathToFileURL(dir).toString()] }, { arch: 'x86_64' }), /undefined entity/);
  });

  test('connection refused names repo and URL', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const url = `http://127.0.0.1:${port}/nothing/`;
    await rejectsWith(loadRepo({ id: 'down', baseurl: [url] }, { arch: 'x86_64' }), /repo "down"/, /connection refused/, new RegExp(`127\\.0\\.0\\.1:${port}/nothing/repodata/repomd\\.xml`));
  });

  test('404 and 500 name repo and URL', async () => {
    await rejectsWith(loadRepo({ id: 'missing', baseurl: [`${srv.url}/does-not-exist`] }, { arch: 'x86_64' }), /repo "missing"/, /HTTP 404/, /does-not-exist\/repodata\/repomd\.xml/);
    const { name, dir } = await freshRepo('gz');
    const href = readHrefs(path.join(dir, 'repodata/repomd.xml')).filelists!;
    srv.setFault(`/${name}/${href}`, { status: 500 });
    await rejectsWith(loadRepo({ id: 'five', baseurl: [`${srv.url}/${name}/`] }, { arch: 'x86_64' }), /repo "five"/, /HTTP 500/, /filelists/);
  });

  test('timeout names repo and URL', async () => {
    const { name } = await freshRepo('gz');
    srv.setFault(`/${name}/repodata/repomd.xml`, { delayMs: 3000 });
    const t0 = Date.now();
    await rejectsWith(loadRepo({ id: 'slow', baseurl: [`${srv.url}/${name}/`] }, { arch: 'x86_64', timeoutMs: 200 }), /repo "slow"/, /timed out/, /repomd\.xml/);
    assert.ok(Date.now() - t0 < 2500, 'gave up at the timeout');
  });

  test('missing file:// repo', async () => {
    await rejectsWith(loadRepo({ id: 'nofile', baseurl: [pathToFileURL(path.join(tmp, 'nope')).toString()] }, { arch: 'x86_64' }), /repo "nofile"/, /no such file/, /nope\/repodata\/repomd\.xml/);
  });

  test('repomd without primary', async () => {
    const { dir } = await freshRepo();
    const p = path.join(dir, 'repodata/repomd.xml');
    fs.writeFileSync(p, fs.readFileSync(p, 'utf8').replace(/<data type="primary">[\s\S]*?<\/data>/, ''));
    await rejectsWith(loadRepo({ id: 'noprim', baseurl: [pathToFileURL(dir).toString()] }, { arch: 'x86_64' }), /repo "noprim"/, /lists no primary metadata/, /repomd\.xml/);
  });

  test('malformed repomd.xml', async () => {
    const { dir } = await freshRepo();
    fs.writeFileSync(path.join(dir, 'repodata/repomd.xml'), '<repomd>\n<data type=primary></data></repomd>');
    await rejectsWith(loadRepo({ id: 'badmd', baseurl: [pathToFileURL(dir).toString()] }, { arch: 'x86_64' }), /repo "badmd"/, /bad XML in .*repomd\.xml line 2/);
  });

  test('corrupt compressed data with a matching checksum', async () => {
    const { dir } = await freshRepo();
    // gzip magic followed by garbage, declared with the right checksum
    const href = replaceRepoFile(dir, 'primary', Buffer.concat([Buffer.from([0x1f, 0x8b, 8, 0]), Buffer.alloc(64, 7)]));
    await rejectsWith(loadRepo({ id: 'gzbad', baseurl: [pathToFileURL(dir).toString()] }, { arch: 'x86_64' }), /cannot decompress/, /repo "gzbad"/, new RegExp(href));
  });

  test('https: self-signed certificate refused unless ignoreSsl', async () => {
    const { name } = await freshRepo('gz');
    const tls = await serveDir(tmp, { https: true });
    try {
      const base = `${tls.url}/${name}/`;
      await rejectsWith(loadRepo({ id: 'tls', baseurl: [base] }, { arch: 'x86_64' }), /repo "tls": cannot fetch https:\/\/127\.0\.0\.1:\d+\/.*repomd\.xml/, /certificate/i);
      const repo = await loadRepo({ id: 'tls', baseurl: [base], ignoreSsl: true }, { arch: 'x86_64' });
      assert.equal(repo.packages.length, PKGS.length);
      tls.setFault(`/${name}/repodata/repomd.xml`, { status: 403 });
      await rejectsWith(loadRepo({ id: 'tls', baseurl: [base], ignoreSsl: true }, { arch: 'x86_64' }), /repo "tls"/, /HTTP 403/);
    } finally {
      await tls.close();
    }
  });

  test('a baseurl without scheme', async () => {
    await rejectsWith(loadRepo({ id: 'rel', baseurl: ['/srv/repo'] }, { arch: 'x86_64' }), /repo "rel": invalid URL "\/srv\/repo"/);
  });

  test('a repo with no location at all', async () => {
    await rejectsWith(loadRepo({ id: 'empty' }, { arch: 'x86_64' }), /repo "empty" has no baseurl, metalink or mirrorlist/);
  });
});
