// The depsolver (synchronous). It reproduces what dnf gets from libsolv for fresh installs,
// including libsolv's choices, which the differential tests check against python3-solv:
//  - job specs: those with a single candidate are decided first, then the others in order;
//  - then every hard requirement of installed packages, in install order; an unsatisfied one is
//    satisfied by choosing among its non-conflicting providers with libsolv's policy
//    (choose(): best arch class, best version per name, not obsoleted by another candidate,
//    recommended by installed packages, then name order);
//  - rich deps: and/or/with/without/if/unless with libsolv's readings (`A unless B` is
//    "A and not B"; an `or` picks the alternative whose worst term sorts first);
//  - multilib lock-step: an i686 package whose name exists for x86_64 brings its x86_64 twin;
//  - weak deps (installWeakDeps) in passes like libsolv's resolve_weak, see weak().
// It is greedy, not a SAT solver: candidates that conflict with what is already chosen are
// filtered out before choosing, which covers the usual cases. When a transaction's greedy solve
// fails anyway, backtrack.ts replays it with other choices (bounded; see there), so a later
// requirement can revise an earlier choice as libsolv would. Results that the greedy finds are
// never touched by that fallback.

import type { CompsGroup, Dep, Package } from '../rpm/types.js';
import { DepsolveError, type DepsolveResult, type Transaction } from './types.js';
import { comparePkgEvr, formatDep, pkgEvrMatches, rangesOverlap } from '../rpm/evr.js';
import { formatNevra } from '../rpm/nevra.js';
import { archPolicy, type ArchPolicy } from '../rpm/arch.js';
import type { RichDep } from '../rpm/richdep.js';
import { RichDepError, richLeaves } from '../rpm/richdep.js';
import { Pool, poolFor } from './pool.js';
import { Attempt, NO_WHY, searchDecisions, unionWhy, type BacktrackLimits, type Why } from './backtrack.js';

export interface DepsolveOptions {
  /** host/target arch, e.g. x86_64 */
  arch: string;
  /** comps groups for `@group` specs */
  groups?: CompsGroup[];
  /**
   * Limits of the backtracking fallback that runs when a transaction's greedy solve fails;
   * false turns it off (the greedy error is thrown at once).
   */
  backtrack?: false | BacktrackLimits;
  /** Called after a transaction needed the fallback (diagnostics and tests). */
  onBacktrack?: (info: { transaction: number; attempts: number }) => void;
}

