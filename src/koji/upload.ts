// Uploading files to a Koji hub's work directory (task output: tasks/<id % 10000>/<id>).
//
// Fast path (what kojid uses): raw chunks POSTed as application/octet-stream with the target
// in the query string; the hub answers each chunk with its size and adler32, which we check.
// At the end checkUpload(path, name, verify='adler32') must report the whole file's size and
// adler32. If a connection drops mid-upload we ask the hub (checkUpload) what it already has,
// verify that prefix against the local file, and continue from there (or start over if the
// prefix does not match).
//
// Legacy path: XML-RPC uploadFile with base64 chunks and sha256 digests, finished by a call
// with offset -1; kept as a fallback for hubs without the fast path.

import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import * as path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

import { KilnError } from '../util/errors.js';
import { KojiTransportError, KojiUploadError, LockError, RetryError, ServerOffline } from './faults.js';
import type { KojiSession } from './session.js';
import { kwargs, type XmlRpcStruct, type XmlRpcValue } from './xmlrpc.js';

const MOD_ADLER = 65521;
// Largest run of bytes before the sums must be reduced to stay exact (zlib's NMAX); JS numbers
// are exact to 2^53 so this is about speed, not overflow.
const NMAX = 5552;

/** Incremental adler32 (RFC 1950), as used by Koji's upload verification. */
export class Adler32 {
  private a = 1;
  private b = 0;

  update(buf: Uint8Array): this {
    let a = this.a;
    let b = this.b;
    let i = 0;
    const n = buf.length;
    while (i < n) {
      const end = Math.min(i + NMAX, n);
      for (; i < end; i++) {
        a += buf[i];
        b += a;
      }
      a %= MOD_ADLER;
      b %= MOD_ADLER;
    }
    this.a = a;
    this.b = b;
    return this;
  }

  digest(): number {
    return this.b * 65536 + this.a;
  }

  /** 8 lowercase hex digits, the form the hub returns. */
  hexdigest(): string {
    return this.digest().toString(16).padStart(8, '0');
  }

  copy(): Adler32 {
    const c = new Adler32();
    c.a = this.a;
    c.b = this.b;
    return c;
  }
}

export function adler32(buf: Uint8Array): number {
  return new Adler32().update(buf).digest();
}

/** The work-directory path Koji expects for a task's output. */
export function taskUploadDir(taskId: number): string {
  if (!Number.isSafeInteger(taskId) || taskId <= 0) throw new KilnError(`Koji task id ${taskId} is not a positive integer`);
  return `tasks/${taskId % 10000}/${taskId}`;
}

export interface UploadOptions {
  /** Name on the hub (default: basename of the local file). */
  name?: string;
  /** Bytes per request (default 1 MiB, koji's upload_blocksize). */
  chunkSize?: number;
  /** Replace an existing file of that name (default true, as kojid does for task output). */
  overwrite?: boolean;
  /** Koji volume (omitted when undefined or DEFAULT). */
  volume?: string;
  /** How many times to resume after a dropped connection / hub outage (default 5). */
  maxResumes?: number;
  /** Wait before the first resume; doubles each time (default 2000 ms). */
  resumeDelayMs?: number;
  onProgress?: (uploaded: number, total: number) => void;
  signal?: AbortSignal;
}

export interface UploadResult {
  /** Remote directory and name */
  path: string;
  name: string;
  size: number;
  /** adler32 (fast path) or sha256 (legacy path) of the whole file, hex */
  digest: string;
  /** Number of times the upload was resumed after an error. */
  resumes: number;
}

function remoteName(localFile: string, opts: UploadOptions): string {
  const name = opts.name ?? path.basename(localFile);
  if (!name || name.includes('/') || name.startsWith('.')) {
    throw new KilnError(`Koji upload of ${localFile}: remote name ${JSON.stringify(name)} must not be empty, contain "/" or start with "."`);
  }
  return name;
}

function checkRemoteDir(dir: string, localFile: string): void {
  if (!dir || dir.startsWith('/') || dir.split('/').includes('..')) {
    throw new KilnError(`Koji upload of ${localFile}: remote directory ${JSON.stringify(dir)} must be relative and must not contain ".."`);
  }
}

function volumeKw(opts: UploadOptions): Record<string, XmlRpcValue> {
  return opts.volume && opts.volume !== 'DEFAULT' ? { volume: opts.volume } : {};
}

