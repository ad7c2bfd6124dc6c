// org.osbuild.ostree.preptree: turn an installed OS tree into the layout an ostree commit needs.
//
// osbuild moves /etc to /usr/etc, rebuilds the top level (dev proc run sys sysroot var, tmp, and
// the links home->var/home, media->run/media, mnt->var/mnt, opt->var/opt, ostree->sysroot/ostree,
// root->var/roothome, srv->var/srv), keeps usr, boot, var and the merged-usr links, then runs
// `rpm-ostree compose postprocess`. rpm-ostree is not available everywhere (not on Debian), so the
// postprocessing steps that matter for booting and for ostree.deploy are done here directly:
//
//  * kernels go to /usr/lib/modules/<kver>/{vmlinuz,initramfs.img,.vmlinuz.hmac} ("boot-location:
//    new"); a kernel without an initramfs gets one from the tree's own dracut (`--no-hostonly
//    --add ostree` + initramfs-args), and when the tree has no dracut the stage says so in a
//    warning and in its metadata (ostree can deploy it, but it will not boot); the rest of /boot
//    (ESP contents) moves to /usr/lib/ostree-boot, BLS entries are dropped, /boot stays empty;
//  * /var/lib/alternatives and /var/lib/vagrant move to /usr/lib (links stay);
//  * the rpm database ends up in /usr/share/rpm (moved from /var/lib/rpm or
//    /usr/lib/sysimage/rpm when the rpm stage put it there), /var/lib/rpm links to it;
//  * /usr/local moves to /var/usrlocal (a link stays);
//  * users and groups other than root (and the `etc_group_members` groups) move from
//    /usr/etc/{passwd,group} to /usr/lib/{passwd,group}, and nsswitch.conf gets "altfiles";
//  * /etc/machine-id is kept empty when the tree had one, else removed (machineid-compat);
//  * everything under /var becomes systemd-tmpfiles lines (d/L) in
//    /usr/lib/tmpfiles.d/rpm-ostree-1-autovar.conf, skipping paths other tmpfiles.d files declare;
//    plain files under /var cannot be expressed that way and are dropped (listed in the metadata);
//    /var is left empty.
//
// Not done (rpm-ostree does): the rpmostree.* package metadata, SELinux policy recompilation
// (semodule -nB), /usr/etc/passwd diffing against a parent commit.
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, renameSync, rmdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { KilnError } from '../../util/errors.js';
import { removeTreeSync } from '../resources.js';
import { runInTree, treeHas } from './chroot.js';
import { checkOpt } from './ostree-util.js';
import type { StageContext, StageImpl } from './types.js';
import { requireKeys } from './util.js';

const TOPLEVEL_DIRS = ['dev', 'proc', 'run', 'sys', 'sysroot', 'var'];
const TOPLEVEL_LINKS: [string, string][] = [
  ['home', 'var/home'],
  ['media', 'run/media'],
  ['mnt', 'var/mnt'],
  ['opt', 'var/opt'],
  ['ostree', 'sysroot/ostree'],
  ['root', 'var/roothome'],
  ['srv', 'var/srv'],
];
const KEEP_LINKS = ['bin', 'lib', 'lib32', 'lib64', 'sbin'];
const AUTOVAR = 'usr/lib/tmpfiles.d/rpm-ostree-1-autovar.conf';

