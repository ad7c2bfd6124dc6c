// Tests of the Koji hub protocol double (test/helpers/kojihub-double.ts).
//
// 1. Transcript replay. The REQUEST bodies of every recorded exchange in
//    ../shared/reference/koji-transcripts (cli, task2-scratch, task3-build, task6-tag, faults,
//    failtask; a real Koji 1.35.3 hub with the image_builder plugin) are sent, in recording
//    order, to ONE double seeded with the hub's initial state as read off the transcripts:
//      users kojiadmin(1, admin) imguser(2, image) builder1(3, host 1: x86_64, capacity 2,
//      channels default+image) noperm(4); tags f42-build(1, arches "x86_64 aarch64") and
//      f42(2, package Fedora-Minimal); target f42-image-builder(1); build
//      Fedora-Minimal-42-1 (id 1, COMPLETE: getNextRelease answers "2"); next task id 2.
//    The recording has gaps (file numbers 5-30, 100-106 are not in the reference set); the
//    state they left is recreated through the double's own XML-RPC API, not by editing state:
//      before task2-scratch: a builder session takes task 2 (login, exclusiveSession,
//        updateHost, getTasks) and is abandoned (hence the recorded exclusiveSession(force));
//        imguser submits task 3 (its request is shown by task3-build/0066);
//      before task6-tag: kojiadmin calls tagBuild('f42', 2, force=None) (the request of task 6
//        is shown by task6-tag/0094);
//      before failtask: the task counter is set to 9 (tasks 7 and 8 were made in the gap and
//        are not visible anywhere).
//    Each response of the double is decoded (doubles kept as doubles, so int vs double is
//    checked too) and compared with the recorded response with deepStrictEqual after
//    normalising ONLY values that are inherently run-specific:
//      - session-id and session-key of login answers (random / sequence values; the key's
//        "<user id>-" prefix and length are still checked),
//      - create_time/start_time/completion_time strings (wall clock; their format is checked),
//      - create_ts/start_ts/completion_ts/update_ts/mtime doubles (wall clock; must be doubles
//        and present/absent exactly where the hub had them).
//    Everything else must be equal: task ids, states, owners, channels, priorities, weights,
//    waiting/awaited flags, host load data, the XML request strings of host.openTask, upload
//    sizes and adler32 digests, fault codes and the full fault strings (including the
//    jsonschema text of the plugin's ParameterError).
// 2. Behaviour tests for what the transcripts do not show (exclusive locks, callnums, expiry,
//    scheduler readiness/capacity/interval, upload ownership, archive import, cancel, multiCall,
//    offline/restart, the session client against the double).

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { KojiSession } from '../src/koji/session.js';
import { fastUpload } from '../src/koji/upload.js';
import { decodeCall, decodeResponse, encodeCall, encodeFault, encodeResponse, kwargs, XmlRpcDouble, type XmlRpcResponse, type XmlRpcStruct, type XmlRpcValue } from '../src/koji/xmlrpc.js';
import { startKojiHubDouble, TASK_STATES, type KojiHubDouble, type KojiHubDoubleOptions } from './helpers/kojihub-double.js';
import { pformat } from './helpers/kojihub-double/schema.js';
import { header, loadTranscripts, type Transcript } from './koji-transcripts.js';

const tmpdirs: string[] = [];
function tmp(): string {
  const d = fs.mkdtempSync(os.tmpdir() + '/kiln-kojidouble-');
  tmpdirs.push(d);
  return d;
}
after(() => {
  for (const d of tmpdirs) fs.rmSync(d, { recursive: true, force: true });
});

/** The hub's initial state in the recording. */
function recordedSeed(topdir: string): KojiHubDoubleOptions {
  return {
    topdir,
    users: [
      { name: 'kojiadmin', password: 'adminpass', perms: ['admin'] },
      { name: 'imguser', password: 'imgpass', perms: ['image'] },
      { name: 'builder1', password: 'hostpass', host: { arches: 'x86_64', capacity: 2, channels: ['default', 'image'] } },
      { name: 'noperm', password: 'np' },
    ],
    tags: [{ name: 'f42-build', arches: 'x86_64 aarch64' }, { name: 'f42', packages: ['Fedora-Minimal'] }],
    targets: [{ name: 'f42-image-builder', buildTag: 'f42-build', destTag: 'f42' }],
    builds: [{ name: 'Fedora-Minimal', version: '42', release: '1', owner: 'imguser' }],
    ids: { task: 2 },
    schedulerIntervalMs: 0,
  };
}

// ------------------------------------------------------------------------------ raw client

interface Sess {
  id: number;
  key: string;
  callnum: number;
}

async function post(url: string, body: string | Buffer, headers: Record<string, string>): Promise<XmlRpcResponse> {
  const res = await fetch(url, { method: 'POST', body: typeof body === 'string' ? body : new Uint8Array(body), headers });
  assert.equal(res.status, 200, `HTTP ${res.status} from ${url}`);
  assert.equal(res.headers.get('content-type'), 'text/xml');
  assert.equal(res.headers.get('koji-version'), '1.35.3');
  return decodeResponse(Buffer.from(await res.arrayBuffer()), { keepDoubles: true });
}

function sessHeaders(s?: Sess): Record<string, string> {
  if (!s) return {};
  return { 'Koji-Session-Id': String(s.id), 'Koji-Session-Key': s.key, 'Koji-Session-Callnum': String(s.callnum++) };
}

async function rpc(hub: KojiHubDouble, s: Sess | undefined, method: string, ...params: XmlRpcValue[]): Promise<XmlRpcValue> {
  const r = await post(hub.url, encodeCall(method, params), { 'Content-Type': 'text/xml', ...sessHeaders(s) });
  if (r.kind === 'fault') throw Object.assign(new Error(r.fault.faultString), { faultCode: r.fault.faultCode });
  return r.value;
}

async function login(hub: KojiHubDouble, user: string, password: string): Promise<Sess> {
  const r = (await rpc(hub, undefined, 'login', user, password, kwargs({ opts: null }))) as XmlRpcStruct;
  return { id: r['session-id'] as number, key: r['session-key'] as string, callnum: 0 };
}

async function hostSession(hub: KojiHubDouble, user = 'builder1', password = 'hostpass'): Promise<Sess> {
  const s = await login(hub, user, password);
  await rpc(hub, s, 'exclusiveSession', kwargs({ force: true }));
  return s;
}

function fault(code: number, re?: RegExp) {
  return (e: unknown) => {
    assert.equal((e as { faultCode?: number }).faultCode, code, `expected fault ${code}, got ${(e as Error).message}`);
    if (re) assert.match((e as Error).message, re);
    return true;
  };
}

// ------------------------------------------------------------------------------ normalisation

const TIME_RE = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}\+00:00$/;
const TIME_KEYS = new Set(['create_time', 'start_time', 'completion_time']);
const TS_KEYS = new Set(['create_ts', 'start_ts', 'completion_ts', 'update_ts', 'mtime']);

