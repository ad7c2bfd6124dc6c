// The remote-service compose backend (the contingency path): an entry with
// `backend: remote-service` is built the way Pungi's osbuild phase builds it - koji-osbuild's
// hub call osbuildImage(name, version, distro, image_types, target, arches, opts) hands the
// build to an Image Builder service, which imports the result into Koji as a content-generator
// build. The task's result names that build ({koji: {build: id}}); its archives carry their arch
// in extra.image.arch and are fetched from packages/N/V/R/images/ (checked against size and
// checksum). As in Pungi, failure is all-or-nothing per task: koji-osbuild has no per-arch
// failable subtasks, so a failed task fails every arch of the group (each still failable or not
// as configured).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { KilnError } from '../../util/errors.js';
import type { KojiSession } from '../../koji/session.js';
import { TASK_STATE, watchTask } from '../../koji/watch.js';
import { kwargs, type XmlRpcStruct, type XmlRpcValue } from '../../koji/xmlrpc.js';
import type { ComposeBackend, JobContext, JobOutcome, JobResult } from '../backend.js';
import type { ImageJob, JobGroup } from '../planner.js';
import { fetchHubFile, recordTask, recordedTask, withHubRetry, type RemoteFile } from './koji-common.js';
import { groupOfJob, TOPDIR_ONLY_URL, type KojiBackendOptions } from './koji.js';

const CHECKSUM_TYPES: Record<number, 'md5' | 'sha1' | 'sha256'> = { 0: 'md5', 1: 'sha1', 2: 'sha256' };

function isStruct(v: XmlRpcValue | undefined): v is XmlRpcStruct {
  return v !== null && v !== undefined && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Uint8Array) && !(v instanceof Date);
}

/** koji-osbuild's osbuildImage parameters for a group (Pungi osbuild phase shape). */
export function osbuildImageParams(group: JobGroup, arches: string[], ostreeUrl?: string): XmlRpcValue[] {
  if (!group.target) throw new KilnError(`${group.where}: the remote-service backend needs a Koji build target: set "target" (or imagebuilder_target / global_target)`);
  if (!group.distro) throw new KilnError(`${group.where}: the remote-service backend (koji-osbuild) needs "distro" (e.g. fedora-42): the service does not guess it`);
  const opts: XmlRpcStruct = { repo: group.repos.map((baseurl) => ({ baseurl })) };
  if (group.release !== null) opts.release = group.release;
  const ostree: XmlRpcStruct = {};
  const url = ostreeUrl ?? group.ostree?.url;
  if (url) ostree.url = url;
  if (group.ostree?.ref) ostree.ref = group.ostree.ref;
  if (group.ostree?.parent) ostree.parent = group.ostree.parent;
  if (Object.keys(ostree).length) opts.ostree = ostree;
  if (group.blueprint) opts.customizations = JSON.parse(JSON.stringify(group.blueprint.customizations ?? {})) as XmlRpcStruct;
  return [group.name, group.version, group.distro, [group.type], group.target, [...arches], opts];
}

export class RemoteServiceBackend implements ComposeBackend {
  readonly kind = 'remote-service' as const;
  private readonly active = new Set<number>();
  private cancelled = false;

  constructor(private readonly o: KojiBackendOptions) {
    if (!o.topurl && !o.topdir) throw new KilnError('remote-service backend: needs the hub\'s topurl (koji.topurl / --topurl) or a mounted topdir (--koji-topdir)');
  }

  private get topurl(): string {
    return (this.o.topurl ?? TOPDIR_ONLY_URL).replace(/\/+$/, '');
  }

  private taskRef(id: number): string {
    return this.o.weburl ? `${this.o.weburl.replace(/\/+$/, '')}/taskinfo?taskID=${id}` : `task ${id}`;
  }

  async run(job: ImageJob, ctx: JobContext): Promise<JobResult> {
    const out = (await this.runGroup(groupOfJob(job), [job], { [job.arch]: ctx }))[job.arch];
    if (!out || !out.ok) throw out?.error ?? new KilnError(`${job.id}: no result`);
    return out.result;
  }

