// Making the Koji session and the koji / remote-service backends for `kiln compose`: hub, topurl
// and weburl from the command line, else the compose config's `koji:` section, else Kiln's Koji
// client settings (KILN_KOJI_* environment, profile file; see src/koji/config.ts). Credentials
// come from the same place as for `kiln koji build`. The login is retried while the hub is
// unreachable (Pungi retries its login for two minutes).
import { resolveKojiConfig, type KojiClientConfig, type KojiClientFlags } from '../../koji/config.js';
import { KojiSession } from '../../koji/session.js';
import { KilnError } from '../../util/errors.js';
import type { ComposeBackend } from '../backend.js';
import type { BackendKind, ComposeConfig } from '../config.js';
import { withHubRetry } from './koji-common.js';
import { KojiBackend, type KojiBackendOptions } from './koji.js';
import { RemoteServiceBackend } from './remote-service.js';

export interface KojiCliSettings {
  hub?: string;
  topurl?: string;
  weburl?: string;
  /** the hub's /mnt/koji mounted here */
  topdir?: string;
  profile?: string;
  profileFile?: string;
  user?: string;
  passwordFile?: string;
  cert?: string;
  serverca?: string;
  pollIntervalMs?: number;
  signal?: AbortSignal;
  log?: (m: string) => void;
}

export function resolveComposeKoji(config: ComposeConfig, s: KojiCliSettings, env: NodeJS.ProcessEnv = process.env): KojiClientConfig {
  const flags: KojiClientFlags = {
    ...(s.hub ?? config.koji.hub ? { hub: s.hub ?? config.koji.hub } : {}),
    ...(s.topurl ?? config.koji.topurl ? { topurl: s.topurl ?? config.koji.topurl } : {}),
    ...(s.weburl ?? config.koji.weburl ? { weburl: s.weburl ?? config.koji.weburl } : {}),
    ...(s.user ? { user: s.user } : {}),
    ...(s.passwordFile ? { passwordFile: s.passwordFile } : {}),
    ...(s.cert ? { cert: s.cert } : {}),
    ...(s.serverca ? { serverca: s.serverca } : {}),
    ...(s.profileFile ? { config: s.profileFile } : {}),
  };
  if (s.profile) return resolveKojiConfig({ ...flags, profile: s.profile }, { env, requireAuth: true });
  // koji.profile in the compose config names a Pungi/koji profile; use it when Kiln's profile
  // file has such a table, and fall back to the other settings when it does not
  if (config.koji.profile) {
    try {
      return resolveKojiConfig({ ...flags, profile: config.koji.profile }, { env, requireAuth: true });
    } catch (e) {
      if (!(e instanceof KilnError) || !/Koji profile "/.test(e.message)) throw e;
    }
  }
  return resolveKojiConfig(flags, { env, requireAuth: true });
}

export async function kojiBackends(config: ComposeConfig, used: Set<BackendKind>, s: KojiCliSettings): Promise<Partial<Record<BackendKind, ComposeBackend>>> {
  const cfg = resolveComposeKoji(config, s);
  const log = s.log ?? (() => {});
  const session = new KojiSession({ hub: cfg.hub, auth: cfg.auth, ...(cfg.serverCa ? { serverCa: cfg.serverCa } : {}), log, ...(s.signal ? { signal: s.signal } : {}) });
  await withHubRetry(`Koji login at ${cfg.hub}`, () => session.login(), { signal: s.signal ?? new AbortController().signal, log, maxOfflineMs: 120_000 });
  const opts: KojiBackendOptions = {
    session,
    ...(cfg.topurl ? { topurl: cfg.topurl } : {}),
    ...(s.topdir ? { topdir: s.topdir } : {}),
    ...(cfg.weburl ? { weburl: cfg.weburl } : {}),
    ...(cfg.serverCa ? { serverCa: cfg.serverCa } : {}),
    translatePaths: config.translatePaths,
    linkType: config.linkType,
    ...(s.pollIntervalMs !== undefined ? { pollMs: s.pollIntervalMs, maxPollMs: Math.max(s.pollIntervalMs, 60_000) } : {}),
    log,
  };
  const out: Partial<Record<BackendKind, ComposeBackend>> = {};
  if (used.has('koji')) out.koji = new KojiBackend(opts);
  if (used.has('remote-service')) out['remote-service'] = new RemoteServiceBackend(opts);
  return out;
}
