// org.osbuild.grub2.inst: make the grub2 core image with the build root's grub2-mkimage and put
// it into the disk image for BIOS (or Open Firmware) boot: the core at sector `location` (the
// BIOS boot partition, or the gap after the MBR) and, for i386-pc, grub's boot.img (stage 1) in
// the first 440 bytes of the MBR, patched with where the core lives. Without `location` the
// core image itself becomes `filename`. No grub2-mkimage in the build root is an error.
// With the `host` build root, Debian's name for the tool (grub-mkimage, package grub-pc-bin) and
// /usr/lib/grub2/<platform> are accepted too (os-util.ts: grubToolNames, grubModuleDirs).
import { closeSync, copyFileSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { KilnError } from '../../util/errors.js';
import type { StageImpl } from './types.js';
import { allowKeys, buildRootPath, checkInt, checkObject, checkString, findGrubTool, firstInBuildRoot, grubModuleDirs, grubToolNames, optionsOf } from './os-util.js';
import { treePath } from './util.js';

interface Core {
  type: 'mkimage';
  partlabel: 'gpt' | 'dos';
  filesystem: 'ext4' | 'xfs' | 'btrfs' | 'iso9660';
  binary?: string;
}
type Prefix = { type: 'partition'; partlabel: 'gpt' | 'dos'; number: number; path: string } | { path: string };

/** grub's prefix: `(,gptN)/path` with N counted from 1, or a plain path. */
export function grubPrefix(p: Prefix): string {
  if ('number' in p) return `(,${p.partlabel === 'gpt' ? 'gpt' : 'msdos'}${p.number + 1})/${p.path.replace(/^\/+/, '')}`;
  return p.path;
}

/** Modules built into the core and the mkimage format for a platform, table and file system. */
export function coreModules(platform: string, core: Core): { modules: string[]; format: string } {
  const modules = platform === 'i386-pc' ? ['biosdisk'] : [];
  modules.push(core.partlabel === 'gpt' ? 'part_gpt' : 'part_msdos');
  const fsMod: Record<string, string> = { ext4: 'ext2', xfs: 'xfs', btrfs: 'btrfs', iso9660: 'iso9660' };
  modules.push(fsMod[core.filesystem]!);
  return { modules, format: core.filesystem === 'iso9660' ? 'i386-pc-eltorito' : platform };
}

function writeAt(fd: number, buf: Buffer, pos: number): void {
  let off = 0;
  while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off, pos + off);
}

/**
 * Write `core` at sector `location` of the image; with `bootImg` (i386-pc) also stage 1: its
 * first 440 bytes at offset 0 and the core's sector as little-endian u64 at 0x5c. A core outside
 * the first sector also gets its second sector's address patched in at core+500 (the blocklist
 * of diskboot.img, which loads the rest of the core).
 */
export function installCore(image: string, core: Buffer, location: number, sectorSize: number, bootImg?: Buffer): void {
  const fd = openSync(image, 'r+');
  try {
    writeAt(fd, core, location * sectorSize);
    if (bootImg) {
      if (location * sectorSize > 512) {
        const b = Buffer.alloc(8);
        b.writeBigUInt64LE(BigInt(location + 1));
        writeAt(fd, b, location * sectorSize + 500);
      }
      if (bootImg.length < 440) throw new KilnError(`boot.img is only ${bootImg.length} bytes (expected 512)`);
      writeAt(fd, bootImg.subarray(0, 440), 0);
      const b = Buffer.alloc(8);
      b.writeBigUInt64LE(BigInt(location));
      writeAt(fd, b, 0x5c);
    }
  } finally {
    closeSync(fd);
  }
}

