// Which packages of a depsolved set satisfy which dependencies of the others: the edges of the
// SBOM's DEPENDS_ON / OPTIONAL_DEPENDENCY_OF relationships. Resolution is within the set only
// (the set is what gets installed), by capability name with rpm's range overlap, file paths
// through the packages' file lists, and rich dependencies evaluated against the set.

import { rangesOverlap } from '../rpm/evr.js';
import { isRichDep, parseRichDep, RichDepError, type RichDep } from '../rpm/richdep.js';
import type { Dep, Package } from '../rpm/types.js';
import { KilnError } from '../util/errors.js';
import { formatNevra } from '../rpm/nevra.js';

export interface DepEdge {
  /** index of the package that has the dependency */
  from: number;
  /** index of the package that satisfies it */
  to: number;
  kind: 'requires' | 'weak';
}

interface Provider {
  pkg: number;
  dep: Dep;
}

/** Capability and file index over one package set. */
export class ProvidesIndex {
  private readonly byName = new Map<string, Provider[]>();
  private readonly byFile = new Map<string, number[]>();

  constructor(readonly packages: readonly Package[]) {
    packages.forEach((p, i) => {
      // rpm always adds `name = epoch:version-release`; metadata normally lists it, add it anyway
      this.addProvide(i, { name: p.name, flags: 'EQ', epoch: p.epoch, version: p.version, release: p.release });
      for (const d of p.provides) this.addProvide(i, d);
      for (const f of p.files) {
        const owners = this.byFile.get(f);
        if (!owners) this.byFile.set(f, [i]);
        else if (owners[owners.length - 1] !== i) owners.push(i);
      }
    });
  }

  private addProvide(pkg: number, dep: Dep): void {
    const list = this.byName.get(dep.name);
    if (list) list.push({ pkg, dep });
    else this.byName.set(dep.name, [{ pkg, dep }]);
  }

  /** Packages providing a simple (non-rich) dependency. */
  whatProvides(dep: Dep): Set<number> {
    const out = new Set<number>();
    for (const p of this.byName.get(dep.name) ?? []) if (rangesOverlap(p.dep, dep)) out.add(p.pkg);
    // a file dependency is also met by the package owning that path (filelists)
    if (dep.name.startsWith('/') && !dep.flags) for (const i of this.byFile.get(dep.name) ?? []) out.add(i);
    return out;
  }

  /**
   * Evaluate a rich dependency against the set: `sat` says whether it is met, `pkgs` which
   * packages it relates to. For `or` that is every alternative present; `if`/`unless` relate to
   * the branch their condition selects (the condition itself is not a dependency).
   */
  evalRich(r: RichDep): { sat: boolean; pkgs: Set<number> } {
    switch (r.op) {
      case 'dep': {
        const pkgs = this.whatProvides(r.dep);
        return { sat: pkgs.size > 0, pkgs };
      }
      case 'and':
      case 'with':
      case 'or': {
        const parts = r.args.map((a) => this.evalRich(a));
        const pkgs = new Set<number>();
        for (const p of parts) if (r.op !== 'or' || p.sat) p.pkgs.forEach((i) => pkgs.add(i));
        const sat = r.op === 'or' ? parts.some((p) => p.sat) : parts.every((p) => p.sat);
        return { sat, pkgs };
      }
      case 'without': {
        const [a, b] = r.args.map((x) => this.evalRich(x)) as [{ sat: boolean; pkgs: Set<number> }, { sat: boolean; pkgs: Set<number> }];
        const pkgs = new Set([...a.pkgs].filter((i) => !b.pkgs.has(i)));
        return { sat: pkgs.size > 0, pkgs };
      }
      case 'if':
      case 'unless': {
        const cond = this.evalRich(r.cond).sat;
        const takeThen = r.op === 'if' ? cond : !cond;
        if (takeThen) return this.evalRich(r.then);
        if (r.else) return this.evalRich(r.else);
        return { sat: true, pkgs: new Set() };
      }
    }
  }

  /** Packages a dependency entry (simple or rich) of package `owner` relates to. */
  resolve(dep: Dep, owner: number): { sat: boolean; pkgs: Set<number> } {
    if (!isRichDep(dep.name)) {
      const pkgs = this.whatProvides(dep);
      return { sat: pkgs.size > 0, pkgs };
    }
    try {
      return this.evalRich(parseRichDep(dep.name));
    } catch (err) {
      if (err instanceof RichDepError) {
        throw new KilnError(`SBOM: package ${formatNevra(this.packages[owner]!)}: ${err.message}`);
      }
      throw err;
    }
  }
}

/**
 * Dependency edges within a package set. Hard: `requires` (incl. pre). Weak: `recommends`
 * (A recommends what B provides -> edge A->B) and `supplements`, the reverse weak dependency
 * (B supplements what A provides -> edge A->B, once the supplements expression is met).
 * Suggests/enhances are left out: dnf never installs anything because of them.
 * Self-edges are dropped; the result is de-duplicated and sorted.
 */
export function dependencyEdges(packages: readonly Package[]): DepEdge[] {
  const index = new ProvidesIndex(packages);
  const seen = new Set<string>();
  const edges: DepEdge[] = [];
  const add = (from: number, to: number, kind: DepEdge['kind']) => {
    if (from === to) return;
    const key = `${kind} ${from} ${to}`;
    if (seen.has(key)) return;
    seen.add(key);
    edges.push({ from, to, kind });
  };
  packages.forEach((p, i) => {
    for (const d of p.requires) {
      // rpmlib(...) and similar are satisfied by rpm itself, never by a package of the set
      if (d.name.startsWith('rpmlib(')) continue;
      for (const j of index.resolve(d, i).pkgs) add(i, j, 'requires');
    }
    for (const d of p.recommends) for (const j of index.resolve(d, i).pkgs) add(i, j, 'weak');
    for (const d of p.supplements) {
      const r = index.resolve(d, i);
      if (r.sat) for (const j of r.pkgs) add(j, i, 'weak');
    }
  });
  edges.sort((a, b) => (a.kind === b.kind ? 0 : a.kind < b.kind ? -1 : 1) || a.from - b.from || a.to - b.to);
  return edges;
}
