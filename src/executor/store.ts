// The object store: finished trees under objects/<id>/tree (content ids from src/manifest/ids.ts),
// downloaded sources under sources/<content type>/<checksum>, scratch space under tmp/.
// Everything enters the store by rename from tmp/ (same filesystem), so a reader sees either
// nothing or a complete entry. Objects are pruned least-recently-used to a size limit; sources
// are never pruned (as osbuild: they are the expensive part to get again and are not counted).
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
  chmodSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { KilnError } from '../util/errors.js';
import { lock, tryLock } from './lock.js';
import { run } from './proc.js';
import { mountsUnder, removeTreeSync, runCleanup, unmountSync } from './resources.js';

export interface StoreOptions {
  /** bytes; objects beyond this are pruned least-recently-used first. Default: unlimited */
  maxSize?: number;
}

export interface ObjectInfo {
  id: string;
  size: number;
  created: number;
  /** optional stage/pipeline metadata (e.g. installed packages) */
  metadata?: Record<string, unknown>;
}

/** A held reference to a stored object: it will not be pruned until released. */
export interface ObjectUse {
  tree: string;
  release(): void;
}

const ID_RE = /^[0-9a-f]{64}$/;

export function diskUsage(path: string): number {
  // allocated bytes, so sparse disk images count for what they really occupy
  const r = spawnSync('du', ['-s', '-B1', '-x', path], { encoding: 'utf8' });
  if (r.status !== 0) throw new KilnError(`store: cannot measure ${path}: ${r.stderr.trim()}`);
  return Number(r.stdout.split(/\s/)[0]);
}

export class Store {
  readonly objectsDir: string;
  readonly sourcesDir: string;
  readonly tmpDir: string;
  readonly locksDir: string;
  maxSize: number;

  constructor(
    readonly root: string,
    opts: StoreOptions = {},
  ) {
    this.objectsDir = join(root, 'objects');
    this.sourcesDir = join(root, 'sources');
    this.tmpDir = join(root, 'tmp');
    this.locksDir = join(root, 'locks');
    for (const d of [this.objectsDir, this.sourcesDir, this.tmpDir, this.locksDir]) mkdirSync(d, { recursive: true });
    const tag = join(root, 'CACHEDIR.TAG');
    if (!existsSync(tag)) {
      writeFileSync(tag, 'Signature: 8a477f597d28d172789f06886806bc55\n# This is a Kiln/osbuild object store.\n');
    }
    const infoFile = join(root, 'cache.info');
    if (opts.maxSize !== undefined) {
      this.maxSize = opts.maxSize;
      writeFileSync(infoFile, JSON.stringify({ 'maximum-size': Number.isFinite(opts.maxSize) ? opts.maxSize : 'unlimited' }) + '\n');
    } else {
      let m: unknown = 'unlimited';
      try {
        m = (JSON.parse(readFileSync(infoFile, 'utf8')) as Record<string, unknown>)['maximum-size'];
      } catch {
        /* no info yet */
      }
      this.maxSize = typeof m === 'number' ? m : Infinity;
    }
  }

  // ---- scratch -----------------------------------------------------------------------------

  /** A new private directory under tmp/ (same filesystem as objects, so commit is a rename). */
  mkdtemp(prefix: string): string {
    return mkdtempSync(join(this.tmpDir, `${prefix}-${process.pid}-`));
  }

  tmpName(prefix: string): string {
    return join(this.tmpDir, `${prefix}-${process.pid}-${randomBytes(6).toString('hex')}`);
  }

  // ---- sources -----------------------------------------------------------------------------

  sourceDir(contentType: string): string {
    const d = join(this.sourcesDir, contentType);
    mkdirSync(d, { recursive: true });
    return d;
  }

  sourcePath(contentType: string, checksum: string): string {
    if (checksum.includes('/') || checksum.startsWith('.')) throw new KilnError(`store: invalid source checksum "${checksum}"`);
    return join(this.sourcesDir, contentType, checksum);
  }

  hasSource(contentType: string, checksum: string): boolean {
    return existsSync(this.sourcePath(contentType, checksum));
  }

