// `kiln koji build|watch|download`: submit image builds to a Koji hub (the koji-image-builder
// plugin's imageBuilderBuild call) and follow them. Argument parsing and output only; the work
// is in src/koji/{config,submit,watch,download}.ts.
import { Command, Option } from 'commander';

import { resolveKojiConfig, taskUrl, type KojiClientConfig, type KojiClientFlags } from '../koji/config.js';
import { downloadTask } from '../koji/download.js';
import { KojiSession } from '../koji/session.js';
import { checkTarget, imageBuilderBuildParams, submitImageBuild, type ImageBuildRequest } from '../koji/submit.js';
import { describeResult, exitCodeFor, watchTask, type WatchOutput } from '../koji/watch.js';
import { KilnError } from '../util/errors.js';

/** Where the commands write and which environment they read (tests pass their own). */
export interface KojiCliIo {
  stdout: WatchOutput;
  stderr: { write(s: string): unknown };
  env: NodeJS.ProcessEnv;
  /** session retry delay (tests make it short) */
  retryDelayMs?: number;
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

function intArg(flag: string) {
  return (v: string): number => {
    if (!/^-?\d+$/.test(v.trim())) throw new KilnError(`${flag} ${JSON.stringify(v)}: must be an integer`);
    const n = Number(v);
    if (!Number.isSafeInteger(n)) throw new KilnError(`${flag} ${v}: out of range`);
    return n;
  };
}

function secondsArg(flag: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new KilnError(`${flag} ${JSON.stringify(v)}: must be a number of seconds > 0`);
    return n;
  };
}

/** Hub/profile/login flags shared by the koji subcommands (the builder command may use them too). */
export function addKojiConnectionOptions(cmd: Command): Command {
  return cmd
    .option('--hub <url>', 'Koji hub XML-RPC URL (env KILN_KOJI_HUB)')
    .option('--topurl <url>', "URL where the hub's files are served (env KILN_KOJI_TOPURL)")
    .option('--weburl <url>', 'Koji web UI URL, for task links (env KILN_KOJI_WEBURL)')
    .option('--user <name>', 'log in with this user name (env KILN_KOJI_USER)')
    .option('--password-file <file>', 'file holding the password (env KILN_KOJI_PASSWORD_FILE)')
    .option('--cert <file>', 'log in with this TLS client certificate (PEM with key) (env KILN_KOJI_CERT)')
    .option('--serverca <file>', "CA bundle for the hub's TLS certificate (env KILN_KOJI_SERVERCA)")
    .option('--profile <name>', 'profile (table) of the profile file to use (env KILN_KOJI_PROFILE)')
    .option('--config <file>', 'profile file (default ~/.config/kiln/koji.toml; env KILN_KOJI_CONFIG)');
}

/** The connection flags of a parsed command, merged with the env and the profile file. */
export function kojiConfigFromOptions(opts: Record<string, unknown>, env: NodeJS.ProcessEnv, need: { auth?: boolean; topurl?: boolean } = {}): KojiClientConfig {
  const pickStr = (k: string) => (typeof opts[k] === 'string' ? (opts[k] as string) : undefined);
  const flags: KojiClientFlags = {
    hub: pickStr('hub'), topurl: pickStr('topurl'), weburl: pickStr('weburl'), user: pickStr('user'),
    passwordFile: pickStr('passwordFile'), cert: pickStr('cert'), serverca: pickStr('serverca'),
    profile: pickStr('profile'), config: pickStr('config'),
  };
  return resolveKojiConfig(flags, { env, requireAuth: need.auth, requireTopurl: need.topurl });
}

/** A session for a resolved configuration; retries are reported on stderr. */
export function kojiSessionFor(cfg: KojiClientConfig, io: Pick<KojiCliIo, 'stderr' | 'retryDelayMs'>, signal?: AbortSignal): KojiSession {
  return new KojiSession({
    hub: cfg.hub,
    auth: cfg.auth,
    ...(cfg.serverCa ? { serverCa: cfg.serverCa } : {}),
    retries: 3,
    ...(io.retryDelayMs !== undefined ? { retryDelayMs: io.retryDelayMs } : {}),
    log: (m) => void io.stderr.write(`${m}\n`),
    ...(signal ? { signal } : {}),
  });
}

function parseTaskId(v: string): number {
  if (!/^\d+$/.test(v) || Number(v) <= 0 || !Number.isSafeInteger(Number(v))) throw new KilnError(`task id ${JSON.stringify(v)}: must be a positive integer`);
  return Number(v);
}

interface WatchFlags {
  quiet?: boolean;
  pollInterval?: number;
}

