// org.osbuild.dracut: (re)build the initramfs of each `kernel` version with the tree's own dracut,
// chrooted into the tree (as osbuild does): --no-hostonly --kver <kver> --force plus the options
// (modules, add/omit modules, drivers, filesystems, include, install, remove, early microcode,
// reproducible (default on), compress, extra). The tree must contain dracut (a distribution
// package); without it the stage fails naming /usr/bin/dracut. `logger` in the tree is bound to
// `true` while dracut runs, so dracut does not try to log through the host's /dev/log.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { KilnError } from '../../util/errors.js';
import { runInTree, treeHas } from './chroot.js';
import { bindAt, checkOpt } from './ostree-util.js';
import type { StageImpl } from './types.js';
import { requireKeys } from './util.js';

const LISTS: [string, string][] = [
  ['modules', '--modules'],
  ['add_modules', '--add'],
  ['omit_modules', '--omit'],
  ['drivers', '--drivers'],
  ['add_drivers', '--add-drivers'],
  ['omit_drivers', '--omit-drivers'],
  ['force_drivers', '--force-drivers'],
  ['filesystems', '--filesystems'],
];
const KEYS = ['kernel', 'compress', ...LISTS.map(([k]) => k), 'include', 'install', 'remove', 'early_microcode', 'reproducible', 'initoverlayfs', 'extra'];

export const dracutStage: StageImpl = {
  type: 'org.osbuild.dracut',
  validate(stage, what) {
    requireKeys(stage, what, KEYS);
    const k = checkOpt<string[]>(stage, 'kernel', 'string[]', what, true)!;
    if (k.length === 0) throw new KilnError(`${what}: option "kernel" needs at least one kernel version`);
    checkOpt(stage, 'compress', 'string', what);
    for (const [key] of LISTS) checkOpt(stage, key, 'string[]', what);
    for (const key of ['install', 'remove', 'extra']) checkOpt(stage, key, 'string[]', what);
    for (const key of ['early_microcode', 'reproducible', 'initoverlayfs']) checkOpt(stage, key, 'boolean', what);
    const inc = stage.options?.include;
    if (inc !== undefined) {
      if (!Array.isArray(inc) || !inc.every((x) => x && typeof x === 'object' && Object.values(x).every((v) => typeof v === 'string'))) {
        throw new KilnError(`${what}: option "include" must be an array of {source: target} objects`);
      }
    }
  },
  async run(ctx) {
    const o = ctx.options as Record<string, unknown> & { kernel: string[] };
    const opts = ['--force', '-v', '--show-modules'];
    opts.push(o.early_microcode ? '--early-microcode' : '--no-early-microcode');
    opts.push(o.reproducible === false ? '--no-reproducible' : '--reproducible');
    if (o.compress) opts.push(`--compress=${o.compress}`);
    for (const [key, flag] of LISTS) {
      const v = o[key] as string[] | undefined;
      if (v?.length) opts.push(flag, v.join(' '));
    }
    for (const m of (o.include ?? []) as Record<string, string>[]) for (const [src, dst] of Object.entries(m)) opts.push('--include', src, dst);
    for (const r of (o.remove ?? []) as string[]) opts.push('--remove', r);
    for (const i of (o.install ?? []) as string[]) opts.push('--install', i);
    opts.push(...((o.extra ?? []) as string[]));
    const bin = o.initoverlayfs ? '/usr/bin/initoverlayfs-install' : '/usr/bin/dracut';
    if (!treeHas(ctx, bin)) throw new KilnError(`${ctx.what}: ${bin} not found in the tree (install ${o.initoverlayfs ? 'initoverlayfs' : 'dracut'} in this pipeline)`);
    for (const kver of o.kernel) {
      if (!existsSync(join(ctx.tree, 'usr/lib/modules', kver))) throw new KilnError(`${ctx.what}: option "kernel": no /usr/lib/modules/${kver} in the tree`);
    }
    if (treeHas(ctx, '/usr/bin/logger') && treeHas(ctx, '/usr/bin/true')) await bindAt(ctx, join(ctx.tree, 'usr/bin/true'), join(ctx.tree, 'usr/bin/logger'));
    for (const kver of o.kernel) {
      await runInTree(ctx, [bin, '--no-hostonly', '--kver', kver, ...opts], `${ctx.what}: building the initramfs for ${kver}`, 'dracut');
    }
  },
};
