// Stage registry: stage type -> implementation. To add a stage: write stages/<name>.ts exporting
// a StageImpl and add it to BUILTIN below (or call registerStage at runtime, e.g. from a test).
import { chmodStage } from './chmod.js';
import { copyStage } from './copy.js';
import { fstabStage } from './fstab.js';
import { hostnameStage } from './hostname.js';
import { kernelCmdlineStage } from './kernel-cmdline.js';
import { localeStage } from './locale.js';
import { mkdirStage } from './mkdir.js';
import { mkfsExt4Stage } from './mkfs.ext4.js';
import { mkfsFatStage } from './mkfs.fat.js';
import { qemuStage } from './qemu.js';
import { rpmStage } from './rpm.js';
import { selinuxStage } from './selinux.js';
import { sfdiskStage } from './sfdisk.js';
import { systemdStage } from './systemd.js';
import { tarStage } from './tar.js';
import { timezoneStage } from './timezone.js';
import { truncateStage } from './truncate.js';
import type { StageImpl } from './types.js';
import { OS_STAGES } from './registry-os.js';
import { OSTREE_STAGES } from './registry-ostree.js';
import { xzStage } from './xz.js';
import { zstdStage } from './zstd.js';

export type { PreparedInput, StageContext, StageImpl, StageSettings } from './types.js';

const BUILTIN: StageImpl[] = [
  chmodStage,
  copyStage,
  fstabStage,
  hostnameStage,
  kernelCmdlineStage,
  localeStage,
  mkdirStage,
  mkfsExt4Stage,
  mkfsFatStage,
  qemuStage,
  rpmStage,
  selinuxStage,
  sfdiskStage,
  systemdStage,
  tarStage,
  timezoneStage,
  truncateStage,
  xzStage,
  zstdStage,
  ...OS_STAGES,
  ...OSTREE_STAGES,
];

const registry = new Map<string, StageImpl>(BUILTIN.map((s) => [s.type, s]));

export function registerStage(s: StageImpl): void {
  registry.set(s.type, s);
}

export function getStage(type: string): StageImpl | undefined {
  return registry.get(type);
}

/** Every stage type the executor can run, sorted. */
export function stageTypes(): string[] {
  return [...registry.keys()].sort();
}
