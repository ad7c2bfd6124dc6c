// A deliberately small Koji hub stand-in for session/upload tests: logins, session checks the
// way kojihub/auth.py does them (callnum ordering, expiry, exclusive lock), a few methods, the
// raw upload endpoint and uploadFile. Tests add methods and inject failures through hooks.
// It is not a protocol double for tasks/hosts (that is another module's job).

import { createHash } from 'node:crypto';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';

import { FAULT_CODES } from '../src/koji/faults.js';
import { decodeCall, encodeFault, encodeResponse, splitKwargs, type XmlRpcStruct, type XmlRpcValue } from '../src/koji/xmlrpc.js';
import { Adler32 } from '../src/koji/upload.js';

export class HubFault extends Error {
  constructor(readonly code: number, message: string) {
    super(message);
  }
}
export const fault = (name: string, msg: string) => new HubFault(FAULT_CODES.get(name)!, msg);

export interface HubSession {
  id: number;
  key: string;
  user: string;
  callnum: number | null;
  expired: boolean;
  exclusive: boolean;
  closed: boolean;
}

export interface Seen {
  method: string;
  params: XmlRpcValue[];
  url: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  session?: HubSession;
  callnum?: number;
}

export interface CallCtx {
  args: XmlRpcValue[];
  kwargs: XmlRpcStruct;
  session?: HubSession;
  seen: Seen;
  req: http.IncomingMessage;
}

/** What a hook can ask for: process normally, answer with a fault, or cut the connection. */
export type HookAction = undefined | HubFault | 'drop-before' | 'drop-after' | { http: number; body?: string };

export class MiniHub {
  server: http.Server;
  url = '';
  seen: Seen[] = [];
  users = new Map<string, string>([['alice', 'secret']]);
  sessions = new Map<number, HubSession>();
  files = new Map<string, Buffer>();
  handlers = new Map<string, (c: CallCtx) => XmlRpcValue>();
  /** Called for every request before it runs (after session checks). */
  hook: (s: Seen) => HookAction = () => undefined;
  /** Raw-upload tampering: change what gets stored / reported. */
  uploadHook: (info: { offset: number; data: Buffer; path: string }) => { store?: Buffer; dropAfter?: number; hexdigest?: string } | undefined = () => undefined;
  headerAuth = true;
  /** Delay before answering (to see whether a client overlaps requests). */
  responseDelayMs = 0;
  inflight = 0;
  maxInflight = 0;
  private nextId = 100;

