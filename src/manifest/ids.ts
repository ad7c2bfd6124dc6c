// osbuild's content ids for stages, inputs, devices, mounts and pipelines (reference §6.2). They
// are sha256 digests over Python `json.dumps(x, sort_keys=True)` texts fed one after another, so
// the encoder below reproduces Python's output byte for byte: separators ", " and ": ",
// ensure_ascii escapes, keys sorted by code point, Python float formatting. The executor uses
// these ids as cache keys, and matching osbuild means a store can be shared with real osbuild.
import { createHash } from 'node:crypto';
import type { Device, Input, Manifest, Mount, Pipeline, Stage } from './types.js';

/** Python `repr(float)` for a finite non-integer (or huge) number. */
function pyFloat(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return 'Infinity';
  if (n === -Infinity) return '-Infinity';
  if (Object.is(n, -0)) return '-0.0';
  // shortest round-trip digits, as both JS and Python pick them
  const exp = n.toExponential(); // e.g. "1.5e-7", "1e+21"
  const [mant, e] = exp.split('e') as [string, string];
  const e10 = Number(e);
  // Python repr: scientific when exponent < -4 or >= 16
  if (e10 < -4 || e10 >= 16) {
    const sign = e10 < 0 ? '-' : '+';
    return `${mant}e${sign}${String(Math.abs(e10)).padStart(2, '0')}`;
  }
  const digits = mant.replace('-', '').replace('.', '');
  const neg = n < 0 ? '-' : '';
  let s: string;
  if (e10 >= 0) {
    const intLen = e10 + 1;
    s = digits.length <= intLen ? digits.padEnd(intLen, '0') + '.0' : `${digits.slice(0, intLen)}.${digits.slice(intLen)}`;
  } else {
    s = '0.' + '0'.repeat(-e10 - 1) + digits;
  }
  return neg + s;
}

function pyString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += '\\\\';
    else if (c === 0x0a) out += '\\n';
    else if (c === 0x0d) out += '\\r';
    else if (c === 0x09) out += '\\t';
    else if (c === 0x08) out += '\\b';
    else if (c === 0x0c) out += '\\f';
    else if (c < 0x20 || c > 0x7e) out += '\\u' + c.toString(16).padStart(4, '0'); // UTF-16 units = Python's surrogate pairs
    else out += s[i];
  }
  return out + '"';
}

/** Compare strings by Unicode code point, as Python's sorted() does (JS sort uses UTF-16 units). */
function cmpCodePoints(a: string, b: string): number {
  const A = Array.from(a);
  const B = Array.from(b);
  const n = Math.min(A.length, B.length);
  for (let i = 0; i < n; i++) {
    const x = A[i]!.codePointAt(0)!;
    const y = B[i]!.codePointAt(0)!;
    if (x !== y) return x - y;
  }
  return A.length - B.length;
}

/**
 * Python's `json.dumps(value, sort_keys=True)` of the value as Python would load it from
 * JSON.stringify's text: integral numbers below 1e21 are ints (JSON cannot tell 1 from 1.0),
 * everything else uses Python's float repr. `undefined` object members
 * are skipped, like JSON.stringify.
 */
export function pyJsonDumps(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (value === true) return 'true';
  if (value === false) return 'false';
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number') {
    // what Python gets when it parses JSON.stringify's text: digits (an int) below 1e21,
    // exponent notation (a float) from there on
    if (Number.isInteger(value) && !Object.is(value, -0) && Math.abs(value) < 1e21) return BigInt(value).toString();
    return pyFloat(value);
  }
  if (typeof value === 'string') return pyString(value);
  if (Array.isArray(value)) return '[' + value.map((v) => pyJsonDumps(v)).join(', ') + ']';
  if (typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    const keys = Object.keys(obj)
      .filter((k) => obj[k] !== undefined)
      .sort(cmpCodePoints);
    return '{' + keys.map((k) => `${pyString(k)}: ${pyJsonDumps(obj[k])}`).join(', ') + '}';
  }
  throw new Error(`pyJsonDumps: cannot encode a ${typeof value}`);
}

