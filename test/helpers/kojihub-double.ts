// A Koji 1.35 hub protocol double for tests: an HTTP server on 127.0.0.1 that speaks the hub's
// XML-RPC (and the raw-upload fast path) for the calls Kiln uses, keeps Koji's state in memory
// and serves topdir at /kojifiles like kojipkgs. Behaviour follows kojihub (auth.py session
// checks, scheduler.py assignment, the host API, image build import) and is checked against
// real hub transcripts in test/koji-double.test.ts.
//
// Supersedes test/koji-minihub.ts (which stays for the session/upload client tests).
//
// Usage:
//   const hub = await startKojiHubDouble({
//     topdir,                                   // a temp dir; served at hub.topurl
//     users: [
//       { name: 'kojiadmin', password: 'a', perms: ['admin'] },
//       { name: 'imguser', password: 'u', perms: ['image'] },
//       { name: 'builder1', password: 'h', host: { arches: 'x86_64', capacity: 2, channels: ['default', 'image'] } },
//     ],
//     tags: [{ name: 'f42-build', arches: 'x86_64 aarch64' }, { name: 'f42', packages: ['Fedora-Minimal'] }],
//     targets: [{ name: 'f42-image-builder', buildTag: 'f42-build', destTag: 'f42' }],
//   });
//   new KojiSession({ hub: hub.url, auth: { type: 'password', user: 'builder1', password: 'h' } }) ...
//   hub.state (tasks, builds, archives, ...) for assertions; hub.calls for what was called;
//   hub.hook = (call) => ... to inject a fault or drop a connection; await hub.stop().
//
// Faithful details worth knowing: the scheduler runs only inside host.getTasks/getLoadData of a
// host with no ASSIGNED task, at most once per schedulerIntervalMs, and only assigns to hosts
// whose ready=True report is younger than readyTimeoutMs; a session's callnum is stored only
// by calls that changed state (as kojihub commits it with the call's own changes), so a
// repeated read-only call is not a RetryError; host.subtask with a label already used under
// the same parent returns the existing subtask id (label None is never deduplicated);
// listTaskOutput lists files in creation order (what the recorded hub's readdir gave).
//
// Known simplifications (documented for users of the double):
// - no database transactions: a call that faults half-way keeps what it changed before the
//   fault (handlers check before they change, so in practice nothing is half-done);
// - policies are the hub defaults only (channel: requested / parent / default; tag: admin or
//   build owner); no volumes, no inheritance, no events beyond ids;
// - sslLogin takes the client's certificate CN from the `X-Test-Client-CN` request header
//   (posted to /kojihub/ssllogin) instead of a TLS handshake;
// - sessions are not bound to the client IP (CheckClientIP), there are no subsessions;
// - host.completeImageBuild checks every file's archive type before moving any (the real hub
//   may move earlier files of a refused import); buildroot calls only hand out ids;
// - osbuildImage (koji-osbuild) checks the argument shape only, not its jsonschema text;
// - repos: getRepo returns nil for a tag without a READY repo, as the hub does; the build tags
//   of seeded targets start with one (TagSeed.repo: false to start without). repo.request /
//   repo.checkRequest / repo.get follow kojihub/repos.py; the simulated kojira (repoManager)
//   makes a requested repo in two passes ~5 ms apart (newRepo task, then the READY repo). Repos
//   are rows only (no repodata is written under topdir); no tag inheritance, no external repos.

import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';

import { FAULT_CODES } from '../../src/koji/faults.js';
import { Adler32 } from '../../src/koji/upload.js';
import { decodeCall, encodeFault, encodeResponse, splitKwargs, type XmlRpcStruct, type XmlRpcValue } from '../../src/koji/xmlrpc.js';
import { bind, def, verifyHost, type Ctx, type Handler } from './kojihub-double/dispatch.js';
import { hubHandlers, RaisedFault, uploadPath, type FileLayout } from './kojihub-double/handlers.js';
import { HubError, hubError, HubState, nowTs, REPO_STATES, type Host, type Session, type Tag } from './kojihub-double/model.js';
import { makeReadyRepo, RepoManager, type RepoManagerOptions } from './kojihub-double/repos.js';

