// Downloading what an image build task produced (like `koji download-task --all`).
//
// Upstream's download-task lists each task's output with listTaskOutput and fetches
// `<topurl>/work/tasks/<id % 10000>/<id>/<file>`. That also works for imported builds because
// the hub leaves symlinks in the task dir, but work dirs are pruned after a while, while a
// completed build's files stay at `<topurl>/packages/<name>/<version>/<release>/images/`. So
// files that are archives of the task's COMPLETE build are fetched from there and checked
// against the archive's size and checksum; everything else comes from the task dir and is
// checked against the size the hub reports (listTaskOutput stat=True).
//
// Every file is written under a temporary name in the destination directory and renamed only
// once its size (and checksum, when known) matched, so a file with the final name is complete.
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { KilnError } from '../util/errors.js';
import { KojiFault } from './faults.js';
import type { KojiSession } from './session.js';
import { isFinished, taskStateName, TASK_STATE, type WatchOutput } from './watch.js';
import { kwargs, type XmlRpcStruct, type XmlRpcValue } from './xmlrpc.js';

export interface DownloadOptions {
  /** destination directory (created) */
  dir: string;
  /** where the hub's files are served, e.g. https://kojipkgs.fedoraproject.org */
  topurl: string;
  /** CA bundle (path) for an https topurl */
  serverCa?: string;
  /** also download *.log files (renamed <name>.<arch>.log, as koji does) */
  logs?: boolean;
  out?: WatchOutput;
  quiet?: boolean;
  /** attempts after the first for a failed transfer (default 3) */
  retries?: number;
  retryDelayMs?: number;
}

/** One file to fetch. */
export interface PlannedFile {
  taskId: number;
  /** name in the task's output / the build's images dir */
  name: string;
  /** path relative to the destination directory */
  dest: string;
  url: string;
  size: number;
  checksum?: { type: 'sha256' | 'md5' | 'sha1'; hex: string };
  source: 'build' | 'task';
}

export interface DownloadedFile extends PlannedFile {
  path: string;
  /** true when an identical file was already there */
  skipped: boolean;
}

const CHECKSUM_TYPES: Record<number, 'md5' | 'sha1' | 'sha256'> = { 0: 'md5', 1: 'sha1', 2: 'sha256' };

function isStruct(v: XmlRpcValue): v is XmlRpcStruct {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Uint8Array) && !(v instanceof Date);
}

function safeName(name: string, taskId: number): void {
  if (name === '' || name.startsWith('/') || name.split('/').some((p) => p === '..' || p === '')) {
    throw new KilnError(`task ${taskId}: refusing output file name ${JSON.stringify(name)}`);
  }
}

function encodePath(p: string): string {
  return p.split('/').map(encodeURIComponent).join('/');
}

/**
 * The archives of the COMPLETE build made by this task tree, by file name, with the URL of
 * the build's images dir. Empty for scratch builds and builds that are not complete.
 */
async function buildArchives(session: KojiSession, parentId: number, children: XmlRpcStruct[]): Promise<Map<string, { url: string; size: number; checksum?: PlannedFile['checksum'] }>> {
  const out = new Map<string, { url: string; size: number; checksum?: PlannedFile['checksum'] }>();
  const nvrs = new Set<string>();
  for (const c of children) {
    if (c.method !== 'imageBuilderBuildArch' || c.state !== TASK_STATE.CLOSED) continue;
    let r: XmlRpcValue;
    try {
      r = await session.call('getTaskResult', c.id as number);
    } catch (e) {
      if (e instanceof KojiFault) continue;
      throw e;
    }
    if (isStruct(r) && typeof r.name === 'string' && typeof r.version === 'string' && typeof r.release === 'string') nvrs.add(`${r.name}\0${r.version}\0${r.release}`);
  }
  for (const key of nvrs) {
    const [name, version, release] = key.split('\0') as [string, string, string];
    const b = await session.call('getBuild', `${name}-${version}-${release}`);
    // state 1 = COMPLETE; a build of another task with the same NVR is not ours
    if (!isStruct(b) || b.state !== 1 || b.task_id !== parentId) continue;
    const archives = await session.call('listArchives', kwargs({ buildID: b.id as number, type: 'image' }));
    if (!Array.isArray(archives)) continue;
    for (const a of archives) {
      if (!isStruct(a) || typeof a.filename !== 'string') continue;
      const type = CHECKSUM_TYPES[Number(a.checksum_type)];
      out.set(a.filename, {
        url: `packages/${encodePath(name)}/${encodePath(version)}/${encodePath(release)}/images/${encodePath(a.filename)}`,
        size: Number(a.size),
        ...(type && typeof a.checksum === 'string' ? { checksum: { type, hex: a.checksum } } : {}),
      });
    }
  }
  return out;
}