function normalise(v: XmlRpcValue, where: string): XmlRpcValue {
  if (Array.isArray(v)) return v.map((x, i) => normalise(x, `${where}[${i}]`));
  if (v === null || typeof v !== 'object' || v instanceof XmlRpcDouble || v instanceof Date || v instanceof Uint8Array || v instanceof Map) return v;
  const out: XmlRpcStruct = {};
  for (const [k, x] of Object.entries(v)) {
    if (k === 'session-id') {
      assert.equal(typeof x, 'number', `${where}.${k}`);
      out[k] = '<session-id>';
    } else if (k === 'session-key') {
      const m = /^(\d+-)([A-Za-z0-9]{19})$/.exec(String(x));
      assert.ok(m, `${where}: session key ${x} is not "<user id>-<19 alnum>"`);
      out[k] = `${m[1]}<random>`;
    } else if (TIME_KEYS.has(k) && x !== null) {
      assert.match(String(x), TIME_RE, `${where}.${k}`);
      out[k] = '<time>';
    } else if (TS_KEYS.has(k) && x !== null) {
      assert.ok(x instanceof XmlRpcDouble, `${where}.${k} must be a <double>`);
      out[k] = '<ts>';
    } else out[k] = normalise(x, `${where}.${k}`);
  }
  return out;
}

// ------------------------------------------------------------------------------ 1. replay

describe('transcript replay against the double', () => {
  let hub: KojiHubDouble;
  let top: string;
  let transcripts: Transcript[];
  const sessions = new Map<string, Sess>(); // recorded session id -> our session

  before(async () => {
    top = tmp();
    hub = await startKojiHubDouble(recordedSeed(top));
    const num = (t: Transcript) => Number(path.basename(t.file).slice(0, 4));
    transcripts = loadTranscripts().sort((a, b) => num(a) - num(b));
  });
  after(() => hub.stop());

  async function gapBefore(n: number): Promise<void> {
    if (n === 31) {
      const b = await hostSession(hub);
      await rpc(hub, b, 'host.updateHost', 0, true, kwargs({ data: { methods: ['imageBuilderBuild'], maxjobs: 4 } }));
      assert.deepEqual(((await rpc(hub, b, 'host.getTasks')) as XmlRpcStruct[]).map((t) => t.id), [2]);
      const u = await login(hub, 'imguser', 'imgpass');
      assert.equal(await rpc(hub, u, 'imageBuilderBuild', 'f42-image-builder', ['x86_64'], ['minimal-raw-xz'], 'Fedora-Minimal', '42', {}), 3);
    }
    if (n === 90) {
      const a = await login(hub, 'kojiadmin', 'adminpass');
      assert.equal(await rpc(hub, a, 'tagBuild', 'f42', 2, kwargs({ force: null })), 6);
    }
    if (n === 114) hub.state.nextId.task = 9;
  }

  test('every recorded request gets the recorded response (semantically)', async () => {
    assert.ok(transcripts.length >= 70, `only ${transcripts.length} transcripts found`);
    const done = new Set<number>();
    let compared = 0;
    for (const t of transcripts) {
      const n = Number(path.basename(t.file).slice(0, 4));
      for (const g of [31, 90, 114]) {
        if (n >= g && !done.has(g)) {
          done.add(g);
          await gapBefore(g);
        }
      }
      const headers: Record<string, string> = { 'Content-Type': header(t.request, 'Content-Type')! };
      const rid = header(t.request, 'Koji-Session-Id');
      if (rid) {
        const s = sessions.get(rid);
        assert.ok(s, `${t.file}: uses session ${rid} that no replayed login created`);
        headers['Koji-Session-Id'] = String(s.id);
        headers['Koji-Session-Key'] = s.key;
        headers['Koji-Session-Callnum'] = header(t.request, 'Koji-Session-Callnum')!;
      }
      const target = t.request.startLine.split(' ')[1];
      const got = await post(new URL(target, hub.url).toString(), t.request.body, headers);
      const want = decodeResponse(t.response.body, { keepDoubles: true });
      assert.deepStrictEqual(normalise(got as unknown as XmlRpcValue, t.file), normalise(want as unknown as XmlRpcValue, t.file), `${t.file}: response differs`);
      compared++;
      // remember sessions made by replayed logins
      if (want.kind === 'value' && got.kind === 'value' && headers['Content-Type'] === 'text/xml' && decodeCall(t.request.body).method === 'login') {
        const w = want.value as XmlRpcStruct;
        const g = got.value as XmlRpcStruct;
        sessions.set(String(w['session-id']), { id: g['session-id'] as number, key: g['session-key'] as string, callnum: 0 });
      }
    }
    assert.equal(compared, transcripts.length);
  });

  test('files ended where the recorded hub puts them', () => {
    // scratch (task 4): moved to scratch/<owner>/task_4 with symlinks left in the task dir
    const scratch = path.join(top, 'scratch', 'imguser', 'task_4', 'Fedora-Minimal-42-2.x86_64.raw.xz');
    assert.equal(fs.statSync(scratch).size, 4112);
    assert.ok(fs.lstatSync(path.join(top, 'work', 'tasks', '4', '4', 'Fedora-Minimal-42-2.x86_64.raw.xz')).isSymbolicLink());
    // real build (task 5 -> build 2): image under packages/, log under data/logs/image/<arch>/
    const img = path.join(top, 'packages', 'Fedora-Minimal', '42', '2', 'images', 'Fedora-Minimal-42-2.x86_64.raw.xz');
    assert.equal(fs.statSync(img).size, 4112);
    assert.ok(fs.statSync(path.join(top, 'packages', 'Fedora-Minimal', '42', '2', 'data', 'logs', 'image', 'x86_64', 'image-builder.log')).isFile());
    const b = hub.state.builds.get(2)!;
    assert.equal(b.state, 1);
    assert.deepEqual(hub.state.getTagStrict('f42').tagged.map((x) => x.buildId), [2]);
    const arch = [...hub.state.archives.values()];
    assert.equal(arch.length, 1);
    assert.equal(hub.state.archiveTypes.find((x) => x.id === arch[0].typeId)!.name, 'raw-xz');
    assert.deepEqual(hub.state.tagNotifications, [[true, 2, null, 2, null, false, '']]);
    const tagged = hub.callAs(null, 'listTagged', ['f42']) as XmlRpcStruct[];
    assert.deepEqual(tagged.map((x) => [x.nvr, x.tag_name, x.state, x.task_id, x.owner_name]), [['Fedora-Minimal-42-2', 'f42', 1, 3, 'imguser']]);
    const children = hub.callAs(null, 'getTaskChildren', [3, kwargs({ request: true })]) as XmlRpcStruct[];
    assert.deepEqual(children.map((x) => [x.id, x.method, x.label, x.state]), [[5, 'imageBuilderBuildArch', 'x86_64', TASK_STATES.CLOSED]]);
  });
});

// ------------------------------------------------------------------------------ 2. behaviour

