// The build host daemon, modelled on kojid's TaskManager: log in with an exclusive session,
// then loop: look at the host's open tasks (load, alerts for waiting parents, tasks left over
// from a previous run), report load and readiness with host.updateHost, take assigned tasks
// with host.getTasks / host.openTask and run several at once, closing each with
// host.closeTask / host.failTask and a serialized result.
//
// Differences from kojid, on purpose: tasks run as async jobs in this process (the image build
// itself runs in the executor's own processes), sharing one session; and OPEN tasks of this
// host that no job of ours runs (the previous daemon was killed) are continued in place rather
// than freed: handlers are written to be re-run (labelled subtasks, build state recovery).
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

import { Store } from '../../executor/store.js';
import { KilnError } from '../../util/errors.js';
import { AuthError, AuthLockError, KojiCallIndeterminateError, KojiFault, KojiTransportError, ServerOffline } from '../faults.js';
import { KojiSession } from '../session.js';
import { double, encodeFault, encodeResponse, kwargs, type XmlRpcStruct, type XmlRpcValue } from '../xmlrpc.js';
import type { BuilderConfig } from './config.js';
import { requestParams } from './handlers/common.js';
import { imageBuilderBuildArchSpec } from './handlers/image-build-arch.js';
import { imageBuilderBuildSpec, waitrepoSpec } from './handlers/image-build.js';
import { tagBuildSpec } from './handlers/tag-build.js';
import { distroFallback, KilnImageBuildRunner, type ImageBuildRunner } from './runner.js';
import { TaskContext, faultFor, type BuilderEnv, type HandlerSpec } from './task.js';

export const TASK_STATES = { FREE: 0, OPEN: 1, CLOSED: 2, CANCELED: 3, ASSIGNED: 4, FAILED: 5 } as const;

/** The task methods a Kiln build host runs. */
export function defaultHandlers(): Map<string, HandlerSpec> {
  return new Map([
    ['imageBuilderBuild', imageBuilderBuildSpec],
    ['imageBuilderBuildArch', imageBuilderBuildArchSpec],
    ['tagBuild', tagBuildSpec],
    ['waitrepo', waitrepoSpec],
  ]);
}

export interface KojiBuilderOptions {
  runner?: ImageBuildRunner;
  log?: (msg: string) => void;
  handlers?: Map<string, HandlerSpec>;
  /** use this session instead of one made from the config (tests) */
  session?: KojiSession;
}

interface Running {
  ctx: TaskContext;
  promise: Promise<void>;
  weight: number;
}

export class KojiBuilder {
  readonly session: KojiSession;
  private readonly env: BuilderEnv;
  private readonly handlers: Map<string, HandlerSpec>;
  private readonly running = new Map<number, Running>();
  private stopping = false;
  private wake: (() => void) | undefined;
  private taskLoad = 0;
  /** our open tasks that wait for subtasks (they still count against max_jobs, as in kojid) */
  private waitingTasks = 0;
  private saidFullOfWaiting = false;
  private readonly lockFile: string;
  /** task ids this daemon finished (closed or failed), for tests and logs */
  readonly finished: { id: number; method: string; ok: boolean }[] = [];

  constructor(
    readonly config: BuilderConfig,
    opts: KojiBuilderOptions = {},
  ) {
    const log = opts.log ?? ((m: string) => process.stderr.write(`${new Date().toISOString()} ${m}\n`));
    this.session =
      opts.session ??
      new KojiSession({
        hub: config.hub,
        auth: config.auth,
        ...(config.serverCa ? { serverCa: config.serverCa } : {}),
        // a build host rides out hub outages rather than giving up on its tasks
        retries: Infinity,
        retryDelayMs: Math.min(2000, config.pollIntervalMs),
        maxRetryDelayMs: Math.max(config.pollIntervalMs, 1000) * 4,
        log,
      });
    this.env = {
      session: this.session,
      config,
      runner: opts.runner ?? new KilnImageBuildRunner(),
      log,
      // replaced by start(), before any task runs
      distroFallback: { error: new KilnError('the build host has not been started') },
    };
    this.handlers = opts.handlers ?? defaultHandlers();
    this.lockFile = join(config.workDir, 'kiln-koji-builder.pid');
  }

  private log(m: string): void {
    this.env.log(m);
  }

