// Run a planned compose: schedule groups in dependency order on their backends, tolerate
// failures on failable arches, collect images into the tree, then write CHECKSUM files,
// images.json, composeinfo.json, STATUS and the latest link - Pungi's imagebuilder phase,
// image_checksum phase and compose finish, for image jobs only.
//
// Failure rules (Pungi + koji-image-builder): a failed arch that is failable is recorded as a
// failed deliverable and the compose ends FINISHED_INCOMPLETE; a failed arch that is not
// failable dooms the compose: nothing new is started, running jobs are let finish (as Pungi's
// thread pool does; their results are kept for a resumed run), then STATUS DOOMED.
// A job whose ostree commit producer failed fails too ("dependency failed"). Aborting the signal
// cancels the backends and leaves STATUS TERMINATED.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { KilnError } from '../util/errors.js';
import type { ComposeBackend, JobContext, JobOutcome, JobResult, OstreeCommitRef } from './backend.js';
import { checksumBaseName, fileDigests, writeDirChecksums } from './checksums.js';
import type { BackendKind, ComposeConfig } from './config.js';
import { SUPPORTED_IMAGE_FORMATS, findTypeAndFormat, isIsoFormat } from './image-types.js';
import type { ComposePlan, ImageJob, JobGroup } from './planner.js';
import { ImageManifest, composeHeader, composeInfoDocument, imagesDocument, writeFileAtomic, writeMetadata, type ProductmdImage, type VariantPathsByCategory } from './productmd.js';
import { composeDate, composeIdentity, type ComposeType } from './compose-id.js';
import { planCompose } from './planner.js';
import { ComposeTree, createComposeTree, type ComposeStatus } from './tree.js';

export interface RunComposeOptions {
  config: ComposeConfig;
  plan: ComposePlan;
  tree: ComposeTree;
  backends: Partial<Record<BackendKind, ComposeBackend>>;
  /** groups running at once (default 2) */
  concurrency?: number;
  signal?: AbortSignal;
  log?: (msg: string) => void;
  /**
   * Re-running a compose (same compose directory): jobs whose result an earlier run recorded
   * (jobStateFile) and whose files are all still there are kept, not built again.
   */
  resume?: boolean;
  /** Every job state change, for live displays. */
  onJobState?: (job: ImageJob, state: JobState, detail?: { error?: string }) => void;
}

/** Life of one job as a display sees it. */
export type JobState = 'waiting' | 'running' | 'done' | 'kept' | 'failed' | 'skipped';

/** Where the orchestrator records a finished job's result, so a re-run can keep it. */
export function jobStateFile(tree: ComposeTree, job: ImageJob): string {
  return `${tree.jobWorkDir(job.arch, job.id)}.result.json`;
}

/** The recorded result of an earlier run, if it is complete (every file still present). */
export function readJobState(tree: ComposeTree, job: ImageJob): JobResult | undefined {
  let doc: { job?: string; result?: JobResult };
  try {
    doc = JSON.parse(fs.readFileSync(jobStateFile(tree, job), 'utf8')) as { job?: string; result?: JobResult };
  } catch {
    return undefined;
  }
  const r = doc.result;
  if (doc.job !== job.id || !r || !Array.isArray(r.files)) return undefined;
  if (!r.files.every((f) => typeof f === 'string' && fs.existsSync(f))) return undefined;
  return r;
}

export interface JobReport {
  job: string;
  variant: string;
  arch: string;
  type: string;
  failable: boolean;
  status: 'done' | 'failed' | 'skipped';
  error?: string;
  images: string[];
  log: string;
  /** kept from an earlier run of this compose (resume) */
  resumed?: boolean;
}

export interface ComposeReport {
  status: ComposeStatus;
  composeId: string;
  dir: string;
  jobs: JobReport[];
  images: number;
}

export interface PrepareOptions {
  topdir: string;
  /** overrides the config's compose type / label */
  type?: ComposeType;
  label?: string;
  /** YYYYMMDD, default today (local time, as Pungi) */
  date?: string;
  /** first respin to try, default 0 */
  respin?: number;
}

