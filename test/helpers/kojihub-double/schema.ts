// The imageBuilderBuild argument check of the koji-image-builder hub plugin, reproduced closely
// enough that the fault text matches the real hub: the plugin runs python-jsonschema (draft-04,
// 4.10.x as on Debian bookworm) and raises ParameterError(str(ValidationError)). That string
// embeds the failing sub-schema and instance printed with Python's pprint (width 72), so we
// carry a small Python repr/pformat here. Only the keywords the schema uses are implemented:
// type, items (list and single), minItems, maxItems, additionalProperties, properties, $ref.

type Py = null | boolean | number | string | Py[] | { [k: string]: Py };

// ---------------------------------------------------------------------------------------------
// Python repr / pprint.pformat (sort_dicts=True, indent=1, compact=False)

export function pyRepr(v: unknown): string {
  if (v === null || v === undefined) return 'None';
  if (v === true) return 'True';
  if (v === false) return 'False';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : pyFloat(v);
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'string') return pyStr(v);
  if (Array.isArray(v)) return `[${v.map(pyRepr).join(', ')}]`;
  if (typeof v === 'object') {
    const keys = Object.keys(v as object).sort();
    return `{${keys.map((k) => `${pyStr(k)}: ${pyRepr((v as Record<string, unknown>)[k])}`).join(', ')}}`;
  }
  return String(v);
}

function pyFloat(n: number): string {
  const s = String(n);
  return /[.e]/.test(s) ? s : `${s}.0`;
}

/** Python's repr() of a str (the hub's fault texts quote values with it). */
export function pyStr(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of s) {
    if (ch === quote || ch === '\\') out += '\\' + ch;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (ch < ' ' || ch === '\x7f') out += '\\x' + ch.charCodeAt(0).toString(16).padStart(2, '0');
    else out += ch;
  }
  return out + quote;
}

/** pprint.pformat(v, width) for JSON-like values. */
export function pformat(v: unknown, width = 80): string {
  const out: string[] = [];
  format(v, 0, 0, 1, width, out);
  return out.join('');
}

function format(v: unknown, indent: number, allowance: number, level: number, width: number, out: string[]): void {
  const rep = pyRepr(v);
  if (rep.length <= width - indent - allowance) return void out.push(rep);
  if (Array.isArray(v)) {
    out.push('[');
    formatItems(v, indent, allowance + 1, level + 1, width, out);
    return void out.push(']');
  }
  if (v !== null && typeof v === 'object') {
    out.push('{');
    const keys = Object.keys(v).sort();
    const ind = indent + 1;
    keys.forEach((k, i) => {
      const last = i === keys.length - 1;
      const krep = pyStr(k);
      out.push(krep, ': ');
      format((v as Record<string, unknown>)[k], ind + krep.length + 2, last ? allowance + 1 : 1, level + 1, width, out);
      if (!last) out.push(',\n' + ' '.repeat(ind));
    });
    return void out.push('}');
  }
  if (typeof v === 'string' && v.length) return formatStr(v, indent, allowance, level + 1, width, out);
  out.push(rep);
}

function formatItems(items: unknown[], indent: number, allowance: number, level: number, width: number, out: string[]): void {
  const ind = indent + 1;
  items.forEach((item, i) => {
    const last = i === items.length - 1;
    if (i > 0) out.push(',\n' + ' '.repeat(ind));
    format(item, ind, last ? allowance : 1, level, width, out);
  });
}

