// What the koji and remote-service compose backends share. Both build a group (entry x variant x
// image type, all its arches) as one Koji task: KojiTaskBackend submits it - or re-attaches to the
// task an earlier run of the compose recorded (Pungi's logs/global/koji-tasks/<id>, plus a
// per-group record so a resumed compose does not submit twice) - watches the task tree riding out
// hub outages, cancels it when the compose stops, and fetches the files the hub serves: linked
// from a mounted topdir when one is configured (Pungi's koji_downloader), else downloaded from
// topurl to a temporary name, checked and renamed. The backends differ only in the hub call that
// makes the task and in where a finished task's files are.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fetchVerified, type VerifiableFile } from '../../koji/download.js';
import { KojiCallIndeterminateError } from '../../koji/faults.js';
import type { KojiSession } from '../../koji/session.js';
import { isTransient, TASK_STATE, watchTask, type WatchResult } from '../../koji/watch.js';
import type { XmlRpcStruct, XmlRpcValue } from '../../koji/xmlrpc.js';
import { KilnError } from '../../util/errors.js';
import type { ComposeBackend, JobContext, JobOutcome, JobResult } from '../backend.js';
import type { BackendKind, LinkType } from '../config.js';
import type { ImageJob, JobGroup } from '../planner.js';
import { linkFile, safeName, type ComposeTree } from '../tree.js';

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


/** Pungi's save_task_id (an empty file per task) plus which group the task builds. */
export function recordTask(tree: ComposeTree, groupId: string, method: string, taskId: number, arches: string[]): void {
  const dir = path.join(tree.globalLogDir(), 'koji-tasks');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, String(taskId)), '');
  const rec = path.join(tree.dir, 'work', 'global', 'koji-tasks', `${safeName(groupId)}.json`);
  fs.mkdirSync(path.dirname(rec), { recursive: true });
  fs.writeFileSync(rec, JSON.stringify({ group: groupId, method, task_id: taskId, arches: [...arches].sort() }) + '\n');
}