/**
 * Plan first, then create the compose directory: a config the planner rejects leaves nothing
 * behind under topdir. The plan is made for the respin that is free now and redone if another
 * run took that respin in between.
 */
export function prepareCompose(config: ComposeConfig, o: PrepareOptions): { tree: ComposeTree; plan: ComposePlan } {
  const type = o.type ?? config.compose.type;
  const label = o.label ?? config.compose.label;
  const date = o.date ?? composeDate();
  let respin = o.respin ?? 0;
  const ident = (r: number) => composeIdentity(config.release, { type, date, respin: r, ...(label ? { label } : {}) });
  while (fs.existsSync(path.join(o.topdir, ident(respin).id))) respin++;
  let plan = planCompose(config, ident(respin));
  const tree = createComposeTree(o.topdir, config.release, { type, date, respin, ...(label ? { label } : {}) });
  if (tree.identity.id !== plan.compose.id) plan = planCompose(config, tree.identity);
  return { tree, plan };
}

/**
 * Re-open an existing compose directory to resume it: the identity comes from the compose itself
 * (work/global/composeinfo-base.json), the plan from the config for that identity. A finished
 * compose cannot be resumed (Pungi never modifies one); a compose of another release is refused.
 */
export function openCompose(config: ComposeConfig, dir: string): { tree: ComposeTree; plan: ComposePlan } {
  const abs = path.resolve(dir);
  const base = path.join(abs, 'work', 'global', 'composeinfo-base.json');
  let idFile: string;
  let header: { id?: unknown; type?: unknown; date?: unknown; respin?: unknown; label?: unknown };
  try {
    idFile = fs.readFileSync(path.join(abs, 'COMPOSE_ID'), 'utf8').trim();
    header = (JSON.parse(fs.readFileSync(base, 'utf8')) as { payload: { compose: typeof header } }).payload.compose;
  } catch (e) {
    throw new KilnError(`--resume ${dir}: not a Kiln compose directory (needs COMPOSE_ID and ${path.relative(abs, base)}): ${(e as Error).message}`);
  }
  if (header.id !== idFile || typeof header.date !== 'string' || typeof header.respin !== 'number' || typeof header.type !== 'string') {
    throw new KilnError(`--resume ${dir}: ${path.relative(abs, base)} does not describe compose ${idFile}`);
  }
  const identity = composeIdentity(config.release, {
    type: header.type as ComposeType,
    date: header.date,
    respin: header.respin,
    ...(typeof header.label === 'string' ? { label: header.label } : {}),
  });
  if (identity.id !== idFile) {
    throw new KilnError(`--resume ${dir}: compose ${idFile} is not a compose of ${config.file} (that config makes ids like ${identity.id})`);
  }
  const tree = new ComposeTree(path.dirname(abs), identity);
  const status = tree.readStatus();
  if (status === 'FINISHED' || status === 'FINISHED_INCOMPLETE') {
    throw new KilnError(`--resume ${dir}: compose ${idFile} is ${status}; a finished compose is never modified (start a new one)`);
  }
  return { tree, plan: planCompose(config, identity) };
}

