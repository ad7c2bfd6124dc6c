// The package pool: all candidate packages indexed once (provides by name, files by path,
// packages by name) so that the solver never scans the whole package list per dependency.
// Built lazily and cached per Package[] array, so solving again over the same repos is cheap.

import type { Dep, Package } from '../rpm/types.js';
import { isRichDep, parseRichDep, type RichDep } from '../rpm/richdep.js';

/**
 * Provide entries are numbers, `pkg * 65536 + k` (k: index into the package's provides, or
 * SELF for the synthesized `name = evr`), so that 150k+ of them cost no object allocations.
 */
const SHIFT = 65536;
const SELF = 65535;

export class Pool {
  readonly pkgs: Package[];
  /** provide name -> encoded entries (see provideDep) */
  readonly providesByName = new Map<string, number[]>();
  /** path -> owning packages, for the paths dependencies name (see filesOf) */
  private readonly filesByPath = new Map<string, number[]>();
  readonly byName = new Map<string, number[]>();
  /** packages with supplements (few): scanned in the weak-deps phase */
  readonly supplementing: number[] = [];
  /** 1 for packages with rich conflicts or `unless` requires: re-checked on the final set */
  readonly finalCheck: Uint8Array;
  private readonly richCache = new Map<string, RichDep>();
  private readonly selfDeps = new Map<number, Dep>();

  constructor(pkgs: Package[]) {
    this.pkgs = pkgs;
    this.finalCheck = new Uint8Array(pkgs.length);
    const wanted = new Set<string>();
    const scan = (deps: Dep[]) => {
      for (const d of deps) {
        const c = d.name.charCodeAt(0);
        if (c === 47 /* / */) wanted.add(d.name);
        else if (c === 40 /* ( */ && d.name.includes('/')) {
          for (const m of d.name.matchAll(/(?:^|[\s(])(\/[^\s()]+)/g)) wanted.add(m[1]!);
        }
      }
    };
    for (let i = 0; i < pkgs.length; i++) {
      const p = pkgs[i]!;
      push(this.byName, p.name, i);
      let selfProvide = false;
      const prov = p.provides;
      for (let k = 0; k < prov.length && k < SELF; k++) {
        const d = prov[k]!;
        push(this.providesByName, d.name, i * SHIFT + k);
        if (d.flags === 'EQ' && d.name === p.name) selfProvide = true;
      }
      // rpm always adds `name = epoch:version-release`; synthesize it if the metadata lacked it
      if (!selfProvide) push(this.providesByName, p.name, i * SHIFT + SELF);
      if (p.supplements.length) this.supplementing.push(i);
      // Like libsolv's addfileprovides: only the paths some dependency names get indexed,
      // instead of every file of every package (a distribution has millions). Other paths
      // (install specs) are looked up on demand by filesOf().
      const req = p.requires;
      for (let k = 0; k < req.length; k++) {
        const n = req[k]!.name;
        const c = n.charCodeAt(0);
        if (c === 47 /* / */) wanted.add(n);
        else if (c === 40 /* ( */) {
          if (n.includes(' unless ')) this.finalCheck[i] = 1;
          if (n.includes('/')) scan(req.slice(k, k + 1));
        }
      }
      for (const d of p.conflicts) if (d.name.charCodeAt(0) === 40) this.finalCheck[i] = 1;
      if (p.conflicts.length) scan(p.conflicts);
      if (p.obsoletes.length) scan(p.obsoletes);
      if (p.recommends.length) scan(p.recommends);
      if (p.supplements.length) scan(p.supplements);
      if (p.suggests.length) scan(p.suggests);
      if (p.enhances.length) scan(p.enhances);
    }
    for (const w of wanted) this.filesByPath.set(w, []);
    for (let i = 0; i < pkgs.length; i++) {
      for (const f of pkgs[i]!.files) {
        const a = this.filesByPath.get(f);
        if (a) a.push(i);
      }
    }
  }

  private readonly archMasks = new Map<string, Uint8Array>();
  /** 1 for packages whose arch the policy accepts (cached per policy) */
  archMask(score: Map<string, number>): Uint8Array {
    const key = [...score.keys()].join(',');
    let m = this.archMasks.get(key);
    if (!m) {
      m = new Uint8Array(this.pkgs.length);
      for (let i = 0; i < this.pkgs.length; i++) m[i] = score.has(this.pkgs[i]!.arch) ? 1 : 0;
      this.archMasks.set(key, m);
    }
    return m;
  }

  /** package index of an encoded provide entry */
  static entryPkg(e: number): number {
    return Math.floor(e / SHIFT);
  }

  /** the Dep of an encoded provide entry */
  provideDep(e: number): Dep {
    const i = Math.floor(e / SHIFT);
    const k = e - i * SHIFT;
    if (k !== SELF) return this.pkgs[i]!.provides[k]!;
    let d = this.selfDeps.get(i);
    if (!d) {
      const p = this.pkgs[i]!;
      d = { name: p.name, flags: 'EQ', epoch: p.epoch, version: p.version, release: p.release };
      this.selfDeps.set(i, d);
    }
    return d;
  }

  /** Packages owning a path (indexed paths from the map, others by one scan, then cached). */
  filesOf(path: string): number[] {
    let a = this.filesByPath.get(path);
    if (!a) {
      a = [];
      for (let i = 0; i < this.pkgs.length; i++) if (this.pkgs[i]!.files.includes(path)) a.push(i);
      this.filesByPath.set(path, a);
    }
    return a;
  }

  rich(s: string): RichDep {
    let r = this.richCache.get(s);
    if (!r) {
      r = parseRichDep(s);
      this.richCache.set(s, r);
    }
    return r;
  }

  static isRich(d: Dep): boolean {
    return isRichDep(d.name);
  }
}

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const a = m.get(k);
  if (a) a.push(v);
  else m.set(k, [v]);
}

const poolCache = new WeakMap<Package[], Pool>();

/** The pool for a package array, built once per array (the array must not be mutated after). */
export function poolFor(pkgs: Package[]): Pool {
  let p = poolCache.get(pkgs);
  if (!p) {
    p = new Pool(pkgs);
    poolCache.set(pkgs, p);
  }
  return p;
}
