// resolveOstreeCommit against a real archive repository made by the `ostree` command and served
// over HTTP on 127.0.0.1.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { isCommitChecksum, resolveOstreeCommit } from '../src/manifest/ostree-resolve.js';
import { KilnError } from '../src/util/errors.js';
import { serveDir, type TestServer } from './helpers/http.js';
import { ostreeDiskGenerator } from '../src/manifest/generators/ostree-disk.js';
import { validateManifest } from '../src/manifest/validate.js';
import { fakeDepsolve, iotRawXz, request } from './manifest-ostree-fixtures.js';

describe('resolveOstreeCommit', () => {
  let tmp: string;
  let repo: string;
  let srv: TestServer;
  let expected: string;
  const ref = 'fedora/42/x86_64/iot';

  before(async () => {
    tmp = fs.mkdtempSync(os.tmpdir() + '/kiln-ostree-resolve-');
    repo = path.join(tmp, 'www', 'repo');
    const tree = path.join(tmp, 'tree');
    fs.mkdirSync(path.join(tree, 'usr', 'etc'), { recursive: true });
    fs.writeFileSync(path.join(tree, 'usr', 'etc', 'os-release'), 'ID=fedora\n');
    fs.mkdirSync(repo, { recursive: true });
    execFileSync('ostree', ['init', '--mode=archive', `--repo=${repo}`]);
    execFileSync('ostree', ['commit', `--repo=${repo}`, `--branch=${ref}`, `--tree=dir=${tree}`, '-s', 'test']);
    // The checksum as ostree itself reports it, independent of the code under test.
    expected = execFileSync('ostree', ['rev-parse', `--repo=${repo}`, ref], { encoding: 'utf8' }).trim();
    // A second branch whose ref file is corrupt, and a mirrorlist pointing at the repo.
    fs.writeFileSync(path.join(repo, 'refs', 'heads', 'broken'), 'not-a-checksum\n');
    srv = await serveDir(path.join(tmp, 'www'));
    fs.writeFileSync(
      path.join(tmp, 'www', 'mirrorlist'),
      `# comment line\n\nftp://ignored.example/repo\n${srv.url}/repo\nhttp://second.invalid/repo\n`,
    );
    fs.writeFileSync(path.join(tmp, 'www', 'emptylist'), '# nothing here\n');
  });

  after(async () => {
    await srv?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('resolves a branch over HTTP to the commit ostree made', async () => {
    assert.ok(isCommitChecksum(expected), `ostree rev-parse gave ${expected}`);
    const c = await resolveOstreeCommit(`${srv.url}/repo`, ref);
    assert.deepEqual(c, { url: `${srv.url}/repo`, ref, checksum: expected });
    // trailing slash on the URL makes no difference
    assert.equal((await resolveOstreeCommit(`${srv.url}/repo/`, ref)).checksum, expected);
  });

  it('end to end: ostreeSource -> resolve -> iot-raw-xz manifest deploying that commit', async () => {
    const req = request(iotRawXz('x86_64'), { ostree: { url: `mirrorlist=${srv.url}/mirrorlist`, ref: 'fedora/42/$arch/iot' } });
    const src = ostreeDiskGenerator.ostreeSource(req)!;
    assert.equal(src.ref, ref);
    const commit = await resolveOstreeCommit(src.url, src.ref);
    const m = ostreeDiskGenerator.serialize(req, { depsolved: fakeDepsolve(ostreeDiskGenerator.packageSets(req), 'x86_64'), commit });
    assert.deepEqual(m.sources['org.osbuild.ostree'], { items: { [expected]: { remote: { url: `mirrorlist=${srv.url}/mirrorlist` } } } });
    // the pull stage takes the resolved commit; deploy then names only the ref (as upstream)
    const dep = m.pipelines.find((p) => p.name === 'ostree-deployment')!;
    const pull = dep.stages.find((s) => s.type === 'org.osbuild.ostree.pull')!;
    assert.deepEqual(pull.inputs!['commits']!.references, { [expected]: { ref } });
    const deploy = dep.stages.find((s) => s.type === 'org.osbuild.ostree.deploy')!;
    assert.equal(deploy.inputs, undefined);
    assert.equal((deploy.options as { ref: string }).ref, ref);
    assert.deepEqual(validateManifest(m), []);
  });

  it('resolves through a mirrorlist= URL, keeping the URL as given', async () => {
    const url = `mirrorlist=${srv.url}/mirrorlist`;
    const c = await resolveOstreeCommit(url, ref);
    assert.equal(c.checksum, expected);
    assert.equal(c.url, url);
  });

  it('resolves a file:// repository', async () => {
    const c = await resolveOstreeCommit(pathToFileURL(repo).href, ref);
    assert.equal(c.checksum, expected);
  });

  it('uses a 64-hex ref as the checksum without any request', async () => {
    const sum = 'a'.repeat(64);
    const before = srv.requests.length;
    const c = await resolveOstreeCommit(`${srv.url}/repo`, sum);
    assert.deepEqual(c, { url: `${srv.url}/repo`, ref: sum, checksum: sum });
    assert.equal(srv.requests.length, before);
  });

  it('asks the server for refs/heads/<ref> exactly', async () => {
    await resolveOstreeCommit(`${srv.url}/repo`, ref);
    assert.equal(srv.requests.at(-1), `/repo/refs/heads/${ref}`);
  });

  it('fails on server errors, dropped connections and timeouts, naming the ref', async () => {
    srv.setFault(`/repo/refs/heads/${ref}`, { status: 500 });
    await assert.rejects(resolveOstreeCommit(`${srv.url}/repo`, ref), (e: Error) => e instanceof KilnError && /HTTP 500/.test(e.message) && e.message.includes(ref));
    srv.setFault(`/repo/refs/heads/${ref}`, { hangUp: true });
    await assert.rejects(resolveOstreeCommit(`${srv.url}/repo`, ref), (e: Error) => e instanceof KilnError && e.message.includes(ref));
    srv.setFault(`/repo/refs/heads/${ref}`, { delayMs: 1000 });
    await assert.rejects(resolveOstreeCommit(`${srv.url}/repo`, ref, { timeoutMs: 100 }), (e: Error) => e instanceof KilnError && /cannot reach/.test(e.message));
    srv.setFault(`/repo/refs/heads/${ref}`, undefined);
    assert.equal((await resolveOstreeCommit(`${srv.url}/repo`, ref)).checksum, expected);
  });

  it('fails on an unknown ref (404), naming ref and URL', async () => {
    await assert.rejects(resolveOstreeCommit(`${srv.url}/repo`, 'fedora/42/x86_64/nope'), (e: Error) => {
      assert.ok(e instanceof KilnError);
      assert.match(e.message, /fedora\/42\/x86_64\/nope/);
      assert.match(e.message, /404/);
      assert.ok(e.message.includes(`${srv.url}/repo`));
      return true;
    });
  });

  it('fails when the ref file is not a checksum', async () => {
    await assert.rejects(resolveOstreeCommit(`${srv.url}/repo`, 'broken'), (e: Error) => {
      assert.ok(e instanceof KilnError);
      assert.match(e.message, /"broken"/);
      assert.match(e.message, /not-a-checksum/);
      return true;
    });
  });

  it('fails on an unreachable server, naming the URL', async () => {
    // A port we just closed: nothing listens there.
    const tmpSrv = await serveDir(tmp);
    const deadUrl = `${tmpSrv.url}/repo`;
    await tmpSrv.close();
    await assert.rejects(resolveOstreeCommit(deadUrl, ref), (e: Error) => {
      assert.ok(e instanceof KilnError);
      assert.ok(e.message.includes(deadUrl), e.message);
      assert.match(e.message, /cannot reach/);
      return true;
    });
  });

  it('fails on a missing file:// repository and on a mirrorlist without mirrors', async () => {
    await assert.rejects(resolveOstreeCommit(pathToFileURL(path.join(tmp, 'none')).href, ref), /not found/);
    await assert.rejects(resolveOstreeCommit(`mirrorlist=${srv.url}/emptylist`, ref), /no http\(s\) mirror/);
    await assert.rejects(resolveOstreeCommit(`mirrorlist=${srv.url}/missing`, ref), /mirrorlist.*404/);
    await assert.rejects(resolveOstreeCommit('ftp://example.com/repo', ref), /unsupported URL scheme/);
    await assert.rejects(resolveOstreeCommit('', ref), /--ostree-url/);
  });
});