function lexists(p: string): boolean {
  try {
    lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

function isEmptyDir(p: string): boolean {
  return !existsSync(p) || (lstatSync(p).isDirectory() && readdirSync(p).length === 0);
}

/** Rebuild the top level of the tree (osbuild's steps before rpm-ostree postprocess). */
function relayout(tree: string, tmpIsDir: boolean): string[] {
  const hold = mkdtempSync(join(tree, '.kiln-preptree-'));
  try {
    for (const e of readdirSync(tree)) if (join(tree, e) !== hold) renameSync(join(tree, e), join(hold, e));
    chmodSync(tree, 0o755);
    for (const d of TOPLEVEL_DIRS) {
      mkdirSync(join(tree, d), { mode: 0o755 });
      chmodSync(join(tree, d), 0o755);
    }
    for (const [l, t] of TOPLEVEL_LINKS) symlinkSync(t, join(tree, l));
    if (tmpIsDir) {
      mkdirSync(join(tree, 'tmp'));
      chmodSync(join(tree, 'tmp'), 0o1777);
    } else {
      symlinkSync('sysroot/tmp', join(tree, 'tmp'));
    }
    renameSync(join(hold, 'usr'), join(tree, 'usr'));
    if (existsSync(join(hold, 'boot'))) renameSync(join(hold, 'boot'), join(tree, 'boot'));
    else mkdirSync(join(tree, 'boot'), { mode: 0o755 });
    if (lexists(join(hold, 'var'))) {
      rmdirSync(join(tree, 'var'));
      renameSync(join(hold, 'var'), join(tree, 'var'));
    }
    // a non-empty /home is kept as /var/home, turned into tmpfiles lines below
    if (!isEmptyDir(join(hold, 'home')) && lstatSync(join(hold, 'home')).isDirectory()) {
      if (lexists(join(tree, 'var/home'))) throw new KilnError('both /home and /var/home have content');
      renameSync(join(hold, 'home'), join(tree, 'var/home'));
    }
    for (const n of KEEP_LINKS) if (lexists(join(hold, n))) renameSync(join(hold, n), join(tree, n));
    // what is left (e.g. /root, /opt, /srv contents) does not go into the commit, as in osbuild
    return readdirSync(hold).filter((n) => !isEmptyDir(join(hold, n)));
  } finally {
    removeTreeSync(hold);
  }
}

/** Kernels to /usr/lib/modules/<kver>/, and an initramfs for each. */
async function kernels(ctx: StageContext, initramfsArgs: string[], warnings: string[]): Promise<string[]> {
  const tree = ctx.tree;
  const boot = join(tree, 'boot');
  const mods = join(tree, 'usr/lib/modules');
  for (const f of existsSync(boot) ? readdirSync(boot) : []) {
    const m = /^vmlinuz-(.+)$/.exec(f);
    if (!m || m[1]!.startsWith('0-rescue')) continue;
    const kver = m[1]!;
    const dir = join(mods, kver);
    mkdirSync(dir, { recursive: true });
    const moves: [string, string][] = [
      [f, 'vmlinuz'],
      [`initramfs-${kver}.img`, 'initramfs.img'],
      [`.vmlinuz-${kver}.hmac`, '.vmlinuz.hmac'],
    ];
    for (const [from, to] of moves) {
      if (!existsSync(join(boot, from))) continue;
      if (existsSync(join(dir, to))) rmSync(join(boot, from));
      else renameSync(join(boot, from), join(dir, to));
    }
  }
  const found: string[] = [];
  for (const kver of existsSync(mods) ? readdirSync(mods).sort() : []) {
    const dir = join(mods, kver);
    if (!existsSync(join(dir, 'vmlinuz'))) continue;
    found.push(kver);
    if (existsSync(join(dir, 'initramfs.img'))) continue;
    if (treeHas(ctx, '/usr/bin/dracut')) {
      const args = ['/usr/bin/dracut', '--no-hostonly', '--add', 'ostree', '--tmpdir=/tmp', '--force', ...initramfsArgs, '--kver', kver, `/usr/lib/modules/${kver}/initramfs.img`];
      await runInTree(ctx, args, `${ctx.what}: building the initramfs for ${kver}`, 'dracut');
    } else {
      const w = `kernel ${kver} has no initramfs and the tree has no /usr/bin/dracut to make one; the commit will not boot`;
      warnings.push(w);
      ctx.log(`WARNING: ${ctx.what}: ${w}`);
    }
  }
  return found;
}

/**
 * What is left in /boot after the kernels moved (the ESP contents, grub files) goes to
 * /usr/lib/ostree-boot, where bootupd and the bootloader stages look for it; kernel-install's
 * BLS entries and the per-kernel files (System.map, config, symvers: also in the modules
 * directory) are dropped. /boot is empty in the commit: it is a mount point on the deployed system.
 */
function moveBoot(tree: string, kvers: string[]): void {
  const boot = join(tree, 'boot');
  if (!existsSync(boot)) return;
  const perKernel = (n: string): boolean => kvers.some((k) => n.endsWith(`-${k}`) || n.endsWith(`-${k}.gz`) || n.endsWith(`-${k}.img`));
  for (const e of readdirSync(boot)) {
    const p = join(boot, e);
    if (e === 'loader' || perKernel(e) || isEmptyDir(p)) {
      removeTreeSync(p);
      continue;
    }
    const dest = join(tree, 'usr/lib/ostree-boot');
    mkdirSync(dest, { recursive: true });
    if (lexists(join(dest, e))) removeTreeSync(join(dest, e));
    renameSync(p, join(dest, e));
  }
}

/** State that lives in /usr on ostree systems: /var/lib/<x> becomes a link to /usr/lib/<x>. */
const VAR_TO_USR = ['alternatives', 'vagrant'];
function varLibToUsr(tree: string): string[] {
  const links: string[] = [];
  for (const n of VAR_TO_USR) {
    const v = join(tree, 'var/lib', n);
    if (!lexists(v) || lstatSync(v).isSymbolicLink()) continue;
    const u = join(tree, 'usr/lib', n);
    if (lexists(u)) removeTreeSync(v);
    else renameSync(v, u);
    links.push(`L /var/lib/${n} - - - - ../../usr/lib/${n}`);
  }
  return links;
}

function moveUsrLocal(tree: string): void {
  const local = join(tree, 'usr/local');
  if (!lexists(local) || lstatSync(local).isSymbolicLink()) return;
  const dest = join(tree, 'var/usrlocal');
  mkdirSync(dest, { recursive: true });
  for (const e of readdirSync(local)) {
    if (lexists(join(dest, e))) removeTreeSync(join(local, e));
    else renameSync(join(local, e), join(dest, e));
  }
  rmdirSync(local);
  symlinkSync('../var/usrlocal', local);
}

function rpmdb(tree: string): string | undefined {
  const target = join(tree, 'usr/share/rpm');
  if (!lexists(target)) {
    for (const cand of ['var/lib/rpm', 'usr/lib/sysimage/rpm']) {
      const p = join(tree, cand);
      if (!lexists(p) || lstatSync(p).isSymbolicLink() || readdirSync(p).length === 0) continue;
      mkdirSync(join(tree, 'usr/share'), { recursive: true });
      renameSync(p, target);
      if (cand === 'usr/lib/sysimage/rpm') symlinkSync('../../share/rpm', p);
      break;
    }
  }
  // /var/lib/rpm is a link to the read-only database (a tmpfiles L line)
  const varRpm = join(tree, 'var/lib/rpm');
  if (lexists(varRpm)) removeTreeSync(varRpm);
  return lexists(target) ? '/usr/share/rpm' : undefined;
}

/** Split passwd/group: root (and the etc_group_members groups) stay in /usr/etc, the rest to /usr/lib. */
function splitDb(tree: string, db: 'passwd' | 'group', keep: string[]): void {
  const etc = join(tree, 'usr/etc', db);
  if (!existsSync(etc)) return;
  const lines = readFileSync(etc, 'utf8').split('\n').filter((l) => l.trim() !== '');
  const stay = lines.filter((l) => keep.includes(l.split(':')[0]!));
  const move = lines.filter((l) => !keep.includes(l.split(':')[0]!));
  const lib = join(tree, 'usr/lib', db);
  const have = existsSync(lib) ? readFileSync(lib, 'utf8').split('\n').filter((l) => l.trim() !== '') : [];
  const haveNames = new Set(have.map((l) => l.split(':')[0]));
  const merged = [...have, ...move.filter((l) => !haveNames.has(l.split(':')[0]))];
  writeFileSync(lib, merged.map((l) => l + '\n').join(''));
  writeFileSync(etc, stay.map((l) => l + '\n').join(''));
}

/** nss-altfiles reads /usr/lib/{passwd,group}: add it after "files" where missing. */
function nsswitch(tree: string): void {
  const f = join(tree, 'usr/etc/nsswitch.conf');
  if (!existsSync(f)) return;
  const out = readFileSync(f, 'utf8')
    .split('\n')
    .map((l) => {
      const m = /^(passwd|group|shadow|gshadow):(\s*)(.*)$/.exec(l);
      if (!m || !['passwd', 'group'].includes(m[1]!) || /\baltfiles\b/.test(m[3]!)) return l;
      const words = m[3]!.split(/\s+/).filter(Boolean);
      const i = words.indexOf('files');
      words.splice(i < 0 ? 0 : i + 1, 0, 'altfiles');
      return `${m[1]}:${m[2] || ' '}${words.join(' ')}`;
    });
  writeFileSync(f, out.join('\n'));
}

function idNames(tree: string, db: 'passwd' | 'group'): Map<number, string> {
  const m = new Map<number, string>();
  for (const f of [join(tree, 'usr/etc', db), join(tree, 'usr/lib', db)]) {
    if (!existsSync(f)) continue;
    for (const l of readFileSync(f, 'utf8').split('\n')) {
      const p = l.split(':');
      if (p.length >= 3 && /^\d+$/.test(p[2]!) && !m.has(Number(p[2]))) m.set(Number(p[2]), p[0]!);
    }
  }
  return m;
}

/** Paths other tmpfiles.d snippets of the tree already declare. */
function declaredPaths(tree: string): Set<string> {
  const out = new Set<string>();
  for (const d of ['usr/lib/tmpfiles.d', 'usr/etc/tmpfiles.d']) {
    const dir = join(tree, d);
    for (const f of existsSync(dir) ? readdirSync(dir) : []) {
      if (!f.endsWith('.conf') || `${d}/${f}` === AUTOVAR) continue;
      for (const l of readFileSync(join(dir, f), 'utf8').split('\n')) {
        const p = l.trim().split(/\s+/);
        if (p.length >= 2 && !p[0]!.startsWith('#')) out.add(p[1]!.replace(/\/+$/, ''));
      }
    }
  }
  return out;
}

/** /var as tmpfiles lines; returns the files that had to be dropped. Empties /var. */
function varToTmpfiles(tree: string, extra: string[]): { lines: number; dropped: string[] } {
  const v = join(tree, 'var');
  const users = idNames(tree, 'passwd');
  const groups = idNames(tree, 'group');
  const declared = declaredPaths(tree);
  const lines: string[] = [];
  const dropped: string[] = [];
  const walk = (dir: string, rel: string): void => {
    for (const e of readdirSync(dir).sort()) {
      const p = join(dir, e);
      const r = `${rel}/${e}`;
      const st = lstatSync(p);
      if (st.isSymbolicLink()) {
        if (!declared.has(r)) lines.push(`L ${r} - - - - ${readlinkSync(p)}`);
      } else if (st.isDirectory()) {
        const mode = (st.mode & 0o7777).toString(8).padStart(4, '0');
        if (!declared.has(r)) lines.push(`d ${r} ${mode} ${users.get(st.uid) ?? st.uid} ${groups.get(st.gid) ?? st.gid} - -`);
        walk(p, r);
      } else {
        dropped.push(r);
      }
    }
  };
  if (existsSync(v)) walk(v, '/var');
  if (!declared.has('/var/lib/rpm') && existsSync(join(tree, 'usr/share/rpm'))) lines.push('L /var/lib/rpm - - - - ../../usr/share/rpm');
  for (const l of extra) if (!declared.has(l.split(' ')[1]!)) lines.push(l);
  mkdirSync(join(tree, 'usr/lib/tmpfiles.d'), { recursive: true });
  writeFileSync(join(tree, AUTOVAR), ['# Generated by Kiln (org.osbuild.ostree.preptree) from the /var of the tree', ...lines, ''].join('\n'));
  for (const e of existsSync(v) ? readdirSync(v) : []) removeTreeSync(join(v, e));
  return { lines: lines.length, dropped };
}

export const ostreePreptreeStage: StageImpl = {
  type: 'org.osbuild.ostree.preptree',
  validate(stage, what) {
    requireKeys(stage, what, ['etc_group_members', 'initramfs-args', 'tmp-is-dir']);
    checkOpt(stage, 'etc_group_members', 'string[]', what);
    checkOpt(stage, 'initramfs-args', 'string[]', what);
    checkOpt(stage, 'tmp-is-dir', 'boolean', what);
  },
  async run(ctx) {
    const o = ctx.options as { etc_group_members?: string[]; 'initramfs-args'?: string[]; 'tmp-is-dir'?: boolean };
    const tree = ctx.tree;
    if (!existsSync(join(tree, 'usr')) || !statSync(join(tree, 'usr')).isDirectory()) throw new KilnError(`${ctx.what}: the tree has no /usr`);
    if (lexists(join(tree, 'usr/etc'))) throw new KilnError(`${ctx.what}: the tree already has /usr/etc (prepared twice?)`);
    if (!existsSync(join(tree, 'etc'))) throw new KilnError(`${ctx.what}: the tree has no /etc`);
    // rpm-ostree keeps machine-id empty when the tree has one ("machineid-compat"), else removes it
    const machineidCompat = existsSync(join(tree, 'etc/machine-id'));
    renameSync(join(tree, 'etc'), join(tree, 'usr/etc'));
    let left: string[];
    try {
      left = relayout(tree, o['tmp-is-dir'] ?? true);
    } catch (err) {
      throw new KilnError(`${ctx.what}: re-laying out the tree: ${(err as Error).message}`);
    }
    if (left.length) ctx.log(`${ctx.what}: not carried into the ostree layout: /${left.join(', /')}`);
    const warnings: string[] = [];
    const kvers = await kernels(ctx, o['initramfs-args'] ?? [], warnings);
    moveBoot(tree, kvers);
    moveUsrLocal(tree);
    const usrLinks = varLibToUsr(tree);
    const db = rpmdb(tree);
    splitDb(tree, 'passwd', ['root']);
    splitDb(tree, 'group', ['root', ...(o.etc_group_members ?? [])]);
    nsswitch(tree);
    const mid = join(tree, 'usr/etc/machine-id');
    if (machineidCompat) writeFileSync(mid, '');
    else rmSync(mid, { force: true });
    const v = varToTmpfiles(tree, usrLinks);
    if (v.dropped.length) ctx.log(`WARNING: ${ctx.what}: files under /var cannot go into an ostree commit and were dropped: ${v.dropped.join(', ')}`);
    ctx.setMetadata({
      kernels: kvers,
      rpmdb: db ?? null,
      'machineid-compat': machineidCompat,
      'var-tmpfiles-lines': v.lines,
      ...(v.dropped.length ? { 'var-files-dropped': v.dropped } : {}),
      ...(left.length ? { 'not-carried': left.map((n) => `/${basename(n)}`) } : {}),
      ...(warnings.length ? { warnings } : {}),
    });
  },
};
