// `kiln compose CONFIG --topdir DIR`: Pungi's imagebuilder phase as a command. Plans the compose
// (compose id with the next free respin), runs every image on its backend (local builds on this
// machine, Koji imageBuilderBuild tasks, or koji-osbuild for `remote-service` entries), shows a
// live summary and ends with a table or a JSON report.
//
// Exit status (Pungi's pungi-koji exits 0 for FINISHED_INCOMPLETE; Kiln does not by default,
// so a CI job notices lost images):
//   0    FINISHED (also FINISHED_INCOMPLETE with --incomplete-ok, Pungi's behaviour)
//   3    FINISHED_INCOMPLETE: a failable image failed; everything else was delivered
//   4    DOOMED: a non-failable image failed (or the metadata could not be written)
//   130  TERMINATED by SIGINT (Ctrl-C), 143 by SIGTERM
//   1    the compose could not start (bad config, bad flags, unreadable --resume directory)
//
// Re-running: `--resume <compose dir>` continues that compose under its own id: images that
// finished are kept (not rebuilt), failed and unfinished ones are built again.
//
// Test hook (not for users): KILN_COMPOSE_TEST_BUILDER='["/bin/sh", "script"]' makes the local
// backend a CommandBackend running that command per job (see src/compose/backend.ts), so the
// command's process handling can be tested without the executor.
import type { Command } from 'commander';
import { Option } from 'commander';
import * as path from 'node:path';
import { CommandBackend, type ComposeBackend } from '../compose/backend.js';
import { LocalBackend, defaultConcurrency } from '../compose/backends/local.js';
import { BACKENDS, loadComposeConfig, type BackendKind, type ComposeConfig } from '../compose/config.js';
import { COMPOSE_TYPES, type ComposeType } from '../compose/compose-id.js';
import { openCompose, prepareCompose, runCompose, type ComposeReport, type JobState } from '../compose/orchestrate.js';
import type { ComposePlan, ImageJob } from '../compose/planner.js';
import type { ComposeTree } from '../compose/tree.js';
import { KilnError } from '../util/errors.js';

interface ComposeFlags {
  topdir?: string;
  composeType?: ComposeType;
  label?: string;
  backend?: BackendKind;
  concurrency?: string;
  json: boolean;
  resume?: string;
  incompleteOk: boolean;
  cache?: string;
  buildroot: 'bwrap' | 'host';
  date?: string;
  hub?: string;
  topurl?: string;
  weburl?: string;
  kojiTopdir?: string;
  kojiProfile?: string;
  kojiConfig?: string;
  kojiUser?: string;
  kojiPasswordFile?: string;
  kojiCert?: string;
  kojiServerca?: string;
  pollInterval?: string;
}

export const EXIT_INCOMPLETE = 3;
export const EXIT_DOOMED = 4;

/** Exit status for a finished run (see the header comment). */
export function exitStatusFor(status: ComposeReport['status'], o: { incompleteOk?: boolean; signal?: NodeJS.Signals } = {}): number {
  switch (status) {
    case 'FINISHED':
      return 0;
    case 'FINISHED_INCOMPLETE':
      return o.incompleteOk ? 0 : EXIT_INCOMPLETE;
    case 'DOOMED':
      return EXIT_DOOMED;
    case 'TERMINATED':
      return o.signal === 'SIGTERM' ? 143 : 130;
    default:
      return 1;
  }
}