/** Watch with Ctrl-C handling; throws KilnError (with the exit code) unless the task closed. */
async function watchAndReport(session: KojiSession, taskId: number, flags: WatchFlags, io: KojiCliIo, pollMs?: number): Promise<void> {
  const ac = new AbortController();
  const onInt = () => ac.abort();
  process.once('SIGINT', onInt);
  try {
    const r = await watchTask(session, taskId, {
      out: io.stdout,
      quiet: flags.quiet,
      signal: ac.signal,
      ...(pollMs !== undefined ? { pollMs, maxPollMs: Math.max(pollMs, 30_000) } : {}),
      ...(flags.pollInterval !== undefined ? { pollMs: flags.pollInterval * 1000, maxPollMs: flags.pollInterval * 1000 } : {}),
    });
    const code = exitCodeFor(r);
    if (code === 0) {
      io.stdout.write(describeResult(r) + '\n');
      return;
    }
    throw new KilnError(describeResult(r), code);
  } finally {
    process.removeListener('SIGINT', onInt);
  }
}

export interface BuildFlags extends WatchFlags {
  arch?: string[];
  failableArch?: string[];
  repo?: string[];
  release?: string;
  scratch?: boolean;
  skipTag?: boolean;
  ostreeUrl?: string;
  ostreeRef?: string;
  ostreeParent?: string;
  bootcRef?: string;
  bootcBuildRef?: string;
  bootcInstallerPayloadRef?: string;
  bootcDefaultFs?: string;
  blueprint?: string;
  seed?: number;
  preview?: boolean;
  distro?: string;
  priority?: number;
  nowait?: boolean;
}

/** Command-line flags -> the request submit.ts understands. */
export function requestFromFlags(target: string, name: string, version: string, type: string, f: BuildFlags): ImageBuildRequest {
  const req: ImageBuildRequest = { target, name, version, type, arches: f.arch ?? [], failableArches: f.failableArch ?? [], repos: f.repo ?? [], scratch: !!f.scratch, skipTag: !!f.skipTag };
  if (f.release !== undefined) req.release = f.release;
  if (f.ostreeUrl !== undefined || f.ostreeRef !== undefined || f.ostreeParent !== undefined) req.ostree = { url: f.ostreeUrl, ref: f.ostreeRef, parent: f.ostreeParent };
  if ([f.bootcRef, f.bootcBuildRef, f.bootcInstallerPayloadRef, f.bootcDefaultFs].some((x) => x !== undefined)) {
    req.bootc = { ref: f.bootcRef, buildRef: f.bootcBuildRef, installerPayloadRef: f.bootcInstallerPayloadRef, defaultFs: f.bootcDefaultFs };
  }
  if (f.blueprint !== undefined) req.blueprintFile = f.blueprint;
  if (f.seed !== undefined) req.seed = f.seed;
  if (f.preview !== undefined) req.preview = f.preview;
  if (f.distro !== undefined) req.distro = f.distro;
  if (f.priority !== undefined) req.priority = f.priority;
  return req;
}

/**
 * Create `kiln koji` with build/watch/download under `program` and return the `koji` command
 * (the build host command can be attached to it).
 */
