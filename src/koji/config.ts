// The Koji *client* profile used by `kiln koji build|watch|download`: which hub to talk to,
// where its files are served (topurl), where its web UI is (weburl) and how to log in.
//
// Values come from, highest priority first: command-line flags, KILN_KOJI_* environment
// variables, a profile file (TOML; default $XDG_CONFIG_HOME/kiln/koji.toml, else
// ~/.config/kiln/koji.toml). Every value remembers where it came from so an error can say
// "--hub", "KILN_KOJI_HUB" or "profile file F [name] key hub" instead of just "bad URL".
//
// Profile file shape: top-level keys apply to every profile; a table [NAME] holds a named
// profile that overrides them (selected with --profile / KILN_KOJI_PROFILE; default "default"
// if such a table exists).
//
//   hub = "https://koji.example.org/kojihub"
//   topurl = "https://kojipkgs.example.org"
//   weburl = "https://koji.example.org/koji"
//   user = "imguser"
//   password_file = "~/.config/kiln/koji.password"
//   # or: cert = "/etc/pki/koji/me.pem"  (PEM holding certificate and key)
//   serverca = "/etc/pki/koji/ca.pem"
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parse as parseToml } from 'smol-toml';

import { KilnError } from '../util/errors.js';
import type { KojiAuth } from './session.js';

/** Raw values as the user gave them (flags use the same names). */
export interface KojiClientFlags {
  hub?: string;
  topurl?: string;
  weburl?: string;
  user?: string;
  passwordFile?: string;
  cert?: string;
  serverca?: string;
  profile?: string;
  /** profile file to read instead of the default location */
  config?: string;
}

export interface KojiClientConfig {
  hub: string;
  topurl?: string;
  weburl?: string;
  auth: KojiAuth;
  serverCa?: string;
  /** where each value came from, for messages (e.g. { hub: '--hub' }) */
  sources: Partial<Record<keyof KojiClientFlags | 'password', string>>;
}

type Key = 'hub' | 'topurl' | 'weburl' | 'user' | 'passwordFile' | 'cert' | 'serverca';
const KEYS: Key[] = ['hub', 'topurl', 'weburl', 'user', 'passwordFile', 'cert', 'serverca'];
const FLAG: Record<Key, string> = {
  hub: '--hub', topurl: '--topurl', weburl: '--weburl', user: '--user', passwordFile: '--password-file', cert: '--cert', serverca: '--serverca',
};
const ENV: Record<Key, string> = {
  hub: 'KILN_KOJI_HUB', topurl: 'KILN_KOJI_TOPURL', weburl: 'KILN_KOJI_WEBURL', user: 'KILN_KOJI_USER',
  passwordFile: 'KILN_KOJI_PASSWORD_FILE', cert: 'KILN_KOJI_CERT', serverca: 'KILN_KOJI_SERVERCA',
};
const FILE_KEY: Record<Key, string> = {
  hub: 'hub', topurl: 'topurl', weburl: 'weburl', user: 'user', passwordFile: 'password_file', cert: 'cert', serverca: 'serverca',
};

interface Sourced {
  value: string;
  source: string;
  /** base directory for relative paths in a profile file */
  base?: string;
}

/** One layer of settings (flags, environment, or the profile file). */
type Layer = Partial<Record<Key, Sourced>>;

export function defaultProfileFile(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CONFIG_HOME;
  const base = xdg && path.isAbsolute(xdg) ? xdg : path.join(env.HOME || os.homedir(), '.config');
  return path.join(base, 'kiln', 'koji.toml');
}

function expandHome(p: string, env: NodeJS.ProcessEnv): string {
  if (p === '~' || p.startsWith('~/')) return path.join(env.HOME || os.homedir(), p.slice(1));
  return p;
}

function flagLayer(f: KojiClientFlags): Layer {
  const out: Layer = {};
  for (const k of KEYS) {
    const v = f[k];
    if (v !== undefined) out[k] = { value: v, source: FLAG[k] };
  }
  return out;
}

