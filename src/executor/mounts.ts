// Mounts for stages: filesystems on a stage's devices (ext4, fat, xfs, btrfs) mounted under one
// private mount root at their `target`, and org.osbuild.ostree.deployment, which makes a tree's
// deployment look like a booted one (sysroot, var, boot bound in). Each mount is registered with
// the resource tracker and unmounted (children first) whatever happens.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Mount } from '../manifest/types.js';
import { KilnError } from '../util/errors.js';
import type { OpenedDevice } from './devices.js';
import { inside } from './paths.js';
import { run } from './proc.js';
import { mountsUnder, ResourceTracker, unmountSync } from './resources.js';

export interface MountContext {
  /** directory the mounts are arranged under (their `target` is relative to it) */
  root: string;
  /** the pipeline's tree */
  tree: string;
  devices: Record<string, OpenedDevice>;
  tracker: ResourceTracker;
  signal: AbortSignal;
  what: string;
  /** a note for the build log */
  log?: (message: string) => void;
}

export interface MountedFs {
  name: string;
  type: string;
  /** host path where the mount (or the deployment) is visible */
  path: string;
}

export interface MountImpl {
  type: string;
  validate(m: Mount, what: string): void;
  mount(m: Mount, ctx: MountContext): Promise<MountedFs>;
}

async function mountTracked(args: string[], target: string, ctx: MountContext, what: string): Promise<void> {
  mkdirSync(target, { recursive: true });
  await run(['mount', ...args, target], { what, signal: ctx.signal });
  ctx.tracker.add(`mount ${target}`, () => unmountSync(target));
}

function kernelHas(fstype: string): boolean {
  try {
    return readFileSync('/proc/filesystems', 'utf8').split('\n').some((l) => l.split('\t').pop() === fstype);
  } catch {
    return true;
  }
}

type OptionMapper = (o: Record<string, unknown>) => string[];

function fsMount(type: string, fstype: string, allowed: string[], map: OptionMapper): MountImpl {
  return {
    type,
    validate(m, what) {
      const w = `${what}: mount "${m.name}"`;
      if (!m.source) throw new KilnError(`${w}: "source" (a device name) is required`);
      if (m.target === undefined) throw new KilnError(`${w}: "target" is required`);
      for (const k of Object.keys(m.options ?? {})) if (!allowed.includes(k)) throw new KilnError(`${w}: unknown option "${k}"`);
    },
    async mount(m, ctx) {
      const w = `${ctx.what}: mount "${m.name}"`;
      const dev = ctx.devices[m.source!];
      if (!dev) throw new KilnError(`${w}: source device "${m.source}" is not among the stage's devices`);
      const node = m.partition ? `${dev.path}p${m.partition}` : dev.path;
      if (m.partition && !existsSync(node)) throw new KilnError(`${w}: partition ${m.partition} of ${dev.name} (${node}) does not exist (partscan off?)`);
      const target = inside(ctx.root, m.target ?? '/', w);
      const opts = map(m.options ?? {});
      try {
        await mountTracked(['-t', fstype, ...(opts.length ? ['-o', opts.join(',')] : []), node], target, ctx, w);
      } catch (err) {
        if (!kernelHas(fstype)) throw new KilnError(`${(err as Error).message} (the running kernel does not list ${fstype} in /proc/filesystems)`);
        throw err;
      }
      return { name: m.name, type: m.type, path: target };
    },
  };
}

const ro = (o: Record<string, unknown>): string[] => (o.readonly === true ? ['ro'] : []);
const norecovery = (o: Record<string, unknown>): string[] => (o.norecovery === true ? ['norecovery'] : []);

export const ext4Mount = fsMount('org.osbuild.ext4', 'ext4', ['readonly', 'norecovery'], (o) => [...ro(o), ...norecovery(o)]);
export const xfsMount = fsMount('org.osbuild.xfs', 'xfs', ['readonly', 'norecovery'], (o) => [...ro(o), ...norecovery(o)]);
const kernelFatMount = fsMount('org.osbuild.fat', 'vfat', ['readonly', 'uid', 'gid', 'umask', 'shortname'], (o) => {
  const out = ro(o);
  for (const k of ['uid', 'gid', 'umask', 'shortname']) if (o[k] !== undefined) out.push(`${k}=${String(o[k])}`);
  return out;
});