export { HubError, HubState, TASK_STATES, BUILD_STATES } from './kojihub-double/model.js';
export { taskRelDir } from './kojihub-double/handlers.js';
export { RepoManager, type RepoManagerOptions } from './kojihub-double/repos.js';

export interface UserSeed {
  name: string;
  password?: string;
  perms?: string[];
  /** makes this user a build host */
  host?: { arches?: string; capacity?: number; channels?: string[]; enabled?: boolean };
}
export interface TagSeed {
  name: string;
  arches?: string | null;
  extra?: XmlRpcStruct;
  locked?: boolean;
  perm?: string | null;
  /** package list entries (owner: first admin, else the first user) */
  packages?: string[];
  /**
   * Start with a READY repo of this tag (made after the seeded builds are tagged). Default:
   * true for the build tag of a seeded target (a hub whose kojira has caught up), false for
   * other tags. false: the tag has no repo until one is requested (repo.request) and the
   * repo manager makes it, or a test calls makeRepo().
   */
  repo?: boolean;
}
export interface TargetSeed {
  name: string;
  buildTag: string;
  destTag: string;
}
export interface BuildSeed {
  name: string;
  version: string;
  release: string;
  state?: 'BUILDING' | 'COMPLETE' | 'DELETED' | 'FAILED' | 'CANCELED';
  owner?: string;
  tags?: string[];
}

export interface KojiHubDoubleOptions {
  /** the hub's /mnt/koji: work/, packages/, scratch/, repos/ live here and are served at topurl */
  topdir: string;
  /** created in order (ids 1, 2, ...) */
  users?: UserSeed[];
  /** shorthand: host users, created after `users` */
  hosts?: { name: string; password?: string; arches?: string; capacity?: number; channels?: string[]; enabled?: boolean }[];
  tags?: TagSeed[];
  targets?: TargetSeed[];
  builds?: BuildSeed[];
  archiveTypes?: { name: string; description: string; extensions: string; compressionType?: 'zip' | 'tar' | null }[];
  /**
   * Minimum time between scheduler runs (Koji's RunInterval, 60 s there). Default 0 here:
   * every host.getTasks with no assigned task runs the scheduler.
   */
  schedulerIntervalMs?: number;
  /** host.updateHost(ready=True) is trusted this long (Koji ReadyTimeout, 180 s) */
  readyTimeoutMs?: number;
  /** ASSIGNED tasks not opened within this time are freed (Koji AssignTimeout, 300 s) */
  assignTimeoutMs?: number;
  /** OPEN tasks of hosts silent this long are freed (Koji HostTimeout, 900 s) */
  hostTimeoutMs?: number;
  maxJobs?: number;
  capacityOvercommit?: number;
  /** sessions expire this long after login/renewal (Koji SessionRenewalTimeout, 1440 min) */
  sessionTimeoutMs?: number;
  /** the simulated kojira + newRepo (see RepoManager in kojihub-double/repos.ts); default: makes requested repos within ~10 ms */
  repoManager?: RepoManagerOptions;
  /**
   * A hub before Koji 1.35: no repo.request / repo.checkRequest / repo.get (calls fault with
   * "Invalid method"); its kojira makes a repo for every target's build tag that has none,
   * after repoManager.delayMs (unless repoManager.mode is "off").
   */
  legacyRepos?: boolean;
  /** seed id counters (next id to hand out) so ids match a recording */
  ids?: Partial<HubState['nextId']>;
  port?: number;
}

/** One call as the double saw it (for assertions). */
export interface SeenCall {
  method: string;
  params: XmlRpcValue[];
  query?: Record<string, string>;
  sessionId?: number;
  user?: string;
  callnum?: number;
  fault?: { faultCode: number; faultString: string };
}

/** What a test hook may do with a call: run it (undefined), fault it, or drop the connection before/after running it. */
export type HookAction = undefined | HubError | 'drop-before' | 'drop-after';