  /** Move a verified file into the content-addressed cache (atomic; idempotent for equal content). */
  admitSource(contentType: string, checksum: string, verifiedFile: string): string {
    const dest = this.sourcePath(contentType, checksum);
    this.sourceDir(contentType);
    chmodSync(verifiedFile, 0o644);
    renameSync(verifiedFile, dest);
    return dest;
  }

  /** Serialize work on one key across processes (e.g. two builds downloading one checksum). */
  lock(key: string, signal?: AbortSignal): Promise<() => void> {
    return lock(join(this.locksDir, `${key.replace(/[^A-Za-z0-9._-]/g, '_')}.lock`), signal);
  }

  // ---- objects -----------------------------------------------------------------------------

  private objectDir(id: string): string {
    if (!ID_RE.test(id)) throw new KilnError(`store: invalid object id "${id}"`);
    return join(this.objectsDir, id);
  }

  hasObject(id: string): boolean {
    return existsSync(join(this.objectDir(id), 'info.json'));
  }

  objectTree(id: string): string {
    return join(this.objectDir(id), 'tree');
  }

  objectInfo(id: string): ObjectInfo | undefined {
    try {
      return JSON.parse(readFileSync(join(this.objectDir(id), 'info.json'), 'utf8')) as ObjectInfo;
    } catch {
      return undefined;
    }
  }

  /**
   * Take a reference on an object so pruning (here or in another process) leaves it alone, and
   * mark it recently used. Returns undefined when the object is not in the store.
   */
  async useObject(id: string, signal?: AbortSignal): Promise<ObjectUse | undefined> {
    const release = await this.lock('store', signal);
    try {
      if (!this.hasObject(id)) return undefined;
      const useFile = join(this.locksDir, `use-${id}-${process.pid}-${randomBytes(4).toString('hex')}`);
      writeFileSync(useFile, `${process.pid}\n`);
      const now = new Date();
      try {
        utimesSync(join(this.objectDir(id), 'info.json'), now, now);
      } catch {
        /* best effort */
      }
      let done = false;
      return {
        tree: this.objectTree(id),
        release: () => {
          if (done) return;
          done = true;
          rmSync(useFile, { force: true });
        },
      };
    } finally {
      release();
    }
  }

  private inUse(id: string): boolean {
    for (const f of readdirSync(this.locksDir)) {
      if (!f.startsWith(`use-${id}-`)) continue;
      const pid = Number(f.split('-')[2]);
      try {
        process.kill(pid, 0);
        return true;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EPERM') return true;
        rmSync(join(this.locksDir, f), { force: true }); // its process is gone
      }
    }
    return false;
  }

  /**
   * Put a finished tree into the store under `id`. With `move`, `treeDir` (which must be under
   * tmp/) is renamed into place; otherwise it is copied (reflinks where the filesystem can).
   * Returns false when the object would not fit the size limit on its own (it is not stored).
   */
  async commit(id: string, treeDir: string, opts: { move: boolean; metadata?: Record<string, unknown>; signal?: AbortSignal }): Promise<boolean> {
    const dest = this.objectDir(id);
    if (this.hasObject(id)) {
      if (opts.move) rmSync(treeDir, { recursive: true, force: true });
      return true;
    }
    // measure first: a tree too big for the store stays where it is, for the caller to use
    const size = diskUsage(treeDir);
    if (size > this.maxSize) return false;
    const staging = this.mkdtemp(`commit-${id.slice(0, 12)}`);
    try {
      const tree = join(staging, 'tree');
      if (opts.move) renameSync(treeDir, tree);
      else await run(['cp', '-a', '--reflink=auto', treeDir, tree], { what: `store: copying object ${id}`, signal: opts.signal });
      const info: ObjectInfo = { id, size, created: Date.now(), ...(opts.metadata ? { metadata: opts.metadata } : {}) };
      writeFileSync(join(staging, 'info.json'), JSON.stringify(info) + '\n');
      const release = await this.lock('store', opts.signal);
      try {
        try {
          renameSync(staging, dest);
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          // another build committed the same id first: same content by construction, keep theirs
          if (code !== 'EEXIST' && code !== 'ENOTEMPTY') throw err;
        }
      } finally {
        release();
      }
      await this.prune(new Set([id]), opts.signal);
      return true;
    } finally {
      rmSync(staging, { recursive: true, force: true });
    }
  }

