// The package pool: all candidate packages indexed once (provides by name, files by path,
// packages by name) so that the solver never scans the whole package list per dependency.
// Built lazily and cached per Package[] array, so solving again over the same repos is cheap.

import type { Dep, Package } from '../rpm/types.js';
import { isRichDep, parseRichDep, type RichDep } from '../rpm/richdep.js';
import { lazyFilesOf, peekFiles, type FileStore } from '../repo/filelists.js';

/**
 * Provide entries are numbers, `pkg * 65536 + k` (k: index into the package's provides, or
 * SELF for the synthesized `name = evr`), so that 150k+ of them cost no object allocations.
 */
const SHIFT = 65536;
const SELF = 65535;

export class Pool {
  readonly pkgs: Package[];
  /** provide name -> encoded entries (see provideDep) */
  readonly providesByName: ProvideIndex;
  /** path -> owning packages, for the paths dependencies name (see filesOf) */
  private readonly filesByPath = new Map<string, number[]>();
  /** package name -> package indices (ascending) */
  readonly byName: NameIndex;
  /** packages with supplements (few): scanned in the weak-deps phase */
  readonly supplementing: number[] = [];
  /** 1 for packages with rich conflicts or `unless` requires: re-checked on the final set */
  readonly finalCheck: Uint8Array;
  private readonly richCache = new Map<string, RichDep>();
  /**
   * Packages whose full file list still sits in a repository's FileStore (src/repo/filelists.ts):
   * per store, entry -> package index (-1: not in this pool; -2: several, see `multi`).
   * Lookups in a store are hash probes, so their paths need no index here.
   */
  private readonly stores = new Map<FileStore, { pkgOf: Int32Array; multi: Map<number, number[]> }>();
  /** packages whose `files` is a plain array (scanned for paths not indexed up front) */
  private readonly plainFiles: number[] = [];
  private readonly selfDeps = new Map<number, Dep>();

  constructor(pkgs: Package[]) {
    this.pkgs = pkgs;
    this.finalCheck = new Uint8Array(pkgs.length);
    const prb = new ProvideIndexBuilder();
    const nb = new PairList();
    const pkgNameId = new Int32Array(pkgs.length);
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
      // one id space for package and provide names: most packages provide their own name, so
      // that provide needs no second map lookup
      const nameId = prb.id(p.name);
      nb.push(nameId, i);
      pkgNameId[i] = nameId;
      let selfProvide = false;
      const prov = p.provides;
      for (let k = 0; k < prov.length && k < SELF; k++) {
        const d = prov[k]!;
        const same = d.name === p.name;
        prb.addId(same ? nameId : prb.id(d.name), i * SHIFT + k);
        if (same && d.flags === 'EQ') selfProvide = true;
      }
      // rpm always adds `name = epoch:version-release`; synthesize it if the metadata lacked it
      if (!selfProvide) prb.addId(nameId, i * SHIFT + SELF);
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
    this.providesByName = prb.finish();
    // package names in order of first appearance (what iterating a Map filled in package order gives)
    const seen = new Uint8Array(prb.ids.size);
    const order: number[] = [];
    for (const id of pkgNameId) if (!seen[id]) (seen[id] = 1, order.push(id));
    this.byName = new NameIndex(prb.ids, groupById(nb, prb.ids.size), order);
    for (let i = 0; i < pkgs.length; i++) {
      const p = pkgs[i]!;
      const lazy = lazyFilesOf(p);
      if (lazy) {
        let st = this.stores.get(lazy.store);
        if (!st) {
          st = { pkgOf: new Int32Array(lazy.store.nEntries).fill(-1), multi: new Map() };
          this.stores.set(lazy.store, st);
        }
        const prev = st.pkgOf[lazy.entry]!;
        if (prev === -1) st.pkgOf[lazy.entry] = i;
        else {
          // two packages with one filelists entry (duplicate pkgid): rare, kept aside
          const m = st.multi.get(lazy.entry);
          if (m) m.push(i);
          else st.multi.set(lazy.entry, [prev, i]);
          st.pkgOf[lazy.entry] = -2;
        }
      } else if (p.files.length) this.plainFiles.push(i);
    }
    for (const w of wanted) this.filesByPath.set(w, this.storeOwners(w));
    for (const i of this.plainFiles) {
      for (const f of pkgs[i]!.files) {
        const a = this.filesByPath.get(f);
        if (a && !a.includes(i)) a.push(i);
      }
    }
    // ascending package order, as a scan of the package list would give
    if (this.plainFiles.length && this.stores.size) for (const a of this.filesByPath.values()) if (a.length > 1) a.sort((x, y) => x - y);
  }