export async function runCompose(o: RunComposeOptions): Promise<ComposeReport> {
  const { config, plan, tree } = o;
  const log = o.log ?? (() => {});
  const onState = o.onJobState ?? (() => {});
  const abort = new AbortController();
  const onOuterAbort = () => abort.abort();
  o.signal?.addEventListener('abort', onOuterAbort, { once: true });

  for (const g of plan.groups) {
    if (!o.backends[g.backend]) throw new KilnError(`${g.where}: backend "${g.backend}" is not available in this run`);
  }
  tree.writeStatus('STARTED');
  const manifest = new ImageManifest();
  const reports = new Map<string, JobReport>();
  const commits = new Map<string, OstreeCommitRef>();
  const failedJobs = new Set<string>();
  const finishedGroups = new Set<string>();
  let doomed: Error | undefined;

  const fail = (job: ImageJob, err: Error, skipped = false) => {
    failedJobs.add(job.id);
    const r = reports.get(job.id)!;
    r.status = skipped ? 'skipped' : 'failed';
    r.error = err.message;
    log(`[FAIL] ${job.id}: ${err.message}${job.failable ? ' (failable, going on)' : ''}`);
    onState(job, r.status as JobState, { error: err.message });
    if (!job.failable && !doomed) {
      doomed = new KilnError(`image ${job.id} failed and is not failable: ${err.message}`);
    }
  };

  const runGroup = async (g: JobGroup) => {
    const backend = o.backends[g.backend]!;
    const ctxs: Record<string, JobContext> = {};
    const runnable: ImageJob[] = [];
    for (const job of g.jobs) {
      reports.set(job.id, {
        job: job.id, variant: job.variant, arch: job.arch, type: job.type, failable: job.failable,
        status: 'done', images: [], log: tree.jobLog(job.arch, job.id),
      });
      const previous = o.resume ? readJobState(tree, job) : undefined;
      if (previous) {
        try {
          await collect(job, previous);
          if (previous.ostreeCommit) commits.set(job.id, previous.ostreeCommit);
          reports.get(job.id)!.resumed = true;
          log(`[KEEP ] ${job.id} (finished in an earlier run)`);
          onState(job, 'kept');
          continue;
        } catch (e) {
          // the recorded files are unusable: build the job again
          log(`[WARN ] ${job.id}: earlier result not reusable (${(e as Error).message}); building again`);
          dropImages(manifest, job.variant, job.arch, reports.get(job.id)!.images);
          reports.get(job.id)!.images = [];
        }
      }
      if (job.ostreeFrom && (failedJobs.has(job.ostreeFrom) || !commits.has(job.ostreeFrom))) {
        fail(job, new KilnError(`dependency failed: ${job.ostreeFrom} produced no ostree commit`), true);
        continue;
      }
      const outputDir = tree.jobWorkDir(job.arch, job.id);
      fs.rmSync(jobStateFile(tree, job), { force: true });
      fs.rmSync(outputDir, { recursive: true, force: true });
      fs.mkdirSync(outputDir, { recursive: true });
      ctxs[job.arch] = {
        tree,
        outputDir,
        logFile: tree.jobLog(job.arch, job.id),
        signal: abort.signal,
        log,
        ...(job.ostreeFrom ? { ostreeSource: commits.get(job.ostreeFrom)! } : {}),
      };
      runnable.push(job);
    }
    if (runnable.length === 0 || abort.signal.aborted || doomed) {
      for (const job of runnable) fail(job, new KilnError('not started: compose stopped'), true);
      return;
    }
    log(`[BEGIN] ${g.id} (${runnable.map((j) => j.arch).join(', ')}) on ${backend.kind}`);
    for (const job of runnable) onState(job, 'running');
    let outcomes: Record<string, JobOutcome>;
    if (backend.runGroup) {
      try {
        outcomes = await backend.runGroup(g, runnable, ctxs);
      } catch (e) {
        outcomes = Object.fromEntries(runnable.map((j) => [j.arch, { ok: false, error: e as Error } as JobOutcome]));
      }
    } else {
      const settled = await Promise.all(
        runnable.map((j) =>
          backend.run(j, ctxs[j.arch]).then(
            (result): JobOutcome => ({ ok: true, result }),
            (error: Error): JobOutcome => ({ ok: false, error }),
          ),
        ),
      );
      outcomes = Object.fromEntries(runnable.map((j, i) => [j.arch, settled[i]]));
    }
    for (const job of runnable) {
      const out = outcomes[job.arch] ?? { ok: false, error: new KilnError('backend returned no result for this arch') };
      if (!out.ok) {
        fail(job, out.error);
        continue;
      }
      try {
        await collect(job, out.result);
        if (out.result.ostreeCommit) commits.set(job.id, out.result.ostreeCommit);
        writeFileAtomic(jobStateFile(tree, job), JSON.stringify({ job: job.id, result: out.result }, null, 2) + '\n');
        log(`[DONE ] ${job.id}`);
        onState(job, 'done');
      } catch (e) {
        fail(job, e as Error);
      }
    }
  };

  const collect = async (job: ImageJob, result: JobResult) => {
    const r = reports.get(job.id)!;
    for (const file of result.files) {
      const tf = findTypeAndFormat(path.basename(file));
      if (!tf) continue; // manifests, SBOMs, commit tarballs: not images productmd can describe
      if (!SUPPORTED_IMAGE_FORMATS.includes(tf.format)) {
        throw new KilnError(`${job.id}: ${path.basename(file)}: format "${tf.format}" is not a productmd image format`);
      }
      const rel = tree.placeImage(file, job.variant, job.arch, tf.format, config.linkType);
      const abs = path.join(tree.composeDir, rel);
      const st = fs.statSync(abs);
      const img: ProductmdImage = {
        path: rel,
        mtime: Math.floor(st.mtimeMs / 1000),
        size: st.size,
        volume_id: null,
        type: job.manifestType ?? tf.type,
        format: tf.format,
        arch: job.arch,
        disc_number: 1,
        disc_count: 1,
        checksums: await fileDigests(abs, config.mediaChecksums),
        implant_md5: null,
        bootable: isIsoFormat(tf.format),
        subvariant: job.subvariant,
      };
      manifest.add(job.variant, job.arch, img);
      r.images.push(rel);
    }
    if (r.images.length === 0 && !result.ostreeCommit) {
      throw new KilnError(`${job.id}: the build produced no image productmd knows (files: ${result.files.map((f) => path.basename(f)).join(', ') || 'none'})`);
    }
  };

  // scheduler: start groups whose dependencies finished, up to `concurrency` at once
  const limit = Math.max(1, o.concurrency ?? 2);
  const pending = [...plan.groups];
  const running = new Map<string, Promise<void>>();
  let terminated = false;
  try {
    while (pending.length > 0 || running.size > 0) {
      if (o.signal?.aborted) terminated = true;
      if (!abort.signal.aborted && !doomed) {
        for (let i = 0; i < pending.length && running.size < limit; ) {
          const g = pending[i];
          if (g.dependsOn.every((d) => finishedGroups.has(d))) {
            pending.splice(i, 1);
            const p = runGroup(g).finally(() => {
              running.delete(g.id);
              finishedGroups.add(g.id);
            });
            running.set(g.id, p);
          } else i++;
        }
      } else {
        for (const g of pending.splice(0)) {
          for (const job of g.jobs) {
            if (!reports.has(job.id)) {
              reports.set(job.id, {
                job: job.id, variant: job.variant, arch: job.arch, type: job.type, failable: job.failable,
                status: 'skipped', error: 'not started: compose stopped', images: [], log: tree.jobLog(job.arch, job.id),
              });
              onState(job, 'skipped', { error: 'not started: compose stopped' });
            }
          }
        }
        if (abort.signal.aborted) await Promise.all(Object.values(o.backends).map((b) => b?.cancel()));
      }
      if (running.size > 0) await Promise.race(running.values());
      else if (pending.length > 0 && !abort.signal.aborted && !doomed) {
        throw new KilnError(`compose plan: ${pending.map((g) => g.id).join(', ')} wait for groups that are not in the plan`);
      }
    }
  } finally {
    o.signal?.removeEventListener('abort', onOuterAbort);
  }
  if (o.signal?.aborted) terminated = true;

  const jobs = plan.groups.flatMap((g) => g.jobs.map((j) => reports.get(j.id)!)).filter(Boolean);
  writeDeliverables(tree, jobs);
  if (terminated) {
    tree.writeStatus('TERMINATED');
    return { status: 'TERMINATED', composeId: tree.identity.id, dir: tree.dir, jobs, images: manifest.count() };
  }
  if (doomed) {
    tree.writeStatus('DOOMED');
    return { status: 'DOOMED', composeId: tree.identity.id, dir: tree.dir, jobs, images: manifest.count() };
  }
  try {
    writeChecksumFiles(config, tree, manifest);
    writeMetadata(path.join(tree.metadataDir, 'images.json'), imagesDocument(composeHeader(tree.identity), manifest.images));
    writeMetadata(
      path.join(tree.metadataDir, 'composeinfo.json'),
      composeInfoDocument({ compose: composeHeader(tree.identity), release: config.release, variants: config.variants, paths: variantPaths(config, tree) }),
    );
  } catch (e) {
    tree.writeStatus('DOOMED');
    throw e;
  }
  const status = tree.writeStatus('FINISHED', jobs.some((j) => j.status !== 'done'));
  if (config.latestLink) tree.updateLatestLink(config.latestLinkComponents);
  return { status, composeId: tree.identity.id, dir: tree.dir, jobs, images: manifest.count() };
}

