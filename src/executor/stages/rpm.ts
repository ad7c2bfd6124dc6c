// org.osbuild.rpm: install the `packages` input (RPM files by content checksum) into the tree
// with `rpm --root`. Keys from `gpgkeys` are imported into the tree's rpmdb first; packages whose
// input metadata says rpm.check_gpg must carry a valid signature by one of them. The host's /dev,
// /proc and /sys are bound into the tree while scriptlets run (as osbuild does), and released after.
import { existsSync, lstatSync, mkdirSync, rmdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KilnError } from '../../util/errors.js';
import { run } from '../proc.js';
import { unmountSync } from '../resources.js';
import type { StageContext, StageImpl } from './types.js';
import { requireInput, requireKeys, treePath } from './util.js';

interface RpmOptions {
  dbpath?: string;
  gpgkeys?: string[];
  'gpgkeys.fromtree'?: string[];
  rpmkeys?: { bin_path?: string; ignore_import_failures?: boolean };
  disable_dracut?: boolean;
  exclude?: { docs?: boolean };
  install_langs?: string[];
  nodeps?: boolean;
  ignorearch?: boolean;
  ostree_booted?: boolean;
  generic_env?: Record<string, string>;
  kernel_install_env?: { boot_root?: string; conf_root?: string; plugins?: string; machine_id?: string };
}

const KEYS = ['dbpath', 'gpgkeys', 'gpgkeys.fromtree', 'rpmkeys', 'disable_dracut', 'exclude', 'install_langs', 'nodeps', 'ignorearch', 'ostree_booted', 'generic_env', 'kernel_install_env'];

/** Bind the host's /dev, /proc (and /sys read-only) into the tree for scriptlets. */
async function bindApiFs(ctx: StageContext): Promise<void> {
  for (const [src, ro] of [['/dev', false], ['/proc', false], ['/sys', true]] as const) {
    const at = treePath(ctx, src);
    mkdirSync(at, { recursive: true });
    await run(['mount', '--rbind', src, at], { what: ctx.what, signal: ctx.signal });
    ctx.tracker.add(`bind ${at}`, () => {
      // rbind brought submounts (devpts, mqueue...): unmount the whole subtree
      unmountSync(at, true);
    });
    await run(['mount', '--make-rslave', at], { what: ctx.what, signal: ctx.signal });
    if (ro) await run(['mount', '-o', 'remount,bind,ro', at], { what: ctx.what, signal: ctx.signal }).catch(() => undefined);
  }
}

/** Create a file for the duration of the stage (only if it did not exist). */
function tempMarker(ctx: StageContext, path: string, make: () => void): void {
  if (existsSync(path) || (() => { try { lstatSync(path); return true; } catch { return false; } })()) return;
  make();
  ctx.tracker.add(`marker ${path}`, () => rmSync(path, { force: true }));
}

// the metadata osbuild's rpm stage reports per package (missing tags: null)
const META_TAGS: [string, string][] = [
  ['name', 'NAME'],
  ['version', 'VERSION'],
  ['release', 'RELEASE'],
  ['epoch', 'EPOCH'],
  ['arch', 'ARCH'],
  ['sigmd5', 'SIGMD5'],
  ['sigpgp', 'SIGPGP'],
  ['siggpg', 'SIGGPG'],
];

async function installedPackages(ctx: StageContext, root: string, dbArgs: string[]): Promise<Record<string, string | null>[]> {
  const qf = META_TAGS.map(([, t]) => `%{${t}}`).join('\\t') + '\\n';
  const q = await ctx.run(['rpm', '--root', root, ...dbArgs, '-qa', '--qf', qf], { what: ctx.what });
  return q.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const v = l.split('\t');
      return Object.fromEntries(META_TAGS.map(([k], i) => [k, v[i] === undefined || v[i] === '(none)' ? null : v[i]!]));
    })
    .filter((p) => p.name !== 'gpg-pubkey') // imported keys show up as packages
    .sort((a, b) => (a.name! < b.name! ? -1 : a.name! > b.name! ? 1 : 0));
}

function rmdirIfEmpty(dir: string): void {
  try {
    rmdirSync(dir);
  } catch {
    /* not empty (a package owns content there), or already gone */
  }
}

const SYSTEM_DBPATHS = ['/usr/lib/sysimage/rpm', '/var/lib/rpm'];
const FEDORA_DBPATH = '/usr/lib/sysimage/rpm';

/**
 * The rpmdb location when the manifest does not say: the build root rpm's own default when that
 * is a system location (a Fedora build root: /usr/lib/sysimage/rpm), else Fedora's. A Debian host
 * (buildroot host) defaults to ~/.rpmdb, which would hide the database in the image's /root.
 */
async function defaultDbpath(ctx: StageContext): Promise<string> {
  const r = await ctx.run(['rpm', '--eval', '%{_dbpath}']).catch(() => undefined);
  const p = r?.stdout.trim() ?? '';
  if (SYSTEM_DBPATHS.includes(p)) return p;
  ctx.log(`the build root's rpm keeps its database in "${p || '(unknown)'}", not a system path; using ${FEDORA_DBPATH}`);
  return FEDORA_DBPATH;
}