function envLayer(env: NodeJS.ProcessEnv): Layer {
  const out: Layer = {};
  for (const k of KEYS) {
    const v = env[ENV[k]];
    if (v !== undefined && v !== '') out[k] = { value: v, source: ENV[k] };
  }
  return out;
}

/** Read the profile file; a missing default file is fine, a missing named one is not. */
function fileLayer(file: string, explicit: string | undefined, profile: string | undefined, profileSource: string): Layer {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && !explicit) {
      if (profile !== undefined) throw new KilnError(`Koji profile "${profile}" (from ${profileSource}): profile file ${file} does not exist`);
      return {};
    }
    throw new KilnError(`Koji profile file ${file}${explicit ? ` (from ${explicit})` : ''}: cannot read: ${code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(text) as Record<string, unknown>;
  } catch (e) {
    throw new KilnError(`Koji profile file ${file}: TOML syntax error: ${(e as Error).message.split('\n')[0]}`);
  }
  const base = path.dirname(path.resolve(file));
  const byFileKey = new Map(KEYS.map((k) => [FILE_KEY[k], k] as const));
  const out: Layer = {};
  const take = (table: Record<string, unknown>, where: string) => {
    for (const [k, v] of Object.entries(table)) {
      if (v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date)) continue; // a profile table
      const key = byFileKey.get(k);
      if (!key) throw new KilnError(`Koji profile file ${file}: ${where}unknown key "${k}" (known: ${[...byFileKey.keys()].join(', ')})`);
      if (typeof v !== 'string' || v === '') throw new KilnError(`Koji profile file ${file}: ${where}key "${k}" must be a non-empty string`);
      out[key] = { value: v, source: `profile file ${file} ${where}key ${k}`, base };
    }
  };
  take(doc, '');
  const tables = Object.entries(doc).filter(([, v]) => v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date));
  const name = profile ?? (tables.some(([n]) => n === 'default') ? 'default' : undefined);
  if (name !== undefined) {
    const t = tables.find(([n]) => n === name);
    if (!t) {
      throw new KilnError(
        `Koji profile "${name}" (from ${profileSource}): no [${name}] table in ${file}` +
          (tables.length ? ` (profiles there: ${tables.map(([n]) => n).join(', ')})` : ''),
      );
    }
    take(t[1] as Record<string, unknown>, `[${name}] `);
  }
  return out;
}

function checkUrl(s: Sourced, what: string): string {
  let u: URL;
  try {
    u = new URL(s.value);
  } catch {
    throw new KilnError(`Koji ${what} ${JSON.stringify(s.value)} (from ${s.source}) is not a valid URL`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new KilnError(`Koji ${what} ${s.value} (from ${s.source}): only http and https URLs are supported`);
  return s.value.replace(/\/+$/, '');
}

function filePath(s: Sourced, env: NodeJS.ProcessEnv): string {
  const p = expandHome(s.value, env);
  return s.base && !path.isAbsolute(p) ? path.join(s.base, p) : p;
}

function readable(p: string, s: Sourced, what: string): void {
  try {
    fs.accessSync(p, fs.constants.R_OK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new KilnError(`Koji ${what} ${p} (from ${s.source}): cannot read: ${code === 'ENOENT' ? 'no such file' : code ?? (e as Error).message}`);
  }
}

export interface ResolveOptions {
  env?: NodeJS.ProcessEnv;
  /** the command needs credentials (kiln koji build) */
  requireAuth?: boolean;
  /** the command needs topurl (kiln koji download) */
  requireTopurl?: boolean;
}

/** Merge flags, environment and profile file into one checked client configuration. */
export function resolveKojiConfig(flags: KojiClientFlags, o: ResolveOptions = {}): KojiClientConfig {
  const env = o.env ?? process.env;
  const profile = flags.profile ?? (env.KILN_KOJI_PROFILE || undefined);
  const profileSource = flags.profile !== undefined ? '--profile' : 'KILN_KOJI_PROFILE';
  const explicitFile = flags.config !== undefined ? '--config' : env.KILN_KOJI_CONFIG ? 'KILN_KOJI_CONFIG' : undefined;
  const file = expandHome(flags.config ?? (env.KILN_KOJI_CONFIG || defaultProfileFile(env)), env);
  const layers = [flagLayer(flags), envLayer(env), fileLayer(file, explicitFile, profile, profileSource)];
  const pick = (k: Key): Sourced | undefined => layers.find((l) => l[k])?.[k];

  const hub = pick('hub');
  if (!hub) {
    throw new KilnError(`no Koji hub configured: give --hub URL, set KILN_KOJI_HUB, or put hub = "URL" in ${file}`);
  }
  const cfg: KojiClientConfig = { hub: checkUrl(hub, 'hub URL'), auth: { type: 'none' }, sources: { hub: hub.source } };
  const topurl = pick('topurl');
  if (topurl) {
    cfg.topurl = checkUrl(topurl, 'topurl');
    cfg.sources.topurl = topurl.source;
  } else if (o.requireTopurl) {
    throw new KilnError(`no Koji topurl configured (where the hub's files are served, e.g. https://kojipkgs.fedoraproject.org): give --topurl URL, set KILN_KOJI_TOPURL, or put topurl = "URL" in ${file}`);
  }
  const weburl = pick('weburl');
  if (weburl) {
    cfg.weburl = checkUrl(weburl, 'weburl');
    cfg.sources.weburl = weburl.source;
  }
  const ca = pick('serverca');
  if (ca) {
    cfg.serverCa = filePath(ca, env);
    readable(cfg.serverCa, ca, 'server CA file');
    cfg.sources.serverca = ca.source;
  }

  // The auth method is decided by the highest-priority layer that says anything about auth,
  // so `--cert` on the command line overrides a user/password profile and vice versa.
  const authLayer = layers.find((l) => l.user || l.passwordFile || l.cert);
  if (authLayer) {
    const { user, passwordFile, cert } = authLayer;
    if (cert && (user || passwordFile)) {
      throw new KilnError(`Koji login: both a client certificate (${cert.source}) and user/password (${(user ?? passwordFile)!.source}) are given; use one`);
    }
    if (cert) {
      const p = filePath(cert, env);
      readable(p, cert, 'client certificate');
      if (!hub.value.startsWith('https:')) throw new KilnError(`Koji login with a client certificate (${cert.source}) needs an https hub URL, but hub is ${hub.value} (from ${hub.source})`);
      cfg.auth = { type: 'ssl', cert: p, ...(cfg.serverCa ? { ca: cfg.serverCa } : {}) };
      cfg.sources.cert = cert.source;
    } else {
      if (!user) throw new KilnError(`Koji login: a password file is given (${passwordFile!.source}) but no user name (--user, KILN_KOJI_USER or user = ... in the profile)`);
      if (!passwordFile) throw new KilnError(`Koji login: user "${user.value}" is given (${user.source}) but no password file (--password-file, KILN_KOJI_PASSWORD_FILE or password_file = ... in the profile)`);
      const p = filePath(passwordFile, env);
      let password: string;
      try {
        password = fs.readFileSync(p, 'utf8').replace(/\r?\n$/, '');
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        throw new KilnError(`Koji password file ${p} (from ${passwordFile.source}): cannot read: ${code === 'ENOENT' ? 'no such file' : code ?? (e as Error).message}`);
      }
      if (password === '') throw new KilnError(`Koji password file ${p} (from ${passwordFile.source}) is empty`);
      cfg.auth = { type: 'password', user: user.value, password };
      cfg.sources.user = user.source;
      cfg.sources.password = passwordFile.source;
    }
  } else if (o.requireAuth) {
    throw new KilnError(
      `no Koji credentials configured: give --user U --password-file F, or --cert F ` +
        `(or KILN_KOJI_USER/KILN_KOJI_PASSWORD_FILE/KILN_KOJI_CERT, or user/password_file/cert in ${file})`,
    );
  }
  return cfg;
}

/** `<weburl>/taskinfo?taskID=N` (the URL koji prints), when a weburl is known. */
export function taskUrl(cfg: Pick<KojiClientConfig, 'weburl'>, taskId: number): string | undefined {
  return cfg.weburl ? `${cfg.weburl}/taskinfo?taskID=${taskId}` : undefined;
}