/** Forget images a half-collected job added (so a rebuild can add its own). */
function dropImages(manifest: ImageManifest, variant: string, arch: string, paths: string[]): void {
  const list = manifest.images[variant]?.[arch];
  if (!list) return;
  manifest.images[variant][arch] = list.filter((i) => !paths.includes(i.path));
}

/** One CHECKSUM (or <ALG>SUM) set per images/ and iso/ directory. */
export function writeChecksumFiles(config: ComposeConfig, tree: ComposeTree, manifest: ImageManifest): string[] {
  const byDir = new Map<string, { variant: string; arch: string; images: { filename: string; size: number; digests: Record<string, string> }[] }>();
  for (const [variant, arches] of Object.entries(manifest.images)) {
    for (const [arch, list] of Object.entries(arches)) {
      for (const img of list) {
        const dir = path.join(tree.composeDir, path.dirname(img.path));
        const e = byDir.get(dir) ?? byDir.set(dir, { variant, arch, images: [] }).get(dir)!;
        e.images.push({ filename: path.basename(img.path), size: img.size, digests: img.checksums });
      }
    }
  }
  const written: string[] = [];
  for (const [dir, e] of byDir) {
    const base = checksumBaseName(config.mediaChecksumBaseFilename, tree.checksumSubsts(e.variant, e.arch, path.basename(dir)));
    written.push(...writeDirChecksums(dir, e.images, { algs: config.mediaChecksums, oneFile: config.mediaChecksumOneFile, baseName: base }));
  }
  return written;
}

