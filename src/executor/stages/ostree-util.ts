// Helpers shared by the org.osbuild.ostree.* and installer stages: option type checks that name
// the option, the commits of an ostree input, deployment options, self bind mounts.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Stage } from '../../manifest/types.js';
import { KilnError } from '../../util/errors.js';
import { deploymentPath } from '../mounts.js';
import { run } from '../proc.js';
import { unmountSync } from '../resources.js';
import type { StageContext } from './types.js';
import { treePath } from './util.js';

export type OptKind = 'string' | 'boolean' | 'number' | 'integer' | 'string[]' | 'object';

function kindOk(v: unknown, kind: OptKind): boolean {
  switch (kind) {
    case 'string':
      return typeof v === 'string';
    case 'boolean':
      return typeof v === 'boolean';
    case 'number':
      return typeof v === 'number' && Number.isFinite(v);
    case 'integer':
      return Number.isInteger(v);
    case 'string[]':
      return Array.isArray(v) && v.every((x) => typeof x === 'string');
    case 'object':
      return !!v && typeof v === 'object' && !Array.isArray(v);
  }
}

const KIND_TEXT: Record<OptKind, string> = {
  string: 'a string',
  boolean: 'a boolean',
  number: 'a number',
  integer: 'an integer',
  'string[]': 'an array of strings',
  object: 'an object',
};

/** Check `obj[key]` (named `label` in errors) against a kind; returns the value. */
export function checkValue<T>(obj: Record<string, unknown>, key: string, kind: OptKind, what: string, label: string, required = false): T | undefined {
  const v = obj[key];
  if (v === undefined) {
    if (required) throw new KilnError(`${what}: option "${label}" is required (${KIND_TEXT[kind]})`);
    return undefined;
  }
  if (!kindOk(v, kind)) throw new KilnError(`${what}: option "${label}" must be ${KIND_TEXT[kind]}, got ${JSON.stringify(v)}`);
  return v as T;
}

/** Check a top-level stage option. */
export function checkOpt<T>(stage: Stage, key: string, kind: OptKind, what: string, required = false): T | undefined {
  return checkValue<T>((stage.options ?? {}) as Record<string, unknown>, key, kind, what, key, required);
}

/** Unknown keys of a nested option object are errors, as in the schemas (additionalProperties: false). */
export function checkKeys(obj: Record<string, unknown>, allowed: string[], what: string, label: string): void {
  for (const k of Object.keys(obj)) if (!allowed.includes(k)) throw new KilnError(`${what}: option "${label}" has unknown key "${k}" (allowed: ${allowed.join(', ')})`);
}

export function checkEnum(stage: Stage, key: string, values: readonly string[], what: string, required = false): string | undefined {
  const v = checkOpt<string>(stage, key, 'string', what, required);
  if (v !== undefined && !values.includes(v)) throw new KilnError(`${what}: option "${key}" must be one of ${values.join(', ')}, got "${v}"`);
  return v;
}

export interface DeploymentOpt {
  osname?: string;
  ref?: string;
  serial?: number;
  default?: boolean;
}

/** The `deployment` option of fillvar/selinux (and the deployment mount): {osname, ref[, serial]} or {default: true}. */
export function validateDeployment(stage: Stage, what: string): void {
  const d = checkOpt<Record<string, unknown>>(stage, 'deployment', 'object', what, true)!;
  checkKeys(d, ['osname', 'ref', 'serial', 'default'], what, 'deployment');
  checkValue(d, 'osname', 'string', what, 'deployment.osname');
  checkValue(d, 'ref', 'string', what, 'deployment.ref');
  checkValue(d, 'serial', 'integer', what, 'deployment.serial');
  const dflt = checkValue<boolean>(d, 'default', 'boolean', what, 'deployment.default');
  if (dflt) {
    if (d.osname !== undefined || d.ref !== undefined || d.serial !== undefined) throw new KilnError(`${what}: option "deployment": "default": true excludes osname, ref and serial`);
  } else if (typeof d.osname !== 'string' || typeof d.ref !== 'string') {
    throw new KilnError(`${what}: option "deployment" needs "osname" and "ref" (or "default": true)`);
  }
}

/** Host path of the deployment the option names, in the sysroot `sysroot` (default: the tree). */
export async function findDeployment(ctx: StageContext, sysroot = ctx.tree): Promise<{ osname: string; path: string }> {
  return deploymentPath(sysroot, ctx.options.deployment as DeploymentOpt, ctx.what, ctx.signal);
}