  /** Packages of this pool that own `path` according to the file stores (ascending). */
  private storeOwners(path: string): number[] {
    const out: number[] = [];
    for (const [store, st] of this.stores) {
      for (const e of store.owners(path)) {
        const i = st.pkgOf[e]!;
        if (i >= 0) out.push(i);
        else if (i === -2) out.push(...st.multi.get(e)!);
      }
    }
    if (this.stores.size > 1 || out.length > 1) out.sort((x, y) => x - y);
    return out;
  }

  /** The files of package i, without keeping a decoded copy on the package. */
  pkgFiles(i: number): string[] {
    return peekFiles(this.pkgs[i]!);
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
      a = this.storeOwners(path);
      for (const i of this.plainFiles) if (this.pkgs[i]!.files.includes(path)) a.push(i);
      if (this.plainFiles.length && this.stores.size) a.sort((x, y) => x - y);
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

/**
 * Provide name -> encoded entries, in one flat Float64Array grouped by name (entries exceed
 * int32). Built with a counting sort from (name id, entry) pairs: no array per name, which for
 * 200k provides of 60k packages was most of the index's build time and garbage.
 */
export class ProvideIndex {
  constructor(
    private readonly ids: Map<string, number>,
    private readonly start: Int32Array,
    private readonly entries: Float64Array,
  ) {
    this.views = new Array<Float64Array | undefined>(start.length - 1);
  }

  /** views handed out so far (a typed-array view costs an allocation; names repeat) */
  private readonly views: (Float64Array | undefined)[];

  /** entries providing `name`, in package order; undefined if none */
  get(name: string): Float64Array | undefined {
    const id = this.ids.get(name);
    if (id === undefined) return undefined;
    return (this.views[id] ??= this.entries.subarray(this.start[id]!, this.start[id + 1]!));
  }

  has(name: string): boolean {
    return this.ids.has(name);
  }
}

/** (id, value) pairs in growable typed arrays */
class PairList {
  keys = new Int32Array(1 << 16);
  vals = new Float64Array(1 << 16);
  n = 0;

  push(id: number, v: number): void {
    if (this.n === this.keys.length) {
      const k = new Int32Array(this.n * 2);
      k.set(this.keys);
      this.keys = k;
      const nv = new Float64Array(this.n * 2);
      nv.set(this.vals);
      this.vals = nv;
    }
    this.keys[this.n] = id;
    this.vals[this.n++] = v;
  }
}

/** Counting sort of pairs by id (stable: values keep their order within an id). */
function groupById(l: PairList, nIds: number): { start: Int32Array; values: Float64Array } {
  const start = new Int32Array(nIds + 1);
  const keys = l.keys;
  const n = l.n;
  for (let j = 0; j < n; j++) start[keys[j]! + 1]!++;
  for (let id = 0; id < nIds; id++) start[id + 1]! += start[id]!;
  const fill = start.slice(0, nIds);
  const values = new Float64Array(n);
  const vals = l.vals;
  for (let j = 0; j < n; j++) values[fill[keys[j]!]!++] = vals[j]!;
  return { start, values };
}

class ProvideIndexBuilder {
  readonly ids = new Map<string, number>();
  private readonly pairs = new PairList();

  id(name: string): number {
    let id = this.ids.get(name);
    if (id === undefined) {
      id = this.ids.size;
      this.ids.set(name, id);
    }
    return id;
  }

  addId(id: number, entry: number): void {
    this.pairs.push(id, entry);
  }

  finish(): ProvideIndex {
    const g = groupById(this.pairs, this.ids.size);
    return new ProvideIndex(this.ids, g.start, g.values);
  }
}

/**
 * Package name -> package indices, as a read-only Map-like view of a grouped array; the plain
 * arrays callers get are made on first request per name (most names are never asked for).
 */
export class NameIndex implements Iterable<[string, number[]]> {
  private readonly lists: (number[] | undefined)[];
  constructor(
    private readonly ids: Map<string, number>,
    private readonly g: { start: Int32Array; values: Float64Array },
    /** ids of package names in order of first appearance */
    private readonly order: number[],
  ) {
    this.lists = new Array<number[] | undefined>(g.start.length - 1);
  }

  private list(id: number): number[] | undefined {
    let l = this.lists[id];
    if (l === undefined) {
      const a = this.g.start[id]!;
      const b = this.g.start[id + 1]!;
      if (a === b) return undefined; // a provide name that is no package name
      l = Array.from(this.g.values.subarray(a, b));
      this.lists[id] = l;
    }
    return l;
  }

  get(name: string): number[] | undefined {
    const id = this.ids.get(name);
    return id === undefined ? undefined : this.list(id);
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  *[Symbol.iterator](): Iterator<[string, number[]]> {
    if (this.order.length === 0) return;
    const names: string[] = new Array(this.ids.size);
    for (const [name, id] of this.ids) names[id] = name;
    for (const id of this.order) yield [names[id]!, this.list(id)!];
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
