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
// indices into it, numbers that can exceed int32 go into a float64 column. Loading is one
// `split` plus a linear walk that builds the objects; shared strings come back shared.
//
//   "KILNRC01" | u32 headerLen | header JSON | pad8 | strings | pad8 | f64[nNums] | i32[nInts] | sha256(all before)
//
// Files are written to a temp name and renamed, so readers see a complete file or none; the
// trailing sha256 catches anything else (truncation, bit rot, a foreign file): a damaged entry is
// reported as corrupt, removed and refetched, never trusted.
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { CompsEnvironment, CompsGroup, Dep, DepFlag, Package } from '../rpm/types.js';
import { newPackage } from './primary.js';

const MAGIC = Buffer.from('KILNRC01', 'latin1');
const FORMAT = 1;
const FILE_SEP = '\u0001'; // also impossible in XML 1.0 text, so safe to join file lists with
const DEP_KINDS = ['provides', 'requires', 'conflicts', 'obsoletes', 'recommends', 'suggests', 'supplements', 'enhances'] as const;
const FLAG_CODES: DepFlag[] = ['EQ', 'LT', 'LE', 'GT', 'GE'];
const FLAG_INDEX: Record<string, number> = { EQ: 1, LT: 2, LE: 3, GT: 4, GE: 5 };

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
  nNums: number;
  nInts: number;
  repoId: string;
  groups: CompsGroup[];
  environments: CompsEnvironment[];
  info: CachedRepoData['info'];
}

const pad8 = (n: number) => (n + 7) & ~7;

/** Serialize repository data into the cache format. */
export function encodeRepoCache(d: CachedRepoData): Buffer {
  const table = new Map<string, number>();
  const strings: string[] = [];
  const str = (s: string | undefined): number => {
    if (s === undefined) return -1;
    let i = table.get(s);
    if (i === undefined) {
      i = strings.length;
      strings.push(s);
      table.set(s, i);
    }
    return i;
  };
  // Unshared strings (file lists) skip the de-duplication map.
  const raw = (s: string): number => {
    strings.push(s);
    return strings.length - 1;
  };
  const optRaw = (s: string | undefined): number => (s === undefined ? -1 : raw(s));
  let ints = new Int32Array(1 << 16);
  let ni = 0;
  const put = (v: number) => {
    if (ni === ints.length) {
      const n = new Int32Array(ints.length * 2);
      n.set(ints);
      ints = n;
    }
    ints[ni++] = v;
  };
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
      for (const dep of deps) {
        put(str(dep.name));
        put((dep.flags ? FLAG_INDEX[dep.flags]! : 0) | (dep.pre ? 8 : 0));
        put(dep.epoch ?? -1);
        put(str(dep.version));
        put(str(dep.release));
      }
    }
    put(p.files.length === 0 ? -1 : raw(p.files.join(FILE_SEP)));
  }
  const stringBuf = Buffer.from(strings.join('\0'), 'utf8');
  const header: Header = {
    format: FORMAT,
    nPackages: d.packages.length,
    stringBytes: stringBuf.length,
    nNums: nn,
    nInts: ni,
    repoId,
    groups: d.groups,
    environments: d.environments,
    info: d.info,
  };
  const headerBuf = Buffer.from(JSON.stringify(header), 'utf8');
  const headerEnd = pad8(12 + headerBuf.length);
  const stringsEnd = pad8(headerEnd + stringBuf.length);
  const numsEnd = stringsEnd + nn * 8;
  const intsEnd = numsEnd + ni * 4;
  const out = Buffer.alloc(intsEnd + 32);
  MAGIC.copy(out, 0);
  out.writeUInt32LE(headerBuf.length, 8);
  headerBuf.copy(out, 12);
  stringBuf.copy(out, headerEnd);
  Buffer.from(nums.buffer, 0, nn * 8).copy(out, stringsEnd);
  Buffer.from(ints.buffer, 0, ni * 4).copy(out, numsEnd);
  createHash('sha256').update(out.subarray(0, intsEnd)).digest().copy(out, intsEnd);
  return out;
}

export class CorruptCacheError extends Error {}

/** Decode a cache file; throws CorruptCacheError on any inconsistency. */
export function decodeRepoCache(buf: Buffer): CachedRepoData {
  const corrupt = (why: string): never => {
    throw new CorruptCacheError(why);
  };
  if (buf.length < 12 + 32 || !buf.subarray(0, 8).equals(MAGIC)) corrupt('bad magic');
  const body = buf.subarray(0, buf.length - 32);
  const digest = createHash('sha256').update(body).digest();
  if (!digest.equals(buf.subarray(buf.length - 32))) corrupt('checksum mismatch');
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
  if (intsEnd !== body.length) corrupt('size mismatch');
  const strings = header.stringBytes === 0 && header.nPackages === 0 ? [] : buf.toString('utf8', headerEnd, headerEnd + header.stringBytes).split('\0');
  // Typed-array views need aligned offsets; Buffers from readFile start at offset 0 of their
  // own ArrayBuffer, but copy if not.
  const aligned = (start: number, end: number, align: number): ArrayBuffer => {
    const off = buf.byteOffset + start;
    if (off % align === 0) return buf.buffer.slice(off, buf.byteOffset + end) as ArrayBuffer;
    return new Uint8Array(buf.subarray(start, end)).buffer;
  };
  const nums = new Float64Array(aligned(stringsEnd, numsEnd, 8));
  const ints = new Int32Array(aligned(numsEnd, intsEnd, 4));
  let ii = 0;
  let nn = 0;
  const nStr = strings.length;
  const s = (): string => {
    const i = ints[ii++]!;
    if (i >= nStr) corrupt('string index out of range');
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
  const deps = (): Dep[] => {
    const n = ints[ii++]!;
    if (n < 0 || ii + n * 5 > ints.length) corrupt('bad dependency count');
    const list: Dep[] = new Array(n);
    for (let j = 0; j < n; j++) {
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
      list[j] = dep;
    }
    return list;
  };
  const repoId = header.repoId;
  const packages: Package[] = new Array(header.nPackages);
  for (let k = 0; k < header.nPackages; k++) {
    const p = newPackage(repoId);
    p.name = s();
    p.arch = s();
    p.epoch = ints[ii++]!;
    p.version = s();
    p.release = s();
    p.summary = os();
    p.description = os();
    p.url = os();
    p.license = os();
    p.vendor = os();
    p.sourceRpm = os();
    p.location = s();
    p.checksum = { type: s(), value: s() };
    p.buildTime = on();
    p.downloadSize = on();
    p.installSize = on();
    // Unrolled on purpose: direct property stores keep this loop monomorphic.
    p.provides = deps();
    p.requires = deps();
    p.conflicts = deps();
    p.obsoletes = deps();
    p.recommends = deps();
    p.suggests = deps();
    p.supplements = deps();
    p.enhances = deps();
    const files = os();
    if (files !== undefined) p.files = files.split(FILE_SEP);
    packages[k] = p;
  }
  if (ii !== header.nInts || nn !== header.nNums) corrupt('trailing data');
  return { packages, groups: header.groups, environments: header.environments, info: header.info };
}

/** Write `data` to `file` atomically: a reader sees the old file, no file, or the whole new one. */
export function writeFileAtomic(file: string, data: Uint8Array | string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
  try {
    const fd = fs.openSync(tmp, 'w', 0o644);
    try {
      if (typeof data === 'string') fs.writeSync(fd, data);
      else fs.writeSync(fd, data);
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
