// org.osbuild.sfdisk: write a dos/gpt partition table to the `device` device with sfdisk.
import { KilnError } from '../../util/errors.js';
import type { StageImpl } from './types.js';
import { requireDevice, requireKeys, requireString } from './util.js';

interface Part {
  bootable?: boolean;
  name?: string;
  partnum?: number;
  size?: number;
  start?: number;
  type?: string;
  uuid?: string;
  attrs?: number[];
}

const NAMED_ATTRS: Record<number, string> = { 0: 'RequiredPartition', 1: 'NoBlockIOProtocol', 2: 'LegacyBIOSBootable' };

function quote(s: string): string {
  return `"${s.replace(/["\\]/g, '')}"`;
}

/** The sfdisk script for the options (exported for tests). */
export function sfdiskScript(o: { label: string; uuid: string; partitions?: Part[] }, device: string): string {
  const label = o.label === 'mbr' ? 'dos' : o.label;
  const lines = [`label: ${label}`, `label-id: ${o.uuid}`];
  for (const p of o.partitions ?? []) {
    const f: string[] = [];
    if (p.start !== undefined) f.push(`start=${p.start}`);
    if (p.size !== undefined) f.push(`size=${p.size}`);
    if (p.type) f.push(`type=${p.type}`);
    if (p.uuid && label === 'gpt') f.push(`uuid=${p.uuid}`);
    if (p.name && label === 'gpt') f.push(`name=${quote(p.name)}`);
    if (p.bootable) f.push('bootable');
    if (p.attrs?.length) f.push(`attrs=${quote(p.attrs.map((a) => NAMED_ATTRS[a] ?? `GUID:${a}`).join(' '))}`);
    // a device-name prefix pins the partition number
    lines.push((p.partnum ? `${device}p${p.partnum} : ` : '') + f.join(', '));
  }
  return lines.join('\n') + '\n';
}

export const sfdiskStage: StageImpl = {
  type: 'org.osbuild.sfdisk',
  validate(stage, what) {
    requireKeys(stage, what, ['label', 'uuid', 'partitions']);
    const label = requireString(stage, 'label', what);
    if (!['mbr', 'dos', 'gpt'].includes(label)) throw new KilnError(`${what}: option "label" must be mbr, dos or gpt, not "${label}"`);
    requireString(stage, 'uuid', what);
    requireDevice(stage, 'device', what);
    const parts = (stage.options?.partitions ?? []) as Part[];
    if (!Array.isArray(parts)) throw new KilnError(`${what}: option "partitions" must be an array`);
    parts.forEach((p, i) => {
      for (const k of ['size', 'start', 'partnum'] as const) {
        if (p[k] !== undefined && (!Number.isInteger(p[k]) || (p[k] as number) < 0)) throw new KilnError(`${what}: partitions[${i}].${k} must be a non-negative integer`);
      }
      for (const a of p.attrs ?? []) if (!Number.isInteger(a) || a < 0 || a > 63) throw new KilnError(`${what}: partitions[${i}].attrs: ${a} is not a bit 0..63`);
    });
  },
  async run(ctx) {
    const dev = ctx.devices.device!.path;
    const script = sfdiskScript(ctx.options as { label: string; uuid: string; partitions?: Part[] }, dev);
    ctx.log(script);
    // no re-read/tell: partitions of the image must not appear as host devices
    await ctx.run(['sfdisk', '--no-reread', '--no-tell-kernel', ctx.toSandbox(dev)], { input: script, what: ctx.what });
  },
};