  /**
   * Log in and take the host's exclusive session. Forced only when the previous daemon on this
   * work dir held the session (its pid file says so) and is gone, or when the configuration
   * says so: a start that never got the session leaves nothing to take over, and forcing then
   * would throw out a builder that is running elsewhere as this host.
   */
  async start(): Promise<void> {
    this.env.distroFallback = distroFallback(this.config);
    mkdirSync(join(this.config.workDir, 'tasks'), { recursive: true });
    const prev = readPidFile(this.lockFile);
    if (prev && prev.pid !== process.pid && alive(prev.pid)) {
      throw new KilnError(`${this.lockFile}: another Kiln build host (pid ${prev.pid}) is using work dir ${this.config.workDir}`);
    }
    const crashed = prev !== undefined && prev.session;
    writePidFile(this.lockFile, { pid: process.pid, session: false });
    try {
      if (crashed) {
        this.log(`previous build host process (pid ${prev.pid}) died holding the host's session; cleaning up its leftovers and taking over its session`);
        try {
          new Store(this.config.cacheDir).cleanTmp();
        } catch (e) {
          this.log(`cleaning ${this.config.cacheDir}: ${(e as Error).message}`);
        }
      } else if (prev) {
        this.log(`stale ${this.lockFile} (pid ${prev.pid}) without a session; not forcing the session lock`);
      }
      await this.session.login();
      await this.session.exclusiveSession(crashed || this.config.forceLock);
    } catch (e) {
      // no session: keep the dead holder's record, so a later start still knows to force
      if (crashed) writePidFile(this.lockFile, prev!);
      else rmSync(this.lockFile, { force: true });
      await this.session.logout().catch(() => undefined);
      this.session.close();
      if (e instanceof AuthLockError) {
        throw new KilnError(
          `Koji hub ${this.config.hub}: host ${this.config.hostName} already has an active session (another build host running as this host?); ` +
            `set host.force_lock = true in ${this.config.file} to take it over`,
        );
      }
      throw e;
    }
    // from now on a crash of this process leaves a session the next start may take over
    writePidFile(this.lockFile, { pid: process.pid, session: true });
    this.log(`logged in to ${this.config.hub} as ${this.config.hostName}; handling ${[...this.handlers.keys()].join(', ')}`);
  }

  /**
   * Run the loop until stop() is called. An AuthError from the hub (the session was closed or
   * taken over, or renewing an expired one failed; the session already logs in again on
   * AuthExpired) ends the loop, as it ends kojid's: the tasks are aborted and run() rejects,
   * so the daemon exits non-zero instead of retrying with a dead session forever.
   */
  async run(): Promise<void> {
    while (!this.stopping) {
      let took = false;
      try {
        await this.updateTasks();
        took = await this.getNextTask();
      } catch (e) {
        if (this.stopping) break;
        if (e instanceof AuthError) {
          const msg =
            `Koji hub ${this.config.hub}: the session of host ${this.config.hostName} is no longer valid (${e.kojiName}: ${e.faultString}); ` +
            `another build host may have taken over this host's session, or an admin closed it. Stopping this build host`;
          this.log(msg);
          await this.stop();
          throw new KilnError(msg);
        }
        this.log(`main loop: ${(e as Error).message}`);
      }
      if (this.stopping) break;
      if (!took) await this.idle(this.config.pollIntervalMs);
    }
  }

