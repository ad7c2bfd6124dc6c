import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import type { Manifest } from '../src/manifest/types.js';
import { runManifest } from '../src/executor/run.js';
import { curlSource } from '../src/executor/sources/curl.js';
import { inlineSource } from '../src/executor/sources/inline.js';
import { librepoSource } from '../src/executor/sources/librepo.js';
import { ostreeSource } from '../src/executor/sources/ostree.js';
import type { SourceContext } from '../src/executor/sources/types.js';
import { Store } from '../src/executor/store.js';
import { assertNoLeaks, collect, mkTmp, serve, sha256, tmpEntries, type Srv } from './executor-helpers.js';

function ctxFor(store: Store, on: SourceContext['onEvent'] = () => undefined, extra: Partial<SourceContext> = {}): SourceContext {
  return { store, signal: new AbortController().signal, onEvent: on, concurrency: 4, retries: 3, retryDelayMs: 20, ...extra };
}

/** A manifest whose one stage copies the given source files into the tree. */
function copyManifest(sources: Manifest['sources'], sums: string[]): Manifest {
  return {
    version: '2',
    sources,
    pipelines: [
      {
        name: 'files',
        stages: [
          {
            type: 'org.osbuild.copy',
            inputs: { f: { type: 'org.osbuild.files', origin: 'org.osbuild.source', references: sums } },
            options: { paths: sums.map((s, i) => ({ from: `input://f/${s}`, to: `tree:///file${i}` })) },
          },
        ],
      },
    ],
  };
}