const MTOOLS_ENV = { ...process.env, MTOOLS_SKIP_CHECK: '1', MTOOLS_NO_VFAT: '0' };

function mtools(argv: string[], cwd?: string): string {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', env: MTOOLS_ENV, cwd });
  if (r.status !== 0) throw new KilnError(`'${argv.join(' ')}' failed: ${(r.stderr || r.stdout || String(r.error ?? '')).trim()}`);
  return r.stdout;
}

/**
 * FAT without kernel support (some build hosts' kernels have no vfat): the mount point gets a
 * private tmpfs filled from the file system with mtools; when the mount is released its content
 * replaces the file system's (mdeltree/mdel, then mcopy). Used only when the kernel mount fails
 * and /proc/filesystems has no vfat, or when KILN_FAT_MOUNT=mtools. FAT keeps no owners or
 * modes, so uid/gid/umask have nothing to do here.
 */
async function mtoolsFatMount(m: Mount, dev: string, target: string, ctx: MountContext, what: string): Promise<void> {
  if (spawnSync('mcopy', ['--version'], { encoding: 'utf8' }).error) {
    throw new KilnError(`${what}: this kernel cannot mount vfat and mtools (mcopy) is not installed to write the FAT file system instead`);
  }
  const readonly = (m.options ?? {}).readonly === true;
  mkdirSync(target, { recursive: true });
  await run(['mount', '-t', 'tmpfs', '-o', 'mode=0755', 'kiln-fat', target], { what, signal: ctx.signal });
  let populated = false;
  ctx.tracker.add(`FAT (mtools) mount ${target}`, () => {
    try {
      if (populated && !readonly) {
        for (const e of mtools(['mdir', '-i', dev, '-b', '::/']).split('\n').filter(Boolean)) {
          mtools([e.endsWith('/') ? 'mdeltree' : 'mdel', '-i', dev, e.replace(/\/$/, '')]);
        }
        const entries = readdirSync(target);
        if (entries.length) mtools(['mcopy', '-s', '-p', '-m', '-o', '-Q', '-i', dev, ...entries, '::/'], target);
      }
    } finally {
      unmountSync(target);
    }
  });
  if (mtools(['mdir', '-i', dev, '-b', '::/']).trim()) mtools(['mcopy', '-s', '-p', '-m', '-n', '-Q', '-i', dev, '::/*', target + '/']);
  populated = true;
  ctx.log?.(`${what}: the kernel has no vfat; FAT file system staged through mtools`);
}

export const fatMount: MountImpl = {
  type: 'org.osbuild.fat',
  validate: kernelFatMount.validate,
  async mount(m, ctx) {
    const w = `${ctx.what}: mount "${m.name}"`;
    const forced = process.env.KILN_FAT_MOUNT === 'mtools';
    if (!forced) {
      try {
        return await kernelFatMount.mount(m, ctx);
      } catch (err) {
        if (kernelHas('vfat') || ctx.signal.aborted) throw err;
      }
    }
    const dev = ctx.devices[m.source!];
    if (!dev) throw new KilnError(`${w}: source device "${m.source}" is not among the stage's devices`);
    if (m.partition) throw new KilnError(`${w}: partitions are not supported for FAT through mtools`);
    const target = inside(ctx.root, m.target ?? '/', w);
    await mtoolsFatMount(m, dev.path, target, ctx, w);
    return { name: m.name, type: m.type, path: target };
  },
};
export const btrfsMount = fsMount('org.osbuild.btrfs', 'btrfs', ['readonly', 'norecovery', 'subvol', 'compress'], (o) => {
  const out = [...ro(o), ...(o.norecovery === true ? ['rescue=nologreplay'] : [])];
  if (typeof o.subvol === 'string') out.push(`subvol=${o.subvol}`);
  if (typeof o.compress === 'string') out.push(`compress=${o.compress}`);
  return out;
});

interface DeploymentSpec {
  osname?: string;
  ref?: string;
  serial?: number;
  default?: boolean;
}

