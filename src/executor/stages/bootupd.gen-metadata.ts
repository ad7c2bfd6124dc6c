// org.osbuild.bootupd.gen-metadata: turn the tree's bootloader payload (/usr/lib/ostree-boot or
// /boot/efi) into bootupd's update metadata (/usr/lib/bootupd/updates/*.json) with the tree's
// own `bootupctl backend generate-update-metadata`, chrooted into the tree with /dev, /proc and
// /sys bound read-only (as osbuild does). No bootupctl in the tree is an error, and so is a run
// that writes no metadata (a placeholder tool must not pass for a real one).
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { KilnError } from '../../util/errors.js';
import type { StageImpl } from './types.js';
import { allowKeys, bindApiFsInTree, optionsOf, treeTool } from './os-util.js';

const UPDATES = 'usr/lib/bootupd/updates';

export const bootupdGenMetadataStage: StageImpl = {
  type: 'org.osbuild.bootupd.gen-metadata',
  validate(stage, what) {
    allowKeys(optionsOf(stage), [], what);
  },
  async run(ctx) {
    const tool = treeTool(ctx, ['/usr/bin/bootupctl']);
    if (!tool) throw new KilnError(`${ctx.what}: /usr/bin/bootupctl is not in the tree; install bootupd in the image to generate its update metadata`);
    if (!ctx.buildroot.hasTool('chroot')) throw new KilnError(`${ctx.what}: chroot is not in the build root (needed to run the tree's bootupctl)`);
    await bindApiFsInTree(ctx, true);
    await ctx.run(['chroot', ctx.toSandbox(ctx.tree), tool, 'backend', 'generate-update-metadata', '/'], { what: `${ctx.what}: bootupctl` });
    const dir = join(ctx.tree, UPDATES);
    const written = existsSync(dir) ? readdirSync(dir).filter((n) => n.endsWith('.json')) : [];
    if (written.length === 0) throw new KilnError(`${ctx.what}: bootupctl backend generate-update-metadata succeeded but wrote no /${UPDATES}/*.json (is the tree's bootupctl real, and is there an EFI or BIOS payload?)`);
    ctx.setMetadata({ 'bootupd.components': written.map((n) => n.replace(/\.json$/, '')).sort() });
  },
};