  async runGroup(group: JobGroup, jobs: ImageJob[], ctxs: Record<string, JobContext>): Promise<Record<string, JobOutcome>> {
    const first = ctxs[jobs[0].arch];
    const { tree, signal } = first;
    const say = (m: string) => {
      for (const j of jobs) {
        fs.mkdirSync(path.dirname(ctxs[j.arch].logFile), { recursive: true });
        fs.appendFileSync(ctxs[j.arch].logFile, `${m}\n`);
      }
      first.log(m);
    };
    const retry = { signal, log: say, ...(this.o.maxOfflineMs !== undefined ? { maxOfflineMs: this.o.maxOfflineMs } : {}), ...(this.o.retryDelayMs !== undefined ? { firstDelayMs: this.o.retryDelayMs } : {}) };
    if (this.cancelled) throw new KilnError(`${group.id}: cancelled`);
    const arches = jobs.map((j) => j.arch);
    const srcUrls = [...new Set(jobs.map((j) => ctxs[j.arch].ostreeSource?.url).filter((u): u is string => !!u))];
    if (srcUrls.length > 1) throw new KilnError(`${group.id}: the commit to deploy is not in one repository for all arches`);
    const params = osbuildImageParams(group, arches, srcUrls[0]);

    let taskId: number | undefined;
    const rec = recordedTask(tree, group.id, 'osbuildImage');
    if (rec && rec.arches.join(' ') === [...arches].sort().join(' ')) {
      const info = (await withHubRetry(`${group.id}: getTaskInfo`, () => this.o.session.call('getTaskInfo', rec.taskId), retry)) as XmlRpcStruct | null;
      if (info && info.state !== TASK_STATE.FAILED && info.state !== TASK_STATE.CANCELED) taskId = rec.taskId;
    }
    if (taskId) say(`${group.id}: re-attaching to Koji ${this.taskRef(taskId)} from an earlier run`);
    else {
      // osbuildImage creates a task: never repeated when its effect is unknown (withHubRetry)
      const id = await withHubRetry(`${group.id}: osbuildImage`, () => this.o.session.call('osbuildImage', ...params), retry);
      if (typeof id !== 'number') throw new KilnError(`${group.id}: osbuildImage returned ${JSON.stringify(id)} instead of a task id`);
      taskId = id;
      recordTask(tree, group.id, 'osbuildImage', taskId, arches);
      say(`${group.id}: osbuildImage(${JSON.stringify(params.slice(0, 6)).slice(1, -1)}) -> Task URL: ${this.taskRef(taskId)}`);
    }
    this.active.add(taskId);
    const logFile = path.join(tree.globalLogDir(), 'osbuild', `${group.id.replace(/[^A-Za-z0-9._+-]/g, '_')}-watch-task.log`);
    fs.mkdirSync(path.dirname(logFile), { recursive: true });
    let res;
    try {
      res = await watchTask(this.o.session, taskId, {
        out: { write: (s: string) => fs.appendFileSync(logFile, s) },
        live: false,
        pollMs: this.o.pollMs ?? 15_000,
        maxPollMs: this.o.maxPollMs ?? 60_000,
        ...(this.o.maxOfflineMs !== undefined ? { maxOfflineMs: this.o.maxOfflineMs } : {}),
        signal,
      });
    } finally {
      this.active.delete(taskId);
    }
    if (res.interrupted || signal.aborted) {
      // stopped while the task runs: cancel it now (Pungi's TERMINATED handler does the same)
      await this.cancelTask(taskId);
      throw new KilnError(`${group.id}: cancelled (Koji ${this.taskRef(taskId)})`);
    }
    const outcomes: Record<string, JobOutcome> = {};
    const failAll = (why: string) => {
      for (const j of jobs) outcomes[j.arch] = { ok: false, error: new KilnError(`${j.id}: ${why}`) };
      return outcomes;
    };
    if (res.state !== TASK_STATE.CLOSED) {
      const reason = res.tasks.find((t) => t.id === taskId)?.failure;
      return failAll(`Koji osbuildImage ${this.taskRef(taskId)} ${res.stateName}${reason ? `: ${reason}` : ''}`);
    }

    let byArch: Map<string, (RemoteFile & { name: string })[]>;
    try {
      byArch = await withHubRetry(`${group.id}: reading the build of task ${taskId}`, () => this.archives(taskId!), retry);
    } catch (e) {
      return failAll((e as Error).message);
    }
    for (const j of jobs) {
      const list = byArch.get(j.arch) ?? [];
      if (list.length === 0) {
        outcomes[j.arch] = { ok: false, error: new KilnError(`${j.id}: the build of Koji ${this.taskRef(taskId)} has no archive for ${j.arch}`) };
        continue;
      }
      try {
        const files: string[] = [];
        for (const f of list) {
          const dest = path.join(ctxs[j.arch].outputDir, f.name);
          await fetchHubFile(f, dest, {
            topurl: this.topurl,
            ...(this.o.topdir ? { topdir: this.o.topdir } : {}),
            ...(this.o.linkType ? { linkType: this.o.linkType } : {}),
            ...(this.o.serverCa ? { serverCa: this.o.serverCa } : {}),
            signal,
          });
          files.push(dest);
          fs.appendFileSync(ctxs[j.arch].logFile, `fetched ${f.name} (${f.size} bytes): ${f.url}\n`);
        }
        outcomes[j.arch] = { ok: true, result: { files, info: { koji_task: taskId } } };
      } catch (e) {
        outcomes[j.arch] = { ok: false, error: new KilnError(`${j.id}: ${(e as Error).message}`) };
      }
    }
    return outcomes;
  }

