// The imageBuilderBuildArch child task: build one image type for one arch with Kiln and upload
// the image, its manifest, SBOMs and the build log into the task's upload dir, returning the
// result dict koji-image-builder returns (Pungi and the hub's import read it).
import { mkdirSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';

import { parseBlueprint } from '../../../blueprint/index.js';
import type { Blueprint } from '../../../blueprint/types.js';
import type { OstreeOptions } from '../../../manifest/types.js';
import { KilnError } from '../../../util/errors.js';
import type { KojiSession } from '../../session.js';
import { fastUpload, taskUploadDir } from '../../upload.js';
import { kwargs, type XmlRpcStruct, type XmlRpcValue } from '../../xmlrpc.js';
import { matchArchiveType, parseArchiveTypes } from '../archive-types.js';
import { StreamedLog } from '../log-stream.js';
import { chooseDistro, type ImageBuildRequest } from '../runner.js';
import type { HandlerSpec, TaskContext } from '../task.js';
import { buildError } from '../task.js';
import { asInt, asString, asStringList, asStruct, substArch } from './common.js';
import { formatNevra, type Nevra } from '../../../rpm/nevra.js';

export const TASK_LOG_NAME = 'kiln-build.log';

function blueprintFrom(v: XmlRpcValue, taskId: number): Blueprint | undefined {
  if (v === undefined || v === null) return undefined;
  const obj = asStruct(v, 'opts.blueprint');
  // the same validation a blueprint file gets (unknown keys, types), naming where it came from
  return parseBlueprint(JSON.stringify(obj), 'json', `task ${taskId} opts.blueprint`);
}

function ostreeFrom(v: XmlRpcValue, arch: string): OstreeOptions | undefined {
  if (v === undefined || v === null) return undefined;
  const o = asStruct(v, 'opts.ostree');
  const out: OstreeOptions = {};
  if (typeof o.url === 'string' && o.url) out.url = o.url;
  if (typeof o.ref === 'string' && o.ref) out.ref = substArch(o.ref, arch);
  if (typeof o.parent === 'string' && o.parent) out.parent = o.parent;
  return Object.keys(out).length ? out : undefined;
}

async function imageBuilderBuildArch(ctx: TaskContext, params: XmlRpcValue[]): Promise<XmlRpcValue> {
  const [nameV, versionV, releaseV, archV, typesV, targetInfoV, , repoInfoV, optsV] = params;
  const name = asString(nameV ?? null, 'name');
  const version = asString(versionV ?? null, 'version');
  const release = asString(releaseV ?? null, 'release');
  const arch = asString(archV ?? null, 'arch');
  const types = asStringList(typesV ?? null, 'types');
  if (types.length === 0) throw buildError('no image types requested');
  const targetInfo = asStruct(targetInfoV ?? null, 'target_info');
  const repoInfo = asStruct(repoInfoV ?? null, 'repo_info');
  const opts = asStruct(optsV ?? null, 'opts');
  const cfg = ctx.config;
  if (!cfg.arches.includes(arch)) throw buildError(`host ${cfg.hostName} does not build arch ${arch} (it builds: ${cfg.arches.join(', ')})`);
  if (opts.bootc !== undefined && opts.bootc !== null) throw buildError('opts.bootc is not supported by Kiln build hosts');

  let repos = asStringList(opts.repos ?? null, 'opts.repos').map((r) => substArch(r, arch));
  if (repos.length === 0) {
    const tag = asString(targetInfo.build_tag_name ?? null, 'target_info.build_tag_name');
    repos = [`${cfg.topurl}/repos/${tag}/${asInt(repoInfo.id ?? null, 'repo_info.id')}/${arch}`];
  }
  const blueprint = blueprintFrom(opts.blueprint, ctx.id);
  const seed = opts.seed === undefined || opts.seed === null ? undefined : BigInt(asInt(opts.seed, 'opts.seed'));
  const preview = typeof opts.preview === 'boolean' ? opts.preview : undefined;
  const distro = chooseDistro(
    { taskDistro: typeof opts.distro === 'string' ? opts.distro : undefined, blueprintDistro: blueprint?.distro },
    ctx.env.distroFallback,
  );
  const ostree = ostreeFrom(opts.ostree, arch);
  const outputName = `${name}-${version}-${release}.${arch}`;

  // a killed earlier run of this task may have left files; start clean
  const taskDir = join(cfg.workDir, 'tasks', String(ctx.id));
  rmSync(taskDir, { recursive: true, force: true });
  const outputDir = join(taskDir, 'output');
  mkdirSync(outputDir, { recursive: true });
  const uploadDir = taskUploadDir(ctx.id);
  const log = new StreamedLog(join(taskDir, TASK_LOG_NAME), ctx.session, uploadDir, TASK_LOG_NAME, cfg.logIntervalMs);
  log.start();
  const logLine = (l: string) => log.line(l);

  try {
    const requests: ImageBuildRequest[] = types.map((imageType) => ({
      imageType,
      arch,
      ...(distro ? { distro } : {}),
      ...(blueprint ? { blueprint } : {}),
      repos,
      ...(seed !== undefined ? { seed } : {}),
      ...(preview !== undefined ? { preview } : {}),
      ...(ostree ? { ostree } : {}),
      outputDir,
      outputName,
      cacheDir: cfg.cacheDir,
      buildroot: cfg.buildroot,
      ...(cfg.definitionsDir ? { definitionsDir: cfg.definitionsDir } : {}),
      log: logLine,
      signal: ctx.signal,
    }));
    logLine(`Kiln build of ${types.join(', ')} for ${arch}: ${outputName}, repos: ${repos.join(' ')}`);

    // Before building: every file we will hand to completeImageBuild needs an archive type on
    // this hub, or the import fails after the whole build (upstream only finds out then).
    // Scratch builds are not imported, so there it is only a warning.
    const archiveTypes = parseArchiveTypes(await ctx.session.call('getArchiveTypes'));
    for (const req of requests) {
      const ext = await ctx.env.runner.imageExtension(req);
      const files = [`${outputName}.${ext}`, ...(await ctx.env.runner.sideFileSuffixes(req)).map((s) => `${outputName}.${s}`)];
      for (const f of files) {
        if (matchArchiveType(f, archiveTypes)) continue;
        const fext = f.slice(outputName.length + 1);
        const msg =
          `image type ${req.imageType} produces ${f}, but the Koji hub has no archive type for the extension "${fext}"; ` +
          `the hub would refuse to import it. A Koji admin can register one with addArchiveType ` +
          `(e.g. koji call addArchiveType <name> "<description>" ${fext})`;
        if (opts.scratch) logLine(`warning: ${msg}`);
        else throw buildError(msg);
      }
    }

    const uploaded: string[] = [];
    const packages = new Map<string, XmlRpcStruct>();
    for (const req of requests) {
      logLine(`building ${req.imageType}`);
      let out;
      try {
        out = await ctx.env.runner.build(req);
      } catch (e) {
        if (ctx.signal.aborted) throw e;
        const m = e instanceof KilnError ? e.message : ((e as Error).stack ?? String(e));
        logLine(`build failed: ${m}`);
        throw buildError(`Kiln build of ${req.imageType} for ${arch} failed: ${e instanceof Error ? e.message : String(e)}`);
      }
      const fresh: XmlRpcStruct[] = [];
      for (const p of out.packages) {
        const key = `${p.name}-${p.epoch}:${p.version}-${p.release}.${p.arch}`;
        if (packages.has(key)) continue;
        const entry: XmlRpcStruct = { name: p.name, version: p.version, release: p.release, epoch: p.epoch, arch: p.arch };
        packages.set(key, entry);
        fresh.push(entry);
      }
      // The hub's import looks up every rpmlist entry and refuses the whole import at the first
      // one it does not know, after it has already moved the images into the build's dir. Find
      // that out now, before uploading. Scratch builds are not imported.
      if (cfg.rpmlist === 'image' && !opts.scratch) {
        logLine(`checking the image's ${fresh.length} RPMs against the hub (build.rpmlist = "image")`);
        const problem = await rpmlistProblem(ctx.session, fresh, cfg.file);
        if (problem) throw buildError(problem);
      }
      for (const f of [out.image, ...out.sideFiles]) {
        logLine(`uploading ${basename(f)}`);
        const r = await fastUpload(ctx.session, f, uploadDir, { signal: ctx.signal });
        if (r.resumes) logLine(`upload of ${basename(f)} resumed ${r.resumes} time(s)`);
        if (!uploaded.includes(r.name)) uploaded.push(r.name);
      }
    }
    logLine('done');
    await log.close();
    rmSync(taskDir, { recursive: true, force: true });
    return {
      task_id: ctx.id,
      name,
      version,
      release,
      arch,
      files: uploaded,
      // a log the hub does not have would make the import / move to scratch fail
      logs: log.complete ? [TASK_LOG_NAME] : [],
      rpmlist: cfg.rpmlist === 'image' ? [...packages.values()] : [],
    };
  } catch (e) {
    if (!ctx.signal.aborted) logLine(`error: ${(e as Error).message}`);
    await log.close();
    if (!ctx.signal.aborted) rmSync(taskDir, { recursive: true, force: true });
    throw e;
  }
}

/** An rpmlist entry (the image's package, as a struct) in dnf's spelling. */
const nvra = (r: XmlRpcStruct) => formatNevra(r as unknown as Nevra);

/**
 * What host.completeImageBuild would refuse in an rpmlist: entries getRPM (name, version,
 * release, arch; the hub does not compare the epoch) does not find, and draft rpms
 * (importImageInternal rejects those). Undefined when the hub knows them all.
 */
async function rpmlistProblem(session: KojiSession, rpms: XmlRpcStruct[], configFile: string): Promise<string | undefined> {
  if (rpms.length === 0) return undefined;
  const res = await session.multiCall(
    rpms.map((r) => ({ method: 'getRPM', params: [{ name: r.name!, version: r.version!, release: r.release!, arch: r.arch! }, kwargs({ strict: false })] })),
    { batch: 1000 },
  );
  const unknown: string[] = [];
  const draft: string[] = [];
  res.forEach((r, i) => {
    if (!r.ok) throw r.error;
    if (r.value === null || r.value === undefined) unknown.push(nvra(rpms[i]!));
    else if ((r.value as XmlRpcStruct).draft === true) draft.push(nvra(rpms[i]!));
  });
  if (!unknown.length && !draft.length) return undefined;
  const first = (l: string[]) => l.slice(0, 10).join(', ') + (l.length > 10 ? `, ... (${l.length - 10} more)` : '');
  const parts: string[] = [];
  if (unknown.length) parts.push(`${unknown.length} of the image's ${rpms.length} RPMs are not known to the Koji hub: ${first(unknown)}`);
  if (draft.length) parts.push(`${draft.length} are draft RPMs, which an image may not list: ${first(draft)}`);
  return (
    `build.rpmlist = "image" in ${configFile}: ${parts.join('; ')}. The hub's image import (host.completeImageBuild) ` +
    `refuses an rpmlist with RPMs it has no record of; only RPMs built in or imported into this Koji can be listed. ` +
    `Set build.rpmlist = "none" (the default, as koji-image-builder) to report no RPMs`
  );
}

export const imageBuilderBuildArchSpec: HandlerSpec = { handler: imageBuilderBuildArch, weight: 0.2 };