export function registerComposeCommand(program: Command): void {
  program
    .command('compose')
    .description('run a compose: build every image of a Pungi-style imagebuilder config into a compose tree with productmd metadata')
    .argument('<config>', 'compose config (YAML, see configs/)')
    .option('--topdir <dir>', 'where compose directories are created (<topdir>/<compose id>)')
    .addOption(new Option('--compose-type <type>', 'compose type (overrides compose.type)').choices([...COMPOSE_TYPES]))
    .option('--label <label>', 'compose label, e.g. RC-1.2 (overrides compose.label)')
    .addOption(new Option('--backend <backend>', 'build every image on this backend (overrides the config\'s backend settings)').choices([...BACKENDS]))
    .option('--concurrency <n>', `image builds at once (default min(2, cores) = ${defaultConcurrency()} here)`)
    .option('--json', 'print a machine-readable report on stdout', false)
    .option('--resume <compose-dir>', 'continue an unfinished compose: finished images are kept, the rest built again')
    .option('--incomplete-ok', 'exit 0 for FINISHED_INCOMPLETE, as Pungi does (default: exit status 3)', false)
    .option('--cache <dir>', 'local backend: the Kiln store shared by all builds (default: kiln build\'s store)')
    .addOption(new Option('--buildroot <mode>', 'local backend: build-root mode of each build').choices(['bwrap', 'host']).default('bwrap'))
    .addOption(new Option('--date <yyyymmdd>', 'compose date (default today)').hideHelp())
    .option('--hub <url>', 'koji: hub XML-RPC URL (overrides koji.hub)')
    .option('--topurl <url>', 'koji: URL of the hub\'s files, e.g. https://kojipkgs.fedoraproject.org/ (overrides koji.topurl)')
    .option('--weburl <url>', 'koji: web UI URL, for task links in logs (overrides koji.weburl)')
    .option('--koji-topdir <dir>', 'koji: the hub\'s /mnt/koji mounted here; files are linked from it instead of downloaded')
    .option('--koji-profile <name>', 'koji: profile in Kiln\'s Koji profile file (default: koji.profile of the config, if the file has it)')
    .option('--koji-config <file>', 'koji: profile file (default $XDG_CONFIG_HOME/kiln/koji.toml)')
    .option('--koji-user <user>', 'koji: password login as this user (with --koji-password-file)')
    .option('--koji-password-file <file>', 'koji: file holding the password')
    .option('--koji-cert <file>', 'koji: client certificate (PEM with the key) for SSL login')
    .option('--koji-serverca <file>', 'koji: CA bundle that signed the hub\'s certificate')
    .option('--poll-interval <seconds>', 'koji: seconds between task state checks', '15')
    .action(async (configFile: string, o: ComposeFlags, cmd: Command) => {
      // (not main.ts's globalOpts: importing main.js would load every command, the executor too)
      const g = cmd.optsWithGlobals() as { definitions?: string; verbose?: boolean };
      await composeCommand(configFile, o, { definitions: g.definitions, verbose: Boolean(g.verbose) });
    });
}

