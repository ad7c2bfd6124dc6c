// filelists.xml reader: the complete file list of every package, keyed by pkgid (the package
// checksum that primary.xml also carries), so it can be merged into the parsed packages.
// Parsing (parseFilelists) and merging (applyFilelists) are separate so the parse can run in
// a worker thread while the main thread parses primary.xml (see filelists-worker.ts).
import type { Package } from '../rpm/types.js';
import { KilnError } from '../util/errors.js';
import { parseXml, type XmlSource } from './xml.js';

/** One <package> of filelists.xml; `files` joined with FILES_SEP (cheap to post between threads). */
export interface FilelistEntry {
  pkgid: string;
  name: string;
  arch: string;
  files: string;
}

/** U+0001 cannot occur in XML 1.0 text, so it is a safe separator for paths. */
export const FILES_SEP = '\u0001';

export async function parseFilelists(chunks: AsyncIterable<string> | Iterable<string>, src: XmlSource): Promise<FilelistEntry[]> {
  const out: FilelistEntry[] = [];
  let cur: FilelistEntry | undefined;
  let files: string[] = [];
  let inFile = false;
  let buf = '';
  let sawRoot = false;
  await parseXml(
    chunks,
    {
      open(tag, a) {
        if (tag === 'file') {
          inFile = true;
          buf = '';
        } else if (tag === 'package') {
          const id = (a.pkgid ?? '').toLowerCase();
          if (id === '') throw new KilnError('<package> without pkgid');
          cur = { pkgid: id, name: a.name ?? '', arch: a.arch ?? '', files: '' };
          files = [];
        } else if (tag === 'filelists') {
          sawRoot = true;
        } else if (!sawRoot) {
          throw new KilnError(`expected <filelists> as the root element, found <${tag}>`);
        }
      },
      close(tag) {
        if (inFile) {
          files.push(buf);
          inFile = false;
        } else if (tag === 'package' && cur) {
          cur.files = files.join(FILES_SEP);
          out.push(cur);
          cur = undefined;
        }
      },
      text(t) {
        buf = buf === '' ? t : buf + t;
      },
      wantText: () => inFile,
    },
    src,
  );
  if (!sawRoot) throw new KilnError(`repo "${src.repo}": ${src.file}: no <filelists> element`);
  return out;
}

/**
 * Replace the `files` of the matching packages (primary only lists a subset). Packages are
 * matched by pkgid, and by name+arch when a pkgid occurs twice. Returns the number of entries
 * that matched no package (a sign of inconsistent metadata).
 */
export function applyFilelists(entries: FilelistEntry[], pkgs: Package[]): number {
  const byId = new Map<string, Package | Package[]>();
  for (const p of pkgs) {
    const prev = byId.get(p.checksum.value);
    if (prev === undefined) byId.set(p.checksum.value, p);
    else if (Array.isArray(prev)) prev.push(p);
    else byId.set(p.checksum.value, [prev, p]);
  }
  let unmatched = 0;
  for (const e of entries) {
    const target = byId.get(e.pkgid);
    if (target === undefined) {
      unmatched++;
      continue;
    }
    const files = e.files === '' ? [] : e.files.split(FILES_SEP);
    if (!Array.isArray(target)) target.files = files;
    else for (const p of target) if (p.name === e.name && p.arch === e.arch) p.files = files.slice();
  }
  return unmatched;
}

/** Parse and merge in one go (main thread). */
export async function mergeFilelists(chunks: AsyncIterable<string> | Iterable<string>, pkgs: Package[], src: XmlSource): Promise<number> {
  return applyFilelists(await parseFilelists(chunks, src), pkgs);
}

// ---------------------------------------------------------------------------------------------
// Compact file lists. A Fedora-sized repository has close to a million file paths; as JS
// strings (one per path, plus one array per package) they cost well over 100 MB of heap, and
// copying them between the worker and the main thread and into the cache costs more again.
// A FileStore keeps them as one UTF-8 byte array with offset tables, plus an open-addressing
// hash table from path to file, so that "who owns /usr/bin/foo" is a hash probe and a package's
// list is decoded only when someone asks for it (see the `files` accessor in primary.ts).
// All parts are typed arrays: they move to the main thread without copying (transfer) and are
// written to / read from the metadata cache as raw sections.

