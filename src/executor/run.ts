// The pipeline runner: validate the whole manifest, work out which pipelines the exports need
// (skipping any whose final object is already stored), download their sources, run their stages
// in order (resuming from the last stored stage), commit each finished pipeline to the store, and
// export the requested pipelines' trees to <outputDir>/<name>/.
//
// Unlike osbuild without --checkpoint, every finished pipeline is committed, so a second build
// sharing a pipeline (the same OS tree, the same build root) skips it. Stages run in place on one
// working tree per pipeline (as osbuild does); a stage is committed on its own only when it
// matches a `checkpoint` pattern, which copies the tree at that point.
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { stageIds as computeStageIds } from '../manifest/ids.js';
import type { Manifest, Pipeline, Stage } from '../manifest/types.js';
import { KilnError } from '../util/errors.js';
import { BuildRoot, SANDBOX_INPUTS, SANDBOX_MOUNTS, SANDBOX_TREE, type BuildRootMode } from './buildroot.js';
import { openDevices } from './devices.js';
import type { EventSink, ExecutorEvent } from './events.js';
import { prepareInputs, refsOf, sourceRefs } from './inputs.js';
import { mountAll } from './mounts.js';
import { run as runCmd, throwIfAborted } from './proc.js';
import { ResourceTracker, removeTreeSync, withSignalHandling } from './resources.js';
import { getSource } from './sources/index.js';
import type { SourceContext } from './sources/types.js';
import { getStage } from './stages/index.js';
import type { StageContext, StageSettings } from './stages/types.js';
import { Store } from './store.js';
import { stageWhat, validateManifest } from './validate.js';

export type { ExecutorEvent, EventSink } from './events.js';

export interface RunManifestOptions {
  /** the object store (or its directory) */
  store: Store | string;
  /** size limit for a store opened from a path (bytes) */
  storeMaxSize?: number;
  /** where exports go (`<outputDir>/<export>/`); required when exporting */
  outputDir?: string;
  /** pipelines to export; when empty, every pipeline is built and nothing is exported */
  exports: string[];
  /** how stages of pipelines with a `build` pipeline run: in that tree with bubblewrap, or on the host */
  buildroot: BuildRootMode;
  /** extra stages to store: fnmatch-style patterns over stage ids and stage types */
  checkpoint?: string[];
  onEvent?: EventSink;
  signal?: AbortSignal;
  /** install SIGINT/SIGTERM handlers for the build and re-raise after cleanup (default true) */
  handleSignals?: boolean;
  /** parallel downloads (default 4), attempts per URL (default 3), first retry delay (500 ms) */
  concurrency?: number;
  retries?: number;
  retryDelayMs?: number;
  settings?: Partial<StageSettings>;
}

export interface StageReport {
  index: number;
  type: string;
  id: string;
  status: 'ran' | 'cached';
  /** milliseconds; 0 for cached stages */
  duration: number;
  metadata?: Record<string, unknown>;
}

export interface PipelineReport {
  name: string;
  id: string | null;
  status: 'built' | 'cached' | 'not-needed' | 'empty';
  duration: number;
  /** index of the first stage that ran, when the pipeline resumed from a stored stage */
  resumedFrom?: number;
  stages: StageReport[];
}

export interface RunReport {
  pipelines: Record<string, PipelineReport>;
  exports: Record<string, string>;
  sources: { items: number; downloaded: number; bytes: number; duration: number };
  duration: number;
}

