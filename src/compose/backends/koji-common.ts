// What the koji and remote-service compose backends share: riding out hub outages, remembering
// which Koji task a group is (Pungi's logs/global/koji-tasks/<id>, plus a per-group record so a
// resumed compose re-attaches to a task that is still running instead of submitting it twice),
// and fetching a file the hub serves - linked from a mounted topdir when one is configured
// (Pungi's koji_downloader), else downloaded from topurl to a temporary name, checked and renamed.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fetchVerified, type VerifiableFile } from '../../koji/download.js';
import { KojiCallIndeterminateError } from '../../koji/faults.js';
import { isTransient } from '../../koji/watch.js';
import { KilnError } from '../../util/errors.js';
import type { LinkType } from '../config.js';
import { linkFile, type ComposeTree } from '../tree.js';

export interface HubRetryOptions {
  signal: AbortSignal;
  log: (msg: string) => void;
  /** give up after the hub has been unreachable this long (default 2 h) */
  maxOfflineMs?: number;
  firstDelayMs?: number;
  maxDelayMs?: number;
}

/**
 * Run `fn` until it succeeds or fails for a reason waiting cannot fix. A hub that is down,
 * restarting or says ServerOffline is waited out with backoff (Pungi retries its watch forever;
 * a bound keeps a dead hub from hanging a compose for days). A call whose effect is unknown
 * (KojiCallIndeterminateError) is never repeated here.
 */
export async function withHubRetry<T>(what: string, fn: () => Promise<T>, o: HubRetryOptions): Promise<T> {
  const start = Date.now();
  let delay = o.firstDelayMs ?? 2000;
  for (;;) {
    if (o.signal.aborted) throw new KilnError(`${what}: cancelled`);
    try {
      return await fn();
    } catch (e) {
      if (e instanceof KojiCallIndeterminateError || !isTransient(e) || o.signal.aborted) throw e;
      if (Date.now() - start > (o.maxOfflineMs ?? 2 * 3600_000)) {
        throw new KilnError(`${what}: the Koji hub has been unreachable for ${Math.round((Date.now() - start) / 1000)} s: ${(e as Error).message}`);
      }
      o.log(`${what}: Koji hub unavailable (${(e as Error).message}); retrying in ${Math.round(delay / 1000)} s`);
      try {
        await sleep(delay, undefined, { signal: o.signal });
      } catch {
        throw new KilnError(`${what}: cancelled`);
      }
      delay = Math.min(delay * 2, o.maxDelayMs ?? 60_000);
    }
  }
}

function safe(s: string): string {
  return s.replace(/[^A-Za-z0-9._+-]/g, '_');
}

/** Pungi's save_task_id (an empty file per task) plus which group the task builds. */
export function recordTask(tree: ComposeTree, groupId: string, method: string, taskId: number, arches: string[]): void {
  const dir = path.join(tree.globalLogDir(), 'koji-tasks');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, String(taskId)), '');
  const rec = path.join(tree.dir, 'work', 'global', 'koji-tasks', `${safe(groupId)}.json`);
  fs.mkdirSync(path.dirname(rec), { recursive: true });
  fs.writeFileSync(rec, JSON.stringify({ group: groupId, method, task_id: taskId, arches: [...arches].sort() }) + '\n');
}

/** The task an earlier run of this compose submitted for the group, if any. */
export function recordedTask(tree: ComposeTree, groupId: string, method: string): { taskId: number; arches: string[] } | undefined {
  try {
    const r = JSON.parse(fs.readFileSync(path.join(tree.dir, 'work', 'global', 'koji-tasks', `${safe(groupId)}.json`), 'utf8')) as {
      group?: string;
      method?: string;
      task_id?: number;
      arches?: string[];
    };
    return r.group === groupId && r.method === method && Number.isInteger(r.task_id) && Array.isArray(r.arches)
      ? { taskId: r.task_id!, arches: r.arches }
      : undefined;
  } catch {
    return undefined;
  }
}

/** A file under topurl with the size/checksum the hub records (see fetchVerified). */
export type RemoteFile = VerifiableFile;

export interface FetchOptions {
  topurl: string;
  /** the hub's /mnt/koji, mounted here */
  topdir?: string;
  linkType?: LinkType;
  serverCa?: string;
  signal?: AbortSignal;
  retries?: number;
  retryDelayMs?: number;
}

/** Fetch one hub file to `dest`: from the mounted topdir if there is one, else over HTTP. */
export async function fetchHubFile(f: RemoteFile, dest: string, o: FetchOptions): Promise<void> {
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  const top = o.topurl.replace(/\/+$/, '');
  if (o.topdir && f.url.startsWith(`${top}/`)) {
    const rel = f.url.slice(top.length + 1).split('/').map(decodeURIComponent).join('/');
    let src = path.join(o.topdir, rel);
    let st: fs.Stats;
    try {
      // the hub leaves symlinks in task dirs (scratch and imported files moved elsewhere): link the file itself
      src = fs.realpathSync(src);
      st = fs.statSync(src);
    } catch (e) {
      throw new KilnError(`${src} (Koji topdir for ${f.url}): ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
    }
    if (st.size !== f.size) throw new KilnError(`${src}: ${st.size} bytes, the hub says ${f.size}`);
    linkFile(src, dest, o.linkType ?? 'hardlink-or-copy');
    return;
  }
  const ca = o.serverCa ? fs.readFileSync(o.serverCa) : undefined;
  const retries = o.retries ?? 3;
  for (let attempt = 0; ; attempt++) {
    try {
      await fetchVerified(f, dest, ca, o.signal);
      return;
    } catch (e) {
      const httpStatus = (e as { status?: number }).status;
      const again = !(e instanceof KilnError) && (httpStatus === undefined || httpStatus >= 500 || httpStatus === 429);
      if (!again || attempt >= retries || o.signal?.aborted) {
        throw e instanceof KilnError ? e : new KilnError(`downloading ${f.url}: ${(e as Error).message}`);
      }
      await sleep((o.retryDelayMs ?? 2000) * 2 ** attempt);
    }
  }
}
