// Download one content-addressed file into the store: stream to a private temp name while
// hashing, verify the checksum, then rename into sources/<type>/<checksum>. A lock per checksum
// makes a second build wanting the same file wait and then find it, instead of fetching twice.
import { createReadStream, createWriteStream, rmSync, statSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { KilnError } from '../../util/errors.js';
import { hasherFor, parseChecksum } from '../checksum.js';
import { abortError } from '../proc.js';
import type { SourceContext } from './types.js';

export interface DownloadRequest {
  source: string;
  contentType: string;
  checksum: string;
  /** candidate URLs, tried in order (mirrors) */
  urls: string[];
  insecure?: boolean;
}

/** An error worth retrying (network trouble, server overload), as opposed to a definite answer. */
class TransientError extends Error {}

const TRANSIENT_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EAI_AGAIN', 'EPIPE', 'ENETUNREACH', 'EHOSTUNREACH', 'ECONNABORTED', 'ESOCKETTIMEDOUT']);

const IDLE_TIMEOUT_MS = 60_000;

function openHttp(url: string, insecure: boolean, signal: AbortSignal, redirects = 0): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const mod = u.protocol === 'https:' ? https : http;
    const req = mod.get(u, { signal, ...(u.protocol === 'https:' ? { rejectUnauthorized: !insecure } : {}), headers: { 'user-agent': 'kiln' } }, (res) => {
      const code = res.statusCode ?? 0;
      if (code >= 300 && code < 400 && res.headers.location) {
        res.resume();
        if (redirects >= 10) {
          reject(new KilnError('too many redirects'));
          return;
        }
        openHttp(new URL(res.headers.location, u).toString(), insecure, signal, redirects + 1).then(resolve, reject);
        return;
      }
      if (code !== 200) {
        res.resume();
        const msg = `HTTP ${code} ${res.statusMessage ?? ''}`.trim();
        reject(code >= 500 || code === 429 || code === 408 ? new TransientError(msg) : new KilnError(msg));
        return;
      }
      resolve(res);
    });
    req.setTimeout(IDLE_TIMEOUT_MS, () => req.destroy(Object.assign(new Error('no data for 60 s'), { code: 'ETIMEDOUT' })));
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (signal.aborted) reject(abortError(signal));
      else if (err.code && TRANSIENT_CODES.has(err.code)) reject(new TransientError(`${err.code}: ${err.message}`));
      else reject(new KilnError(err.message));
    });
  });
}

async function fetchOnce(req: DownloadRequest, url: string, dest: string, ctx: SourceContext): Promise<number> {
  const hash = hasherFor(req.checksum);
  let body: NodeJS.ReadableStream;
  let total: number | undefined;
  const u = new URL(url);
  if (u.protocol === 'file:') {
    const p = fileURLToPath(u);
    try {
      total = statSync(p).size;
    } catch {
      throw new KilnError(`no such file ${p}`);
    }
    body = createReadStream(p);
  } else if (u.protocol === 'http:' || u.protocol === 'https:') {
    const res = await openHttp(url, req.insecure ?? false, ctx.signal);
    const len = Number(res.headers['content-length']);
    total = Number.isFinite(len) && len > 0 ? len : undefined;
    body = res;
  } else {
    throw new KilnError(`unsupported URL scheme "${u.protocol}"`);
  }
  let bytes = 0;
  let reported = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      bytes += chunk.length;
      if (bytes - reported >= 256 * 1024) {
        reported = bytes;
        ctx.onEvent({ type: 'download-progress', source: req.source, item: req.checksum, url, bytes, ...(total ? { total } : {}) });
      }
      cb(null, chunk);
    },
  });
  try {
    await pipeline(body, meter, createWriteStream(dest, { mode: 0o644 }), { signal: ctx.signal });
  } catch (err) {
    if (ctx.signal.aborted) throw abortError(ctx.signal);
    const e = err as NodeJS.ErrnoException;
    if (e instanceof KilnError || e instanceof TransientError) throw e;
    if (e.code && TRANSIENT_CODES.has(e.code)) throw new TransientError(`${e.code}: ${e.message}`);
    if (e.code === 'ERR_STREAM_PREMATURE_CLOSE') throw new TransientError('connection closed early');
    throw new KilnError(e.message);
  }
  ctx.onEvent({ type: 'download-progress', source: req.source, item: req.checksum, url, bytes, ...(total ? { total } : {}) });
  const { algo } = parseChecksum(req.checksum);
  const got = `${algo}:${hash.digest('hex')}`;
  if (got !== req.checksum) throw new KilnError(`checksum mismatch: expected ${req.checksum}, got ${got} (${bytes} bytes)`);
  return bytes;
}

/**
 * Make sure the item is in the store. Returns the bytes downloaded (0 when it was cached,
 * including when another build fetched it while we waited for the lock).
 */
export async function downloadItem(req: DownloadRequest, ctx: SourceContext): Promise<number> {
  const { store } = ctx;
  parseChecksum(req.checksum, `${req.source} item`);
  const started = Date.now();
  if (store.hasSource(req.contentType, req.checksum)) {
    ctx.onEvent({ type: 'download-finish', source: req.source, item: req.checksum, bytes: 0, cached: true, duration: 0 });
    return 0;
  }
  const unlock = await store.lock(`source-${req.checksum}`, ctx.signal);
  try {
    if (store.hasSource(req.contentType, req.checksum)) {
      ctx.onEvent({ type: 'download-finish', source: req.source, item: req.checksum, bytes: 0, cached: true, duration: Date.now() - started });
      return 0;
    }
    const problems: string[] = [];
    for (const url of req.urls) {
      for (let attempt = 1; ; attempt++) {
        const tmp = store.tmpName('download');
        try {
          ctx.onEvent({ type: 'download-start', source: req.source, item: req.checksum, url });
          const bytes = await fetchOnce(req, url, tmp, ctx);
          store.admitSource(req.contentType, req.checksum, tmp);
          ctx.onEvent({ type: 'download-finish', source: req.source, item: req.checksum, bytes, cached: false, duration: Date.now() - started });
          return bytes;
        } catch (err) {
          rmSync(tmp, { force: true });
          if (ctx.signal.aborted) throw abortError(ctx.signal);
          const msg = (err as Error).message;
          if (err instanceof TransientError && attempt < ctx.retries) {
            const delayMs = ctx.retryDelayMs * 2 ** (attempt - 1);
            ctx.onEvent({ type: 'download-retry', source: req.source, item: req.checksum, url, attempt, error: msg, delayMs });
            await new Promise((r) => setTimeout(r, delayMs));
            continue;
          }
          problems.push(`${url}: ${msg}${attempt > 1 ? ` (after ${attempt} attempts)` : ''}`);
          break;
        }
      }
    }
    throw new KilnError(`${req.source}: cannot download ${req.checksum}: ${problems.join('; ') || 'no URL to download from'}`);
  } finally {
    unlock();
  }
}
