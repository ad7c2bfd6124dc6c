// Helpers shared by stage implementations.
import { KilnError } from '../../util/errors.js';
import { inside } from '../paths.js';
import type { StageContext } from './types.js';
import type { Stage } from '../../manifest/types.js';

export function opt<T>(stage: Stage, key: string): T | undefined {
  return (stage.options ?? {})[key] as T | undefined;
}

export function requireString(stage: Stage, key: string, what: string): string {
  const v = (stage.options ?? {})[key];
  if (typeof v !== 'string' || v === '') throw new KilnError(`${what}: option "${key}" is required (a non-empty string)`);
  return v;
}

export function requireKeys(stage: Stage, what: string, allowed: string[]): void {
  for (const k of Object.keys(stage.options ?? {})) {
    if (!allowed.includes(k)) throw new KilnError(`${what}: unknown option "${k}" (allowed: ${allowed.join(', ') || 'none'})`);
  }
}

export function requireInput(stage: Stage, name: string, what: string): void {
  if (!stage.inputs?.[name]) throw new KilnError(`${what}: input "${name}" is required`);
}

export function requireDevice(stage: Stage, name: string, what: string): void {
  if (!stage.devices?.[name]) throw new KilnError(`${what}: device "${name}" is required`);
}

/** Host path of a file in the tree. */
export function treePath(ctx: StageContext, p: string): string {
  return inside(ctx.tree, p, ctx.what);
}

/** The single file of a files input (e.g. xz's `file`), as a host path. */
export function singleFile(ctx: StageContext, input: string): string {
  const inp = ctx.inputs[input];
  if (!inp) throw new KilnError(`${ctx.what}: input "${input}" is missing`);
  const names = Object.keys(inp.files ?? {});
  if (names.length !== 1) throw new KilnError(`${ctx.what}: input "${input}" must provide exactly one file, it provides ${names.length}`);
  return inside(inp.path, names[0]!, `${ctx.what}: input "${input}"`);
}

/**
 * Resolve an osbuild URL: `tree:///p`, `mount://<name>/p`, `input://<name>/p`; a plain path means
 * the tree. Returns the host path.
 */
export function resolveUrl(ctx: StageContext, url: string, allowed: ('tree' | 'mount' | 'input')[]): string {
  const m = /^(tree|mount|input):\/\/([^/]*)(\/.*)?$/.exec(url);
  if (!m) {
    if (allowed.includes('tree') && !url.includes('://')) return inside(ctx.tree, url, ctx.what);
    throw new KilnError(`${ctx.what}: invalid location "${url}"`);
  }
  const scheme = m[1] as 'tree' | 'mount' | 'input';
  const name = m[2]!;
  const rest = m[3] ?? '/';
  if (!allowed.includes(scheme)) throw new KilnError(`${ctx.what}: "${scheme}://" is not allowed here ("${url}")`);
  if (scheme === 'tree') {
    if (name !== '') throw new KilnError(`${ctx.what}: "${url}": tree URLs are tree:///path`);
    return inside(ctx.tree, rest, ctx.what);
  }
  if (scheme === 'mount') {
    const mnt = ctx.mounts[name];
    if (!mnt) throw new KilnError(`${ctx.what}: "${url}": no mount named "${name}"`);
    return inside(mnt.path, rest, ctx.what);
  }
  const inp = ctx.inputs[name];
  if (!inp) throw new KilnError(`${ctx.what}: "${url}": no input named "${name}"`);
  return inside(inp.path, rest, ctx.what);
}
