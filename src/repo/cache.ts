// On-disk cache of parsed repository metadata.
//
// Layout: <cacheDir>/<repo dir>/<repomd sha256>/<primary|primary+filelists>.kcache, where
// <repo dir> is the repo id when it is a safe file name (else its sha256), followed by a short
// hash of the repo's URLs so two configs that share an id never share entries. A revision
// directory is immutable once written: new repomd => new directory.
//
// Format (designed to load a 60,000-package repository in a fraction of a second; JSON and
// v8.deserialize both take seconds for that): every string goes into one de-duplicated string
// table (NUL-separated UTF-8: XML 1.0 cannot contain NUL), every package becomes a run of int32
// indices into it, numbers that can exceed int32 go into a float64 column. Identical
// dependencies (most requires are shared by many packages) are stored once in a dependency table
// and come back as one shared (treat-as-immutable) Dep object. Full file lists are
// not strings at all: the repository's FileStore (filelists.ts) is written as raw sections and
// read back as typed-array views of the file, so a warm load neither decodes nor allocates the
// ~million paths; packages reference their store entry and decode their list on first use.
//
//   "KILNRC02" | u32 headerLen | header JSON | pad8 | strings | pad8 | f64[nNums]
//   | i32[nInts] (nDeps * 5 dependency table, then packages)
//   | pad8 | store bytes | pad8 | i32 fileOff | i32 entryFile | i32 table | u32 crc32(all before)
//
// Files are written to a temp name and renamed, so readers see a complete file or none; the
// trailing CRC-32 catches anything else (truncation, bit rot, a foreign file; it is not meant to
// resist tampering: the cache directory is the user's own): a damaged entry is reported as
// corrupt, removed and refetched, never trusted. The store's tables are also checked for
// consistency before use, so even a damaged file that passed the CRC cannot index out of range.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import type { CompsEnvironment, CompsGroup, Dep, DepFlag, Package } from '../rpm/types.js';
import { attachLazyFiles, defineLazyFiles, FileStore, lazyFilesOf, peekFiles } from './filelists.js';

const MAGIC = Buffer.from('KILNRC02', 'latin1');
const FORMAT = 2;
const FILE_SEP = '\u0001'; // also impossible in XML 1.0 text, so safe to join file lists with
const DEP_KINDS = ['provides', 'requires', 'conflicts', 'obsoletes', 'recommends', 'suggests', 'supplements', 'enhances'] as const;
const FLAG_CODES: DepFlag[] = ['EQ', 'LT', 'LE', 'GT', 'GE'];
const FLAG_INDEX: Record<string, number> = { EQ: 1, LT: 2, LE: 3, GT: 4, GE: 5 };
/**
 * Empty dependency lists of decoded packages share this array (most packages have no conflicts,
 * obsoletes, suggests, ...; hundreds of thousands of empty arrays cost GC time). Frozen, so a
 * caller that tries to add to one fails loudly instead of changing every package.
 */
const NO_DEPS: readonly Dep[] = Object.freeze([]);
/** ints per package besides its dependency references: 14 fields + 8 dependency counts + files */
const FIXED_INTS = 23;

export interface CachedRepoData {
  packages: Package[];
  groups: CompsGroup[];
  environments: CompsEnvironment[];
  /** free-form facts about the entry (base URL used, time written, ...) */
  info: Record<string, string | number | boolean>;
}

interface Header {
  format: number;
  nPackages: number;
  stringBytes: number;
  /** number of NUL-separated strings in the table */
  nStrings: number;
  nNums: number;
  nInts: number;
  /** entries of the dependency table at the start of the ints (5 ints each) */
  nDeps: number;
  /** lengths of the file store sections (bytes, then elements of the int32 tables) */
  store: { bytes: number; fileOff: number; entryFile: number; table: number } | null;
  repoId: string;
  groups: CompsGroup[];
  environments: CompsEnvironment[];
  info: CachedRepoData['info'];
}

const pad8 = (n: number) => (n + 7) & ~7;
const ZERO = new Uint8Array(8);

function crc32(parts: Uint8Array[]): number {
  let c = 0;
  for (const p of parts) c = zlib.crc32(p, c);
  return c >>> 0;
}