// pprint's _pprint_str: split long strings at word boundaries into adjacent literals.
function formatStr(s: string, indent: number, allowance: number, level: number, width: number, out: string[]): void {
  const lines = s.split(/(?<=\n)/);
  if (level === 1) {
    indent += 1;
    allowance += 1;
  }
  let maxWidth1 = width - indent;
  const maxWidth = width - indent;
  const chunks: string[] = [];
  let rep = '';
  lines.forEach((line, i) => {
    rep = pyStr(line);
    if (i === lines.length - 1) maxWidth1 -= allowance;
    if (rep.length <= maxWidth1) return void chunks.push(rep);
    const parts = line.match(/\S*\s*/g)!.filter((p, j, a) => j < a.length - 1 || p !== '');
    let maxWidth2 = maxWidth;
    let current = '';
    parts.forEach((part, j) => {
      const candidate = current + part;
      if (j === parts.length - 1 && i === lines.length - 1) maxWidth2 -= allowance;
      if (pyStr(candidate).length > maxWidth2) {
        if (current) chunks.push(pyStr(current));
        current = part;
      } else current = candidate;
    });
    if (current) chunks.push(pyStr(current));
  });
  if (chunks.length === 1) return void out.push(rep);
  if (level === 1) out.push('(');
  chunks.forEach((c, i) => {
    if (i > 0) out.push('\n' + ' '.repeat(indent));
    out.push(c);
  });
  if (level === 1) out.push(')');
}

// ---------------------------------------------------------------------------------------------
// the plugin's schema (as loaded on the recorded hub: includes bootc and failable_arches)

const S = (o: Record<string, Py>) => o;
const BOOTC = S({
  title: 'Bootc specific options', // (title not visible in the transcripts; inferred)
  type: 'object',
  additionalProperties: false,
  properties: { ref: { type: 'string' }, 'build-ref': { type: 'string' }, 'installer-payload-ref': { type: 'string' }, 'default-fs': { type: 'string' } },
});
const OSTREE = S({
  title: 'OSTree specific options',
  type: 'object',
  additionalProperties: false,
  properties: { parent: { type: 'string' }, ref: { type: 'string' }, url: { type: 'string' } },
});
const OPTIONS = S({
  title: 'Optional arguments',
  type: 'object',
  additionalProperties: false,
  properties: {
    scratch: { type: 'boolean', description: 'Scratch Build' },
    repos: { type: 'array', description: 'Repositories', items: { type: 'string' } },
    release: { type: 'string', description: 'Release override' },
    distro: { type: 'string', description: 'Distribution override' },
    skip_tag: { type: 'boolean', description: 'Omit tagging the result' },
    ostree: { type: 'object', $ref: '#/definitions/ostree', descriptions: 'Additional ostree options' },
    bootc: { type: 'object', $ref: '#/definitions/bootc', descriptions: 'Additional bootc options' },
    blueprint: { type: 'object', description: 'Blueprint' },
    seed: { type: 'integer', description: 'PRNG seed, can be used to predict filesystem UUIDs' },
    preview: { type: 'boolean', description: 'Override builds prerelease/preview state.' },
    failable_arches: { type: 'array', description: 'Architectures allowed to fail', items: { type: 'string' } },
  },
});
const DEFS: Record<string, Record<string, Py>> = { ostree: OSTREE, bootc: BOOTC, options: OPTIONS };
export const IMAGE_BUILDER_BUILD_SCHEMA = S({
  $schema: 'http://json-schema.org/draft-04/schema#',
  title: 'imageBuilderBuild argument schema',
  type: 'array',
  minItems: 6,
  items: [
    { type: 'string', description: 'Target' },
    { type: 'array', description: 'Architectures', items: { type: 'string' } },
    { type: 'array', description: 'Image Types', minItems: 1, maxItems: 1, items: { type: 'string' } },
    { type: 'string', description: 'Name' },
    { type: 'string', description: 'Version' },
    { type: 'object', $ref: '#/definitions/options' },
  ],
  definitions: DEFS as unknown as Py,
});

interface VError {
  message: string;
  validator: string;
  schemaPath: (string | number)[]; // up to (not including) the validator keyword
  path: (string | number)[];
  schema: Py;
  instance: unknown;
}