describe('hub double behaviour', () => {
  let hub: KojiHubDouble;
  let top: string;
  before(async () => {
    top = tmp();
    hub = await startKojiHubDouble(recordedSeed(top));
  });
  after(() => hub.stop());

  async function submit(opts: XmlRpcStruct = { scratch: true }, arches = ['x86_64']): Promise<number> {
    const u = await login(hub, 'imguser', 'imgpass');
    return (await rpc(hub, u, 'imageBuilderBuild', 'f42-image-builder', arches, ['minimal-raw-xz'], 'Fedora-Minimal', '42', opts)) as number;
  }

  test('exclusive sessions: lock, force, and host calls need the lock', async () => {
    const a = await login(hub, 'builder1', 'hostpass');
    await assert.rejects(rpc(hub, a, 'host.getID'), fault(1002, /requires an exclusive session/));
    await rpc(hub, a, 'exclusiveSession');
    assert.equal(await rpc(hub, a, 'host.getID'), 1);
    const b = await login(hub, 'builder1', 'hostpass');
    await assert.rejects(rpc(hub, b, 'host.getID'), fault(1006, /^User locked by another session$/));
    await assert.rejects(rpc(hub, b, 'exclusiveSession'), fault(1006, /^Cannot get exclusive session$/));
    await rpc(hub, b, 'exclusiveSession', kwargs({ force: true }));
    assert.equal(await rpc(hub, b, 'host.getID'), 1);
    // the forced-out session is closed
    await assert.rejects(rpc(hub, a, 'host.getID'), fault(1002, /Invalid session/));
  });

  test('callnum: lower -> SequenceError, repeated non-idempotent -> RetryError, whitelisted repeat ok', async () => {
    const s = await hostSession(hub);
    s.callnum = 10;
    await rpc(hub, s, 'host.updateHost', 0, true); // 10, a state change: the hub stores the callnum
    s.callnum = 10;
    await rpc(hub, s, 'host.updateHost', 0, true); // whitelisted for retries
    s.callnum = 9;
    await assert.rejects(rpc(hub, s, 'getAPIVersion'), fault(1008, /^10 > 9 \(session \d+\)$/));
    s.callnum = 11;
    await rpc(hub, s, 'host.setHostData', { maxjobs: 1 });
    s.callnum = 11;
    await assert.rejects(rpc(hub, s, 'host.setHostData', { maxjobs: 1 }), fault(1009, /unable to retry call 11 \(method host.setHostData\)/));
    // read-only calls do not commit the callnum (as on the real hub): repeating one is fine
    s.callnum = 20;
    await rpc(hub, s, 'getAPIVersion');
    s.callnum = 20;
    assert.equal(await rpc(hub, s, 'getAPIVersion'), 1);
  });

  test('expired session: AuthExpired, then login(renew=True) keeps the id with a new key', async () => {
    const s = await login(hub, 'imguser', 'imgpass');
    hub.expireSession(s.id);
    await assert.rejects(rpc(hub, s, 'getLoggedInUser'), fault(1007, new RegExp(`^session "${s.id}" has expired$`)));
    const r = (await rpc(hub, s, 'login', 'imguser', 'imgpass', kwargs({ renew: true }))) as XmlRpcStruct;
    assert.equal(r['session-id'], s.id);
    assert.notEqual(r['session-key'], s.key);
    await assert.rejects(rpc(hub, s, 'getLoggedInUser'), fault(1002, /Invalid session/));
    s.key = r['session-key'] as string;
    assert.equal(((await rpc(hub, s, 'getLoggedInUser')) as XmlRpcStruct).name, 'imguser');
    await rpc(hub, s, 'logout');
    await assert.rejects(rpc(hub, s, 'getLoggedInUser'), fault(1002, /Invalid session/));
  });

  test('sslLogin takes the test certificate header, only at /ssllogin', async () => {
    const call = encodeCall('sslLogin', []);
    const r = await post(hub.url + '/ssllogin', call, { 'Content-Type': 'text/xml', 'X-Test-Client-CN': 'imguser' });
    assert.equal(r.kind, 'value');
    const bad = await post(hub.url, call, { 'Content-Type': 'text/xml', 'X-Test-Client-CN': 'imguser' });
    assert.equal(bad.kind === 'fault' && bad.fault.faultCode, 1002);
    const nobody = await post(hub.url + '/ssllogin', call, { 'Content-Type': 'text/xml', 'X-Test-Client-CN': 'nobody' });
    assert.equal(nobody.kind === 'fault' && nobody.fault.faultString, 'Unknown user: nobody');
  });

  test('scheduler: only ready hosts, only when the host has no assigned task, capacity and interval respected', async () => {
    const h = await hostSession(hub);
    await rpc(hub, h, 'host.updateHost', 0, false);
    const t1 = await submit();
    assert.deepEqual(await rpc(hub, h, 'host.getTasks'), [], 'a host that is not ready gets nothing');
    await rpc(hub, h, 'host.updateHost', 0, true, kwargs({ data: { maxjobs: 1 } }));
    const got = (await rpc(hub, h, 'host.getTasks')) as XmlRpcStruct[];
    assert.deepEqual(got.map((t) => [t.id, t.state]), [[t1, TASK_STATES.ASSIGNED]]);
    const t2 = await submit();
    // an ASSIGNED task is pending: no new scheduling round, same answer
    assert.deepEqual(((await rpc(hub, h, 'host.getTasks')) as XmlRpcStruct[]).map((t) => t.id), [t1]);
    await rpc(hub, h, 'host.openTask', t1);
    // maxjobs 1 and one open task: t2 stays free
    assert.deepEqual(await rpc(hub, h, 'host.getTasks'), []);
    assert.equal(hub.state.tasks.get(t2)!.state, TASK_STATES.FREE);
    // a waiting parent does not add load; with room the scheduler assigns t2
    await rpc(hub, h, 'host.updateHost', 0, true, kwargs({ data: { maxjobs: 4 } }));
    assert.deepEqual(((await rpc(hub, h, 'host.getTasks')) as XmlRpcStruct[]).map((t) => t.id), [t2]);
    await rpc(hub, h, 'host.openTask', t2);
    for (const id of [t1, t2]) await rpc(hub, h, 'host.closeTask', id, encodeResponse('ok'));
  });

  test('scheduler interval and ready timeout', async () => {
    const h2 = await startKojiHubDouble({ ...recordedSeed(tmp()), schedulerIntervalMs: 400, readyTimeoutMs: 300 });
    try {
      const u = await login(h2, 'imguser', 'imgpass');
      const h = await hostSession(h2);
      await rpc(h2, h, 'host.updateHost', 0, true);
      assert.deepEqual(await rpc(h2, h, 'host.getTasks'), []); // runs (nothing to do) and records the run time
      const t = await rpc(h2, u, 'imageBuilderBuild', 'f42-image-builder', [], ['minimal-raw-xz'], 'Fedora-Minimal', '42', {});
      assert.deepEqual(await rpc(h2, h, 'host.getTasks'), [], 'within RunInterval the scheduler does not run');
      await new Promise((r) => setTimeout(r, 450));
      assert.deepEqual(await rpc(h2, h, 'host.getTasks'), [], 'ready was reported longer ago than ReadyTimeout');
      assert.equal(h2.state.hosts.get(1)!.ready, false);
      await rpc(h2, h, 'host.updateHost', 0, true);
      await new Promise((r) => setTimeout(r, 450));
      await rpc(h2, h, 'host.updateHost', 0, true);
      assert.deepEqual(((await rpc(h2, h, 'host.getTasks')) as XmlRpcStruct[]).map((x) => x.id), [t]);
    } finally {
      await h2.stop();
    }
  });

  test('scheduler bins: a task goes only to hosts in its channel with its arch', async () => {
    const seed = recordedSeed(tmp());
    const h2 = await startKojiHubDouble({
      ...seed,
      users: seed.users!.filter((u) => !u.host),
      hosts: [
        { name: 'bx', password: 'p', arches: 'x86_64', channels: ['image'] },
        { name: 'ba', password: 'p', arches: 'aarch64', channels: ['image'] },
        { name: 'bd', password: 'p', arches: 'aarch64 x86_64', channels: ['default'] },
      ],
    });
    try {
      const [bx, ba, bd] = [await hostSession(h2, 'bx', 'p'), await hostSession(h2, 'ba', 'p'), await hostSession(h2, 'bd', 'p')];
      for (const s of [bx, ba, bd]) await rpc(h2, s, 'host.updateHost', 0, true);
      const u = await login(h2, 'imguser', 'imgpass');
      const parent = await rpc(h2, u, 'imageBuilderBuild', 'f42-image-builder', ['aarch64'], ['minimal-raw-xz'], 'Fedora-Minimal', '42', {});
      assert.deepEqual(await rpc(h2, bd, 'host.getTasks'), [], 'host outside the image channel');
      assert.deepEqual(((await rpc(h2, bx, 'host.getTasks')) as XmlRpcStruct[]).map((t) => t.id), [parent]);
      await rpc(h2, bx, 'host.openTask', parent);
      const child = await rpc(h2, bx, 'host.subtask', 'imageBuilderBuildArch', [], parent, kwargs({ label: 'aarch64', arch: 'aarch64' }));
      assert.deepEqual(await rpc(h2, bx, 'host.getTasks'), [], 'x86_64 host does not get an aarch64 task');
      assert.deepEqual(((await rpc(h2, ba, 'host.getTasks')) as XmlRpcStruct[]).map((t) => [t.id, t.arch, t.channel_id]), [[child, 'aarch64', 7]]);
      await assert.rejects(rpc(h2, ba, 'host.openTask', parent).then((r) => assert.equal(r, null)).then(() => rpc(h2, ba, 'host.closeTask', parent, encodeResponse(null))), fault(1004, /host 2 does not own task/));
    } finally {
      await h2.stop();
    }
  });

  test('subtasks: label makes host.subtask idempotent; waits; canfail results; cancel', async () => {
    const h = await hostSession(hub);
    await rpc(hub, h, 'host.updateHost', 0, true, kwargs({ data: { maxjobs: 10 } }));
    const parent = await submit({}, ['x86_64']);
    assert.ok(((await rpc(hub, h, 'host.getTasks')) as XmlRpcStruct[]).some((t) => t.id === parent));
    await rpc(hub, h, 'host.openTask', parent);
    const mk = (label: string, arch: string) => rpc(hub, h, 'host.subtask', kwargs({ method: 'imageBuilderBuildArch', arglist: ['x', arch], label, parent, arch }));
    const a = (await mk('x86_64', 'x86_64')) as number;
    assert.equal(await mk('x86_64', 'x86_64'), a, 'same parent+label returns the existing subtask');
    const b = (await mk('aarch64', 'x86_64')) as number;
    assert.notEqual(a, b);
    const info = (await rpc(hub, h, 'getTaskInfo', a, kwargs({ request: true }))) as XmlRpcStruct;
    assert.deepEqual([info.parent, info.label, info.priority, info.channel_id, info.owner, info.request], [parent, 'x86_64', 19, 7, 2, ['x', 'x86_64']]);
    await rpc(hub, h, 'host.taskSetWait', parent, [a, b]);
    assert.deepEqual(await rpc(hub, h, 'host.taskWait', parent), [[], [a, b]]);
    // children run on the same host
    const assigned = ((await rpc(hub, h, 'host.getTasks')) as XmlRpcStruct[]).map((t) => t.id);
    assert.deepEqual(assigned.sort(), [a, b].sort());
    await rpc(hub, h, 'host.openTask', a);
    await rpc(hub, h, 'host.openTask', b);
    await rpc(hub, h, 'host.closeTask', a, encodeResponse({ arch: 'x86_64', files: [] }));
    await rpc(hub, h, 'host.failTask', b, encodeFault(1005, 'image-builder failed'));
    assert.deepEqual(await rpc(hub, h, 'host.taskWait', parent), [[a, b], []]);
    await assert.rejects(rpc(hub, h, 'host.taskWaitResults', parent, [a, b]), fault(1005, /^image-builder failed$/));
    assert.deepEqual(await rpc(hub, h, 'host.taskWaitResults', parent, [a, b], kwargs({ canfail: [b] })), [
      [a, { arch: 'x86_64', files: [] }],
      [b, { faultCode: 1005, faultString: 'image-builder failed' }],
    ]);
    assert.equal(hub.state.tasks.get(parent)!.waiting, false);
    const kids = (await rpc(hub, h, 'getTaskChildren', parent)) as XmlRpcStruct[];
    assert.deepEqual(kids.map((k) => [k.id, k.state]), [[a, TASK_STATES.CLOSED], [b, TASK_STATES.FAILED]]);
    await assert.rejects(rpc(hub, h, 'getTaskResult', parent), fault(1000, new RegExp(`^Task ${parent} is not finished$`)));
    // cancel: the owner may, another user may not
    const np = await login(hub, 'noperm', 'np');
    await assert.rejects(rpc(hub, np, 'cancelTask', parent), fault(1004, /Cannot cancel task, not owner/));
    const u = await login(hub, 'imguser', 'imgpass');
    await rpc(hub, u, 'cancelTask', parent);
    await assert.rejects(rpc(hub, u, 'getTaskResult', parent), fault(1000, new RegExp(`^Task ${parent} is canceled$`)));
    await assert.rejects(rpc(hub, h, 'host.closeTask', parent, encodeResponse(null)), fault(1004, /does not own task/));
  });

  test('uploads: only the host running the task may write its dir; adler32 as zlib computes it', async () => {
    const h = await hostSession(hub);
    await rpc(hub, h, 'host.updateHost', 0, true, kwargs({ data: { maxjobs: 10 } }));
    const id = await submit();
    await rpc(hub, h, 'host.getTasks');
    const dir = `tasks/${id % 10000}/${id}`;
    const data = Buffer.from(Array.from({ length: 70000 }, (_, i) => (i * 7 + 3) % 251));
    const up = (s: Sess, offset: number, chunk: Buffer, extra = '') =>
      post(`${hub.url}?filename=out.bin&filepath=${encodeURIComponent(dir)}&fileverify=adler32&offset=${offset}${extra}`, chunk, { 'Content-Type': 'application/octet-stream', ...sessHeaders(s) });
    // not open yet: the host does not own the task
    const early = await up(h, 0, data);
    assert.equal(early.kind === 'fault' && early.fault.faultCode, 1004);
    await rpc(hub, h, 'host.openTask', id);
    const r1 = await up(h, 0, data.subarray(0, 40000));
    const r2 = await up(h, -1, data.subarray(40000));
    const zlibAdler = (buf: Buffer) =>
      execFileSync('/usr/bin/python3', ['-c', 'import sys,zlib; print("%08x" % zlib.adler32(sys.stdin.buffer.read()))'], { input: buf }).toString().trim();
    assert.deepEqual(r1.kind === 'value' && r1.value, { size: 40000, fileverify: 'adler32', offset: 0, hexdigest: zlibAdler(data.subarray(0, 40000)) });
    assert.deepEqual(r2.kind === 'value' && r2.value, { size: 30000, fileverify: 'adler32', offset: 40000, hexdigest: zlibAdler(data.subarray(40000)) });
    const check = (await rpc(hub, h, 'checkUpload', dir, 'out.bin', kwargs({ verify: 'adler32' }))) as XmlRpcStruct;
    assert.equal(check.size, 70000);
    assert.equal(check.hexdigest, zlibAdler(data));
    // existing file, offset 0, no overwrite
    const again = await up(h, 0, data);
    assert.match(again.kind === 'fault' ? again.fault.faultString : '', /^upload path exists: /);
    // another user cannot upload into the task dir
    const u = await login(hub, 'imguser', 'imgpass');
    const other = await up(u, 0, data, '&overwrite=1');
    assert.equal(other.kind === 'fault' && other.fault.faultString, 'User 2 is not a host');
    // the file is served at topurl
    const res = await fetch(`${hub.topurl}/work/${dir}/out.bin`);
    assert.ok(Buffer.from(await res.arrayBuffer()).equals(data));
    assert.equal((await fetch(`${hub.topurl}/work/${dir}/../../../../../etc/passwd`)).status, 404);
    assert.deepEqual(await rpc(hub, u, 'listTaskOutput', id), ['out.bin']);
    assert.equal(Buffer.from((await rpc(hub, u, 'downloadTaskOutput', id, 'out.bin', kwargs({ offset: 5, size: 10 }))) as string, 'base64').toString('hex'), data.subarray(5, 15).toString('hex'));
    await rpc(hub, h, 'host.closeTask', id, encodeResponse(null));
  });

  test('image import: unknown extension fails with Koji\'s error until addArchiveType; archives listed with types', async () => {
    const h = await hostSession(hub);
    await rpc(hub, h, 'host.updateHost', 0, true, kwargs({ data: { maxjobs: 10 } }));
    const parent = await submit({ release: '7' });
    await rpc(hub, h, 'host.getTasks');
    await rpc(hub, h, 'host.openTask', parent);
    const build = (await rpc(hub, h, 'host.initImageBuild', parent, { name: 'Fedora-Minimal', version: '42', release: '7', epoch: 0 })) as XmlRpcStruct;
    assert.equal(build.state, 0);
    const child = (await rpc(hub, h, 'host.subtask', kwargs({ method: 'imageBuilderBuildArch', arglist: [], label: 'x86_64', parent, arch: 'x86_64' }))) as number;
    await rpc(hub, h, 'host.getTasks');
    await rpc(hub, h, 'host.openTask', child);
    const s = new KojiSession({ hub: hub.url, auth: { type: 'password', user: 'builder1', password: 'hostpass' } });
    try {
      await s.login();
      await s.exclusiveSession(true);
      const local = path.join(tmp(), 'x');
      fs.mkdirSync(local);
      const files = ['Fedora-Minimal-42-7.x86_64.raw.zst', 'Fedora-Minimal-42-7.x86_64.osbuild-manifest.json'];
      for (const f of files) fs.writeFileSync(path.join(local, f), `content of ${f}\n`);
      for (const f of files) await fastUpload(s, path.join(local, f), `tasks/${child % 10000}/${child}`);
      const result = { [String(child)]: { task_id: child, arch: 'x86_64', files, logs: [], rpmlist: [] } };
      await assert.rejects(
        s.call('host.completeImageBuild', parent, build.id as number, result),
        (e: Error & { faultCode?: number }) => e.faultCode === 1005 && /Unsupported file type: Fedora-Minimal-42-7\.x86_64\.raw\.zst/.test(e.message),
      );
      assert.ok(fs.statSync(path.join(top, 'work', 'tasks', String(child), String(child), files[0])).isFile(), 'a refused import leaves the files');
      const admin = await login(hub, 'kojiadmin', 'adminpass');
      await assert.rejects(rpc(hub, admin, 'addArchiveType', 'raw-xz2', 'dup', 'raw.xz'), fault(1000, /^file extension raw.xz already exists$/));
      await rpc(hub, admin, 'addArchiveType', 'raw-zst', 'zstd compressed raw disk image', 'raw.zst');
      await s.call('host.completeImageBuild', parent, build.id as number, result);
      const archives = (await s.call('listArchives', kwargs({ buildID: build.id as number, type: 'image' }))) as XmlRpcStruct[];
      assert.deepEqual(archives.map((a) => [a.filename, a.type_name, a.arch, a.btype]), [
        [files[0], 'raw-zst', 'x86_64', 'image'],
        [files[1], 'json', 'x86_64', 'image'],
      ]);
      const served = await fetch(`${hub.topurl}/packages/Fedora-Minimal/42/7/images/${files[0]}`);
      assert.equal(await served.text(), `content of ${files[0]}\n`);
      assert.equal(((await s.call('getBuild', 'Fedora-Minimal-42-7')) as XmlRpcStruct).state, 1);
      await assert.rejects(s.call('host.failBuild', parent, build.id as number), (e: Error) => /cannot update build \d+, state: COMPLETE/.test(e.message));
    } finally {
      s.close();
    }
  });

  test('multiCall answers each call with [value] or a fault struct', async () => {
    const u = await login(hub, 'imguser', 'imgpass');
    const r = await rpc(hub, u, 'multiCall', [
      { methodName: 'getAPIVersion', params: [] },
      { methodName: 'getBuildTarget', params: ['nope', kwargs({ strict: true })] },
      { methodName: 'getNextRelease', params: [{ name: 'Fedora-Minimal', version: '43' }] },
      { methodName: 'noSuchMethod', params: [] },
    ]);
    assert.deepEqual(r, [[1], { faultCode: 1000, faultString: 'No such build target: nope' }, ['1'], { faultCode: 1000, faultString: 'Invalid method: noSuchMethod' }]);
  });

  test('argument binding like Python: missing or unexpected arguments are ParameterError', async () => {
    const u = await login(hub, 'imguser', 'imgpass');
    await assert.rejects(rpc(hub, u, 'getTaskInfo'), fault(1019, /missing 1 required positional argument: 'task_id'/));
    await assert.rejects(rpc(hub, u, 'getTaskInfo', 1, kwargs({ bogus: 1 })), fault(1019, /unexpected keyword argument 'bogus'/));
    await assert.rejects(rpc(hub, u, 'imageBuilderBuild', 'f42-image-builder', ['x86_64'], [], 'N', '1', {}), fault(1019, /^\[\] is too short\n/));
  });

  test('offline and restart: ServerOffline while offline; state and sessions survive a restart', async () => {
    const u = await login(hub, 'imguser', 'imgpass');
    const id = await rpc(hub, u, 'imageBuilderBuild', 'f42-image-builder', ['x86_64'], ['minimal-raw-xz'], 'Fedora-Minimal', '42', {});
    hub.setOffline(true);
    await assert.rejects(rpc(hub, u, 'getTaskInfo', id), fault(1014, /^server is offline$/));
    hub.setOffline(false);
    const url = hub.url;
    await hub.restart();
    assert.equal(hub.url, url);
    assert.equal(((await rpc(hub, u, 'getTaskInfo', id)) as XmlRpcStruct).id, id);
  });

  test('restart drops a request that is in flight', async () => {
    hub.hook = (c) => {
      if (c.method === 'getKojiVersion') void hub.restart();
      return undefined;
    };
    try {
      // the restart closes the connection before the answer is written
      const r = await fetch(hub.url, { method: 'POST', body: encodeCall('getKojiVersion', []), headers: { 'Content-Type': 'text/xml' } }).then(
        (res) => res.text(),
        (e: Error) => e,
      );
      assert.ok(r instanceof Error, `expected a dropped connection, got ${String(r)}`);
    } finally {
      hub.hook = () => undefined;
    }
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(await rpc(hub, undefined, 'getAPIVersion'), 1);
  });

  test('osbuildImage, getRepo and repo files at topurl', async () => {
    const u = await login(hub, 'imguser', 'imgpass');
    const id = (await rpc(hub, u, 'osbuildImage', 'Fedora-IoT', '42', 'fedora-42', ['iot-raw-xz'], 'f42-image-builder', ['x86_64'], kwargs({ opts: { repo: ['http://r/'] } }))) as number;
    const info = (await rpc(hub, u, 'getTaskInfo', id, kwargs({ request: true }))) as XmlRpcStruct;
    assert.deepEqual([info.method, info.channel_id, info.priority, info.request], ['osbuildImage', 7, 20, ['Fedora-IoT', '42', 'fedora-42', ['iot-raw-xz'], 'f42-image-builder', ['x86_64'], { repo: ['http://r/'] }]]);
    await assert.rejects(rpc(hub, u, 'osbuildImage', 'Fedora-IoT', '42', 'fedora-42', [], 'f42-image-builder', ['x86_64']), fault(1019));
    const np = await login(hub, 'noperm', 'np');
    await assert.rejects(rpc(hub, np, 'osbuildImage', 'Fedora-IoT', '42', 'fedora-42', ['x'], 't', ['x86_64']), fault(1004, /^image permission required \(logged in as noperm\)$/));
    const repo = (await rpc(hub, u, 'getRepo', 'f42-build')) as XmlRpcStruct;
    assert.equal(repo.state, 1);
    assert.equal(((await rpc(hub, u, 'getRepo', 1)) as XmlRpcStruct).id, repo.id, 'the current repo is stable');
    const f = path.join(top, 'repos', 'f42-build', String(repo.id), 'x86_64', 'repodata', 'repomd.xml');
    fs.mkdirSync(path.dirname(f), { recursive: true });
    fs.writeFileSync(f, '<repomd/>');
    const res = await fetch(`${hub.topurl}/repos/f42-build/${repo.id}/x86_64/repodata/repomd.xml`);
    assert.equal(await res.text(), '<repomd/>');
    assert.equal((await rpc(hub, u, 'getBuildConfig', 'f42-build') as XmlRpcStruct).arches, 'x86_64 aarch64');
    await assert.rejects(rpc(hub, u, 'getBuildConfig', 'nope'), fault(1000, /^No such tagInfo: 'nope'$/));
  });

  test('the Kiln session client works against the double (login, call, logout)', async () => {
    const s = new KojiSession({ hub: hub.url, auth: { type: 'password', user: 'imguser', password: 'imgpass' } });
    try {
      await s.login();
      const id = await s.call<number>('imageBuilderBuild', 'f42-image-builder', ['x86_64'], ['minimal-raw-xz'], 'Fedora-Minimal', '42', kwargs({ opts: { scratch: true } }));
      const info = await s.call<XmlRpcStruct>('getTaskInfo', id, kwargs({ request: true }));
      assert.deepEqual(info.request, ['f42-image-builder', ['x86_64'], ['minimal-raw-xz'], 'Fedora-Minimal', '42', { scratch: true }]);
      assert.equal(info.channel_id, 7);
      await s.logout();
    } finally {
      s.close();
    }
  });
});

