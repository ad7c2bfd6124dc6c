// Data sizes as blueprints write them: an integer number of bytes, or a string "<int> <unit>"
// with SI (kB, MB, GB, TB) or IEC (KiB, MiB, GiB, TiB) units, e.g. "20 GiB" or "512MB".

const UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3,
  kib: 1024,
  mb: 1e6,
  mib: 1024 ** 2,
  gb: 1e9,
  gib: 1024 ** 3,
  tb: 1e12,
  tib: 1024 ** 4,
};

/** Bytes for `value`, or a sentence saying why it is not a size. */
export function parseSize(value: unknown): number | string {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) return `expected a non-negative integer number of bytes, got ${value}`;
    return value;
  }
  if (typeof value !== 'string') return `expected an integer or a size string like "2 GiB", got ${typeName(value)}`;
  const m = /^\s*(\d+)\s*([A-Za-z]*)\s*$/.exec(value);
  if (!m) return `invalid size "${value}": expected "<integer> <unit>", e.g. "2 GiB"`;
  const unit = (m[2] ?? '').toLowerCase() || 'b';
  const mult = UNITS[unit];
  if (mult === undefined) return `invalid size "${value}": unknown unit "${m[2]}" (use B, kB, KiB, MB, MiB, GB, GiB, TB or TiB)`;
  const n = Number(m[1]) * mult;
  if (!Number.isSafeInteger(n)) return `invalid size "${value}": too large`;
  return n;
}

/** The blueprint-facing name of a parsed TOML/JSON value's type. */
export function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'float';
  if (typeof v === 'bigint') return 'integer';
  if (typeof v === 'object') {
    // smol-toml returns TomlDate (a Date subclass) for TOML date/time values
    if (v instanceof Date) return 'date';
    return 'table';
  }
  return typeof v;
}
