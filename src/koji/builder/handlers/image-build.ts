// The imageBuilderBuild parent task, step for step as koji-image-builder's builder plugin runs
// it: target and build tag, arches, repo, release, initImageBuild, one imageBuilderBuildArch
// subtask per arch (label = arch), wait, completeImageBuild / moveImageBuildToScratch (failBuild
// on error), then a tagBuild subtask.
//
// Restart safety: subtasks carry labels, which the hub deduplicates, and the release and build
// id the task settled on are kept in a small state file in the work dir (and recovered from the
// existing subtasks' requests otherwise), so a host that died and runs the task again continues
// with the same build instead of starting a second one.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { KojiFault } from '../../faults.js';
import { taskStateName } from '../../watch.js';
import type { BuilderConfig } from '../config.js';
import { kwargs, splitKwargs, type XmlRpcStruct, type XmlRpcValue } from '../../xmlrpc.js';
import type { HandlerSpec, TaskContext } from '../task.js';
import { buildError, genericError, isFaultDict } from '../task.js';
import { asInt, asString, asStringList, asStruct, canonArch, requestParams, taskWorkDir } from './common.js';

const BUILD_STATES = { BUILDING: 0, COMPLETE: 1 };

interface ParentState {
  release?: string;
  buildId?: number;
}

function stateFile(ctx: TaskContext): string {
  return join(ctx.config.workDir, 'tasks', String(ctx.id), 'parent.json');
}

function readState(ctx: TaskContext): ParentState {
  try {
    return JSON.parse(readFileSync(stateFile(ctx), 'utf8')) as ParentState;
  } catch {
    return {};
  }
}

function writeState(ctx: TaskContext, s: ParentState): void {
  const f = stateFile(ctx);
  mkdirSync(join(f, '..'), { recursive: true });
  writeFileSync(`${f}.tmp`, JSON.stringify(s));
  renameSync(`${f}.tmp`, f);
}

// ------------------------------------------------------------------------------ build tag repos
//
// Koji 1.35 asks for repos instead of waiting for kojira to notice: the parent task calls
// repo.request (the hub answers with a usable repo, or a queue entry kojira will act on) and,
// without a repo, hands the waiting to a `waitrepo` subtask [tag name, newer_than (legacy,
// None), nvrs, min_event of the request]; waitrepo follows the request with repo.checkRequest
// until it holds a repo, goes inactive (kojira gave up) or the wait times out. Hubs before 1.35
// have no repo.request ("Invalid method"): then the old way, polling getRepo, is used.

/** How long waitrepo waits between checks and in all: [host] repo_wait_pause / repo_wait_timeout. */
type RepoWaitSettings = Pick<BuilderConfig, 'repoWaitPauseMs' | 'repoWaitTimeoutMs'>;

/** The hub predates repo.request (kojixmlrpc: GenericError "Invalid method: <name>"). */
function isMissingMethod(e: unknown, method: string): boolean {
  return e instanceof KojiFault && e.faultString.includes(`Invalid method: ${method}`);
}

interface Nvr {
  name: string;
  version: string;
  release: string;
}

function parseNvr(nvr: string): Nvr {
  const m = /^(.+)-([^-]+)-([^-]+)$/.exec(nvr);
  if (!m) throw genericError(`invalid format: ${nvr}`);
  return { name: m[1]!, version: m[2]!, release: m[3]! };
}