/** glob (`*`, `?`, `[...]`) to RegExp */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 1);
      if (end < 0) re += '\\[';
      else {
        let body = glob.slice(i + 1, end);
        if (body.startsWith('!')) body = '^' + body.slice(1);
        re += `[${body.replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

const isGlob = (s: string) => /[*?[]/.test(s);

/** One transaction's solving state on top of the packages installed by earlier transactions. */
class TxSolver {
  readonly installed = new Set<number>();
  readonly order: number[] = [];
  /** name -> installed ids */
  private readonly instByName = new Map<string, number[]>();
  /** recommended-by-installed package ids (libsolv's recommendsmap), updated lazily */
  private readonly recommended = new Set<number>();
  private recIndex = 0;
  /** conditional rich requirements to re-check when the set grows */
  private readonly conditional: { pkg: number; expr: RichDep }[] = [];

  constructor(
    private readonly pool: Pool,
    private readonly arch: ArchPolicy,
    readonly allowed: (i: number) => boolean,
  ) {}

  nevra(i: number): string {
    return formatNevra(this.pool.pkgs[i]!);
  }

  /** All allowed packages providing a simple dep (files count as provides). */
  providers(dep: Dep, includeDisallowed = false): number[] {
    const out: number[] = [];
    // a package may provide a name several times (different versions); keep it once
    let seen: Set<number> | undefined;
    const add = (i: number) => {
      if (out.length < 8) {
        if (!out.includes(i)) out.push(i);
        return;
      }
      seen ??= new Set(out);
      if (!seen.has(i)) (seen.add(i), out.push(i));
    };
    const ents = this.pool.providesByName.get(dep.name);
    if (ents) {
      for (const e of ents) {
        const i = Pool.entryPkg(e);
        if ((includeDisallowed || this.allowed(i) || this.installed.has(i)) && (!dep.flags || rangesOverlap(dep, this.pool.provideDep(e)))) add(i);
      }
    }
    if (dep.name.charCodeAt(0) === 47 /* / */) {
      for (const i of this.pool.filesOf(dep.name)) if (includeDisallowed || this.allowed(i) || this.installed.has(i)) add(i);
    }
    return out;
  }

  isSatisfied(dep: Dep): boolean {
    const ents = this.pool.providesByName.get(dep.name);
    if (ents) {
      for (const e of ents) {
        if (this.installed.has(Pool.entryPkg(e)) && (!dep.flags || rangesOverlap(dep, this.pool.provideDep(e)))) return true;
      }
    }
    if (dep.name.startsWith('/')) {
      const f = this.pool.filesOf(dep.name);
      if (f) for (const i of f) if (this.installed.has(i)) return true;
    }
    return false;
  }

  /** Does package i provide dep? */
  pkgProvides(i: number, dep: Dep): boolean {
    const p = this.pool.pkgs[i]!;
    if (dep.name === p.name && (!dep.flags || pkgEvrMatches(dep, p))) return true;
    for (const d of p.provides) if (d.name === dep.name && rangesOverlap(dep, d)) return true;
    if (dep.name.startsWith('/') && this.pool.filesOf(dep.name).includes(i)) return true;
    return false;
  }

  private readonly bestClassCache = new Map<string, number | undefined>();
  /** best arch class among the allowed packages of a name (undefined: only noarch) */
  private bestClassOf(name: string): number | undefined {
    if (this.bestClassCache.has(name)) return this.bestClassCache.get(name);
    let best: number | undefined;
    let bestScore = Infinity;
    for (const i of this.pool.byName.get(name) ?? []) {
      if (!this.allowed(i) && !this.installed.has(i)) continue;
      const sc = this.arch.score.get(this.pool.pkgs[i]!.arch);
      if (sc !== undefined && sc !== 1 && sc < bestScore) {
        bestScore = sc;
        best = this.arch.cls.get(this.pool.pkgs[i]!.arch);
      }
    }
    this.bestClassCache.set(name, best);
    return best;
  }

  /**
   * Multilib lock-step (libsolv's infarch rules with Fedora's colors): a package of an inferior
   * arch class (i686 on x86_64) whose name also exists in the best class needs the best-class
   * package of the same EVR next to it; without one it cannot be installed at all.
   * Returns null when no partner is needed, undefined when one is needed but missing.
   */
  lockStepPartner(c: number): number | null | undefined {
    const p = this.pool.pkgs[c]!;
    if (p.arch === 'noarch') return null;
    const best = this.bestClassOf(p.name);
    if (best === undefined || this.arch.cls.get(p.arch) === best) return null;
    for (const i of this.pool.byName.get(p.name)!) {
      const q = this.pool.pkgs[i]!;
      if (q.arch !== 'noarch' && this.arch.cls.get(q.arch) === best && comparePkgEvr(p, q) === 0 && (this.allowed(i) || this.installed.has(i))) return i;
    }
    return undefined;
  }

  /**
   * The installed package named by the last reason conflictOf returned (-1: none, the reason is
   * the candidate's own), for explaining failures to the backtracking fallback.
   */
  blocker = -1;

  /** Why candidate c cannot go next to the installed set, or undefined when it can. */
  conflictOf(c: number): string | undefined {
    const why = this.conflictOf1(c);
    if (why) return why;
    const partner = this.lockStepPartner(c);
    if (partner === undefined) {
      this.blocker = -1;
      return `package ${this.nevra(c)} has an inferior architecture and no matching package of the best one`;
    }
    if (partner !== null && !this.installed.has(partner)) return this.conflictOf1(partner);
    return undefined;
  }

  private conflictOf1(c: number): string | undefined {
    const pkgs = this.pool.pkgs;
    const cp = pkgs[c]!;
    // same name: only one version per name; multilib (different arch classes) may coexist
    for (const i of this.instByName.get(cp.name) ?? []) {
      if (i === c) continue;
      const ip = pkgs[i]!;
      const ca = this.arch.cls.get(cp.arch);
      const ia = this.arch.cls.get(ip.arch);
      if (cp.arch === 'noarch' || ip.arch === 'noarch' || ca === ia) {
        this.blocker = i;
        return `package ${this.nevra(c)} cannot be installed next to ${this.nevra(i)} (same name)`;
      }
    }
    for (const d of cp.conflicts) {
      if (Pool.isRich(d)) continue;
      for (const i of this.providers(d, true)) {
        if (this.installed.has(i) && i !== c) {
          this.blocker = i;
          return `package ${this.nevra(c)} conflicts with ${formatDep(d)} provided by ${this.nevra(i)}`;
        }
      }
    }
    for (const d of cp.obsoletes) {
      // obsoletes match package names (libsolv's default, as in dnf), not other provides
      for (const i of this.instByName.get(d.name) ?? []) {
        if (i !== c && pkgEvrMatches(d, pkgs[i]!)) {
          this.blocker = i;
          return `package ${this.nevra(c)} obsoletes ${formatDep(d)} provided by ${this.nevra(i)}`;
        }
      }
    }
    // Only installed packages whose conflicts/obsoletes name something c provides can object;
    // find those through the name index, then check them in the original order (so the reason
    // reported is the same one a full scan would find first).
    if (this.withConflicts.size === 0) return undefined;
    let hits: Set<number> | undefined;
    const look = (name: string) => {
      const a = this.conflictNames.get(name);
      if (a) for (const i of a) (hits ??= new Set()).add(i);
    };
    look(cp.name);
    for (const d of cp.provides) look(d.name);
    for (const path of this.conflictPaths.keys()) if (this.pool.filesOf(path).includes(c)) look(path);
    if (hits === undefined) return undefined;
    for (const i of this.withConflicts) {
      if (!hits.has(i) || !this.installed.has(i)) continue;
      const ip = pkgs[i]!;
      for (const d of ip.conflicts) {
        if (!Pool.isRich(d) && this.pkgProvides(c, d)) {
          this.blocker = i;
          return `package ${this.nevra(i)} conflicts with ${formatDep(d)} provided by ${this.nevra(c)}`;
        }
      }
      for (const d of ip.obsoletes) {
        if (d.name === cp.name && pkgEvrMatches(d, cp)) {
          this.blocker = i;
          return `package ${this.nevra(i)} obsoletes ${formatDep(d)} provided by ${this.nevra(c)}`;
        }
      }
    }
    return undefined;
  }

  private updateRecommended(): void {
    for (; this.recIndex < this.order.length; this.recIndex++) {
      const p = this.pool.pkgs[this.order[this.recIndex]!]!;
      for (const d of p.recommends) {
        if (Pool.isRich(d)) continue;
        for (const i of this.providers(d)) this.recommended.add(i);
      }
    }
  }

  /**
   * libsolv's choice among candidates (policy_filter_unwanted, CHOOSE mode): keep the best arch
   * class (noarch always stays), the best version of each name, then prefer what installed
   * packages recommend, then order by name and take the first.
   */
  choose(cands: number[]): number {
    const pkgs = this.pool.pkgs;
    let list = this.pruneObsoleted(this.bestPerName(cands));
    if (list.length > 1) {
      this.updateRecommended();
      const rec = list.filter((c) => this.recommended.has(c) || this.supplementsInstalled(c));
      if (rec.length) list = rec;
    }
    list.sort((a, b) => (pkgs[a]!.name < pkgs[b]!.name ? -1 : pkgs[a]!.name > pkgs[b]!.name ? 1 : 0));
    return list[0]!;
  }

  /** A candidate obsoleted (by name) by another candidate is dropped (libsolv's prune_obsoleted). */
  pruneObsoleted(list: number[]): number[] {
    if (list.length < 2) return list;
    const pkgs = this.pool.pkgs;
    const kept = list.filter((c) => !list.some((o) => o !== c && pkgs[o]!.obsoletes.some((d) => d.name === pkgs[c]!.name && pkgEvrMatches(d, pkgs[c]!))));
    return kept.length ? kept : list;
  }

  /** Best arch class (noarch always kept), then the best version of each name. */
  bestPerName(cands: number[]): number[] {
    const pkgs = this.pool.pkgs;
    let best = Infinity;
    for (const c of cands) {
      const s = this.arch.score.get(pkgs[c]!.arch)!;
      if (s !== 1 && s < best) best = s;
    }
    let list = cands;
    if (best !== Infinity) {
      const bestCls = this.arch.cls.get([...this.arch.score].find(([, v]) => v === best)![0]);
      list = list.filter((c) => {
        const a = pkgs[c]!.arch;
        return a === 'noarch' || this.arch.cls.get(a) === bestCls;
      });
    }
    const byName = new Map<string, number>();
    for (const c of list) {
      const p = pkgs[c]!;
      const cur = byName.get(p.name);
      if (cur === undefined) byName.set(p.name, c);
      else {
        const q = pkgs[cur]!;
        const cmp = comparePkgEvr(p, q);
        // same EVR: keep the better arch, then the first loaded (libsolv sorts by id)
        if (cmp > 0 || (cmp === 0 && this.arch.score.get(p.arch)! < this.arch.score.get(q.arch)!)) byName.set(p.name, c);
      }
    }
    return [...byName.values()];
  }

  private supplementsInstalled(c: number): boolean {
    return this.pool.pkgs[c]!.supplements.some((d) => (Pool.isRich(d) ? this.evalRich(this.pool.rich(d.name)) : this.isSatisfied(d)));
  }

  /** installed packages that have conflicts or obsoletes (few), for conflictOf */
  private readonly withConflicts = new Set<number>();
  /** conflict (non-rich) and obsolete names of the packages in withConflicts -> those packages */
  private readonly conflictNames = new Map<string, number[]>();
  /** the file paths among conflictNames' keys, with how many entries name them */
  private readonly conflictPaths = new Map<string, number>();

  private addConflicts(i: number): void {
    const p = this.pool.pkgs[i]!;
    if (!p.conflicts.length && !p.obsoletes.length) return;
    this.withConflicts.add(i);
    const add = (name: string) => {
      const a = this.conflictNames.get(name);
      if (a) a.push(i);
      else this.conflictNames.set(name, [i]);
      if (name.charCodeAt(0) === 47 /* / */) this.conflictPaths.set(name, (this.conflictPaths.get(name) ?? 0) + 1);
    };
    for (const d of p.conflicts) if (!Pool.isRich(d)) add(d.name);
    for (const d of p.obsoletes) add(d.name);
  }

  private removeConflicts(i: number): void {
    if (!this.withConflicts.delete(i)) return;
    const p = this.pool.pkgs[i]!;
    const del = (name: string) => {
      const a = this.conflictNames.get(name)!;
      a.splice(a.lastIndexOf(i), 1);
      if (!a.length) this.conflictNames.delete(name);
      if (name.charCodeAt(0) === 47 /* / */) {
        const n = this.conflictPaths.get(name)! - 1;
        if (n) this.conflictPaths.set(name, n);
        else this.conflictPaths.delete(name);
      }
    };
    for (const d of p.conflicts) if (!Pool.isRich(d)) del(d.name);
    for (const d of p.obsoletes) del(d.name);
  }

  /** `why`: in backtracking mode, the choice points this install depends on */
  install(i: number, why?: Why): void {
    if (this.installed.has(i)) return;
    this.installed.add(i);
    this.order.push(i);
    this.addConflicts(i);
    if (why && this.bt) this.bt.pkgWhy.set(i, why);
    const n = this.pool.pkgs[i]!.name;
    const a = this.instByName.get(n);
    if (a) a.push(i);
    else this.instByName.set(n, [i]);
    const partner = this.lockStepPartner(i);
    if (partner !== null && partner !== undefined) this.install(partner, why);
  }

  /**
   * The replay being run by the backtracking fallback (backtrack.ts); undefined for the plain
   * greedy solve, which then behaves exactly as without the fallback.
   */
  bt: Attempt | undefined;

  /**
   * Install one of the candidates `all` of requirement `what` of `who`: the preferred one among
   * those that can go next to the installed set (when replaying: see pickBt); throws when none can.
   */
  satisfyFrom(all: number[], who: number | string, what: string): void {
    if (this.bt) {
      const { ok, blocked } = this.splitBt(all);
      if (!ok.length) throw this.unsatisfiable(what, who, all, this.reqWhy(who, blocked));
      return this.pickBt(ok, blocked, who);
    }
    const ok = all.filter((c) => this.conflictOf(c) === undefined);
    if (!ok.length) throw this.unsatisfiable(what, who, all);
    this.install(this.choose(ok));
  }

  /** Install one of the candidates `cands` of job `spec` (see depsolve()); throws when none can. */
  installJob(spec: string, cands: number[], where: string): void {
    if (this.bt) {
      const { ok, blocked } = this.splitBt(cands);
      if (!ok.length) throw this.jobError(spec, cands, where, blocked);
      // dnf's jobs are FORCEBEST: libsolv never falls back to a candidate that another one
      // obsoletes, so neither does the fallback (the greedy's own choice stays as it was)
      return this.pickBt(ok, blocked, spec, this.pruneObsoleted(cands));
    }
    const ok = cands.filter((c) => this.conflictOf(c) === undefined);
    if (!ok.length) throw this.jobError(spec, cands, where, NO_WHY);
    this.install(this.choose(ok));
  }

  /**
   * Backtracking mode: install one of `ok` (the installable candidates of a job or of a
   * requirement of `who`; `blocked`: the reasons of the installed packages blocking the others):
   * the alternative the decision vector names, 0 being the preferred one. Several installable
   * candidates make a choice point. `best`: the only candidates allowed as alternatives to the
   * preferred one (jobs: see installJob()).
   */
  private pickBt(ok: number[], blocked: Why, who: number | string, best?: number[]): void {
    const bt = this.bt!;
    const base = this.reqWhy(who, blocked);
    if (ok.length === 1) {
      this.install(ok[0]!, base);
      return;
    }
    const first = this.choose(ok);
    const rest = ok.filter((c) => c !== first && (!best || best.includes(c)));
    if (!rest.length) {
      this.install(first, base);
      return;
    }
    const { k, alt } = bt.point(1 + rest.length);
    this.install(alt === 0 ? first : this.ranked(rest, alt - 1), unionWhy(base, new Set([k])));
  }

  private whyOfWho(who: number | string): Why {
    return typeof who === 'number' && this.bt ? this.bt.whyOf(who) : NO_WHY;
  }

  /**
   * Backtracking mode: what a requirement of `who` depends on, given the reasons `blocked` of the
   * packages blocking some of its candidates.
   */
  private reqWhy(who: number | string, blocked: Why): Why {
    return unionWhy(unionWhy(this.whyOfWho(who), this.bt!.ctx), blocked);
  }

  /**
   * Backtracking mode: the candidates among `all` that can go next to the installed set, and the
   * reasons of the installed packages blocking the others, in one conflictOf call per candidate
   * (the greedy path filters without collecting reasons).
   */
  private splitBt(all: number[]): { ok: number[]; blocked: Why } {
    const bt = this.bt!;
    const ok: number[] = [];
    let blocked = NO_WHY;
    for (const c of all) {
      if (this.conflictOf(c) === undefined) ok.push(c);
      else if (this.blocker >= 0) blocked = unionWhy(blocked, bt.whyOf(this.blocker));
    }
    return { ok, blocked };
  }

  /** The candidate of rank n in policy order (0: choose()'s, 1: choose() among the rest, ...). */
  private ranked(cands: number[], n: number): number {
    const rest = [...cands];
    for (;;) {
      const c = this.choose(rest);
      if (n-- === 0 || rest.length === 1) return c;
      rest.splice(rest.indexOf(c), 1);
    }
  }

  /** install without lock-step partners: packages installed by earlier transactions */
  installPrevious(i: number): void {
    if (this.installed.has(i)) return;
    this.installed.add(i);
    this.order.push(i);
    this.addConflicts(i);
    const n = this.pool.pkgs[i]!.name;
    const a = this.instByName.get(n);
    if (a) a.push(i);
    else this.instByName.set(n, [i]);
  }

  /** Undo installs back to a given length of `order`. */
  rollback(len: number, condLen: number): void {
    while (this.order.length > len) {
      const i = this.order.pop()!;
      this.installed.delete(i);
      this.removeConflicts(i);
      const a = this.instByName.get(this.pool.pkgs[i]!.name)!;
      a.splice(a.lastIndexOf(i), 1);
    }
    this.conditional.length = condLen;
    this.recommended.clear();
    this.recIndex = 0;
  }

  /** Install the best non-conflicting candidate of a requirement. */
  satisfySimple(dep: Dep, who: number | string): void {
    if (this.isSatisfied(dep)) return;
    this.satisfyFrom(this.providers(dep), who, formatDep(dep));
  }

  /**
   * A requirement of `who` none of whose candidates `all` can be installed. When backtracking,
   * the error is explained by `why` ('unknown': by every choice point so far; callers with
   * candidates pass the reasons blocking them, see reqWhy), by default by the reasons of `who`.
   */
  private unsatisfiable(what: string, who: number | string, all: number[], why?: Why | 'unknown'): DepsolveError {
    const by = typeof who === 'number' ? this.nevra(who) : who;
    const e = !all.length
      ? new DepsolveError(`nothing provides ${what} needed by ${by}`)
      : new DepsolveError(`${what} needed by ${by} cannot be installed: ${all.map((c) => this.conflictOf(c)).join('; ')}`);
    if (this.bt && why !== 'unknown') this.bt.explain(e, why ?? this.reqWhy(who, NO_WHY));
    return e;
  }

  /** A job whose candidates all conflict with what is installed; `blocked`: see splitBt. */
  private jobError(spec: string, cands: number[], where: string, blocked: Why): DepsolveError {
    const e = new DepsolveError(`cannot install '${spec}'${where}: ${this.conflictOf(this.choose(cands))}`);
    if (this.bt) this.bt.explain(e, blocked);
    return e;
  }

  evalRich(r: RichDep): boolean {
    switch (r.op) {
      case 'dep':
        return this.isSatisfied(r.dep);
      case 'and':
        return r.args.every((a) => this.evalRich(a));
      case 'or':
        return r.args.some((a) => this.evalRich(a));
      case 'if':
        return this.evalRich(r.cond) ? this.evalRich(r.then) : r.else ? this.evalRich(r.else) : true;
      case 'unless':
        // libsolv: (A unless B) = A and not B; (A unless B else C) = B ? C : A
        return this.evalRich(r.cond) ? (r.else ? this.evalRich(r.else) : false) : this.evalRich(r.then);
      case 'with':
      case 'without': {
        // one installed package must match the whole expression: look among the first term's
        const base = this.richCandidates(r.args[0]);
        if (base) return base.some((i) => this.installed.has(i) && this.richPkgMatches(r, i));
        return this.order.some((i) => this.richPkgMatches(r, i));
      }
    }
  }

  /** for with/without: does one package match the whole expression? */
  private richPkgMatches(r: RichDep, i: number): boolean {
    switch (r.op) {
      case 'dep':
        return this.pkgProvides(i, r.dep);
      case 'with':
        return r.args.every((a) => this.richPkgMatches(a, i));
      case 'without':
        return this.richPkgMatches(r.args[0], i) && !this.richPkgMatches(r.args[1], i);
      case 'and':
        return r.args.every((a) => this.richPkgMatches(a, i));
      case 'or':
        return r.args.some((a) => this.richPkgMatches(a, i));
      default:
        return false;
    }
  }

  /** Candidate packages for an expression that a single package can satisfy, else undefined. */
  private richCandidates(r: RichDep): number[] | undefined {
    if (r.op === 'dep') return this.providers(r.dep);
    if (r.op === 'with' || r.op === 'without') {
      const base = this.richCandidates(r.args[0]);
      if (!base) return undefined;
      return base.filter((i) => this.richPkgMatches(r, i));
    }
    if (r.op === 'or') {
      const out: number[] = [];
      for (const a of r.args) {
        const c = this.richCandidates(a);
        if (!c) return undefined;
        for (const i of c) if (!out.includes(i)) out.push(i);
      }
      return out;
    }
    return undefined;
  }

  /** Make a rich requirement true; `if` with a false condition is remembered for re-checks. */
  satisfyRich(r: RichDep, who: number | string, text: string): void {
    if (r.op === 'if' && !r.else && !this.evalRich(r.cond)) {
      if (typeof who === 'number') this.conditional.push({ pkg: who, expr: r });
      return;
    }
    if (this.evalRich(r)) return;
    switch (r.op) {
      case 'dep':
        return this.satisfySimple(r.dep, who);
      case 'and':
        for (const a of r.args) this.satisfyRich(a, who, text);
        return;
      case 'if': {
        // (A if B else C) = (!B or A) and (B or C): with B absent, choose between B and C
        if (this.evalRich(r.cond)) return this.satisfyRich(r.then, who, text);
        // B may still come later (then A is needed): re-check at the end
        if (typeof who === 'number') this.conditional.push({ pkg: who, expr: r });
        const cands = this.richCandidates({ op: 'or', args: [r.cond, r.else!] });
        if (!cands) return this.satisfyRich(r.else!, who, text);
        this.satisfyFrom(cands, who, text);
        return this.satisfyRich(r, who, text);
      }
      case 'unless':
        // (A unless B [else C]): with B absent A is needed; with B present C, or (no else)
        // nothing can help: libsolv reads (A unless B) as A and not B
        if (this.evalRich(r.cond)) {
          if (r.else) return this.satisfyRich(r.else, who, text);
          throw this.explainRich(
            new DepsolveError(`package ${typeof who === 'number' ? this.nevra(who) : who} requires ${text}, which the installed ${formatRich(r.cond)} rules out`),
            who,
            r.cond,
          );
        }
        return this.satisfyRich(r.then, who, text);
      default: {
        const cands = this.richCandidates(r);
        if (cands) return this.satisfyFrom(cands, who, text);
        // an `or` over and/or terms: libsolv's outcome (checked against libsolv 0.7 for every
        // name order) is that of choosing the alternative (a conjunction of simple deps, DNF)
        // whose worst term -- the latest name among the providers each term would choose -- is
        // the earliest
        const blocks = r.op === 'or' ? toDnf(r) : undefined;
        if (blocks) {
          if (this.bt) return this.satisfyDnfBt(blocks, who, text);
          let best: Dep[] | undefined;
          let bestKey = '';
          for (const blk of blocks) {
            const key = this.dnfKey(blk);
            if (key !== undefined && (!best || key < bestKey)) {
              best = blk;
              bestKey = key;
            }
          }
          if (!best) throw this.unsatisfiable(text, who, []);
          for (const d of best) this.satisfySimple(d, who);
          return;
        }
        // an `or` of other complex terms: satisfy the first one that can be
        if (r.op === 'or') {
          for (const a of r.args) {
            const len = this.order.length;
            const cl = this.conditional.length;
            try {
              this.satisfyRich(a, who, text);
              return;
            } catch (e) {
              if (!(e instanceof DepsolveError)) throw e;
              this.rollback(len, cl);
            }
          }
        }
        throw this.unsatisfiable(text, who, [], 'unknown');
      }
    }
  }

  /**
   * The rank of an alternative (a conjunction of simple deps) of a DNF `or`: the latest name
   * among the providers choose() would pick for its unsatisfied terms, or undefined when a term
   * has no installable provider. `onBlocked` (backtracking only) receives, per term looked at,
   * the reasons of the installed packages blocking its providers.
   */
  private dnfKey(blk: Dep[], onBlocked?: (blocked: Why) => void): string | undefined {
    let key = '';
    for (const d of blk) {
      if (this.isSatisfied(d)) continue;
      let ok: number[];
      if (onBlocked) {
        const split = this.splitBt(this.providers(d));
        onBlocked(split.blocked);
        ok = split.ok;
      } else ok = this.providers(d).filter((c) => this.conflictOf(c) === undefined);
      if (!ok.length) return undefined;
      const n = this.pool.pkgs[this.choose(ok)]!.name;
      if (n > key) key = n;
    }
    return key;
  }

  /**
   * The `or`-of-conjunctions case of satisfyRich when backtracking: the same preferred
   * alternative (earliest worst term), the other feasible ones next in that order, as a choice
   * point; what the chosen alternative installs depends on that choice.
   */
  private satisfyDnfBt(blocks: Dep[][], who: number | string, text: string): void {
    const bt = this.bt!;
    let why = unionWhy(this.whyOfWho(who), bt.ctx);
    const collect = (blocked: Why) => {
      why = unionWhy(why, blocked);
    };
    const feasible: { blk: Dep[]; key: string }[] = [];
    for (const blk of blocks) {
      const key = this.dnfKey(blk, collect);
      if (key !== undefined) feasible.push({ blk, key });
    }
    if (!feasible.length) throw this.unsatisfiable(text, who, [], why);
    // stable: among equal keys the first alternative wins, as in the greedy loop
    feasible.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    let chosen = feasible[0]!.blk;
    if (feasible.length > 1) {
      const { k, alt } = bt.point(feasible.length);
      chosen = feasible[alt]!.blk;
      why = unionWhy(why, new Set([k]));
    }
    const saved = bt.ctx;
    bt.ctx = why;
    try {
      for (const d of chosen) this.satisfySimple(d, who);
    } finally {
      bt.ctx = saved;
    }
  }

  satisfyDep(d: Dep, who: number): void {
    if (Pool.isRich(d)) {
      let r: RichDep;
      try {
        r = this.pool.rich(d.name);
      } catch (e) {
        if (e instanceof RichDepError) {
          const err = new DepsolveError(`${this.nevra(who)}: ${e.message}`);
          throw this.bt ? this.bt.explain(err, this.whyOfWho(who)) : err;
        }
        throw e;
      }
      this.satisfyRichDep(r, who, d.name);
    } else this.satisfySimple(d, who);
  }

  /** Backtracking mode: `why` plus the reasons of the installed packages that `r` names. */
  private richWhy(why: Why, r: RichDep): Why {
    for (const leaf of richLeaves(r)) {
      for (const i of this.providers(leaf)) if (this.installed.has(i)) why = unionWhy(why, this.bt!.whyOf(i));
    }
    return why;
  }

  /** Backtracking mode: explain a failure of `who`'s rich dependency `r` by the installed packages it names. */
  private explainRich(e: DepsolveError, who: number | string, r: RichDep): DepsolveError {
    const bt = this.bt;
    return bt ? bt.explain(e, this.richWhy(unionWhy(this.whyOfWho(who), bt.ctx), r)) : e;
  }

  /**
   * satisfyRich for a rich requirement of package `who`. When backtracking, what it installs also
   * depends on the installed packages the expression mentions (its conditions, `unless`
   * terms...), so their reasons are in force.
   */
  private satisfyRichDep(r: RichDep, who: number, text: string): void {
    const bt = this.bt;
    if (!bt) return this.satisfyRich(r, who, text);
    const saved = bt.ctx;
    bt.ctx = this.richWhy(saved, r);
    try {
      this.satisfyRich(r, who, text);
    } finally {
      bt.ctx = saved;
    }
  }

  /** Process hard requirements of everything installed from `from` on, to a fixpoint. */
  closure(from: number): void {
    for (;;) {
      for (let k = from; k < this.order.length; k++) {
        const i = this.order[k]!;
        for (const d of this.pool.pkgs[i]!.requires) this.satisfyDep(d, i);
      }
      from = this.order.length;
      // conditions may have become true
      const pending = this.conditional.splice(0);
      for (const c of pending) {
        this.satisfyRichDep(c.expr, c.pkg, 'rich dependency');
      }
      if (this.order.length === from) break;
    }
    // rich conflicts, and rich requires that a later install can break (`unless`), are checked
    // on the final set
    for (const i of this.order) {
      if (!this.pool.finalCheck[i]) continue;
      const p = this.pool.pkgs[i]!;
      for (const d of p.conflicts) {
        if (Pool.isRich(d) && this.evalRich(this.pool.rich(d.name))) {
          throw this.explainRich(new DepsolveError(`package ${this.nevra(i)} conflicts with ${d.name}`), i, this.pool.rich(d.name));
        }
      }
      for (const d of p.requires) {
        if (Pool.isRich(d) && d.name.includes(' unless ') && !this.evalRich(this.pool.rich(d.name))) {
          throw this.explainRich(new DepsolveError(`package ${this.nevra(i)} requires ${d.name}, which the installed packages rule out`), i, this.pool.rich(d.name));
        }
      }
    }
  }

  /** Try to add a package (with its requirements); undo and return false when it cannot be. */
  tryInstall(f: () => void): boolean {
    const len = this.order.length;
    const cl = this.conditional.length;
    try {
      f();
      this.closure(len);
      return true;
    } catch (e) {
      if (!(e instanceof DepsolveError)) throw e;
      this.rollback(len, cl);
      return false;
    }
  }

  /** Providers of a recommends entry that could be installed now; undefined when it is satisfied. */
  private recCandidates(d: Dep, failed: Set<number>): number[] | undefined {
    let cands: number[];
    if (Pool.isRich(d)) {
      const r = this.pool.rich(d.name);
      if (this.evalRich(r)) return undefined;
      cands = [];
      for (const leaf of richLeaves(r)) for (const i of this.providers(leaf)) if (!cands.includes(i)) cands.push(i);
    } else {
      if (this.isSatisfied(d)) return undefined;
      cands = this.providers(d);
    }
    return cands.filter((c) => !this.installed.has(c) && !failed.has(c) && this.conflictOf(c) === undefined);
  }

  /**
   * Weak deps the way libsolv's resolve_weak does it, in passes: collect every installable
   * provider of an unsatisfied Recommends plus every package supplementing the installed set;
   * a single one is simply installed; otherwise the whole set is pruned together (best arch
   * class, best version per name), supplementing packages are installed, then each Recommends
   * in install order chooses among its pruned providers. Packages whose requirements cannot be
   * met are skipped.
   */
  weak(): void {
    const failed = new Set<number>();
    const attempt = (c: number): boolean => {
      const ok = this.tryInstall(() => this.install(c));
      if (!ok) failed.add(c);
      return ok;
    };
    for (let pass = 0; pass < 10000; pass++) {
      const before = this.order.length;
      const dq: number[] = [];
      const seen = new Set<number>();
      for (const i of this.order) {
        for (const d of this.pool.pkgs[i]!.recommends) {
          for (const c of this.recCandidates(d, failed) ?? []) if (!seen.has(c)) (seen.add(c), dq.push(c));
        }
      }
      const dqs: number[] = [];
      for (const i of this.pool.supplementing) {
        if (this.installed.has(i) || failed.has(i) || !this.allowed(i)) continue;
        const p = this.pool.pkgs[i]!;
        if (!this.supplementsInstalled(i)) continue;
        // a different arch of the same name is already installed: not this one
        if ((this.instByName.get(p.name) ?? []).some((j) => this.pool.pkgs[j]!.arch !== p.arch)) continue;
        if (this.conflictOf(i) !== undefined) continue;
        dqs.push(i);
        if (!seen.has(i)) (seen.add(i), dq.push(i));
      }
      if (!dq.length) return;
      if (dq.length === 1) {
        attempt(dq[0]!);
        continue;
      }
      const best = new Set(this.pruneObsoleted(this.bestPerName(dq)));
      const decided = this.order.length;
      // Like libsolv, decide the whole pass first and resolve the new packages' own requirements
      // afterwards (so a later Recommends can satisfy an earlier package's requirement). When that
      // fails, redo the pass one package at a time, skipping what cannot be installed.
      const pass1 = (one: (c: number) => void) => {
        for (const i of dqs.filter((x) => best.has(x)).sort((a, b) => cmpName(this.pool.pkgs[a]!, this.pool.pkgs[b]!))) {
          if (!this.installed.has(i) && this.conflictOf(i) === undefined) one(i);
        }
        for (let k = 0; k < decided; k++) {
          const i = this.order[k]!;
          for (const d of this.pool.pkgs[i]!.recommends) {
            const cands = (this.recCandidates(d, failed) ?? []).filter((c) => best.has(c));
            if (cands.length) one(this.choose(cands));
          }
        }
      };
      const whole = this.tryInstall(() => pass1((c) => this.install(c)));
      if (!whole) pass1((c) => void attempt(c));
      if (this.order.length === before && !dq.some((c) => failed.has(c))) return;
    }
  }
}

function cmpName(a: Package, b: Package): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/**
 * Resolve chained transactions over all repos' packages. Each transaction sees the packages of the
 * previous ones as installed and reports only what it added. Synchronous.
 * Throws DepsolveError naming the spec, package and capability when a request cannot be met.
 */
export function depsolve(packages: Package[], transactions: Transaction[], opts: DepsolveOptions): DepsolveResult {
  const pool = poolFor(packages);
  const arch = archPolicy(opts.arch);
  const archOk = pool.archMask(arch.score);
  const groups = new Map((opts.groups ?? []).map((g) => [g.id, g]));

  const prev = new Set<number>();
  const prevOrder: number[] = [];
  const results: Package[][] = [];
  for (const [ti, tx] of transactions.entries()) {
    const repoOk = tx.repoIds ? new Set(tx.repoIds) : undefined;
    const excluded = excludedSet(packages, tx.exclude);
    const allowed = (i: number) => archOk[i] === 1 && (!repoOk || repoOk.has(packages[i]!.repoId)) && !excluded.has(i);
    const where = transactions.length > 1 ? ` (transaction ${ti + 1})` : '';
    let jobs: { spec: string; cands: number[] }[] | undefined;

    // One greedy solve of the transaction; with `bt`, a replay of the backtracking fallback.
    const solveTx = (bt?: Attempt): TxSolver => {
      const s = new TxSolver(pool, arch, allowed);
      s.bt = bt;
      for (const i of prevOrder) s.installPrevious(i);
      if (!jobs) {
        const js: { spec: string; cands: number[] }[] = [];
        for (const spec of tx.include) for (const cands of resolveSpec(s, pool, spec, groups, where)) js.push({ spec, cands });
        jobs = js;
      }
      // Jobs as libsolv runs them: specs with a single candidate are decided first (unit
      // propagation), then the others in order, choosing among candidates that do not conflict.
      for (const unit of [true, false]) {
        for (const j of jobs) {
          if (j.cands.some((c) => s.installed.has(c))) continue;
          if (unit && j.cands.length !== 1) continue;
          s.installJob(j.spec, j.cands, where);
        }
      }
      // from 0: conditional requirements (`A if B`) of earlier transactions' packages may now hold
      s.closure(0);
      // weak deps skip what cannot be installed and never fail: greedy, as always
      s.bt = undefined;
      if (tx.installWeakDeps) s.weak();
      return s;
    };
    let s: TxSolver;
    try {
      s = solveTx();
    } catch (e) {
      if (!(e instanceof DepsolveError) || opts.backtrack === false) throw e;
      // only this transaction's choices change; the error stays the greedy one when none helps
      const found = searchDecisions(solveTx, e, opts.backtrack);
      opts.onBacktrack?.({ transaction: ti, attempts: found.attempts });
      s = found.value;
    }
    const start = prevOrder.length;

    const added = s.order.slice(start).filter((i) => !prev.has(i));
    for (const i of added) {
      prev.add(i);
      prevOrder.push(i);
    }
    results.push(sortPkgs(added.map((i) => packages[i]!)));
  }
  return { transactions: results, packages: sortPkgs(prevOrder.map((i) => packages[i]!)) };
}

/** DNF (alternatives of conjunctions) of an and/or tree of simple deps; undefined otherwise. */
function toDnf(r: RichDep): Dep[][] | undefined {
  if (r.op === 'dep') return [[r.dep]];
  if (r.op === 'or') {
    const out: Dep[][] = [];
    for (const a of r.args) {
      const c = toDnf(a);
      if (!c) return undefined;
      out.push(...c);
    }
    return out;
  }
  if (r.op === 'and') {
    let acc: Dep[][] = [[]];
    for (const a of r.args) {
      const c = toDnf(a);
      if (!c) return undefined;
      const next: Dep[][] = [];
      for (const x of acc) for (const y of c) next.push([...x, ...y]);
      acc = next;
    }
    return acc;
  }
  return undefined;
}

function formatRich(r: RichDep): string {
  switch (r.op) {
    case 'dep':
      return formatDep(r.dep);
    case 'if':
    case 'unless':
      return `(${formatRich(r.then)} ${r.op} ${formatRich(r.cond)}${r.else ? ` else ${formatRich(r.else)}` : ''})`;
    default:
      return `(${r.args.map(formatRich).join(` ${r.op} `)})`;
  }
}

function sortPkgs(ps: Package[]): Package[] {
  return ps.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : formatNevra(a) < formatNevra(b) ? -1 : 1));
}

function excludedSet(packages: Package[], specs: string[]): Set<number> {
  const out = new Set<number>();
  if (!specs.length) return out;
  const res = specs.map((s) => globToRegExp(s));
  for (let i = 0; i < packages.length; i++) {
    const p = packages[i]!;
    if (res.some((r) => r.test(p.name) || r.test(formatNevra(p)))) out.add(i);
  }
  return out;
}

/**
 * Candidate lists (one per job) for an install spec (dnf install_specs semantics, simplified):
 * candidates are pruned to the best version per name and arch class, as libsolv's best rules do.
 */
function resolveSpec(s: TxSolver, pool: Pool, spec: string, groups: Map<string, CompsGroup>, where: string): number[][] {
  return resolveSpecRaw(s, pool, spec, groups, where).map((c) => s.bestPerName(c));
}

function resolveSpecRaw(s: TxSolver, pool: Pool, spec: string, groups: Map<string, CompsGroup>, where: string): number[][] {
  if (spec.startsWith('@')) {
    const g = groups.get(spec.slice(1)) ?? [...groups.values()].find((x) => x.name === spec.slice(1));
    if (!g) throw new DepsolveError(`no group matches spec '${spec}'${where}`);
    const out: number[][] = [];
    // mandatory and default packages; ones missing from the repos are skipped, as dnf does
    for (const gp of g.packages) {
      if (gp.type !== 'mandatory' && gp.type !== 'default') continue;
      const c = (pool.byName.get(gp.name) ?? []).filter((i) => s.allowed(i) || s.installed.has(i));
      if (c.length) out.push(c);
    }
    return out;
  }
  const allowedIn = (ids: number[] | undefined) => (ids ?? []).filter((i) => s.allowed(i) || s.installed.has(i));
  if (isGlob(spec)) {
    const re = globToRegExp(spec);
    const out: number[][] = [];
    for (const [name, ids] of pool.byName) {
      if (!re.test(name)) continue;
      const c = allowedIn(ids);
      if (c.length) out.push(c);
    }
    if (!out.length && spec.startsWith('/')) {
      const c = new Set<number>();
      for (let i = 0; i < pool.pkgs.length; i++) if (pool.pkgFiles(i).some((f) => re.test(f)) && (s.allowed(i) || s.installed.has(i))) c.add(i);
      if (c.size) out.push([...c]);
    }
    if (!out.length) throw new DepsolveError(`no package matches spec '${spec}'${where}`);
    return out;
  }
  // by name (an installed package of that name already satisfies it)
  const byName = allowedIn(pool.byName.get(spec));
  if (byName.length) return [byName];
  // name.arch, name-version[-release][.arch]
  const m = matchNevraSpec(pool, spec).filter((i) => s.allowed(i) || s.installed.has(i));
  if (m.length) return [m];
  // by provide or file path
  const dep: Dep = { name: spec };
  const prov = s.providers(dep);
  if (prov.length) return [prov];
  throw new DepsolveError(`no package matches spec '${spec}'${where}`);
}

function matchNevraSpec(pool: Pool, spec: string): number[] {
  const out: number[] = [];
  // try every split point where a known name ends
  for (let k = spec.indexOf('-'); k >= 0 || spec.includes('.'); k = spec.indexOf('-', k + 1)) {
    const dot = spec.lastIndexOf('.');
    for (const [name, rest] of [
      [spec.slice(0, dot), spec.slice(dot + 1)],
      ...(k >= 0 ? [[spec.slice(0, k), spec.slice(k + 1)]] : []),
    ] as [string, string][]) {
      for (const i of pool.byName.get(name) ?? []) {
        const p = pool.pkgs[i]!;
        const full = formatNevra(p).slice(name.length + 1);
        const vr = `${p.epoch ? `${p.epoch}:` : ''}${p.version}-${p.release}`;
        const sep = spec[name.length];
        if (
          (sep === '.' && rest === p.arch) ||
          (sep === '-' && (rest === full || rest === vr || rest === p.version || rest === `${p.version}.${p.arch}` || rest === `${vr}.${p.arch}`))
        ) {
          if (!out.includes(i)) out.push(i);
        }
      }
    }
    if (k < 0) break;
  }
  return out;
}