const bytesOf = (a: Int32Array | Float64Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/**
 * Serialize repository data into the cache format, as a list of buffers to be written one after
 * the other (no single copy of the whole file is made).
 */
export function encodeRepoCacheParts(d: CachedRepoData): Uint8Array[] {
  // Strings go straight into the byte table (no array of strings, no joined copy): this runs
  // right after a cold parse, when the heap is at its fullest.
  const sb = new ByteSink();
  let nStrings = 0;
  const table = new Map<string, number>();
  const raw = (s: string): number => {
    if (nStrings > 0) sb.byte(0);
    sb.text(s);
    return nStrings++;
  };
  const str = (s: string | undefined): number => {
    if (s === undefined) return -1;
    let i = table.get(s);
    if (i === undefined) {
      i = raw(s);
      table.set(s, i);
    }
    return i;
  };
  const optRaw = (s: string | undefined): number => (s === undefined ? -1 : raw(s));
  const deps = new DepTable();
  const depIndex = (dep: Dep): number =>
    deps.index(str(dep.name), (dep.flags ? FLAG_INDEX[dep.flags]! : 0) | (dep.pre ? 8 : 0), dep.epoch ?? -1, str(dep.version), str(dep.release));
  let nPkgInts = 0;
  let store: FileStore | undefined;
  for (const p of d.packages) {
    nPkgInts += FIXED_INTS;
    for (const kind of DEP_KINDS) nPkgInts += p[kind].length;
    store ??= lazyFilesOf(p)?.store;
  }
  const ints = new Int32Array(nPkgInts);
  let ni = 0;
  const put = (v: number) => (ints[ni++] = v);
  const nums = new Float64Array(d.packages.length * 3);
  let nn = 0;
  const num = (v: number | undefined) => (nums[nn++] = v === undefined ? NaN : v);

  const repoId = d.packages[0]?.repoId ?? '';
  for (const p of d.packages) {
    put(str(p.name));
    put(str(p.arch));
    put(p.epoch);
    put(str(p.version));
    put(str(p.release));
    // Texts unique to a package skip the de-duplication map (it is the expensive part).
    put(optRaw(p.summary));
    put(optRaw(p.description));
    put(optRaw(p.url));
    put(str(p.license));
    put(str(p.vendor));
    put(str(p.sourceRpm));
    put(raw(p.location));
    put(str(p.checksum.type));
    put(raw(p.checksum.value));
    num(p.buildTime);
    num(p.downloadSize);
    num(p.installSize);
    for (const kind of DEP_KINDS) {
      const deps = p[kind];
      put(deps.length);
      for (const dep of deps) put(depIndex(dep));
    }
    // files: -1 none, >= 0 a joined list in the string table, <= -2 entry (-2 - v) of the store
    const lazy = lazyFilesOf(p);
    if (lazy && lazy.store === store) put(-2 - lazy.entry);
    else {
      const files = lazy ? peekFiles(p) : p.files;
      put(files.length === 0 ? -1 : raw(files.join(FILE_SEP)));
    }
  }
  if (ni !== nPkgInts) throw new Error(`cache encoder: ${ni} ints written, ${nPkgInts} expected`);
  const depInts = deps.finish();
  const stringBuf = sb.finish();
  table.clear();
  const header: Header = {
    format: FORMAT,
    nPackages: d.packages.length,
    stringBytes: stringBuf.length,
    nStrings,
    nNums: nn,
    nInts: depInts.length + ni,
    nDeps: depInts.length / 5,
    store: store ? { bytes: store.bytes.length, fileOff: store.fileOff.length, entryFile: store.entryFile.length, table: store.table.length } : null,
    repoId,
    groups: d.groups,
    environments: d.environments,
    info: d.info,
  };
  const headerBuf = Buffer.from(JSON.stringify(header), 'utf8');
  const parts: Uint8Array[] = [];
  let size = 0;
  const add = (b: Uint8Array) => {
    if (b.length > 0) parts.push(b);
    size += b.length;
  };
  const align = () => add(ZERO.subarray(0, pad8(size) - size));
  const head = Buffer.alloc(12);
  MAGIC.copy(head, 0);
  head.writeUInt32LE(headerBuf.length, 8);
  add(head);
  add(headerBuf);
  align();
  add(stringBuf);
  align();
  add(bytesOf(nums.subarray(0, nn)));
  add(bytesOf(depInts));
  add(bytesOf(ints));
  if (store) {
    align();
    add(store.bytes);
    align();
    add(bytesOf(store.fileOff));
    add(bytesOf(store.entryFile));
    add(bytesOf(store.table));
  }
  const trailer = Buffer.alloc(4);
  trailer.writeUInt32LE(crc32(parts), 0);
  parts.push(trailer);
  return parts;
}

/** Serialize repository data into the cache format (one buffer). */
export function encodeRepoCache(d: CachedRepoData): Buffer {
  return Buffer.concat(encodeRepoCacheParts(d));
}

/** A growing byte buffer that UTF-8-encodes strings (ASCII in a plain loop). */
class ByteSink {
  private b = new Uint8Array(1 << 24);
  private n = 0;
  private room(k: number): void {
    if (this.n + k <= this.b.length) return;
    const nb = new Uint8Array(Math.max(this.n + k, this.b.length * 2));
    nb.set(this.b.subarray(0, this.n));
    this.b = nb;
  }
  byte(v: number): void {
    this.room(1);
    this.b[this.n++] = v;
  }
  text(s: string): void {
    const len = s.length;
    this.room(len * 3);
    const b = this.b;
    let o = this.n;
    let i = 0;
    for (; i < len; i++) {
      const c = s.charCodeAt(i);
      if (c > 127) break;
      b[o++] = c;
    }
    if (i < len) o = this.n + Buffer.from(b.buffer, b.byteOffset, b.byteLength).write(s, this.n, 'utf8');
    this.n = o;
  }
  finish(): Uint8Array {
    return this.b.subarray(0, this.n);
  }
}

/** Distinct dependencies as 5-int tuples, de-duplicated through an open-addressing hash table. */
class DepTable {
  private t = new Int32Array(1 << 16);
  private slots = new Int32Array(1 << 16); // tuple index + 1, 0 = empty
  private n = 0;
  index(a: number, b: number, c: number, v: number, r: number): number {
    let h = Math.imul(a, 0x9e3779b1) ^ Math.imul(b + 1, 0x85ebca77) ^ Math.imul(c + 2, 0xc2b2ae3d) ^ Math.imul(v + 3, 0x27d4eb2f) ^ Math.imul(r + 4, 0x165667b1);
    h ^= h >>> 15;
    const mask = this.slots.length - 1;
    for (let slot = h & mask; ; slot = (slot + 1) & mask) {
      const x = this.slots[slot]!;
      if (x === 0) {
        const i = this.n++;
        if (this.n * 5 > this.t.length) {
          const nt = new Int32Array(this.t.length * 2);
          nt.set(this.t);
          this.t = nt;
        }
        const o = i * 5;
        this.t[o] = a;
        this.t[o + 1] = b;
        this.t[o + 2] = c;
        this.t[o + 3] = v;
        this.t[o + 4] = r;
        this.slots[slot] = i + 1;
        if (this.n * 2 > this.slots.length) this.rehash();
        return i;
      }
      const o = (x - 1) * 5;
      const t = this.t;
      if (t[o] === a && t[o + 1] === b && t[o + 2] === c && t[o + 3] === v && t[o + 4] === r) return x - 1;
    }
  }
  private rehash(): void {
    const old = this.slots;
    this.slots = new Int32Array(old.length * 2);
    const mask = this.slots.length - 1;
    const t = this.t;
    for (const x of old) {
      if (x === 0) continue;
      const o = (x - 1) * 5;
      let h = Math.imul(t[o]!, 0x9e3779b1) ^ Math.imul(t[o + 1]! + 1, 0x85ebca77) ^ Math.imul(t[o + 2]! + 2, 0xc2b2ae3d) ^ Math.imul(t[o + 3]! + 3, 0x27d4eb2f) ^ Math.imul(t[o + 4]! + 4, 0x165667b1);
      h ^= h >>> 15;
      let slot = h & mask;
      while (this.slots[slot] !== 0) slot = (slot + 1) & mask;
      this.slots[slot] = x;
    }
  }
  finish(): Int32Array {
    this.slots = new Int32Array(0);
    return this.t.subarray(0, this.n * 5);
  }
}

export class CorruptCacheError extends Error {}

/** Decode a cache file; throws CorruptCacheError on any inconsistency. */
export function decodeRepoCache(buf: Buffer): CachedRepoData {
  const corrupt = (why: string): never => {
    throw new CorruptCacheError(why);
  };
  if (buf.length >= 8 && buf.toString('latin1', 0, 6) === 'KILNRC' && !buf.subarray(0, 8).equals(MAGIC)) corrupt(`cache format ${buf.toString('latin1', 6, 8)}, not ${MAGIC.toString('latin1', 6, 8)} (written by another Kiln version)`);
  if (buf.length < 12 + 4 || !buf.subarray(0, 8).equals(MAGIC)) corrupt('bad magic');
  const body = buf.subarray(0, buf.length - 4);
  if (crc32([body]) !== buf.readUInt32LE(buf.length - 4)) corrupt('checksum mismatch');
  const headerLen = buf.readUInt32LE(8);
  let header: Header;
  try {
    header = JSON.parse(buf.toString('utf8', 12, 12 + headerLen)) as Header;
  } catch {
    return corrupt('bad header');
  }
  if (header.format !== FORMAT) corrupt(`format ${header.format}`);
  const headerEnd = pad8(12 + headerLen);
  const stringsEnd = pad8(headerEnd + header.stringBytes);
  const numsEnd = stringsEnd + header.nNums * 8;
  const intsEnd = numsEnd + header.nInts * 4;
  let end = intsEnd;
  const st = header.store;
  let storeAt = 0;
  if (st) {
    storeAt = pad8(intsEnd);
    end = pad8(storeAt + st.bytes) + (st.fileOff + st.entryFile + st.table) * 4;
  }
  if (end !== body.length) corrupt('size mismatch');
  const strings = header.nStrings === 0 ? [] : buf.toString('utf8', headerEnd, headerEnd + header.stringBytes).split('\0');
  if (strings.length !== header.nStrings) corrupt('string table size mismatch');
  // Typed-array views need aligned offsets; Buffers from readFile start at offset 0 of their
  // own ArrayBuffer (and every section starts at a multiple of 8), but copy if not.
  const view = <T>(start: number, n: number, size: number, make: (b: ArrayBuffer, off: number, n: number) => T): T => {
    const off = buf.byteOffset + start;
    if (off % size === 0) return make(buf.buffer as ArrayBuffer, off, n);
    return make(new Uint8Array(buf.subarray(start, start + n * size)).buffer, 0, n);
  };
  const nums = view(stringsEnd, header.nNums, 8, (b, o, n) => new Float64Array(b, o, n));
  const ints = view(numsEnd, header.nInts, 4, (b, o, n) => new Int32Array(b, o, n));
  let store: FileStore | undefined;
  if (st) {
    const fo = pad8(storeAt + st.bytes);
    const parts = {
      bytes: new Uint8Array(buf.buffer, buf.byteOffset + storeAt, st.bytes),
      fileOff: view(fo, st.fileOff, 4, (b, o, n) => new Int32Array(b, o, n)),
      entryFile: view(fo + st.fileOff * 4, st.entryFile, 4, (b, o, n) => new Int32Array(b, o, n)),
      table: view(fo + (st.fileOff + st.entryFile) * 4, st.table, 4, (b, o, n) => new Int32Array(b, o, n)),
    };
    const bad = FileStore.check(parts);
    if (bad) corrupt(`file store: ${bad}`);
    store = new FileStore(parts);
  }
  const nEntries = store ? store.nEntries : 0;
  let ii = 0;
  let nn = 0;
  const nStr = strings.length;
  const s = (): string => {
    const i = ints[ii++]!;
    if (i >= nStr || i < 0) corrupt('string index out of range');
    return strings[i]!;
  };
  const os = (): string | undefined => {
    const i = ints[ii++]!;
    if (i < 0) return undefined;
    if (i >= nStr) corrupt('string index out of range');
    return strings[i];
  };
  const on = (): number | undefined => {
    const v = nums[nn++]!;
    return Number.isNaN(v) ? undefined : v;
  };
  // the dependency table, materialized once; packages share these objects
  const nDeps = header.nDeps;
  if (!Number.isInteger(nDeps) || nDeps < 0 || nDeps * 5 > ints.length) corrupt('bad dependency table size');
  const depObjs: Dep[] = new Array(nDeps);
  for (let j = 0; j < nDeps; j++) {
    const name = s();
    const fp = ints[ii++]!;
    const epoch = ints[ii++]!;
    const version = os();
    const release = os();
    const f = fp & 7;
    let dep: Dep;
    if (f === 0) dep = fp & 8 ? { name, pre: true } : { name };
    else {
      dep = { name, flags: FLAG_CODES[f - 1]! };
      if (epoch >= 0) dep.epoch = epoch;
      if (version !== undefined) dep.version = version;
      if (release !== undefined) dep.release = release;
      if (fp & 8) dep.pre = true;
    }
    depObjs[j] = dep;
  }
  const deps = (): Dep[] => {
    const n = ints[ii++]!;
    if (n === 0) return NO_DEPS as Dep[];
    if (n < 0 || ii + n > ints.length) corrupt('bad dependency count');
    const list: Dep[] = new Array(n);
    for (let j = 0; j < n; j++) {
      const x = ints[ii++]!;
      if (x < 0 || x >= nDeps) corrupt('dependency index out of range');
      list[j] = depObjs[x]!;
    }
    return list;
  };
  const repoId = header.repoId;
  const packages: Package[] = new Array(header.nPackages);
  for (let k = 0; k < header.nPackages; k++) {
    if (ii + FIXED_INTS > ints.length) corrupt('truncated package table');
    // One literal with every key in newPackage()'s order (same hidden class), built from the
    // final values: no throw-away default arrays per package.
    const p: Package = defineLazyFiles({
      name: s(),
      arch: s(),
      epoch: ints[ii++]!,
      version: s(),
      release: s(),
      summary: os(),
      description: os(),
      url: os(),
      license: os(),
      vendor: os(),
      buildTime: on(), // (nums have their own cursor: order relative to ints is free)
      sourceRpm: os(),
      location: s(),
      checksum: { type: s(), value: s() },
      downloadSize: on(),
      installSize: on(),
      provides: deps(),
      requires: deps(),
      conflicts: deps(),
      obsoletes: deps(),
      recommends: deps(),
      suggests: deps(),
      supplements: deps(),
      enhances: deps(),
      repoId,
    });
    const fv = ints[ii++]!;
    if (fv <= -2) {
      const e = -2 - fv;
      if (!store || e >= nEntries) corrupt('file list entry out of range');
      attachLazyFiles(p, store!, e);
    } else if (fv >= 0) {
      if (fv >= nStr) corrupt('string index out of range');
      p.files = strings[fv]!.split(FILE_SEP);
    }
    packages[k] = p;
  }
  if (ii !== header.nInts || nn !== header.nNums) corrupt('trailing data');
  return { packages, groups: header.groups, environments: header.environments, info: header.info };
}

function writeAll(fd: number, b: Uint8Array): void {
  for (let off = 0; off < b.length; ) off += fs.writeSync(fd, b, off, b.length - off);
}

/** Write `data` to `file` atomically: a reader sees the old file, no file, or the whole new one. */
export function writeFileAtomic(file: string, data: Uint8Array | string | Uint8Array[]): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
  try {
    const fd = fs.openSync(tmp, 'w', 0o644);
    try {
      if (typeof data === 'string') fs.writeSync(fd, data);
      else if (Array.isArray(data)) for (const part of data) writeAll(fd, part);
      else writeAll(fd, data);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

/**
 * Read a cache entry. Returns undefined when there is none; a corrupt entry is deleted and
 * reported through `onCorrupt` (so the caller refetches) rather than trusted.
 */
export function readCacheEntry(file: string, onCorrupt?: (why: string) => void): CachedRepoData | undefined {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  try {
    return decodeRepoCache(buf);
  } catch (e) {
    if (!(e instanceof CorruptCacheError)) throw e;
    onCorrupt?.(e.message);
    fs.rmSync(file, { force: true });
    return undefined;
  }
}

/**
 * Remove revision directories of one repository other than the newest `keep` (by mtime),
 * so the cache does not grow without bound as a repository changes.
 */
export function pruneRevisions(repoDir: string, current: string, keep = 2): void {
  let entries: { name: string; mtime: number }[];
  try {
    entries = fs
      .readdirSync(repoDir, { withFileTypes: true })
      .filter((d) => d.isDirectory() && d.name !== current)
      .map((d) => ({ name: d.name, mtime: fs.statSync(path.join(repoDir, d.name)).mtimeMs }));
  } catch {
    return;
  }
  entries.sort((a, b) => b.mtime - a.mtime);
  for (const e of entries.slice(Math.max(0, keep - 1))) fs.rmSync(path.join(repoDir, e.name), { recursive: true, force: true });
}