export interface KojiHubDouble {
  url: string;
  topurl: string;
  port: number;
  state: HubState;
  calls: SeenCall[];
  /** called for every request after session checks */
  hook: (call: SeenCall) => HookAction;
  stop(): Promise<void>;
  /** simulate a hub restart: in-flight connections are dropped, state (the "database") stays */
  restart(): Promise<void>;
  /** while offline every call gets ServerOffline (1014) "server is offline", like a hub with ServerOffline set */
  setOffline(offline: boolean): void;
  /** expire a session (next call: AuthExpired unless login with renew) */
  expireSession(sessionId: number): void;
  /** sessions of a user, newest last */
  sessionsOf(user: string): Session[];
  /** the simulated repo manager (change mode/delayMs, or call tick() in "off" mode) */
  repoManager: RepoManager;
  /** make a READY repo for a tag now, as make_repo.py / kojira + newRepo would; returns the repo id */
  makeRepo(tag: string): number;
  /** direct calls for test setup, as `user` (no HTTP, no callnum) */
  callAs(user: string | null, method: string, params: XmlRpcValue[], opts?: { exclusive?: boolean }): XmlRpcValue;
}

const RETRY_WHITELIST = new Set(['host.taskWait', 'host.taskUnwait', 'host.taskSetWait', 'host.updateHost', 'host.setBuildRootState', 'repoExpire', 'repoDelete', 'repoProblem']);
const AUTH_METHODS = new Set(['login', 'sslLogin']);
const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

function randomKey(userId: number): string {
  let s = '';
  for (let i = 1; i < 20; i++) s += ALNUM[Math.floor(Math.random() * ALNUM.length)];
  return `${userId}-${s}`;
}

function faultCode(name: string): number {
  const code = FAULT_CODES.get(name);
  if (code === undefined) throw new Error(`unknown Koji fault class ${name}`);
  return code;
}