/** FNV-1a over bytes [start, end). */
function hashBytes(b: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) h = Math.imul(h ^ b[i]!, 0x01000193);
  return h >>> 0;
}

export interface FileStoreParts {
  /** paths, UTF-8, each followed by a NUL (XML 1.0 text cannot contain NUL) */
  bytes: Uint8Array;
  /** nFiles + 1 byte offsets into `bytes`: file k is [fileOff[k], fileOff[k+1] - 1) */
  fileOff: Int32Array;
  /** nEntries + 1 file indices: entry e owns files [entryFile[e], entryFile[e+1]) */
  entryFile: Int32Array;
  /** hash table (length a power of two): file index + 1, 0 = empty slot */
  table: Int32Array;
}

export class FileStore implements FileStoreParts {
  readonly bytes: Uint8Array;
  readonly fileOff: Int32Array;
  readonly entryFile: Int32Array;
  readonly table: Int32Array;
  private readonly buf: Buffer;

  constructor(p: FileStoreParts) {
    this.bytes = p.bytes;
    this.fileOff = p.fileOff;
    this.entryFile = p.entryFile;
    this.table = p.table;
    this.buf = Buffer.from(p.bytes.buffer, p.bytes.byteOffset, p.bytes.byteLength);
  }

  get nEntries(): number {
    return this.entryFile.length - 1;
  }

  get nFiles(): number {
    return this.fileOff.length - 1;
  }

  /** Check the internal consistency of parts read from elsewhere (cache); a message or undefined. */
  static check(p: FileStoreParts): string | undefined {
    const nf = p.fileOff.length - 1;
    if (nf < 0 || p.entryFile.length < 1) return 'empty offset tables';
    if (p.fileOff[0] !== 0 || p.fileOff[nf] !== p.bytes.length) return 'file offsets do not span the bytes';
    const fo = p.fileOff;
    for (let k = 0; k < nf; k++) if (fo[k + 1]! <= fo[k]!) return `bad offset of file ${k}`;
    const ne = p.entryFile.length - 1;
    if (p.entryFile[0] !== 0 || p.entryFile[ne] !== nf) return 'entry offsets do not span the files';
    for (let e = 0; e < ne; e++) if (p.entryFile[e + 1]! < p.entryFile[e]!) return `bad offset of entry ${e}`;
    // slots are range-checked where they are read (owners), which is cheaper than a full scan
    const t = p.table;
    if (t.length === 0 || (t.length & (t.length - 1)) !== 0 || t.length < nf) return 'bad hash table size';
    return undefined;
  }

  /** The files of entry e, in metadata order (a new array each call). */
  filesOf(e: number): string[] {
    const a = this.entryFile[e]!;
    const b = this.entryFile[e + 1]!;
    if (a === b) return [];
    return this.buf.toString('utf8', this.fileOff[a]!, this.fileOff[b]! - 1).split('\0');
  }

  /** Entry owning file index k (binary search). */
  private entryOfFile(k: number): number {
    const ef = this.entryFile;
    let lo = 0;
    let hi = ef.length - 2;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (ef[mid]! <= k) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** Entries that own `path` (ascending, each once). */
  owners(path: string): number[] {
    const key = Buffer.from(path, 'utf8');
    const n = key.length;
    const t = this.table;
    const mask = t.length - 1;
    const b = this.bytes;
    const off = this.fileOff;
    const out: number[] = [];
    // (bounded by the table size: a damaged table without empty slots must not loop forever)
    for (let slot = hashBytes(key, 0, n) & mask, probes = 0; probes < t.length; slot = (slot + 1) & mask, probes++) {
      const v = t[slot]!;
      if (v === 0) break;
      const k = v - 1;
      if (k < 0 || k >= off.length - 1) continue; // damaged slot (see check)
      const s = off[k]!;
      if (off[k + 1]! - 1 - s !== n) continue;
      let j = 0;
      while (j < n && b[s + j] === key[j]) j++;
      if (j === n) {
        const e = this.entryOfFile(k);
        if (!out.includes(e)) out.push(e);
      }
    }
    return out.sort((x, y) => x - y);
  }
}

/**
 * Accumulates paths entry by entry, then builds a FileStore. The arrays start big (from
 * `sizeHint`, an upper bound of the bytes the paths will take) and are not trimmed: fresh
 * zero-filled memory that is never written stays virtual (it costs no RSS), whereas growing by
 * doubling and copying to an exact size would transiently need two or three times the data.
 */
export class FileStoreBuilder {
  private bytes: Uint8Array;
  private nb = 0;
  private fileOff: Int32Array;
  private nf = 0;
  private entryFile = new Int32Array(1 << 12);
  private ne = 0;