async function composeCommand(configFile: string, o: ComposeFlags, g: { definitions?: string; verbose: boolean }): Promise<void> {
  const config = loadComposeConfig(configFile);
  const concurrency = o.concurrency === undefined ? defaultConcurrency() : parsePositiveInt('--concurrency', o.concurrency);
  if (o.date !== undefined && !/^\d{8}$/.test(o.date)) throw new KilnError(`--date: "${o.date}" is not YYYYMMDD`);
  if (!o.resume && !o.topdir) throw new KilnError('compose: give --topdir DIR (where the compose directory is created) or --resume COMPOSE_DIR');
  if (o.resume && (o.composeType || o.label || o.date)) {
    throw new KilnError('--resume: the compose keeps its own id; --compose-type, --label and --date cannot be combined with it');
  }

  // plan first (a bad config creates nothing), then make or reopen the compose directory
  let tree: ComposeTree;
  let plan: ComposePlan;
  if (o.resume) ({ tree, plan } = openCompose(config, o.resume));
  else {
    ({ tree, plan } = prepareCompose(config, {
      topdir: o.topdir!,
      ...(o.composeType ? { type: o.composeType } : {}),
      ...(o.label ? { label: o.label } : {}),
      ...(o.date ? { date: o.date } : {}),
    }));
  }
  if (o.backend) overrideBackend(plan, o.backend);

  const display = createDisplay(plan, { json: o.json, verbose: g.verbose });
  for (const w of plan.warnings) display.line(`warning: ${w}`);
  display.line(`compose ${tree.identity.id} in ${tree.dir}${o.resume ? ' (resumed)' : ''}`);

  // Ctrl-C / SIGTERM: stop the backends and leave STATUS TERMINATED (the orchestrator does it)
  const ac = new AbortController();
  const backends = await makeBackends(config, plan, o, { concurrency, signal: ac.signal, ...(g.definitions ? { definitions: g.definitions } : {}), log: (m) => display.line(m) });
  let caught: NodeJS.Signals | undefined;
  const onSignal = (sig: NodeJS.Signals) => {
    if (caught) return; // a second Ctrl-C while we clean up changes nothing: cleanup is bounded
    caught = sig;
    display.line(`${sig}: stopping the compose (cancelling running builds)`);
    ac.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let report: ComposeReport;
  try {
    report = await runCompose({
      config,
      plan,
      tree,
      backends,
      concurrency,
      signal: ac.signal,
      resume: Boolean(o.resume),
      log: (m) => display.line(m),
      onJobState: (job, state, d) => display.state(job, state, d?.error),
    });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    display.close();
  }

  if (o.json) process.stdout.write(JSON.stringify(jsonReport(report, tree), null, 2) + '\n');
  else process.stdout.write(finalTable(report, display.elapsed()));
  const code = exitStatusFor(report.status, { incompleteOk: o.incompleteOk, ...(caught ? { signal: caught } : {}) });
  if (code !== 0) {
    const failed = report.jobs.filter((j) => j.status !== 'done');
    throw new KilnError(
      `compose ${report.composeId} ${report.status}` +
        (failed.length ? `: ${failed.length} image(s) not delivered (${failed.map((j) => j.job).join(', ')})` : '') +
        `; logs in ${path.join(report.dir, 'logs')}`,
      code,
    );
  }
}

function parsePollInterval(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new KilnError(`--poll-interval: "${v}" is not a positive number of seconds`);
  return n * 1000;
}

function parsePositiveInt(flag: string, v: string): number {
  if (!/^\d+$/.test(v) || Number(v) < 1) throw new KilnError(`${flag}: "${v}" is not a positive integer`);
  return Number(v);
}

/** --backend: every group and job of the plan goes to that backend. */
function overrideBackend(plan: ComposePlan, backend: BackendKind): void {
  for (const grp of plan.groups) {
    if (backend !== 'local' && !grp.target) {
      throw new KilnError(`${grp.where}: --backend ${backend} needs a Koji build target: set "target" (or imagebuilder_target / global_target)`);
    }
    grp.backend = backend;
    for (const j of grp.jobs) j.backend = backend;
  }
}

async function makeBackends(
  config: ComposeConfig,
  plan: ComposePlan,
  o: ComposeFlags,
  x: { concurrency: number; definitions?: string; signal: AbortSignal; log: (m: string) => void },
): Promise<Partial<Record<BackendKind, ComposeBackend>>> {
  const used = new Set(plan.groups.map((grp) => grp.backend));
  const out: Partial<Record<BackendKind, ComposeBackend>> = {};
  if (used.has('local')) {
    const hook = process.env.KILN_COMPOSE_TEST_BUILDER;
    if (hook) {
      let argv: unknown;
      try {
        argv = JSON.parse(hook);
      } catch {
        argv = undefined;
      }
      if (!Array.isArray(argv) || !argv.every((a) => typeof a === 'string')) {
        throw new KilnError('KILN_COMPOSE_TEST_BUILDER: expected a JSON list of strings (argv)');
      }
      out.local = new CommandBackend({ command: argv as string[] });
    } else {
      // loaded here so a koji-only compose does not load the executor
      const { defaultStoreDir } = await import('./build.js');
      out.local = new LocalBackend({
        cacheDir: o.cache ?? defaultStoreDir(),
        concurrency: x.concurrency,
        buildroot: o.buildroot,
        ...(x.definitions ? { definitionsDir: x.definitions } : {}),
      });
    }
  }
  if (used.has('koji') || used.has('remote-service')) {
    const { kojiBackends } = await import('../compose/backends/koji-setup.js');
    Object.assign(out, await kojiBackends(config, used, {
      ...(o.hub ? { hub: o.hub } : {}),
      ...(o.topurl ? { topurl: o.topurl } : {}),
      ...(o.weburl ? { weburl: o.weburl } : {}),
      ...(o.kojiTopdir ? { topdir: o.kojiTopdir } : {}),
      ...(o.kojiProfile ? { profile: o.kojiProfile } : {}),
      ...(o.kojiConfig ? { profileFile: o.kojiConfig } : {}),
      ...(o.kojiUser ? { user: o.kojiUser } : {}),
      ...(o.kojiPasswordFile ? { passwordFile: o.kojiPasswordFile } : {}),
      ...(o.kojiCert ? { cert: o.kojiCert } : {}),
      ...(o.kojiServerca ? { serverca: o.kojiServerca } : {}),
      pollIntervalMs: parsePollInterval(o.pollInterval ?? '15'),
      signal: x.signal,
      log: x.log,
    }));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// live summary

interface Row {
  job: ImageJob;
  state: JobState;
  started?: number;
  ended?: number;
  error?: string;
}

interface Display {
  line(msg: string): void;
  state(job: ImageJob, state: JobState, error?: string): void;
  close(): void;
  elapsed(): Map<string, number>;
}

function fmtElapsed(ms: number): string {
  const s = Math.floor(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (n: number) => String(n).padStart(2, '0');
  return h ? `${h}:${pad(m)}:${pad(s % 60)}` : `${m}:${pad(s % 60)}`;
}

function stamp(): string {
  return new Date().toISOString().slice(11, 19);
}

/**
 * On a terminal: a block with one row per image (variant, arch, type, state, elapsed) redrawn in
 * place once a second, with log lines scrolling above it. Otherwise: a timestamped line per
 * state change. Both on stderr, so stdout carries only the final table or the JSON report.
 */
function createDisplay(plan: ComposePlan, o: { json: boolean; verbose: boolean }, stream: NodeJS.WriteStream = process.stderr): Display {
  const rows = new Map<string, Row>();
  for (const grp of plan.groups) for (const j of grp.jobs) rows.set(j.id, { job: j, state: 'waiting' });
  const tty = Boolean(stream.isTTY) && (stream.columns ?? 0) > 0 && !o.verbose;
  let drawn = 0;
  const render = (): string => {
    const now = Date.now();
    const w = widths([...rows.values()].map((r) => r.job));
    return [...rows.values()]
      .map((r) => {
        const el = r.started ? fmtElapsed((r.ended ?? now) - r.started) : '';
        return `${r.job.variant.padEnd(w.variant)}  ${r.job.arch.padEnd(w.arch)}  ${r.job.type.padEnd(w.type)}  ${r.state.padEnd(8)}  ${el}`.slice(0, (stream.columns ?? 200) - 1);
      })
      .join('\n') + '\n';
  };
  const clear = () => {
    if (drawn > 0) stream.write(`\x1b[${drawn}A\x1b[J`);
    drawn = 0;
  };
  const draw = () => {
    const text = render();
    clear();
    stream.write(text);
    drawn = rows.size;
  };
  const timer = tty ? setInterval(draw, 1000) : undefined;
  timer?.unref();
  if (tty) draw();
  return {
    line(msg) {
      if (tty) {
        clear();
        stream.write(`${msg}\n`);
        draw();
      } else stream.write(`${stamp()} ${msg}\n`);
    },
    state(job, state, error) {
      const r = rows.get(job.id);
      if (!r) return;
      if (state === 'running') r.started = Date.now();
      if (state !== 'running' && state !== 'waiting') r.ended = Date.now();
      r.state = state;
      if (error) r.error = error;
      if (tty) draw();
      else {
        const el = r.started && r.ended ? ` after ${fmtElapsed(r.ended - r.started)}` : '';
        stream.write(`${stamp()} ${job.variant} ${job.arch} ${job.type}: ${state}${el}${error ? ` (${error})` : ''}\n`);
      }
    },
    close() {
      if (timer) clearInterval(timer);
      if (tty) draw();
    },
    elapsed() {
      const m = new Map<string, number>();
      for (const [id, r] of rows) if (r.started && r.ended) m.set(id, r.ended - r.started);
      return m;
    },
  };
}

function widths(jobs: { variant: string; arch: string; type: string }[]): { variant: number; arch: number; type: number } {
  const w = { variant: 7, arch: 4, type: 4 };
  for (const j of jobs) {
    w.variant = Math.max(w.variant, j.variant.length);
    w.arch = Math.max(w.arch, j.arch.length);
    w.type = Math.max(w.type, j.type.length);
  }
  return w;
}

function stateOf(j: ComposeReport['jobs'][number]): JobState {
  return j.status === 'done' ? (j.resumed ? 'kept' : 'done') : j.status;
}

/** The final table (stdout): one row per image, then the compose's status and where it is. */
export function finalTable(report: ComposeReport, elapsed: Map<string, number> = new Map()): string {
  const w = widths(report.jobs);
  const head = `${'VARIANT'.padEnd(w.variant)}  ${'ARCH'.padEnd(w.arch)}  ${'TYPE'.padEnd(w.type)}  STATE    ELAPSED  FILES / ERROR`;
  const lines = [head];
  for (const j of report.jobs) {
    const el = elapsed.has(j.job) ? fmtElapsed(elapsed.get(j.job)!) : '';
    const what = j.status === 'done' ? j.images.join(', ') || '(ostree commit)' : `${j.error ?? ''}${j.failable ? ' [failable]' : ''}`;
    lines.push(`${j.variant.padEnd(w.variant)}  ${j.arch.padEnd(w.arch)}  ${j.type.padEnd(w.type)}  ${stateOf(j).padEnd(7)}  ${el.padEnd(7)}  ${what}`);
  }
  lines.push('', `compose ${report.composeId}: ${report.status} (${report.images} image${report.images === 1 ? '' : 's'}) in ${report.dir}`);
  return lines.join('\n') + '\n';
}

/** The --json report. */
export function jsonReport(report: ComposeReport, tree: ComposeTree): unknown {
  return {
    compose_id: report.composeId,
    status: report.status,
    dir: report.dir,
    images_json: report.status.startsWith('FINISHED') ? path.join(tree.metadataDir, 'images.json') : null,
    images: report.jobs.map((j) => ({
      job: j.job,
      variant: j.variant,
      arch: j.arch,
      type: j.type,
      state: stateOf(j),
      failable: j.failable,
      files: j.images,
      error: j.error ?? null,
      log: j.log,
    })),
  };
}