  /** Bytes used by objects (sources excluded). */
  objectsSize(): number {
    let total = 0;
    for (const id of readdirSync(this.objectsDir)) {
      if (ID_RE.test(id)) total += this.objectInfo(id)?.size ?? 0;
    }
    return total;
  }

  listObjects(): string[] {
    return readdirSync(this.objectsDir).filter((id) => ID_RE.test(id) && this.hasObject(id));
  }

  /** Remove least-recently-used objects until the objects fit `maxSize`. Returns removed ids. */
  async prune(keep: Set<string> = new Set(), signal?: AbortSignal): Promise<string[]> {
    if (!Number.isFinite(this.maxSize)) return [];
    const release = await this.lock('store', signal);
    const removed: string[] = [];
    try {
      const objs = this.listObjects().map((id) => {
        const st = statSync(join(this.objectDir(id), 'info.json'));
        return { id, size: this.objectInfo(id)?.size ?? 0, used: st.mtimeMs };
      });
      let total = objs.reduce((a, o) => a + o.size, 0);
      objs.sort((a, b) => a.used - b.used);
      for (const o of objs) {
        if (total <= this.maxSize) break;
        if (keep.has(o.id) || this.inUse(o.id)) continue;
        // rename away first so the object disappears atomically, then delete at leisure
        const gone = this.tmpName(`prune-${o.id.slice(0, 12)}`);
        renameSync(this.objectDir(o.id), gone);
        rmSync(gone, { recursive: true, force: true });
        total -= o.size;
        removed.push(o.id);
      }
    } finally {
      release();
    }
    return removed;
  }

  /**
   * Remove leftovers of builds that died without cleaning up (SIGKILL, power loss): tmp/ entries
   * whose owning pid is gone, after unmounting whatever is still mounted below them and
   * detaching loop devices backed by files inside them.
   */
  cleanTmp(): void {
    const r = tryLock(join(this.locksDir, 'store.lock'));
    if (!r) return;
    try {
      for (const f of readdirSync(this.tmpDir)) {
        const m = /-(\d+)-[A-Za-z0-9]+$/.exec(f);
        if (!m) continue;
        try {
          process.kill(Number(m[1]), 0);
          continue; // its build is alive
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ESRCH') continue;
        }
        const d = join(this.tmpDir, f);
        try {
          for (const mp of mountsUnder(d).sort((a, b) => b.length - a.length)) unmountSync(mp, true);
          for (const dev of loopsBackedUnder(d)) runCleanup(['losetup', '--detach', dev], 3);
          removeTreeSync(d);
        } catch (err) {
          process.stderr.write(`kiln: cannot clean up ${d}: ${(err as Error).message}\n`);
        }
      }
      // lock and use marks of dead processes (they would be taken over anyway; keep the dir tidy)
      for (const f of readdirSync(this.locksDir)) {
        if (f === 'store.lock') continue;
        let pid: number;
        if (f.startsWith('use-')) pid = Number(f.split('-')[2]);
        else {
          try {
            const [p, host] = readFileSync(join(this.locksDir, f), 'utf8').split('\n');
            if (host && host !== hostname()) continue; // another machine's lock on a shared store
            pid = Number(p);
          } catch {
            continue;
          }
        }
        if (!Number.isInteger(pid) || pid <= 0) continue;
        try {
          process.kill(pid, 0);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ESRCH') rmSync(join(this.locksDir, f), { force: true });
        }
      }
    } finally {
      r();
    }
  }
}

/** Loop devices whose backing file lies under `dir`. */
function loopsBackedUnder(dir: string): string[] {
  const r = spawnSync('losetup', ['--list', '--noheadings', '--output', 'NAME,BACK-FILE'], { encoding: 'utf8' });
  if (r.status !== 0) return [];
  return r.stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter(([dev, file]) => dev && file && (file === dir || file.startsWith(dir + '/')))
    .map(([dev]) => dev!);
}