  private idle(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(t);
        this.wake = undefined;
        resolve();
      };
      const t = setTimeout(done, ms);
      this.wake = done;
    });
  }

  /**
   * Stop taking tasks; abort running ones and give them back to the hub (kojid's shutdown:
   * host.freeTasks), so another host picks them up. The executor unmounts and detaches what it
   * set up when its build is aborted.
   */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.wake?.();
    const ids = [...this.running.keys()];
    for (const r of this.running.values()) r.ctx.abort(new KilnError('build host is shutting down'));
    await Promise.allSettled([...this.running.values()].map((r) => r.promise));
    if (ids.length) {
      this.log(`freeing tasks ${ids.join(', ')}`);
      try {
        await this.session.call('host.freeTasks', ids);
      } catch (e) {
        this.log(`host.freeTasks: ${(e as Error).message}`);
      }
    }
    try {
      await this.session.logout();
    } catch (e) {
      this.log(`logout: ${(e as Error).message}`);
    }
    this.session.close();
    rmSync(this.lockFile, { force: true });
  }

  /** How many tasks run now. */
  get runningTasks(): number[] {
    return [...this.running.keys()];
  }

  // -------------------------------------------------------------------------------------------

  /** kojid updateTasks: load, alerts, and tasks the hub thinks we run but we do not. */
  private async updateTasks(): Promise<void> {
    const open = (await this.session.call<XmlRpcStruct[]>('host.getHostTasks')) ?? [];
    let load = 0;
    let waiting = 0;
    for (const t of open) {
      const id = Number(t.id);
      const r = this.running.get(id);
      if (!r) {
        await this.adopt(id);
        continue;
      }
      if (t.alert) r.ctx.alert();
      if (!t.waiting) load += Number(t.weight ?? r.weight);
      else waiting++;
    }
    this.taskLoad = load;
    this.waitingTasks = waiting;
    // a task of ours the hub no longer lists as open: canceled, or freed/reassigned by an admin
    const listed = new Set(open.map((t) => Number(t.id)));
    for (const [id, r] of this.running) {
      if (listed.has(id) || r.ctx.signal.aborted) continue;
      const info = (await this.session.call('getTaskInfo', id)) as XmlRpcStruct | null;
      const state = info?.state;
      if (state === TASK_STATES.CANCELED || state === TASK_STATES.FREE || state === TASK_STATES.ASSIGNED) {
        const why = state === TASK_STATES.CANCELED ? 'canceled' : 'taken away from this host';
        r.ctx.log(`${why} on the hub; stopping it`);
        r.ctx.abort(new KilnError(`task ${id} was ${why}`));
      }
    }
  }

  /** An OPEN task of ours with no job here: left by a killed daemon. Continue it, or free it. */
  private async adopt(id: number): Promise<void> {
    if (this.running.has(id) || this.stopping) return;
    const info = (await this.session.call('getTaskInfo', id, kwargs({ request: true }))) as XmlRpcStruct | null;
    if (!info || info.state !== TASK_STATES.OPEN) return;
    const method = String(info.method);
    const spec = this.handlers.get(method);
    if (!spec) {
      this.log(`task ${id}: open for this host but method ${method} has no handler here; freeing it`);
      await this.session.call('host.freeTasks', [id]);
      return;
    }
    this.log(`task ${id} (${method}): left open by a previous run of this host; continuing it`);
    this.launch(id, method, spec, requestParams(info.request ?? null, `task ${id}`));
  }

  private get ready(): boolean {
    return !this.stopping && this.running.size < this.config.maxJobs && this.taskLoad < this.config.capacity;
  }

  /** kojid getNextTask: report, then take the tasks the hub assigned to us. */
  private async getNextTask(): Promise<boolean> {
    await this.session.call(
      'host.updateHost',
      double(this.taskLoad),
      this.ready,
      kwargs({ data: { methods: [...this.handlers.keys()], maxjobs: this.config.maxJobs } }),
    );
    this.warnIfFullOfWaiting();
    if (!this.ready) return false;
    const tasks = (await this.session.call<XmlRpcStruct[]>('host.getTasks')) ?? [];
    let took = false;
    for (const t of tasks) {
      if (!this.ready) break;
      if (t.state !== TASK_STATES.ASSIGNED && t.state !== TASK_STATES.FREE) continue;
      if (await this.takeTask(t)) took = true;
    }
    return took;
  }

  /**
   * kojid (TaskManager.readyForTask) counts every open task, waiting ones too, against maxjobs,
   * and so does this host: with max_jobs parents waiting for their subtasks, this host takes
   * none of those subtasks. Say so once, since it looks like a hang.
   */
  private warnIfFullOfWaiting(): void {
    // waiting tasks are running ones, so this also means every slot is taken
    const full = !this.stopping && this.waitingTasks >= this.config.maxJobs;
    if (full && !this.saidFullOfWaiting) {
      this.log(
        `all ${this.config.maxJobs} job slots (host.max_jobs) are taken by tasks waiting for their subtasks, so this host takes no new task, ` +
          `not even those subtasks; set host.max_jobs in ${this.config.file} above the number of image builds run at once`,
      );
    }
    this.saidFullOfWaiting = full;
  }

  private async takeTask(t: XmlRpcStruct): Promise<boolean> {
    const id = Number(t.id);
    const method = String(t.method);
    if (this.running.has(id)) return false;
    const spec = this.handlers.get(method);
    if (!spec) {
      // kojid refuses for good: no Kiln host will ever have a handler for it
      const msg = `no handler for method ${method} on Kiln build host ${this.config.hostName}`;
      this.log(`task ${id}: refusing: ${msg}`);
      await this.session.call('host.refuseTask', id, kwargs({ soft: false, msg }));
      return false;
    }
    const arch = String(t.arch ?? 'noarch');
    if (arch !== 'noarch' && !this.config.arches.includes(arch)) {
      const msg = `arch ${arch} is not one this host builds (${this.config.arches.join(', ')})`;
      this.log(`task ${id}: refusing: ${msg}`);
      await this.session.call('host.refuseTask', id, kwargs({ soft: false, msg }));
      return false;
    }
    // as kojid: the request from getTaskInfo (decoded by the hub), then open the task
    const info = (await this.session.call('getTaskInfo', id, kwargs({ request: true }))) as XmlRpcStruct | null;
    if (!info || info.request === null || info.request === undefined) {
      this.log(`task ${id}: has no request; skipping it`);
      return false;
    }
    const opened = (await this.session.call('host.openTask', id)) as XmlRpcStruct | null;
    if (!opened) {
      this.log(`task ${id}: could not open it (taken by another host or canceled)`);
      return false;
    }
    await this.session.call('host.setTaskWeight', id, double(spec.weight));
    this.launch(id, method, spec, requestParams(info.request, `task ${id}`));
    return true;
  }

  private launch(id: number, method: string, spec: HandlerSpec, params: XmlRpcValue[]): void {
    const ctx = new TaskContext(id, method, this.env);
    const promise = this.runTask(ctx, spec, params).finally(() => {
      this.running.delete(id);
      // a finished task frees capacity: look for work now
      this.wake?.();
    });
    this.running.set(id, { ctx, promise, weight: spec.weight });
    this.taskLoad += spec.weight;
  }

  private async runTask(ctx: TaskContext, spec: HandlerSpec, params: XmlRpcValue[]): Promise<void> {
    ctx.log('started');
    let xml: string;
    let ok: boolean;
    try {
      const result = await spec.handler(ctx, params);
      xml = encodeResponse(result);
      ok = true;
    } catch (e) {
      if (ctx.signal.aborted) {
        ctx.log('aborted');
        return;
      }
      const f = faultFor(e);
      ctx.log(`failed: ${f.faultString}`);
      // a parent whose subtasks were canceled fails in taskWaitResults before the main loop
      // sees the cancel: nothing to report then
      const info = (await this.session.call('getTaskInfo', ctx.id).catch(() => null)) as XmlRpcStruct | null;
      if (info && info.state !== TASK_STATES.OPEN) {
        ctx.log(`not reporting the failure: the task is ${['FREE', 'OPEN', 'CLOSED', 'CANCELED', 'ASSIGNED', 'FAILED'][Number(info.state)] ?? info.state} on the hub`);
        return;
      }
      xml = encodeFault(f.faultCode, f.faultString);
      ok = false;
    }
    await this.finish(ctx, ok, xml);
  }

  /**
   * host.closeTask / host.failTask. They must not be sent twice blindly; when the answer is lost
   * (hub restart) we ask the hub for the task's state and send again only if it is still open.
   */
  private async finish(ctx: TaskContext, ok: boolean, xml: string): Promise<void> {
    const method = ok ? 'host.closeTask' : 'host.failTask';
    for (let attempt = 0; ; attempt++) {
      try {
        await this.session.call(method, ctx.id, xml);
        ctx.log(ok ? 'closed' : 'failed (reported)');
        this.finished.push({ id: ctx.id, method: ctx.method, ok });
        return;
      } catch (e) {
        if (!(e instanceof KojiCallIndeterminateError || e instanceof KojiTransportError || e instanceof ServerOffline) || attempt > 100) {
          ctx.log(`${method}: ${e instanceof KojiFault ? e.faultString : (e as Error).message}`);
          return;
        }
        await delay(Math.min(this.config.pollIntervalMs, 5000));
        const info = (await this.session.call('getTaskInfo', ctx.id)) as XmlRpcStruct | null;
        if (info && info.state !== TASK_STATES.OPEN) {
          this.finished.push({ id: ctx.id, method: ctx.method, ok });
          return;
        }
      }
    }
  }
}

interface PidRecord {
  pid: number;
  /** this process holds the host's exclusive session on the hub */
  session: boolean;
}

/** The pid file: "<pid>\n" then "session\n" once the session is held. Undefined: no file / unreadable. */
function readPidFile(file: string): PidRecord | undefined {
  if (!existsSync(file)) return undefined;
  const lines = readFileSync(file, 'utf8').split('\n').map((l) => l.trim());
  const pid = Number(lines[0]);
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  return { pid, session: lines.includes('session') };
}

function writePidFile(file: string, r: PidRecord): void {
  writeFileSync(file, `${r.pid}\n${r.session ? 'session\n' : ''}`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
