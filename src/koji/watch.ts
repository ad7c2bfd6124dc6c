// Following a Koji task tree until the top task finishes (what `koji watch-task` does), with a
// view that is redrawn in place on a terminal and printed as plain lines on state changes
// otherwise (logs, CI).
//
// Each poll is one multiCall of read-only calls (getTaskInfo of the top task, getTaskChildren
// of it and of every unfinished child), so the view is one consistent snapshot and the hub
// sees one request per poll. Polling starts fast and slows down while nothing changes. A hub
// that is down, restarting or answering ServerOffline is waited out with backoff and reported;
// only errors that waiting cannot fix (no such task, authentication) end the watch.
import { setTimeout as sleep } from 'node:timers/promises';

import { KilnError } from '../util/errors.js';
import { KojiCallIndeterminateError, KojiFault, KojiProtocolError, KojiTransportError, RetryError, ServerOffline } from './faults.js';
import type { KojiSession } from './session.js';
import type { XmlRpcStruct, XmlRpcValue } from './xmlrpc.js';

/** Koji TASK_STATES, in order. */
export const TASK_STATE_NAMES = ['FREE', 'OPEN', 'CLOSED', 'CANCELED', 'ASSIGNED', 'FAILED'] as const;
export const TASK_STATE = { FREE: 0, OPEN: 1, CLOSED: 2, CANCELED: 3, ASSIGNED: 4, FAILED: 5 } as const;

export function taskStateName(state: number): string {
  return TASK_STATE_NAMES[state] ?? `state ${state}`;
}

export function isFinished(state: number): boolean {
  return state === TASK_STATE.CLOSED || state === TASK_STATE.CANCELED || state === TASK_STATE.FAILED;
}

/** One task as the watcher sees it. */
export interface TaskView {
  id: number;
  parent: number | null;
  method: string;
  arch: string;
  label: string | null;
  state: number;
  hostId: number | null;
  createTs: number | null;
  startTs: number | null;
  completionTs: number | null;
  /** depth below the watched task (0 = the task itself) */
  level: number;
  /** for FAILED tasks: "<Koji fault class>: <fault string>" from getTaskResult */
  failure?: string;
  /** for the CLOSED top task: its result when it is a string (e.g. "image build results in: build 2") */
  result?: string;
}

export interface WatchResult {
  taskId: number;
  /** final state of the watched task (or its last seen state when interrupted) */
  state: number;
  stateName: string;
  tasks: TaskView[];
  /** the watched task and its descendants that FAILED, with reasons */
  failures: { id: number; label: string; reason: string }[];
  interrupted: boolean;
}