describe('executor sources', () => {
  const dir = mkTmp('sources');
  const tmpBefore = tmpEntries(dir);
  let srv: Srv;
  const content = Buffer.from('hello kiln\n'.repeat(50_000)); // ~550 kB: several progress events
  const sum = sha256(content);
  before(async () => {
    srv = await serve({ '/a.bin': content, '/b.txt': 'bee\n', '/c.txt': 'sea\n' });
  });
  after(async () => {
    await srv.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('curl over HTTP with a wrong checksum fails naming item, URL, expected and got; nothing is cached', async () => {
    const storeDir = path.join(dir, 'wrong');
    const wrong = 'sha256:' + '0'.repeat(64);
    const m = copyManifest({ 'org.osbuild.curl': { items: { [wrong]: `${srv.url}/a.bin` } } }, [wrong]);
    const ev = collect();
    await assert.rejects(
      runManifest(m, { store: storeDir, exports: [], buildroot: 'host', handleSignals: false, onEvent: ev.on, retryDelayMs: 10 }),
      (err: Error) => {
        assert.match(err.message, new RegExp(`item ${wrong}`));
        assert.match(err.message, new RegExp(`${srv.url}/a.bin`.replace(/[.]/g, '\\.')));
        assert.match(err.message, new RegExp(`checksum mismatch: expected ${wrong}, got ${sum}`));
        return true;
      },
    );
    assert.deepEqual(fs.readdirSync(path.join(storeDir, 'sources')).flatMap((d) => fs.readdirSync(path.join(storeDir, 'sources', d))), []);
    assert.equal(ev.of('stage-start').length, 0, 'no stage ran');
    assertNoLeaks(dir, storeDir, tmpBefore);
  });

  it('curl downloads, verifies and reports progress; a second run uses the cache', async () => {
    const storeDir = path.join(dir, 'ok');
    const m = copyManifest({ 'org.osbuild.curl': { items: { [sum]: `${srv.url}/a.bin`, [sha256('bee\n')]: { url: `${srv.url}/b.txt` } } } }, [sum, sha256('bee\n')]);
    const ev = collect();
    const before = srv.hits.get('/a.bin') ?? 0;
    const r = await runManifest(m, { store: storeDir, exports: [], buildroot: 'host', handleSignals: false, onEvent: ev.on });
    assert.equal(r.sources.downloaded, 2);
    const stored = path.join(storeDir, 'sources', 'org.osbuild.files', sum);
    assert.equal(sha256(fs.readFileSync(stored)), sum);
    const prog = ev.of('download-progress').filter((e) => e.item === sum);
    assert.ok(prog.length >= 2, 'progress in several steps');
    assert.equal(prog[prog.length - 1]!.bytes, content.length);
    assert.equal(prog[prog.length - 1]!.total, content.length);
    assert.equal(srv.hits.get('/a.bin'), before + 1);
    // the file reached the tree through the files input
    const s = new Store(storeDir);
    const id = s.listObjects()[0]!;
    assert.equal(sha256(fs.readFileSync(path.join(s.objectTree(id), 'file0'))), sum);
    assertNoLeaks(dir, storeDir, tmpBefore);
  });

  it('retries transient HTTP errors with backoff, then succeeds', async () => {
    const store = new Store(path.join(dir, 'retry'));
    srv.hook = (p, res, hit) => {
      if (p === '/c.txt' && hit <= 2) {
        res.writeHead(503).end('busy');
        return true;
      }
      return false;
    };
    const ev = collect();
    try {
      await curlSource.fetch({ items: { [sha256('sea\n')]: `${srv.url}/c.txt` } }, [sha256('sea\n')], ctxFor(store, ev.on));
    } finally {
      srv.hook = undefined;
    }
    const retries = ev.of('download-retry');
    assert.equal(retries.length, 2);
    assert.ok(retries[1]!.delayMs > retries[0]!.delayMs, 'backoff grows');
    assert.ok(store.hasSource('org.osbuild.files', sha256('sea\n')));
    // a 404 is not retried and names the problem
    const ev2 = collect();
    await assert.rejects(curlSource.fetch({ items: { [sha256('x')]: `${srv.url}/missing` } }, [sha256('x')], ctxFor(store, ev2.on)), /item sha256:[0-9a-f]+ from http:\/\/127\.0\.0\.1:\d+\/missing: .*HTTP 404/);
    assert.equal(ev2.of('download-retry').length, 0);
    assertNoLeaks(dir, store.root, tmpBefore);
  });

  it('limits parallel downloads', async () => {
    const store = new Store(path.join(dir, 'par'));
    const files: Record<string, string> = {};
    const items: Record<string, string> = {};
    for (let i = 0; i < 6; i++) files[`/f${i}`] = `file ${i}\n`;
    const s2 = await serve(files);
    s2.delayMs = 150;
    for (const [p, c] of Object.entries(files)) items[sha256(c)] = `${s2.url}${p}`;
    try {
      await curlSource.fetch({ items }, Object.keys(items), ctxFor(store, undefined, { concurrency: 2 }));
      assert.equal(s2.maxInflight, 2);
    } finally {
      await s2.close();
    }
    for (const k of Object.keys(items)) assert.ok(store.hasSource('org.osbuild.files', k));
    assertNoLeaks(dir, store.root, tmpBefore);
  });

  it('two concurrent downloads of the same item fetch it once and both succeed', async () => {
    const storeDir = path.join(dir, 'conc');
    const data = 'shared item\n'.repeat(1000);
    const s2 = await serve({ '/shared': data });
    s2.delayMs = 200;
    try {
      const desc = { items: { [sha256(data)]: `${s2.url}/shared` } };
      // two Store instances on one directory, as two builds would have
      const [r1, r2] = await Promise.all([
        curlSource.fetch(desc, [sha256(data)], ctxFor(new Store(storeDir))),
        curlSource.fetch(desc, [sha256(data)], ctxFor(new Store(storeDir))),
      ]);
      assert.equal(s2.hits.get('/shared'), 1, 'downloaded once');
      assert.equal(r1.downloaded + r2.downloaded, 1);
      assert.equal(fs.readFileSync(path.join(storeDir, 'sources', 'org.osbuild.files', sha256(data)), 'utf8'), data);
    } finally {
      await s2.close();
    }
    assertNoLeaks(dir, storeDir, tmpBefore);
  });

  it('file:// URLs work, and a missing file is named', async () => {
    const store = new Store(path.join(dir, 'file'));
    const f = path.join(dir, 'local.txt');
    fs.writeFileSync(f, 'local\n');
    await curlSource.fetch({ items: { [sha256('local\n')]: pathToFileURL(f).href } }, [sha256('local\n')], ctxFor(store));
    assert.ok(store.hasSource('org.osbuild.files', sha256('local\n')));
    await assert.rejects(curlSource.fetch({ items: { [sha256('nope')]: 'file:///nonexistent/x' } }, [sha256('nope')], ctxFor(store)), /file:\/\/\/nonexistent\/x: no such file/);
  });

  it('inline: base64 and lzma+base64 are decoded and verified', async () => {
    const store = new Store(path.join(dir, 'inline'));
    const text = 'inline data\n';
    const lz = execFileSync('xz', ['--format=lzma', '-c'], { input: 'legacy\n' });
    const items = {
      [sha256(text)]: { encoding: 'base64', data: Buffer.from(text).toString('base64') },
      [sha256('compressed\n')]: { encoding: 'lzma+base64', data: execFileSync('xz', ['-c'], { input: 'compressed\n' }).toString('base64') },
      [sha256('legacy\n')]: { encoding: 'lzma+base64', data: lz.toString('base64') },
    };
    inlineSource.validate({ items });
    await inlineSource.fetch({ items }, Object.keys(items), ctxFor(store));
    assert.equal(fs.readFileSync(store.sourcePath('org.osbuild.files', sha256(text)), 'utf8'), text);
    assert.equal(fs.readFileSync(store.sourcePath('org.osbuild.files', sha256('compressed\n')), 'utf8'), 'compressed\n');
    assert.equal(fs.readFileSync(store.sourcePath('org.osbuild.files', sha256('legacy\n')), 'utf8'), 'legacy\n');
    const bad = { [sha256('other')]: { encoding: 'base64', data: Buffer.from('not other').toString('base64') } };
    await assert.rejects(inlineSource.fetch({ items: bad }, Object.keys(bad), ctxFor(store)), new RegExp(`item ${sha256('other')}: checksum mismatch: expected ${sha256('other')}, got ${sha256('not other')}`));
    assert.equal(store.hasSource('org.osbuild.files', sha256('other')), false);
    assert.throws(() => inlineSource.validate({ items: { [sha256('q')]: { encoding: 'rot13', data: '' } } }), /encoding: base64\|lzma\+base64/);
    assertNoLeaks(dir, store.root, tmpBefore);
  });

  it('librepo: baseurl, mirrorlist and metalink mirrors, falling back past a bad mirror', async () => {
    const store = new Store(path.join(dir, 'librepo'));
    const pkgs = { '/repo/Packages/p1.rpm': 'p1\n', '/repo/Packages/p2.rpm': 'p2\n', '/repo/Packages/p3.rpm': 'p3\n' };
    const s2 = await serve({
      ...pkgs,
      '/mirrorlist': `# comment\n${'http://127.0.0.1:1/dead/'}\nBASE/repo/\n`,
      '/metalink': `<?xml version="1.0"?><metalink><files><file name="repomd.xml"><resources><url protocol="http" type="http" preference="100">BASE/repo/repodata/repomd.xml</url><url protocol="rsync" preference="90">rsync://x/repo/repodata/repomd.xml</url></resources></file></files></metalink>`,
    });
    try {
      // serve() has no templating: replace the placeholder once the port is known
      const ml = `# comment\nhttp://127.0.0.1:1/dead/\n${s2.url}/repo/\n`;
      const mk = `<?xml version="1.0"?><metalink><files><file name="repomd.xml"><resources><url protocol="http" type="http" preference="100">${s2.url}/repo/repodata/repomd.xml</url><url protocol="rsync" preference="90">rsync://x/repo/repodata/repomd.xml</url></resources></file></files></metalink>`;
      s2.hook = (p, res) => {
        if (p === '/mirrorlist' || p === '/metalink') {
          res.writeHead(200).end(p === '/mirrorlist' ? ml : mk);
          return true;
        }
        return false;
      };
      const desc = {
        items: {
          [sha256('p1\n')]: { path: 'Packages/p1.rpm', mirror: 'base' },
          [sha256('p2\n')]: { path: 'Packages/p2.rpm', mirror: 'ml' },
          [sha256('p3\n')]: { path: 'Packages/p3.rpm', mirror: 'meta' },
        },
        options: {
          mirrors: {
            base: { url: `${s2.url}/repo`, type: 'baseurl' },
            ml: { url: `${s2.url}/mirrorlist`, type: 'mirrorlist' },
            meta: { url: `${s2.url}/metalink`, type: 'metalink' },
          },
        },
      };
      librepoSource.validate(desc);
      const r = await librepoSource.fetch(desc, Object.keys(desc.items), ctxFor(store, undefined, { retries: 1 }));
      assert.equal(r.downloaded, 3);
      for (const k of Object.keys(desc.items)) assert.ok(store.hasSource('org.osbuild.files', k));
      assert.throws(() => librepoSource.validate({ items: { [sha256('z')]: { path: 'x', mirror: 'nope' } }, options: { mirrors: {} } }), /mirror "nope" is not defined/);
    } finally {
      await s2.close();
    }
    assertNoLeaks(dir, store.root, tmpBefore);
  });

  it('ostree: pulls a commit from a file:// repository into the store repo and verifies it', async () => {
    const store = new Store(path.join(dir, 'ostree'));
    const repo = path.join(dir, 'remote-repo');
    const content = path.join(dir, 'ostree-content');
    fs.mkdirSync(path.join(content, 'usr', 'bin'), { recursive: true });
    fs.writeFileSync(path.join(content, 'usr', 'bin', 'hello'), 'hi\n');
    execFileSync('ostree', ['init', '--mode=archive', `--repo=${repo}`]);
    const commit = execFileSync('ostree', [`--repo=${repo}`, 'commit', '--branch=test/x86_64/os', `--tree=dir=${content}`, '--subject=t'], { encoding: 'utf8' }).trim();
    assert.match(commit, /^[0-9a-f]{64}$/);
    const desc = { items: { [commit]: { remote: { url: pathToFileURL(repo).href } } } };
    ostreeSource.validate(desc);
    assert.equal(ostreeSource.cached(store, commit, desc), false);
    await ostreeSource.fetch(desc, [commit], ctxFor(store));
    assert.equal(ostreeSource.cached(store, commit, desc), true);
    const ls = execFileSync('ostree', [`--repo=${path.join(store.sourcesDir, 'org.osbuild.ostree', 'repo')}`, 'ls', commit, '/usr/bin'], { encoding: 'utf8' });
    assert.match(ls, /hello/);
    const missing = 'e'.repeat(64);
    await assert.rejects(ostreeSource.fetch({ items: { [missing]: { remote: { url: pathToFileURL(repo).href } } } }, [missing], ctxFor(store)), new RegExp(`org.osbuild.ostree: commit ${missing} from file://`));
    assert.throws(() => ostreeSource.validate({ items: { abc: { remote: { url: 'x' } } } }), /"abc": not a full ostree commit/);
    assertNoLeaks(dir, store.root, tmpBefore);
  });
});
