// Bounded backtracking for the greedy depsolver (solver.ts), used only after a transaction's
// greedy solve has failed. The greedy algorithm is replayed with a decision vector: choice point
// n (a job or requirement with several installable candidates, numbered in the order the replay
// meets them) takes alternative decisions[n] instead of the preferred one. Replays are
// deterministic, so a decision prefix always meets the same first choice points again.
//
// On a failed replay the solver explains the failure as the set of choice points that led to it
// (see TxSolver: every installed package carries the choice points its presence depends on; a
// failure depends on those of the requirer and of the packages that blocked the providers).
// The search is conflict-directed backjumping over those sets: it revises the latest choice point
// of the explanation, and when that one has no alternatives left it continues with the union of
// the explanations gathered for it. The explanation is an approximation of the greedy's real
// dependencies (the greedy's processing order can also matter), so the search is not complete:
// it may give up where libsolv finds a solution, but every result it returns comes from a full
// greedy replay and is checked like any greedy result. Failures the solver cannot explain count
// as depending on every choice point made so far (plain chronological backtracking).

import { DepsolveError } from './types.js';

/** Choice points a package's presence (or a failure) depends on. Never mutated once shared. */
export type Why = ReadonlySet<number>;
export const NO_WHY: Why = new Set<number>();

export function unionWhy(a: Why, b: Why): Why {
  if (b.size === 0 || a === b) return a;
  if (a.size === 0) return b;
  let out: Set<number> | undefined;
  for (const x of b) if (!a.has(x)) (out ??= new Set(a)).add(x);
  return out ?? a;
}

/** Limits of the fallback search; exhausting either one rethrows the greedy error. */
export interface BacktrackLimits {
  /** replays of the transaction (default 3000) */
  maxAttempts?: number;
  /** wall-clock budget in milliseconds (default 5000) */
  maxMillis?: number;
}

/** The state of one replay: its decision vector and what it learns about its choice points. */
export class Attempt {
  /** number of alternatives of each choice point met so far */
  readonly nalts: number[] = [];
  /** per installed package (of this transaction): the choice points it depends on */
  readonly pkgWhy = new Map<number, Why>();
  /** explanations registered for thrown errors */
  private readonly explained = new WeakMap<object, Why>();
  /** extra reasons in force while a rich dependency's chosen alternative is being satisfied */
  ctx: Why = NO_WHY;

  constructor(readonly decisions: readonly number[]) {}

  whyOf(pkg: number): Why {
    return this.pkgWhy.get(pkg) ?? NO_WHY;
  }

  /** Meet a choice point with n (> 1) alternatives: its index and the alternative to take. */
  point(n: number): { k: number; alt: number } {
    const k = this.nalts.length;
    this.nalts.push(n);
    const alt = this.decisions[k] ?? 0;
    return { k, alt: alt < n ? alt : 0 };
  }

  /** Remember why an error happened (errors without one depend on every choice point). */
  explain<E extends object>(e: E, why: Why): E {
    this.explained.set(e, why);
    return e;
  }

  explanation(e: unknown): Set<number> {
    const w = typeof e === 'object' && e !== null ? this.explained.get(e) : undefined;
    if (w) return new Set(w);
    return new Set(this.nalts.keys());
  }
}

/** Result of a search: the solver state of the first successful replay, and what it took. */
export interface SearchResult<T> {
  value: T;
  attempts: number;
}

/**
 * Replay `run` under changing decision vectors until one succeeds; throws `original` when the
 * explanations rule out every alternative or a limit is reached. Only DepsolveErrors count as a
 * failed replay; anything else propagates.
 */
export function searchDecisions<T>(run: (a: Attempt) => T, original: Error, limits: BacktrackLimits = {}): SearchResult<T> {
  const maxAttempts = limits.maxAttempts ?? 3000;
  const maxMillis = limits.maxMillis ?? 5000;
  const t0 = Date.now();
  let decisions: number[] = [];
  // per choice point on the current path: the union of the explanations of its failed alternatives
  const gathered: Set<number>[] = [];
  for (let n = 0; n < maxAttempts && Date.now() - t0 <= maxMillis; n++) {
    const a = new Attempt(decisions);
    try {
      return { value: run(a), attempts: n + 1 };
    } catch (e) {
      if (!(e instanceof DepsolveError)) throw e;
      let conflict = a.explanation(e);
      for (;;) {
        if (conflict.size === 0) throw original;
        let k = -1;
        for (const x of conflict) if (x > k) k = x;
        conflict.delete(k);
        const acc = (gathered[k] ??= new Set());
        for (const x of conflict) acc.add(x);
        const cur = decisions[k] ?? 0;
        if (cur + 1 < a.nalts[k]!) {
          const next = decisions.slice(0, k);
          while (next.length < k) next.push(0);
          next.push(cur + 1);
          decisions = next;
          gathered.length = k + 1;
          break;
        }
        // every alternative of k failed: what they failed on, minus k, must change instead
        conflict = acc;
        gathered.length = k;
      }
    }
  }
  throw original;
}
