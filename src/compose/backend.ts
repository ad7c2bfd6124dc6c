// What a compose backend is: something that turns one planned image job into files. The local
// backend (kiln build on this machine) and the koji backend (imageBuilderBuild tasks) implement
// this; the orchestrator (orchestrate.ts) only talks to this interface.
//
// CommandBackend is a real, generic backend: it runs a command per job with the job described in
// environment variables and collects whatever the command leaves in its output directory. It is
// how a site plugs in any builder (e.g. upstream `image-builder build`), and how the
// orchestration is tested without fakes (a shell script is a builder).
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { KilnError } from '../util/errors.js';
import type { BackendKind } from './config.js';
import type { ImageJob, JobGroup } from './planner.js';
import type { ComposeTree } from './tree.js';

/** An ostree commit a job produced, where dependents can pull it from. */
export interface OstreeCommitRef {
  /** repository URL (file:// or http(s)://) */
  url: string;
  ref: string;
  checksum?: string;
}

export interface JobContext {
  tree: ComposeTree;
  /** empty directory for this job's outputs (created by the orchestrator) */
  outputDir: string;
  /** the job's log file (the backend appends to it) */
  logFile: string;
  /** for jobs with `ostreeFrom`: the commit the producing job reported */
  ostreeSource?: OstreeCommitRef;
  signal: AbortSignal;
  /** progress lines for the user */
  log(msg: string): void;
}

export interface JobResult {
  /** absolute paths of everything produced: images, manifests, SBOMs... (the orchestrator picks the images) */
  files: string[];
  /** extra log files worth keeping */
  logs?: string[];
  /** set by commit-producing jobs (iot-commit) so dependent jobs can deploy the commit */
  ostreeCommit?: OstreeCommitRef;
  /** backend-specific facts (Koji task id, build id...) recorded in the compose log */
  info?: Record<string, unknown>;
}

/** Result of one arch of a group: either a result or the error that failed it. */
export type JobOutcome = { ok: true; result: JobResult } | { ok: false; error: Error };

export interface ComposeBackend {
  readonly kind: BackendKind;
  /** Build one job. Reject (with a message naming the job and the cause) on failure. */
  run(job: ImageJob, ctx: JobContext): Promise<JobResult>;
  /**
   * Optional: build all arches of a group in one go (Koji: one imageBuilderBuild task with
   * failable_arches). When present the orchestrator calls it instead of run() per job.
   */
  runGroup?(group: JobGroup, jobs: ImageJob[], ctx: Record<string, JobContext>): Promise<Record<string, JobOutcome>>;
  /** Stop everything started (compose interrupted or doomed). Must be safe to call twice. */
  cancel(): Promise<void>;
}

export interface CommandBackendOptions {
  /** argv; `{name}` placeholders are replaced from the job environment below (without KILN_) */
  command: string[];
  kind?: BackendKind;
  /** extra environment */
  env?: Record<string, string>;
}

/** Environment describing a job to a command. */
export function jobEnvironment(job: ImageJob, ctx: JobContext): Record<string, string> {
  const env: Record<string, string> = {
    KILN_JOB_ID: job.id,
    KILN_JOB_JSON: JSON.stringify(job),
    KILN_VARIANT: job.variant,
    KILN_ARCH: job.arch,
    KILN_TYPE: job.type,
    KILN_NAME: job.name,
    KILN_VERSION: job.version,
    KILN_RELEASE: job.release ?? '',
    KILN_OUTPUT_DIR: ctx.outputDir,
    KILN_OUTPUT_NAME: job.outputName ?? `${job.name}-${job.version}-1.${job.arch}`,
    KILN_REPOS: job.repos.join('\n'),
    KILN_DISTRO: job.distro ?? '',
    KILN_SEED: job.seed === undefined ? '' : String(job.seed),
    KILN_OSTREE_URL: ctx.ostreeSource?.url ?? job.ostree?.url ?? '',
    KILN_OSTREE_REF: ctx.ostreeSource?.ref ?? job.ostree?.ref ?? '',
    KILN_OSTREE_PARENT: job.ostree?.parent ?? '',
  };
  return env;
}

export class CommandBackend implements ComposeBackend {
  readonly kind: BackendKind;
  private children = new Set<ChildProcess>();
  private cancelled = false;

  constructor(private o: CommandBackendOptions) {
    if (o.command.length === 0) throw new KilnError('command backend: empty command');
    this.kind = o.kind ?? 'local';
  }

  async run(job: ImageJob, ctx: JobContext): Promise<JobResult> {
    if (this.cancelled) throw new KilnError(`${job.id}: cancelled`);
    const env = jobEnvironment(job, ctx);
    const argv = this.o.command.map((a) => a.replace(/\{([A-Z_]+)\}/g, (m, k: string) => env[`KILN_${k}`] ?? m));
    fs.mkdirSync(path.dirname(ctx.logFile), { recursive: true });
    const log = fs.openSync(ctx.logFile, 'a');
    fs.writeSync(log, `$ ${argv.join(' ')}\n`);
    const code = await new Promise<number | string>((resolve, reject) => {
      const child = spawn(argv[0], argv.slice(1), {
        cwd: ctx.outputDir,
        env: { ...process.env, ...this.o.env, ...env },
        stdio: ['ignore', log, log],
        detached: true, // own process group, so cancel() reaches grandchildren
      });
      this.children.add(child);
      const onAbort = () => killGroup(child);
      ctx.signal.addEventListener('abort', onAbort, { once: true });
      child.on('error', (e) => {
        this.children.delete(child);
        ctx.signal.removeEventListener('abort', onAbort);
        reject(new KilnError(`${job.id}: cannot run ${argv[0]}: ${e.message}`));
      });
      child.on('close', (c, sig) => {
        this.children.delete(child);
        ctx.signal.removeEventListener('abort', onAbort);
        resolve(c ?? `signal ${sig}`);
      });
    }).finally(() => fs.closeSync(log));
    if (code !== 0) {
      throw new KilnError(`${job.id}: ${path.basename(argv[0])} failed (${typeof code === 'number' ? `exit status ${code}` : code}); see ${ctx.logFile}`);
    }
    const files = listFiles(ctx.outputDir);
    const commitFile = path.join(ctx.outputDir, 'ostree-commit.json');
    let ostreeCommit: OstreeCommitRef | undefined;
    if (fs.existsSync(commitFile)) {
      // a commit-producing command says where its commit lives: {"url": ..., "ref": ..., "checksum": ...}
      try {
        const c = JSON.parse(fs.readFileSync(commitFile, 'utf8')) as OstreeCommitRef;
        if (typeof c.url !== 'string' || typeof c.ref !== 'string') throw new Error('needs "url" and "ref" strings');
        ostreeCommit = c;
      } catch (e) {
        throw new KilnError(`${job.id}: ${commitFile}: ${(e as Error).message}`);
      }
    }
    return { files: files.filter((f) => f !== commitFile), ...(ostreeCommit ? { ostreeCommit } : {}) };
  }

  async cancel(): Promise<void> {
    this.cancelled = true;
    for (const c of this.children) killGroup(c);
  }
}

function killGroup(child: ChildProcess): void {
  if (child.pid === undefined || child.exitCode !== null) return;
  try {
    process.kill(-child.pid, 'SIGTERM');
  } catch {
    // already gone
  }
}

function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) out.push(p);
    }
  };
  walk(dir);
  return out.sort();
}