// Errors after which the hub may simply not have received (all of) a chunk; a LockError means
// the hub is still busy writing the file for a request whose connection we lost.
function isResumable(e: unknown): boolean {
  if (e instanceof KojiTransportError) return e.httpStatus === undefined || e.httpStatus >= 500;
  return e instanceof ServerOffline || e instanceof LockError || e instanceof RetryError;
}

async function readExact(fh: FileHandle, buf: Buffer, len: number, pos: number, localFile: string): Promise<Buffer> {
  let got = 0;
  while (got < len) {
    const { bytesRead } = await fh.read(buf, got, len - got, pos + got);
    if (bytesRead === 0) throw new KojiUploadError(`Koji upload of ${localFile}: file shrank while uploading (short read at ${pos + got})`);
    got += bytesRead;
  }
  return buf.subarray(0, len);
}

interface HubFileInfo {
  size: number;
  hexdigest?: string;
}

function parseCheckUpload(v: XmlRpcValue, what: string): HubFileInfo | null {
  if (v === null) return null;
  const s = v as XmlRpcStruct;
  if (!s || typeof s !== 'object' || Array.isArray(s)) throw new KojiUploadError(`${what}: checkUpload returned ${JSON.stringify(v)}, expected a struct or nil`);
  const size = typeof s.size === 'bigint' ? Number(s.size) : s.size;
  if (typeof size !== 'number' || !Number.isInteger(size) || size < 0) throw new KojiUploadError(`${what}: checkUpload returned no valid size`);
  return { size, hexdigest: typeof s.hexdigest === 'string' ? s.hexdigest : undefined };
}

/**
 * Upload a local file with Koji's fast (raw POST) protocol into `remoteDir` on the hub.
 * Throws KojiUploadError when the hub's copy does not match (size or adler32).
 */
