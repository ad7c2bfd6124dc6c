// Size strings in definitions ("2 GiB", "200 MiB", "512 B", or a plain integer of bytes).
const UNITS: Record<string, number> = {
  B: 1,
  kB: 1000, KB: 1000, MB: 1000 ** 2, GB: 1000 ** 3, TB: 1000 ** 4,
  KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, TiB: 1024 ** 4,
};

/** Bytes for a size value, or an error text saying why it is not one. */
export function parseSize(v: unknown): number | { error: string } {
  if (typeof v === 'number') {
    if (Number.isSafeInteger(v) && v >= 0) return v;
    return { error: `bad size ${v}: must be a non-negative integer of bytes` };
  }
  if (typeof v !== 'string') return { error: `bad size: expected a string like "2 GiB" or an integer, got ${describeType(v)}` };
  const m = /^\s*(\d+)\s*([A-Za-z]*)\s*$/.exec(v);
  if (!m) return { error: `bad size string "${v}": expected "<integer> <unit>", e.g. "2 GiB"` };
  const unit = m[2] === '' ? 'B' : m[2];
  const mult = UNITS[unit];
  if (mult === undefined) return { error: `bad size string "${v}": unknown unit "${unit}" (use one of ${Object.keys(UNITS).join(', ')})` };
  const n = Number(m[1]) * mult;
  if (!Number.isSafeInteger(n)) return { error: `bad size string "${v}": too large` };
  return n;
}

export function describeType(v: unknown): string {
  if (v === null || v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${JSON.stringify(v)}`;
}
