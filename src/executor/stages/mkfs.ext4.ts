// org.osbuild.mkfs.ext4: an ext4 file system on the `device` device.
import { KilnError } from '../../util/errors.js';
import type { StageImpl } from './types.js';
import { requireDevice, requireKeys, requireString } from './util.js';

export const mkfsExt4Stage: StageImpl = {
  type: 'org.osbuild.mkfs.ext4',
  validate(stage, what) {
    requireKeys(stage, what, ['uuid', 'label', 'lazy_init', 'metadata_csum_seed', 'orphan_file', 'verity']);
    requireString(stage, 'uuid', what);
    const o = stage.options ?? {};
    if (o.label !== undefined && (typeof o.label !== 'string' || o.label.length > 16)) throw new KilnError(`${what}: option "label" must be a string of at most 16 characters`);
    requireDevice(stage, 'device', what);
  },
  async run(ctx) {
    const o = ctx.options as { uuid: string; label?: string; lazy_init?: boolean; metadata_csum_seed?: boolean; orphan_file?: boolean; verity?: boolean };
    const args = ['mkfs.ext4', '-F', '-U', o.uuid];
    if (o.label) args.push('-L', o.label);
    if (o.lazy_init !== undefined) {
      const v = o.lazy_init ? 1 : 0;
      args.push('-E', `lazy_itable_init=${v},lazy_journal_init=${v}`);
    }
    const feats: string[] = [];
    if (o.metadata_csum_seed !== undefined) feats.push(`${o.metadata_csum_seed ? '' : '^'}metadata_csum_seed`);
    if (o.orphan_file !== undefined) feats.push(`${o.orphan_file ? '' : '^'}orphan_file`);
    if (o.verity !== undefined) feats.push(`${o.verity ? '' : '^'}verity`);
    if (feats.length) args.push('-O', feats.join(','));
    args.push(ctx.toSandbox(ctx.devices.device!.path));
    await ctx.run(args, { what: ctx.what });
  },
};
