// org.osbuild.kernel-cmdline: /etc/kernel/cmdline, read by kernel-install when kernels are added.
import { mkdirSync, writeFileSync } from 'node:fs';
import { KilnError } from '../../util/errors.js';
import type { StageImpl } from './types.js';
import { requireKeys, treePath } from './util.js';

export const kernelCmdlineStage: StageImpl = {
  type: 'org.osbuild.kernel-cmdline',
  validate(stage, what) {
    requireKeys(stage, what, ['root_fs_uuid', 'kernel_opts', 'kernel_cmdline_size']);
    const o = stage.options ?? {};
    if (o.root_fs_uuid !== undefined && !/^([0-9A-Za-z]{8}(-[0-9A-Za-z]{4}){3}-[0-9A-Za-z]{12}|[0-9A-Za-z]{4}-[0-9A-Za-z]{4})$/.test(String(o.root_fs_uuid))) {
      throw new KilnError(`${what}: option "root_fs_uuid" "${String(o.root_fs_uuid)}" is not a file system UUID`);
    }
    const n = o.kernel_cmdline_size;
    if (n !== undefined && (!Number.isInteger(n) || (n as number) < 256 || (n as number) > 4096)) throw new KilnError(`${what}: option "kernel_cmdline_size" must be an integer 256..4096`);
  },
  async run(ctx) {
    const o = ctx.options as { root_fs_uuid?: string; kernel_opts?: string; kernel_cmdline_size?: number };
    const parts: string[] = [];
    if (o.root_fs_uuid) parts.push(`root=UUID=${o.root_fs_uuid}`);
    if (o.kernel_opts) parts.push(o.kernel_opts);
    const line = parts.join(' ');
    const max = o.kernel_cmdline_size ?? defaultMaxSize();
    if (line.length > max) {
      throw new KilnError(`${ctx.what}: the command line is ${line.length} characters, more than the ${max} allowed${o.kernel_cmdline_size ? ' by kernel_cmdline_size' : ' on this architecture'}`);
    }
    mkdirSync(treePath(ctx, 'etc/kernel'), { recursive: true });
    // no trailing newline, as osbuild writes it
    writeFileSync(treePath(ctx, 'etc/kernel/cmdline'), line, { mode: 0o644 });
  },
};

/** The kernel's COMMAND_LINE_SIZE for the build machine's architecture (as osbuild uses). */
function defaultMaxSize(): number {
  const sizes: Record<string, number> = { x64: 2048, ia32: 2048, arm64: 2048, arm: 1024, ppc64: 2048, ppc: 2048, riscv64: 1024, mips: 4096 };
  return sizes[process.arch] ?? 4096;
}