export function registerKojiCommands(program: Command, ioIn: Partial<KojiCliIo> = {}): Command {
  const io: KojiCliIo = { stdout: ioIn.stdout ?? process.stdout, stderr: ioIn.stderr ?? process.stderr, env: ioIn.env ?? process.env, ...(ioIn.retryDelayMs !== undefined ? { retryDelayMs: ioIn.retryDelayMs } : {}) };
  const koji = program.command('koji').description('submit image builds to a Koji hub and follow them');

  const build = koji
    .command('build')
    .description('submit an image build (imageBuilderBuild) to Koji and watch it until it finishes')
    .argument('<target>', 'Koji build target, e.g. f42-image-builder')
    .argument('<name>', 'Koji package name of the image, e.g. Fedora-Minimal')
    .argument('<version>', 'version, e.g. 42')
    .argument('<type>', 'image type, e.g. minimal-raw-xz')
    .addOption(new Option('--arch <arch>', 'build only this architecture (repeatable; default: the build tag arches)').argParser(collect))
    .addOption(new Option('--failable-arch <arch>', 'this architecture may fail without failing the build (repeatable)').argParser(collect))
    .addOption(new Option('--repo <url>', 'install packages from this repository instead of the build tag repo (repeatable)').argParser(collect))
    .option('--release <release>', 'release of the build (default: the next free one)')
    .option('--scratch', 'scratch build (not imported, not tagged)')
    .option('--skip-tag', 'do not tag the build into the destination tag')
    .option('--ostree-url <url>', 'OSTree repository URL')
    .option('--ostree-ref <ref>', 'OSTree ref ($arch is replaced by the builder)')
    .option('--ostree-parent <ref>', 'OSTree parent commit')
    .option('--bootc-ref <ref>', 'bootable container image')
    .option('--bootc-build-ref <ref>', 'bootable container used as build root')
    .option('--bootc-installer-payload-ref <ref>', 'bootable container installed by an installer image')
    .option('--bootc-default-fs <fs>', 'root filesystem type when the container does not say')
    .option('--blueprint <file>', 'blueprint (.toml or .json), sent to the builder')
    .addOption(new Option('--seed <n>', 'seed for reproducible UUIDs').argParser(intArg('--seed')))
    .option('--preview', 'build as a preview (prerelease) of the distro')
    .option('--no-preview', 'build as a non-preview release of the distro')
    .option('--distro <distro>', 'distro to build (default: the blueprint\'s distro, else the build host\'s build.default_distro, else the host\'s own distro if Kiln has definitions for it)')
    .addOption(new Option('--priority <n>', 'task priority (lower is sooner; Kiln\'s hub plugin applies it, the upstream koji-image-builder plugin ignores it)').argParser(intArg('--priority')))
    .option('--nowait', 'print the task id and exit without watching')
    .option('-q, --quiet', 'only print the task id and the final result')
    .addOption(new Option('--poll-interval <seconds>', 'fixed time between polls').argParser(secondsArg('--poll-interval')));
  addKojiConnectionOptions(build);
  build.action(async (target: string, name: string, version: string, type: string, f: BuildFlags, cmd: Command) => {
    // check everything local (flags, blueprint) before talking to the hub
    const params = imageBuilderBuildParams(requestFromFlags(target, name, version, type, f));
    const cfg = kojiConfigFromOptions(cmd.opts(), io.env, { auth: true });
    const session = kojiSessionFor(cfg, io);
    try {
      await session.login();
      await checkTarget(session, target, f.arch ?? []);
      const id = await submitImageBuild(session, params);
      io.stdout.write(`Created task: ${id}\n`);
      const url = taskUrl(cfg, id);
      if (url) io.stdout.write(`Task info: ${url}\n`);
      if (f.nowait) return;
      await watchAndReport(session, id, f, io);
    } finally {
      await session.logout().catch(() => undefined);
      session.close();
    }
  });

  const watch = koji
    .command('watch')
    .description('follow a Koji task and its subtasks until it finishes (exit 0 only if it closed successfully)')
    .argument('<task-id>', 'task id')
    .option('-q, --quiet', 'only print the final result')
    .addOption(new Option('--poll-interval <seconds>', 'fixed time between polls').argParser(secondsArg('--poll-interval')));
  addKojiConnectionOptions(watch);
  watch.action(async (idText: string, f: WatchFlags, cmd: Command) => {
    const id = parseTaskId(idText);
    const cfg = kojiConfigFromOptions(cmd.opts(), io.env);
    // reads need no login; an anonymous session does not leave sessions behind on the hub
    const session = kojiSessionFor({ ...cfg, auth: { type: 'none' } }, io);
    try {
      const url = taskUrl(cfg, id);
      if (url && !f.quiet) io.stdout.write(`Task info: ${url}\n`);
      await watchAndReport(session, id, f, io);
    } finally {
      session.close();
    }
  });

  const download = koji
    .command('download')
    .description("download a finished task's output (images, manifests, SBOMs) and check sizes and checksums")
    .argument('<task-id>', 'task id (the imageBuilderBuild task)')
    .option('--dir <dir>', 'destination directory', '.')
    .option('--logs', 'also download the logs')
    .option('-q, --quiet', 'print nothing but errors');
  addKojiConnectionOptions(download);
  download.action(async (idText: string, f: { dir: string; logs?: boolean; quiet?: boolean }, cmd: Command) => {
    const id = parseTaskId(idText);
    const cfg = kojiConfigFromOptions(cmd.opts(), io.env, { topurl: true });
    const session = kojiSessionFor({ ...cfg, auth: { type: 'none' } }, io);
    try {
      const files = await downloadTask(session, id, {
        dir: f.dir, topurl: cfg.topurl!, logs: f.logs, quiet: f.quiet, out: io.stdout,
        ...(cfg.serverCa ? { serverCa: cfg.serverCa } : {}),
      });
      if (!f.quiet && files.length) io.stdout.write(`${files.length} file(s) in ${f.dir}\n`);
    } finally {
      session.close();
    }
  });

  return koji;
}