/** Where the watcher writes; process.stdout fits. */
export interface WatchOutput {
  write(s: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface WatchOptions {
  out?: WatchOutput;
  /** redraw in place (default: out.isTTY) */
  live?: boolean;
  /** first poll interval and the interval after a change (default 2000 ms) */
  pollMs?: number;
  /** the interval grows to this while nothing changes (default 30000 ms) */
  maxPollMs?: number;
  /** first wait after a failed poll, doubling (default 2000 ms) */
  errorBackoffMs?: number;
  maxErrorBackoffMs?: number;
  /** give up when the hub has been unreachable this long (default: never) */
  maxOfflineMs?: number;
  /** stop watching (Ctrl-C); the result then has interrupted = true */
  signal?: AbortSignal;
  /** print nothing but the final summary */
  quiet?: boolean;
}

function num(v: XmlRpcValue): number | null {
  if (typeof v === 'number') return v;
  if (v && typeof v === 'object' && 'value' in (v as object) && typeof (v as { value: unknown }).value === 'number') return (v as { value: number }).value;
  return null;
}

function toView(info: XmlRpcStruct, level: number): TaskView {
  return {
    id: Number(info.id),
    parent: typeof info.parent === 'number' ? info.parent : null,
    method: String(info.method ?? '?'),
    arch: String(info.arch ?? ''),
    label: typeof info.label === 'string' ? info.label : null,
    state: Number(info.state),
    hostId: typeof info.host_id === 'number' ? info.host_id : null,
    createTs: num(info.create_ts),
    startTs: num(info.start_ts),
    completionTs: num(info.completion_ts),
    level,
  };
}

/** "imageBuilderBuildArch (x86_64)"; the label is added when it says something the arch does not. */
export function taskLabel(t: Pick<TaskView, 'method' | 'arch' | 'label'>): string {
  const extra = t.label && t.label !== t.arch ? ` [${t.label}]` : '';
  return `${t.method} (${t.arch})${extra}`;
}

export function formatElapsed(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}

function elapsed(t: TaskView, nowS: number): string {
  const from = t.startTs ?? t.createTs;
  if (from === null) return '';
  const to = t.completionTs ?? (isFinished(t.state) ? from : nowS);
  return formatElapsed(to - from);
}

/** Errors that waiting can fix: the hub is down, restarting, overloaded or behind a failing proxy. */
export function isTransient(e: unknown): boolean {
  if (e instanceof KojiTransportError) return e.httpStatus === undefined || e.httpStatus >= 500;
  return e instanceof ServerOffline || e instanceof RetryError || e instanceof KojiProtocolError || e instanceof KojiCallIndeterminateError;
}

class Watcher {
  private readonly tasks = new Map<number, TaskView>();
  private readonly hostNames = new Map<number, string>();
  private hostLookup = true;
  private drawn = 0;
  private status = '';
  private readonly out: WatchOutput;
  private readonly live: boolean;
  private readonly quiet: boolean;

  constructor(
    private readonly session: KojiSession,
    private readonly taskId: number,
    private readonly o: WatchOptions,
  ) {
    this.out = o.out ?? process.stdout;
    this.quiet = !!o.quiet;
    this.live = !this.quiet && (o.live ?? !!this.out.isTTY);
  }

  /** One snapshot of the tree. Returns true when something changed. */
  private async poll(): Promise<boolean> {
    const parents = [this.taskId, ...[...this.tasks.values()].filter((t) => t.id !== this.taskId && !isFinished(t.state)).map((t) => t.id)];
    const res = await this.session.multiCall<XmlRpcValue>(
      [
        { method: 'getTaskInfo', params: [this.taskId] },
        ...parents.map((id) => ({ method: 'getTaskChildren', params: [id] })),
      ],
      { strict: true },
    );
    const top = res[0]!.ok ? (res[0] as { value: XmlRpcValue }).value : null;
    if (top === null || typeof top !== 'object') throw new KilnError(`Koji hub ${this.session.hub}: no task ${this.taskId}`);
    const seen: TaskView[] = [toView(top as XmlRpcStruct, 0)];
    parents.forEach((pid, i) => {
      const r = res[i + 1]!;
      const level = (pid === this.taskId ? 0 : (this.tasks.get(pid)?.level ?? 0)) + 1;
      if (r.ok && Array.isArray(r.value)) for (const c of r.value) seen.push(toView(c as XmlRpcStruct, level));
    });
    let changed = false;
    for (const t of seen) {
      const old = this.tasks.get(t.id);
      if (old && old.state === t.state) {
        // keep what was learned about it; times may have been filled in
        Object.assign(old, { ...t, failure: old.failure, result: old.result, level: old.level });
        continue;
      }
      changed = true;
      if (t.state === TASK_STATE.FAILED) t.failure = await this.failure(t.id);
      if (t.state === TASK_STATE.CLOSED && t.id === this.taskId) t.result = await this.result(t.id);
      if (t.state === TASK_STATE.OPEN && t.hostId !== null) await this.hostName(t.hostId);
      this.tasks.set(t.id, t);
      if (!this.live && !this.quiet) this.line(old, t);
    }
    return changed;
  }

  private async failure(id: number): Promise<string> {
    try {
      await this.session.call('getTaskResult', id);
      return 'failed without a fault';
    } catch (e) {
      if (e instanceof KojiFault) return `${e.kojiName === 'Fault' ? 'Fault' : e.kojiName}: ${e.faultString.trim()}`;
      if (isTransient(e)) return '(reason not available: hub unreachable)';
      throw e;
    }
  }

  private async result(id: number): Promise<string | undefined> {
    try {
      const r = await this.session.call('getTaskResult', id);
      return typeof r === 'string' ? r : undefined;
    } catch {
      return undefined;
    }
  }

  /** Host names make "open (builder3)" readable; hubs without getHost just show the id. */
  private async hostName(hostId: number): Promise<void> {
    if (!this.hostLookup || this.hostNames.has(hostId)) return;
    try {
      const h = await this.session.call('getHost', hostId);
      if (h && typeof h === 'object' && typeof (h as XmlRpcStruct).name === 'string') this.hostNames.set(hostId, (h as XmlRpcStruct).name as string);
    } catch (e) {
      if (e instanceof KojiFault) this.hostLookup = false;
    }
  }

  private stateText(t: TaskView): string {
    const name = taskStateName(t.state).toLowerCase();
    if (t.state === TASK_STATE.OPEN && t.hostId !== null) return `${name} (${this.hostNames.get(t.hostId) ?? `host ${t.hostId}`})`;
    return name;
  }

  private line(old: TaskView | undefined, t: TaskView): void {
    const head = `${'  '.repeat(t.level)}${t.id} ${taskLabel(t)}`;
    const now = this.stateText(t);
    const took = isFinished(t.state) ? ` (${elapsed(t, Date.now() / 1000)})` : '';
    const why = t.failure ? `: ${t.failure}` : '';
    this.out.write(old ? `${head}: ${this.stateText(old)} -> ${now}${took}${why}\n` : `${head}: ${now}${took}${why}\n`);
  }

  private ordered(): TaskView[] {
    // depth-first from the watched task, children by id
    const out: TaskView[] = [];
    const walk = (id: number) => {
      const t = this.tasks.get(id);
      if (!t) return;
      out.push(t);
      for (const c of [...this.tasks.values()].filter((x) => x.parent === id).sort((a, b) => a.id - b.id)) walk(c.id);
    };
    walk(this.taskId);
    return out;
  }

  /** Redraw the table in place (terminal only). */
  draw(): void {
    if (!this.live) return;
    const nowS = Date.now() / 1000;
    const width = Math.max(40, (this.out.columns ?? 100) - 1);
    const rows = this.ordered().map((t) => [`${'  '.repeat(t.level)}${t.id}`, taskLabel(t), this.stateText(t), elapsed(t, nowS)]);
    const w = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i]!.length)));
    const lines = rows.map((r) => `${r[0]!.padEnd(w[0]!)}  ${r[1]!.padEnd(w[1]!)}  ${r[2]!.padEnd(w[2]!)}  ${r[3]}`.slice(0, width).trimEnd());
    if (this.status) lines.push(this.status.slice(0, width));
    let s = this.drawn ? `\x1b[${this.drawn}F\x1b[J` : '';
    s += lines.map((l) => l + '\n').join('');
    this.out.write(s);
    this.drawn = lines.length;
  }

  private note(msg: string): void {
    if (this.quiet) return;
    if (this.live) {
      this.status = msg;
      this.draw();
    } else this.out.write(msg + '\n');
  }

  private async wait(ms: number): Promise<void> {
    // on a terminal, tick once a second so elapsed times move
    const step = this.live ? 1000 : ms;
    for (let left = ms; left > 0; left -= step) {
      await sleep(Math.min(step, left), undefined, this.o.signal ? { signal: this.o.signal } : undefined);
      if (left > step) this.draw();
    }
  }

  async run(): Promise<WatchResult> {
    const minPoll = this.o.pollMs ?? 2000;
    const maxPoll = Math.max(minPoll, this.o.maxPollMs ?? 30_000);
    const minBackoff = this.o.errorBackoffMs ?? 2000;
    const maxBackoff = Math.max(minBackoff, this.o.maxErrorBackoffMs ?? 60_000);
    let interval = minPoll;
    let backoff = minBackoff;
    let offlineSince: number | undefined;
    let interrupted = false;
    try {
      for (;;) {
        let changed: boolean;
        try {
          changed = await this.poll();
        } catch (e) {
          if (!isTransient(e) || this.o.signal?.aborted) throw e;
          offlineSince ??= Date.now();
          const down = Date.now() - offlineSince;
          if (this.o.maxOfflineMs !== undefined && down >= this.o.maxOfflineMs) {
            throw new KilnError(`Koji hub ${this.session.hub} unreachable for ${formatElapsed(down / 1000)} while watching task ${this.taskId}: ${(e as Error).message}`);
          }
          this.note(`hub unavailable (${(e as Error).message}); retrying in ${Math.round(backoff / 100) / 10} s`);
          await this.wait(backoff);
          backoff = Math.min(backoff * 2, maxBackoff);
          continue;
        }
        if (offlineSince !== undefined) {
          const down = (Date.now() - offlineSince) / 1000;
          offlineSince = undefined;
          backoff = minBackoff;
          if (this.live) this.status = '';
          else if (!this.quiet) this.out.write(`hub reachable again (after ${formatElapsed(down)})\n`);
        }
        this.draw();
        const top = this.tasks.get(this.taskId)!;
        if (isFinished(top.state)) break;
        interval = changed ? minPoll : Math.min(Math.round(interval * 1.5), maxPoll);
        await this.wait(interval);
      }
    } catch (e) {
      if (!(this.o.signal?.aborted && ((e as Error).name === 'AbortError' || e instanceof KojiTransportError))) throw e;
      interrupted = true;
    }
    return this.summary(interrupted);
  }

  private summary(interrupted: boolean): WatchResult {
    const tasks = this.ordered();
    const top = this.tasks.get(this.taskId);
    const state = top?.state ?? -1;
    const failures = tasks.filter((t) => t.state === TASK_STATE.FAILED).map((t) => ({ id: t.id, label: taskLabel(t), reason: t.failure ?? 'unknown' }));
    return { taskId: this.taskId, state, stateName: taskStateName(state), tasks, failures, interrupted };
  }
}

