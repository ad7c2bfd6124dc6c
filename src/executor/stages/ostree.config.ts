// org.osbuild.ostree.config: set sysroot.* keys of a repository's config with `ostree config set`
// (bootloader, bootprefix, readonly, bls-append-except-default). Booleans are written even when
// false, as osbuild does.
import { KilnError } from '../../util/errors.js';
import { checkKeys, checkOpt, checkValue } from './ostree-util.js';
import type { StageImpl } from './types.js';
import { requireKeys, requireString, treePath } from './util.js';

const BOOTLOADERS = ['none', 'auto', 'grub2', 'syslinux', 'uboot', 'zipl', 'aboot'];

export const ostreeConfigStage: StageImpl = {
  type: 'org.osbuild.ostree.config',
  validate(stage, what) {
    requireKeys(stage, what, ['repo', 'config']);
    requireString(stage, 'repo', what);
    const cfg = checkOpt<Record<string, unknown>>(stage, 'config', 'object', what) ?? {};
    checkKeys(cfg, ['sysroot'], what, 'config');
    const sr = checkValue<Record<string, unknown>>(cfg, 'sysroot', 'object', what, 'config.sysroot') ?? {};
    checkKeys(sr, ['bootloader', 'bootprefix', 'readonly', 'bls-append-except-default'], what, 'config.sysroot');
    const bl = checkValue<string>(sr, 'bootloader', 'string', what, 'config.sysroot.bootloader');
    if (bl !== undefined && !BOOTLOADERS.includes(bl)) throw new KilnError(`${what}: option "config.sysroot.bootloader" must be one of ${BOOTLOADERS.join(', ')}, got "${bl}"`);
    checkValue(sr, 'bootprefix', 'boolean', what, 'config.sysroot.bootprefix');
    checkValue(sr, 'readonly', 'boolean', what, 'config.sysroot.readonly');
    checkValue(sr, 'bls-append-except-default', 'string', what, 'config.sysroot.bls-append-except-default');
  },
  async run(ctx) {
    const o = ctx.options as { repo: string; config?: { sysroot?: Record<string, string | boolean | undefined> } };
    const repo = ctx.toSandbox(treePath(ctx, o.repo));
    const sr = o.config?.sysroot ?? {};
    const settings: [string, string][] = [];
    if (sr.bootloader) settings.push(['sysroot.bootloader', String(sr.bootloader)]);
    if (sr.bootprefix !== undefined) settings.push(['sysroot.bootprefix', String(sr.bootprefix)]);
    if (sr.readonly !== undefined) settings.push(['sysroot.readonly', String(sr.readonly)]);
    if (sr['bls-append-except-default']) settings.push(['sysroot.bls-append-except-default', String(sr['bls-append-except-default'])]);
    for (const [k, v] of settings) await ctx.run(['ostree', 'config', `--repo=${repo}`, 'set', k, v], { what: `${ctx.what}: setting ${k}` });
  },
};
