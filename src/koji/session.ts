// A Koji hub client session: login (password or TLS client certificate), session headers with
// an increasing call number, retries that never silently repeat a non-idempotent call,
// re-login on expiry, multicall, exclusive sessions for build hosts, and the raw upload POST
// used by upload.ts.
//
// Wire behaviour follows what a Koji 1.35 client does (see the recorded transcripts): after
// login the hub returns {session-id, session-key, header-auth: true}; every later request
// carries Koji-Session-Id / Koji-Session-Key / Koji-Session-Callnum headers (callnum counts
// from 0). Hubs that do not announce header-auth get the legacy query string
// `?session-id=&session-key=&callnum=` instead.

import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import { setTimeout as delay } from 'node:timers/promises';
import * as zlib from 'node:zlib';

import { KilnError } from '../util/errors.js';
import {
  AuthExpired,
  KojiCallIndeterminateError,
  KojiFault,
  KojiProtocolError,
  KojiTransportError,
  ParameterError,
  RetryError,
  ServerOffline,
  faultToError,
  type KojiCallContext,
} from './faults.js';
import { XmlRpcCodecError, decodeResponse, encodeCall, kwargs, type XmlRpcStruct, type XmlRpcValue } from './xmlrpc.js';

/** How to authenticate. `cert`/`key`/`ca` are file paths or PEM text. */
export type KojiAuth =
  | { type: 'password'; user: string; password: string }
  | { type: 'ssl'; cert: string | Buffer; key?: string | Buffer; ca?: string | Buffer }
  | { type: 'none' };

export interface KojiSessionInfo {
  sessionId: number;
  sessionKey: string;
  /** true: session travels in Koji-Session-* headers (hub >= 1.30); false: legacy query string */
  headerAuth: boolean;
}

export interface KojiSessionOptions {
  /** Hub XML-RPC URL, e.g. https://koji.fedoraproject.org/kojihub */
  hub: string;
  auth?: KojiAuth;
  /** Attempts after the first for a call that is safe to repeat (default 10; Infinity allowed). */
  retries?: number;
  /** First backoff delay; doubles per attempt up to maxRetryDelayMs (defaults 2 s, 120 s). */
  retryDelayMs?: number;
  maxRetryDelayMs?: number;
  /** Socket inactivity timeout per request (default 12 h, as koji). */
  timeoutMs?: number;
  /** CA bundle (path or PEM) to verify an https hub; default: system CAs. */
  serverCa?: string | Buffer;
  /** Which methods may be sent again after a transport error / ServerOffline / RetryError. */
  isSafeToRepeat?: (method: string) => boolean;
  /** Start from an existing session (e.g. a subsession handed over by a parent process). */
  sessionInfo?: KojiSessionInfo;
  /** Diagnostics (retries, re-logins). Never receives session keys or passwords. */
  log?: (message: string) => void;
  /** Stops waiting between retries and aborts in-flight requests. */
  signal?: AbortSignal;
  userAgent?: string;
}

/** One call inside a multicall. Use `kwargs({...})` as the last param for keyword arguments. */
export interface KojiCall {
  method: string;
  params: XmlRpcValue[];
}

export type MultiCallResult<T = XmlRpcValue> = { ok: true; value: T } | { ok: false; error: KojiFault };

// Reads and calls the hub itself lists as safe to replay (kojihub auth RetryWhitelist), plus
// login (a repeat only makes an unused session) and exclusiveSession (idempotent for us).
const SAFE_METHODS = new Set([
  'login',
  'sslLogin',
  'exclusiveSession',
  'sharedSession',
  'checkUpload',
  'downloadTaskOutput',
  'taskFinished',
  'repoInfo',
  'showSession',
  'echo',
  'host.getID',
  'host.getHost',
  'host.getTasks',
  'host.getHostTasks',
  'host.getLoadData',
  'host.updateHost',
  'host.taskWait',
  'host.taskSetWait',
  'host.taskUnwait',
  'host.setBuildRootState',
  'host.checkPolicy',
  'host.assertPolicy',
]);

/**
 * Default answer to "may this call be sent again if we do not know whether it ran?": read-only
 * calls (get*, list*, query*, check*, has*, count*, search*, find*, system.*) and the list above.
 * Everything else (imageBuilderBuild, host.closeTask, host.subtask, tagBuild...) is not.
 */
