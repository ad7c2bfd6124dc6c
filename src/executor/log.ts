// Human-readable build log lines from executor events (for `--verbose` output and .buildlog files).
import type { ExecutorEvent } from './events.js';
import { getDevice } from './devices.js';
import { INPUT_TYPES } from './inputs.js';
import { getMount } from './mounts.js';
import { sourceTypes } from './sources/index.js';
import { stageTypes } from './stages/index.js';

function secs(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** One log line (without newline) for an event, or undefined for events not worth a line (progress). */
export function formatEvent(e: ExecutorEvent): string | undefined {
  switch (e.type) {
    case 'log':
      return e.stage ? `  ${e.stage}: ${e.message}` : e.message;
    case 'buildroot':
      return e.message;
    case 'sources-start':
      return `sources: ${e.items} item(s) needed`;
    case 'download-start':
    case 'download-progress':
      return undefined;
    case 'download-retry':
      return `  retrying ${e.url} in ${secs(e.delayMs)} (attempt ${e.attempt} failed: ${e.error})`;
    case 'download-finish':
      return e.cached ? undefined : `  fetched ${e.item} (${e.bytes} bytes, ${secs(e.duration)})`;
    case 'sources-finish':
      return `sources: ${e.downloaded} downloaded (${e.bytes} bytes), ${e.items - e.downloaded} already cached, ${secs(e.duration)}`;
    case 'pipeline-skip':
      return `pipeline ${e.pipeline}: ${e.reason === 'cached' ? `cached (${e.id ?? 'empty'})` : 'not needed'}`;
    case 'pipeline-start':
      return `pipeline ${e.pipeline}: ${e.id ?? 'empty'}${e.resumeFrom !== undefined ? ` (resuming at stage ${e.resumeFrom + 1})` : ''}`;
    case 'pipeline-finish':
      return `pipeline ${e.pipeline}: finished in ${secs(e.duration)}${e.committed ? '' : ' (not cached: larger than the store limit)'}`;
    case 'stage-start':
      return `  stage ${e.index + 1} ${e.stage} (${e.id.slice(0, 12)})`;
    case 'stage-output':
      return e.text.replace(/\n$/, '');
    case 'stage-finish':
      return `  stage ${e.index + 1} ${e.stage}: ${secs(e.duration)}`;
    case 'checkpoint':
      return `  stored checkpoint ${e.id.slice(0, 12)} (${e.stage})`;
    case 'export':
      return `exported ${e.pipeline} to ${e.path}`;
    default:
      return undefined;
  }
}

/** What this executor can run, for generators and `kiln` diagnostics. */
export function capabilities(): { stages: string[]; sources: string[]; inputs: string[]; devices: string[]; mounts: string[] } {
  const known = (get: (t: string) => unknown, types: string[]): string[] => types.filter((t) => get(t) !== undefined);
  return {
    stages: stageTypes(),
    sources: sourceTypes(),
    inputs: [...INPUT_TYPES].sort(),
    devices: known(getDevice, ['org.osbuild.loopback', 'org.osbuild.luks2', 'org.osbuild.lvm2.lv']),
    mounts: known(getMount, ['org.osbuild.ext4', 'org.osbuild.fat', 'org.osbuild.xfs', 'org.osbuild.btrfs', 'org.osbuild.ostree.deployment', 'org.osbuild.bind', 'org.osbuild.erofs', 'org.osbuild.squashfs', 'org.osbuild.ddi', 'org.osbuild.noop']),
  };
}
