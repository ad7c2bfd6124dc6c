// org.osbuild.fstab: replace /etc/fstab (of the tree, or of an ostree deployment in the tree).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KilnError } from '../../util/errors.js';
import { deploymentPath } from '../mounts.js';
import type { StageImpl } from './types.js';
import { requireKeys, treePath } from './util.js';

interface Fs {
  device?: string;
  uuid?: string;
  label?: string;
  partlabel?: string;
  path: string;
  vfs_type?: string;
  options?: string;
  freq?: number;
  passno?: number;
}

function spec(fs: Fs): string {
  if (fs.uuid) return `UUID=${fs.uuid}`;
  if (fs.label) return `LABEL=${fs.label}`;
  if (fs.partlabel) return `PARTLABEL=${fs.partlabel}`;
  return fs.device!;
}

/** fstab text for the file systems (exported for tests). */
export function fstabText(filesystems: Fs[]): string {
  return filesystems.map((fs) => [spec(fs), fs.path, fs.vfs_type ?? 'none', fs.options ?? 'defaults', fs.freq ?? 0, fs.passno ?? 0].join('\t') + '\n').join('');
}

export const fstabStage: StageImpl = {
  type: 'org.osbuild.fstab',
  validate(stage, what) {
    requireKeys(stage, what, ['filesystems', 'ostree']);
    const list = stage.options?.filesystems as Fs[] | undefined;
    if (!Array.isArray(list)) throw new KilnError(`${what}: option "filesystems" is required (an array)`);
    list.forEach((fs, i) => {
      const n = ['device', 'uuid', 'label', 'partlabel'].filter((k) => (fs as unknown as Record<string, unknown>)[k] !== undefined).length;
      if (n !== 1) throw new KilnError(`${what}: filesystems[${i}] needs exactly one of device, uuid, label, partlabel`);
      if (typeof fs.path !== 'string') throw new KilnError(`${what}: filesystems[${i}].path is required`);
    });
  },
  async run(ctx) {
    const o = ctx.options as { filesystems: Fs[]; ostree?: { deployment: Record<string, unknown> } };
    let etc = treePath(ctx, 'etc');
    if (o.ostree) {
      const { path } = await deploymentPath(ctx.tree, o.ostree.deployment, ctx.what, ctx.signal);
      etc = join(path, 'etc');
    }
    mkdirSync(etc, { recursive: true });
    writeFileSync(join(etc, 'fstab'), fstabText(o.filesystems), { mode: 0o644 });
  },
};
