import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';

import { KojiUploadError } from '../src/koji/faults.js';
import { KojiSession } from '../src/koji/session.js';
import { Adler32, adler32, fastUpload, legacyUpload, taskUploadDir } from '../src/koji/upload.js';
import { MiniHub, fault } from './koji-minihub.js';
import { header, loadTranscripts } from './koji-transcripts.js';

const transcripts = loadTranscripts();

describe('adler32', () => {
  it('matches zlib (Python) on assorted inputs, including sizes past the reduction block', () => {
    const inputs = [Buffer.alloc(0), Buffer.from('Wikipedia'), Buffer.alloc(5553, 0xff), randomBytes(100_000), Buffer.alloc(70_000, 0x80)];
    const py = execFileSync(
      '/usr/bin/python3',
      ['-c', 'import sys, zlib, json\nfor l in sys.stdin: print("%08x" % zlib.adler32(bytes.fromhex(l.strip())))'],
      { input: inputs.map((b) => b.toString('hex')).join('\n') + '\n', encoding: 'utf8', maxBuffer: 1 << 24 },
    )
      .trim()
      .split('\n');
    assert.deepEqual(inputs.map((b) => new Adler32().update(b).hexdigest()), py);
    // incremental updates give the same result as one pass
    const big = inputs[3];
    const inc = new Adler32();
    for (let i = 0; i < big.length; i += 777) inc.update(big.subarray(i, i + 777));
    assert.equal(inc.digest(), adler32(big));
  });

  it('agrees with the digest a real hub returned for a recorded chunk', () => {
    for (const t of transcripts.filter((x) => header(x.request, 'Content-Type') === 'application/octet-stream')) {
      const m = /<name>hexdigest<\/name>\n<value><string>([0-9a-f]{8})</.exec(t.response.body.toString());
      assert.ok(m, t.file);
      assert.equal(new Adler32().update(t.request.body).hexdigest(), m[1], t.file);
    }
  });

  it('builds task upload paths like koji', () => {
    assert.equal(taskUploadDir(4), 'tasks/4/4');
    assert.equal(taskUploadDir(123456), 'tasks/3456/123456');
    assert.throws(() => taskUploadDir(0), /Koji task id 0 is not a positive integer/);
  });
});