// ------------------------------------------------------------------------------ build recycling

// Koji 1.35.3 kojihub.py, host.initImageBuild -> get_next_build -> new_build -> recycle_build:
// an NVR that exists already is reused when it FAILED or was CANCELED (same id, new task, old
// files gone), and refused otherwise. The expected fault texts below are written out from
// reading that source, not produced by the double.
describe('hub double: initImageBuild on an existing NVR', () => {
  let hub: KojiHubDouble;
  let top: string;
  let h: Sess;
  before(async () => {
    top = tmp();
    hub = await startKojiHubDouble({
      ...recordedSeed(top),
      builds: [
        { name: 'Fedora-Minimal', version: '42', release: '1', owner: 'imguser' }, // id 1, COMPLETE
        { name: 'Fedora-Minimal', version: '42', release: '2', owner: 'imguser', state: 'FAILED' }, // id 2
        { name: 'Fedora-Minimal', version: '42', release: '3', owner: 'imguser', state: 'FAILED', tags: ['f42'] }, // id 3
        { name: 'Fedora-Minimal', version: '42', release: '4', owner: 'imguser', state: 'DELETED' }, // id 4
        { name: 'Fedora-Minimal', version: '42', release: '5', owner: 'imguser', state: 'CANCELED' }, // id 5
      ],
    });
    h = await hostSession(hub);
    await rpc(hub, h, 'host.updateHost', 0, true, kwargs({ data: { maxjobs: 10 } }));
  });
  after(() => hub.stop());

  /** A parent task submitted by imguser and opened by the host. */
  async function openParent(): Promise<number> {
    const u = await login(hub, 'imguser', 'imgpass');
    const id = (await rpc(hub, u, 'imageBuilderBuild', 'f42-image-builder', ['x86_64'], ['minimal-raw-xz'], 'Fedora-Minimal', '42', {})) as number;
    await rpc(hub, h, 'host.getTasks');
    await rpc(hub, h, 'host.openTask', id);
    return id;
  }
  const init = (task: number, release: string | null) =>
    rpc(hub, h, 'host.initImageBuild', task, { name: 'Fedora-Minimal', version: '42', release, epoch: 0 }) as Promise<XmlRpcStruct>;
  const getBuild = (nvr: string) => rpc(hub, h, 'getBuild', nvr) as Promise<XmlRpcStruct>;
  /** new_build's copy of the request, as the hub prints it with %r */
  const dataRepr = (release: string, task: number) =>
    `{'name': 'Fedora-Minimal', 'version': '42', 'release': '${release}', 'epoch': 0, 'task_id': ${task}, 'owner': 2, 'state': 0, ` +
    `'completion_time': None, 'pkg_id': 1, 'extra': None, 'start_time': 'NOW', 'source': None, 'volume_id': 0, 'draft': False}`;

  test('a FAILED build is recycled: same id and NVR, the new task and owner, BUILDING, old files removed', async () => {
    const before = await getBuild('Fedora-Minimal-42-2');
    assert.equal(before.state, 3);
    const stray = path.join(top, 'packages', 'Fedora-Minimal', '42', '2', 'images', 'old.raw.xz');
    fs.mkdirSync(path.dirname(stray), { recursive: true });
    fs.writeFileSync(stray, 'left over');
    const count = hub.state.builds.size;
    const p = await openParent();
    const r = await init(p, '2');
    assert.deepEqual(r, { name: 'Fedora-Minimal', version: '42', release: '2', epoch: 0, task_id: p, owner: 2, state: 0, completion_time: null, id: before.id });
    assert.deepEqual(Object.keys(r), ['name', 'version', 'release', 'epoch', 'task_id', 'owner', 'state', 'completion_time', 'id']);
    assert.equal(hub.state.builds.size, count, 'no second build row');
    const after = await getBuild('Fedora-Minimal-42-2');
    assert.deepEqual([after.id, after.state, after.task_id, after.owner_name, after.completion_time], [before.id, 0, p, 'imguser', null]);
    assert.ok((after.creation_event_id as number) > (before.creation_event_id as number), 'a new create event');
    assert.ok(!fs.existsSync(path.join(top, 'packages', 'Fedora-Minimal', '42', '2')), 'the stray build directory is gone');
    assert.deepEqual(await rpc(hub, h, 'getImageBuild', before.id as number), { build_id: before.id });

    // the same task asking again (a restarted parent) gets the same build, unchanged
    assert.equal((await init(p, '2')).id, before.id);
    assert.equal((await getBuild('Fedora-Minimal-42-2')).creation_event_id, after.creation_event_id);
    // another task may not take a build in progress
    const q = await openParent();
    await assert.rejects(init(q, '2'), fault(1000, new RegExp(`^Build already in progress \\(task ${p}\\)$`)));

    // failed again, and with archive data it can no longer be recycled
    await rpc(hub, h, 'host.failBuild', p, before.id as number);
    hub.state.archives.set(999, { id: 999, buildId: before.id as number, typeId: 1, btype: 'image', filename: 'x.raw.xz', size: 1, checksum: '0', checksumType: 2, arch: 'x86_64', extra: null });
    try {
      await assert.rejects(init(q, '2'), fault(1000, /^Build already exists\. Unable to recycle, has archive data$/));
    } finally {
      hub.state.archives.delete(999);
    }
  });

  test('a CANCELED build is recycled, also when the release comes from get_next_release', async () => {
    // latest COMPLETE/DELETED/BUILDING build is 42-4 (DELETED): next release 5, which is CANCELED
    const p = await openParent();
    const r = await init(p, null);
    assert.equal(r.release, '5');
    assert.equal(r.id, 5);
    assert.deepEqual(Object.keys(r), ['name', 'version', 'release', 'epoch', 'task_id', 'owner', 'state', 'completion_time', 'id']);
    const b = await getBuild('Fedora-Minimal-42-5');
    assert.deepEqual([b.id, b.state, b.task_id], [5, 0, p]);
  });

  test('COMPLETE and DELETED builds are refused with the hub\'s GenericError text; tag history blocks recycling', async () => {
    const p = await openParent();
    const exact = (s: string) => (e: unknown) => {
      assert.equal((e as { faultCode?: number }).faultCode, 1000);
      assert.equal((e as Error).message, s);
      return true;
    };
    await assert.rejects(init(p, '1'), exact(`Build already exists (id=1, state=COMPLETE): ${dataRepr('1', p)}`));
    await assert.rejects(init(p, '4'), exact(`Build already exists (id=4, state=DELETED): ${dataRepr('4', p)}`));
    await assert.rejects(init(p, '3'), exact('Build already exists. Unable to recycle, has tag history'));
    // nothing changed
    assert.deepEqual([(await getBuild('Fedora-Minimal-42-1')).state, (await getBuild('Fedora-Minimal-42-3')).state, (await getBuild('Fedora-Minimal-42-4')).state], [1, 3, 2]);
  });
});

