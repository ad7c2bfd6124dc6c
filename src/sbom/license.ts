// RPM License tags -> SPDX license expressions (SPDX 2.3 Annex D). Fedora writes SPDX expressions
// in the License tag since 2022; older packages carry Callaway names ("GPLv2+ and MIT") that are not
// SPDX. A tag that parses as an expression over known identifiers is re-printed in canonical form
// (identifier case from the License List, upper-case operators); anything else is kept verbatim
// as an extracted license behind a LicenseRef, so the document never holds an invalid expression.

import { createHash } from 'node:crypto';
import { SPDX_EXCEPTION_IDS, SPDX_LICENSE_IDS } from './license-ids.js';

// identifiers are matched case-insensitively (Annex D.2) and printed as the list spells them
const LICENSES = new Map(SPDX_LICENSE_IDS.map((id) => [id.toLowerCase(), id]));
const EXCEPTIONS = new Map(SPDX_EXCEPTION_IDS.map((id) => [id.toLowerCase(), id]));

/** idstring of SPDX 2.3: letters, digits, '-' and '.' */
const IDSTRING = /^[A-Za-z0-9.-]+$/;

type Expr =
  | { kind: 'license'; id: string; plus: boolean }
  | { kind: 'ref'; id: string }
  | { kind: 'with'; license: Expr; exception: string }
  | { kind: 'and' | 'or'; args: Expr[] };

class ParseFail extends Error {}

function tokenize(s: string): string[] {
  const tokens: string[] = [];
  const re = /\s*(\(|\)|[^\s()]+)/gy;
  let m: RegExpExecArray | null;
  // every non-space character belongs to some token, so only trailing blanks are left unmatched
  while ((m = re.exec(s)) !== null) tokens.push(m[1]!);
  return tokens;
}

// Operators: SPDX 2.3 spells them upper-case; lower-case ones are common in RPM tags and are
// accepted by SPDX 3 and the usual tools, so accept both (but not mixed case like "And").
function operator(tok: string | undefined): 'and' | 'or' | 'with' | undefined {
  if (tok === 'AND' || tok === 'and') return 'and';
  if (tok === 'OR' || tok === 'or') return 'or';
  if (tok === 'WITH' || tok === 'with') return 'with';
  return undefined;
}

function parse(input: string): Expr {
  const toks = tokenize(input);
  let i = 0;
  const simple = (): Expr => {
    const t = toks[i++];
    if (t === undefined || t === ')' || operator(t)) throw new ParseFail();
    if (t === '(') {
      const e = orExpr();
      if (toks[i++] !== ')') throw new ParseFail();
      return e;
    }
    // DocumentRef-x:LicenseRef-y would need externalDocumentRefs we cannot supply: not accepted
    if (t.startsWith('LicenseRef-')) {
      if (!IDSTRING.test(t.slice('LicenseRef-'.length))) throw new ParseFail();
      return { kind: 'ref', id: t };
    }
    const plus = t.endsWith('+');
    const id = LICENSES.get((plus ? t.slice(0, -1) : t).toLowerCase());
    if (!id) throw new ParseFail();
    return { kind: 'license', id, plus };
  };
  const withExpr = (): Expr => {
    const lic = simple();
    if (operator(toks[i]) !== 'with') return lic;
    i++;
    // Annex D also allows "LicenseRef-x WITH exception", but common consumers (npm's
    // spdx-expression-parse, among others) reject it; a whole-tag LicenseRef is safer
    if (lic.kind !== 'license') throw new ParseFail();
    const exc = EXCEPTIONS.get((toks[i++] ?? '').toLowerCase());
    if (!exc) throw new ParseFail();
    return { kind: 'with', license: lic, exception: exc };
  };
  const chain = (op: 'and' | 'or', sub: () => Expr) => (): Expr => {
    const args = [sub()];
    while (operator(toks[i]) === op) {
      i++;
      args.push(sub());
    }
    return args.length === 1 ? args[0]! : { kind: op, args };
  };
  const andExpr = chain('and', withExpr);
  const orExpr: () => Expr = chain('or', andExpr);
  if (toks.length === 0) throw new ParseFail();
  const e = orExpr();
  if (i !== toks.length) throw new ParseFail();
  return e;
}

// Same-operator nesting is flattened ("(A AND B) AND C" -> "A AND B AND C"); a compound of the
// other operator keeps its parentheses even where precedence (WITH > AND > OR) makes them optional,
// so "A OR (B AND C)" stays as readable as Fedora writes it.
function print(e: Expr, refs: Set<string>): string {
  switch (e.kind) {
    case 'license':
      return e.id + (e.plus ? '+' : '');
    case 'ref':
      refs.add(e.id);
      return e.id;
    case 'with':
      return `${print(e.license, refs)} WITH ${e.exception}`;
    case 'and':
    case 'or': {
      const flat: Expr[] = [];
      const walk = (x: Expr) => (x.kind === e.kind ? x.args.forEach(walk) : flat.push(x));
      e.args.forEach(walk);
      return flat
        .map((a) => (a.kind === 'and' || a.kind === 'or' ? `(${print(a, refs)})` : print(a, refs)))
        .join(e.kind === 'and' ? ' AND ' : ' OR ');
    }
  }
}

export interface NormalisedLicense {
  /** a valid SPDX expression, or undefined when the tag is not one (then use a LicenseRef) */
  expression?: string;
  /** LicenseRef-… identifiers the expression uses (they need extracted licensing infos) */
  refs: string[];
}

/** Parse an RPM License tag as an SPDX license expression. */
export function normaliseLicense(tag: string): NormalisedLicense {
  try {
    const refs = new Set<string>();
    const expression = print(parse(tag), refs);
    return { expression, refs: [...refs].sort() };
  } catch (err) {
    if (err instanceof ParseFail) return { refs: [] };
    throw err;
  }
}

/** Is `s` a valid SPDX 2.3 license expression over the License List (and LicenseRefs)? */
export function isValidSpdxExpression(s: string): boolean {
  return normaliseLicense(s).expression !== undefined;
}

/**
 * A LicenseRef id for a tag that is not an SPDX expression: the tag with '+' spelled "plus" and
 * other characters outside [A-Za-z0-9.-] turned into '-' ("GPLv2+ and MIT" -> "LicenseRef-GPLv2plus-and-MIT").
 */
export function licenseRefFor(tag: string): string {
  const body = tag
    .replace(/\+/g, 'plus')
    .replace(/[^A-Za-z0-9.-]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return `LicenseRef-${body || 'empty'}`;
}

/** Disambiguating suffix for two different tags that sanitise to the same LicenseRef. */
export function licenseRefSuffix(tag: string): string {
  return createHash('sha256').update(tag).digest('hex').slice(0, 8);
}