/** composeinfo paths: images/iso directories that exist. */
function variantPaths(config: ComposeConfig, tree: ComposeTree): Record<string, VariantPathsByCategory> {
  const out: Record<string, VariantPathsByCategory> = {};
  for (const v of config.variants) {
    const p: VariantPathsByCategory = {};
    for (const arch of v.arches) {
      for (const [cat, sub] of [['images', 'images'], ['isos', 'iso']] as const) {
        const rel = path.posix.join(v.uid, arch, sub);
        if (fs.existsSync(path.join(tree.composeDir, rel))) (p[cat] ??= {})[arch] = rel;
      }
    }
    out[v.uid] = p;
  }
  return out;
}

/** logs/global/deliverables.json like Pungi: required / attempted / failed. */
function writeDeliverables(tree: ComposeTree, jobs: JobReport[]): void {
  const entry = (j: JobReport) => [j.variant, j.arch, j.job];
  writeFileAtomic(
    path.join(tree.globalLogDir(), 'deliverables.json'),
    JSON.stringify(
      {
        required: { imageBuilderBuild: jobs.filter((j) => !j.failable).map(entry) },
        attempted: { imageBuilderBuild: jobs.filter((j) => j.status !== 'skipped').map(entry) },
        failed: { imageBuilderBuild: jobs.filter((j) => j.status !== 'done').map(entry) },
      },
      null,
      4,
    ),
  );
}