  /** The content-generator build's image archives by arch (Pungi: archive.extra.image.arch). */
  private async archives(taskId: number): Promise<Map<string, (RemoteFile & { name: string })[]>> {
    const result = await this.o.session.call('getTaskResult', taskId);
    const kojiPart = isStruct(result) ? result.koji : undefined;
    const buildId = isStruct(kojiPart) ? kojiPart.build : undefined;
    if (typeof buildId !== 'number') throw new KilnError(`Koji ${this.taskRef(taskId)}: the task result names no Koji build (expected {koji: {build: ID}})`);
    const build = await this.o.session.call('getBuild', buildId);
    if (!isStruct(build)) throw new KilnError(`Koji ${this.taskRef(taskId)}: build ${buildId} does not exist`);
    const archives = await this.o.session.call('listArchives', kwargs({ buildID: buildId }));
    const out = new Map<string, (RemoteFile & { name: string })[]>();
    const enc = (s: unknown) => encodeURIComponent(String(s));
    for (const a of Array.isArray(archives) ? archives : []) {
      if (!isStruct(a) || typeof a.filename !== 'string') continue;
      const extra = isStruct(a.extra) ? a.extra : undefined;
      const image = extra && isStruct(extra.image) ? extra.image : undefined;
      const arch = image?.arch;
      if (typeof arch !== 'string') throw new KilnError(`Koji build ${buildId}: archive ${a.filename} has no extra.image.arch (not an image archive of a content-generator build?)`);
      const type = CHECKSUM_TYPES[Number(a.checksum_type)];
      const f = {
        name: path.basename(a.filename),
        url: `${this.topurl}/packages/${enc(build.name)}/${enc(build.version)}/${enc(build.release)}/images/${enc(a.filename)}`,
        size: Number(a.size),
        ...(type && typeof a.checksum === 'string' ? { checksum: { type, hex: a.checksum } } : {}),
      };
      (out.get(arch) ?? out.set(arch, []).get(arch)!).push(f);
    }
    return out;
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
    await Promise.all([...this.active].map((id) => this.cancelTask(id)));
  }
}
