// The remote-service compose backend (the contingency path): an entry with
// `backend: remote-service` is built the way Pungi's osbuild phase builds it - koji-osbuild's
// hub call osbuildImage(name, version, distro, image_types, target, arches, opts) hands the
// build to an Image Builder service, which imports the result into Koji as a content-generator
// build. The task's result names that build ({koji: {build: id}}); its archives carry their arch
// in extra.image.arch and are fetched from packages/N/V/R/images/ (checked against size and
// checksum). As in Pungi, failure is all-or-nothing per task: koji-osbuild has no per-arch
// failable subtasks, so a failed task fails every arch of the group (each still failable or not
// as configured).
import * as path from 'node:path';
import { KilnError } from '../../util/errors.js';
import type { WatchResult } from '../../koji/watch.js';
import { kwargs, type XmlRpcStruct, type XmlRpcValue } from '../../koji/xmlrpc.js';
import type { JobContext } from '../backend.js';
import type { ImageJob, JobGroup } from '../planner.js';
import { KojiTaskBackend, withHubRetry, type CollectJob, type HubRetryOptions, type KojiBackendOptions, type RemoteFile } from './koji-common.js';

const CHECKSUM_TYPES: Record<number, 'md5' | 'sha1' | 'sha256'> = { 0: 'md5', 1: 'sha1', 2: 'sha256' };

function isStruct(v: XmlRpcValue | undefined): v is XmlRpcStruct {
  return v !== null && v !== undefined && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Uint8Array) && !(v instanceof Date);
}

/** koji-osbuild's osbuildImage parameters for a group (Pungi osbuild phase shape). */
export function osbuildImageParams(group: JobGroup, arches: string[], ostreeUrl?: string): XmlRpcValue[] {
  if (!group.target) throw new KilnError(`${group.where}: the remote-service backend needs a Koji build target: set "target" (or imagebuilder_target / global_target)`);
  if (!group.distro) throw new KilnError(`${group.where}: the remote-service backend (koji-osbuild) needs "distro" (e.g. fedora-42): the service does not guess it`);
  // building with another prerelease state than asked would be a silent difference in the images
  if (group.preview !== undefined) throw new KilnError(`${group.where}: "preview" cannot be honoured by the remote-service backend: koji-osbuild's osbuildImage has no such option`);
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

export class RemoteServiceBackend extends KojiTaskBackend {
  constructor(o: KojiBackendOptions) {
    super(o, { kind: 'remote-service', method: 'osbuildImage', watchLogDir: 'osbuild' });
  }

  protected params(group: JobGroup, jobs: ImageJob[], ctxs: Record<string, JobContext>): XmlRpcValue[] {
    const srcUrls = [...new Set(jobs.map((j) => ctxs[j.arch].ostreeSource?.url).filter((u): u is string => !!u))];
    if (srcUrls.length > 1) throw new KilnError(`${group.id}: the commit to deploy is not in one repository for all arches`);
    return osbuildImageParams(group, jobs.map((j) => j.arch), srcUrls[0]);
  }

  protected async submit(group: JobGroup, params: XmlRpcValue[], retry: HubRetryOptions): Promise<number> {
    const id = await withHubRetry(`${group.id}: osbuildImage`, () => this.o.session.call('osbuildImage', ...params), retry);
    if (typeof id !== 'number') throw new KilnError(`${group.id}: osbuildImage returned ${JSON.stringify(id)} instead of a task id`);
    return id;
  }

  /** koji-osbuild has no per-arch subtasks: each arch's files are the build's archives for it. */
  protected async outputs(group: JobGroup, taskId: number, _res: WatchResult, retry: HubRetryOptions): Promise<CollectJob> {
    const byArch = await withHubRetry(`${group.id}: reading the build of task ${taskId}`, () => this.archives(taskId), retry);
    return async (j, ctx) => {
      const list = byArch.get(j.arch) ?? [];
      if (list.length === 0) throw new KilnError(`the build of Koji ${this.taskRef(taskId)} has no archive for ${j.arch}`);
      return { files: await this.fetch(list, ctx), info: { koji_task: taskId } };
    };
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
}
