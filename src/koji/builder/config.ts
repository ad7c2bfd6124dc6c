// The build host's configuration file (TOML). Every error names the file and the key, because a
// daemon that refuses to start must say exactly which line to fix.
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve, dirname } from 'node:path';
import { parse as parseToml } from 'smol-toml';

import type { BuildRootMode } from '../../executor/buildroot.js';
import { KilnError } from '../../util/errors.js';
import type { KojiAuth } from '../session.js';

export interface BuilderConfig {
  /** the file this came from (for messages) */
  file: string;
  /** hub XML-RPC URL */
  hub: string;
  /** URL of the hub's topdir (kojipkgs), used for build tag repos */
  topurl: string;
  /** local mount of the hub's topdir, when there is one (only used in result messages) */
  topdir: string;
  auth: KojiAuth;
  /** CA bundle for an https hub */
  serverCa?: string;
  /** the host's name in Koji (the login user for password auth) */
  hostName: string;
  /** arches this host builds (imageBuilderBuildArch tasks for other arches are refused) */
  arches: string[];
  maxJobs: number;
  /** the load this host accepts (sum of task weights), as Koji's host capacity */
  capacity: number;
  pollIntervalMs: number;
  /** waitrepo: time between repo request checks, and the whole wait (kojid: 60 s, 120 min) */
  repoWaitPauseMs: number;
  repoWaitTimeoutMs: number;
  /** how often a running build's log is appended to the task's upload dir */
  logIntervalMs: number;
  workDir: string;
  cacheDir: string;
  buildroot: BuildRootMode;
  definitionsDir?: string;
  /**
   * "none" (default, as upstream koji-image-builder): an empty rpmlist in the task result.
   * "image": the image's packages, which the hub's import then looks up one by one and refuses
   * unless every one is an RPM it knows (built in Koji); the builder checks that before importing.
   */
  rpmlist: 'image' | 'none';
  /** distro for tasks without opts.distro (and no distro in their blueprint) */
  defaultDistro?: string;
  /** take the host's session lock even when another session holds it */
  forceLock: boolean;
}

type Table = Record<string, unknown>;

