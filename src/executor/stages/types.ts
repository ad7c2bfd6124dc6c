// The contract between the runner and one stage implementation.
import type { Stage } from '../../manifest/types.js';
import type { BuildRoot } from '../buildroot.js';
import type { OpenedDevice } from '../devices.js';
import type { MountedFs } from '../mounts.js';
import type { RunOptions, RunResult } from '../proc.js';
import type { ResourceTracker } from '../resources.js';
import type { Store } from '../store.js';

export interface PreparedInput {
  type: string;
  /** host path of the input's directory */
  path: string;
  /** org.osbuild.files: file name relative to `path` -> metadata (e.g. {"rpm.check_gpg": true}) */
  files?: Record<string, Record<string, unknown>>;
  /** ostree: commit -> {ref?}; ostree.checkout: commit -> {path: <commit>}, the checkout is `path`/<commit> */
  refs?: Record<string, { ref?: string; path?: string }>;
}

export interface StageContext {
  pipeline: string;
  type: string;
  index: number;
  id: string;
  /** `stage <type> (pipeline <name>)`, for error messages */
  what: string;
  options: Record<string, unknown>;
  /** host path of the tree being built */
  tree: string;
  inputs: Record<string, PreparedInput>;
  devices: Record<string, OpenedDevice>;
  mounts: Record<string, MountedFs>;
  /** host directory the mounts are arranged under */
  mountRoot: string;
  buildroot: BuildRoot;
  /** the path a tool run with `run` sees for a host path */
  toSandbox(hostPath: string): string;
  /** run a tool in the build root (bwrap) or on the host */
  run(argv: string[], opts?: RunOptions & { extraEnv?: Record<string, string>; files?: Record<string, string> }): Promise<RunResult>;
  /** release-on-exit registration for anything the stage sets up (bind mounts, temp files) */
  tracker: ResourceTracker;
  store: Store;
  signal: AbortSignal;
  log(message: string): void;
  /** metadata to record with the stage (osbuild stages return e.g. the installed packages) */
  setMetadata(m: Record<string, unknown>): void;
  /** executor-wide choices stages must honour */
  settings: StageSettings;
  /** a scratch directory (removed after the stage) */
  scratch(prefix: string): string;
}

export interface StageImpl {
  type: string;
  /** check options/inputs/devices before anything runs; throw a KilnError naming the problem */
  validate?(stage: Stage, what: string): void;
  run(ctx: StageContext): Promise<void>;
}

export interface StageSettings {
  /**
   * org.osbuild.selinux when the build root has no setfiles/chcon: 'error' (default) fails the
   * stage; 'warn' leaves the tree unlabeled, logs a warning and records it in the stage metadata.
   */
  selinuxWithoutTools: 'error' | 'warn';
}