/** The task an earlier run of this compose submitted for the group, if any. */
export function recordedTask(tree: ComposeTree, groupId: string, method: string): { taskId: number; arches: string[] } | undefined {
  try {
    const r = JSON.parse(fs.readFileSync(path.join(tree.dir, 'work', 'global', 'koji-tasks', `${safeName(groupId)}.json`), 'utf8')) as {
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

export interface KojiBackendOptions {
  session: KojiSession;
  /** where the hub's files are served (required unless topdir is given) */
  topurl?: string;
  /** the hub's /mnt/koji mounted on this machine: files are linked from here, not downloaded */
  topdir?: string;
  weburl?: string;
  serverCa?: string;
  translatePaths?: [string, string][];
  linkType?: LinkType;
  /** task polling (default 15 s, growing to 60 s while nothing changes) */
  pollMs?: number;
  maxPollMs?: number;
  /** hub outages longer than this fail the group (default 2 h) */
  maxOfflineMs?: number;
  retryDelayMs?: number;
  log?: (msg: string) => void;
}

/** Placeholder topurl when only a mounted topdir is known (URLs are only used as keys then). */
const TOPDIR_ONLY_URL = 'http://koji-topdir.invalid';

/** A one-arch group for run(). */
function groupOfJob(job: ImageJob): JobGroup {
  return {
    id: job.groupId, where: job.id, keyPath: job.id, variant: job.variant, type: job.type, name: job.name, version: job.version,
    release: job.release, arches: [job.arch], failableArches: job.failable ? [job.arch] : [], repos: job.repos, scratch: job.scratch,
    backend: job.backend, subvariant: job.subvariant, dependsOn: [], jobs: [job],
    ...(job.target ? { target: job.target } : {}),
    ...(job.ostree ? { ostree: job.ostree } : {}),
    ...(job.ostreeFrom ? { ostreeFrom: job.ostreeFrom } : {}),
    ...(job.blueprint ? { blueprint: job.blueprint } : {}),
    ...(job.seed !== undefined ? { seed: job.seed } : {}),
    ...(job.preview !== undefined ? { preview: job.preview } : {}),
    ...(job.distro ? { distro: job.distro } : {}),
  };
}

/** How to turn a closed task into one job's result (throw to fail that arch). */
export type CollectJob = (job: ImageJob, ctx: JobContext) => Promise<JobResult>;

/** Which backend a KojiTaskBackend is and the hub call it makes. */
export interface KojiTaskCall {
  kind: BackendKind;
  /** the hub call that makes a group's task; also the name of its task record */
  method: string;
  /** the watch logs' folder under logs/global/ */
  watchLogDir: string;
}

/**
 * A backend that builds each group as one Koji task. Subclasses give the hub call that makes the
 * task (params + submit) and where a closed task's files are (outputs); the rest - re-attaching,
 * watching, cancelling, per-arch outcomes, fetching - is here.
 */
export abstract class KojiTaskBackend implements ComposeBackend {
  readonly kind: BackendKind;
  protected cancelled = false;
  private readonly active = new Set<number>();

  constructor(
    protected readonly o: KojiBackendOptions,
    private readonly call: KojiTaskCall,
  ) {
    if (!o.topurl && !o.topdir) throw new KilnError(`${call.kind} backend: needs the hub's topurl (koji.topurl / --topurl) or a mounted topdir (--koji-topdir) to fetch images`);
    this.kind = call.kind;
  }

  /** The hub call's parameters for a group; its options struct comes last (left out of the log line). */
  protected abstract params(group: JobGroup, jobs: ImageJob[], ctxs: Record<string, JobContext>): XmlRpcValue[];

  /** Make the task; hub calls go through withHubRetry (which never repeats one whose effect is unknown). */
  protected abstract submit(group: JobGroup, params: XmlRpcValue[], retry: HubRetryOptions): Promise<number>;

  /** For a CLOSED task: find its files (a rejection fails every arch) and say how to collect a job's. */
  protected abstract outputs(group: JobGroup, taskId: number, res: WatchResult, retry: HubRetryOptions): Promise<CollectJob>;

  /** Why a task that did not close failed for an arch: by default the task's own failure. */
  protected failure(res: WatchResult, taskId: number, _arch: string): string | undefined {
    return res.tasks.find((t) => t.id === taskId)?.failure;
  }

  protected get topurl(): string {
    return (this.o.topurl ?? TOPDIR_ONLY_URL).replace(/\/+$/, '');
  }

  protected taskRef(id: number): string {
    return this.o.weburl ? `${this.o.weburl.replace(/\/+$/, '')}/taskinfo?taskID=${id}` : `task ${id}`;
  }

  /** One job alone: a group of one arch. */
  async run(job: ImageJob, ctx: JobContext): Promise<JobResult> {
    const out = (await this.runGroup(groupOfJob(job), [job], { [job.arch]: ctx }))[job.arch];
    if (!out || !out.ok) throw out?.error ?? new KilnError(`${job.id}: no result`);
    return out.result;
  }

  async runGroup(group: JobGroup, jobs: ImageJob[], ctxs: Record<string, JobContext>): Promise<Record<string, JobOutcome>> {
    const first = ctxs[jobs[0].arch];
    const { tree, signal } = first;
    // what happens to the group's task goes into every arch's log
    for (const j of jobs) fs.mkdirSync(path.dirname(ctxs[j.arch].logFile), { recursive: true });
    const say = (m: string) => {
      for (const j of jobs) fs.appendFileSync(ctxs[j.arch].logFile, `${m}\n`);
      first.log(m);
    };
    const retry: HubRetryOptions = { signal, log: say, maxOfflineMs: this.o.maxOfflineMs, firstDelayMs: this.o.retryDelayMs };
    if (this.cancelled) throw new KilnError(`${group.id}: cancelled`);

    const arches = jobs.map((j) => j.arch);
    const params = this.params(group, jobs, ctxs);
    // re-attach to the task an earlier run of this compose left running or finished well
    const reused = await this.reusableTask(tree, group.id, arches, retry);
    const taskId = reused ?? (await this.submit(group, params, retry));
    if (reused !== undefined) say(`${group.id}: re-attaching to Koji ${this.taskRef(taskId)} from an earlier run`);
    else {
      recordTask(tree, group.id, this.call.method, taskId, arches);
      say(`${group.id}: ${this.call.method}(${JSON.stringify(params.slice(0, -1)).slice(1, -1)}) -> Task URL: ${this.taskRef(taskId)}`);
    }
    this.active.add(taskId);
    let res: WatchResult;
    try {
      res = await this.watch(tree, group.id, taskId, signal);
    } finally {
      this.active.delete(taskId);
    }
    if (res.interrupted || signal.aborted) {
      // stopped while the task runs: cancel it now (Pungi's TERMINATED handler does the same)
      await this.cancelTask(taskId);
      throw new KilnError(`${group.id}: cancelled (Koji ${this.taskRef(taskId)})`);
    }

    let collect: CollectJob;
    if (res.state !== TASK_STATE.CLOSED) {
      collect = async (j) => {
        const reason = this.failure(res, taskId, j.arch);
        throw new KilnError(`Koji ${this.call.method} ${this.taskRef(taskId)} ${res.stateName}${reason ? `: ${reason}` : ''}`);
      };
    } else {
      try {
        collect = await this.outputs(group, taskId, res, retry);
      } catch (e) {
        collect = async () => {
          throw e;
        };
      }
    }
    const outcomes: Record<string, JobOutcome> = {};
    for (const j of jobs) {
      try {
        outcomes[j.arch] = { ok: true, result: await collect(j, ctxs[j.arch]) };
      } catch (e) {
        outcomes[j.arch] = { ok: false, error: new KilnError(`${j.id}: ${(e as Error).message}`) };
      }
    }
    return outcomes;
  }

  /** Fetch hub files into the job's work directory, noting each in the job's log. */
  protected async fetch(files: (RemoteFile & { name: string; from?: string })[], ctx: JobContext): Promise<string[]> {
    const out: string[] = [];
    for (const f of files) {
      const dest = path.join(ctx.outputDir, path.basename(f.name));
      await fetchHubFile(f, dest, { topurl: this.topurl, topdir: this.o.topdir, linkType: this.o.linkType, serverCa: this.o.serverCa, signal: ctx.signal });
      out.push(dest);
      fs.appendFileSync(ctx.logFile, `fetched ${f.name} (${f.size} bytes)${f.from ? ` from ${f.from}` : ''}: ${f.url}\n`);
    }
    return out;
  }

  /** The task an earlier run recorded for the group, unless it failed or was cancelled. */
  private async reusableTask(tree: ComposeTree, groupId: string, arches: string[], retry: HubRetryOptions): Promise<number | undefined> {
    const rec = recordedTask(tree, groupId, this.call.method);
    if (!rec || rec.arches.join(' ') !== [...arches].sort().join(' ')) return undefined;
    const info = (await withHubRetry(`${groupId}: getTaskInfo(${rec.taskId})`, () => this.o.session.call('getTaskInfo', rec.taskId), retry)) as XmlRpcStruct | null;
    if (!info || info.state === TASK_STATE.FAILED || info.state === TASK_STATE.CANCELED) return undefined;
    return rec.taskId;
  }

  private watch(tree: ComposeTree, groupId: string, taskId: number, signal: AbortSignal): Promise<WatchResult> {
    const logFile = path.join(tree.globalLogDir(), this.call.watchLogDir, `${safeName(groupId)}-watch-task.log`);
    fs.mkdirSync(path.dirname(logFile), { recursive: true });
    fs.appendFileSync(logFile, `Task URL: ${this.taskRef(taskId)}\n`);
    return watchTask(this.o.session, taskId, {
      out: { write: (s: string) => fs.appendFileSync(logFile, s) },
      live: false,
      pollMs: this.o.pollMs ?? 15_000,
      maxPollMs: this.o.maxPollMs ?? 60_000,
      errorBackoffMs: this.o.retryDelayMs,
      maxOfflineMs: this.o.maxOfflineMs,
      signal,
    });
  }

  private async cancelTask(id: number): Promise<void> {
    try {
      await this.o.session.call('cancelTask', id);
      this.o.log?.(`cancelled Koji ${this.taskRef(id)}`);
    } catch (e) {
      this.o.log?.(`cancelling Koji ${this.taskRef(id)}: ${(e as Error).message}`);
    }
  }

  async cancel(): Promise<void> {
    this.cancelled = true;
    // Pungi's TERMINATED handler cancels every task it started
    await Promise.all([...this.active].map((id) => this.cancelTask(id)));
  }
}