/** "M:SS" since start, as Koji prints waiting times. */
function duration(startMs: number): string {
  const s = Math.floor((Date.now() - startMs) / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

/**
 * What kojid's RepoWatcher does for one tag: ask the hub for a repo that satisfies the
 * conditions (min_event, nvrs), check what comes back, and follow a request until kojira
 * fulfils it.
 */
class RepoWatch {
  readonly builds: Nvr[];
  /** when waitrepo() began: repo_wait_timeout counts from there */
  private startMs = 0;

  private constructor(
    private readonly ctx: TaskContext,
    readonly tag: XmlRpcStruct,
    readonly nvrs: string[],
    readonly minEvent: number | null,
    private readonly settings: RepoWaitSettings,
  ) {
    this.builds = nvrs.map(parseNvr);
  }

  static async create(ctx: TaskContext, tag: XmlRpcValue, nvrs: string[], minEvent: XmlRpcValue): Promise<RepoWatch> {
    const s = ctx.session;
    const info = asStruct(await s.call('getTag', tag, kwargs({ strict: true })), 'getTag');
    let min: number | null = null;
    if (minEvent === 'last') min = await s.call<number | null>('tagLastChangeEvent', asInt(info.id ?? null, 'tag id'));
    else if (minEvent !== null && minEvent !== undefined) min = asInt(typeof minEvent === 'string' ? Number(minEvent) : minEvent, 'min_event');
    return new RepoWatch(ctx, info, nvrs, min, ctx.config);
  }

  get tagId(): number {
    return asInt(this.tag.id ?? null, 'tag id');
  }
  get tagName(): string {
    return String(this.tag.name);
  }

  /**
   * repo.request(tag, min_event, at_event=None, opts=None): {repo, request, duplicate}.
   * Undefined when the hub predates it: the caller then takes the old way, polling getRepo.
   */
  async request(minEvent: number | null): Promise<{ repo: XmlRpcStruct | null; request: XmlRpcStruct | null } | undefined> {
    let answer: XmlRpcValue;
    try {
      // a repeated request only finds the same queue entry (duplicate), so a lost answer may be re-asked
      answer = await this.ctx.session.callWithOptions(
        'repo.request',
        [this.tagId, kwargs({ min_event: minEvent, at_event: null, opts: null })],
        { safeToRepeat: true },
      );
    } catch (e) {
      if (!isMissingMethod(e, 'repo.request')) throw e;
      this.ctx.log('the hub has no repo.request (Koji before 1.35); falling back to polling getRepo');
      return undefined;
    }
    const check = asStruct(answer, 'repo.request');
    const repo = check.repo ? asStruct(check.repo, 'repo.request repo') : null;
    const request = check.request ? asStruct(check.request, 'repo.request request') : null;
    return { repo, request };
  }

  /** RepoWatcher.check_repo: right tag, new enough, holding the nvrs. */
  async checkRepo(repo: XmlRpcStruct): Promise<boolean> {
    if (repo.tag_id !== this.tagId) {
      this.ctx.log(`got repo ${String(repo.id)} for the wrong tag: expected ${this.tagId}, got ${String(repo.tag_id)}`);
      return false;
    }
    if (this.minEvent !== null && Number(repo.create_event) < this.minEvent) {
      this.ctx.log(`got repo ${String(repo.id)} before min event: ${String(repo.create_event)} < ${this.minEvent}`);
      return false;
    }
    if (this.builds.length && !(await this.hasBuilds(asInt(repo.create_event ?? null, 'repo create_event')))) {
      this.ctx.log(`got repo ${String(repo.id)} without the needed builds`);
      return false;
    }
    return true;
  }

  /** koji.util.checkForBuilds: every nvr tagged (with inheritance) at the event. */
  private async hasBuilds(event: number | null): Promise<boolean> {
    for (const b of this.builds) {
      const tagged = await this.ctx.session.call<XmlRpcStruct[]>('listTagged', this.tagId, kwargs({ event, package: b.name, inherit: true }));
      if (!(tagged ?? []).some((t) => t.version === b.version && t.release === b.release)) return false;
    }
    return true;
  }

  private timedOut(): boolean {
    return Date.now() - this.startMs > this.settings.repoWaitTimeoutMs;
  }

  private async pause(): Promise<void> {
    await this.ctx.pause(this.settings.repoWaitPauseMs);
  }

  /** RepoWatcher.wait_request: the request's repo, once kojira made it. */
  private async waitRequest(req: XmlRpcStruct): Promise<XmlRpcStruct> {
    const fields = ['task_id', 'task_state', 'repo_id', 'active', 'tries'] as const;
    const seen = new Map<string, XmlRpcValue>(fields.map((f) => [f, req[f] ?? null]));
    for (;;) {
      const check = asStruct(
        await this.ctx.session.callWithOptions('repo.checkRequest', [req.id ?? null], { safeToRepeat: true }),
        'repo.checkRequest',
      );
      if (check.repo) return asStruct(check.repo, 'repo.checkRequest repo');
      const now = asStruct(check.request ?? null, 'repo.checkRequest request');
      for (const f of fields) {
        const before = seen.get(f) ?? null;
        const after = now[f] ?? null;
        if (before === after) continue;
        seen.set(f, after);
        const show = (v: XmlRpcValue) => (f === 'task_state' && typeof v === 'number' ? taskStateName(v) : String(v));
        this.ctx.log(`repo request ${String(req.id)} updated: ${f}: ${show(before)} -> ${show(after)}`);
      }
      if (this.timedOut()) throw genericError(`Unsuccessfully waited ${duration(this.startMs)} for a new ${this.tagName} repo`);
      if (!now.active) {
        if (now.task_id) this.ctx.log(`repo task ${String(now.task_id)} state is ${taskStateName(Number(now.task_state))}`);
        throw genericError('Repo request no longer active');
      }
      await this.pause();
    }
  }

  /** RepoWatcher.wait_builds: until every nvr is tagged. */
  private async waitBuilds(): Promise<void> {
    for (;;) {
      if (await this.hasBuilds(null)) return;
      if (this.timedOut()) {
        throw genericError(`Unsuccessfully waited ${duration(this.startMs)} for ${this.nvrs.join(', ')} to appear in the ${this.tagName} repo`);
      }
      await this.pause();
    }
  }

  /**
   * RepoWatcher.waitrepo: request, follow the request, re-request when the repo does not fit.
   * newer_than (legacy) only matters on a hub without repo.request.
   */
  async waitrepo(newerThan: number | null): Promise<XmlRpcStruct> {
    this.startMs = Date.now();
    let minEvent: number | null = this.minEvent;
    let req: XmlRpcStruct | null = null;
    for (;;) {
      if (req) {
        const repo = await this.waitRequest(req);
        if (await this.checkRepo(repo)) return repo;
        // the tag changed again (or a hub bug): ask for a repo as of its latest change
        minEvent = await this.ctx.session.call<number | null>('tagLastChangeEvent', this.tagId);
        this.ctx.log(`repo ${String(repo.id)} from request ${String(req.id)} did not satisfy the conditions; asking again`);
        req = null;
      }
      if (this.builds.length) {
        await this.waitBuilds();
        minEvent = await this.ctx.session.call<number | null>('tagLastChangeEvent', this.tagId);
      }
      const got = await this.request(minEvent);
      if (!got) return this.legacyWaitrepo(newerThan);
      if (got.repo) {
        if (await this.checkRepo(got.repo)) return got.repo;
      } else if (got.request) {
        req = got.request;
        this.ctx.log(`waiting on repo request ${String(req.id)} for ${this.tagName} (min_event ${String(req.min_event)})`);
        if (minEvent === null) minEvent = req.min_event === null || req.min_event === undefined ? null : Number(req.min_event);
      } else throw genericError(`repo.request for ${this.tagName} returned neither a repo nor a request`);
      await this.pause();
    }
  }

  /** waitrepo on a hub before 1.35: poll getRepo until the tag has a repo (newer than newer_than) holding the nvrs. */
  private async legacyWaitrepo(newerThan: number | null): Promise<XmlRpcStruct> {
    for (;;) {
      const repo = (await this.ctx.session.call('getRepo', this.tagId)) as XmlRpcStruct | null;
      if (
        repo &&
        (newerThan === null || Number(repo.create_ts) > newerThan) &&
        (!this.builds.length || (await this.hasBuilds(asInt(repo.create_event ?? null, 'create_event'))))
      ) {
        return repo;
      }
      if (this.timedOut()) throw genericError(`Unsuccessfully waited ${duration(this.startMs)} for a new ${this.tagName} repo`);
      await this.pause();
    }
  }
}

/**
 * BaseTaskHandler.getRepo (Koji 1.35): a repo for the build tag now, or a waitrepo subtask
 * that waits for the repo the hub was asked for.
 */
export async function getRepo(ctx: TaskContext, tagId: number): Promise<XmlRpcStruct> {
  const watch = await RepoWatch.create(ctx, tagId, [], null);
  const got = await watch.request(null);
  if (!got) return legacyGetRepo(ctx, watch.tag);
  if (got.repo && (await watch.checkRepo(got.repo))) return got.repo;
  const minEvent = got.request ? (got.request.min_event ?? null) : null;
  ctx.log(`no usable repo for tag ${watch.tagName} yet; ${got.request ? `requested one (request ${String(got.request.id)}), ` : ''}waiting in a waitrepo subtask`);
  // the label makes the subtask call safe to repeat when a restarted host runs the parent again
  const waitId = await ctx.subtask('waitrepo', [watch.tagName, null, [], minEvent], { label: 'waitrepo' });
  const res = await ctx.wait([waitId]);
  return asStruct(res.get(waitId) ?? null, 'waitrepo result');
}

/** getRepo before Koji 1.35: the current repo, else (for a target's build tag) wait for kojira. */
async function legacyGetRepo(ctx: TaskContext, tag: XmlRpcStruct): Promise<XmlRpcStruct> {
  const repo = await ctx.session.call('getRepo', tag.id ?? null);
  if (repo) return asStruct(repo, 'getRepo');
  const targets = await ctx.session.call<XmlRpcValue[]>('getBuildTargets', kwargs({ buildTagID: tag.id ?? null }));
  if (!targets || targets.length === 0) throw buildError(`no repo (and no target) for tag ${String(tag.name)}`);
  ctx.log(`no repo for tag ${String(tag.name)} yet; waiting for one`);
  const waitId = await ctx.subtask('waitrepo', [tag.name ?? null, null, null], { label: 'waitrepo' });
  const res = await ctx.wait([waitId]);
  return asStruct(res.get(waitId) ?? null, 'waitrepo result');
}

/** Release and build a restarted parent already settled on, from its subtasks' requests. */
async function recoverFromChildren(ctx: TaskContext): Promise<string | undefined> {
  const children = await ctx.session.call<XmlRpcStruct[]>('getTaskChildren', ctx.id, kwargs({ request: true }));
  for (const c of children ?? []) {
    if (c.method !== 'imageBuilderBuildArch') continue;
    const req = requestParams(c.request ?? null, `subtask ${String(c.id)}`);
    if (typeof req[2] === 'string') return req[2];
  }
  return undefined;
}

async function imageBuilderBuild(ctx: TaskContext, params: XmlRpcValue[]): Promise<XmlRpcValue> {
  const [targetV, archesV, typesV, nameV, versionV, optsV] = params;
  const target = asString(targetV ?? null, 'target');
  const types = asStringList(typesV ?? null, 'types');
  if (types.length === 0) throw buildError('no image types requested');
  const name = asString(nameV ?? null, 'name');
  const version = asString(versionV ?? null, 'version');
  const opts = asStruct(optsV ?? null, 'opts');
  const s = ctx.session;

  const targetInfo = asStruct(await s.call('getBuildTarget', target, kwargs({ strict: true })), 'getBuildTarget');
  const buildTagId = asInt(targetInfo.build_tag ?? null, 'target build_tag');
  const buildConfig = asStruct(await s.call('getBuildConfig', buildTagId), 'getBuildConfig');
  const tagArches = String(buildConfig.arches ?? '')
    .split(/\s+/)
    .filter(Boolean)
    .map(canonArch);
  if (tagArches.length === 0) throw buildError(`no arches defined for tag ${String(buildConfig.name ?? targetInfo.build_tag_name)}`);
  let arches = asStringList(archesV ?? null, 'arches');
  if (arches.length === 0) {
    arches = [...new Set(tagArches)];
  } else {
    const bad = arches.filter((a) => !tagArches.includes(a));
    if (bad.length) {
      throw buildError(`Unsupported architecture(s): ${bad.join(', ')} (build tag ${String(buildConfig.name)} has arches: ${tagArches.join(' ')})`);
    }
    arches = [...new Set(arches)];
  }
  const repoInfo = await getRepo(ctx, buildTagId);
  const scratch = Boolean(opts.scratch);
  const skipTag = Boolean(opts.skip_tag);

  const saved = readState(ctx);
  let release: string | undefined =
    (typeof opts.release === 'string' && opts.release) || saved.release || (await recoverFromChildren(ctx));
  if (!release) release = asString(await s.call('getNextRelease', { name, version }), 'getNextRelease');
  writeState(ctx, { ...saved, release });

  let buildId: number | undefined;
  let alreadyComplete = false;
  if (!scratch) {
    // a restarted task may have made the build already
    const existing = (await s.call('getBuild', `${name}-${version}-${release}`)) as XmlRpcStruct | null;
    if (existing && Number(existing.task_id) === ctx.id && (existing.state === BUILD_STATES.BUILDING || existing.state === BUILD_STATES.COMPLETE)) {
      buildId = asInt(existing.id ?? null, 'build id');
      alreadyComplete = existing.state === BUILD_STATES.COMPLETE;
      release = String(existing.release);
      ctx.log(`continuing with build ${buildId} (${name}-${version}-${release})`);
    } else {
      if (!skipTag) {
        const pkg = await s.call('getPackageConfig', asString(targetInfo.dest_tag_name ?? null, 'dest_tag_name'), name);
        if (!pkg) throw buildError(`package (image) ${name} not in list for tag ${String(targetInfo.dest_tag_name)}`);
        if ((pkg as XmlRpcStruct).blocked) throw buildError(`package (image) ${name} is blocked for tag ${String(targetInfo.dest_tag_name)}`);
      }
      const nvr = `${name}-${version}-${release}`;
      const b = asStruct(
        await ctx.callChecked<XmlRpcValue>('host.initImageBuild', [ctx.id, { name, version, release, epoch: 0 }], async () => {
          const got = (await s.call('getBuild', nvr)) as XmlRpcStruct | null;
          return got && Number(got.task_id) === ctx.id ? got : undefined;
        }),
        'initImageBuild',
      );
      buildId = asInt(b.id ?? null, 'initImageBuild id');
      release = String(b.release ?? release);
    }
    writeState(ctx, { release, buildId });
  }

  const subtaskIds: number[] = [];
  try {
    if (!alreadyComplete) {
      const failable = new Set(asStringList(opts.failable_arches ?? null, 'opts.failable_arches'));
      const canfail: number[] = [];
      for (const arch of arches) {
        const id = await ctx.subtask(
          'imageBuilderBuildArch',
          [name, version, release, arch, types, targetInfo, buildConfig, repoInfo, opts],
          { label: arch, arch },
        );
        subtaskIds.push(id);
        if (failable.has(arch)) canfail.push(id);
      }
      const results = await ctx.wait(subtaskIds, canfail);
      const values = [...results.values()];
      if (values.every(isFaultDict)) {
        const why = values.map((v) => String((v as XmlRpcStruct).faultString)).join('; ');
        throw genericError(`all subtasks failed: ${why}`);
      }
      for (const [id, v] of results) if (isFaultDict(v)) ctx.log(`failable subtask ${id} failed: ${String(v.faultString)}`);
      // XML-RPC struct keys are strings
      const byId: XmlRpcStruct = {};
      for (const [id, v] of results) byId[String(id)] = v;
      if (scratch) await s.call('host.moveImageBuildToScratch', ctx.id, byId);
      else {
        await ctx.callChecked('host.completeImageBuild', [ctx.id, buildId!, byId], async () => {
          const got = (await s.call('getBuild', buildId!)) as XmlRpcStruct | null;
          return got?.state === BUILD_STATES.COMPLETE ? null : undefined;
        });
      }
    }
  } catch (e) {
    if (!scratch && buildId !== undefined && !ctx.signal.aborted) {
      try {
        await ctx.callChecked('host.failBuild', [ctx.id, buildId], async () => {
          const got = (await s.call('getBuild', buildId!)) as XmlRpcStruct | null;
          return got && got.state !== BUILD_STATES.BUILDING ? null : undefined;
        });
      } catch (e2) {
        ctx.log(`host.failBuild failed: ${(e2 as Error).message}`);
      }
    }
    throw e;
  }

  if (!scratch && !skipTag) {
    const tagTask = await ctx.subtask('tagBuild', [targetInfo.dest_tag ?? null, buildId!, false, null, true], { label: 'tag', arch: 'noarch' });
    await ctx.wait([tagTask]);
  }
  const topdir = ctx.config.topdir;
  if (scratch) return `Scratch image build results in: ${subtaskIds.map((id) => taskWorkDir(topdir, id)).join(', ')}`;
  return `image build results in: ${topdir}/packages/${name}/${version}/${release}/images`;
}

export const imageBuilderBuildSpec: HandlerSpec = { handler: imageBuilderBuild, weight: 0.2 };

/**
 * kojid's WaitrepoTask: waitrepo(tag, newer_than=None, nvrs=None, min_event=None) returns the
 * repo info of a repo of the tag that is at least as new as min_event and holds the nvrs.
 * newer_than is the legacy form ("now", or a time: the tag's first change after it).
 */
async function waitrepo(ctx: TaskContext, params: XmlRpcValue[]): Promise<XmlRpcValue> {
  const { args, kwargs: kw } = splitKwargs(params);
  const names = ['tag', 'newer_than', 'nvrs', 'min_event'];
  const a = new Map<string, XmlRpcValue>(names.map((n, i) => [n, (i < args.length ? args[i] : kw[n]) ?? null]));
  const tag = a.get('tag') ?? null;
  if (tag === null) throw genericError('waitrepo: no tag given');
  const newerThan = a.get('newer_than') ?? null;
  let minEvent = a.get('min_event') ?? null;
  const nvrs = asStringList(a.get('nvrs') ?? null, 'nvrs');
  const s = ctx.session;
  if (newerThan !== null) {
    if (minEvent !== null) throw genericError('newer_than and min_event args conflict');
    if (typeof newerThan === 'string' && newerThan.toLowerCase() === 'now') minEvent = 'last';
    else if (typeof newerThan === 'number') {
      const base = (await s.call('getLastEvent', kwargs({ before: newerThan, strict: false }))) as XmlRpcStruct | null;
      minEvent = (await s.call<number | null>('tagFirstChangeEvent', tag, kwargs({ after: base ? (base.id ?? null) : null }))) ?? 'last';
    } else throw genericError(`Invalid value for newer_than: ${JSON.stringify(newerThan)}`);
  }
  const watch = await RepoWatch.create(ctx, tag, nvrs, minEvent);
  return watch.waitrepo(typeof newerThan === 'number' ? newerThan : null);
}

export const waitrepoSpec: HandlerSpec = { handler: waitrepo, weight: 0.2 };
