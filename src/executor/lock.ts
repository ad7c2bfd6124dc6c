// Cross-process locks as O_EXCL files holding the owner's pid. A lock whose owner is dead (killed
// with SIGKILL, machine crash) is stale and taken over, so a crashed build never wedges a store.
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { abortError } from './proc.js';

function ownerAlive(file: string): boolean {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return true; // vanished or being written: retry soon
  }
  const [pidStr, host] = text.split('\n');
  if (!pidStr) return true; // created but pid not yet written
  if (host && host !== hostname()) return true; // another machine on a shared store: cannot tell
  const pid = Number(pidStr);
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Try once; returns a release function or undefined when someone else holds it. */
export function tryLock(file: string): (() => void) | undefined {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx', 0o644);
      writeSync(fd, `${process.pid}\n${hostname()}\n`);
      closeSync(fd);
      let done = false;
      return () => {
        if (done) return;
        done = true;
        try {
          unlinkSync(file);
        } catch {
          /* already removed */
        }
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      if (ownerAlive(file)) return undefined;
      try {
        unlinkSync(file); // stale: its owner is gone
      } catch {
        /* someone else cleaned it */
      }
    }
  }
  return undefined;
}

/** Wait for the lock (polling); `signal` aborts the wait. */
export async function lock(file: string, signal?: AbortSignal, pollMs = 50): Promise<() => void> {
  for (;;) {
    if (signal?.aborted) throw abortError(signal);
    const rel = tryLock(file);
    if (rel) return rel;
    await new Promise((r) => setTimeout(r, pollMs));
  }
}