/** sha256 hex over the concatenated `json.dumps(part, sort_keys=True)` of each part. */
export function hashParts(parts: unknown[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(pyJsonDumps(p), 'utf8');
  return h.digest('hex');
}

/**
 * The references of an input the way osbuild stores them: a map ref -> options. Pipeline refs
 * (`name:x`) are replaced by the referenced pipeline's id; refs of a pipeline input that do not
 * start with `name:` are dropped, as osbuild does.
 */
export function normalizeReferences(input: Input, pipelineIds: ReadonlyMap<string, string | null>): Record<string, unknown> {
  let refs: Record<string, unknown>;
  const raw = input.references as unknown;
  if (Array.isArray(raw)) {
    refs = {};
    for (const r of raw) {
      if (typeof r === 'string') refs[r] = {};
      else if (r && typeof r === 'object') {
        const o = r as { id: string; options?: unknown };
        refs[o.id] = o.options ?? {};
      } else throw new Error(`input ${input.type}: invalid reference ${JSON.stringify(r)}`);
    }
  } else {
    refs = { ...(raw as Record<string, unknown>) };
  }
  for (const k of Object.keys(refs)) if (!refs[k]) refs[k] = {}; // osbuild: `options or {}`
  if (input.origin !== 'org.osbuild.pipeline') return refs;
  const resolved: Record<string, unknown> = {};
  for (const [r, opts] of Object.entries(refs)) {
    if (!r.startsWith('name:')) continue;
    const name = r.slice(5);
    if (!pipelineIds.has(name)) throw new Error(`input ${input.type}: reference "${r}" names no earlier pipeline`);
    const id = pipelineIds.get(name);
    if (id === null || id === undefined) throw new Error(`input ${input.type}: referenced pipeline "${name}" has no stages`);
    resolved[id] = opts;
  }
  return resolved;
}

/** Input id = sha256(type, origin, refs, options); the input's name is not part of it. */
export function inputId(input: Input, pipelineIds: ReadonlyMap<string, string | null>): string {
  return hashParts([input.type, input.origin, normalizeReferences(input, pipelineIds), input.options ?? {}]);
}

/** Device id = sha256(type, parent id if any, options); names resolve within the stage's devices. */
export function deviceId(name: string, devices: Record<string, Device>, seen: Set<string> = new Set()): string {
  const dev = devices[name];
  if (!dev) throw new Error(`device "${name}" is not defined in the stage`);
  if (seen.has(name)) throw new Error(`device "${name}" has a parent cycle`);
  seen.add(name);
  const parts: unknown[] = [dev.type];
  if (dev.parent) parts.push(deviceId(dev.parent, devices, seen));
  parts.push(dev.options ?? {});
  return hashParts(parts);
}

/** Mount id = sha256(type, device id?, partition?, target?, options). */
export function mountId(mount: Mount, devices: Record<string, Device>): string {
  const parts: unknown[] = [mount.type];
  if (mount.source) parts.push(deviceId(mount.source, devices));
  if (mount.partition) parts.push(mount.partition);
  if (mount.target) parts.push(mount.target);
  parts.push(mount.options ?? {});
  return hashParts(parts);
}

export interface StageContext {
  /** id of the pipeline this pipeline builds in, or null */
  build: string | null;
  /** id of the previous stage of the same pipeline, or null for the first */
  base: string | null;
  sourceEpoch?: number;
  /** ids of the pipelines declared before (for `name:x` input references) */
  pipelineIds: ReadonlyMap<string, string | null>;
}

/**
 * Stage id = sha256 over: type, build id, base id, options, source epoch (if set),
 * {input name: input id} (if any inputs), [mount ids] (if any mounts).
 */
export function stageId(stage: Stage, ctx: StageContext): string {
  const parts: unknown[] = [stage.type, ctx.build, ctx.base, stage.options ?? {}];
  if (ctx.sourceEpoch !== undefined && ctx.sourceEpoch !== null) parts.push(ctx.sourceEpoch);
  if (stage.inputs && Object.keys(stage.inputs).length > 0) {
    const m: Record<string, string> = {};
    for (const [n, inp] of Object.entries(stage.inputs)) m[n] = inputId(inp, ctx.pipelineIds);
    parts.push(m);
  }
  if (stage.mounts && stage.mounts.length > 0) {
    parts.push(stage.mounts.map((mnt) => mountId(mnt, stage.devices ?? {})));
  }
  return hashParts(parts);
}

/** Every stage id of every pipeline, in manifest order. */
export function stageIds(manifest: Pick<Manifest, 'pipelines'>): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const pids = new Map<string, string | null>();
  for (const p of manifest.pipelines) {
    const ids = pipelineStageIds(p, pids);
    out.set(p.name, ids);
    pids.set(p.name, ids.length ? ids[ids.length - 1]! : null);
  }
  return out;
}

function pipelineStageIds(p: Pipeline, pids: ReadonlyMap<string, string | null>): string[] {
  let build: string | null = null;
  if (p.build) {
    if (!p.build.startsWith('name:')) throw new Error(`pipeline "${p.name}": build "${p.build}" must be name:<pipeline>`);
    const b = p.build.slice(5);
    if (!pids.has(b)) throw new Error(`pipeline "${p.name}": build pipeline "${b}" is not declared before it`);
    build = pids.get(b) ?? null;
  }
  const ids: string[] = [];
  let base: string | null = null;
  for (const s of p.stages) {
    base = stageId(s, { build, base, sourceEpoch: p['source-epoch'], pipelineIds: pids });
    ids.push(base);
  }
  return ids;
}

/** Pipeline id (id of its last stage, null when it has no stages) per pipeline name. */
export function pipelineIds(manifest: Pick<Manifest, 'pipelines'>): Map<string, string | null> {
  const out = new Map<string, string | null>();
  for (const [name, ids] of stageIds(manifest)) out.set(name, ids.length ? ids[ids.length - 1]! : null);
  return out;
}
