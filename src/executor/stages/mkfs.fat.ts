// org.osbuild.mkfs.fat: a FAT file system on the `device` device (mkfs.fat -I: ignore an
// apparent partition table on it).
import { KilnError } from '../../util/errors.js';
import type { StageImpl } from './types.js';
import { requireDevice, requireKeys, requireString } from './util.js';

export const mkfsFatStage: StageImpl = {
  type: 'org.osbuild.mkfs.fat',
  validate(stage, what) {
    requireKeys(stage, what, ['volid', 'label', 'fat-size', 'geometry']);
    const volid = requireString(stage, 'volid', what);
    if (!/^[0-9A-Fa-f]{1,8}$/.test(volid)) throw new KilnError(`${what}: option "volid" "${volid}" is not up to 8 hex digits`);
    const o = stage.options ?? {};
    if (o.label !== undefined && (typeof o.label !== 'string' || o.label.length > 11)) throw new KilnError(`${what}: option "label" must be a string of at most 11 characters`);
    if (o['fat-size'] !== undefined && ![12, 16, 32].includes(o['fat-size'] as number)) throw new KilnError(`${what}: option "fat-size" must be 12, 16 or 32`);
    requireDevice(stage, 'device', what);
  },
  async run(ctx) {
    const o = ctx.options as { volid: string; label?: string; 'fat-size'?: number; geometry?: { heads: number; 'sectors-per-track': number } };
    // -I: ignore a partition table the device may appear to have
    const args = ['mkfs.fat', '-I', '-i', o.volid];
    if (o.label) args.push('-n', o.label);
    if (o['fat-size']) args.push('-F', String(o['fat-size']));
    if (o.geometry) args.push('-g', `${o.geometry.heads}/${o.geometry['sectors-per-track']}`);
    args.push(ctx.toSandbox(ctx.devices.device!.path));
    await ctx.run(args, { what: ctx.what });
  },
};
