// The local compose backend: every image job is a `kiln build` on this machine. Jobs share one
// Kiln store (downloaded sources and finished pipelines are reused across images), run a few at
// a time, write their outputs into the job's work directory under the names the planner chose
// (`<name>-<version>-<release>.<arch>.<ext>`, as koji-image-builder asks image-builder for), and
// log into the compose's per-job log.
//
// The iot-commit job's output is a tarball holding an ostree repository at /repo. Deployments
// (raw images, installers) need a repository they can pull from, so the tarball is unpacked next
// to it and reported as `file://<dir>/repo` plus the ref it holds (JobResult.ostreeCommit); the
// orchestrator hands that to the jobs that deploy it (JobContext.ostreeSource).
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { BuildOptions, BuildResult } from '../../build/build.js';
import type { ProgressSink } from '../../build/progress.js';
import type { BuildRootMode } from '../../executor/buildroot.js';
import { KilnError } from '../../util/errors.js';
import type { ComposeBackend, JobContext, JobResult, OstreeCommitRef } from '../backend.js';
import { OSTREE_COMMIT_TYPES, type ImageJob } from '../planner.js';

/** What the backend needs from a builder: `buildImage` or a stand-in with the same contract. */
export type BuildFunction = (opts: BuildOptions) => Promise<Pick<BuildResult, 'image' | 'sideFiles'>>;

export interface LocalBackendOptions {
  /** the shared Kiln store (sources, finished pipelines) */
  cacheDir: string;
  cacheMaxSize?: number;
  /** builds at once (default min(2, cores)) */
  concurrency?: number;
  buildroot?: BuildRootMode;
  definitionsDir?: string;
  /** repository metadata cache shared by all jobs */
  rpmmdCache?: string;
  /** default: src/build/build.ts buildImage (imported lazily so tests need not load the executor) */
  build?: BuildFunction;
  /**
   * Jobs for another arch fail at once with a clear message (the executor does not cross-build).
   * Default: the host arch when the real builder is used, no check with an injected one.
   */
  hostArch?: string | null;
}

/** min(2, cores): image builds are I/O and memory heavy; two at once keeps a laptop usable. */
export function defaultConcurrency(): number {
  return Math.max(1, Math.min(2, os.availableParallelism?.() ?? os.cpus().length));
}

/** A counting semaphore: at most `n` holders. */
class Limiter {
  private active = 0;
  private waiters: (() => void)[] = [];
  constructor(private readonly n: number) {}
  async acquire(signal: AbortSignal): Promise<void> {
    if (this.active < this.n) {
      this.active++;
      return;
    }
    await new Promise<void>((resolve, reject) => {
      const go = () => {
        signal.removeEventListener('abort', onAbort);
        this.active++;
        resolve();
      };
      const onAbort = () => {
        this.waiters = this.waiters.filter((w) => w !== go);
        reject(new KilnError('cancelled before it started'));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(go);
    });
  }
  release(): void {
    this.active--;
    const next = this.waiters.shift();
    if (next) next();
  }
}

export class LocalBackend implements ComposeBackend {
  readonly kind = 'local' as const;
  readonly concurrency: number;
  private readonly limiter: Limiter;
  private readonly running = new Set<AbortController>();
  private cancelled = false;

  constructor(private readonly o: LocalBackendOptions) {
    this.concurrency = Math.max(1, o.concurrency ?? defaultConcurrency());
    this.limiter = new Limiter(this.concurrency);
  }

  private async builder(): Promise<BuildFunction> {
    if (this.o.build) return this.o.build;
    const { buildImage } = await import('../../build/build.js');
    return buildImage;
  }

  private async hostArch(): Promise<string | null> {
    if (this.o.hostArch !== undefined) return this.o.hostArch;
    if (this.o.build) return null;
    const { hostArch } = await import('../../defs/host.js');
    return hostArch();
  }

  async run(job: ImageJob, ctx: JobContext): Promise<JobResult> {
    if (this.cancelled || ctx.signal.aborted) throw new KilnError(`${job.id}: cancelled`);
    const host = await this.hostArch();
    if (host && job.arch !== host) {
      throw new KilnError(`${job.id}: the local backend builds on this ${host} machine only and cannot build ${job.arch} (use the koji backend, or drop ${job.arch} from the variant's arches)`);
    }
    await this.limiter.acquire(ctx.signal);
    // one controller per job: cancel() and the compose's signal both stop it
    const ac = new AbortController();
    const onAbort = () => ac.abort();
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    this.running.add(ac);
    fs.mkdirSync(path.dirname(ctx.logFile), { recursive: true });
    const logFd = fs.openSync(ctx.logFile, 'a');
    const write = (s: string) => fs.writeSync(logFd, s);
    try {
      if (this.cancelled) throw new KilnError('cancelled');
      // loaded on use: build/progress pulls in the executor's stage table
      const { LineProgress } = await import('../../build/progress.js');
      const opts = this.buildOptions(job, ctx, ac.signal, write, new LineProgress(write));
      write(`kiln build ${job.type} --arch ${job.arch}${job.distro ? ` --distro ${job.distro}` : ''} --output-name ${opts.outputName}` +
        `${opts.forceRepos?.map((r) => ` --force-repo ${r}`).join('') ?? ''}` +
        `${opts.ostree?.url ? ` --ostree-url ${opts.ostree.url}` : ''}${opts.ostree?.ref ? ` --ostree-ref ${opts.ostree.ref}` : ''}` +
        `${opts.ostree?.parent ? ` --ostree-parent ${opts.ostree.parent}` : ''}\n`);
      ctx.log(`${job.id}: building on this machine`);
      const build = await this.builder();
      const res = await build(opts);
      const files = [res.image, ...res.sideFiles];
      const result: JobResult = { files, info: { backend: 'local', image: path.basename(res.image) } };
      if (OSTREE_COMMIT_TYPES.has(job.type)) result.ostreeCommit = await unpackCommit(job, res.image, ctx.outputDir, ac.signal);
      write(`finished: ${files.map((f) => path.basename(f)).join(', ')}\n`);
      return result;
    } catch (e) {
      const msg = ac.signal.aborted ? 'cancelled' : (e as Error).message;
      write(`failed: ${msg}\n`);
      throw new KilnError(`${job.id}: ${msg}; see ${ctx.logFile}`);
    } finally {
      ctx.signal.removeEventListener('abort', onAbort);
      this.running.delete(ac);
      fs.closeSync(logFd);
      this.limiter.release();
    }
  }