/** Watch a task and its descendants until the task finishes (or options.signal aborts). */
export async function watchTask(session: KojiSession, taskId: number, options: WatchOptions = {}): Promise<WatchResult> {
  if (!Number.isSafeInteger(taskId) || taskId <= 0) throw new KilnError(`task id ${taskId}: must be a positive integer`);
  return new Watcher(session, taskId, options).run();
}

/** Human summary of a finished watch, one line per failed task (for stdout/stderr). */
export function describeResult(r: WatchResult): string {
  const top = r.tasks.find((t) => t.id === r.taskId);
  const head = top ? `${r.taskId} ${taskLabel(top)}` : `task ${r.taskId}`;
  if (r.interrupted) return `${head} is still ${r.stateName.toLowerCase()}; continue watching with \`kiln koji watch ${r.taskId}\``;
  const lines: string[] = [];
  if (r.state === TASK_STATE.CLOSED) {
    lines.push(`${head} completed successfully${top?.result ? `: ${top.result}` : ''}`);
    for (const f of r.failures) lines.push(`  ${f.id} ${f.label} failed (allowed to fail): ${f.reason}`);
  } else if (r.state === TASK_STATE.CANCELED) {
    lines.push(`${head} was canceled`);
  } else {
    const own = r.failures.find((f) => f.id === r.taskId);
    lines.push(`${head} failed${own ? `: ${own.reason}` : ''}`);
    for (const f of r.failures) if (f.id !== r.taskId) lines.push(`  ${f.id} ${f.label} failed: ${f.reason}`);
  }
  return lines.join('\n');
}

/** Exit status for a watch result: 0 closed, 1 failed, 2 canceled, 130 interrupted. */
export function exitCodeFor(r: WatchResult): number {
  if (r.interrupted) return 130;
  if (r.state === TASK_STATE.CLOSED) return 0;
  if (r.state === TASK_STATE.CANCELED) return 2;
  return 1;
}
