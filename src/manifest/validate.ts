// Validate an osbuild manifest v2 against osbuild's own JSON schemas, the way osbuild does it
// (osbuild/formats/v2.py `validate` + osbuild/meta.py `ModuleInfo.get_schema`):
//   1. the whole document against `osbuild2.json`;
//   2. every source against the source type's schema;
//   3. every stage against a schema built from its meta file: {type, options, inputs, devices,
//      mounts} where `options` etc. come from `schema_2` (or, when a meta file only has the
//      v1 `schema`, that is the options schema);
//   4. every input, device and mount of a stage against the schema of its own type.
// A type without a meta file is an error naming it (osbuild: "could not find schema information").
//
// Draft notes: osbuild validates with jsonschema's Draft4Validator and no format checker. The
// schemas only use keywords whose meaning is the same in draft-04 and draft-07 (checked over the
// whole snapshot: no boolean exclusiveMinimum/Maximum, no `id`), so we run them on Ajv's draft-07
// engine after a load-time normalisation (`normaliseDraft04`): `$schema` is dropped (Ajv has no
// draft-04 meta-schema), boolean exclusiveMinimum/Maximum are rewritten to the draft-06 numeric
// form should a future schema use them, and `$ref` siblings are dropped (draft-04 ignores them,
// Ajv 8 would apply them). Formats are not checked (like osbuild), unknown/misspelt keywords in
// the upstream schemas are ignored (`strict: false`), and patterns are compiled without the `u`
// flag since they are written for Python's `re`.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Obj = Record<string, Json>;
type Klass = 'Stage' | 'Input' | 'Device' | 'Mount' | 'Source';

const KLASS_DIR: Record<Klass, string> = {
  Stage: 'stages',
  Input: 'inputs',
  Device: 'devices',
  Mount: 'mounts',
  Source: 'sources',
};

