// Metalink (XML) and mirrorlist (text) resolution: turn them into candidate base URLs, plus
// the repomd.xml hashes a metalink vouches for.
import { KilnError } from '../util/errors.js';
import { parseXmlString } from './xml.js';

export interface Metalink {
  /** base URLs (the repomd.xml URLs minus `repodata/repomd.xml`), best first */
  baseurls: string[];
  /** acceptable repomd.xml hashes (current + alternates), by type; empty when none given */
  hashes: { type: string; value: string }[];
}

const REPOMD_SUFFIX = /repodata\/repomd\.xml$/;

/** Parse a metalink document; only the repomd.xml file entry is used. */
export async function parseMetalink(text: string, repo: string, file: string): Promise<Metalink> {
  const urls: { url: string; pref: number; order: number }[] = [];
  const hashes: { type: string; value: string }[] = [];
  const stack: string[] = [];
  let inRepomd = false;
  let capture: 'url' | 'hash' | undefined;
  let buf = '';
  let hashType = '';
  let pref = 0;
  let protocol = '';
  await parseXmlString(
    text,
    {
      open(name, a) {
        stack.push(name);
        if (name === 'file') inRepomd = a.name === 'repomd.xml';
        else if (inRepomd && name === 'url') {
          capture = 'url';
          buf = '';
          pref = Number(a.preference ?? '0') || 0;
          protocol = (a.protocol ?? a.type ?? '').toLowerCase();
        } else if (inRepomd && name === 'hash') {
          capture = 'hash';
          buf = '';
          hashType = (a.type ?? '').toLowerCase();
        }
      },
      close(name) {
        stack.pop();
        if (capture === 'url' && name === 'url') {
          const url = buf.trim();
          const scheme = /^([a-z]+):/i.exec(url)?.[1]?.toLowerCase() ?? protocol;
          if (scheme === 'https' || scheme === 'http' || scheme === 'file') urls.push({ url, pref, order: urls.length });
        } else if (capture === 'hash' && name === 'hash') {
          if (hashType === 'sha256' || hashType === 'sha512' || hashType === 'sha1' || hashType === 'md5') hashes.push({ type: hashType, value: buf.trim().toLowerCase() });
        } else if (name === 'file') inRepomd = false;
        capture = undefined;
      },
      text(t) {
        buf += t;
      },
      wantText: () => capture !== undefined,
    },
    { repo, file },
  );
  // Higher preference first; https before http on ties; else document order.
  const rank = (u: string) => (u.startsWith('https:') ? 0 : u.startsWith('http:') ? 1 : 2);
  urls.sort((a, b) => b.pref - a.pref || rank(a.url) - rank(b.url) || a.order - b.order);
  const baseurls = urls.map((u) => u.url.replace(REPOMD_SUFFIX, ''));
  if (baseurls.length === 0) throw new KilnError(`repo "${repo}": metalink ${file} lists no http(s) URL for repomd.xml`);
  return { baseurls, hashes };
}

/** Parse a mirrorlist: one URL per line, `#` comments; http(s) and file URLs are kept in order. */
export function parseMirrorlist(text: string, repo: string, file: string): string[] {
  const out: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    if (/^(https?|file):\/\//i.test(line)) out.push(line);
  }
  if (out.length === 0) throw new KilnError(`repo "${repo}": mirrorlist ${file} lists no http(s) or file URL`);
  return out;
}

/** Metalinks served through a `mirrorlist=` setting are recognised, as dnf does. */
export function looksLikeMetalink(text: string): boolean {
  return /<metalink[\s>]/.test(text.slice(0, 4096));
}