// Key lists of a real 1.35.3 hub (probed on the live rig: getRepo / repo.request /
// repo.checkRequest answers, in wire order).
const LIVE_REPO_KEYS = [
  'begin_event', 'begin_ts', 'create_event', 'create_ts', 'creation_time', 'creation_ts', 'custom_opts', 'dist', 'end_event', 'end_ts',
  'id', 'opts', 'state', 'state_time', 'state_ts', 'tag_id', 'tag_name', 'task_id', 'task_state',
];
const LIVE_REQUEST_KEYS = [
  'active', 'at_event', 'create_time', 'create_ts', 'id', 'min_event', 'opts', 'owner', 'owner_name', 'priority', 'repo_id', 'tag_id',
  'tag_name', 'task_id', 'task_state', 'tries', 'update_time', 'update_ts',
];

describe('hub double: build tag repos and repo requests (Koji 1.35)', () => {
  let hub: KojiHubDouble;
  before(async () => {
    hub = await startKojiHubDouble({
      topdir: tmp(),
      users: [
        { name: 'kojiadmin', password: 'adminpass', perms: ['admin'] },
        { name: 'imguser', password: 'imgpass', perms: ['image'] },
      ],
      tags: [{ name: 'f42-build', arches: 'x86_64' }, { name: 'f44-build', arches: 'x86_64', repo: false }, { name: 'f42', packages: ['Fedora-Minimal'] }],
      targets: [{ name: 'f42-image-builder', buildTag: 'f42-build', destTag: 'f42' }, { name: 'f44-image-builder', buildTag: 'f44-build', destTag: 'f42' }],
      repoManager: { mode: 'off' },
    });
  });
  after(async () => hub.stop());

  test('getRepo: the seeded build tag repo with the hub\'s fields; nil for a tag without a repo', async () => {
    const u = await login(hub, 'imguser', 'imgpass');
    const repo = (await rpc(hub, u, 'getRepo', 'f42-build')) as XmlRpcStruct;
    assert.deepEqual(Object.keys(repo), LIVE_REPO_KEYS);
    assert.deepEqual(Object.keys(repo.opts as XmlRpcStruct), ['src', 'maven', 'debuginfo', 'separate_src']);
    assert.deepEqual([repo.state, repo.dist, repo.tag_name, repo.task_id, repo.task_state, repo.end_event, repo.end_ts], [1, false, 'f42-build', null, null, null, null]);
    assert.deepEqual(repo.custom_opts, {});
    assert.ok(repo.create_ts instanceof XmlRpcDouble && repo.begin_ts instanceof XmlRpcDouble && repo.state_ts instanceof XmlRpcDouble, 'timestamps are doubles');
    assert.match(String(repo.state_time), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}\+00:00$/);
    assert.ok((repo.begin_event as number) < (repo.create_event as number), 'begin event: the tag change before the repo');
    assert.deepEqual(await rpc(hub, u, 'repoInfo', repo.id as number), repo);
    assert.deepEqual(await rpc(hub, u, 'repo.get', 'f42-build'), repo);
    assert.equal(await rpc(hub, u, 'getRepo', 'f44-build'), null);
    assert.equal(await rpc(hub, u, 'getRepo', 'f42'), null);
    assert.equal(await rpc(hub, u, 'repo.get', 'f44-build'), null);
    await assert.rejects(rpc(hub, u, 'getRepo', 'nope'), fault(1000, /^No such tagInfo: 'nope'$/));
  });

  test('repo.request queues a request; duplicates find it; the manager makes the repo and checkRequest hands it over', async () => {
    const u = await login(hub, 'imguser', 'imgpass');
    await assert.rejects(rpc(hub, undefined, 'repo.request', 'f44-build'), fault(1004, /you must be logged in/));
    const first = (await rpc(hub, u, 'repo.request', 'f44-build', kwargs({ min_event: null, at_event: null, opts: null }))) as XmlRpcStruct;
    assert.deepEqual(Object.keys(first), ['repo', 'request', 'duplicate']);
    assert.equal(first.repo, null);
    assert.equal(first.duplicate, false);
    const req = first.request as XmlRpcStruct;
    assert.deepEqual(Object.keys(req), LIVE_REQUEST_KEYS);
    const last = (await rpc(hub, u, 'tagLastChangeEvent', 'f44-build')) as number;
    assert.deepEqual(
      [req.active, req.at_event, req.min_event, req.opts, req.owner_name, req.priority, req.repo_id, req.tag_name, req.task_id, req.task_state, req.tries],
      [true, null, last, {}, 'imguser', 20, null, 'f44-build', null, null, 0],
    );
    const dup = (await rpc(hub, u, 'repo.request', 'f44-build')) as XmlRpcStruct;
    assert.equal(dup.duplicate, true);
    assert.equal((dup.request as XmlRpcStruct).id, req.id);

    let check = (await rpc(hub, u, 'repo.checkRequest', req.id as number)) as XmlRpcStruct;
    assert.deepEqual(Object.keys(check), ['repo', 'request']);
    assert.deepEqual(check.request, req);

    // kojira: a newRepo task for the request (createrepo channel, priority 15) ...
    hub.repoManager.tick();
    check = (await rpc(hub, u, 'repo.checkRequest', req.id as number)) as XmlRpcStruct;
    assert.deepEqual(Object.keys(check), ['repo', 'request', 'task']);
    const task = check.task as XmlRpcStruct;
    assert.deepEqual([task.method, task.channel_id, task.priority, task.state], ['newRepo', 2, 15, TASK_STATES.OPEN]);
    const r1 = check.request as XmlRpcStruct;
    assert.deepEqual([r1.task_id, r1.task_state, r1.tries, r1.active], [task.id, TASK_STATES.OPEN, 1, true]);
    assert.equal(await rpc(hub, u, 'getRepo', 'f44-build'), null, 'no repo while the task runs');
    // ... that makes the repo; the done hook gives it to the request
    hub.repoManager.tick();
    check = (await rpc(hub, u, 'repo.checkRequest', req.id as number)) as XmlRpcStruct;
    const repo = check.repo as XmlRpcStruct;
    assert.deepEqual(Object.keys(repo), LIVE_REPO_KEYS);
    assert.deepEqual([repo.tag_name, repo.state, repo.task_id, repo.task_state], ['f44-build', 1, task.id, TASK_STATES.CLOSED]);
    assert.ok((repo.create_event as number) >= last);
    const r2 = check.request as XmlRpcStruct;
    assert.deepEqual([r2.active, r2.repo_id], [false, repo.id]);
    assert.deepEqual((await rpc(hub, u, 'getTaskResult', task.id as number)), [repo.id, repo.create_event]);
    // now the hub answers with the repo itself
    const again = (await rpc(hub, u, 'repo.request', 'f44-build')) as XmlRpcStruct;
    assert.deepEqual(again, { repo, request: null, duplicate: false });
    assert.deepEqual(await rpc(hub, u, 'getRepo', 'f44-build'), repo);
  });

  test('repo.request / checkRequest faults have the hub\'s texts', async () => {
    const u = await login(hub, 'imguser', 'imgpass');
    await assert.rejects(rpc(hub, u, 'repo.checkRequest', 999), fault(1000, /^No such request$/));
    await assert.rejects(rpc(hub, u, 'repo.request', 'f44-build', kwargs({ min_event: 999999 })), fault(1019, /^Invalid event: 999999$/));
    await assert.rejects(rpc(hub, u, 'repo.request', 'f44-build', kwargs({ opts: { bogus: true } })), fault(1019, /^Invalid repo option: bogus$/));
    await assert.rejects(rpc(hub, u, 'repo.request', 'f44-build', kwargs({ min_event: 1, at_event: 1 })), fault(1019, /^The min_event and at_event options conflict$/));
    await assert.rejects(rpc(hub, u, 'repo.request', 'f44-build', kwargs({ priority: -1 })), fault(1004, /^only admins may create high-priority requests$/));
    await assert.rejects(rpc(hub, u, 'repo.request', 'nope'), fault(1000, /^No such tagInfo: 'nope'$/));
  });

  test('an expired repo is no repo: getRepo nil, repo.request queues a new request', async () => {
    const a = await login(hub, 'kojiadmin', 'adminpass');
    const repo = (await rpc(hub, a, 'getRepo', 'f42-build')) as XmlRpcStruct;
    await rpc(hub, a, 'repoExpire', repo.id as number);
    assert.equal(await rpc(hub, a, 'getRepo', 'f42-build'), null);
    assert.equal(((await rpc(hub, a, 'getRepo', 'f42-build', kwargs({ state: 2 }))) as XmlRpcStruct).id, repo.id);
    await rpc(hub, a, 'repoExpire', repo.id as number);
    assert.equal(((await rpc(hub, a, 'repoInfo', repo.id as number)) as XmlRpcStruct).state, 2, 'expiring twice is a no-op');
    await assert.rejects(rpc(hub, await login(hub, 'imguser', 'imgpass'), 'repoExpire', repo.id as number), fault(1004, /^repo permission required/));
    const got = (await rpc(hub, a, 'repo.request', 'f42-build')) as XmlRpcStruct;
    assert.equal(got.repo, null);
    assert.equal((got.request as XmlRpcStruct).active, true);
    const id = hub.makeRepo('f42-build');
    const check = (await rpc(hub, a, 'repo.checkRequest', (got.request as XmlRpcStruct).id as number)) as XmlRpcStruct;
    assert.equal((check.repo as XmlRpcStruct).id, id, 'a repo made by hand (make_repo.py) also fulfils the request');
  });

  test('a hub before 1.35 (legacyRepos) has no repo.request', async () => {
    const old = await startKojiHubDouble({ topdir: tmp(), users: [{ name: 'imguser', password: 'imgpass' }], tags: [{ name: 't' }], legacyRepos: true, repoManager: { mode: 'off' } });
    try {
      const u = await login(old, 'imguser', 'imgpass');
      await assert.rejects(rpc(old, u, 'repo.request', 't'), fault(1000, /^Invalid method: repo\.request$/));
      await assert.rejects(rpc(old, u, 'repo.checkRequest', 1), fault(1000, /^Invalid method: repo\.checkRequest$/));
      assert.equal(await rpc(old, u, 'getRepo', 't'), null);
    } finally {
      await old.stop();
    }
  });
});

describe('helpers', () => {
  test('pformat matches Python pprint.pformat(width=72)', () => {
    const samples: XmlRpcValue[] = [
      { a: 1, b: [1, 2, 3], c: { d: 'x'.repeat(90), e: null, f: true } },
      ['short', 'a much longer string with many words in it that will need to be wrapped somewhere sensible', { k: [false, 2.5] }],
      { 'it\'s': "quote's", nested: { deeper: { deepest: ['one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'] } } },
    ];
    for (const s of samples) {
      const py = execFileSync('/usr/bin/python3', ['-c', 'import json,sys,pprint; print(pprint.pformat(json.load(sys.stdin), width=72), end="")'], { input: JSON.stringify(s) }).toString();
      assert.equal(pformat(s, 72), py);
    }
  });
});