/** Directory holding package.json, found by walking up from this module (src/ or dist/src/). */
function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`validate: cannot find the repository root above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
}

/** `$KILN_OSBUILD_SCHEMAS`, else `<repo root>/../shared/reference/osbuild-schemas`. */
export function defaultSchemaDir(): string {
  const env = process.env['KILN_OSBUILD_SCHEMAS'];
  if (env) return env;
  return path.resolve(repoRoot(), '..', 'shared', 'reference', 'osbuild-schemas');
}

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function clone<T>(v: T): T {
  return structuredClone(v);
}

/** Rewrite draft-04-only constructs into their draft-07 equivalent (see header). Mutates. */
export function normaliseDraft04(node: Json): Json {
  if (Array.isArray(node)) {
    for (const x of node) normaliseDraft04(x);
    return node;
  }
  if (!isObj(node)) return node;
  delete node['$schema'];
  if ('$ref' in node) {
    for (const k of Object.keys(node)) if (k !== '$ref') delete node[k];
    return node;
  }
  for (const [bound, ex] of [
    ['minimum', 'exclusiveMinimum'],
    ['maximum', 'exclusiveMaximum'],
  ] as const) {
    if (typeof node[ex] === 'boolean') {
      if (node[ex] === true && typeof node[bound] === 'number') {
        node[ex] = node[bound];
        delete node[bound];
      } else delete node[ex];
    }
  }
  for (const v of Object.values(node)) normaliseDraft04(v);
  return node;
}

/** The object osbuild's ModuleInfo.get_schema(version="2") builds for a module of `klass`. */
function moduleSchema(klass: Klass, name: string, meta: Obj): Obj {
  const s2 = isObj(meta['schema_2']) && Object.keys(meta['schema_2']).length > 0 ? meta['schema_2'] : undefined;
  const s1 = isObj(meta['schema']) && Object.keys(meta['schema']).length > 0 ? meta['schema'] : undefined;
  const schema: Obj = { title: `Pipeline ${klass}`, type: 'object', additionalProperties: false };
  if (klass === 'Stage') {
    const opts: Obj = s2 ? clone(s2) : { options: clone(s1 ?? {}) };
    const props: Obj = { type: { enum: [name] }, ...opts };
    if (!('mounts' in props)) props['mounts'] = { type: 'array' };
    if (!('devices' in props)) props['devices'] = { type: 'object', additionalProperties: true };
    schema['properties'] = props;
    schema['required'] = ['type'];
  } else if (klass === 'Device') {
    schema['additionalProperties'] = true;
    const opts = s2 ?? s1;
    if (!opts) throw new Error(`no schema in the meta file`);
    schema['properties'] = { type: { enum: [name] }, options: clone(opts) };
  } else if (klass === 'Mount') {
    if (!s2) throw new Error(`no schema_2 in the meta file`);
    Object.assign(schema, clone(s2));
    if (!isObj(schema['properties'])) schema['properties'] = {};
    (schema['properties'] as Obj)['type'] = { enum: [name] };
  } else {
    const opts = s2 ?? s1;
    if (!opts) throw new Error(`no schema in the meta file`);
    Object.assign(schema, clone(opts));
  }
  // `definitions` are written as if the options schema were the root: hoist them so that
  // "#/definitions/..." references resolve.
  const props = isObj(schema['properties']) ? schema['properties'] : {};
  if ('definitions' in props) {
    schema['definitions'] = props['definitions'];
    delete props['definitions'];
  }
  const options = props['options'];
  if (isObj(options) && 'definitions' in options) {
    schema['definitions'] = options['definitions'];
    delete options['definitions'];
  }
  return schema;
}

/** Compiled validators for one schema directory; each schema is compiled at most once. */
class SchemaSet {
  private readonly ajv = new Ajv({
    strict: false,
    allErrors: true,
    validateFormats: false,
    validateSchema: false,
    unicodeRegExp: false,
  });
  private readonly cache = new Map<string, ValidateFunction | string>();
  private manifestFn?: ValidateFunction;

  constructor(readonly dir: string) {
    if (!fs.existsSync(path.join(dir, 'osbuild2.json'))) {
      throw new Error(`osbuild schema directory ${dir} has no osbuild2.json (set KILN_OSBUILD_SCHEMAS)`);
    }
  }

  manifest(): ValidateFunction {
    if (!this.manifestFn) {
      const file = path.join(this.dir, 'osbuild2.json');
      const raw = normaliseDraft04(JSON.parse(fs.readFileSync(file, 'utf8')) as Json) as Obj;
      this.manifestFn = this.ajv.compile(raw);
    }
    return this.manifestFn;
  }

  /** The validator for a module type, or a string saying why there is none. */
  module(klass: Klass, name: string): ValidateFunction | string {
    const key = `${klass}/${name}`;
    let hit = this.cache.get(key);
    if (hit !== undefined) return hit;
    // Type names come from the manifest: never let them walk out of the schema directory.
    const file = path.join(this.dir, KLASS_DIR[klass], `${name}.meta.json`);
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name) || !fs.existsSync(file)) {
      hit = `unknown ${klass.toLowerCase()} type "${name}" (no ${KLASS_DIR[klass]}/${name}.meta.json in ${this.dir})`;
    } else {
      try {
        const meta = JSON.parse(fs.readFileSync(file, 'utf8')) as Json;
        if (!isObj(meta)) throw new Error('not a JSON object');
        hit = this.ajv.compile(normaliseDraft04(moduleSchema(klass, name, meta)) as Obj);
      } catch (e) {
        hit = `cannot load schema for ${klass.toLowerCase()} type "${name}" from ${file}: ${(e as Error).message}`;
      }
    }
    this.cache.set(key, hit);
    return hit;
  }
}

const sets = new Map<string, SchemaSet>();
function schemaSet(dir: string): SchemaSet {
  const abs = path.resolve(dir);
  let s = sets.get(abs);
  if (!s) {
    s = new SchemaSet(abs);
    sets.set(abs, s);
  }
  return s;
}

/** JSON pointer segments -> `a.b[3].c` (keys with dots or odd characters are quoted). */
function fmtPath(segs: (string | number)[]): string {
  let out = '';
  for (const s of segs) {
    if (typeof s === 'number' || /^\d+$/.test(s)) out += `[${s}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(s)) out += out ? `.${s}` : s;
    else out += `[${JSON.stringify(s)}]`;
  }
  return out;
}

function pointerSegs(ptr: string): string[] {
  if (!ptr) return [];
  return ptr
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function describeError(e: ErrorObject): string {
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties':
      return `unknown property "${String(p['additionalProperty'])}"`;
    case 'enum':
      return `must be one of ${JSON.stringify(p['allowedValues'])}`;
    case 'required':
      return `missing required property "${String(p['missingProperty'])}"`;
    default:
      return e.message ?? e.keyword;
  }
}

