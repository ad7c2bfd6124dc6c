// What a task handler gets: its id and arguments, the hub session, the configuration, and
// kojid's BaseTaskHandler helpers (subtasks, waiting for them, sleeping until the daemon sees
// an alert for this task).
import { setTimeout as delay } from 'node:timers/promises';

import { KilnError } from '../../util/errors.js';
import { BuildError, GenericError, KojiCallIndeterminateError, KojiFault, ServerOffline } from '../faults.js';
import type { KojiSession } from '../session.js';
import { kwargs, type XmlRpcStruct, type XmlRpcValue } from '../xmlrpc.js';
import type { BuilderConfig } from './config.js';
import type { DistroFallback, ImageBuildRunner } from './runner.js';

export interface BuilderEnv {
  session: KojiSession;
  config: BuilderConfig;
  runner: ImageBuildRunner;
  /** daemon log (one line per call) */
  log: (msg: string) => void;
  /** what tasks naming no distro build; settled by KojiBuilder.start() */
  distroFallback: DistroFallback;
}

export type TaskHandler = (ctx: TaskContext, params: XmlRpcValue[]) => Promise<XmlRpcValue>;

export interface HandlerSpec {
  handler: TaskHandler;
  /** kojid's _taskWeight */
  weight: number;
}

export const buildError = (msg: string): BuildError => new BuildError(1005, msg);
export const genericError = (msg: string): GenericError => new GenericError(1000, msg);

export function isFaultDict(v: XmlRpcValue): v is XmlRpcStruct {
  return !!v && typeof v === 'object' && !Array.isArray(v) && 'faultCode' in (v as object) && 'faultString' in (v as object);
}

/** The fault a task failure is reported with (kojid: the exception's faultCode, else 1). */
export function faultFor(e: unknown): { faultCode: number; faultString: string } {
  if (e instanceof KojiFault) return { faultCode: e.faultCode, faultString: e.faultString };
  // Kiln's own errors are the build failing for a stated reason (bad input, failed stage)
  if (e instanceof KilnError) return { faultCode: 1005, faultString: e.message };
  const err = e as Error;
  return { faultCode: 1, faultString: err?.stack ?? String(e) };
}

export class TaskContext {
  private wakeUp: (() => void) | undefined;
  private readonly controller = new AbortController();

  constructor(
    readonly id: number,
    readonly method: string,
    readonly env: BuilderEnv,
  ) {}

  get session(): KojiSession {
    return this.env.session;
  }
  get config(): BuilderConfig {
    return this.env.config;
  }
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  abort(reason: Error): void {
    this.controller.abort(reason);
    this.wakeUp?.();
  }

  log(msg: string): void {
    this.env.log(`task ${this.id} (${this.method}): ${msg}`);
  }

  /** The daemon saw `alert` for this task in host.getHostTasks: a waited-for subtask finished. */
  alert(): void {
    this.wakeUp?.();
  }

  /** Sleep up to `ms`, less if alerted or aborted. */
  async sleep(ms: number): Promise<void> {
    this.signal.throwIfAborted();
    await new Promise<void>((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.wakeUp = done;
    });
    this.wakeUp = undefined;
    this.signal.throwIfAborted();
  }

  /**
   * host.subtask. With a label the hub hands back the existing child of that label, so the call
   * may safely be repeated (after a lost response, or when a restarted host re-runs the parent).
   */
  async subtask(method: string, arglist: XmlRpcValue[], o: { label?: string; arch?: string } = {}): Promise<number> {
    const kw: XmlRpcStruct = { method, arglist };
    if (o.label !== undefined) kw.label = o.label;
    kw.parent = this.id;
    if (o.arch !== undefined) kw.arch = o.arch;
    const id = await this.session.callWithOptions<number>('host.subtask', [kwargs(kw)], { safeToRepeat: o.label !== undefined });
    return Number(id);
  }

  /**
   * BaseTaskHandler.wait(subtasks, all=True, canfail=...): block until every subtask finished,
   * then host.taskWaitResults. A failed subtask not in `canfail` raises its fault; failed
   * `canfail` subtasks come back as {faultCode, faultString}.
   */
  async wait(subtasks: number[], canfail: number[] = []): Promise<Map<number, XmlRpcValue>> {
    await this.session.call('host.taskSetWait', this.id, subtasks);
    for (;;) {
      const [, unfinished] = await this.session.call<[number[], number[]]>('host.taskWait', this.id);
      if (!unfinished || unfinished.length === 0) break;
      await this.sleep(this.config.pollIntervalMs);
    }
    // not in the hub's retry whitelist, but repeating it only re-reads the same results
    const res = await this.session.callWithOptions<[number, XmlRpcValue][]>('host.taskWaitResults', [this.id, subtasks, kwargs({ canfail })], {
      safeToRepeat: true,
    });
    return new Map(res.map(([id, v]) => [Number(id), v]));
  }

  /**
   * A call that must not be repeated blindly (it changes state on the hub). When its answer is
   * lost, `alreadyDone` asks the hub whether it happened (returning the call's result if so);
   * if not, or the hub was offline, the call is sent again.
   */
  async callChecked<T>(method: string, params: XmlRpcValue[], alreadyDone: () => Promise<T | undefined>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.session.call<T>(method, ...params);
      } catch (e) {
        const lost = e instanceof KojiCallIndeterminateError;
        if (!(lost || e instanceof ServerOffline) || attempt >= 50) throw e;
        this.log(`${method}: ${(e as Error).message}; checking the hub and trying again`);
        await this.pause(Math.min(this.config.pollIntervalMs * attempt, 30_000));
        if (lost) {
          const done = await alreadyDone();
          if (done !== undefined) return done;
        }
      }
    }
  }

  /** Poll with a delay that does not keep the task from being aborted. */
  async pause(ms: number): Promise<void> {
    await delay(ms, undefined, { signal: this.signal });
  }
}