export function isSafeToRepeat(method: string): boolean {
  if (SAFE_METHODS.has(method)) return true;
  return /^(get|list|query|check|has|count|search|find)[A-Z]/.test(method) || method.startsWith('system.');
}

const DEFAULTS = { retries: 10, retryDelayMs: 2000, maxRetryDelayMs: 120_000, timeoutMs: 12 * 3600 * 1000 };

// TLS / certificate problems are configuration errors: retrying will not fix them.
const FATAL_TLS = /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|ERR_OSSL_|HOSTNAME_MISMATCH)/;

/** Python urlencode (quote_plus) so query strings look like koji's. */
function formEncode(params: [string, string][]): string {
  const enc = (s: string) =>
    Buffer.from(s, 'utf8')
      .toString('binary')
      .replace(/[^A-Za-z0-9_.~ -]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0'))
      .replace(/ /g, '+');
  return params.map(([k, v]) => `${enc(k)}=${enc(v)}`).join('&');
}

function readPem(v: string | Buffer, what: string): Buffer | string {
  if (Buffer.isBuffer(v)) return v;
  if (v.includes('-----BEGIN')) return v;
  try {
    return fs.readFileSync(v);
  } catch (e) {
    throw new KilnError(`Koji ${what} ${v}: cannot read file: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

interface HttpResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** One request to the hub with everything that may change between attempts already decided. */
interface Prepared {
  url: URL;
  headers: Record<string, string>;
  body: Buffer;
  /** Use a fresh connection: a pooled keep-alive socket might be stale, and for a call we will
   *  not repeat we want any error to mean what it says. */
  fresh: boolean;
}

export class KojiSession {
  readonly hub: string;
  private readonly opts: Required<Pick<KojiSessionOptions, 'retries' | 'retryDelayMs' | 'maxRetryDelayMs' | 'timeoutMs'>> &
    KojiSessionOptions;
  private readonly auth: KojiAuth;
  private sinfo: KojiSessionInfo | undefined;
  private callnum = 0;
  private loggedIn = false;
  private tls: { cert?: string | Buffer; key?: string | Buffer; ca?: string | Buffer } = {};
  private agent: http.Agent | undefined;
  // Requests go out one at a time: the hub rejects a callnum lower than one it has already
  // seen (SequenceError), so concurrent callers must not race each other onto the wire.
  private queue: Promise<unknown> = Promise.resolve();
  /** Bumped whenever the session (id or key) changes. */
  private generation = 0;
  private renewal: Promise<void> | undefined;
  /** true after exclusiveSession(): a renewed login asks the hub to keep the lock. */
  exclusive = false;
  /** Hub version from the Koji-Version response header, once seen. */
  hubVersion: string | undefined;

  constructor(options: KojiSessionOptions) {
    let url: URL;
    try {
      url = new URL(options.hub);
    } catch {
      throw new KilnError(`Koji hub URL ${JSON.stringify(options.hub)} is not a valid URL`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new KilnError(`Koji hub URL ${options.hub}: only http and https are supported`);
    }
    if (url.search || url.hash) throw new KilnError(`Koji hub URL ${options.hub}: must not contain a query or fragment`);
    this.hub = options.hub.replace(/\/+$/, '');
    this.opts = { ...DEFAULTS, ...options };
    for (const k of ['retries', 'retryDelayMs', 'maxRetryDelayMs', 'timeoutMs'] as const) {
      const v = this.opts[k];
      if (typeof v !== 'number' || Number.isNaN(v) || v < 0) throw new KilnError(`Koji session option ${k}: must be a number >= 0, got ${v}`);
    }
    this.auth = options.auth ?? { type: 'none' };
    if (this.auth.type === 'ssl') {
      if (url.protocol !== 'https:') throw new KilnError(`Koji hub URL ${options.hub}: TLS client-certificate login needs an https URL`);
      const cert = readPem(this.auth.cert, 'client certificate');
      this.tls.cert = cert;
      // koji's "cert" option is one PEM holding certificate and key
      this.tls.key = this.auth.key !== undefined ? readPem(this.auth.key, 'client key') : cert;
      if (this.auth.ca !== undefined) this.tls.ca = readPem(this.auth.ca, 'server CA');
    }
    if (options.serverCa !== undefined) this.tls.ca = readPem(options.serverCa, 'server CA');
    if (options.sessionInfo) this.setSession(options.sessionInfo);
  }

  /** Current session (undefined when logged out). */
  get session(): KojiSessionInfo | undefined {
    return this.sinfo ? { ...this.sinfo } : undefined;
  }

  get isLoggedIn(): boolean {
    return this.loggedIn;
  }

  /** The call number the next request will carry. */
  get nextCallnum(): number {
    return this.callnum;
  }

  // -------------------------------------------------------------------------------------------
  // authentication

  /** Log in with the configured auth (no-op for auth type none). */
  async login(): Promise<void> {
    if (this.auth.type === 'none') return;
    this.forget();
    await this.authenticate(false);
  }

  private async authenticate(renew: boolean): Promise<void> {
    const auth = this.auth;
    let result: XmlRpcValue;
    if (auth.type === 'password') {
      const kw: XmlRpcStruct = { opts: null };
      if (renew) Object.assign(kw, { renew: true, exclusive: this.exclusive });
      result = await this.invoke('login', [auth.user, auth.password, kwargs(kw)], { renew: false });
    } else if (auth.type === 'ssl') {
      const kw: XmlRpcStruct = { proxyuser: null };
      if (renew) Object.assign(kw, { renew: true, exclusive: this.exclusive });
      result = await this.invoke('sslLogin', [kwargs(kw)], { renew: false });
    } else {
      throw new KilnError(`Koji hub ${this.hub}: session expired and no credentials are configured to log in again`);
    }
    if (result === null || result === false) {
      throw new KojiProtocolError(`${auth.type === 'ssl' ? 'sslLogin' : 'login'} returned no session`, { hub: this.hub, method: 'login' });
    }
    this.setSession(parseSessionInfo(result, { hub: this.hub, method: auth.type === 'ssl' ? 'sslLogin' : 'login' }));
  }

  private setSession(info: KojiSessionInfo): void {
    // A renewal keeps the session id; keep counting so the hub never sees a callnum go down
    // (it stores the last one per session and answers SequenceError to a smaller one).
    if (!this.sinfo || this.sinfo.sessionId !== info.sessionId) this.callnum = 0;
    this.sinfo = { ...info };
    this.loggedIn = true;
    this.generation++;
  }

  private forget(): void {
    this.sinfo = undefined;
    this.loggedIn = false;
    this.callnum = 0;
    this.exclusive = false;
    this.generation++;
  }

  /** Make this the user's only active session (build hosts). `force` takes the lock from a dead session. */
  async exclusiveSession(force = false): Promise<void> {
    await this.call('exclusiveSession', kwargs({ force }));
    this.exclusive = true;
  }

  /** Create a subsession (own session id, same user) as kojid does for each task process. */
  async subsession(): Promise<KojiSession> {
    const info = parseSessionInfo(await this.call('subsession'), { hub: this.hub, method: 'subsession' });
    return new KojiSession({ ...this.opts, sessionInfo: info });
  }

  /** Close the session on the hub. Not retried; an already expired session counts as closed. */
  async logout(): Promise<void> {
    if (!this.sinfo) return;
    try {
      try {
        await this.send('logout', [kwargs({ session_id: null })], true);
      } catch (e) {
        // hubs older than 1.31 take no arguments
        if (e instanceof ParameterError) await this.send('logout', [], true);
        else throw e;
      }
    } catch (e) {
      if (!(e instanceof AuthExpired)) throw e;
    }
    this.forget();
  }

  // -------------------------------------------------------------------------------------------
  // calls

  /** Call a hub method. Use `kwargs({...})` as the last argument for keyword arguments. */
  async call<T = XmlRpcValue>(method: string, ...params: XmlRpcValue[]): Promise<T> {
    return (await this.invoke(method, params, {})) as T;
  }

  /**
   * Like call(), with per-call control: `safeToRepeat` overrides the method list for this call
   * (e.g. true for a call the caller knows to be idempotent).
   */
  async callWithOptions<T = XmlRpcValue>(method: string, params: XmlRpcValue[], o: { safeToRepeat?: boolean } = {}): Promise<T> {
    return (await this.invoke(method, params, { safe: o.safeToRepeat })) as T;
  }

  /**
   * Run several calls in one request (hub method multiCall; each call in its own savepoint).
   * `batch` splits into several requests of at most that many calls (separate transactions).
   * `strict` throws the first fault instead of returning it.
   */
  async multiCall<T = XmlRpcValue>(calls: KojiCall[], opts: { strict?: boolean; batch?: number } = {}): Promise<MultiCallResult<T>[]> {
    const results: MultiCallResult<T>[] = [];
    const size = opts.batch && opts.batch > 0 ? opts.batch : calls.length;
    for (let i = 0; i < calls.length; i += size) {
      const group = calls.slice(i, i + size);
      const safe = group.every((c) => this.safe(c.method));
      const wire = group.map((c) => ({ methodName: c.method, params: c.params }));
      const ctx = { hub: this.hub, method: `multiCall(${group.map((c) => c.method).join(', ')})` };
      const raw = await this.invoke('multiCall', [wire], { safe, label: ctx.method });
      if (!Array.isArray(raw) || raw.length !== group.length) {
        throw new KojiProtocolError(`multiCall returned ${Array.isArray(raw) ? raw.length + ' results' : 'a non-array'} for ${group.length} calls`, ctx);
      }
      raw.forEach((entry, j) => {
        const method = group[j].method;
        if (Array.isArray(entry) && entry.length === 1) results.push({ ok: true, value: entry[0] as T });
        else if (entry && typeof entry === 'object' && !Array.isArray(entry) && 'faultCode' in entry) {
          const f = entry as XmlRpcStruct;
          const extra: XmlRpcStruct = {};
          for (const [k, v] of Object.entries(f)) if (k !== 'faultCode' && k !== 'faultString') extra[k] = v;
          results.push({ ok: false, error: faultToError(Number(f.faultCode), String(f.faultString ?? ''), { hub: this.hub, method }, extra) });
        } else throw new KojiProtocolError(`multiCall result ${j} (${method}) is neither [value] nor a fault struct`, ctx);
      });
    }
    if (opts.strict) for (const r of results) if (!r.ok) throw r.error;
    return results;
  }

  /**
   * POST one raw upload chunk (Koji's fast upload; pseudo-method "rawUpload"). Sent once, never
   * retried here: upload.ts asks the hub what it has and resumes. Returns the hub's
   * {size, fileverify, offset, hexdigest}.
   */
  async rawUpload(
    chunk: Uint8Array,
    p: { filename: string; filepath: string; offset: number; overwrite?: boolean; volume?: string; verify?: string },
  ): Promise<XmlRpcStruct> {
    if (!this.sinfo) throw new KilnError(`Koji hub ${this.hub}: must be logged in to upload ${p.filepath}/${p.filename}`);
    const query: [string, string][] = [
      ['filename', p.filename],
      ['filepath', p.filepath],
      ['fileverify', p.verify ?? 'adler32'],
      ['offset', String(p.offset)],
    ];
    if (p.overwrite) query.push(['overwrite', '1']);
    if (p.volume !== undefined) query.push(['volume', p.volume]);
    const run = async () => {
      const v = await this.serialized(() => {
        const prep = this.prepare('rawUpload', Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength), query, true);
        prep.headers['Content-Type'] = 'application/octet-stream';
        return this.exchange(prep, { hub: this.hub, method: `rawUpload ${p.filepath}/${p.filename}@${p.offset}` });
      });
      if (!v || typeof v !== 'object' || Array.isArray(v)) {
        throw new KojiProtocolError('rawUpload: expected a struct in the response', { hub: this.hub, method: 'rawUpload' });
      }
      return v as XmlRpcStruct;
    };
    const gen = this.generation;
    try {
      return await run();
    } catch (e) {
      if (e instanceof AuthExpired && this.auth.type !== 'none') {
        await this.renew(gen);
        return run();
      }
      throw e;
    }
  }

  /** Close pooled connections (call when done; sessions stay valid on the hub until logout). */
  close(): void {
    this.agent?.destroy();
    this.agent = undefined;
  }

  private safe(method: string): boolean {
    return (this.opts.isSafeToRepeat ?? isSafeToRepeat)(method);
  }

  /**
   * Log in again after AuthExpired. Concurrent callers that hit the same expiry share one
   * renewal, and a caller whose session was already renewed meanwhile just retries: a second
   * renew login on a live session would be refused ("Already logged in").
   */
  private async renew(generationAtCall: number): Promise<void> {
    if (this.generation !== generationAtCall) return;
    this.renewal ??= (async () => {
      this.opts.log?.(`Koji hub ${this.hub}: session expired, logging in again`);
      this.loggedIn = false;
      try {
        await this.authenticate(true);
      } finally {
        this.renewal = undefined;
      }
    })();
    await this.renewal;
  }

  /** call + re-login on AuthExpired (once) + retries. */
  private async invoke(
    method: string,
    params: XmlRpcValue[],
    o: { renew?: boolean; safe?: boolean; label?: string },
  ): Promise<XmlRpcValue> {
    const gen = this.generation;
    try {
      return await this.withRetries(method, params, o);
    } catch (e) {
      // The hub checks expiry before running the method, so the call did not happen: resend.
      if (e instanceof AuthExpired && o.renew !== false && this.auth.type !== 'none' && this.sinfo) {
        await this.renew(gen);
        return this.withRetries(method, params, o);
      }
      throw e;
    }
  }

  private async withRetries(method: string, params: XmlRpcValue[], o: { safe?: boolean; label?: string }): Promise<XmlRpcValue> {
    const safe = o.safe ?? this.safe(method);
    const ctx: KojiCallContext = { hub: this.hub, method: o.label ?? method };
    for (let attempt = 0; ; attempt++) {
      let err: unknown;
      try {
        return await this.send(method, params, !safe);
      } catch (e) {
        err = e;
      }
      let retryable: boolean;
      if (err instanceof KojiTransportError) {
        const fatal = err.httpStatus !== undefined && err.httpStatus < 500;
        if (fatal || (err.cause as NodeJS.ErrnoException | undefined)?.code?.match(FATAL_TLS)) throw err;
        // Never reached the hub: resending cannot double anything.
        if (!err.sent) retryable = true;
        else if (safe) retryable = true;
        else throw new KojiCallIndeterminateError(ctx, err);
      } else if (err instanceof ServerOffline || err instanceof RetryError) {
        retryable = safe;
      } else retryable = false;
      if (!retryable || attempt >= this.opts.retries) throw err;
      const wait = Math.min(this.opts.retryDelayMs * 2 ** attempt, this.opts.maxRetryDelayMs);
      this.opts.log?.(`Koji hub ${this.hub}: ${ctx.method} failed (${(err as Error).message}); retry ${attempt + 1} in ${wait} ms`);
      await delay(wait, undefined, this.opts.signal ? { signal: this.opts.signal } : undefined);
    }
  }

  /** Encode and send once (a fresh call number per attempt). */
  private async send(method: string, params: XmlRpcValue[], fresh: boolean): Promise<XmlRpcValue> {
    const ctx: KojiCallContext = { hub: this.hub, method };
    let body: Buffer;
    try {
      body = Buffer.from(encodeCall(method, params), 'utf8');
    } catch (e) {
      if (e instanceof XmlRpcCodecError) throw new KilnError(`Koji hub ${this.hub}: cannot encode call ${method}: ${e.message}`);
      throw e;
    }
    return this.serialized(() => this.exchange(this.prepare(method, body, [], fresh), ctx));
  }

  private serialized<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private prepare(method: string, body: Buffer, query: [string, string][], fresh: boolean): Prepared {
    const headers: Record<string, string> = {
      'User-Agent': this.opts.userAgent ?? 'kiln (koji/1)',
      'Content-Type': 'text/xml',
      'Accept-Encoding': 'identity',
    };
    const q = [...query];
    if (this.sinfo) {
      // Sent even while logged out during a renewal: the hub renews this session id.
      const num = this.callnum++;
      if (this.sinfo.headerAuth) {
        headers['Koji-Session-Id'] = String(this.sinfo.sessionId);
        headers['Koji-Session-Key'] = this.sinfo.sessionKey;
        headers['Koji-Session-Callnum'] = String(num);
      } else {
        q.push(['session-id', String(this.sinfo.sessionId)], ['session-key', this.sinfo.sessionKey], ['callnum', String(num)]);
      }
    }
    const base = method === 'sslLogin' ? `${this.hub}/ssllogin` : this.hub;
    const url = new URL(q.length ? `${base}?${formEncode(q)}` : base);
    return { url, headers, body, fresh };
  }

  /** POST, check HTTP status, decode; faults become typed errors. */
  private async exchange(prep: Prepared, ctx: KojiCallContext): Promise<XmlRpcValue> {
    const res = await this.post(prep, ctx);
    const ver = res.headers['koji-version'];
    if (typeof ver === 'string') this.hubVersion = ver;
    if (res.status !== 200) {
      const excerpt = res.body.toString('utf8', 0, Math.min(res.body.length, 200)).replace(/\s+/g, ' ').trim();
      throw new KojiTransportError(`HTTP ${res.status}${excerpt ? `: ${excerpt}` : ''}`, ctx, true, res.status);
    }
    let decoded;
    try {
      // We ask for identity; tolerate a proxy that compresses anyway.
      const enc = String(res.headers['content-encoding'] ?? 'identity').toLowerCase();
      let body = res.body;
      if (enc === 'gzip' || enc === 'x-gzip') body = zlib.gunzipSync(body);
      else if (enc === 'deflate') body = zlib.inflateSync(body);
      else if (enc !== 'identity') throw new XmlRpcCodecError(`unsupported Content-Encoding ${enc}`);
      decoded = decodeResponse(body, { source: 'response' });
    } catch (e) {
      if (e instanceof XmlRpcCodecError) throw new KojiProtocolError(e.message, ctx);
      throw new KojiProtocolError(`cannot read response: ${(e as Error).message}`, ctx);
    }
    if (decoded.kind === 'fault') {
      throw faultToError(decoded.fault.faultCode, decoded.fault.faultString, ctx, decoded.fault.extra);
    }
    return decoded.value;
  }

  private getAgent(fresh: boolean): http.Agent {
    const isHttps = this.hub.startsWith('https:');
    const make = (keepAlive: boolean) =>
      isHttps ? new https.Agent({ keepAlive, ...this.tls }) : new http.Agent({ keepAlive });
    if (fresh) return make(false);
    this.agent ??= make(true);
    return this.agent;
  }

  private post(prep: Prepared, ctx: KojiCallContext): Promise<HttpResult> {
    const redacted = prep.url.search ? `${prep.url.origin}${prep.url.pathname}` : prep.url.href;
    return new Promise<HttpResult>((resolve, reject) => {
      const agent = this.getAgent(prep.fresh);
      const lib = prep.url.protocol === 'https:' ? https : http;
      let connected = false;
      let settled = false;
      const finish = (fn: () => void) => {
        if (settled) return;
        settled = true;
        if (prep.fresh) agent.destroy();
        fn();
      };
      const req = lib.request(prep.url, {
        method: 'POST',
        agent,
        headers: { ...prep.headers, 'Content-Length': String(prep.body.length) },
        signal: this.opts.signal,
      });
      req.setTimeout(this.opts.timeoutMs, () => req.destroy(Object.assign(new Error(`no activity for ${this.opts.timeoutMs} ms`), { code: 'ETIMEDOUT' })));
      req.on('socket', (sock) => {
        // A reused keep-alive socket is already connected; a new one counts once it connects
        // (for TLS: once the handshake is done, since only then can request bytes flow).
        if (req.reusedSocket) connected = true;
        else sock.once(prep.url.protocol === 'https:' ? 'secureConnect' : 'connect', () => (connected = true));
      });
      req.on('error', (e: NodeJS.ErrnoException) =>
        finish(() => reject(new KojiTransportError(`POST ${redacted} failed: ${e.message}${e.code && !e.message.includes(e.code) ? ` (${e.code})` : ''}`, ctx, connected, undefined, e))),
      );
      req.on('response', (res) => {
        const parts: Buffer[] = [];
        res.on('data', (d: Buffer) => parts.push(d));
        res.on('error', (e) => finish(() => reject(new KojiTransportError(`reading response from ${redacted} failed: ${e.message}`, ctx, true, undefined, e))));
        res.on('aborted', () => finish(() => reject(new KojiTransportError(`response from ${redacted} was cut off`, ctx, true))));
        res.on('end', () => {
          if (!res.complete) finish(() => reject(new KojiTransportError(`response from ${redacted} was cut off`, ctx, true)));
          else finish(() => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts) }));
        });
      });
      req.end(prep.body);
    });
  }
}

function parseSessionInfo(v: XmlRpcValue, ctx: KojiCallContext): KojiSessionInfo {
  const s = v as XmlRpcStruct;
  if (!s || typeof s !== 'object' || Array.isArray(s)) throw new KojiProtocolError('expected a session struct', ctx);
  const id = s['session-id'];
  const key = s['session-key'];
  if (typeof id !== 'number' || !Number.isInteger(id)) throw new KojiProtocolError('session struct without an integer session-id', ctx);
  if (typeof key !== 'string' || key === '') throw new KojiProtocolError('session struct without a session-key', ctx);
  return { sessionId: id, sessionKey: key, headerAuth: s['header-auth'] === true };
}
