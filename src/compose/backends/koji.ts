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
import { TASK_STATE, taskStateName, type TaskView, type WatchResult } from '../../koji/watch.js';
import type { XmlRpcStruct, XmlRpcValue } from '../../koji/xmlrpc.js';
import { KilnError } from '../../util/errors.js';
import type { JobContext, JobResult, OstreeCommitRef } from '../backend.js';
import { OSTREE_COMMIT_TYPES, translatePath, type ImageJob, type JobGroup } from '../planner.js';
import { safeName } from '../tree.js';
import { KojiTaskBackend, withHubRetry, type CollectJob, type HubRetryOptions, type KojiBackendOptions } from './koji-common.js';
import { unpackCommit } from './local.js';

export type { KojiBackendOptions };

const run = promisify(execFile);

export class KojiBackend extends KojiTaskBackend {
  constructor(o: KojiBackendOptions) {
    super(o, { kind: 'koji', method: 'imageBuilderBuild', watchLogDir: 'imageBuilderBuild' });
  }

  protected params(group: JobGroup, jobs: ImageJob[], ctxs: Record<string, JobContext>): XmlRpcValue[] {
    const params = imageBuilderBuildParams(this.request(group, jobs, ctxs));
    if (group.blueprint) (params[5] as XmlRpcStruct).blueprint = JSON.parse(JSON.stringify(group.blueprint)) as XmlRpcStruct;
    return params;
  }

  protected async submit(group: JobGroup, params: XmlRpcValue[], retry: HubRetryOptions): Promise<number> {
    await withHubRetry(`${group.id}: getBuildTarget`, () => checkTarget(this.o.session, group.target!), retry);
    if (this.cancelled || retry.signal.aborted) throw new KilnError(`${group.id}: cancelled`);
    return withHubRetry(`${group.id}: imageBuilderBuild`, () => submitImageBuild(this.o.session, params), retry);
  }

  protected override failure(res: WatchResult, taskId: number, arch: string): string | undefined {
    const kid = archTask(res, taskId, arch);
    return kid?.state === TASK_STATE.FAILED ? kid.failure : super.failure(res, taskId, arch);
  }

  /** Each arch's files come from its imageBuilderBuildArch child: the imported build's, or a scratch task's. */
  protected async outputs(group: JobGroup, taskId: number, res: WatchResult, retry: HubRetryOptions): Promise<CollectJob> {
    const plan = await withHubRetry(`${group.id}: listing the outputs of task ${taskId}`, () => planTaskDownload(this.o.session, taskId, { topurl: this.topurl, logs: false }), retry);
    return async (j, ctx) => {
      const kid = archTask(res, taskId, j.arch);
      if (!kid || kid.state !== TASK_STATE.CLOSED) {
        throw new KilnError(
          `Koji imageBuilderBuildArch ${kid ? `${this.taskRef(kid.id)} ${taskStateName(kid.state)}${kid.failure ? `: ${kid.failure}` : ''}` : `task for ${j.arch} missing under ${this.taskRef(taskId)}`}`,
        );
      }
      const mine = plan.filter((f) => f.taskId === kid.id && !f.name.endsWith('.log'));
      if (mine.length === 0) throw new KilnError(`Koji ${this.taskRef(kid.id)} has no output files`);
      const files = await this.fetch(mine.map((f) => ({ ...f, from: f.source === 'build' ? 'the build' : `task ${f.taskId}` })), ctx);
      const result: JobResult = { files, info: { koji_task: taskId, koji_arch_task: kid.id, scratch: group.scratch } };
      if (OSTREE_COMMIT_TYPES.has(j.type)) result.ostreeCommit = await this.publishCommit(group, j, files, ctx);
      return result;
    };
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
      ...(group.preview !== undefined ? { preview: group.preview } : {}),
      ...(group.distro ? { distro: group.distro } : {}),
    };
  }

  /**
   * Unpack an arch's commit tarball and merge it into the group's shared repository (one URL
   * for every arch, as Koji wants), reachable through translate_paths.
   */
  private async publishCommit(group: JobGroup, job: ImageJob, files: string[], ctx: JobContext): Promise<OstreeCommitRef> {
    const tar = files.find((f) => f.endsWith('.tar'));
    if (!tar) throw new KilnError(`the ${job.type} build produced no commit tarball (.tar)`);
    const own = await unpackCommit(job, tar, ctx.outputDir, ctx.signal);
    const shared = path.join(ctx.tree.dir, 'work', 'global', 'ostree', safeName(group.id), 'repo');
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
}

/** The imageBuilderBuildArch child that builds `arch` (by label, else by the task's arch). */
function archTask(res: WatchResult, taskId: number, arch: string): TaskView | undefined {
  const kids = res.tasks.filter((t) => t.parent === taskId && t.method === 'imageBuilderBuildArch');
  return kids.find((k) => k.label === arch) ?? kids.find((k) => k.arch === arch);
}

export type { TaskView };
