// Where stage tools run. `bwrap`: inside the build pipeline's tree with bubblewrap, as osbuild
// does: the build tree read-only as /, the host's /dev (loop devices must be reachable), a fresh
// /proc, /sys read-only, tmpfs /tmp and /run, and the stage's tree, inputs and mounts bound at
// fixed paths under /run/osbuild. `host`: the host's own tools on host paths. Stages compute
// host paths and pass every path they give a tool through `toSandbox`.
import { accessSync, constants, lstatSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { KilnError } from '../util/errors.js';
import { CommandFailedError, run, type RunOptions, type RunResult } from './proc.js';

export type BuildRootMode = 'bwrap' | 'host';

export interface Bind {
  host: string;
  sandbox: string;
  readonly: boolean;
}

export const SANDBOX_TREE = '/run/osbuild/tree';
export const SANDBOX_MOUNTS = '/run/osbuild/mounts';
export const SANDBOX_INPUTS = '/run/osbuild/inputs';

const SANDBOX_ENV = {
  PATH: '/usr/sbin:/usr/bin:/sbin:/bin',
  LANG: 'C.UTF-8',
  LC_ALL: 'C.UTF-8',
  HOME: '/root',
  SYSTEMD_OFFLINE: '1',
};

export class BuildRoot {
  private binds: Bind[] = [];

  constructor(
    readonly mode: BuildRootMode,
    /** host path of the build pipeline's tree (bwrap mode) */
    readonly root?: string,
  ) {
    if (mode === 'bwrap' && !root) throw new KilnError('bwrap build root needs a build tree');
  }

  bind(host: string, sandbox: string, readonly: boolean): void {
    this.binds.push({ host: host.replace(/\/+$/, ''), sandbox, readonly });
  }

  /** The path a tool sees for `hostPath` (which must be inside a bound directory in bwrap mode). */
  toSandbox(hostPath: string): string {
    if (this.mode === 'host' || hostPath.startsWith('/dev/')) return hostPath;
    // longest bind first, so a nested bind wins over its parent
    const sorted = [...this.binds].sort((a, b) => b.host.length - a.host.length);
    for (const b of sorted) {
      if (hostPath === b.host) return b.sandbox;
      if (hostPath.startsWith(b.host + '/')) return b.sandbox + hostPath.slice(b.host.length);
    }
    throw new KilnError(`internal: ${hostPath} is not visible inside the build root`);
  }

  /** The argv that runs `argv` in this build root. */
  wrap(argv: string[], env: Record<string, string> = {}, files: Record<string, string> = {}): string[] {
    if (this.mode === 'host') return argv;
    const a = ['bwrap', '--die-with-parent', '--unshare-pid', '--unshare-ipc', '--unshare-uts', '--tmpfs', '/'];
    // the build tree's top level: directories bound read-only, symlinks (merged /usr) recreated
    for (const name of readdirSync(this.root!)) {
      if (['dev', 'proc', 'sys', 'tmp', 'run', 'var'].includes(name)) continue;
      const p = join(this.root!, name);
      const st = lstatSync(p);
      if (st.isSymbolicLink()) a.push('--symlink', readlinkSync(p), `/${name}`);
      else if (st.isDirectory()) a.push('--ro-bind', p, `/${name}`);
    }
    a.push('--dev-bind', '/dev', '/dev', '--proc', '/proc', '--ro-bind', '/sys', '/sys', '--tmpfs', '/tmp', '--tmpfs', '/run', '--tmpfs', '/var', '--dir', '/var/tmp');
    for (const b of this.binds) a.push(b.readonly ? '--ro-bind' : '--bind', b.host, b.sandbox);
    for (const [sandboxPath, hostFile] of Object.entries(files)) a.push('--ro-bind', hostFile, sandboxPath);
    a.push('--clearenv');
    for (const [k, v] of Object.entries({ ...SANDBOX_ENV, ...env })) a.push('--setenv', k, v);
    a.push('--chdir', '/', '--', ...argv);
    return a;
  }

  /** Is `name` an executable in this build root's PATH? */
  hasTool(name: string): boolean {
    const dirs = this.mode === 'host' ? (process.env.PATH ?? '').split(':').filter(Boolean) : ['/usr/sbin', '/usr/bin', '/sbin', '/bin'];
    for (const d of dirs) {
      const p = this.mode === 'host' ? join(d, name) : join(this.root!, d, name);
      try {
        accessSync(p, constants.X_OK);
        return true;
      } catch {
        /* next */
      }
    }
    return false;
  }

  run(argv: string[], opts: RunOptions & { extraEnv?: Record<string, string>; files?: Record<string, string> } = {}): Promise<RunResult> {
    if (this.mode === 'host') {
      return run(argv, { ...opts, env: { ...process.env, ...(opts.extraEnv ?? {}) } });
    }
    return run(this.wrap(argv, opts.extraEnv, opts.files), opts).catch((e: unknown) => {
      throw explainExecFailure(e);
    });
  }
}

/**
 * bwrap reports a program the build root cannot start as `bwrap: execvp <tool>: <reason>` (not
 * there, or not a program for this machine: placeholder packages such as the demo repository's).
 * Say that in words a user can act on; the stage prefix of the original message is kept.
 */
function explainExecFailure(e: unknown): unknown {
  if (!(e instanceof CommandFailedError)) return e;
  const m = /^bwrap: execvp ([^:\n]+): ([^\n]+)/m.exec(e.stderr);
  if (!m) return e;
  return new KilnError(
    `${e.prefix}the build root cannot run "${m[1]}" (${m[2]!.trim()}): the build pipeline's packages must provide it as a program for this machine. ` +
      `Add the package that provides it to the build root, or use --buildroot host to run stages with this machine's tools ` +
      `(needed for repositories of placeholder packages such as \`kiln demo-repo\`'s)`,
  );
}