function globToRegExp(glob: string): RegExp {
  let re = '';
  for (const c of glob) {
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** Run a manifest. See RunManifestOptions; returns what ran, what was cached and the timings. */
export async function runManifest(manifest: Manifest, opts: RunManifestOptions): Promise<RunReport> {
  validateManifest(manifest, opts.exports);
  let ids: Map<string, string[]>;
  try {
    ids = computeStageIds(manifest);
  } catch (err) {
    throw new KilnError(`manifest: ${(err as Error).message}`);
  }
  if (opts.exports.length && !opts.outputDir) throw new KilnError('exports need an output directory');
  for (const e of opts.exports) {
    const dest = join(opts.outputDir!, e);
    if (existsSync(dest) && readdirSync(dest).length > 0) throw new KilnError(`export "${e}": ${dest} already exists and is not empty`);
  }
  const store = typeof opts.store === 'string' ? new Store(opts.store, opts.storeMaxSize !== undefined ? { maxSize: opts.storeMaxSize } : {}) : opts.store;
  const exec = new Execution(manifest, ids, store, opts);
  if (opts.handleSignals === false) {
    const ac = new AbortController();
    return exec.run(opts.signal ?? ac.signal);
  }
  return withSignalHandling((scope) => exec.run(scope.signal), { outer: opts.signal });
}

class Execution {
  private readonly emit: EventSink;
  private readonly tracker = new ResourceTracker();
  /** trees of this run that are not (or could not be) in the store, by pipeline name */
  private readonly floating = new Map<string, string>();
  /** store objects in use by this run, by id */
  private readonly used = new Map<string, string>();
  private readonly pipelineId = new Map<string, string | null>();
  private readonly byName = new Map<string, Pipeline>();
  private readonly checkpoints: RegExp[];
  private readonly settings: StageSettings;
  private signal!: AbortSignal;

  constructor(
    private readonly manifest: Manifest,
    private readonly ids: Map<string, string[]>,
    private readonly store: Store,
    private readonly opts: RunManifestOptions,
  ) {
    const sink = opts.onEvent;
    this.emit = (e: ExecutorEvent) => {
      try {
        sink?.(e);
      } catch {
        /* a broken listener must not break the build */
      }
    };
    for (const p of manifest.pipelines) {
      const s = ids.get(p.name) ?? [];
      this.pipelineId.set(p.name, s.length ? s[s.length - 1]! : null);
      this.byName.set(p.name, p);
    }
    this.checkpoints = (opts.checkpoint ?? []).map(globToRegExp);
    this.settings = { selinuxWithoutTools: opts.settings?.selinuxWithoutTools ?? 'error' };
  }

  async run(signal: AbortSignal): Promise<RunReport> {
    this.signal = signal;
    const started = Date.now();
    const report: RunReport = { pipelines: {}, exports: {}, sources: { items: 0, downloaded: 0, bytes: 0, duration: 0 }, duration: 0 };
    try {
      this.store.cleanTmp();
      const plan = this.plan();
      for (const p of this.manifest.pipelines) {
        const st = plan.get(p.name) ?? 'not-needed';
        if (st !== 'run') {
          report.pipelines[p.name] = { name: p.name, id: this.pipelineId.get(p.name) ?? null, status: st, duration: 0, stages: [] };
          if (st === 'cached' || st === 'not-needed') this.emit({ type: 'pipeline-skip', pipeline: p.name, id: this.pipelineId.get(p.name) ?? null, reason: st });
        }
      }
      report.sources = await this.fetchSources(plan);
      for (const p of this.manifest.pipelines) {
        if (plan.get(p.name) === 'run') report.pipelines[p.name] = await this.runPipeline(p);
      }
      for (const e of this.opts.exports) report.exports[e] = await this.export(e);
      report.duration = Date.now() - started;
      return report;
    } finally {
      this.tracker.releaseAll();
    }
  }

  /** Which pipelines must run: walk from the exports through build and input references. */
  private plan(): Map<string, 'run' | 'cached' | 'empty'> {
    const plan = new Map<string, 'run' | 'cached' | 'empty'>();
    const visit = (name: string): void => {
      if (plan.has(name)) return;
      const id = this.pipelineId.get(name);
      const p = this.byName.get(name)!;
      if (id === null || id === undefined) {
        plan.set(name, 'empty');
        return;
      }
      if (this.store.hasObject(id)) {
        plan.set(name, 'cached');
        return;
      }
      plan.set(name, 'run');
      if (p.build) visit(p.build.slice(5));
      for (const s of p.stages) for (const r of this.pipelineRefs(s)) visit(r);
    };
    const targets = this.opts.exports.length ? this.opts.exports : this.manifest.pipelines.map((p) => p.name);
    for (const t of targets) visit(t);
    return plan;
  }

  private pipelineRefs(stage: Stage): string[] {
    const out: string[] = [];
    for (const [name, inp] of Object.entries(stage.inputs ?? {})) {
      if (inp.origin !== 'org.osbuild.pipeline') continue;
      for (const [r] of refsOf(inp, `input "${name}"`)) if (r.startsWith('name:')) out.push(r.slice(5));
    }
    return out;
  }

  /** Download every source item the pipelines that will run need. */
  private async fetchSources(plan: Map<string, string>): Promise<RunReport['sources']> {
    const started = Date.now();
    const itemSource = new Map<string, string>();
    for (const [type, desc] of Object.entries(this.manifest.sources ?? {})) {
      const items = desc.items ?? (desc as unknown as { urls?: object }).urls ?? (desc as unknown as { commits?: object }).commits ?? {};
      for (const k of Object.keys(items)) itemSource.set(k, type);
    }
    const wanted = new Map<string, Set<string>>();
    for (const p of this.manifest.pipelines) {
      if (plan.get(p.name) !== 'run') continue;
      for (const s of p.stages) {
        for (const ref of sourceRefs(s)) {
          const type = itemSource.get(ref)!;
          if (!wanted.has(type)) wanted.set(type, new Set());
          wanted.get(type)!.add(ref);
        }
      }
    }
    const total = [...wanted.values()].reduce((a, s) => a + s.size, 0);
    this.emit({ type: 'sources-start', items: total });
    const ctx: SourceContext = {
      store: this.store,
      signal: this.signal,
      onEvent: this.emit,
      concurrency: this.opts.concurrency ?? 4,
      retries: this.opts.retries ?? 3,
      retryDelayMs: this.opts.retryDelayMs ?? 500,
    };
    let downloaded = 0;
    let bytes = 0;
    for (const [type, items] of wanted) {
      const impl = getSource(type)!;
      const desc = this.manifest.sources[type]!;
      const todo = [...items].filter((i) => !impl.cached(this.store, i, desc));
      if (!todo.length) continue;
      const r = await impl.fetch(desc, todo, ctx);
      downloaded += r.downloaded;
      bytes += r.bytes;
    }
    const duration = Date.now() - started;
    this.emit({ type: 'sources-finish', items: total, downloaded, bytes, duration });
    return { items: total, downloaded, bytes, duration };
  }

  /** Host path of a finished pipeline's tree (floating in this run, or a store object). */
  private async treeOf(name: string): Promise<string> {
    const f = this.floating.get(name);
    if (f) return f;
    const id = this.pipelineId.get(name);
    if (id === null || id === undefined) {
      // a pipeline without stages is an empty tree
      const d = this.store.mkdtemp('empty');
      chmodSync(d, 0o755);
      this.tracker.add(`temp dir ${d}`, () => removeTreeSync(d));
      this.floating.set(name, d);
      return d;
    }
    const have = this.used.get(id);
    if (have) return have;
    const use = await this.store.useObject(id, this.signal);
    if (!use) throw new KilnError(`pipeline "${name}": its tree (${id}) is not in the store (pruned while building? raise the cache size)`);
    this.tracker.add(`use of object ${id}`, () => use.release());
    this.used.set(id, use.tree);
    return use.tree;
  }

  private async runPipeline(p: Pipeline): Promise<PipelineReport> {
    const started = Date.now();
    const ids = this.ids.get(p.name)!;
    const finalId = ids[ids.length - 1]!;
    const unlock = await this.store.lock(`build-${finalId}`, this.signal);
    try {
      const report: PipelineReport = { name: p.name, id: finalId, status: 'built', duration: 0, stages: [] };
      if (this.store.hasObject(finalId)) {
        // another build sharing the store finished it while we waited
        this.emit({ type: 'pipeline-skip', pipeline: p.name, id: finalId, reason: 'cached' });
        return { ...report, status: 'cached' };
      }
      let resume = -1;
      for (let i = ids.length - 2; i >= 0; i--) {
        if (this.store.hasObject(ids[i]!)) {
          resume = i;
          break;
        }
      }
      this.emit({ type: 'pipeline-start', pipeline: p.name, id: finalId, ...(resume >= 0 ? { resumeFrom: resume + 1 } : {}) });

      let mode: BuildRootMode = 'host';
      let rootTree: string | undefined;
      if (p.build) {
        const b = p.build.slice(5);
        if (this.opts.buildroot === 'bwrap') {
          mode = 'bwrap';
          rootTree = await this.treeOf(b);
          this.emit({ type: 'buildroot', pipeline: p.name, mode: 'bwrap', message: `pipeline "${p.name}": stages run in the tree of pipeline "${b}" (bubblewrap)` });
        } else {
          this.emit({ type: 'buildroot', pipeline: p.name, mode: 'host', message: `pipeline "${p.name}": build root "host": stages use this machine's tools, NOT the tree of pipeline "${b}"` });
        }
      } else {
        this.emit({ type: 'buildroot', pipeline: p.name, mode: 'host-first', message: `pipeline "${p.name}" has no build pipeline: stages run on the host` });
      }

      const tree = this.store.mkdtemp('tree');
      chmodSync(tree, 0o755);
      const treeRes = this.tracker.add(`working tree ${tree}`, () => removeTreeSync(tree));
      if (resume >= 0) {
        const use = await this.store.useObject(ids[resume]!, this.signal);
        if (use) {
          try {
            await runCmd(['cp', '-a', '--reflink=auto', `${use.tree}/.`, tree], { what: `pipeline "${p.name}": restoring stage ${resume + 1}`, signal: this.signal });
          } finally {
            use.release();
          }
          report.resumedFrom = resume + 1;
          for (let i = 0; i <= resume; i++) report.stages.push({ index: i, type: p.stages[i]!.type, id: ids[i]!, status: 'cached', duration: 0 });
        } else {
          resume = -1; // pruned meanwhile: start over
        }
      }

      for (let i = resume + 1; i < p.stages.length; i++) {
        throwIfAborted(this.signal);
        const stage = p.stages[i]!;
        const sr = await this.runStage(p, i, stage, ids[i]!, tree, mode, rootTree);
        report.stages.push(sr);
        const last = i === p.stages.length - 1;
        if (!last && this.checkpoints.some((re) => re.test(ids[i]!) || re.test(stage.type))) {
          await this.store.commit(ids[i]!, tree, { move: false, signal: this.signal, ...(sr.metadata ? { metadata: sr.metadata } : {}) });
          this.emit({ type: 'checkpoint', pipeline: p.name, stage: stage.type, id: ids[i]! });
        }
      }

      const metadata: Record<string, unknown> = {};
      for (const s of report.stages) if (s.metadata) metadata[s.id] = s.metadata;
      const committed = await this.store.commit(finalId, tree, { move: true, signal: this.signal, metadata: { pipeline: p.name, stages: metadata } });
      if (committed) {
        this.tracker.releaseOne(treeRes); // already moved into the store; nothing to delete
      } else {
        this.emit({ type: 'log', pipeline: p.name, message: `pipeline "${p.name}" is larger than the store's size limit; not cached` });
        this.floating.set(p.name, tree);
      }
      report.duration = Date.now() - started;
      this.emit({ type: 'pipeline-finish', pipeline: p.name, id: finalId, duration: report.duration, committed });
      return report;
    } finally {
      unlock();
    }
  }

  private async runStage(p: Pipeline, index: number, stage: Stage, id: string, tree: string, mode: BuildRootMode, rootTree: string | undefined): Promise<StageReport> {
    const impl = getStage(stage.type)!;
    const what = stageWhat(p.name, index, stage.type);
    const started = Date.now();
    this.emit({ type: 'stage-start', pipeline: p.name, stage: stage.type, index, id });
    const st = new ResourceTracker();
    let metadata: Record<string, unknown> | undefined;
    try {
      const trees = new Map<string, string>();
      for (const r of this.pipelineRefs(stage)) trees.set(r, await this.treeOf(r));
      const br = new BuildRoot(mode, rootTree);
      br.bind(tree, SANDBOX_TREE, false);
      const inputs = await prepareInputs(stage, {
        store: this.store,
        pipelineTree: (n) => trees.get(n)!,
        tracker: st,
        signal: this.signal,
        what,
      });
      for (const [name, inp] of Object.entries(inputs)) br.bind(inp.path, `${SANDBOX_INPUTS}/${name}`, true);
      const mountRoot = this.store.mkdtemp('mounts');
      st.add(`temp dir ${mountRoot}`, () => removeTreeSync(mountRoot));
      br.bind(mountRoot, SANDBOX_MOUNTS, false);
      const devices = await openDevices(stage.devices ?? {}, { tree, tracker: st, signal: this.signal, what });
      const mounts = await mountAll(stage.mounts ?? [], {
        root: mountRoot,
        tree,
        devices,
        tracker: st,
        signal: this.signal,
        what,
        log: (message) => this.emit({ type: 'log', pipeline: p.name, stage: stage.type, message }),
      });
      let scratchN = 0;
      const ctx: StageContext = {
        pipeline: p.name,
        type: stage.type,
        index,
        id,
        what,
        options: stage.options ?? {},
        tree,
        inputs,
        devices,
        mounts,
        mountRoot,
        buildroot: br,
        toSandbox: (hp) => br.toSandbox(hp),
        run: (argv, o = {}) =>
          br.run(argv, {
            what,
            signal: this.signal,
            onOutput: (text) => this.emit({ type: 'stage-output', pipeline: p.name, stage: stage.type, index, text }),
            ...o,
            // reproducible builds: tools that honour it clamp timestamps to the pipeline's epoch
            extraEnv: { ...(p['source-epoch'] !== undefined ? { SOURCE_DATE_EPOCH: String(p['source-epoch']) } : {}), ...(o.extraEnv ?? {}) },
          }),
        tracker: st,
        store: this.store,
        signal: this.signal,
        log: (message) => this.emit({ type: 'log', pipeline: p.name, stage: stage.type, message }),
        setMetadata: (m) => (metadata = { ...(metadata ?? {}), ...m }),
        settings: this.settings,
        scratch: (prefix) => {
          const d = this.store.mkdtemp(`scratch-${prefix}`);
          st.add(`temp dir ${d}`, () => removeTreeSync(d));
          br.bind(d, `/run/osbuild/scratch/${scratchN++}`, true);
          return d;
        },
      };
      await impl.run(ctx);
    } catch (err) {
      try {
        st.releaseAll();
      } catch (cleanupErr) {
        this.emit({ type: 'log', pipeline: p.name, stage: stage.type, message: (cleanupErr as Error).message });
      }
      if (err instanceof KilnError) throw err;
      throw new KilnError(`${what}: ${(err as Error).message}`);
    }
    st.releaseAll();
    const duration = Date.now() - started;
    this.emit({ type: 'stage-finish', pipeline: p.name, stage: stage.type, index, id, duration });
    return { index, type: stage.type, id, status: 'ran', duration, ...(metadata ? { metadata } : {}) };
  }

  /** Copy a pipeline's tree to <outputDir>/<name>/: under a temporary name, then renamed. */
  private async export(name: string): Promise<string> {
    const src = await this.treeOf(name);
    const out = this.opts.outputDir!;
    mkdirSync(out, { recursive: true });
    const dest = join(out, name);
    const partial = join(out, `.${name}.partial-${process.pid}-${randomBytes(4).toString('hex')}`);
    const res = this.tracker.add(`partial export ${partial}`, () => removeTreeSync(partial));
    await runCmd(['cp', '-a', '--reflink=auto', src, partial], { what: `export "${name}"`, signal: this.signal });
    chmodSync(partial, 0o755);
    if (existsSync(dest)) removeTreeSync(dest); // an empty directory (checked up front)
    renameSync(partial, dest);
    this.tracker.releaseOne(res);
    this.emit({ type: 'export', pipeline: name, path: dest });
    return dest;
  }
}
