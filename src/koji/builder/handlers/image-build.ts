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

import { kwargs, type XmlRpcStruct, type XmlRpcValue } from '../../xmlrpc.js';
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

/**
 * BaseTaskHandler.getRepo: the build tag's current repo; with none, make sure the tag is a
 * build tag of some target and wait for one (waitrepo subtask).
 */
export async function getRepo(ctx: TaskContext, tagId: number): Promise<XmlRpcStruct> {
  const repo = await ctx.session.call('getRepo', tagId);
  if (repo) return asStruct(repo, 'getRepo');
  const tag = asStruct(await ctx.session.call('getTag', tagId, kwargs({ strict: true })), 'getTag');
  const targets = await ctx.session.call<XmlRpcValue[]>('getBuildTargets', kwargs({ buildTagID: tagId }));
  if (!targets || targets.length === 0) throw buildError(`no repo (and no target) for tag ${String(tag.name)}`);
  ctx.log(`no repo for tag ${String(tag.name)} yet; waiting for one`);
  const waitId = await ctx.subtask('waitrepo', [tagId, null, null], { label: 'waitrepo' });
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

/** kojid's WaitrepoTask, reduced: poll getRepo until the tag has a (new enough) repo. */
async function waitrepo(ctx: TaskContext, params: XmlRpcValue[]): Promise<XmlRpcValue> {
  const [tag, newerThan] = params;
  const started = Date.now();
  const timeoutMs = 24 * 3600 * 1000;
  for (;;) {
    const repo = (await ctx.session.call('getRepo', tag ?? null)) as XmlRpcStruct | null;
    if (repo && (typeof newerThan !== 'number' || Number(repo.create_ts) > newerThan)) return repo;
    if (Date.now() - started > timeoutMs) throw genericError(`timed out waiting for a repo for tag ${String(tag)}`);
    await ctx.pause(ctx.config.pollIntervalMs);
  }
}

export const waitrepoSpec: HandlerSpec = { handler: waitrepo, weight: 0.2 };