export const rpmStage: StageImpl = {
  type: 'org.osbuild.rpm',
  validate(stage, what) {
    requireKeys(stage, what, KEYS);
    requireInput(stage, 'packages', what);
    const inp = stage.inputs!.packages!;
    if (inp.type !== 'org.osbuild.files') throw new KilnError(`${what}: input "packages" must be org.osbuild.files, not ${inp.type}`);
    const o = (stage.options ?? {}) as RpmOptions;
    if (o.gpgkeys !== undefined && (!Array.isArray(o.gpgkeys) || o.gpgkeys.some((k) => typeof k !== 'string'))) throw new KilnError(`${what}: option "gpgkeys" must be an array of key texts`);
    if (o.kernel_install_env?.machine_id && !/^[a-f0-9]{32}$/.test(o.kernel_install_env.machine_id)) throw new KilnError(`${what}: kernel_install_env.machine_id must be 32 hex digits`);
  },
  async run(ctx) {
    const o = ctx.options as RpmOptions;
    const pk = ctx.inputs.packages!;
    const files = Object.entries(pk.files ?? {}).map(([name, meta]) => ({ name, meta, path: join(pk.path, name) }));
    const root = ctx.toSandbox(ctx.tree);
    const rpmkeys = o.rpmkeys?.bin_path ?? 'rpmkeys';
    const dbArgs = ['--dbpath', o.dbpath ?? (await defaultDbpath(ctx))];

    for (const d of ['dev', 'proc', 'sys', 'run', 'tmp', 'var/tmp']) mkdirSync(treePath(ctx, d), { recursive: true });

    // keys first: signature checks below use the tree's keyring
    for (const [i, key] of (o.gpgkeys ?? []).entries()) {
      const kf = join(ctx.scratch('gpgkey'), `key${i}.asc`);
      writeFileSync(kf, key);
      try {
        await ctx.run([rpmkeys, '--root', root, ...dbArgs, '--import', ctx.toSandbox(kf)], { what: `${ctx.what}: importing gpgkeys[${i}]` });
      } catch (err) {
        if (!o.rpmkeys?.ignore_import_failures) throw err;
        ctx.log(`ignoring failure to import gpgkeys[${i}]: ${(err as Error).message}`);
      }
    }
    for (const f of files) {
      if (f.meta['rpm.check_gpg'] !== true) continue;
      try {
        // signature level: an unsigned package fails too, not only a badly signed one
        await ctx.run([rpmkeys, '--root', root, ...dbArgs, '--define', '_pkgverify_level signature', '--checksig', ctx.toSandbox(f.path)], { what: ctx.what });
      } catch (err) {
        const nevra = await ctx.run(['rpm', '-qp', '--nosignature', '--qf', '%{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}', ctx.toSandbox(f.path)]).then((r) => r.stdout, () => '?');
        throw new KilnError(`${ctx.what}: package ${nevra} (${f.name}) failed GPG signature verification: ${(err as Error).message.split(': ').slice(-1)[0]}`);
      }
    }

    await bindApiFs(ctx);
    const files_: Record<string, string> = {};
    if (o.ostree_booted) {
      // rpm-ostree-aware scriptlets look for this marker; it lives in the build env and the tree
      const marker = join(ctx.scratch('ostree-booted'), 'ostree-booted');
      writeFileSync(marker, '');
      files_['/run/ostree-booted'] = marker;
      tempMarker(ctx, treePath(ctx, 'run/ostree-booted'), () => writeFileSync(treePath(ctx, 'run/ostree-booted'), ''));
    }
    if (o.disable_dracut) {
      // mask dracut's kernel-install plugins while packages (kernel) install; the image's initrd
      // is built by a later stage. Directories we had to create go again if nothing filled them.
      const kdir = treePath(ctx, 'etc/kernel');
      const d = join(kdir, 'install.d');
      for (const dir of [kdir, d]) {
        if (!existsSync(dir)) {
          mkdirSync(dir, { recursive: true });
          ctx.tracker.add(`dir ${dir}`, () => rmdirIfEmpty(dir));
        }
      }
      for (const p of ['50-dracut.install', '51-dracut-rescue.install']) tempMarker(ctx, join(d, p), () => symlinkSync('/dev/null', join(d, p)));
    }

    // a fixed machine id while scriptlets run (reproducible output); the image gets an empty
    // /etc/machine-id, which systemd fills on first boot
    const machineId = treePath(ctx, 'etc/machine-id');
    if (!existsSync(machineId)) {
      mkdirSync(treePath(ctx, 'etc'), { recursive: true });
      writeFileSync(machineId, 'ffffffffffffffffffffffffffffffff\n', { mode: 0o444 });
    }

    const env: Record<string, string> = { ...(o.generic_env ?? {}) };
    const ki = o.kernel_install_env;
    if (ki?.boot_root) env.BOOT_ROOT = ki.boot_root;
    if (ki?.conf_root) env.KERNEL_INSTALL_CONF_ROOT = ki.conf_root;
    if (ki?.plugins) env.KERNEL_INSTALL_PLUGINS = ki.plugins;
    if (ki?.machine_id) env.MACHINE_ID = ki.machine_id;

    const args = ['rpm', '--verbose', '--root', root, ...dbArgs];
    if (o.exclude?.docs) args.push('--excludedocs');
    if (o.install_langs?.length) args.push('--define', `_install_langs ${o.install_langs.join(':')}`);
    if (o.nodeps) args.push('--nodeps');
    if (o.ignorearch) args.push('--ignorearch');
    // content checksums and (where asked) signatures were verified above
    args.push('--nosignature', '--install', ...files.map((f) => ctx.toSandbox(f.path)));
    if (files.length) await ctx.run(args, { what: ctx.what, extraEnv: env, files: files_ });

    for (const k of o['gpgkeys.fromtree'] ?? []) {
      await ctx.run([rpmkeys, '--root', root, ...dbArgs, '--import', ctx.toSandbox(treePath(ctx, k))], { what: `${ctx.what}: importing ${k} from the tree` });
    }

    rmSync(machineId, { force: true });
    writeFileSync(machineId, '', { mode: 0o444 });
    rmSync(treePath(ctx, 'var/lib/systemd/random-seed'), { force: true }); // never ship a seed

    ctx.setMetadata({ packages: await installedPackages(ctx, root, dbArgs) });
  },
};