export const grub2InstStage: StageImpl = {
  type: 'org.osbuild.grub2.inst',
  validate(stage, what) {
    const o = optionsOf(stage);
    allowKeys(o, ['filename', 'platform', 'location', 'core', 'prefix', 'sector-size'], what);
    checkString(o.filename, 'filename', what, { required: true, nonEmpty: true });
    checkString(o.platform, 'platform', what, { required: true, re: /^[a-z0-9_]+-[a-z0-9_-]+$/ });
    checkInt(o.location, 'location', what, { min: 0 });
    checkInt(o['sector-size'], 'sector-size', what, { min: 512 });
    if (!checkObject(o.core, 'core', what, { required: true })) return;
    const c = o.core;
    allowKeys(c, ['type', 'partlabel', 'filesystem', 'binary'], what, 'option core.');
    checkString(c.type, 'core.type', what, { required: true, oneOf: ['mkimage'] });
    checkString(c.partlabel, 'core.partlabel', what, { required: true, oneOf: ['gpt', 'dos'] });
    checkString(c.filesystem, 'core.filesystem', what, { required: true, oneOf: ['ext4', 'xfs', 'btrfs', 'iso9660'] });
    checkString(c.binary, 'core.binary', what, { re: /^[A-Za-z0-9._-]+$/ });
    if (!checkObject(o.prefix, 'prefix', what, { required: true })) return;
    const p = o.prefix;
    if (p.type !== undefined || p.number !== undefined || p.partlabel !== undefined) {
      allowKeys(p, ['type', 'partlabel', 'number', 'path'], what, 'option prefix.');
      checkString(p.type, 'prefix.type', what, { required: true, oneOf: ['partition'] });
      checkString(p.partlabel, 'prefix.partlabel', what, { required: true, oneOf: ['gpt', 'dos'] });
      checkInt(p.number, 'prefix.number', what, { required: true, min: 0 });
    } else allowKeys(p, ['path'], what, 'option prefix.');
    checkString(p.path, 'prefix.path', what, { required: true, re: /^\/\S*$/ });
  },
  async run(ctx) {
    const o = ctx.options as { filename: string; platform: string; location?: number; core: Core; prefix: Prefix; 'sector-size'?: number };
    const wanted = o.core.binary ?? 'grub2-mkimage';
    const names = grubToolNames(ctx, wanted);
    const binary = findGrubTool(ctx, wanted);
    if (!binary) {
      throw new KilnError(`${ctx.what}: ${wanted} is not in the build root (${ctx.buildroot.mode === 'host' ? 'host PATH' : 'build pipeline tree'}${names.length > 1 ? `; nor is ${names.slice(1).join(', ')}` : ''}); it is needed to make the grub2 core image (package grub2-tools${ctx.buildroot.mode === 'host' ? '; on Debian/Ubuntu grub-pc-bin' : ''})`);
    }
    if (binary !== wanted) ctx.log(`the host has no ${wanted}; using ${binary} (the same tool under its Debian name)`);
    const dirs = grubModuleDirs(ctx, o.platform);
    const modDir = firstInBuildRoot(ctx, dirs);
    if (!modDir) throw new KilnError(`${ctx.what}: the build root has no ${dirs.join(' or ')} (grub2 modules for platform "${o.platform}", e.g. package grub2-pc-modules${ctx.buildroot.mode === 'host' ? '; on Debian/Ubuntu grub-pc-bin' : ''})`);
    let bootImg: Buffer | undefined;
    if (o.platform === 'i386-pc' && o.location) {
      const b = buildRootPath(ctx, `${modDir}/boot.img`);
      if (!existsSync(b)) throw new KilnError(`${ctx.what}: the build root has no ${modDir}/boot.img (grub2 stage 1)`);
      bootImg = readFileSync(b);
    }
    const image = treePath(ctx, o.filename);
    if (o.location && !existsSync(image)) throw new KilnError(`${ctx.what}: image "${o.filename}" does not exist in the tree`);
    const { modules, format } = coreModules(o.platform, o.core);
    // the tool writes the core into the tree (writable in every build root), removed after
    const work = mkdtempSync(join(ctx.tree, '.kiln-grub2-core-'));
    try {
      const core = join(work, 'core.img');
      await ctx.run([binary, '--verbose', '--directory', modDir, '--prefix', grubPrefix(o.prefix), '--format', format, '--compression', 'auto', '--output', ctx.toSandbox(core), ...modules], { what: `${ctx.what}: ${binary}` });
      if (!existsSync(core)) throw new KilnError(`${ctx.what}: ${binary} did not write a core image`);
      if (o.location) {
        try {
          installCore(image, readFileSync(core), o.location, o['sector-size'] ?? 512, bootImg);
        } catch (e) {
          throw new KilnError(`${ctx.what}: ${(e as Error).message}`);
        }
      } else copyFileSync(core, image);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  },
};