function isType(v: unknown, t: string): boolean {
  switch (t) {
    case 'string': return typeof v === 'string';
    case 'boolean': return typeof v === 'boolean';
    case 'integer': return (typeof v === 'number' && Number.isInteger(v)) || typeof v === 'bigint';
    case 'number': return typeof v === 'number' || typeof v === 'bigint';
    case 'array': return Array.isArray(v);
    case 'object': return v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Uint8Array) && !(v instanceof Date);
    case 'null': return v === null || v === undefined;
  }
  return false;
}

// Errors in the order python-jsonschema yields them (schema keyword order).
function* iterErrors(schema: Record<string, Py>, inst: unknown, spath: (string | number)[], ipath: (string | number)[]): Generator<VError> {
  if (typeof schema.$ref === 'string') {
    // draft-04: $ref replaces the rest of the schema; the ref itself adds nothing to the path
    const target = DEFS[schema.$ref.replace('#/definitions/', '')];
    yield* iterErrors(target, inst, spath, ipath);
    return;
  }
  for (const [kw, val] of Object.entries(schema)) {
    const err = (message: string): VError => ({ message, validator: kw, schemaPath: spath, path: ipath, schema, instance: inst });
    if (kw === 'type' && !isType(inst, val as string)) yield err(`${pyRepr(inst)} is not of type ${pyRepr(val)}`);
    if (!Array.isArray(inst) && kw !== 'type' && isType(inst, 'object')) {
      const obj = inst as Record<string, unknown>;
      if (kw === 'additionalProperties' && val === false) {
        const props = (schema.properties ?? {}) as Record<string, Py>;
        const extras = Object.keys(obj).filter((k) => !(k in props));
        if (extras.length) {
          const verb = extras.length === 1 ? 'was' : 'were';
          yield err(`Additional properties are not allowed (${extras.map(pyRepr).join(', ')} ${verb} unexpected)`);
        }
      }
      if (kw === 'properties') {
        for (const [p, sub] of Object.entries(val as Record<string, Py>)) {
          if (p in obj) yield* iterErrors(sub as Record<string, Py>, obj[p], [...spath, 'properties', p], [...ipath, p]);
        }
      }
    }
    if (Array.isArray(inst)) {
      if (kw === 'minItems' && inst.length < (val as number)) yield err(`${pyRepr(inst)} is too short`);
      if (kw === 'maxItems' && inst.length > (val as number)) yield err(`${pyRepr(inst)} is too long`);
      if (kw === 'items') {
        if (Array.isArray(val)) {
          for (let i = 0; i < Math.min(val.length, inst.length); i++) {
            yield* iterErrors(val[i] as Record<string, Py>, inst[i], [...spath, 'items', i], [...ipath, i]);
          }
        } else {
          for (let i = 0; i < inst.length; i++) yield* iterErrors(val as Record<string, Py>, inst[i], [...spath, 'items'], [...ipath, i]);
        }
      }
    }
  }
}

function index(container: string, parts: (string | number)[]): string {
  return container + parts.map((p) => `[${pyRepr(p)}]`).join('');
}

function indentLines(text: string): string {
  return text.split('\n').map((l) => '    ' + l).join('\n');
}

/** The ParameterError text the plugin raises for `args`, or null when they are valid. */
export function imageBuilderBuildArgsError(args: unknown[]): string | null {
  // jsonschema.validate() reports best_match(): the shallowest error, first one on ties.
  let best: VError | undefined;
  for (const e of iterErrors(IMAGE_BUILDER_BUILD_SCHEMA, args, [], [])) {
    if (!best || e.path.length < best.path.length) best = e;
  }
  if (!best) return null;
  return (
    `${best.message}\n\nFailed validating ${pyRepr(best.validator)} in ${index('schema', best.schemaPath)}:\n` +
    `${indentLines(pformat(best.schema, 72))}\n\nOn ${index('instance', best.path)}:\n${indentLines(pformat(best.instance, 72))}`
  );
}
