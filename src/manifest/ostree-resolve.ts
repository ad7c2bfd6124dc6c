// Resolve an ostree ref to a commit checksum at manifest time, the way upstream does it: the
// repository is read over plain HTTP(S) (or file://) — `<url>/refs/heads/<ref>` holds the commit
// checksum of the branch head. A `mirrorlist=` URL is first turned into the first mirror it lists.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { KilnError } from '../util/errors.js';
import type { ResolvedCommit } from './types.js';

export interface ResolveOptions {
  /** per request timeout, ms (default 30 s) */
  timeoutMs?: number;
}

const CHECKSUM_RE = /^[0-9a-f]{64}$/;
const MIRRORLIST_PREFIX = 'mirrorlist=';

/** True when `s` is a full ostree commit checksum (sha256, lower-case hex). */
export function isCommitChecksum(s: string): boolean {
  return CHECKSUM_RE.test(s);
}

/**
 * Resolve `ref` in the repository at `url` to a commit. A ref that is already a checksum is used
 * as is (no network). Errors name the URL/ref and what went wrong.
 */
export async function resolveOstreeCommit(url: string, ref: string, opts: ResolveOptions = {}): Promise<ResolvedCommit> {
  if (!url) throw new KilnError(`ostree: no repository URL given to resolve ref "${ref}" (use --ostree-url)`);
  if (!ref) throw new KilnError(`ostree: no ref given for repository ${url} (use --ostree-ref)`);
  if (isCommitChecksum(ref)) return { url, ref, checksum: ref };

  let base = url;
  if (url.startsWith(MIRRORLIST_PREFIX)) base = await firstMirror(url.slice(MIRRORLIST_PREFIX.length), opts);

  const refUrl = joinUrl(base, `refs/heads/${ref}`);
  const body = await fetchText(refUrl, opts, `ostree ref "${ref}" in repository ${url}`);
  const checksum = body.trim();
  if (!isCommitChecksum(checksum)) {
    const shown = checksum.length > 80 ? `${checksum.slice(0, 80)}...` : checksum;
    throw new KilnError(
      `ostree ref "${ref}" in repository ${url}: ${refUrl} does not contain a commit checksum (got "${shown}")`,
    );
  }
  // The manifest keeps the URL as given: osbuild's ostree source understands `mirrorlist=` itself.
  return { url, ref, checksum };
}

/** Fetch a mirrorlist and return its first http(s) entry (comments and blank lines skipped). */
async function firstMirror(listUrl: string, opts: ResolveOptions): Promise<string> {
  const text = await fetchText(listUrl, opts, `ostree mirrorlist ${listUrl}`);
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    if (/^https?:\/\//.test(line)) return line;
  }
  throw new KilnError(`ostree mirrorlist ${listUrl}: no http(s) mirror listed`);
}

function joinUrl(base: string, rel: string): string {
  return base.endsWith('/') ? base + rel : `${base}/${rel}`;
}

/** GET a text resource over http(s) or read it from a file:// URL. `what` names it in errors. */
async function fetchText(target: string, opts: ResolveOptions, what: string): Promise<string> {
  let parsed: URL;
  try {
    parsed = new URL(target);
  } catch {
    throw new KilnError(`${what}: invalid URL ${target}`);
  }
  if (parsed.protocol === 'file:') {
    try {
      return await readFile(fileURLToPath(parsed), 'utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new KilnError(`${what}: cannot read ${target}${code === 'ENOENT' ? ' (not found)' : `: ${(e as Error).message}`}`);
    }
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new KilnError(`${what}: unsupported URL scheme "${parsed.protocol}" in ${target} (use http, https or file)`);
  }
  let res: Response;
  try {
    res = await fetch(parsed, { signal: AbortSignal.timeout(opts.timeoutMs ?? 30_000), redirect: 'follow' });
  } catch (e) {
    if ((e as Error).name === 'TimeoutError') throw new KilnError(`${what}: cannot reach ${target} (no answer within ${opts.timeoutMs ?? 30_000} ms)`);
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    const why = cause?.code ?? cause?.message ?? (e as Error).message;
    throw new KilnError(`${what}: cannot reach ${target} (${why})`);
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw new KilnError(`${what}: GET ${target} failed with HTTP ${res.status}${res.status === 404 ? ' (not found)' : ''}`);
  }
  return await res.text();
}