export async function startKojiHubDouble(opts: KojiHubDoubleOptions): Promise<KojiHubDouble> {
  const state = new HubState({
    runIntervalMs: opts.schedulerIntervalMs ?? 0,
    readyTimeoutMs: opts.readyTimeoutMs ?? 180_000,
    assignTimeoutMs: opts.assignTimeoutMs ?? 300_000,
    hostTimeoutMs: opts.hostTimeoutMs ?? 900_000,
    maxJobs: opts.maxJobs ?? 15,
    capacityOvercommit: opts.capacityOvercommit ?? 5,
  });
  seed(state, opts);
  Object.assign(state.nextId, opts.ids ?? {});
  const sessionTimeoutMs = opts.sessionTimeoutMs ?? 1440 * 60_000;
  fs.mkdirSync(path.join(opts.topdir, 'work'), { recursive: true });
  const layout: FileLayout = { topdir: opts.topdir, order: new Map() };
  const legacy = opts.legacyRepos ?? false;
  const repoManager = legacy ? new LegacyRepoManager(state, opts.repoManager) : new RepoManager(state, opts.repoManager);
  const handlers = new Map<string, Handler>();
  for (const h of hubHandlers(layout, { manager: () => repoManager, legacy })) handlers.set(h.name, h);
  let offline = false;

  const dbl: KojiHubDouble = {
    url: '', topurl: '', port: 0, state, calls: [],
    hook: () => undefined,
    repoManager,
    makeRepo: (tag) => makeReadyRepo(state, state.getTagStrict(tag)).id,
    stop: async () => {
      repoManager.stop();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
    restart: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await listen(dbl.port);
    },
    setOffline: (v) => void (offline = v),
    expireSession: (id) => {
      const s = state.sessions.get(id);
      if (!s) throw new Error(`no session ${id}`);
      s.expired = true;
    },
    sessionsOf: (user) => {
      const u = state.userByName(user);
      return [...state.sessions.values()].filter((s) => s.userId === u?.id);
    },
    callAs: (user, method, params, o = {}) => {
      const u = user === null ? undefined : state.userByName(user);
      if (user !== null && !u) throw new Error(`no user ${user}`);
      const c: Ctx = { state, method, user: u, dirty: false, headers: {}, path: '/kojihub' };
      if (u && o.exclusive) c.session = { id: 0, key: '', userId: u.id, authtype: 0, callnum: null, exclusive: true, expired: false, closed: false, startTs: nowTs(), renewTs: null };
      return dispatch(c, method, params);
    },
  };

  // ---------------------------------------------------------------------------------- session

  function createSession(userId: number, authtype: number): XmlRpcStruct {
    const s: Session = { id: state.take('session'), key: randomKey(userId), userId, authtype, callnum: null, exclusive: false, expired: false, closed: false, startTs: nowTs(), renewTs: null };
    state.sessions.set(s.id, s);
    return { 'session-id': s.id, 'session-key': s.key, 'header-auth': true };
  }

  function makeExclusive(c: Ctx, force: boolean): void {
    const s = c.session!;
    if (s.exclusive) throw hubError('GenericError', 'session is already exclusive');
    const other = [...state.sessions.values()].find((o) => o !== s && o.userId === s.userId && !o.closed && o.exclusive);
    if (other) {
      if (!force) throw hubError('AuthLockError', 'Cannot get exclusive session');
      other.expired = true;
      other.exclusive = false;
      other.closed = true;
    }
    s.exclusive = true;
  }

  function loginUser(c: Ctx, userId: number, authtype: number, renew: boolean, exclusive: boolean): XmlRpcValue {
    const u = state.users.get(userId)!;
    if (u.status !== 0) throw hubError('AuthError', `logins by ${u.name} are not allowed`);
    c.dirty = true;
    let out: XmlRpcStruct;
    if (renew && c.session) {
      // renew keeps the session id and hands out a new key (kojihub createSession)
      c.session.key = randomKey(userId);
      c.session.expired = false;
      c.session.renewTs = nowTs();
      out = { 'session-id': c.session.id, 'session-key': c.session.key, 'header-auth': true };
    } else out = createSession(userId, authtype);
    if (exclusive) {
      const s = state.sessions.get(out['session-id'] as number)!;
      if (!s.exclusive) makeExclusive({ ...c, session: s }, false);
    }
    return out;
  }

  const authHandlers: Handler[] = [];
  authHandlers.push(
    def('login(user, password, opts=None, renew=False, exclusive=False)', (c, a) => {
      if (typeof a.password !== 'string' || !a.password) throw hubError('AuthError', 'invalid username or password');
      if (c.user) throw hubError('AuthError', 'Already logged in');
      const u = state.userByName(String(a.user));
      if (!u || u.password === null || u.password !== a.password) throw hubError('AuthError', 'invalid username or password');
      return loginUser(c, u.id, 0, !!a.renew, !!a.exclusive);
    }),
    def('sslLogin(proxyuser=None, proxyauthtype=None, renew=False, exclusive=None)', (c, a) => {
      if (c.user) throw hubError('AuthError', 'Already logged in');
      if (c.path !== '/kojihub/ssllogin') throw hubError('AuthError', 'could not verify client: sslLogin must be posted to /ssllogin');
      const cn = c.headers['x-test-client-cn'];
      if (typeof cn !== 'string' || !cn) throw hubError('AuthError', 'could not verify client: NONE');
      const u = state.userByName(cn);
      if (!u) throw hubError('AuthError', `Unknown user: ${cn}`);
      return loginUser(c, u.id, 2, !!a.renew, !!a.exclusive);
    }),
    def('logout(session_id=None)', (c, a) => {
      if (!c.user) throw hubError('AuthError', 'Not logged in');
      let target = c.session!;
      if (a.session_id !== null) {
        const s = state.sessions.get(Number(a.session_id));
        if (!c.user.perms.has('admin') && (!s || s.userId !== c.user.id)) throw hubError('ActionNotAllowed', 'only admins or owner may logout other session');
        if (!s) return null;
        target = s;
      }
      c.dirty = true;
      target.expired = true;
      target.exclusive = false;
      target.closed = true;
      return null;
    }),
    def('exclusiveSession(force=False)', (c, a) => {
      if (!c.user) throw hubError('AuthError', 'Not logged in');
      c.dirty = true;
      makeExclusive(c, !!a.force);
      return null;
    }),
    def('sharedSession()', (c) => {
      if (!c.user) throw hubError('AuthError', 'Not logged in');
      c.dirty = true;
      c.session!.exclusive = false;
      return null;
    }),
    def('multiCall(calls)', (c, a) => {
      return (a.calls as XmlRpcStruct[]).map((call) => {
        try {
          return [dispatch(c, String(call.methodName), (call.params ?? []) as XmlRpcValue[])];
        } catch (e) {
          const f = toFault(e);
          return f.koji ? { faultCode: f.code, faultString: f.message } : { faultCode: f.code, faultString: f.message, traceback: [String((e as Error).stack ?? e)] };
        }
      });
    }),
  );
  for (const h of authHandlers) handlers.set(h.name, h);
  handlers.set('system.multicall', { ...handlers.get('multiCall')!, name: 'system.multicall' });

  function dispatch(c: Ctx, method: string, params: XmlRpcValue[]): XmlRpcValue {
    const h = handlers.get(method);
    if (!h) throw hubError('GenericError', `Invalid method: ${method}`);
    const { args, kwargs } = splitKwargs(params);
    const { a, extra } = bind(h, args, kwargs);
    // the same context object: a change marked by the handler (dirty) must reach commitCallnum
    const prev = c.method;
    c.method = method;
    try {
      return h.fn(c, a, extra);
    } finally {
      c.method = prev;
    }
  }

  /** auth.Session(): find and check the caller's session (headers, or the legacy query string). */
  function checkSession(req: http.IncomingMessage, url: URL, method: string, seen: SeenCall): Ctx {
    const c: Ctx = { state, method, dirty: false, headers: req.headers, path: url.pathname };
    let id: string | null;
    let key: string | null;
    let callnum: string | null;
    if (req.headers['koji-session-id'] !== undefined) {
      id = String(req.headers['koji-session-id']);
      key = (req.headers['koji-session-key'] as string | undefined) ?? null;
      callnum = (req.headers['koji-session-callnum'] as string | undefined) ?? null;
    } else {
      id = url.searchParams.get('session-id');
      key = url.searchParams.get('session-key');
      callnum = url.searchParams.get('callnum');
    }
    if (id === null) return c;
    if (key === null) throw hubError('AuthError', 'session-key not specified in session args');
    const s = state.sessions.get(Number(id));
    if (!s || s.key !== key || s.closed) throw hubError('AuthError', 'Invalid session or bad credentials');
    seen.sessionId = s.id;
    if (!s.expired && sessionTimeoutMs > 0 && Date.now() > ((s.renewTs ?? s.startTs) * 1000 + sessionTimeoutMs)) s.expired = true;
    if (s.expired && !AUTH_METHODS.has(method)) throw hubError('AuthExpired', `session "${s.id}" has expired`);
    c.session = s;
    if (callnum !== null) {
      if (!/^-?\d+$/.test(callnum)) throw hubError('AuthError', `Invalid callnum: '${callnum}'`);
      const n = Number(callnum);
      seen.callnum = n;
      if (s.callnum !== null) {
        if (s.callnum > n) throw hubError('SequenceError', `${s.callnum} > ${n} (session ${s.id})`);
        if (s.callnum === n && !RETRY_WHITELIST.has(method)) throw hubError('RetryError', `unable to retry call ${n} (method ${method}) for session ${s.id}`);
      }
    }
    if (s.expired) return c; // only login(renew=True) gets here
    const u = state.users.get(s.userId)!;
    if (u.status !== 0) throw hubError('AuthError', `logins by ${u.name} are not allowed`);
    c.user = u;
    seen.user = u.name;
    if (!s.exclusive) {
      const locked = [...state.sessions.values()].some((o) => o !== s && o.userId === s.userId && o.exclusive && !o.closed);
      if (locked && !['exclusiveSession', 'login', 'logout'].includes(method)) throw hubError('AuthLockError', 'User locked by another session');
    }
    return c;
  }

  // the callnum is stored only when the call changed something (kojihub commits it with the call's own changes)
  function commitCallnum(c: Ctx, seen: SeenCall): void {
    if (c.session && seen.callnum !== undefined && c.dirty) c.session.callnum = seen.callnum;
  }

  // ---------------------------------------------------------------------------------- raw upload

  function rawUpload(c: Ctx, url: URL, body: Buffer): XmlRpcValue {
    if (!c.user) throw hubError('ActionNotAllowed', 'you must be logged-in to upload a file');
    const name = url.searchParams.get('filename');
    if (name === null) throw new Error("KeyError: 'filename'");
    const reldir = url.searchParams.get('filepath') ?? '';
    const verify = url.searchParams.get('fileverify') ?? '';
    const overwrite = !!url.searchParams.get('overwrite');
    if (verify && !['adler32', 'md5', 'sha256'].includes(verify)) throw hubError('GenericError', `Unsupported verify type: ${verify}`);
    let offset = Number(url.searchParams.get('offset') ?? '0');
    if (!Number.isInteger(offset)) throw new Error(`ValueError: invalid literal for int(): '${url.searchParams.get('offset')}'`);
    const fn = uploadPath(c, layout, reldir, name, true);
    let cur: Buffer = Buffer.alloc(0);
    if (fs.existsSync(fn) || isLink(fn)) {
      const st = fs.lstatSync(fn);
      if (st.isSymbolicLink()) throw hubError('GenericError', `destination is a symlink: ${fn}`);
      if (!st.isFile()) throw hubError('GenericError', `destination not a file: ${fn}`);
      if (offset === 0 && !overwrite) throw hubError('GenericError', `upload path exists: ${fn}`);
      cur = fs.readFileSync(fn);
    }
    if (offset === -1) offset = cur.length;
    else if (overwrite) cur = Buffer.concat([cur.subarray(0, offset), Buffer.alloc(Math.max(0, offset - cur.length))]);
    const next = Buffer.alloc(overwrite ? offset + body.length : Math.max(cur.length, offset + body.length));
    cur.copy(next, 0, 0, Math.min(cur.length, next.length));
    body.copy(next, offset);
    fs.writeFileSync(fn, next);
    layout.order.set(path.dirname(fn), [...new Set([...(layout.order.get(path.dirname(fn)) ?? []), path.basename(fn)])]);
    if (!overwrite && next.length !== offset + body.length) {
      throw hubError('GenericError', `Incorrect upload length for ${fn} - Expected ${offset + body.length}, actual ${next.length}`);
    }
    const out: XmlRpcStruct = { size: body.length, fileverify: verify, offset };
    if (verify === 'adler32') out.hexdigest = new Adler32().update(body).hexdigest();
    else if (verify === 'md5' || verify === 'sha256') out.hexdigest = createHash(verify).update(body).digest('hex');
    return out;
  }

  // ---------------------------------------------------------------------------------- HTTP

  function send(res: http.ServerResponse, status: number, body: string | Buffer, type: string, extra: Record<string, string> = {}): void {
    const buf = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
    res.writeHead(status, { 'Content-Type': type, 'Content-Length': buf.length, ...extra });
    res.end(buf);
  }

  function serveFile(req: http.IncomingMessage, res: http.ServerResponse, rel: string): void {
    const full = path.resolve(opts.topdir, '.' + decodeURIComponent(rel));
    if (!full.startsWith(path.resolve(opts.topdir) + path.sep) && full !== path.resolve(opts.topdir)) return send(res, 403, 'Forbidden\n', 'text/plain');
    let st: fs.Stats;
    try {
      st = fs.statSync(full);
    } catch {
      return send(res, 404, 'Not Found\n', 'text/plain');
    }
    if (st.isDirectory()) {
      const list = fs.readdirSync(full).map((n) => `<a href="${encodeURIComponent(n)}">${n}</a>`).join('\n');
      return send(res, 200, `<html><body><pre>\n${list}\n</pre></body></html>\n`, 'text/html');
    }
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': st.size });
    if (req.method === 'HEAD') return void res.end();
    fs.createReadStream(full).pipe(res);
  }

  function handle(req: http.IncomingMessage, res: http.ServerResponse, body: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname.startsWith('/kojifiles/') || url.pathname === '/kojifiles') {
      if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'Method Not Allowed\n', 'text/plain');
      return serveFile(req, res, url.pathname.slice('/kojifiles'.length) || '/');
    }
    if (url.pathname !== '/kojihub' && url.pathname !== '/kojihub/ssllogin') return send(res, 404, 'Not Found\n', 'text/plain');
    if (req.method !== 'POST') {
      return send(res, 405, 'Method Not Allowed\nThis is an XML-RPC server. Only POST requests are accepted.\n', 'text/plain', { Allow: 'POST' });
    }
    const reply = (xml: string) => send(res, 200, xml, 'text/xml', { 'Koji-Version': '1.35.3' });
    if (offline) return reply(encodeFault(faultCode('ServerOffline'), 'server is offline'));
    const isUpload = req.headers['content-type'] === 'application/octet-stream';
    const seen: SeenCall = { method: isUpload ? 'rawUpload' : '?', params: [] };
    if (isUpload) seen.query = Object.fromEntries(url.searchParams);
    dbl.calls.push(seen);
    let ctx: Ctx | undefined;
    try {
      if (!isUpload) {
        let call;
        try {
          call = decodeCall(body, { source: 'request' });
        } catch (e) {
          return send(res, 400, `Invalid request: ${(e as Error).message}\n`, 'text/plain');
        }
        seen.method = call.method;
        seen.params = call.params;
        if (!handlers.has(call.method)) throw hubError('GenericError', `Invalid method: ${call.method}`);
      }
      ctx = checkSession(req, url, seen.method, seen);
      const action = dbl.hook(seen);
      if (action === 'drop-before') return void req.socket.destroy();
      if (action instanceof HubError) throw action;
      const result = isUpload ? rawUpload(ctx, url, body) : dispatch(ctx, seen.method, seen.params);
      commitCallnum(ctx, seen);
      if (action === 'drop-after') return void req.socket.destroy();
      reply(encodeResponse(result));
    } catch (e) {
      if (ctx) commitCallnum(ctx, seen);
      const f = toFault(e);
      seen.fault = { faultCode: f.code, faultString: f.message };
      reply(encodeFault(f.code, f.message));
    }
  }

  const server = http.createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (d: Buffer) => parts.push(d));
    req.on('end', () => {
      try {
        handle(req, res, Buffer.concat(parts));
      } catch (e) {
        if (!res.headersSent) send(res, 500, `internal error: ${(e as Error).message}\n`, 'text/plain');
      }
    });
    req.on('error', () => {});
  });
  server.keepAliveTimeout = 2000;

  async function listen(port: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    dbl.port = (server.address() as AddressInfo).port;
    dbl.url = `http://127.0.0.1:${dbl.port}/kojihub`;
    dbl.topurl = `http://127.0.0.1:${dbl.port}/kojifiles`;
  }
  await listen(opts.port ?? 0);
  return dbl;
}

