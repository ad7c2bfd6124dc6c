// Running external tools. Every failure names the command and, through `what`, the thing being
// built (stage, device, source item), and carries the tail of stderr so the cause is visible.
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { KilnError } from '../util/errors.js';

export interface RunOptions {
  /** what this command is for, prefixed to error messages: `stage org.osbuild.xz (pipeline xz)` */
  what?: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  input?: string | Buffer;
  signal?: AbortSignal;
  /** called with each chunk of stdout/stderr (for the build log) */
  onOutput?: (chunk: string, stream: 'stdout' | 'stderr') => void;
  /** exit codes treated as success (default [0]) */
  okCodes?: number[];
  /** write stdout to this file instead of capturing it (large outputs: compressed images) */
  stdoutFile?: string;
}

export interface RunResult {
  stdout: string;
  stderr: string;
  code: number;
}

/** Children still running, so an emergency exit can kill them. */
const running = new Set<import('node:child_process').ChildProcess>();

export function killAllChildren(): void {
  for (const c of running) {
    try {
      c.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
}

/** A command that ran and failed: the message for the user, plus what callers may explain further. */
export class CommandFailedError extends KilnError {
  override name = 'CommandFailedError';
  constructor(
    message: string,
    /** the stage/step prefix of the message (`<what>: `), empty when none was given */
    readonly prefix: string,
    readonly stderr: string,
  ) {
    super(message);
  }
}

function tail(s: string, n = 2000): string {
  const t = s.trim();
  return t.length > n ? '…' + t.slice(t.length - n) : t;
}

export function run(argv: string[], opts: RunOptions = {}): Promise<RunResult> {
  const prefix = opts.what ? `${opts.what}: ` : '';
  return new Promise((resolve, reject) => {
    if (opts.signal?.aborted) {
      reject(abortError(opts.signal, prefix));
      return;
    }
    let outFd: number | undefined;
    if (opts.stdoutFile) outFd = openSync(opts.stdoutFile, 'w', 0o644);
    const child = spawn(argv[0]!, argv.slice(1), {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ['pipe', outFd ?? 'pipe', 'pipe'],
    });
    if (outFd !== undefined) closeSync(outFd); // the child has its own copy
    running.add(child);
    let stdout = '';
    let stderr = '';
    let killTimer: NodeJS.Timeout | undefined;
    const onAbort = (): void => {
      child.kill('SIGTERM');
      // a tool that ignores SIGTERM must not hold the cleanup hostage
      killTimer = setTimeout(() => child.kill('SIGKILL'), 3000);
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    child.stdout?.setEncoding('utf8');
    child.stderr!.setEncoding('utf8');
    child.stdout?.on('data', (d: string) => {
      stdout += d;
      opts.onOutput?.(d, 'stdout');
    });
    child.stderr!.on('data', (d: string) => {
      stderr += d;
      opts.onOutput?.(d, 'stderr');
    });
    child.stdin!.on('error', () => {
      /* the tool may exit before reading its input; the exit code tells */
    });
    if (opts.input !== undefined) child.stdin!.end(opts.input);
    else child.stdin!.end();
    child.on('error', (err: NodeJS.ErrnoException) => {
      running.delete(child);
      opts.signal?.removeEventListener('abort', onAbort);
      if (killTimer) clearTimeout(killTimer);
      const why = err.code === 'ENOENT' ? 'program not found' : err.message;
      reject(new KilnError(`${prefix}cannot run '${argv[0]}': ${why}`));
    });
    child.on('close', (code, sig) => {
      running.delete(child);
      opts.signal?.removeEventListener('abort', onAbort);
      if (killTimer) clearTimeout(killTimer);
      if (opts.signal?.aborted) {
        reject(abortError(opts.signal, prefix));
        return;
      }
      const ok = opts.okCodes ?? [0];
      if (code !== null && ok.includes(code)) {
        resolve({ stdout, stderr, code });
        return;
      }
      const how = code === null ? `was killed by ${sig}` : `failed with exit code ${code}`;
      const err = tail(stderr) || tail(stdout);
      reject(new CommandFailedError(`${prefix}command '${argv.join(' ').slice(0, 300)}' ${how}${err ? `: ${err}` : ''}`, prefix, stderr));
    });
  });
}

export function abortError(signal: AbortSignal, prefix = ''): Error {
  const r = signal.reason as unknown;
  if (r instanceof Error) return r;
  return new KilnError(`${prefix}interrupted`);
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortError(signal);
}
