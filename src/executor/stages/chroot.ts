// Running a tool of the tree itself (dracut, lorax's runcmd): `chroot <tree>` with the host's
// /dev, /proc and /sys bound in for the duration of the stage. The tool comes from the tree, as
// in osbuild (which chroots from its build root); `chroot` and `mount` are the host's.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { KilnError } from '../../util/errors.js';
import { run, type RunResult } from '../proc.js';
import { unmountSync } from '../resources.js';
import type { StageContext } from './types.js';

const bound = new WeakSet<StageContext>();

async function bindApi(ctx: StageContext): Promise<void> {
  if (bound.has(ctx)) return;
  bound.add(ctx);
  for (const [src, ro] of [['/dev', false], ['/proc', false], ['/sys', true]] as const) {
    const at = join(ctx.tree, src);
    mkdirSync(at, { recursive: true });
    await run(['mount', '--rbind', src, at], { what: ctx.what, signal: ctx.signal });
    // rbind brings submounts (devpts, mqueue...): take the whole subtree down afterwards
    ctx.tracker.add(`bind ${at}`, () => unmountSync(at, true));
    await run(['mount', '--make-rslave', at], { what: ctx.what, signal: ctx.signal });
    if (ro) await run(['mount', '-o', 'remount,bind,ro', at], { what: ctx.what, signal: ctx.signal }).catch(() => undefined);
  }
}

/** Does the tree have this executable (absolute path inside the tree)? */
export function treeHas(ctx: StageContext, path: string): boolean {
  return existsSync(join(ctx.tree, path));
}

/** Run `argv` (argv[0] an absolute path inside the tree) chrooted into the tree. */
export async function runInTree(ctx: StageContext, argv: string[], what: string, pkg: string): Promise<RunResult> {
  if (!treeHas(ctx, argv[0]!)) throw new KilnError(`${what}: ${argv[0]} not found in the tree (the tree needs the ${pkg} package)`);
  await bindApi(ctx);
  return run(['chroot', ctx.tree, ...argv], {
    what,
    signal: ctx.signal,
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8', HOME: '/root', ...(process.env.SOURCE_DATE_EPOCH ? { SOURCE_DATE_EPOCH: process.env.SOURCE_DATE_EPOCH } : {}) },
  });
}
