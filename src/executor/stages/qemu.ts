// org.osbuild.qemu: convert the `image` input to qcow2/vdi/vmdk/vpc/vhdx with qemu-img.
import { KilnError } from '../../util/errors.js';
import type { StageImpl } from './types.js';
import { requireInput, requireKeys, requireString, singleFile, treePath } from './util.js';

interface Format {
  type: 'qcow2' | 'vdi' | 'vmdk' | 'vpc' | 'vhdx';
  compression?: boolean;
  compat?: string;
  adapter_type?: string;
  compat6?: boolean;
  subformat?: string;
  force_size?: boolean;
}

/** qemu-img convert arguments for a format (exported for tests). */
export function qemuArgs(f: Format): string[] {
  const o: string[] = [];
  const args = ['-O', f.type];
  switch (f.type) {
    case 'qcow2':
      if (f.compression !== false) args.push('-c');
      if (f.compat) o.push(`compat=${f.compat}`);
      break;
    case 'vmdk':
      if (f.compression !== false) args.push('-c');
      if (f.adapter_type) o.push(`adapter_type=${f.adapter_type}`);
      if (f.subformat) o.push(`subformat=${f.subformat}`);
      if (f.compat6) o.push('compat6=on');
      break;
    case 'vpc':
      o.push(`subformat=${f.subformat ?? 'fixed'}`);
      if (f.force_size !== false) o.push('force_size=on');
      break;
    default:
      break;
  }
  if (o.length) args.push('-o', o.join(','));
  return args;
}

export const qemuStage: StageImpl = {
  type: 'org.osbuild.qemu',
  validate(stage, what) {
    requireKeys(stage, what, ['filename', 'format']);
    requireString(stage, 'filename', what);
    requireInput(stage, 'image', what);
    const f = stage.options?.format as Format | undefined;
    if (!f || !['qcow2', 'vdi', 'vmdk', 'vpc', 'vhdx'].includes(f.type)) throw new KilnError(`${what}: option "format.type" must be qcow2, vdi, vmdk, vpc or vhdx`);
  },
  async run(ctx) {
    const src = singleFile(ctx, 'image');
    const out = treePath(ctx, ctx.options.filename as string);
    await ctx.run(['qemu-img', 'convert', '-f', 'raw', ...qemuArgs(ctx.options.format as Format), ctx.toSandbox(src), ctx.toSandbox(out)], { what: ctx.what });
  },
};
