import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';

import {
  ActionNotAllowed,
  AuthError,
  AuthLockError,
  KojiCallIndeterminateError,
  KojiProtocolError,
  KojiTransportError,
  ServerOffline,
} from '../src/koji/faults.js';
import { KojiSession, isSafeToRepeat } from '../src/koji/session.js';
import { encodeCall, encodeResponse, kwargs } from '../src/koji/xmlrpc.js';
import { gzipSync } from 'node:zlib';
import { MiniHub, fault, type Seen } from './koji-minihub.js';
import { header, loadTranscripts, repoRoot } from './koji-transcripts.js';

const FAST = { retryDelayMs: 5, maxRetryDelayMs: 20 };

describe('koji session over HTTP', () => {
  let hub: MiniHub;
  let sessions: KojiSession[] = [];
  const open = (o: Partial<ConstructorParameters<typeof KojiSession>[0]> = {}) => {
    const s = new KojiSession({ hub: hub.url, auth: { type: 'password', user: 'alice', password: 'secret' }, ...FAST, ...o });
    sessions.push(s);
    return s;
  };

  beforeEach(async () => {
    hub = new MiniHub();
    await hub.start();
  });
  afterEach(async () => {
    for (const s of sessions) s.close();
    sessions = [];
    await hub.stop();
  });

  it('logs in like koji 1.35 and sends session headers with callnum counting from 0', async () => {
    const s = open();
    await s.login();
    assert.equal(await s.call('getAPIVersion'), 1);
    assert.equal(await s.call('getAPIVersion'), 1);
    assert.deepEqual(await s.call('getLoggedInUser'), { name: 'alice' });

    const [login, ...rest] = hub.seen;
    assert.equal(login.method, 'login');
    // same body koji sends (cli/0001-login.txt has the same call with other credentials)
    assert.equal(login.body.toString(), encodeCall('login', ['alice', 'secret', kwargs({ opts: null })]));
    assert.equal(login.headers['koji-session-id'], undefined);
    assert.equal(login.headers['content-type'], 'text/xml');
    const sid = String(s.session!.sessionId);
    assert.deepEqual(
      rest.map((r) => [r.headers['koji-session-id'], r.headers['koji-session-key'], r.headers['koji-session-callnum']]),
      [0, 1, 2].map((n) => [sid, s.session!.sessionKey, String(n)]),
    );
    assert.ok(rest.every((r) => r.url === '/kojihub'), 'no session data in the URL');
    assert.equal(s.hubVersion, '1.35.3');
  });

  it('sends the same headers the recorded koji client sent', () => {
    // the transcripts are the reference: header names, and callnum starting at 0 per session
    const ts = loadTranscripts().filter((t) => header(t.request, 'Koji-Session-Id'));
    assert.ok(ts.length > 50);
    const bySession = new Map<string, number[]>();
    for (const t of ts) {
      const id = header(t.request, 'Koji-Session-Id')!;
      bySession.set(id, [...(bySession.get(id) ?? []), Number(header(t.request, 'Koji-Session-Callnum'))]);
      assert.ok(header(t.request, 'Koji-Session-Key'));
      assert.ok(!t.request.startLine.includes('session-id'), `${t.file}: session in URL`);
    }
    for (const nums of bySession.values()) assert.deepEqual(nums, nums.map((_, i) => i));
  });

  it('falls back to query-string sessions when the hub does not announce header-auth', async () => {
    hub.headerAuth = false;
    const s = open();
    await s.login();
    await s.call('getAPIVersion');
    await s.call('getAPIVersion');
    const calls = hub.calls('getAPIVersion');
    assert.equal(calls[0].headers['koji-session-id'], undefined);
    const q = calls.map((c) => new URL(c.url, 'http://x').searchParams);
    assert.deepEqual(q.map((p) => [p.get('session-id'), p.get('callnum')]), [[String(s.session!.sessionId), '0'], [String(s.session!.sessionId), '1']]);
    assert.equal(q[0].get('session-key'), s.session!.sessionKey);
  });

  it('serializes concurrent calls so the hub sees callnums in order', async () => {
    const s = open();
    await s.login();
    hub.responseDelayMs = 20;
    hub.handlers.set('getTaskInfo', (c) => c.args[0]);
    hub.handlers.set('host.closeTask', () => null);
    const results = await Promise.all([1, 2, 3, 4, 5].map((n) => (n === 3 ? s.call('host.closeTask', n, 'x') : s.call('getTaskInfo', n))));
    assert.deepEqual(results, [1, 2, null, 4, 5]);
    assert.equal(hub.maxInflight, 1);
    assert.deepEqual(hub.seen.slice(1).map((x) => x.callnum), [0, 1, 2, 3, 4]);
  });

  it('callWithOptions can mark a call safe to repeat', async () => {
    const s = open();
    await s.login();
    hub.handlers.set('host.openTask', () => ({ id: 1 }));
    let drops = 1;
    hub.hook = (x) => (x.method === 'host.openTask' && drops-- > 0 ? 'drop-after' : undefined);
    assert.deepEqual(await s.callWithOptions('host.openTask', [1], { safeToRepeat: true }), { id: 1 });
    drops = 1;
    await assert.rejects(s.call('host.openTask', 1), KojiCallIndeterminateError);
  });

  it('reads a gzip-compressed response from a proxy that compresses anyway', async () => {
    const s = open({ auth: { type: 'none' } });
    hub.server.removeAllListeners('request');
    hub.server.on('request', (_req, res) => {
      const body = gzipSync(encodeResponse('zipped'));
      res.writeHead(200, { 'Content-Type': 'text/xml', 'Content-Encoding': 'gzip', 'Content-Length': body.length }).end(body);
    });
    assert.equal(await s.call('getAPIVersion'), 'zipped');
  });

  it('reports a failed login as AuthError with the hub message', async () => {
    const s = open({ auth: { type: 'password', user: 'alice', password: 'wrong' } });
    await assert.rejects(s.login(), (e: Error) => e instanceof AuthError && /invalid username or password/.test(e.message) && /call login/.test(e.message));
    assert.equal(s.isLoggedIn, false);
  });

  it('logs in again when the session expired and repeats the call once, keeping callnum rising', async () => {
    const s = open();
    await s.login();
    await s.exclusiveSession();
    await s.call('getAPIVersion');
    const before = s.session!;
    hub.sessions.get(before.sessionId)!.expired = true;
    assert.equal(await s.call('getAPIVersion'), 1);
    const renew = hub.calls('login')[1];
    assert.ok(renew, 'a second login happened');
    // renewal carries the old session so the hub keeps its id (kojihub createSession renew)
    assert.equal(renew.headers['koji-session-id'], String(before.sessionId));
    assert.deepEqual(renew.params[2], { opts: null, renew: true, exclusive: true, __starstar: true });
    assert.equal(s.session!.sessionId, before.sessionId);
    assert.notEqual(s.session!.sessionKey, before.sessionKey);
    const nums = hub.seen.filter((x) => x.callnum !== undefined).map((x) => x.callnum!);
    assert.deepEqual(nums, [...nums].sort((a, b) => a - b));
    assert.equal(new Set(nums).size, nums.length, 'no callnum reused');
    // exactly: exclusiveSession, getAPIVersion, expired getAPIVersion, login(renew), getAPIVersion
    assert.deepEqual(hub.seen.map((x) => x.method), ['login', 'exclusiveSession', 'getAPIVersion', 'getAPIVersion', 'login', 'getAPIVersion']);
  });

  it('concurrent calls hitting an expired session share one re-login', async () => {
    const s = open();
    await s.login();
    hub.sessions.get(s.session!.sessionId)!.expired = true;
    hub.handlers.set('getTaskInfo', (c) => c.args[0]);
    const r = await Promise.all([1, 2, 3].map((n) => s.call('getTaskInfo', n)));
    assert.deepEqual(r, [1, 2, 3]);
    assert.equal(hub.calls('login').length, 2, 'initial login + one renewal');
  });

  it('does not loop when the session keeps expiring', async () => {
    const s = open();
    await s.login();
    hub.hook = (x) => (x.method === 'getAPIVersion' ? fault('AuthExpired', 'session "1" has expired') : undefined);
    await assert.rejects(s.call('getAPIVersion'), /AuthExpired/);
    assert.equal(hub.calls('getAPIVersion').length, 2);
  });

  it('retries a safe call on ServerOffline with backoff, but not an unsafe one', async () => {
    const s = open();
    await s.login();
    let offline = 2;
    hub.handlers.set('getTaskInfo', () => ({ id: 7, state: 2 }));
    hub.handlers.set('imageBuilderBuild', () => 99);
    hub.hook = (x) => (x.method !== 'login' && offline-- > 0 ? fault('ServerOffline', 'server is offline') : undefined);
    const t0 = Date.now();
    assert.deepEqual(await s.call('getTaskInfo', 7), { id: 7, state: 2 });
    assert.equal(hub.calls('getTaskInfo').length, 3);
    assert.ok(Date.now() - t0 >= 5 + 10 - 2, 'waited between attempts');

    offline = 1;
    await assert.rejects(
      s.call('imageBuilderBuild', 'f42', ['x86_64'], ['minimal-raw'], 'Fedora-Minimal', '42', {}),
      (e: Error) => e instanceof ServerOffline && e.faultString === 'server is offline',
    );
    assert.equal(hub.calls('imageBuilderBuild').length, 1);
  });

  it('gives up on a safe call after the configured retries', async () => {
    const s = open({ retries: 2 });
    await s.login();
    hub.hook = (x) => (x.method === 'getAPIVersion' ? fault('ServerOffline', 'down') : undefined);
    await assert.rejects(s.call('getAPIVersion'), ServerOffline);
    assert.equal(hub.calls('getAPIVersion').length, 3);
  });

  it('repeats a safe call after a dropped connection', async () => {
    const s = open();
    await s.login();
    let drops = 1;
    hub.hook = (x) => (x.method === 'getAPIVersion' && drops-- > 0 ? 'drop-after' : undefined);
    assert.equal(await s.call('getAPIVersion'), 1);
    assert.equal(hub.calls('getAPIVersion').length, 2);
  });

  it('never repeats a non-idempotent call whose response was lost, and says so', async () => {
    const s = open();
    await s.login();
    let submitted = 0;
    hub.handlers.set('imageBuilderBuild', () => ++submitted);
    hub.hook = (x) => (x.method === 'imageBuilderBuild' ? 'drop-after' : undefined);
    await assert.rejects(
      s.call('imageBuilderBuild', 'f42', ['x86_64'], ['minimal-raw'], 'Fedora-Minimal', '42', {}),
      (e: Error) => e instanceof KojiCallIndeterminateError && /may or may not have happened/.test(e.message) && /imageBuilderBuild/.test(e.message),
    );
    assert.equal(submitted, 1, 'the hub ran it once and we did not send it again');
    assert.equal(hub.calls('imageBuilderBuild').length, 1);
  });

  it('resends a non-idempotent call that never reached the hub (connection refused)', async () => {
    const s = open({ retryDelayMs: 150, maxRetryDelayMs: 150 });
    await s.login();
    const port = new URL(hub.url).port;
    const sessionsBefore = hub.sessions;
    await hub.stop();
    // bring a hub back on the same port while the client waits to retry
    const hub2 = new MiniHub();
    hub2.sessions = sessionsBefore;
    hub2.handlers.set('imageBuilderBuild', () => 42);
    const restart = new Promise<void>((resolve) => setTimeout(() => hub2.start(Number(port)).then(() => resolve()), 50));
    try {
      const id = await s.call('imageBuilderBuild', 'f42', ['x86_64'], ['minimal-raw'], 'Fedora-Minimal', '42', {});
      await restart;
      assert.equal(id, 42);
      assert.equal(hub2.calls('imageBuilderBuild').length, 1);
    } finally {
      await restart;
      await hub2.stop();
      hub = new MiniHub(); // afterEach stops "hub"
      await hub.start();
    }
  });

  it('reports a refused connection for an unreachable hub after retries, marked as not sent', async () => {
    const url = hub.url;
    await hub.stop();
    const s = open({ retries: 1, auth: { type: 'none' } });
    await assert.rejects(s.call('getAPIVersion'), (e: Error) => e instanceof KojiTransportError && !e.sent && /ECONNREFUSED/.test(e.message) && e.message.includes(url));
    hub = new MiniHub();
    await hub.start();
  });

  it('retries HTTP 5xx for safe calls, fails fast on HTTP 4xx, and rejects garbage responses', async () => {
    const s = open();
    await s.login();
    let n = 1;
    hub.hook = (x) => (x.method === 'getAPIVersion' && n-- > 0 ? { http: 503, body: 'Service Unavailable' } : undefined);
    assert.equal(await s.call('getAPIVersion'), 1);
    assert.equal(hub.calls('getAPIVersion').length, 2);

    hub.hook = (x) => (x.method === 'getAPIVersion' ? { http: 405, body: 'Method Not Allowed' } : undefined);
    await assert.rejects(s.call('getAPIVersion'), (e: Error) => e instanceof KojiTransportError && e.httpStatus === 405 && /Method Not Allowed/.test(e.message));
    assert.equal(hub.calls('getAPIVersion').length, 3);

    hub.hook = () => undefined;
    hub.handlers.set('listTags', () => 'ok');
    const orig = hub.server.listeners('request')[0] as (...a: unknown[]) => void;
    hub.server.removeAllListeners('request');
    hub.server.on('request', (_req, res) => res.writeHead(200, { 'Content-Type': 'text/xml' }).end('<html>oops</html>'));
    await assert.rejects(s.call('listTags'), (e: Error) => e instanceof KojiProtocolError && /call listTags/.test(e.message) && /unexpected root element <html>/.test(e.message));
    hub.server.removeAllListeners('request');
    hub.server.on('request', orig);
  });

  it('maps faults to typed errors with faultString intact', async () => {
    const s = open();
    await s.login();
    hub.handlers.set('imageBuilderBuild', () => {
      throw fault('ActionNotAllowed', 'image permission required (logged in as alice)');
    });
    await assert.rejects(s.call('imageBuilderBuild'), (e: Error) => e instanceof ActionNotAllowed && e.faultString === 'image permission required (logged in as alice)');
  });

  it('runs a multicall: [value] or fault per call, strict mode, batches', async () => {
    const s = open();
    await s.login();
    hub.handlers.set('getTaskInfo', (c) => ({ id: c.args[0] }));
    hub.handlers.set('getBuild', () => {
      throw fault('GenericError', 'No such build: nope');
    });
    const calls = [
      { method: 'getTaskInfo', params: [1] },
      { method: 'getBuild', params: ['nope', kwargs({ strict: true })] },
      { method: 'getTaskInfo', params: [3] },
    ];
    const r = await s.multiCall(calls);
    assert.deepEqual(r[0], { ok: true, value: { id: 1 } });
    assert.equal(r[1].ok, false);
    assert.ok(!r[1].ok && r[1].error.faultString === 'No such build: nope' && r[1].error.context.method === 'getBuild');
    assert.deepEqual(r[2], { ok: true, value: { id: 3 } });
    const wire = hub.calls('multiCall')[0].params[0];
    assert.deepEqual(wire, [
      { methodName: 'getTaskInfo', params: [1] },
      { methodName: 'getBuild', params: ['nope', { strict: true, __starstar: true }] },
      { methodName: 'getTaskInfo', params: [3] },
    ]);
    await assert.rejects(s.multiCall(calls, { strict: true }), /No such build: nope/);
    const batched = await s.multiCall(calls, { batch: 2 });
    assert.equal(batched.length, 3);
    assert.equal(hub.calls('multiCall').length, 4);
    assert.deepEqual(await s.multiCall([]), []);
  });

  it('multicall of only safe calls is retried; with an unsafe call it is not', async () => {
    const s = open();
    await s.login();
    hub.handlers.set('getTaskInfo', () => 1);
    hub.handlers.set('cancelTask', () => null);
    let n = 1;
    hub.hook = (x) => (x.method === 'multiCall' && n-- > 0 ? 'drop-after' : undefined);
    assert.equal((await s.multiCall([{ method: 'getTaskInfo', params: [1] }])).length, 1);
    n = 1;
    await assert.rejects(s.multiCall([{ method: 'getTaskInfo', params: [1] }, { method: 'cancelTask', params: [1] }]), KojiCallIndeterminateError);
  });

  it('takes an exclusive session; force steals the lock from a dead session', async () => {
    const a = open();
    await a.login();
    await a.exclusiveSession();
    assert.deepEqual(hub.calls('exclusiveSession')[0].params, [{ force: false, __starstar: true }]);
    const b = open();
    await b.login();
    await assert.rejects(b.exclusiveSession(), AuthLockError);
    await b.exclusiveSession(true);
    assert.deepEqual(hub.calls('exclusiveSession').at(-1)!.params, [{ force: true, __starstar: true }]);
    assert.equal(b.exclusive, true);
  });

  it('logs out with session_id=None, then calls go without session', async () => {
    const s = open();
    await s.login();
    await s.logout();
    assert.deepEqual(hub.calls('logout')[0].params, [{ session_id: null, __starstar: true }]);
    assert.equal(s.isLoggedIn, false);
    await s.call('getAPIVersion');
    assert.equal(hub.calls('getAPIVersion')[0].headers['koji-session-id'], undefined);
    await s.logout(); // no-op when logged out
    assert.equal(hub.calls('logout').length, 1);
  });

  it('logout falls back to no arguments for old hubs', async () => {
    const s = open();
    await s.login();
    hub.handlers.set('logout', (c) => {
      if (Object.keys(c.kwargs).length) throw fault('ParameterError', "logout() got an unexpected keyword argument 'session_id'");
      return null;
    });
    await s.logout();
    assert.deepEqual(hub.calls('logout').map((x: Seen) => x.params), [[{ session_id: null, __starstar: true }], []]);
    assert.equal(s.isLoggedIn, false);
  });

  it('a subsession gets its own id and callnum sequence', async () => {
    const s = open();
    await s.login();
    hub.handlers.set('subsession', (c) => {
      const id = 900;
      hub.sessions.set(id, { id, key: '900-sub', user: c.session!.user, callnum: null, expired: false, exclusive: false, closed: false });
      return { 'session-id': id, 'session-key': '900-sub', 'header-auth': true };
    });
    const sub = await s.subsession();
    sessions.push(sub);
    await sub.call('getAPIVersion');
    const last = hub.seen.at(-1)!;
    assert.equal(last.headers['koji-session-id'], '900');
    assert.equal(last.headers['koji-session-callnum'], '0');
  });

  it('validates options, naming the bad input', () => {
    assert.throws(() => new KojiSession({ hub: 'not a url' }), /Koji hub URL "not a url" is not a valid URL/);
    assert.throws(() => new KojiSession({ hub: 'ftp://h/kojihub' }), /only http and https/);
    assert.throws(() => new KojiSession({ hub: 'http://h/kojihub', auth: { type: 'ssl', cert: '/nonexistent/x.pem' } }), /needs an https URL/);
    assert.throws(() => new KojiSession({ hub: 'https://h/kojihub', auth: { type: 'ssl', cert: '/nonexistent/x.pem' } }), /client certificate \/nonexistent\/x\.pem: cannot read file: ENOENT/);
    assert.throws(() => new KojiSession({ hub: 'http://h/kojihub', retries: -1 }), /retries: must be a number >= 0/);
  });

  it('classifies methods as safe to repeat', () => {
    for (const m of ['getTaskInfo', 'listTasks', 'queryHistory', 'checkUpload', 'host.getTasks', 'host.updateHost', 'login', 'system.listMethods'])
      assert.ok(isSafeToRepeat(m), m);
    for (const m of ['imageBuilderBuild', 'host.closeTask', 'host.failTask', 'host.subtask', 'tagBuild', 'uploadFile', 'cancelTask', 'host.initImageBuild', 'getter', 'logout'])
      assert.ok(!isSafeToRepeat(m), m);
  });
});