class Reader {
  constructor(readonly file: string) {}
  err(key: string, problem: string): never {
    throw new KilnError(`${this.file}: ${key}: ${problem}`);
  }
  table(root: Table, key: string, required: boolean): Table {
    const v = root[key];
    if (v === undefined) {
      if (required) this.err(`[${key}]`, 'missing table');
      return {};
    }
    if (v === null || typeof v !== 'object' || Array.isArray(v)) this.err(key, 'must be a table');
    return v as Table;
  }
  str(t: Table, sect: string, key: string, required: true): string;
  str(t: Table, sect: string, key: string, required: false): string | undefined;
  str(t: Table, sect: string, key: string, required: boolean): string | undefined {
    const v = t[key];
    if (v === undefined) {
      if (required) this.err(`${sect}.${key}`, 'missing');
      return undefined;
    }
    if (typeof v !== 'string' || v === '') this.err(`${sect}.${key}`, `must be a non-empty string, got ${JSON.stringify(v)}`);
    return v;
  }
  num(t: Table, sect: string, key: string, dflt: number, opts: { integer?: boolean; min: number }): number {
    const v = t[key];
    if (v === undefined) return dflt;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < opts.min || (opts.integer && !Number.isInteger(v))) {
      this.err(`${sect}.${key}`, `must be ${opts.integer ? 'an integer' : 'a number'} >= ${opts.min}, got ${JSON.stringify(v)}`);
    }
    return v;
  }
  bool(t: Table, sect: string, key: string, dflt: boolean): boolean {
    const v = t[key];
    if (v === undefined) return dflt;
    if (typeof v !== 'boolean') this.err(`${sect}.${key}`, `must be true or false, got ${JSON.stringify(v)}`);
    return v;
  }
  url(t: Table, sect: string, key: string): string {
    const v = this.str(t, sect, key, true);
    let u: URL;
    try {
      u = new URL(v);
    } catch {
      this.err(`${sect}.${key}`, `not a valid URL: ${v}`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') this.err(`${sect}.${key}`, `must be an http(s) URL, got ${v}`);
    return v.replace(/\/+$/, '');
  }
  unknown(t: Table, sect: string, known: string[]): void {
    for (const k of Object.keys(t)) if (!known.includes(k)) this.err(`${sect}.${k}`, `unknown key (known: ${known.join(', ')})`);
  }
}

const KNOWN_ARCHES = /^[a-z0-9_]+$/;

/** Parse configuration text; `file` names it in errors and anchors relative paths. */
export function parseBuilderConfig(text: string, file: string): BuilderConfig {
  const r = new Reader(file);
  let root: Table;
  try {
    root = parseToml(text) as Table;
  } catch (e) {
    throw new KilnError(`${file}: not valid TOML: ${(e as Error).message}`);
  }
  r.unknown(root, '(top level)', ['hub', 'auth', 'host', 'build']);
  const base = dirname(resolve(file));
  const pathOf = (p: string) => (isAbsolute(p) ? p : resolve(base, p));

  const hub = r.table(root, 'hub', true);
  r.unknown(hub, 'hub', ['url', 'topurl', 'topdir', 'serverca']);
  const host = r.table(root, 'host', true);
  r.unknown(host, 'host', ['name', 'arches', 'max_jobs', 'capacity', 'poll_interval', 'log_interval', 'force_lock', 'repo_wait_pause', 'repo_wait_timeout']);
  const hostName = r.str(host, 'host', 'name', true);

  const auth = r.table(root, 'auth', true);
  const type = r.str(auth, 'auth', 'type', true);
  let kauth: KojiAuth;
  if (type === 'password') {
    r.unknown(auth, 'auth', ['type', 'user', 'password', 'password_file']);
    const user = r.str(auth, 'auth', 'user', false) ?? hostName;
    let password = r.str(auth, 'auth', 'password', false);
    const pwFile = r.str(auth, 'auth', 'password_file', false);
    if (password !== undefined && pwFile !== undefined) r.err('auth.password_file', 'give either auth.password or auth.password_file, not both');
    if (pwFile !== undefined) {
      try {
        password = readFileSync(pathOf(pwFile), 'utf8').replace(/\r?\n$/, '');
      } catch (e) {
        r.err('auth.password_file', `cannot read ${pathOf(pwFile)}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
    }
    if (password === undefined) r.err('auth.password', 'missing (or set auth.password_file)');
    kauth = { type: 'password', user, password: password as string };
  } else if (type === 'ssl') {
    r.unknown(auth, 'auth', ['type', 'cert', 'key', 'serverca']);
    const cert = pathOf(r.str(auth, 'auth', 'cert', true));
    const key = r.str(auth, 'auth', 'key', false);
    const ca = r.str(auth, 'auth', 'serverca', false);
    kauth = { type: 'ssl', cert, ...(key ? { key: pathOf(key) } : {}), ...(ca ? { ca: pathOf(ca) } : {}) };
  } else {
    return r.err('auth.type', `must be "password" or "ssl", got ${JSON.stringify(type)}`);
  }

  const url = r.url(hub, 'hub', 'url');
  if (kauth.type === 'ssl' && !url.startsWith('https:')) r.err('hub.url', 'auth.type "ssl" needs an https hub URL');
  const serverCa = r.str(hub, 'hub', 'serverca', false);

  const archesV = host.arches;
  if (!Array.isArray(archesV) || archesV.length === 0 || !archesV.every((a) => typeof a === 'string' && KNOWN_ARCHES.test(a))) {
    r.err('host.arches', `must be a non-empty list of arch names, got ${JSON.stringify(archesV)}`);
  }

  const build = r.table(root, 'build', true);
  r.unknown(build, 'build', ['work_dir', 'cache_dir', 'buildroot', 'definitions_dir', 'rpmlist', 'default_distro']);
  const buildroot = r.str(build, 'build', 'buildroot', false) ?? 'bwrap';
  if (buildroot !== 'bwrap' && buildroot !== 'host') r.err('build.buildroot', `must be "bwrap" or "host", got ${JSON.stringify(buildroot)}`);
  const rpmlist = r.str(build, 'build', 'rpmlist', false) ?? 'none';
  if (rpmlist !== 'image' && rpmlist !== 'none') r.err('build.rpmlist', `must be "image" or "none", got ${JSON.stringify(rpmlist)}`);
  const defs = r.str(build, 'build', 'definitions_dir', false);
  // checked against the definitions when the daemon starts (KojiBuilder.start)
  const defaultDistro = r.str(build, 'build', 'default_distro', false);

  return {
    file,
    hub: url,
    topurl: r.url(hub, 'hub', 'topurl'),
    topdir: (r.str(hub, 'hub', 'topdir', false) ?? '/mnt/koji').replace(/\/+$/, ''),
    auth: kauth,
    ...(serverCa ? { serverCa: pathOf(serverCa) } : {}),
    hostName,
    arches: archesV as string[],
    maxJobs: r.num(host, 'host', 'max_jobs', 4, { integer: true, min: 1 }),
    capacity: r.num(host, 'host', 'capacity', 2.0, { min: 0.01 }),
    pollIntervalMs: Math.round(r.num(host, 'host', 'poll_interval', 15, { min: 0.01 }) * 1000),
    logIntervalMs: Math.round(r.num(host, 'host', 'log_interval', 5, { min: 0.01 }) * 1000),
    repoWaitPauseMs: Math.round(r.num(host, 'host', 'repo_wait_pause', 60, { min: 0.01 }) * 1000),
    repoWaitTimeoutMs: Math.round(r.num(host, 'host', 'repo_wait_timeout', 120, { min: 0.01 }) * 60_000),
    forceLock: r.bool(host, 'host', 'force_lock', false),
    workDir: pathOf(r.str(build, 'build', 'work_dir', true)),
    cacheDir: pathOf(r.str(build, 'build', 'cache_dir', true)),
    buildroot: buildroot as BuildRootMode,
    ...(defs ? { definitionsDir: pathOf(defs) } : {}),
    rpmlist: rpmlist as 'image' | 'none',
    ...(defaultDistro ? { defaultDistro } : {}),
  };
}

export function loadBuilderConfig(file: string): BuilderConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new KilnError(`${file}: cannot read builder configuration: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return parseBuilderConfig(text, file);
}
