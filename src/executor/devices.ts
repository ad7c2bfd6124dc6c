// Devices for stages. org.osbuild.loopback exposes a file (or a sector range of it) as a block
// device with `losetup`; every device is registered with the resource tracker, so it is
// detached whatever happens to the build.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Device } from '../manifest/types.js';
import { KilnError } from '../util/errors.js';
import { inside } from './paths.js';
import { run } from './proc.js';
import { ResourceTracker, runCleanup } from './resources.js';

export interface OpenedDevice {
  name: string;
  type: string;
  /** the device node, e.g. /dev/loop3 */
  path: string;
}

export interface DeviceContext {
  /** the tree of the pipeline being built; device filenames are relative to it */
  tree: string;
  tracker: ResourceTracker;
  signal: AbortSignal;
  what: string;
  parent?: OpenedDevice;
}

export interface DeviceImpl {
  type: string;
  validate(name: string, dev: Device, what: string): void;
  open(name: string, dev: Device, ctx: DeviceContext): Promise<OpenedDevice>;
}

function num(v: unknown, key: string, what: string, def?: number): number | undefined {
  if (v === undefined) return def;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new KilnError(`${what}: option "${key}" must be a non-negative integer`);
  return v;
}

/** Hold an exclusive flock on the device (keeps udev from probing it while we write). */
async function holdLock(dev: string, ctx: DeviceContext): Promise<void> {
  const child = spawn('flock', ['--exclusive', dev, 'sh', '-c', 'echo locked; exec cat'], { stdio: ['pipe', 'pipe', 'pipe'] });
  ctx.tracker.add(`lock on ${dev}`, () => {
    try {
      child.kill('SIGKILL');
    } catch {
      /* gone */
    }
  });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('locked')) resolve();
    });
    child.on('error', (e) => reject(new KilnError(`${ctx.what}: cannot lock ${dev}: ${e.message}`)));
    child.on('exit', (code) => reject(new KilnError(`${ctx.what}: cannot lock ${dev}: flock exited with ${code}`)));
  });
}

export const loopbackDevice: DeviceImpl = {
  type: 'org.osbuild.loopback',
  validate(name, dev, what) {
    const o = dev.options ?? {};
    if (typeof o.filename !== 'string' || !o.filename) throw new KilnError(`${what}: device "${name}": option "filename" is required`);
    for (const k of ['start', 'size', 'sector-size']) num(o[k], k, `${what}: device "${name}"`);
    if (dev.parent) throw new KilnError(`${what}: device "${name}": a loopback device takes no parent`);
  },
  async open(name, dev, ctx) {
    const o = dev.options ?? {};
    const what = `${ctx.what}: device "${name}"`;
    const file = inside(ctx.tree, o.filename as string, what);
    if (!existsSync(file)) throw new KilnError(`${what}: file "${String(o.filename)}" does not exist in the tree`);
    const ss = num(o['sector-size'], 'sector-size', what, 512)!;
    const start = num(o.start, 'start', what, 0)!;
    const size = num(o.size, 'size', what);
    const args = ['losetup', '--show', '--find', '--offset', String(start * ss)];
    if (size !== undefined) args.push('--sizelimit', String(size * ss));
    if (ss !== 512) args.push('--sector-size', String(ss));
    if (o['read-only'] === true) args.push('--read-only');
    if (o.partscan === true) args.push('--partscan');
    args.push(file);
    const r = await run(args, { what, signal: ctx.signal });
    const path = r.stdout.trim();
    if (!/^\/dev\/loop\d+$/.test(path)) throw new KilnError(`${what}: losetup printed "${path}", not a loop device`);
    ctx.tracker.add(`loop device ${path} (${name})`, () => runCleanup(['losetup', '--detach', path]));
    if (o.lock === true) await holdLock(path, { ...ctx, what });
    return { name, type: dev.type, path };
  },
};

const registry = new Map<string, DeviceImpl>([[loopbackDevice.type, loopbackDevice]]);

export function registerDevice(d: DeviceImpl): void {
  registry.set(d.type, d);
}

export function getDevice(type: string): DeviceImpl | undefined {
  return registry.get(type);
}

/** Open a stage's devices, parents first. */
export async function openDevices(devices: Record<string, Device>, ctx: Omit<DeviceContext, 'parent'>): Promise<Record<string, OpenedDevice>> {
  const opened: Record<string, OpenedDevice> = {};
  const visiting = new Set<string>();
  const open = async (name: string): Promise<OpenedDevice> => {
    if (opened[name]) return opened[name]!;
    const dev = devices[name];
    if (!dev) throw new KilnError(`${ctx.what}: device "${name}" is not defined`);
    if (visiting.has(name)) throw new KilnError(`${ctx.what}: device "${name}" has a parent cycle`);
    visiting.add(name);
    const impl = registry.get(dev.type);
    if (!impl) throw new KilnError(`${ctx.what}: device "${name}": device type "${dev.type}" is not supported`);
    const parent = dev.parent ? await open(dev.parent) : undefined;
    opened[name] = await impl.open(name, dev, { ...ctx, parent });
    return opened[name]!;
  };
  for (const name of Object.keys(devices)) await open(name);
  return opened;
}