  /** The `kiln build` a job is: the flags koji-image-builder gives image-builder, as options. */
  buildOptions(job: ImageJob, ctx: JobContext, signal: AbortSignal, write: (s: string) => void, sink: ProgressSink): BuildOptions {
    const src: OstreeCommitRef | undefined = ctx.ostreeSource;
    const ostree = {
      ...(src?.url ?? job.ostree?.url ? { url: src?.url ?? job.ostree?.url } : {}),
      ...(src?.ref ?? job.ostree?.ref ? { ref: src?.ref ?? job.ostree?.ref } : {}),
      ...(job.ostree?.parent ? { parent: job.ostree.parent } : {}),
    };
    return {
      imageType: job.type,
      arch: job.arch,
      ...(job.distro ? { distro: job.distro } : {}),
      ...(job.blueprint ? { blueprint: job.blueprint } : {}),
      forceRepos: job.repos,
      ...(job.seed !== undefined ? { seed: BigInt(job.seed) } : {}),
      ...(job.preview !== undefined ? { preview: job.preview } : {}),
      ...(Object.keys(ostree).length ? { ostree } : {}),
      ...(this.o.definitionsDir ? { definitionsDir: this.o.definitionsDir } : {}),
      ...(this.o.rpmmdCache ? { rpmmdCache: this.o.rpmmdCache } : {}),
      log: (m: string) => write(`${m}\n`),
      outputDir: ctx.outputDir,
      // release null (Koji would pick one) has no meaning locally: name it like image-builder would with release 1
      outputName: job.outputName ?? `${job.name}-${job.version}-1.${job.arch}`,
      cacheDir: this.o.cacheDir,
      ...(this.o.cacheMaxSize !== undefined ? { cacheMaxSize: this.o.cacheMaxSize } : {}),
      withManifest: true,
      withSbom: true,
      withBuildlog: false,
      buildroot: this.o.buildroot ?? 'bwrap',
      progress: 'verbose',
      progressSink: sink,
      signal,
    };
  }

  async cancel(): Promise<void> {
    this.cancelled = true;
    for (const ac of this.running) ac.abort();
  }
}

/**
 * Unpack an iot-commit tarball (ostree repository at /repo) to `<outputDir>/ostree/repo` and say
 * which commit it holds: the job's ref, or the only ref in the repository.
 */
export async function unpackCommit(job: ImageJob, tarball: string, outputDir: string, signal?: AbortSignal): Promise<OstreeCommitRef> {
  const dest = path.join(outputDir, 'ostree');
  fs.rmSync(dest, { recursive: true, force: true });
  fs.mkdirSync(dest, { recursive: true });
  await new Promise<void>((resolve, reject) => {
    const child = spawn('tar', ['-xf', tarball, '-C', dest], { stdio: ['ignore', 'ignore', 'pipe'], ...(signal ? { signal } : {}) });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', (e) => reject(new KilnError(`${job.id}: cannot unpack ${tarball}: ${e.message}`)));
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new KilnError(`${job.id}: cannot unpack ${tarball}: tar exit status ${code}: ${err.trim()}`)),
    );
  });
  const repo = path.join(dest, 'repo');
  if (!fs.existsSync(path.join(repo, 'config'))) {
    throw new KilnError(`${job.id}: ${path.basename(tarball)} holds no ostree repository at /repo (no repo/config)`);
  }
  const refs = listRefs(path.join(repo, 'refs', 'heads'));
  let ref = job.ostree?.ref;
  if (ref && !refs.includes(ref)) {
    throw new KilnError(`${job.id}: the commit tarball's repository has no ref "${ref}" (refs: ${refs.join(', ') || 'none'})`);
  }
  if (!ref) {
    if (refs.length !== 1) {
      throw new KilnError(`${job.id}: set ostree.ref: the commit tarball's repository has ${refs.length ? `several refs (${refs.join(', ')})` : 'no ref'}`);
    }
    ref = refs[0];
  }
  const checksum = fs.readFileSync(path.join(repo, 'refs', 'heads', ref), 'utf8').trim();
  return { url: pathToFileURL(repo).href, ref, checksum };
}

function listRefs(dir: string, prefix = ''): string[] {
  if (!fs.existsSync(dir)) return [];
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) out.push(...listRefs(path.join(dir, e.name), `${prefix}${e.name}/`));
    else if (e.isFile()) out.push(`${prefix}${e.name}`);
  }
  return out.sort();
}