/** Path (relative to the sysroot) of the deployment named by {osname, ref, serial} or default. */
export async function deploymentPath(sysroot: string, dep: DeploymentSpec, what: string, signal?: AbortSignal): Promise<{ osname: string; path: string }> {
  if (dep.default) {
    const found: { osname: string; path: string }[] = [];
    const base = join(sysroot, 'ostree', 'deploy');
    for (const os of existsSync(base) ? readdirSync(base) : []) {
      const d = join(base, os, 'deploy');
      for (const e of existsSync(d) ? readdirSync(d) : []) if (/^[0-9a-f]{64}\.\d+$/.test(e)) found.push({ osname: os, path: join(d, e) });
    }
    if (found.length !== 1) throw new KilnError(`${what}: expected exactly one ostree deployment for "default", found ${found.length}`);
    return found[0]!;
  }
  if (!dep.osname || !dep.ref) throw new KilnError(`${what}: deployment needs "osname" and "ref" (or "default": true)`);
  const r = await run(['ostree', `--repo=${join(sysroot, 'ostree', 'repo')}`, 'rev-parse', dep.ref], { what: `${what}: resolving ref ${dep.ref}`, signal });
  const commit = r.stdout.trim();
  const path = join(sysroot, 'ostree', 'deploy', dep.osname, 'deploy', `${commit}.${dep.serial ?? 0}`);
  if (!existsSync(path)) throw new KilnError(`${what}: deployment ${dep.osname}/${commit}.${dep.serial ?? 0} does not exist`);
  return { osname: dep.osname, path };
}

/**
 * Make the tree (or the mount root) look like a booted ostree system: the deployment, with the
 * tree bound at its /sysroot, the stateroot's var at /var and /boot at /boot, is moved over the
 * target, so stages working on the tree work on the deployment (its /ostree symlink still
 * reaches the repository through /sysroot).
 */
export const ostreeDeploymentMount: MountImpl = {
  type: 'org.osbuild.ostree.deployment',
  validate(m, what) {
    const o = (m.options ?? {}) as { deployment?: unknown; source?: unknown };
    if (!o.deployment || typeof o.deployment !== 'object') throw new KilnError(`${what}: mount "${m.name}": option "deployment" is required`);
    if (o.source !== undefined && o.source !== 'tree' && o.source !== 'mount') throw new KilnError(`${what}: mount "${m.name}": source must be "tree" or "mount"`);
  },
  async mount(m, ctx) {
    const w = `${ctx.what}: mount "${m.name}"`;
    const o = (m.options ?? {}) as { deployment: DeploymentSpec; source?: string };
    const target = o.source === 'mount' ? ctx.root : ctx.tree;
    const { osname, path: deploy } = await deploymentPath(target, o.deployment, w, ctx.signal);
    const bind = (src: string, dst: string): Promise<unknown> => run(['mount', '--bind', '--make-private', src, dst], { what: w, signal: ctx.signal });
    // a private mount of its own first: a mount cannot be moved out from under a shared one
    await bind(target, target);
    ctx.tracker.add(`ostree deployment at ${target}`, () => {
      unmountSync(target, true);
      // older util-linux can leave over-mounts behind after a move: unmount until nothing is left
      for (let i = 0; i < 8 && mountsUnder(target).includes(target); i++) unmountSync(target);
    });
    await bind(deploy, deploy);
    await bind(target, join(deploy, 'sysroot'));
    await bind(join(target, 'ostree', 'deploy', osname, 'var'), join(deploy, 'var'));
    await bind(join(target, 'boot'), join(deploy, 'boot'));
    await run(['mount', '--move', deploy, target], { what: w, signal: ctx.signal });
    return { name: m.name, type: m.type, path: target };
  },
};

const registry = new Map<string, MountImpl>();
for (const m of [ext4Mount, xfsMount, fatMount, btrfsMount, ostreeDeploymentMount]) registry.set(m.type, m);

export function registerMount(m: MountImpl): void {
  registry.set(m.type, m);
}

export function getMount(type: string): MountImpl | undefined {
  return registry.get(type);
}

/** Mount a stage's mounts in order (parents like "/" before "/boot" by manifest order). */
export async function mountAll(mounts: Mount[], ctx: MountContext): Promise<Record<string, MountedFs>> {
  const out: Record<string, MountedFs> = {};
  for (const m of mounts) {
    const impl = registry.get(m.type);
    if (!impl) throw new KilnError(`${ctx.what}: mount "${m.name}": mount type "${m.type}" is not supported`);
    out[m.name] = await impl.mount(m, ctx);
  }
  return out;
}