  constructor(sizeHint = 1 << 20) {
    this.bytes = new Uint8Array(Math.max(1 << 16, sizeHint));
    this.fileOff = new Int32Array(Math.max(1 << 12, Math.ceil(sizeHint / 16)));
  }

  addFile(path: string): void {
    const need = this.nb + path.length * 3 + 1;
    if (need > this.bytes.length) {
      const n = new Uint8Array(Math.max(need, this.bytes.length * 2));
      n.set(this.bytes.subarray(0, this.nb));
      this.bytes = n;
    }
    const b = this.bytes;
    let o = this.nb;
    const len = path.length;
    let i = 0;
    // ASCII fast path; anything else goes through the real UTF-8 encoder
    for (; i < len; i++) {
      const c = path.charCodeAt(i);
      if (c > 127) break;
      b[o++] = c;
    }
    if (i < len) o = this.nb + Buffer.from(b.buffer, b.byteOffset, b.byteLength).write(path, this.nb, 'utf8');
    b[o++] = 0;
    this.nb = o;
    if (this.nf + 2 > this.fileOff.length) {
      const n = new Int32Array(this.fileOff.length * 2);
      n.set(this.fileOff);
      this.fileOff = n;
    }
    this.fileOff[++this.nf] = o;
  }

  /** Close the current entry (its files are the ones added since the previous call). */
  endEntry(): void {
    if (this.ne + 2 > this.entryFile.length) {
      const n = new Int32Array(this.entryFile.length * 2);
      n.set(this.entryFile);
      this.entryFile = n;
    }
    this.entryFile[++this.ne] = this.nf;
  }

