// Helpers for the OS-configuration stages (registry-os.ts): option checks that name the stage and
// the option, chroot-style path resolution inside a tree, build-root file paths, INI writing.
import { accessSync, constants, existsSync, lstatSync, mkdirSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { KilnError } from '../../util/errors.js';
import { inside } from '../paths.js';
import { run } from '../proc.js';
import { unmountSync } from '../resources.js';
import type { Stage } from '../../manifest/types.js';
import type { StageContext } from './types.js';

type Json = unknown;

export function isObj(v: Json): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Check the keys of an options object (or a nested object, `where` naming it). */
export function allowKeys(o: Record<string, unknown>, allowed: string[], what: string, where = 'option'): void {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) throw new KilnError(`${what}: unknown ${where} "${k}" (allowed: ${allowed.join(', ') || 'none'})`);
  }
}

/** Options of a stage (an object, `{}` when absent). */
export function optionsOf(stage: Stage): Record<string, unknown> {
  return (stage.options ?? {}) as Record<string, unknown>;
}

export function checkString(v: Json, name: string, what: string, opts: { required?: boolean; re?: RegExp; nonEmpty?: boolean; oneOf?: string[] } = {}): void {
  if (v === undefined) {
    if (opts.required) throw new KilnError(`${what}: option "${name}" is required`);
    return;
  }
  if (typeof v !== 'string') throw new KilnError(`${what}: option "${name}" must be a string`);
  if (opts.nonEmpty && v === '') throw new KilnError(`${what}: option "${name}" must not be empty`);
  if (opts.re && !opts.re.test(v)) throw new KilnError(`${what}: option "${name}": "${v}" is not valid (must match ${opts.re.source})`);
  if (opts.oneOf && !opts.oneOf.includes(v)) throw new KilnError(`${what}: option "${name}": "${v}" is not one of ${opts.oneOf.join(', ')}`);
}

export function checkBool(v: Json, name: string, what: string): void {
  if (v !== undefined && typeof v !== 'boolean') throw new KilnError(`${what}: option "${name}" must be true or false`);
}

export function checkInt(v: Json, name: string, what: string, opts: { min?: number; max?: number; required?: boolean } = {}): void {
  if (v === undefined) {
    if (opts.required) throw new KilnError(`${what}: option "${name}" is required`);
    return;
  }
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new KilnError(`${what}: option "${name}" must be an integer`);
  if (opts.min !== undefined && v < opts.min) throw new KilnError(`${what}: option "${name}" must be at least ${opts.min}`);
  if (opts.max !== undefined && v > opts.max) throw new KilnError(`${what}: option "${name}" must be at most ${opts.max}`);
}

export function checkStringArray(v: Json, name: string, what: string, opts: { required?: boolean; minItems?: number; re?: RegExp } = {}): void {
  if (v === undefined) {
    if (opts.required) throw new KilnError(`${what}: option "${name}" is required`);
    return;
  }
  if (!Array.isArray(v)) throw new KilnError(`${what}: option "${name}" must be an array of strings`);
  if (opts.minItems !== undefined && v.length < opts.minItems) throw new KilnError(`${what}: option "${name}" needs at least ${opts.minItems} item(s)`);
  v.forEach((x, i) => {
    if (typeof x !== 'string') throw new KilnError(`${what}: option "${name}"[${i}] must be a string`);
    if (opts.re && !opts.re.test(x)) throw new KilnError(`${what}: option "${name}"[${i}]: "${x}" is not valid (must match ${opts.re.source})`);
  });
}

export function checkObject(v: Json, name: string, what: string, opts: { required?: boolean } = {}): v is Record<string, unknown> {
  if (v === undefined) {
    if (opts.required) throw new KilnError(`${what}: option "${name}" is required`);
    return false;
  }
  if (!isObj(v)) throw new KilnError(`${what}: option "${name}" must be an object`);
  return true;
}

/** An absolute path without `..` components (osbuild's path pattern). */
export const ABS_PATH_RE = /^\/(?!\.\.)((?!\/\.\.\/).)+$/;

/**
 * Resolve `p` inside `root` the way a process chrooted to `root` would: symlinks (absolute ones
 * relative to `root`) are followed for every component, the last one only when `followLast`.
 * Never leaves `root`. The result may not exist.
 */
export function resolveInRoot(root: string, p: string, what: string, followLast = true): string {
  let parts = p.split('/').filter((s) => s !== '' && s !== '.');
  const done: string[] = [];
  let hops = 0;
  while (parts.length) {
    const name = parts.shift()!;
    if (name === '..') {
      done.pop();
      continue;
    }
    const host = join(root, ...done, name);
    const isLast = parts.length === 0;
    let st;
    try {
      st = lstatSync(host);
    } catch {
      st = undefined;
    }
    if (st?.isSymbolicLink() && (!isLast || followLast)) {
      if (++hops > 40) throw new KilnError(`${what}: too many levels of symbolic links resolving "${p}"`);
      const target = readlinkSync(host);
      if (target.startsWith('/')) done.length = 0;
      parts = [...target.split('/').filter((s) => s !== '' && s !== '.'), ...parts];
      continue;
    }
    done.push(name);
  }
  return inside(root, done.join('/'), what);
}

