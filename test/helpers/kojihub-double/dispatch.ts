// Calling conventions of the hub double: Python-style argument binding (positional args plus
// the `__starstar` keyword struct, like koji.util.call_with_argcheck), the per-call context
// (session, user, host) and the permission checks of kojihub/auth.py.

import type { XmlRpcStruct, XmlRpcValue } from '../../../src/koji/xmlrpc.js';
import { hubError, type Host, type HubState, type Session, type User } from './model.js';

export interface Ctx {
  state: HubState;
  method: string;
  session?: Session;
  /** set when the session is valid and not expired (Koji's session.logged_in) */
  user?: User;
  /** the call changed hub state: only then is the session's callnum committed (kojihub/auth.py) */
  dirty: boolean;
  /** request headers (sslLogin reads the test certificate header) */
  headers: Record<string, string | string[] | undefined>;
  path: string;
}

export type Args = Record<string, XmlRpcValue>;
export interface Handler {
  name: string;
  params: string[];
  defaults: Map<string, XmlRpcValue>;
  varkw: boolean;
  fn: (c: Ctx, a: Args, extra: XmlRpcStruct) => XmlRpcValue;
}

function parseDefault(s: string): XmlRpcValue {
  if (s === 'None') return null;
  if (s === 'True') return true;
  if (s === 'False') return false;
  if (/^-?\d+$/.test(s)) return Number(s);
  if (/^'.*'$/.test(s)) return s.slice(1, -1);
  throw new Error(`bad default ${s}`);
}

/** Declare a handler with a Python signature, e.g. "getTaskInfo(task_id, request=False, strict=False)". */
export function def(sig: string, fn: Handler['fn']): Handler {
  const m = /^([\w.]+)\((.*)\)$/.exec(sig);
  if (!m) throw new Error(`bad signature ${sig}`);
  const h: Handler = { name: m[1], params: [], defaults: new Map(), varkw: false, fn };
  for (const p of m[2].split(',').map((x) => x.trim()).filter(Boolean)) {
    if (p.startsWith('**')) h.varkw = true;
    else if (p.includes('=')) {
      const [k, v] = p.split('=');
      h.params.push(k);
      h.defaults.set(k, parseDefault(v));
    } else h.params.push(p);
  }
  return h;
}

/** Bind args/kwargs to a handler's parameters the way Python would, else ParameterError. */
export function bind(h: Handler, args: XmlRpcValue[], kwargs: XmlRpcStruct): { a: Args; extra: XmlRpcStruct } {
  const short = h.name.replace(/^host\./, '');
  if (args.length > h.params.length) {
    throw hubError('ParameterError', `${short}() takes ${h.params.length} positional arguments but ${args.length} were given`);
  }
  const a: Args = {};
  h.params.forEach((p, i) => {
    if (i < args.length) a[p] = args[i];
  });
  const extra: XmlRpcStruct = {};
  for (const [k, v] of Object.entries(kwargs)) {
    if (h.params.includes(k)) {
      if (k in a) throw hubError('ParameterError', `${short}() got multiple values for argument '${k}'`);
      a[k] = v;
    } else if (h.varkw) extra[k] = v;
    else throw hubError('ParameterError', `${short}() got an unexpected keyword argument '${k}'`);
  }
  const missing = h.params.filter((p) => !(p in a) && !h.defaults.has(p));
  if (missing.length) {
    throw hubError('ParameterError', `${short}() missing ${missing.length} required positional argument${missing.length > 1 ? 's' : ''}: ${missing.map((x) => `'${x}'`).join(', ')}`);
  }
  for (const [k, v] of h.defaults) if (!(k in a)) a[k] = v;
  return { a, extra };
}

// ------------------------------------------------------------------------------ auth checks

export function hasPerm(c: Ctx, perm: string): boolean {
  return !!c.user && c.user.perms.has(perm);
}

export function assertPerm(c: Ctx, perm: string): void {
  if (hasPerm(c, perm) || hasPerm(c, 'admin')) return;
  const who = c.user ? ` (logged in as ${c.user.name})` : ' (user not logged in)';
  throw hubError('ActionNotAllowed', `${perm} permission required${who}`);
}

export function assertLogin(c: Ctx): User {
  if (!c.user) throw hubError('ActionNotAllowed', 'you must be logged in for this operation');
  return c.user;
}

/** kojihub Host() + Host.verify(): the caller must be a host user holding an exclusive session. */
export function verifyHost(c: Ctx): Host {
  const host = c.user ? c.state.hostByUser(c.user.id) : undefined;
  if (!host) {
    if (c.user) throw hubError('AuthError', `User ${c.user.id} is not a host`);
    throw hubError('AuthError', 'Not logged-in');
  }
  if (!c.session?.exclusive) throw hubError('AuthError', 'This method requires an exclusive session');
  return host;
}
