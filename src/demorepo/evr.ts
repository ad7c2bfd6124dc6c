// Just enough RPM version comparison to check the catalog's versioned requires before building
// (rpmvercmp segment rules incl. '~'; epoch defaults to 0; a missing release matches any).

export interface ParsedEvr {
  epoch: number;
  version: string;
  release?: string;
}

export function parseEvr(s: string): ParsedEvr {
  let rest = s;
  let epoch = 0;
  const colon = rest.indexOf(':');
  if (colon >= 0) {
    epoch = Number(rest.slice(0, colon)) || 0;
    rest = rest.slice(colon + 1);
  }
  const dash = rest.lastIndexOf('-');
  return dash >= 0 ? { epoch, version: rest.slice(0, dash), release: rest.slice(dash + 1) } : { epoch, version: rest };
}

export function vercmp(a: string, b: string): number {
  if (a === b) return 0;
  const seg = /~|\^|[0-9]+|[A-Za-z]+/g;
  const sa = a.match(seg) ?? [];
  const sb = b.match(seg) ?? [];
  let i = 0;
  for (;; i++) {
    const x = sa[i];
    const y = sb[i];
    if (x === '~' || y === '~') {
      if (x !== '~') return 1;
      if (y !== '~') return -1;
      continue;
    }
    if (x === '^' || y === '^') {
      if (x === undefined) return -1;
      if (y === undefined) return 1;
      if (x !== '^') return 1;
      if (y !== '^') return -1;
      continue;
    }
    if (x === undefined || y === undefined) return x === undefined ? (y === undefined ? 0 : -1) : 1;
    const xn = /^[0-9]/.test(x);
    const yn = /^[0-9]/.test(y);
    if (xn !== yn) return xn ? 1 : -1;
    if (xn) {
      const xs = x.replace(/^0+/, '');
      const ys = y.replace(/^0+/, '');
      if (xs.length !== ys.length) return xs.length > ys.length ? 1 : -1;
      if (xs !== ys) return xs > ys ? 1 : -1;
    } else if (x !== y) {
      return x > y ? 1 : -1;
    }
  }
}

export function evrcmp(a: ParsedEvr, b: ParsedEvr): number {
  if (a.epoch !== b.epoch) return a.epoch > b.epoch ? 1 : -1;
  const v = vercmp(a.version, b.version);
  if (v !== 0) return v;
  if (a.release === undefined || b.release === undefined) return 0;
  return vercmp(a.release, b.release);
}

/** Does a provide `have` (exact EVR) satisfy `op want`? */
export function satisfies(have: ParsedEvr, op: string, want: ParsedEvr): boolean {
  const c = evrcmp(have, want);
  switch (op) {
    case '=': return c === 0;
    case '<': return c < 0;
    case '<=': return c <= 0;
    case '>': return c > 0;
    case '>=': return c >= 0;
    default: return false;
  }
}
