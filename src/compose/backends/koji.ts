// The koji compose backend: what Pungi's imagebuilder phase does per image entry. One
// imageBuilderBuild call per group (entry x variant x image type) with all its arches and the
// failable ones as failable_arches; the task tree is watched (hub outages are waited out); then
// each arch's files are taken from its imageBuilderBuildArch child - for a scratch build from the
// task's output in work/tasks/..., for a real build from the imported build's archives
// (packages/N/V/R/images/, checked against the archive's size and checksum) - fetched from
// topurl, or linked from a mounted topdir, into the job's work directory. The orchestrator then
// places the images into the compose tree.
//
// A group that deploys a commit this compose built (ostreeFrom) passes the commit's repository
// URL to Koji; Koji builders must be able to reach it, so the iot-commit group's per-arch
// tarballs are merged into one repository under <compose>/work/global/ostree/ and its URL made
// with translate_paths (as Pungi does for compose paths it hands to Koji).
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { planTaskDownload } from '../../koji/download.js';
import { checkTarget, imageBuilderBuildParams, submitImageBuild, type ImageBuildRequest } from '../../koji/submit.js';
import type { KojiSession } from '../../koji/session.js';
import { TASK_STATE, taskStateName, watchTask, type TaskView, type WatchResult } from '../../koji/watch.js';
import type { XmlRpcStruct } from '../../koji/xmlrpc.js';
import { KilnError } from '../../util/errors.js';
import type { ComposeBackend, JobContext, JobOutcome, JobResult, OstreeCommitRef } from '../backend.js';
import type { LinkType } from '../config.js';
import { OSTREE_COMMIT_TYPES, translatePath, type ImageJob, type JobGroup } from '../planner.js';
import type { ComposeTree } from '../tree.js';
import { fetchHubFile, recordTask, recordedTask, withHubRetry } from './koji-common.js';
import { unpackCommit } from './local.js';

const run = promisify(execFile);

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
export const TOPDIR_ONLY_URL = 'http://koji-topdir.invalid';

export class KojiBackend implements ComposeBackend {
  readonly kind = 'koji' as const;
  private readonly active = new Set<number>();
  private cancelled = false;

  constructor(private readonly o: KojiBackendOptions) {
    if (!o.topurl && !o.topdir) throw new KilnError('koji backend: needs the hub\'s topurl (koji.topurl / --topurl) or a mounted topdir (--koji-topdir) to fetch images');
  }

  private get topurl(): string {
    return (this.o.topurl ?? TOPDIR_ONLY_URL).replace(/\/+$/, '');
  }

  private taskRef(id: number): string {
    return this.o.weburl ? `${this.o.weburl.replace(/\/+$/, '')}/taskinfo?taskID=${id}` : `task ${id}`;
  }

  /** One job alone: a group of one arch. */
  async run(job: ImageJob, ctx: JobContext): Promise<JobResult> {
    const group = groupOfJob(job);
    const out = (await this.runGroup(group, [job], { [job.arch]: ctx }))[job.arch];
    if (!out || !out.ok) throw out?.error ?? new KilnError(`${job.id}: no result`);
    return out.result;
  }