/**
 * Turn a location inside the manifest (JSON pointer segments from the document root) into
 * words: `pipeline "os" stage 3 (org.osbuild.hostname): options.hostname`.
 */
function locate(manifest: unknown, segs: (string | number)[]): string {
  const parts: string[] = [];
  let rest = segs;
  if (rest[0] === 'pipelines' && rest.length >= 2 && isObj(manifest)) {
    const pi = Number(rest[1]);
    const pl = Array.isArray(manifest['pipelines']) ? manifest['pipelines'][pi] : undefined;
    const pname = isObj(pl) && typeof pl['name'] === 'string' ? `"${pl['name']}"` : `#${pi}`;
    parts.push(`pipeline ${pname} (pipelines[${pi}])`);
    rest = rest.slice(2);
    if (rest[0] === 'stages' && rest.length >= 2 && isObj(pl)) {
      const si = Number(rest[1]);
      const st = Array.isArray(pl['stages']) ? pl['stages'][si] : undefined;
      const stype = isObj(st) && typeof st['type'] === 'string' ? ` ${st['type']}` : '';
      parts.push(`stage ${si}${stype}`);
      rest = rest.slice(2);
    }
  } else if (rest[0] === 'sources' && rest.length >= 2) {
    parts.push(`source ${rest[1]}`);
    rest = rest.slice(2);
  }
  const where = parts.length ? parts.join(' ') : 'manifest';
  return rest.length ? `${where}: ${fmtPath(rest)}` : where;
}

/**
 * Validate a manifest like osbuild does. Returns human-readable errors (empty = valid); each
 * names the pipeline, stage index and type, and the path inside the stage where that applies.
 * `schemaDir` defaults to `defaultSchemaDir()`. Throws only when the schema directory itself is
 * unusable.
 */
export function validateManifest(manifest: unknown, schemaDir?: string): string[] {
  const set = schemaSet(schemaDir ?? defaultSchemaDir());
  const errors: string[] = [];
  const seen = new Set<string>();
  const add = (msg: string) => {
    if (!seen.has(msg)) {
      seen.add(msg);
      errors.push(msg);
    }
  };
  const run = (fn: ValidateFunction, value: unknown, base: (string | number)[]) => {
    if (fn(value)) return;
    for (const e of fn.errors ?? []) {
      add(`${locate(manifest, [...base, ...pointerSegs(e.instancePath)])}: ${describeError(e)}`);
    }
  };
  const runModule = (klass: Klass, value: unknown, base: (string | number)[]) => {
    // osbuild2.json does not say that a device/input/mount is an object (osbuild then crashes
    // on one that is not), so say it here.
    if (!isObj(value)) return add(`${locate(manifest, base)}: must be an object`);
    // no type: osbuild skips the module schema too, and the document schema reports it
    if (typeof value['type'] !== 'string') return;
    const fn = set.module(klass, value['type']);
    if (typeof fn === 'string') add(`${locate(manifest, base)}: ${fn}`);
    else run(fn, value, base);
  };

  run(set.manifest(), manifest, []);
  if (!isObj(manifest)) return errors;

  const sources = manifest['sources'];
  if (isObj(sources)) {
    for (const [name, src] of Object.entries(sources)) {
      const fn = set.module('Source', name);
      if (typeof fn === 'string') add(`${locate(manifest, ['sources', name])}: ${fn}`);
      else run(fn, src, ['sources', name]);
    }
  }

  const pipelines = manifest['pipelines'];
  if (!Array.isArray(pipelines)) return errors;
  pipelines.forEach((pl, pi) => {
    if (!isObj(pl) || !Array.isArray(pl['stages'])) return;
    pl['stages'].forEach((st, si) => {
      const base = ['pipelines', pi, 'stages', si];
      if (!isObj(st)) return;
      runModule('Stage', st, base);
      for (const [klass, key] of [
        ['Device', 'devices'],
        ['Input', 'inputs'],
      ] as const) {
        const group = st[key];
        if (isObj(group)) for (const [n, mod] of Object.entries(group)) runModule(klass, mod, [...base, key, n]);
      }
      const mounts = st['mounts'];
      if (Array.isArray(mounts)) mounts.forEach((m, mi) => runModule('Mount', m, [...base, 'mounts', mi]));
    });
  });
  return errors;
}