describe('koji session TLS client-certificate login', () => {
  // long-lived throwaway certificates (see test/fixtures/koji/tls/README.md)
  const dir = path.join(repoRoot, 'test', 'fixtures', 'koji', 'tls');
  let hub: MiniHub;

  before(async () => {
    const read = (f: string) => fs.readFileSync(path.join(dir, f));
    hub = new MiniHub({ key: read('server.key'), cert: read('server.crt'), ca: read('ca.crt') });
    await hub.start();
  });
  after(async () => {
    await hub.stop();
  });

  it('logs in at <hub>/ssllogin with the certificate and uses the session', async () => {
    const s = new KojiSession({ hub: hub.url, auth: { type: 'ssl', cert: path.join(dir, 'client.pem'), ca: path.join(dir, 'ca.crt') }, ...FAST });
    try {
      await s.login();
      const login = hub.calls('sslLogin')[0];
      assert.equal(login.url, '/kojihub/ssllogin');
      assert.deepEqual(login.params, [{ proxyuser: null, __starstar: true }]);
      assert.equal(hub.sessions.get(s.session!.sessionId)!.user, 'builder1');
      assert.equal(await s.call('getAPIVersion'), 1);
      assert.equal(hub.calls('getAPIVersion')[0].url, '/kojihub');
    } finally {
      s.close();
    }
  });

  it('fails without retrying when the server certificate is not trusted', async () => {
    const s = new KojiSession({ hub: hub.url, auth: { type: 'ssl', cert: path.join(dir, 'client.crt'), key: path.join(dir, 'client.key') }, retries: 5, ...FAST });
    let connections = 0;
    const count = () => connections++;
    hub.server.on('connection', count);
    await assert.rejects(s.login(), (e: Error) => e instanceof KojiTransportError && /certificate/i.test(e.message));
    hub.server.off('connection', count);
    assert.equal(connections, 1, 'one TLS handshake attempt, no retries');
    s.close();
  });
});