  async runGroup(group: JobGroup, jobs: ImageJob[], ctxs: Record<string, JobContext>): Promise<Record<string, JobOutcome>> {
    const first = ctxs[jobs[0].arch];
    const { tree, signal } = first;
    const say = (m: string) => {
      for (const j of jobs) fs.appendFileSync(ctxs[j.arch].logFile, `${m}\n`);
      first.log(m);
    };
    const retry = { signal, log: say, ...(this.o.maxOfflineMs !== undefined ? { maxOfflineMs: this.o.maxOfflineMs } : {}), ...(this.o.retryDelayMs !== undefined ? { firstDelayMs: this.o.retryDelayMs } : {}) };
    for (const j of jobs) fs.mkdirSync(path.dirname(ctxs[j.arch].logFile), { recursive: true });
    if (this.cancelled) throw new KilnError(`${group.id}: cancelled`);

    const arches = jobs.map((j) => j.arch);
    const params = imageBuilderBuildParams(this.request(group, jobs, ctxs));
    if (group.blueprint) (params[5] as XmlRpcStruct).blueprint = JSON.parse(JSON.stringify(group.blueprint)) as XmlRpcStruct;

    // re-attach to the task an earlier run of this compose left running or finished well
    let taskId = await this.reusableTask(tree, group, arches, retry);
    if (taskId) say(`${group.id}: re-attaching to Koji ${this.taskRef(taskId)} from an earlier run`);
    else {
      await withHubRetry(`${group.id}: getBuildTarget`, () => checkTarget(this.o.session, group.target!), retry);
      if (this.cancelled || signal.aborted) throw new KilnError(`${group.id}: cancelled`);
      taskId = await withHubRetry(`${group.id}: imageBuilderBuild`, () => submitImageBuild(this.o.session, params), retry);
      recordTask(tree, group.id, 'imageBuilderBuild', taskId, arches);
      say(`${group.id}: imageBuilderBuild(${JSON.stringify(params.slice(0, 5)).slice(1, -1)}) -> Task URL: ${this.taskRef(taskId)}`);
    }
    this.active.add(taskId);
    let res: WatchResult;
    try {
      res = await this.watch(tree, group, taskId, signal);
    } finally {
      this.active.delete(taskId);
    }
    if (res.interrupted || signal.aborted) {
      // stopped while the task runs: cancel it now (Pungi's TERMINATED handler does the same)
      await this.cancelTask(taskId);
      throw new KilnError(`${group.id}: cancelled (Koji ${this.taskRef(taskId)})`);
    }

    const kids = res.tasks.filter((t) => t.parent === taskId && t.method === 'imageBuilderBuildArch');
    const kidFor = (arch: string) => kids.find((k) => k.label === arch) ?? kids.find((k) => k.arch === arch);
    const parent = res.tasks.find((t) => t.id === taskId);
    const outcomes: Record<string, JobOutcome> = {};
    if (res.state !== TASK_STATE.CLOSED) {
      for (const j of jobs) {
        const kid = kidFor(j.arch);
        const reason = kid?.state === TASK_STATE.FAILED ? kid.failure : parent?.failure;
        outcomes[j.arch] = fail(`${j.id}: Koji imageBuilderBuild ${this.taskRef(taskId)} ${res.stateName}${reason ? `: ${reason}` : ''}`);
      }
      return outcomes;
    }
    const plan = await withHubRetry(`${group.id}: listing the outputs of task ${taskId}`, () => planTaskDownload(this.o.session, taskId!, { topurl: this.topurl, logs: false }), retry);
    for (const j of jobs) {
      const ctx = ctxs[j.arch];
      const kid = kidFor(j.arch);
      if (!kid || kid.state !== TASK_STATE.CLOSED) {
        outcomes[j.arch] = fail(
          `${j.id}: Koji imageBuilderBuildArch ${kid ? `${this.taskRef(kid.id)} ${taskStateName(kid.state)}${kid.failure ? `: ${kid.failure}` : ''}` : `task for ${j.arch} missing under ${this.taskRef(taskId)}`}`,
        );
        continue;
      }
      try {
        const files: string[] = [];
        const mine = plan.filter((f) => f.taskId === kid.id && !f.name.endsWith('.log'));
        if (mine.length === 0) throw new KilnError(`Koji ${this.taskRef(kid.id)} has no output files`);
        for (const f of mine) {
          const dest = path.join(ctx.outputDir, path.basename(f.dest));
          await fetchHubFile(f, dest, {
            topurl: this.topurl,
            ...(this.o.topdir ? { topdir: this.o.topdir } : {}),
            ...(this.o.linkType ? { linkType: this.o.linkType } : {}),
            ...(this.o.serverCa ? { serverCa: this.o.serverCa } : {}),
            signal,
          });
          files.push(dest);
          fs.appendFileSync(ctx.logFile, `fetched ${f.name} (${f.size} bytes) from ${f.source === 'build' ? 'the build' : `task ${f.taskId}`}: ${f.url}\n`);
        }
        const result: JobResult = { files, info: { koji_task: taskId, koji_arch_task: kid.id, scratch: group.scratch } };
        if (OSTREE_COMMIT_TYPES.has(j.type)) result.ostreeCommit = await this.publishCommit(tree, group, j, files, ctx, signal);
        outcomes[j.arch] = { ok: true, result };
      } catch (e) {
        outcomes[j.arch] = fail(`${j.id}: ${(e as Error).message}`);
      }
    }
    return outcomes;
  }

  /** The imageBuilderBuild request for a group, as Pungi makes it (plus failable_arches, distro). */
  private request(group: JobGroup, jobs: ImageJob[], ctxs: Record<string, JobContext>): ImageBuildRequest {
    if (!group.target) throw new KilnError(`${group.where}: the koji backend needs a build target`);
    const arches = jobs.map((j) => j.arch);
    let ostree = group.ostree ? { ...group.ostree } : undefined;
    if (group.ostreeFrom) {
      const urls = [...new Set(jobs.map((j) => ctxs[j.arch].ostreeSource?.url))];
      if (urls.length !== 1 || !urls[0]) {
        throw new KilnError(`${group.id}: the commit to deploy is not in one repository for all arches (${urls.join(', ')}); Koji takes one ostree URL per task`);
      }
      ostree = { ...(ostree ?? {}), url: urls[0] };
      if (!ostree.ref) ostree.ref = ctxs[jobs[0].arch].ostreeSource!.ref;
    }
    return {
      target: group.target,
      name: group.name,
      version: group.version,
      type: group.type,
      arches,
      failableArches: group.failableArches.filter((a) => arches.includes(a)),
      // $arch stays in: koji-image-builder replaces it per arch on the builder
      ...(group.repos.length ? { repos: group.repos } : {}),
      ...(group.release !== null ? { release: group.release } : {}),
      scratch: group.scratch,
      ...(ostree && Object.keys(ostree).length ? { ostree } : {}),
      ...(group.seed !== undefined ? { seed: group.seed } : {}),
      ...(group.distro ? { distro: group.distro } : {}),
    };
  }