/** Host path of a file in the build root (the host's own file in `host` mode). */
export function buildRootPath(ctx: StageContext, p: string): string {
  if (ctx.buildroot.mode === 'host') return p;
  return resolveInRoot(ctx.buildroot.root!, p, ctx.what);
}

/**
 * The pipeline's source epoch (seconds) when the manifest sets one, else undefined. The runner
 * hands it to tools as SOURCE_DATE_EPOCH only, so ask a shell in the build root for it.
 */
export async function sourceEpoch(ctx: StageContext): Promise<number | undefined> {
  if (!ctx.buildroot.hasTool('sh')) return undefined;
  try {
    const r = await ctx.run(['sh', '-c', 'printf "%s" "${SOURCE_DATE_EPOCH:-}"'], { what: ctx.what });
    const v = r.stdout.trim();
    return /^\d+$/.test(v) ? Number(v) : undefined;
  } catch {
    // a build root whose sh cannot run (placeholder packages): no epoch known, use the clock
    return undefined;
  }
}

/**
 * INI text the way systemd and osbuild's configparser-based stages write it: `[Section]`, then
 * `key=value` lines, a blank line after each section. A list value repeats the key.
 */
export function iniText(cfg: Record<string, Record<string, unknown>>, render: (section: string, key: string, v: unknown) => string[] = (_s, k, v) => (Array.isArray(v) ? v.map((x) => `${k}=${String(x)}`) : [`${k}=${String(v)}`])): string {
  let out = '';
  for (const [section, opts] of Object.entries(cfg)) {
    out += `[${section}]\n`;
    for (const [k, v] of Object.entries(opts)) for (const line of render(section, k, v)) out += `${line}\n`;
    out += '\n';
  }
  return out;
}

/** The tree must have this file or directory; the error names the stage and what needs it. */
export function requireInTree(ctx: StageContext, p: string, why: string): string {
  const host = resolveInRoot(ctx.tree, p, ctx.what);
  if (!existsSync(host)) throw new KilnError(`${ctx.what}: ${p} does not exist in the tree (${why})`);
  return host;
}

/**
 * Bind the host's /dev, /proc and /sys (read-only) into the tree for a tool run chrooted into it;
 * released (recursively unmounted) with the stage's other resources.
 */
export async function bindApiFsInTree(ctx: StageContext, readonly: boolean): Promise<void> {
  for (const src of ['/dev', '/proc', '/sys']) {
    const at = inside(ctx.tree, src, ctx.what);
    mkdirSync(at, { recursive: true });
    await run(['mount', '--rbind', src, at], { what: ctx.what, signal: ctx.signal });
    ctx.tracker.add(`bind ${at}`, () => unmountSync(at, true));
    await run(['mount', '--make-rslave', at], { what: ctx.what, signal: ctx.signal });
    if (readonly || src === '/sys') await run(['mount', '-o', 'remount,bind,ro', at], { what: ctx.what, signal: ctx.signal }).catch(() => undefined);
  }
}

/** An executable of the tree itself (for tools osbuild runs chrooted into the tree). */
export function treeTool(ctx: StageContext, names: string[]): string | undefined {
  for (const n of names) {
    const host = resolveInRoot(ctx.tree, n, ctx.what);
    try {
      accessSync(host, constants.X_OK);
      if (statSync(host).isFile()) return n;
    } catch {
      /* next */
    }
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// grub2 files of the build root. Fedora names its tools grub2-* and keeps modules in
// /usr/lib/grub/<platform> and the font in /usr/share/grub; Debian/Ubuntu (grub-pc-bin,
// grub-common) name the tools grub-* with the same module and font paths, and some distributions
// (openSUSE) use /usr/lib/grub2 and /usr/share/grub2. A bwrap build root is the distribution's own
// tree, so only its own (Fedora) names count there; the alternatives are accepted in host mode
// only, where the host's grub is what there is.

/** Candidate names of a grub tool: `grub2-x`, and in host mode also `grub-x`. */
export function grubToolNames(ctx: StageContext, name: string): string[] {
  const names = [name];
  if (ctx.buildroot.mode === 'host' && name.startsWith('grub2-')) names.push(`grub-${name.slice('grub2-'.length)}`);
  return names;
}

/** The first of `grubToolNames` the build root has, else undefined. */
export function findGrubTool(ctx: StageContext, name: string): string | undefined {
  return grubToolNames(ctx, name).find((n) => ctx.buildroot.hasTool(n));
}

/** Build-root paths (as the tool sees them) of grub's module directory for a platform. */
export function grubModuleDirs(ctx: StageContext, platform: string): string[] {
  const dirs = [`/usr/lib/grub/${platform}`];
  if (ctx.buildroot.mode === 'host') dirs.push(`/usr/lib/grub2/${platform}`);
  return dirs;
}

/** Build-root paths of grub's unicode font. */
export function grubFontPaths(ctx: StageContext): string[] {
  const fonts = ['/usr/share/grub/unicode.pf2'];
  if (ctx.buildroot.mode === 'host') fonts.push('/usr/share/grub2/unicode.pf2');
  return fonts;
}

/** The first of `paths` (build-root paths) that exists in the build root, else undefined. */
export function firstInBuildRoot(ctx: StageContext, paths: string[]): string | undefined {
  return paths.find((p) => existsSync(buildRootPath(ctx, p)));
}