export interface InputCommit {
  commit: string;
  ref?: string;
}

/** The repository (host path) and commits of an org.osbuild.ostree input. */
export function ostreeInput(ctx: StageContext, name: string): { repo: string; commits: InputCommit[] } {
  const inp = ctx.inputs[name];
  if (!inp) throw new KilnError(`${ctx.what}: input "${name}" is missing`);
  if (inp.type !== 'org.osbuild.ostree') throw new KilnError(`${ctx.what}: input "${name}" must be an org.osbuild.ostree input, not ${inp.type}`);
  const commits = Object.entries(inp.refs ?? {}).map(([commit, v]) => ({ commit, ref: v.ref }));
  if (commits.length === 0) throw new KilnError(`${ctx.what}: input "${name}" provides no commit`);
  return { repo: inp.path, commits };
}

/** Input of the stage must be present with the given type (checked before anything runs). */
export function requireInputType(stage: Stage, name: string, types: string[], what: string): void {
  const inp = stage.inputs?.[name];
  if (!inp) throw new KilnError(`${what}: input "${name}" is required`);
  if (!types.includes(inp.type)) throw new KilnError(`${what}: input "${name}" must be of type ${types.join(' or ')}, not ${inp.type}`);
}

/**
 * Environment for `ostree admin` on a sysroot that is a directory of the build host:
 *  - skip-sync: skip the final sync, which would freeze (FIFREEZE) the filesystem holding /boot,
 *    i.e. the host filesystem the store lives on; the store commit makes the result durable;
 *  - mutable-deployments: do not make the deployment root immutable (chattr +i), or the store
 *    could never delete or prune the tree. The flag would not survive into the image anyway:
 *    the tree is copied onto the image's filesystem with `cp -a`, which does not copy it (the
 *    same holds for osbuild's org.osbuild.copy).
 */
export const SYSROOT_ENV = { OSTREE_SYSROOT_OPTS: 'skip-sync', OSTREE_SYSROOT_DEBUG: 'mutable-deployments' };

/** Bind-mount a tree directory onto itself (a mount point, as ostree expects /boot to be); undone after the stage. */
export async function bindSelf(ctx: StageContext, path: string): Promise<void> {
  const p = treePath(ctx, path);
  mkdirSync(p, { recursive: true });
  await run(['mount', '--bind', '--make-private', p, p], { what: `${ctx.what}: bind-mounting ${path}`, signal: ctx.signal });
  ctx.tracker.add(`bind ${p}`, () => unmountSync(p));
}

/** Bind `src` at `dst` (host paths) for the rest of the stage. */
export async function bindAt(ctx: StageContext, src: string, dst: string): Promise<void> {
  if (!existsSync(dst)) mkdirSync(dst, { recursive: true });
  await run(['mount', '--bind', '--make-private', src, dst], { what: `${ctx.what}: bind-mounting ${src}`, signal: ctx.signal });
  ctx.tracker.add(`bind ${dst}`, () => unmountSync(dst));
}

/** Host path of a file of the build root (the host itself with `buildroot: host`). */
export function buildrootPath(ctx: StageContext, p: string): string {
  return ctx.buildroot.mode === 'host' || !ctx.buildroot.root ? p : join(ctx.buildroot.root, p.replace(/^\/+/, ''));
}

/** The tool must exist in the build root; the error says which and where. */
export function needTool(ctx: StageContext, tool: string, pkg: string): void {
  if (!ctx.buildroot.hasTool(tool)) {
    throw new KilnError(`${ctx.what}: "${tool}" not found in the ${ctx.buildroot.mode === 'host' ? 'host' : 'build root'} (install ${pkg})`);
  }
}

/**
 * The time to record in files that carry the build time (.buildstamp, .discinfo): the pipeline's
 * source-epoch when the context offers it (an optional `sourceEpoch` the runner may add), else
 * SOURCE_DATE_EPOCH of the environment, else now.
 */
export function buildTime(ctx?: StageContext): Date {
  const fromCtx = (ctx as { sourceEpoch?: unknown } | undefined)?.sourceEpoch;
  if (typeof fromCtx === 'number' && Number.isFinite(fromCtx)) return new Date(fromCtx * 1000);
  const e = process.env.SOURCE_DATE_EPOCH;
  return e && /^\d+$/.test(e) ? new Date(Number(e) * 1000) : new Date();
}
