// Everything a build acquires from the kernel (loop devices, mounts) or the filesystem (temp dirs)
// is registered here and released in reverse order: on success, on failure and on SIGINT/SIGTERM.
// Releases are synchronous so they can also run from a signal handler or an exit hook when the
// event loop cannot be trusted to make progress.
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { KilnError } from '../util/errors.js';
import { killAllChildren } from './proc.js';

export interface Resource {
  readonly what: string;
  released: boolean;
}

interface Entry extends Resource {
  release: () => void;
}

/** Trackers with unreleased resources, for the emergency path. */
const live = new Set<ResourceTracker>();

// Last line of defence: a process that exits with resources held (an uncaught exception, an
// explicit process.exit) releases them on the way out. 'exit' listeners must be synchronous,
// which every release is.
let exitHook = false;
function ensureExitHook(): void {
  if (exitHook) return;
  exitHook = true;
  process.on('exit', () => {
    if (live.size) releaseEverything();
  });
}

export class ResourceTracker {
  private stack: Entry[] = [];

  add(what: string, release: () => void): Resource {
    const e: Entry = { what, release, released: false };
    this.stack.push(e);
    live.add(this);
    ensureExitHook();
    return e;
  }

  /** Release one resource early (e.g. unmount before the next stage); errors propagate. */
  releaseOne(r: Resource): void {
    const e = r as Entry;
    if (e.released) return;
    e.released = true;
    this.stack = this.stack.filter((x) => x !== e);
    if (this.stack.length === 0) live.delete(this);
    e.release();
  }

  /** Release everything newest-first; keeps going past failures and reports them all. */
  releaseAll(): void {
    const errors: string[] = [];
    while (this.stack.length > 0) {
      const e = this.stack.pop()!;
      if (e.released) continue;
      e.released = true;
      try {
        e.release();
      } catch (err) {
        errors.push(`${e.what}: ${(err as Error).message}`);
      }
    }
    live.delete(this);
    if (errors.length) throw new KilnError(`cleanup failed: ${errors.join('; ')}`);
  }

  get size(): number {
    return this.stack.length;
  }
}

/** Release every tracker's resources; used when a signal or exit cuts a build short. */
export function releaseEverything(): void {
  killAllChildren();
  for (const t of [...live]) {
    try {
      t.releaseAll();
    } catch (err) {
      process.stderr.write(`kiln: ${(err as Error).message}\n`);
    }
  }
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Run a cleanup command, retrying while the kernel says busy (a closing fd, a udev probe). */
export function runCleanup(argv: string[], tries = 10): void {
  let last = '';
  for (let i = 0; i < tries; i++) {
    const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });
    if (r.status === 0) return;
    last = (r.stderr || r.stdout || String(r.error ?? '')).trim();
    sleepSync(100 * (i + 1));
  }
  throw new KilnError(`'${argv.join(' ')}' failed: ${last}`);
}

export function unmountSync(path: string, recursive = false): void {
  try {
    runCleanup(['umount', ...(recursive ? ['--recursive'] : []), path], 8);
  } catch (err) {
    // still busy after retries: detach lazily so nothing stays visible, and say so
    const r = spawnSync('umount', ['--lazy', ...(recursive ? ['--recursive'] : []), path], { encoding: 'utf8' });
    if (r.status !== 0) throw err;
    process.stderr.write(`kiln: ${path} was busy; detached lazily\n`);
  }
}

/** Mount points at or below `path` (from /proc/self/mountinfo). */
export function mountsUnder(path: string): string[] {
  const p = path.replace(/\/+$/, '');
  const out: string[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const mp = line.split(' ')[4];
    if (!mp) continue;
    // mountinfo escapes space, tab, newline and backslash as octal
    const dec = mp.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
    if (dec === p || dec.startsWith(p + '/')) out.push(dec);
  }
  return out;
}

/**
 * Delete a directory tree, but never one with something still mounted below it: a recursive
 * delete would walk into the mounted filesystem (a disk image, a bind of the host's /dev).
 */
export function removeTreeSync(path: string): void {
  const busy = mountsUnder(path);
  if (busy.length) throw new KilnError(`refusing to delete ${path}: still mounted: ${busy.join(', ')}`);
  rmSync(path, { recursive: true, force: true, maxRetries: 3 });
}

// ---- signals ------------------------------------------------------------------------------

const SIGNAL_CODES: Record<string, number> = { SIGINT: 130, SIGTERM: 143 };

export interface SignalScope {
  signal: AbortSignal;
  /** the signal that interrupted the build, if any */
  received(): NodeJS.Signals | undefined;
}

/**
 * Run `fn` with SIGINT/SIGTERM handlers installed. A signal aborts `fn` (its AbortSignal fires, the
 * running tool is killed, `finally` blocks release resources); once `fn` has unwound, the signal is
 * re-raised with the default action so the process ends the conventional way (130/143). A second
 * signal, or `fn` not unwinding within `graceMs`, releases everything synchronously and exits.
 * With `reraise: false` the caller gets a KilnError with exitCode 130/143 instead.
 */
export async function withSignalHandling<T>(
  fn: (scope: SignalScope) => Promise<T>,
  opts: { reraise?: boolean; graceMs?: number; outer?: AbortSignal } = {},
): Promise<T> {
  const controller = new AbortController();
  let got: NodeJS.Signals | undefined;
  let timer: NodeJS.Timeout | undefined;
  const emergency = (sig: NodeJS.Signals): void => {
    releaseEverything();
    process.exit(SIGNAL_CODES[sig] ?? 1);
  };
  const handler = (sig: NodeJS.Signals): void => {
    if (got) {
      emergency(sig);
      return;
    }
    got = sig;
    controller.abort(new KilnError(`build interrupted by ${sig}`, SIGNAL_CODES[sig] ?? 1));
    timer = setTimeout(() => emergency(sig), opts.graceMs ?? 60_000);
  };
  const onOuter = (): void => controller.abort(opts.outer!.reason);
  if (opts.outer) {
    if (opts.outer.aborted) controller.abort(opts.outer.reason);
    else opts.outer.addEventListener('abort', onOuter, { once: true });
  }
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  try {
    return await fn({ signal: controller.signal, received: () => got });
  } finally {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
    opts.outer?.removeEventListener('abort', onOuter);
    if (timer) clearTimeout(timer);
    if (got && opts.reraise !== false && process.listenerCount(got) === 0) {
      // default action now that our handler is gone: the process ends "killed by signal"
      process.kill(process.pid, got);
      // delivery is asynchronous; do not let the caller carry on meanwhile
      await new Promise((r) => setTimeout(r, 1000));
    }
    // someone else listens for the signal (or reraise is off): they get an error to act on
    if (got) throw new KilnError(`build interrupted by ${got}`, SIGNAL_CODES[got] ?? 1);
  }
}
