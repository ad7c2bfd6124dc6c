// org.osbuild.ignition: the `ignition.firstboot` flag file (in /boot by default) whose presence
// makes the grub config (grub2 stage, `ignition: true`) add `ignition.firstboot` to the kernel
// command line; `network` overrides ignition's default network arguments for that boot.
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KilnError } from '../../util/errors.js';
import type { StageImpl } from './types.js';
import { allowKeys, checkString, checkStringArray, optionsOf } from './os-util.js';
import { resolveUrl } from './util.js';

export const ignitionStage: StageImpl = {
  type: 'org.osbuild.ignition',
  validate(stage, what) {
    const o = optionsOf(stage);
    allowKeys(o, ['network', 'target'], what);
    // the value is sourced by grub inside single quotes
    checkStringArray(o.network, 'network', what, { re: /^[^'\n]*$/ });
    checkString(o.target, 'target', what, { re: /^(tree:\/\/\/|mount:\/\/[^/]+\/)/ });
    const m = /^mount:\/\/([^/]+)\//.exec((o.target as string | undefined) ?? '');
    if (m && !(stage.mounts ?? []).some((x) => x.name === m[1])) throw new KilnError(`${what}: option "target" names mount "${m[1]}", which the stage does not have`);
  },
  async run(ctx) {
    const dir = resolveUrl(ctx, (ctx.options.target as string | undefined) ?? 'tree:///boot', ['tree', 'mount']);
    if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new KilnError(`${ctx.what}: target ${String(ctx.options.target ?? 'tree:///boot')} is not a directory`);
    const net = (ctx.options.network ?? []) as string[];
    writeFileSync(join(dir, 'ignition.firstboot'), net.length ? `set ignition_network_kcmdline='${net.join(' ')}'` : '', { mode: 0o644 });
  },
};