/** Decide what to download for a task tree (no file is written). */
export async function planTaskDownload(session: KojiSession, taskId: number, o: Pick<DownloadOptions, 'topurl' | 'logs'>): Promise<PlannedFile[]> {
  const info = await session.call('getTaskInfo', taskId);
  if (!isStruct(info)) throw new KilnError(`Koji hub ${session.hub}: no task ${taskId}`);
  const state = Number(info.state);
  if (state === TASK_STATE.FAILED) throw new KilnError(`task ${taskId} failed: nothing to download (\`kiln koji watch ${taskId}\` shows why)`);
  if (state === TASK_STATE.CANCELED) throw new KilnError(`task ${taskId} was canceled: nothing to download`);
  if (state !== TASK_STATE.CLOSED) {
    throw new KilnError(`task ${taskId} has not finished yet (${taskStateName(state).toLowerCase()}); wait for it with \`kiln koji watch ${taskId}\``);
  }
  const children = ((await session.call('getTaskChildren', taskId)) as XmlRpcValue[]).filter(isStruct);
  const tasks: XmlRpcStruct[] = [info];
  for (const c of children) {
    const s = Number(c.state);
    if (s === TASK_STATE.CLOSED) tasks.push(c);
    else if (!isFinished(s)) throw new KilnError(`child task ${c.id} of task ${taskId} has not finished yet (${taskStateName(s).toLowerCase()})`);
    // FAILED/CANCELED children (failable arches) have nothing worth taking
  }
  tasks.sort((a, b) => Number(a.id) - Number(b.id));
  const archives = await buildArchives(session, taskId, children);
  const topurl = o.topurl.replace(/\/+$/, '');
  const plan: PlannedFile[] = [];
  for (const t of tasks) {
    const id = Number(t.id);
    const arch = String(t.arch ?? 'noarch');
    const listing = await session.call('listTaskOutput', id, kwargs({ stat: true }));
    if (!isStruct(listing)) throw new KilnError(`Koji hub ${session.hub}: listTaskOutput(${id}, stat=True) did not return a struct`);
    for (const [name, st] of Object.entries(listing)) {
      safeName(name, id);
      const isLog = name.endsWith('.log');
      if (isLog && !o.logs) continue;
      // every task has root.log, mock_output.log...: add the arch so they do not collide
      const dest = isLog && !name.includes(arch) ? `${name.slice(0, -'.log'.length)}.${arch}.log` : name;
      const a = archives.get(name);
      if (a) {
        plan.push({ taskId: id, name, dest, url: `${topurl}/${a.url}`, size: a.size, ...(a.checksum ? { checksum: a.checksum } : {}), source: 'build' });
      } else {
        const size = isStruct(st) ? Number(st.st_size) : NaN;
        if (!Number.isFinite(size)) throw new KilnError(`Koji hub ${session.hub}: listTaskOutput(${id}) gave no size for ${name}`);
        plan.push({ taskId: id, name, dest, url: `${topurl}/work/tasks/${id % 10000}/${id}/${encodePath(name)}`, size, source: 'task' });
      }
    }
  }
  // same name from two tasks: keep both, the later ones under <task id>/
  const used = new Set<string>();
  for (const f of plan) {
    if (used.has(f.dest)) f.dest = `${f.taskId}/${f.dest}`;
    used.add(f.dest);
  }
  return plan;
}

export class HttpStatusError extends Error {
  constructor(readonly status: number, url: string) {
    super(`GET ${url}: HTTP ${status}`);
  }
}

function get(url: string, ca: Buffer | undefined, signal?: AbortSignal, redirects = 5): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const lib = u.protocol === 'https:' ? https : http;
    const req = lib.get(u, { ...(ca && u.protocol === 'https:' ? { ca } : {}), agent: false, ...(signal ? { signal } : {}) }, (res) => {
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && res.headers.location && redirects > 0) {
        res.resume();
        resolve(get(new URL(res.headers.location, u).href, ca, signal, redirects - 1));
      } else if (status !== 200) {
        res.resume();
        reject(new HttpStatusError(status, url));
      } else resolve(res);
    });
    req.setTimeout(300_000, () => req.destroy(new Error(`no data for 300 s from ${url}`)));
    req.on('error', reject);
  });
}

