// Download one URL into memory: file:// through fs, http(s):// through Node's global fetch
// (undici). Errors are KilnErrors that name the repository and the URL.
import fs from 'node:fs/promises';
import https from 'node:https';
import { fileURLToPath } from 'node:url';
import { KilnError } from '../util/errors.js';

export interface FetchOptions {
  /** repository label for error messages */
  repo: string;
  /** whole-request timeout (connect + body); default 60 s */
  timeoutMs?: number;
  /** skip TLS verification (upstream `ignore_ssl`) */
  ignoreSsl?: boolean;
}

export const DEFAULT_TIMEOUT_MS = 60_000;

function describeCause(e: unknown): string {
  const err = e as { name?: string; message?: string; code?: string; cause?: { code?: string; message?: string } };
  if (err?.name === 'TimeoutError' || err?.name === 'AbortError') return 'timed out';
  const code = err?.cause?.code ?? err?.code;
  const msg = err?.cause?.message ?? err?.message ?? String(e);
  if (code === 'ECONNREFUSED') return 'connection refused';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `host not found (${msg})`;
  return code ? `${code}: ${msg}` : msg;
}

function httpsInsecure(url: string, timeoutMs: number): Promise<{ status: number; statusText: string; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { rejectUnauthorized: false, timeout: timeoutMs }, (res) => {
      if (res.statusCode && res.statusCode >= 300 && res.statusCode < 400 && res.headers.location) {
        res.resume();
        httpsInsecure(new URL(res.headers.location, url).toString(), timeoutMs).then(resolve, reject);
        return;
      }
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, statusText: res.statusMessage ?? '', body: Buffer.concat(parts) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timed out'), { name: 'TimeoutError' })));
    req.on('error', reject);
  });
}

/** Fetch `url` completely. Throws KilnError(`repo "<id>": cannot fetch <url>: <reason>`). */
export async function fetchBytes(url: string, opts: FetchOptions): Promise<Buffer> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const fail = (reason: string): never => {
    throw new KilnError(`repo "${opts.repo}": cannot fetch ${url}: ${reason}`);
  };
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return fail('not a valid URL');
  }
  if (parsed.protocol === 'file:') {
    try {
      return await fs.readFile(fileURLToPath(parsed));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      return fail(code === 'ENOENT' ? 'no such file' : describeCause(e));
    }
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return fail(`unsupported URL scheme ${parsed.protocol}`);
  try {
    if (opts.ignoreSsl && parsed.protocol === 'https:') {
      const r = await httpsInsecure(url, timeoutMs);
      if (r.status < 200 || r.status >= 300) return fail(`HTTP ${r.status} ${r.statusText}`.trim());
      return r.body;
    }
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'follow' });
    if (!res.ok) {
      await res.body?.cancel().catch(() => {});
      return fail(`HTTP ${res.status} ${res.statusText}`.trim());
    }
    return Buffer.from(await res.arrayBuffer());
  } catch (e) {
    if (e instanceof KilnError) throw e;
    return fail(describeCause(e));
  }
}

/** Fetch a small text document (repomd, metalink, mirrorlist, gpg key). */
export async function fetchText(url: string, opts: FetchOptions): Promise<string> {
  return (await fetchBytes(url, opts)).toString('utf8');
}