  finish(): FileStore {
    const bytes = this.bytes.subarray(0, this.nb);
    const fileOff = this.fileOff.subarray(0, this.nf + 1);
    const entryFile = this.entryFile.subarray(0, this.ne + 1);
    this.bytes = new Uint8Array(0);
    // load factor <= 1/2 keeps probe sequences short
    let size = 16;
    while (size < this.nf * 2) size *= 2;
    const table = new Int32Array(size);
    const mask = size - 1;
    for (let k = 0; k < this.nf; k++) {
      let slot = hashBytes(bytes, fileOff[k]!, fileOff[k + 1]! - 1) & mask;
      while (table[slot] !== 0) slot = (slot + 1) & mask;
      table[slot] = k + 1;
    }
    return new FileStore({ bytes, fileOff, entryFile, table });
  }
}

/** filelists.xml in compact form: entry e is (pkgids[e], names[e], archs[e]) owning store entry e. */
export interface CompactFilelists {
  store: FileStore;
  pkgids: string[];
  names: string[];
  archs: string[];
}

/** Parse filelists.xml straight into a FileStore (no per-path strings are kept). */
export async function parseFilelistsCompact(chunks: AsyncIterable<string> | Iterable<string>, src: XmlSource, sizeHint?: number): Promise<CompactFilelists> {
  const b = new FileStoreBuilder(sizeHint);
  const pkgids: string[] = [];
  const names: string[] = [];
  const archs: string[] = [];
  let inPkg = false;
  let inFile = false;
  let buf = '';
  let sawRoot = false;
  await parseXml(
    chunks,
    {
      open(tag, a) {
        if (tag === 'file') {
          if (inPkg) {
            inFile = true;
            buf = '';
          }
        } else if (tag === 'package') {
          if (inPkg) throw new KilnError('nested <package>');
          const id = (a.pkgid ?? '').toLowerCase();
          if (id === '') throw new KilnError('<package> without pkgid');
          pkgids.push(id);
          names.push(a.name ?? '');
          archs.push(a.arch ?? '');
          inPkg = true;
        } else if (tag === 'filelists') {
          sawRoot = true;
        } else if (!sawRoot) {
          throw new KilnError(`expected <filelists> as the root element, found <${tag}>`);
        }
      },
      close(tag) {
        if (inFile) {
          b.addFile(buf);
          inFile = false;
        } else if (tag === 'package' && inPkg) {
          b.endEntry();
          inPkg = false;
        }
      },
      text(t) {
        buf = buf === '' ? t : buf + t;
      },
      wantText: () => inFile,
    },
    src,
  );
  if (!sawRoot) throw new KilnError(`repo "${src.repo}": ${src.file}: no <filelists> element`);
  return { store: b.finish(), pkgids, names, archs };
}

/**
 * Give the matching packages their full file lists from `fl` (lazily decoded, see
 * setLazyFiles). Matching as in applyFilelists. Returns the number of unmatched entries.
 */
export function applyCompactFilelists(fl: CompactFilelists, pkgs: Package[]): number {
  const byId = new Map<string, Package | Package[]>();
  for (const p of pkgs) {
    const prev = byId.get(p.checksum.value);
    if (prev === undefined) byId.set(p.checksum.value, p);
    else if (Array.isArray(prev)) prev.push(p);
    else byId.set(p.checksum.value, [prev, p]);
  }
  let unmatched = 0;
  for (let e = 0; e < fl.pkgids.length; e++) {
    const target = byId.get(fl.pkgids[e]!);
    if (target === undefined) {
      unmatched++;
      continue;
    }
    if (!Array.isArray(target)) setLazyFiles(target, fl.store, e);
    else for (const p of target) if (p.name === fl.names[e] && p.arch === fl.archs[e]) setLazyFiles(p, fl.store, e);
  }
  return unmatched;
}

// ---------------------------------------------------------------------------------------------
// Lazy `files` on packages made by newPackage() (primary.ts): `files` is an own, enumerable
// accessor (so spreading, JSON and deep equality see it like a plain array property) whose
// state lives in a WeakMap: either the array or a reference into a FileStore. The first read of
// a store-backed list decodes and keeps it; assigning replaces it. The getter and setter are
// shared functions, so all packages keep one hidden class; one defineProperty per package is
// the whole cost (a second, hidden property would double it).

interface LazyRef {
  store: FileStore;
  entry: number;
}

const filesState = new WeakMap<object, string[] | LazyRef>();

function getFiles(this: object): string[] {
  const v = filesState.get(this);
  if (Array.isArray(v)) return v;
  const files = v === undefined ? [] : v.store.filesOf(v.entry);
  filesState.set(this, files);
  return files;
}

function setFiles(this: object, v: string[]): void {
  filesState.set(this, v);
}

const FILES_DESCRIPTOR: PropertyDescriptor = { get: getFiles, set: setFiles, enumerable: true, configurable: true };

/** Give a fresh package object (without `files`) the lazy `files` property. */
export function defineLazyFiles<T extends object>(p: T): T & { files: string[] } {
  return Object.defineProperty(p, 'files', FILES_DESCRIPTOR) as T & { files: string[] };
}

function hasLazyFiles(p: Package): boolean {
  return Object.getOwnPropertyDescriptor(p, 'files')?.get === getFiles;
}

/** Make p.files the list of store entry e (decoded on first read); plain objects get a copy. */
export function setLazyFiles(p: Package, store: FileStore, e: number): void {
  if (filesState.has(p) || hasLazyFiles(p)) filesState.set(p, { store, entry: e });
  else p.files = store.filesOf(e);
}

/** setLazyFiles for a package known to come from defineLazyFiles (the cache decoder). */
export function attachLazyFiles(p: Package, store: FileStore, e: number): void {
  filesState.set(p, { store, entry: e });
}

/** The store reference behind p.files, if it has not been decoded (or replaced) yet. */
export function lazyFilesOf(p: Package): LazyRef | undefined {
  const v = filesState.get(p);
  return v === undefined || Array.isArray(v) ? undefined : v;
}

/** p's files without keeping a decoded copy on the package (for one-off scans). */
export function peekFiles(p: Package): string[] {
  const r = lazyFilesOf(p);
  return r ? r.store.filesOf(r.entry) : p.files;
}
