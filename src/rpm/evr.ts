// EVR (epoch:version-release) comparison with rpm's semantics (rpmvercmp in rpmio/rpmvercmp.c,
// rpmdsCompare in lib/rpmds.c). Only ASCII letters and digits form segments; everything else is a
// separator, except '~' (sorts before anything, even the end of the string) and '^' (sorts after
// the end of the string but before any further segment).

import type { Dep, DepFlag } from './types.js';

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}
function isAlpha(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}
const TILDE = 126;
const CARET = 94;

/** Compare two version (or release) strings as rpm does; returns -1, 0 or 1. */
export function rpmvercmp(a: string, b: string): number {
  if (a === b) return 0;
  let i = 0;
  let j = 0;
  const la = a.length;
  const lb = b.length;
  while (i < la || j < lb) {
    // skip separators (anything not alnum, '~' or '^')
    while (i < la) {
      const c = a.charCodeAt(i);
      if (isDigit(c) || isAlpha(c) || c === TILDE || c === CARET) break;
      i++;
    }
    while (j < lb) {
      const c = b.charCodeAt(j);
      if (isDigit(c) || isAlpha(c) || c === TILDE || c === CARET) break;
      j++;
    }
    const ca = i < la ? a.charCodeAt(i) : 0;
    const cb = j < lb ? b.charCodeAt(j) : 0;
    // tilde: the side with the tilde is older, even against end of string
    if (ca === TILDE || cb === TILDE) {
      if (ca !== TILDE) return 1;
      if (cb !== TILDE) return -1;
      i++;
      j++;
      continue;
    }
    // caret: newer than end of string, older than any other segment
    if (ca === CARET || cb === CARET) {
      if (i >= la) return -1;
      if (j >= lb) return 1;
      if (ca !== CARET) return 1;
      if (cb !== CARET) return -1;
      i++;
      j++;
      continue;
    }
    if (!(i < la && j < lb)) break;
    const si = i;
    const sj = j;
    let isnum: boolean;
    if (isDigit(ca)) {
      while (i < la && isDigit(a.charCodeAt(i))) i++;
      while (j < lb && isDigit(b.charCodeAt(j))) j++;
      isnum = true;
    } else {
      while (i < la && isAlpha(a.charCodeAt(i))) i++;
      while (j < lb && isAlpha(b.charCodeAt(j))) j++;
      isnum = false;
    }
    // segments of different type: numeric is newer than alpha
    if (j === sj) return isnum ? 1 : -1;
    let sa = a.slice(si, i);
    let sb = b.slice(sj, j);
    if (isnum) {
      sa = sa.replace(/^0+/, '');
      sb = sb.replace(/^0+/, '');
      if (sa.length !== sb.length) return sa.length > sb.length ? 1 : -1;
    }
    if (sa !== sb) return sa < sb ? -1 : 1;
  }
  if (i >= la && j >= lb) return 0;
  return i < la ? 1 : -1;
}

export interface Evr {
  epoch: number;
  version: string;
  /** undefined or '' when the EVR has no release (dependency versions often don't) */
  release?: string;
}

/** Parse `[epoch:]version[-release]` as rpm does (the release starts after the last '-'). */
export function parseEvr(s: string): Evr {
  let epoch = 0;
  let rest = s;
  const colon = s.indexOf(':');
  if (colon >= 0 && /^\d*$/.test(s.slice(0, colon))) {
    epoch = colon === 0 ? 0 : Number(s.slice(0, colon));
    rest = s.slice(colon + 1);
  }
  const dash = rest.lastIndexOf('-');
  if (dash >= 0) return { epoch, version: rest.slice(0, dash), release: rest.slice(dash + 1) };
  return { epoch, version: rest };
}

export function formatEvr(e: Evr): string {
  return `${e.epoch ? `${e.epoch}:` : ''}${e.version}${e.release ? `-${e.release}` : ''}`;
}

/**
 * Full EVR comparison. The release is compared only when both sides have one: that is how a
 * release-less requirement like `foo >= 1.2` matches `foo = 1.2-3`.
 */
export function compareEvr(a: Evr, b: Evr): number {
  const ea = a.epoch || 0;
  const eb = b.epoch || 0;
  if (ea !== eb) return ea < eb ? -1 : 1;
  const v = rpmvercmp(a.version, b.version);
  if (v !== 0) return v;
  if (a.release && b.release) return rpmvercmp(a.release, b.release);
  return 0;
}

/** Compare two packages' EVRs (both always have releases). */
export function comparePkgEvr(
  a: { epoch: number; version: string; release: string },
  b: { epoch: number; version: string; release: string },
): number {
  if (a.epoch !== b.epoch) return a.epoch < b.epoch ? -1 : 1;
  const v = rpmvercmp(a.version, b.version);
  if (v !== 0) return v;
  return rpmvercmp(a.release, b.release);
}

const LESS = 1;
const GREATER = 2;
const EQUAL = 4;
function senseBits(f: DepFlag): number {
  switch (f) {
    case 'EQ':
      return EQUAL;
    case 'LT':
      return LESS;
    case 'LE':
      return LESS | EQUAL;
    case 'GT':
      return GREATER;
    case 'GE':
      return GREATER | EQUAL;
  }
}

function depEvr(d: Dep): Evr {
  return { epoch: d.epoch ?? 0, version: d.version ?? '', release: d.release };
}

/**
 * Do two versioned ranges of the same name overlap (rpmdsCompare)? A side without flags (an
 * unversioned provide or requirement) overlaps everything.
 */
export function rangesOverlap(a: Dep, b: Dep): boolean {
  if (!a.flags || !b.flags || a.version === undefined || b.version === undefined) return true;
  const fa = senseBits(a.flags);
  const fb = senseBits(b.flags);
  const sense = compareEvr(depEvr(a), depEvr(b));
  if (sense < 0) return (fa & GREATER) !== 0 || (fb & LESS) !== 0;
  if (sense > 0) return (fa & LESS) !== 0 || (fb & GREATER) !== 0;
  return ((fa & EQUAL) !== 0 && (fb & EQUAL) !== 0) || (fa & fb & (LESS | GREATER)) !== 0;
}

/** Does a package's own EVR fall in the requirement's range (obsoletes/conflicts by name)? */
export function pkgEvrMatches(req: Dep, pkg: { epoch: number; version: string; release: string }): boolean {
  return rangesOverlap(req, { name: req.name, flags: 'EQ', epoch: pkg.epoch, version: pkg.version, release: pkg.release });
}

export function formatDep(d: Dep): string {
  if (!d.flags || d.version === undefined) return d.name;
  const op = { EQ: '=', LT: '<', LE: '<=', GT: '>', GE: '>=' }[d.flags];
  return `${d.name} ${op} ${formatEvr(depEvr(d))}`;
}