async function fileMatches(p: string, f: PlannedFile): Promise<boolean> {
  let st: fs.Stats;
  try {
    st = fs.statSync(p);
  } catch {
    return false;
  }
  if (!st.isFile() || st.size !== f.size) return false;
  if (!f.checksum) return true;
  const h = createHash(f.checksum.type);
  for await (const chunk of fs.createReadStream(p)) h.update(chunk as Buffer);
  return h.digest('hex') === f.checksum.hex;
}

/** A file the hub serves, with the size (and checksum, when known) it records for it. */
export interface VerifiableFile {
  url: string;
  size: number;
  checksum?: { type: 'sha256' | 'md5' | 'sha1'; hex: string };
}

/**
 * Fetch one file to a temporary name beside `dest`, verify size and checksum, rename. Used by
 * `kiln koji download` and by the compose koji backends. HTTP failures are HttpStatusError
 * (with `.status`), verification failures KilnError.
 */
export async function fetchVerified(f: VerifiableFile, dest: string, ca: Buffer | undefined, signal?: AbortSignal): Promise<void> {
  const tmp = path.join(path.dirname(dest), `.${path.basename(dest)}.kiln-part-${randomBytes(4).toString('hex')}`);
  try {
    const res = await get(f.url, ca, signal);
    const h = f.checksum ? createHash(f.checksum.type) : undefined;
    let size = 0;
    const ws = fs.createWriteStream(tmp, { flags: 'wx' });
    await new Promise<void>((resolve, reject) => {
      res.on('data', (d: Buffer) => {
        size += d.length;
        h?.update(d);
      });
      res.on('aborted', () => reject(new Error(`GET ${f.url}: connection closed before the end`)));
      res.on('error', reject);
      ws.on('error', reject);
      ws.on('finish', () => resolve());
      res.pipe(ws);
    });
    if (!res.complete) throw new Error(`GET ${f.url}: connection closed before the end`);
    if (size !== f.size) throw new KilnError(`${f.url}: got ${size} bytes, the hub says ${f.size}`);
    if (h && f.checksum) {
      const got = h.digest('hex');
      if (got !== f.checksum.hex) throw new KilnError(`${f.url}: ${f.checksum.type} ${got} does not match the build's ${f.checksum.hex}`);
    }
    fs.renameSync(tmp, dest);
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

function transient(e: unknown): boolean {
  if (e instanceof HttpStatusError) return e.status >= 500 || e.status === 408 || e.status === 429;
  if (e instanceof KilnError) return false; // size/checksum mismatch: say so, do not loop
  return true; // network errors
}

/** Download the output of a finished task tree into options.dir. */
export async function downloadTask(session: KojiSession, taskId: number, o: DownloadOptions): Promise<DownloadedFile[]> {
  const out = o.out ?? process.stdout;
  const say = (s: string) => void (o.quiet || out.write(s + '\n'));
  const plan = await planTaskDownload(session, taskId, o);
  if (plan.length === 0) {
    say(`task ${taskId}: no files to download${o.logs ? '' : ' (logs are skipped without --logs)'}`);
    return [];
  }
  let ca: Buffer | undefined;
  if (o.serverCa) {
    try {
      ca = fs.readFileSync(o.serverCa);
    } catch (e) {
      throw new KilnError(`server CA file ${o.serverCa}: cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
  fs.mkdirSync(o.dir, { recursive: true });
  const retries = o.retries ?? 3;
  const done: DownloadedFile[] = [];
  let n = 0;
  for (const f of plan) {
    n++;
    const dest = path.join(o.dir, f.dest);
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    if (await fileMatches(dest, f)) {
      say(`[${n}/${plan.length}] ${f.dest}: already downloaded`);
      done.push({ ...f, path: dest, skipped: true });
      continue;
    }
    say(`[${n}/${plan.length}] ${f.dest} (${f.size} bytes, from ${f.source === 'build' ? 'the build' : `task ${f.taskId}`})`);
    for (let attempt = 0; ; attempt++) {
      try {
        await fetchVerified(f, dest, ca);
        break;
      } catch (e) {
        if (!transient(e) || attempt >= retries) {
          throw e instanceof KilnError ? e : new KilnError(`downloading ${f.name} of task ${f.taskId}: ${(e as Error).message}`);
        }
        const wait = (o.retryDelayMs ?? 2000) * 2 ** attempt;
        say(`  ${(e as Error).message}; retrying in ${wait / 1000} s`);
        await sleep(wait);
      }
    }
    done.push({ ...f, path: dest, skipped: false });
  }
  return done;
}