describe('koji uploads', () => {
  let hub: MiniHub;
  let s: KojiSession;
  let dir: string;
  const file = (name: string, data: Buffer) => {
    const p = path.join(dir, name);
    fs.writeFileSync(p, data);
    return p;
  };

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-koji-upload-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  beforeEach(async () => {
    hub = new MiniHub();
    await hub.start();
    s = new KojiSession({ hub: hub.url, auth: { type: 'password', user: 'alice', password: 'secret' }, retryDelayMs: 5, maxRetryDelayMs: 20 });
    await s.login();
  });
  afterEach(async () => {
    s.close();
    await hub.stop();
  });

  it('sends the recorded chunk exactly as koji did (query, content type, body) and checks it', async () => {
    const rec = transcripts.find((t) => t.file === 'task2-scratch/0050-rawUpload.txt')!;
    const local = file('Fedora-Minimal-42-2.x86_64.raw.xz', rec.request.body);
    const r = await fastUpload(s, local, taskUploadDir(4), { resumeDelayMs: 1 });
    const [up] = hub.calls('rawUpload');
    assert.equal(`POST ${up.url} HTTP/1.1`, rec.request.startLine.replace(/^>>> /, ''));
    assert.equal(up.headers['content-type'], 'application/octet-stream');
    assert.equal(up.headers['content-length'], header(rec.request, 'Content-Length'));
    assert.ok(up.body.equals(rec.request.body));
    assert.equal(up.headers['koji-session-callnum'], '0');
    // then checkUpload(path, name, verify='adler32'), as in the transcript
    const chk = transcripts.find((t) => t.file === 'task2-scratch/0051-checkUpload.txt')!;
    assert.equal(hub.calls('checkUpload')[0].body.toString(), chk.request.body.toString());
    assert.deepEqual(r, { path: 'tasks/4/4', name: 'Fedora-Minimal-42-2.x86_64.raw.xz', size: 4112, digest: '41670590', resumes: 0 });
  });

  it('uploads in chunks of the configured size and the hub ends up with the same bytes', async () => {
    const data = randomBytes(10_000);
    const local = file('img.raw', data);
    const progress: number[] = [];
    const r = await fastUpload(s, local, 'tasks/7/7', { chunkSize: 3000, onProgress: (n) => progress.push(n) });
    const offsets = hub.calls('rawUpload').map((c) => new URL(c.url, 'http://x').searchParams.get('offset'));
    assert.deepEqual(offsets, ['0', '3000', '6000', '9000']);
    assert.deepEqual(progress, [3000, 6000, 9000, 10000]);
    assert.ok(hub.files.get('tasks/7/7/img.raw')!.equals(data));
    assert.equal(r.digest, adler32(data).toString(16).padStart(8, '0'));
    const nums = hub.seen.filter((x) => x.callnum !== undefined).map((x) => x.callnum);
    assert.deepEqual(nums, nums.map((_, i) => i), 'every chunk used the next callnum');
  });

  it('resumes after a connection dropped mid-chunk, from what the hub already has', async () => {
    const data = randomBytes(10_000);
    const local = file('drop.raw', data);
    let dropped = false;
    // the hub stores half of the chunk at 3000, then the connection dies
    hub.uploadHook = ({ offset }) => (offset === 3000 && !dropped ? ((dropped = true), { dropAfter: 1500 }) : undefined);
    const r = await fastUpload(s, local, 'tasks/7/7', { chunkSize: 3000, resumeDelayMs: 1 });
    assert.equal(r.resumes, 1);
    assert.ok(hub.files.get('tasks/7/7/drop.raw')!.equals(data));
    const offsets = hub.calls('rawUpload').map((c) => Number(new URL(c.url, 'http://x').searchParams.get('offset')));
    // after the drop the client asked checkUpload and went on from 4500, not from 0 or 3000
    assert.deepEqual(offsets, [0, 3000, 4500, 7500]);
    assert.equal(hub.calls('checkUpload').length, 2);
  });

  it('starts over when the hub holds a prefix that does not match the local file', async () => {
    const data = randomBytes(9000);
    const local = file('corrupt.raw', data);
    let dropped = false;
    hub.uploadHook = ({ offset, data: d }) => {
      if (offset !== 3000 || dropped) return undefined;
      dropped = true;
      const bad = Buffer.from(d);
      bad[10] ^= 0xff;
      return { store: bad, dropAfter: 2000 };
    };
    const r = await fastUpload(s, local, 'tasks/7/7', { chunkSize: 3000, resumeDelayMs: 1, overwrite: false });
    assert.equal(r.resumes, 1);
    assert.ok(hub.files.get('tasks/7/7/corrupt.raw')!.equals(data));
    const ups = hub.calls('rawUpload').map((c) => new URL(c.url, 'http://x').searchParams);
    assert.deepEqual(ups.map((q) => q.get('offset')), ['0', '3000', '0', '3000', '6000']);
    // overwrite was off, but replacing our own broken partial upload needs it
    assert.equal(ups[0].get('overwrite'), null);
    assert.equal(ups[2].get('overwrite'), '1');
  });

  it('resumes after ServerOffline and after the hub still holds the file lock', async () => {
    const data = randomBytes(5000);
    const local = file('offline.raw', data);
    let n = 0;
    hub.hook = (x) => {
      if (x.method !== 'rawUpload') return undefined;
      n++;
      if (n === 2) return fault('ServerOffline', 'server is offline');
      if (n === 3) return fault('LockError', '[Errno 11] Resource temporarily unavailable');
      return undefined;
    };
    const r = await fastUpload(s, local, 'tasks/7/7', { chunkSize: 2000, resumeDelayMs: 1 });
    assert.equal(r.resumes, 2);
    assert.ok(hub.files.get('tasks/7/7/offline.raw')!.equals(data));
  });

  it('gives up after maxResumes, naming the file', async () => {
    const local = file('never.raw', randomBytes(100));
    hub.hook = (x) => (x.method === 'rawUpload' ? 'drop-before' : undefined);
    await assert.rejects(
      fastUpload(s, local, 'tasks/7/7', { maxResumes: 2, resumeDelayMs: 1 }),
      (e: Error) => e instanceof KojiUploadError && e.message.includes(local) && /gave up after 2 resumes/.test(e.message),
    );
    assert.equal(hub.calls('rawUpload').length, 3);
  });

  it('detects an adler32 mismatch on a chunk', async () => {
    const local = file('mismatch.raw', randomBytes(4000));
    hub.uploadHook = ({ offset }) => (offset === 2000 ? { hexdigest: '00000001' } : undefined);
    await assert.rejects(
      fastUpload(s, local, 'tasks/7/7', { chunkSize: 2000 }),
      (e: Error) => e instanceof KojiUploadError && /different chunk at offset 2000/.test(e.message) && /adler32 00000001/.test(e.message),
    );
  });

  it('detects a whole-file mismatch reported by checkUpload', async () => {
    const local = file('final.raw', randomBytes(4000));
    hub.handlers.set('checkUpload', () => ({ size: 4000, mtime: 1.0, sumlength: 4000, hexdigest: 'deadbeef' }));
    await assert.rejects(fastUpload(s, local, 'tasks/7/7'), (e: Error) => e instanceof KojiUploadError && /has adler32 deadbeef, local file has/.test(e.message));
    hub.handlers.set('checkUpload', () => ({ size: 3999, mtime: 1.0 }));
    await assert.rejects(fastUpload(s, local, 'tasks/7/7'), /the hub's copy is 3999 bytes, local file is 4000/);
    hub.handlers.set('checkUpload', () => null);
    await assert.rejects(fastUpload(s, local, 'tasks/7/7'), /the hub has no such file after the upload/);
  });

  it('uploads an empty file as one empty chunk', async () => {
    const local = file('empty.log', Buffer.alloc(0));
    const r = await fastUpload(s, local, 'tasks/7/7');
    assert.equal(hub.calls('rawUpload').length, 1);
    assert.equal(hub.files.get('tasks/7/7/empty.log')!.length, 0);
    assert.equal(r.digest, '00000001');
  });

  it('refuses to replace an existing file when overwrite is off', async () => {
    hub.files.set('tasks/7/7/exists.raw', Buffer.from('old'));
    const local = file('exists.raw', Buffer.from('new'));
    await assert.rejects(fastUpload(s, local, 'tasks/7/7', { overwrite: false }), /already exists on the hub and overwrite is off/);
    assert.equal(hub.calls('rawUpload').length, 0);
    assert.equal(hub.files.get('tasks/7/7/exists.raw')!.toString(), 'old');
  });

  it('rejects bad inputs naming them', async () => {
    await assert.rejects(fastUpload(s, path.join(dir, 'missing.raw'), 'tasks/7/7'), /missing\.raw.*cannot open local file: ENOENT/);
    const local = file('x.raw', Buffer.from('x'));
    await assert.rejects(fastUpload(s, local, '../etc'), /remote directory "\.\.\/etc" must be relative/);
    await assert.rejects(fastUpload(s, local, 'tasks/7/7', { name: '.hidden' }), /remote name "\.hidden"/);
    await assert.rejects(fastUpload(s, local, 'tasks/7/7', { chunkSize: 0 }), /chunkSize must be a positive integer/);
    const anon = new KojiSession({ hub: hub.url });
    await assert.rejects(fastUpload(anon, local, 'tasks/7/7'), /must be logged in to upload tasks\/7\/7\/x\.raw/);
    anon.close();
  });

  it('legacy uploadFile sends the recorded calls and the hub gets the file', async () => {
    const first = transcripts.find((t) => t.file === 'task2-scratch/0048-uploadFile.txt')!;
    const last = transcripts.find((t) => t.file === 'task2-scratch/0049-uploadFile.txt')!;
    const data = Buffer.from('osbuild log line 1\nline 2\n');
    const local = file('image-builder.log', data);
    const r = await legacyUpload(s, local, 'tasks/4/4');
    const calls = hub.calls('uploadFile');
    assert.equal(calls.length, 2);
    assert.equal(calls[0].body.toString(), first.request.body.toString());
    assert.equal(calls[1].body.toString(), last.request.body.toString());
    assert.ok(hub.files.get('tasks/4/4/image-builder.log')!.equals(data));
    assert.equal(r.digest, createHash('sha256').update(data).digest('hex'));
  });

  it('legacy upload resends a chunk the hub rejected, then fails after 3 retries', async () => {
    const local = file('legacy.raw', randomBytes(2500));
    let rejects = 2;
    const orig = hub.handlers.get('uploadFile')!;
    hub.handlers.set('uploadFile', (c) => (c.args[4] === 1000 && rejects-- > 0 ? false : orig(c)));
    await legacyUpload(s, local, 'tasks/7/7', { chunkSize: 1000 });
    assert.equal(hub.calls('uploadFile').length, 3 + 2 + 1);
    hub.handlers.set('uploadFile', () => false);
    await assert.rejects(legacyUpload(s, local, 'tasks/7/7'), /rejected the chunk at offset 0 4 times/);
    // sanity: the call we send is the plain positional form
    assert.equal(hub.calls('uploadFile').at(-1)!.body.toString().split('<param>').length - 1, 6);
  });
});