function isLink(p: string): boolean {
  try {
    return fs.lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

/** Map anything thrown by a handler to the fault the hub would send. */
function toFault(e: unknown): { code: number; message: string; koji: boolean } {
  if (e instanceof HubError) return { code: faultCode(e.kojiName), message: e.message, koji: true };
  if (e instanceof RaisedFault) return { code: e.code, message: e.message, koji: true };
  // non-Koji exceptions become faultCode 1 (kojixmlrpc: "<ExceptionClass>: <message>")
  return { code: 1, message: e instanceof Error ? e.message : String(e), koji: false };
}

// ---------------------------------------------------------------------------------- seeding

function seed(state: HubState, opts: KojiHubDoubleOptions): void {
  const users: UserSeed[] = [
    ...(opts.users ?? []),
    ...(opts.hosts ?? []).map(({ name, password, ...host }) => ({ name, password, host })),
  ];
  for (const u of users) {
    const user = state.addUser(u.name, u.password ?? null, u.perms ?? [], u.host ? 1 : 0);
    if (u.host) {
      const channels = (u.host.channels ?? ['default']).map((n) => {
        const ch = state.channelByName(n);
        if (!ch) throw new Error(`kojihub double: host ${u.name}: no channel ${n}`);
        return ch.id;
      });
      const h: Host = {
        id: state.take('host'), userId: user.id, name: u.name, arches: u.host.arches ?? 'x86_64', capacity: u.host.capacity ?? 2.0,
        enabled: u.host.enabled ?? true, channels, ready: false, taskLoad: 0, updateTs: null, data: null, description: null, comment: null,
      };
      state.hosts.set(h.id, h);
    }
  }
  const pkgOwner = [...state.users.values()].find((u) => u.perms.has('admin')) ?? [...state.users.values()][0];
  for (const t of opts.tags ?? []) {
    const tag: Tag = {
      id: state.take('tag'), name: t.name, arches: t.arches ?? null, locked: t.locked ?? false, perm: t.perm ?? null, extra: t.extra ?? {},
      packages: new Map(), tagged: [], changes: [state.take('event')],
    };
    for (const p of t.packages ?? []) {
      state.packageId(p);
      tag.packages.set(p, { blocked: false, ownerId: pkgOwner?.id ?? 1 });
    }
    state.tags.set(tag.id, tag);
  }
  for (const t of opts.targets ?? []) {
    const bt = state.getTag(t.buildTag);
    const dt = state.getTag(t.destTag);
    if (!bt || !dt) throw new Error(`kojihub double: target ${t.name}: unknown tag`);
    const id = state.take('target');
    state.targets.set(id, { id, name: t.name, buildTag: bt.id, destTag: dt.id });
  }
  for (const b of opts.builds ?? []) {
    const owner = b.owner ? state.userByName(b.owner) : pkgOwner;
    const id = state.take('build');
    const ts = nowTs();
    const stateNum = ['BUILDING', 'COMPLETE', 'DELETED', 'FAILED', 'CANCELED'].indexOf(b.state ?? 'COMPLETE');
    state.builds.set(id, {
      id, pkgId: state.packageId(b.name), name: b.name, version: b.version, release: b.release, epoch: null, state: stateNum,
      taskId: null, ownerId: owner?.id ?? 1, createEvent: state.take('event'), createTs: ts, startTs: ts, completionTs: stateNum === 0 ? null : ts,
      extra: null, btypes: new Set(['image']),
    });
    for (const tn of b.tags ?? []) state.getTagStrict(tn).tagged.push({ buildId: id, event: state.take('event'), ts, by: owner?.id ?? 1 });
    if (b.tags?.length) state.tagHistory.add(id);
  }
  for (const t of opts.archiveTypes ?? []) state.addArchiveType(t.name, t.description, t.extensions, t.compressionType ?? null);
  // repos last, so they hold the seeded tag contents
  const buildTags = new Set((opts.targets ?? []).map((t) => t.buildTag));
  for (const t of opts.tags ?? []) {
    if (t.repo ?? buildTags.has(t.name)) makeReadyRepo(state, state.getTagStrict(t.name));
  }
}

/**
 * kojira before 1.35: no request queue; every target's build tag without a READY repo gets one
 * (regenerated, in the real kojira, whenever the tag changed), polled by getRepo.
 */
class LegacyRepoManager extends RepoManager {
  private interval: NodeJS.Timeout | undefined;
  constructor(private readonly st: HubState, o: RepoManagerOptions = {}) {
    super(st, o);
    if (this.mode === 'off') return;
    this.interval = setInterval(() => this.tick(), this.delayMs);
    this.interval.unref();
  }
  override tick(): void {
    if (this.mode !== 'make') return;
    for (const target of this.st.targets.values()) {
      const has = [...this.st.repos.values()].some((r) => r.tagId === target.buildTag && r.state === REPO_STATES.READY);
      if (!has) makeReadyRepo(this.st, this.st.tags.get(target.buildTag)!);
    }
  }
  override stop(): void {
    super.stop();
    if (this.interval) clearInterval(this.interval);
  }
}

// re-exported for tests that want to check a host session directly
export { verifyHost };
