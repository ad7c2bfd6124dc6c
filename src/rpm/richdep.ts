// Parser for rpm rich (boolean) dependencies: `(a and b)`, `(a or (b >= 2 if c else d))`, ...
// Grammar as rpm accepts it: a parenthesised expression of one operator; and/or/with chain
// (`a and b and c`), if/unless take an optional else branch, without is binary; different
// operators need their own parentheses. Names may contain balanced parentheses (`perl(Foo)`).

import type { Dep, DepFlag } from './types.js';
import { parseEvr } from './evr.js';

export type RichOp = 'and' | 'or' | 'with' | 'without' | 'if' | 'unless';

export type RichDep =
  | { op: 'dep'; dep: Dep }
  | { op: 'and' | 'or' | 'with'; args: RichDep[] }
  | { op: 'without'; args: [RichDep, RichDep] }
  | { op: 'if' | 'unless'; then: RichDep; cond: RichDep; else?: RichDep };

export class RichDepError extends Error {
  override name = 'RichDepError';
}

const OPS: Record<string, DepFlag> = { '=': 'EQ', '==': 'EQ', '<': 'LT', '<=': 'LE', '>': 'GT', '>=': 'GE' };
const KEYWORDS = new Set(['and', 'or', 'with', 'without', 'if', 'unless', 'else']);

export function isRichDep(s: string): boolean {
  return s.startsWith('(');
}

/** Parse a rich dependency; throws RichDepError naming the input and the position on bad syntax. */
export function parseRichDep(input: string): RichDep {
  let pos = 0;
  const fail = (msg: string): never => {
    throw new RichDepError(`invalid rich dependency '${input}': ${msg} at offset ${pos}`);
  };
  const ws = () => {
    while (pos < input.length && /\s/.test(input[pos]!)) pos++;
  };
  // a word: up to whitespace or an unbalanced ')'
  const word = (): string => {
    ws();
    const start = pos;
    let depth = 0;
    while (pos < input.length) {
      const c = input[pos]!;
      if (/\s/.test(c)) break;
      if (c === '(') depth++;
      else if (c === ')') {
        if (depth === 0) break;
        depth--;
      }
      pos++;
    }
    if (depth !== 0) fail('unbalanced parenthesis in name');
    return input.slice(start, pos);
  };
  const peekWord = (): string => {
    const save = pos;
    const w = word();
    pos = save;
    return w;
  };
  const operand = (): RichDep => {
    ws();
    if (pos >= input.length) fail('missing operand');
    if (input[pos] === '(') return group();
    if (input[pos] === ')') fail('missing operand');
    const name = word();
    if (KEYWORDS.has(name)) fail(`operator '${name}' where a dependency was expected`);
    const save = pos;
    const opw = word();
    const flag = OPS[opw];
    if (!flag) {
      pos = save;
      return { op: 'dep', dep: { name } };
    }
    const evrs = word();
    if (!evrs || KEYWORDS.has(evrs)) fail(`missing version after '${opw}'`);
    const evr = parseEvr(evrs);
    const dep: Dep = { name, flags: flag, epoch: evr.epoch, version: evr.version };
    if (evr.release !== undefined) dep.release = evr.release;
    return { op: 'dep', dep };
  };
  const group = (): RichDep => {
    ws();
    if (input[pos] !== '(') fail("expected '('");
    pos++;
    const first = operand();
    ws();
    if (input[pos] === ')') {
      pos++;
      // `(foo)` is allowed by rpm and means just foo
      return first;
    }
    const op = word();
    let result: RichDep;
    if (op === 'and' || op === 'or' || op === 'with') {
      const args = [first, operand()];
      for (;;) {
        ws();
        if (input[pos] === ')') break;
        const next = word();
        if (next !== op) fail(next ? `cannot mix '${op}' with '${next}' without parentheses` : "missing ')'");
        args.push(operand());
      }
      result = { op, args };
    } else if (op === 'without') {
      result = { op, args: [first, operand()] };
    } else if (op === 'if' || op === 'unless') {
      const cond = operand();
      ws();
      if (peekWord() === 'else') {
        word();
        result = { op, then: first, cond, else: operand() };
      } else result = { op, then: first, cond };
    } else {
      return fail(op ? `unknown operator '${op}'` : "missing ')'");
    }
    ws();
    if (input[pos] !== ')') {
      const w = peekWord();
      fail(w ? `unexpected '${w}' (use parentheses to combine operators)` : "missing ')'");
    }
    pos++;
    return result;
  };
  const r = group();
  ws();
  if (pos < input.length) fail('trailing text');
  return r;
}

/** All simple deps mentioned in an expression (for indexing and messages). */
export function richLeaves(r: RichDep, out: Dep[] = []): Dep[] {
  switch (r.op) {
    case 'dep':
      out.push(r.dep);
      break;
    case 'if':
    case 'unless':
      richLeaves(r.then, out);
      richLeaves(r.cond, out);
      if (r.else) richLeaves(r.else, out);
      break;
    default:
      for (const a of r.args) richLeaves(a, out);
  }
  return out;
}