  constructor(tls?: { key: Buffer; cert: Buffer; ca: Buffer }) {
    const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
      const parts: Buffer[] = [];
      req.on('data', (d: Buffer) => parts.push(d));
      req.on('end', () => {
        this.inflight++;
        this.maxInflight = Math.max(this.maxInflight, this.inflight);
        res.on('close', () => this.inflight--);
        if (this.responseDelayMs) setTimeout(() => this.handle(req, res, Buffer.concat(parts)), this.responseDelayMs);
        else this.handle(req, res, Buffer.concat(parts));
      });
      req.on('error', () => {});
    };
    this.server = tls
      ? https.createServer({ key: tls.key, cert: tls.cert, ca: tls.ca, requestCert: true, rejectUnauthorized: false }, handler)
      : http.createServer(handler);
    this.server.keepAliveTimeout = 2000;
    this.defaultHandlers();
  }

  async start(port = 0): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => resolve());
    });
    const addr = this.server.address() as AddressInfo;
    const proto = this.server instanceof https.Server ? 'https' : 'http';
    this.url = `${proto}://127.0.0.1:${addr.port}/kojihub`;
    return this.url;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections?.();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  calls(method: string): Seen[] {
    return this.seen.filter((s) => s.method === method);
  }

  private defaultHandlers(): void {
    this.handlers.set('getAPIVersion', () => 1);
    this.handlers.set('getLoggedInUser', (c) => (c.session ? { name: c.session.user } : null));
    this.handlers.set('login', (c) => {
      const [user, password] = c.args as string[];
      if (this.users.get(user) !== password) throw fault('AuthError', 'invalid username or password');
      return this.createSession(user, c);
    });
    this.handlers.set('sslLogin', (c) => {
      const sock = c.req.socket as TLSSocket;
      if (!sock.getPeerCertificate || !sock.authorized) throw fault('AuthError', 'could not verify client');
      const cn = sock.getPeerCertificate().subject.CN as string;
      return this.createSession(cn, c);
    });
    this.handlers.set('logout', (c) => {
      if (c.session) c.session.closed = true;
      return null;
    });
    this.handlers.set('exclusiveSession', (c) => {
      const s = c.session!;
      const other = [...this.sessions.values()].find((o) => o !== s && o.user === s.user && o.exclusive && !o.closed);
      if (other && c.kwargs.force !== true) throw fault('AuthLockError', 'Cannot get exclusive session');
      if (other) other.closed = true;
      s.exclusive = true;
      return null;
    });
    this.handlers.set('multiCall', (c) => {
      const calls = c.args[0] as XmlRpcStruct[];
      return calls.map((call) => {
        const h = this.handlers.get(call.methodName as string);
        try {
          if (!h) throw fault('GenericError', `Invalid method: ${call.methodName}`);
          const { args, kwargs } = splitKwargs(call.params as XmlRpcValue[]);
          return [h({ ...c, args, kwargs })];
        } catch (e) {
          const f = e instanceof HubFault ? e : new HubFault(1, String(e));
          return { faultCode: f.code, faultString: f.message };
        }
      });
    });
    this.handlers.set('checkUpload', (c) => {
      const [dir, name] = c.args as string[];
      const data = this.files.get(`${dir}/${name}`);
      if (!data) return null;
      const out: XmlRpcStruct = { size: data.length, mtime: 1.5 };
      if (c.kwargs.verify === 'adler32') {
        out.sumlength = data.length;
        out.hexdigest = new Adler32().update(data).hexdigest();
      }
      return out;
    });
    this.handlers.set('uploadFile', (c) => {
      const [dir, name, size, [, digest], offset, data] = c.args as [string, string, number, string[], number, string];
      const key = `${dir}/${name}`;
      const bytes = Buffer.from(data, 'base64');
      if (offset === -1) {
        const cur = this.files.get(key) ?? Buffer.alloc(0);
        return cur.length === size && createHash('sha256').update(cur).digest('hex') === digest;
      }
      if (bytes.length !== size || createHash('sha256').update(bytes).digest('hex') !== digest) return false;
      const cur = this.files.get(key) ?? Buffer.alloc(0);
      const next = Buffer.alloc(Math.max(cur.length, offset + bytes.length));
      cur.copy(next);
      bytes.copy(next, offset);
      this.files.set(key, next);
      return true;
    });
  }

  private createSession(user: string, c: CallCtx): XmlRpcValue {
    // renew=True keeps the session id and swaps the key (kojihub createSession)
    if (c.kwargs.renew === true && c.session) {
      c.session.key = `${c.session.id}-renewed-${Math.random().toString(36).slice(2, 10)}`;
      c.session.expired = false;
      if (c.kwargs.exclusive === true) c.session.exclusive = true;
      return { 'session-id': c.session.id, 'session-key': c.session.key, 'header-auth': this.headerAuth };
    }
    const id = this.nextId++;
    const s: HubSession = { id, key: `${id}-${Math.random().toString(36).slice(2, 12)}`, user, callnum: null, expired: false, exclusive: false, closed: false };
    this.sessions.set(id, s);
    const out: XmlRpcStruct = { 'session-id': id, 'session-key': s.key };
    if (this.headerAuth) out['header-auth'] = true;
    return out;
  }

  private reply(res: http.ServerResponse, xml: string): void {
    const body = Buffer.from(xml, 'utf8');
    res.writeHead(200, { 'Content-Type': 'text/xml', 'Content-Length': body.length, 'Koji-Version': '1.35.3' });
    res.end(body);
  }

  // Session lookup the way kojihub/auth.py does it.
  private session(req: http.IncomingMessage, url: URL, method: string, seen: Seen): HubSession | undefined {
    let id: string | undefined;
    let key: string | undefined;
    let callnum: string | undefined;
    if (req.headers['koji-session-id'] !== undefined) {
      id = req.headers['koji-session-id'] as string;
      key = req.headers['koji-session-key'] as string;
      callnum = req.headers['koji-session-callnum'] as string | undefined;
    } else if (url.searchParams.has('session-id')) {
      id = url.searchParams.get('session-id')!;
      key = url.searchParams.get('session-key') ?? undefined;
      callnum = url.searchParams.get('callnum') ?? undefined;
    } else return undefined;
    const s = this.sessions.get(Number(id));
    if (!s || s.key !== key || s.closed) throw fault('AuthError', 'Invalid session or bad credentials');
    if (s.expired && method !== 'login' && method !== 'sslLogin') throw fault('AuthExpired', `session "${s.id}" has expired`);
    if (callnum !== undefined) {
      const n = Number(callnum);
      seen.callnum = n;
      if (s.callnum !== null && s.callnum > n) throw fault('SequenceError', `${s.callnum} > ${n} (session ${s.id})`);
      if (s.callnum !== null && s.callnum === n) throw fault('RetryError', `unable to retry call ${n} (method ${method}) for session ${s.id}`);
      s.callnum = n;
    }
    if (!s.exclusive && [...this.sessions.values()].some((o) => o !== s && o.user === s.user && o.exclusive && !o.closed)) {
      if (method !== 'exclusiveSession' && method !== 'logout') throw fault('AuthLockError', 'User locked by another session');
    }
    return s;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse, body: Buffer): void {
    const url = new URL(req.url!, 'http://x');
    const isUpload = req.headers['content-type'] === 'application/octet-stream';
    const seen: Seen = { method: isUpload ? 'rawUpload' : '?', params: [], url: req.url!, headers: req.headers, body };
    try {
      if (req.method !== 'POST') throw new HubFault(1, 'POST only');
      if (!isUpload) {
        const call = decodeCall(body, { source: 'minihub request' });
        seen.method = call.method;
        seen.params = call.params;
      }
      if (seen.method === 'sslLogin' && url.pathname !== '/kojihub/ssllogin') throw fault('AuthError', 'sslLogin must go to /ssllogin');
      this.seen.push(seen);
      seen.session = this.session(req, url, seen.method, seen);
      const action = this.hook(seen);
      if (action === 'drop-before') return void req.socket.destroy();
      if (action instanceof HubFault) throw action;
      if (action && typeof action === 'object') {
        res.writeHead(action.http, { 'Content-Type': 'text/plain' });
        return void res.end(action.body ?? 'error');
      }
      let result: XmlRpcValue;
      if (isUpload) {
        const r = this.rawUpload(url, body, seen);
        if (r === 'dropped') return void req.socket.destroy();
        result = r;
      } else {
        const h = this.handlers.get(seen.method);
        if (!h) throw fault('GenericError', `Invalid method: ${seen.method}`);
        const { args, kwargs } = splitKwargs(seen.params);
        result = h({ args, kwargs, session: seen.session, seen, req });
      }
      if (action === 'drop-after') return void req.socket.destroy();
      this.reply(res, encodeResponse(result));
    } catch (e) {
      const f = e instanceof HubFault ? e : new HubFault(1, String(e));
      this.reply(res, encodeFault(f.code, f.message));
    }
  }

  // kojihub handle_upload: write at offset (truncating first when overwrite), answer with the
  // chunk's size and adler32.
  private rawUpload(url: URL, data: Buffer, seen: Seen): XmlRpcValue | 'dropped' {
    if (!seen.session) throw fault('ActionNotAllowed', 'you must be logged-in to upload a file');
    const name = url.searchParams.get('filename')!;
    const dir = url.searchParams.get('filepath') ?? '';
    const overwrite = url.searchParams.get('overwrite') === '1';
    let offset = Number(url.searchParams.get('offset') ?? '0');
    if (url.searchParams.get('fileverify') !== 'adler32') throw fault('GenericError', 'unsupported verify');
    const key = `${dir}/${name}`;
    let cur = this.files.get(key);
    if (cur && offset === 0 && !overwrite) throw fault('GenericError', `upload path exists: ${key}`);
    cur ??= Buffer.alloc(0);
    if (offset === -1) offset = cur.length;
    else if (overwrite) cur = cur.subarray(0, Math.min(offset, cur.length));
    const tamper = this.uploadHook({ offset, data, path: key }) ?? {};
    const store = tamper.store ?? data;
    const written = tamper.dropAfter !== undefined ? store.subarray(0, tamper.dropAfter) : store;
    const next = Buffer.alloc(Math.max(cur.length, offset + written.length));
    cur.copy(next);
    written.copy(next, offset);
    this.files.set(key, next);
    if (tamper.dropAfter !== undefined) return 'dropped';
    return { size: store.length, fileverify: 'adler32', offset, hexdigest: tamper.hexdigest ?? new Adler32().update(store).hexdigest() };
  }
}