  private async reusableTask(tree: ComposeTree, group: JobGroup, arches: string[], retry: Parameters<typeof withHubRetry>[2]): Promise<number | undefined> {
    const rec = recordedTask(tree, group.id, 'imageBuilderBuild');
    if (!rec || rec.arches.join(' ') !== [...arches].sort().join(' ')) return undefined;
    const info = (await withHubRetry(`${group.id}: getTaskInfo(${rec.taskId})`, () => this.o.session.call('getTaskInfo', rec.taskId), retry)) as XmlRpcStruct | null;
    if (!info || info.state === TASK_STATE.FAILED || info.state === TASK_STATE.CANCELED) return undefined;
    return rec.taskId;
  }

  private async watch(tree: ComposeTree, group: JobGroup, taskId: number, signal: AbortSignal): Promise<WatchResult> {
    const logFile = path.join(tree.globalLogDir(), 'imageBuilderBuild', `${group.id.replace(/[^A-Za-z0-9._+-]/g, '_')}-watch-task.log`);
    fs.mkdirSync(path.dirname(logFile), { recursive: true });
    fs.appendFileSync(logFile, `Task URL: ${this.taskRef(taskId)}\n`);
    return watchTask(this.o.session, taskId, {
      out: { write: (s: string) => fs.appendFileSync(logFile, s) },
      live: false,
      pollMs: this.o.pollMs ?? 15_000,
      maxPollMs: this.o.maxPollMs ?? 60_000,
      ...(this.o.retryDelayMs !== undefined ? { errorBackoffMs: this.o.retryDelayMs } : {}),
      ...(this.o.maxOfflineMs !== undefined ? { maxOfflineMs: this.o.maxOfflineMs } : {}),
      signal,
    });
  }

  /**
   * Unpack an arch's commit tarball and merge it into the group's shared repository (one URL
   * for every arch, as Koji wants), reachable through translate_paths.
   */
  private async publishCommit(tree: ComposeTree, group: JobGroup, job: ImageJob, files: string[], ctx: JobContext, signal: AbortSignal): Promise<OstreeCommitRef> {
    const tar = files.find((f) => f.endsWith('.tar'));
    if (!tar) throw new KilnError(`the ${job.type} build produced no commit tarball (.tar)`);
    const own = await unpackCommit(job, tar, ctx.outputDir, signal);
    const shared = path.join(tree.dir, 'work', 'global', 'ostree', group.id.replace(/[^A-Za-z0-9._+-]/g, '_'), 'repo');
    if (!fs.existsSync(path.join(shared, 'config'))) {
      fs.mkdirSync(shared, { recursive: true });
      await run('ostree', ['init', `--repo=${shared}`, '--mode=archive']);
    }
    await run('ostree', ['pull-local', `--repo=${shared}`, path.join(ctx.outputDir, 'ostree', 'repo'), own.ref]);
    const url = translatePath(shared, this.o.translatePaths ?? []);
    if (url.startsWith('file://')) {
      ctx.log(`${job.id}: warning: the commit repository ${shared} has no translate_paths entry; Koji builders will be given ${url}`);
    }
    return { url, ref: own.ref, ...(own.checksum ? { checksum: own.checksum } : {}) };
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

function fail(msg: string): JobOutcome {
  return { ok: false, error: new KilnError(msg) };
}

/** A one-arch group for run(). */
export function groupOfJob(job: ImageJob): JobGroup {
  return {
    id: job.groupId, where: job.id, keyPath: job.id, variant: job.variant, type: job.type, name: job.name, version: job.version,
    release: job.release, arches: [job.arch], failableArches: job.failable ? [job.arch] : [], repos: job.repos, scratch: job.scratch,
    backend: job.backend, subvariant: job.subvariant, dependsOn: [], jobs: [job],
    ...(job.target ? { target: job.target } : {}),
    ...(job.ostree ? { ostree: job.ostree } : {}),
    ...(job.ostreeFrom ? { ostreeFrom: job.ostreeFrom } : {}),
    ...(job.blueprint ? { blueprint: job.blueprint } : {}),
    ...(job.seed !== undefined ? { seed: job.seed } : {}),
    ...(job.distro ? { distro: job.distro } : {}),
  };
}

export type { TaskView };