export async function fastUpload(session: KojiSession, localFile: string, remoteDir: string, opts: UploadOptions = {}): Promise<UploadResult> {
  const name = remoteName(localFile, opts);
  checkRemoteDir(remoteDir, localFile);
  const chunkSize = opts.chunkSize ?? 1048576;
  if (!Number.isSafeInteger(chunkSize) || chunkSize <= 0) throw new KilnError(`Koji upload of ${localFile}: chunkSize must be a positive integer, got ${chunkSize}`);
  const overwrite = opts.overwrite ?? true;
  const maxResumes = opts.maxResumes ?? 5;
  const baseDelay = opts.resumeDelayMs ?? 2000;
  const what = `Koji upload of ${localFile} to ${remoteDir}/${name}`;
  const volume = opts.volume && opts.volume !== 'DEFAULT' ? opts.volume : undefined;

  const checkUpload = async (): Promise<HubFileInfo | null> =>
    parseCheckUpload(await session.call('checkUpload', remoteDir, name, kwargs({ verify: 'adler32', ...volumeKw(opts) })), what);

  let fh: FileHandle;
  try {
    fh = await open(localFile, 'r');
  } catch (e) {
    throw new KilnError(`${what}: cannot open local file: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  try {
    const size = (await fh.stat()).size;
    if (!overwrite && (await checkUpload()) !== null) {
      throw new KojiUploadError(`${what}: the file already exists on the hub and overwrite is off`);
    }
    const buf = Buffer.alloc(Math.min(chunkSize, Math.max(size, 1)));
    let offset = 0;
    let full = new Adler32();
    let resumes = 0;
    // After we restart our own partial upload from 0 we must be allowed to replace it.
    let mustOverwrite = overwrite;
    let first = true;

    const resume = async (cause: unknown): Promise<void> => {
      for (;;) {
        if (++resumes > maxResumes) {
          throw new KojiUploadError(`${what}: gave up after ${maxResumes} resumes at offset ${offset}: ${(cause as Error).message}`);
        }
        await delay(baseDelay * 2 ** (resumes - 1), undefined, opts.signal ? { signal: opts.signal } : undefined);
        let have: HubFileInfo | null;
        try {
          have = await checkUpload();
        } catch (e) {
          if (!isResumable(e)) throw e;
          cause = e;
          continue;
        }
        // Which prefix of our file does the hub hold?
        let hubSize = have?.size ?? 0;
        let prefix = new Adler32();
        if (have && hubSize > 0) {
          if (hubSize <= size && have.hexdigest !== undefined) {
            for (let pos = 0; pos < hubSize; pos += buf.length) {
              const len = Math.min(buf.length, hubSize - pos);
              prefix.update(await readExact(fh, buf, len, pos, localFile));
            }
          }
          if (hubSize > size || prefix.hexdigest() !== have.hexdigest) {
            hubSize = 0;
            prefix = new Adler32();
            mustOverwrite = true;
          }
        }
        offset = hubSize;
        full = prefix;
        // an empty local file still has to be created if the hub has nothing yet
        first = size === 0 && have === null;
        return;
      }
    };

    while (first || offset < size) {
      first = false;
      const len = Math.min(buf.length, size - offset);
      const chunk = await readExact(fh, buf, len, offset, localFile);
      let res: XmlRpcStruct;
      try {
        res = await session.rawUpload(chunk, { filename: name, filepath: remoteDir, offset, overwrite: mustOverwrite, volume });
      } catch (e) {
        if (!isResumable(e)) throw e;
        await resume(e);
        continue;
      }
      const want = new Adler32().update(chunk).hexdigest();
      if (res.size !== len || res.hexdigest !== want) {
        throw new KojiUploadError(
          `${what}: hub stored a different chunk at offset ${offset}: size ${String(res.size)} adler32 ${String(res.hexdigest)}, sent size ${len} adler32 ${want}`,
        );
      }
      full.update(chunk);
      offset += len;
      opts.onProgress?.(offset, size);
    }
    if ((await fh.stat()).size !== size) throw new KojiUploadError(`${what}: local file changed size during upload`);

    let final: HubFileInfo | null;
    for (;;) {
      try {
        final = await checkUpload();
        break;
      } catch (e) {
        if (!isResumable(e) || ++resumes > maxResumes) throw e;
        await delay(baseDelay * 2 ** (resumes - 1), undefined, opts.signal ? { signal: opts.signal } : undefined);
      }
    }
    if (final === null) throw new KojiUploadError(`${what}: the hub has no such file after the upload`);
    if (final.size !== size) throw new KojiUploadError(`${what}: the hub's copy is ${final.size} bytes, local file is ${size}`);
    if (final.hexdigest !== full.hexdigest()) {
      throw new KojiUploadError(`${what}: the hub's copy has adler32 ${final.hexdigest}, local file has ${full.hexdigest()}`);
    }
    return { path: remoteDir, name, size, digest: full.hexdigest(), resumes };
  } finally {
    await fh.close();
  }
}

/**
 * Upload with the legacy XML-RPC uploadFile call (base64 chunks, sha256 per chunk, a final call
 * with offset -1 carrying the whole file's sha256). The hub answers false on a bad chunk; we
 * resend it up to 3 times like koji.
 */
export async function legacyUpload(session: KojiSession, localFile: string, remoteDir: string, opts: UploadOptions = {}): Promise<UploadResult> {
  const name = remoteName(localFile, opts);
  checkRemoteDir(remoteDir, localFile);
  const chunkSize = opts.chunkSize ?? 1048576;
  if (!Number.isSafeInteger(chunkSize) || chunkSize <= 0) throw new KilnError(`Koji upload of ${localFile}: chunkSize must be a positive integer, got ${chunkSize}`);
  const what = `Koji upload of ${localFile} to ${remoteDir}/${name}`;
  const extra = volumeKw(opts);
  const tail: XmlRpcValue[] = Object.keys(extra).length ? [kwargs(extra)] : [];
  let fh: FileHandle;
  try {
    fh = await open(localFile, 'r');
  } catch (e) {
    throw new KilnError(`${what}: cannot open local file: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  try {
    const size = (await fh.stat()).size;
    const whole = createHash('sha256');
    const buf = Buffer.alloc(chunkSize);
    const send = async (len: number, digest: string, offset: number, data: string) => {
      for (let tries = 0; ; tries++) {
        const ok = await session.call('uploadFile', remoteDir, name, len, ['sha256', digest], offset, data, ...tail);
        if (ok === true) return;
        if (tries >= 3) throw new KojiUploadError(`${what}: the hub rejected the chunk at offset ${offset} ${tries + 1} times`);
      }
    };
    let offset = 0;
    while (offset < size) {
      const len = Math.min(chunkSize, size - offset);
      const chunk = await readExact(fh, buf, len, offset, localFile);
      whole.update(chunk);
      await send(len, createHash('sha256').update(chunk).digest('hex'), offset, chunk.toString('base64'));
      offset += len;
      opts.onProgress?.(offset, size);
    }
    const digest = whole.digest('hex');
    await send(size, digest, -1, '');
    return { path: remoteDir, name, size, digest, resumes: 0 };
  } finally {
    await fh.close();
  }
}
