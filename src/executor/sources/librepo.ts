// org.osbuild.librepo: items {path, mirror}; options.mirrors {id: {url, type: baseurl|mirrorlist|
// metalink, max-parallels?, insecure?}}. Each mirror is resolved once to a list of base URLs
// (a metalink lists repomd.xml URLs; their repository root is the base), then every item is
// downloaded from the first base URL that works, falling back to the next ones.
import { KilnError } from '../../util/errors.js';
import { parseChecksum } from '../checksum.js';
import type { Store } from '../store.js';
import { downloadItem } from './download.js';
import { pool, type SourceContext, type SourceDesc, type SourceImpl } from './types.js';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import http from 'node:http';
import https from 'node:https';

const TYPE = 'org.osbuild.librepo';

interface Mirror {
  url: string;
  type: 'baseurl' | 'mirrorlist' | 'metalink';
  'max-parallels'?: number;
  insecure?: boolean;
}

function mirrorsOf(desc: SourceDesc): Record<string, Mirror> {
  const m = (desc.options as { mirrors?: Record<string, Mirror> } | undefined)?.mirrors;
  if (!m || typeof m !== 'object') throw new KilnError(`${TYPE}: options.mirrors is required`);
  return m;
}

function itemOf(item: string, v: unknown, mirrors: Record<string, Mirror>): { path: string; mirror: string } {
  const o = v as { path?: unknown; mirror?: unknown } | null;
  if (!o || typeof o.path !== 'string' || typeof o.mirror !== 'string') throw new KilnError(`${TYPE} item ${item}: expected {path, mirror}`);
  if (!mirrors[o.mirror]) throw new KilnError(`${TYPE} item ${item}: mirror "${o.mirror}" is not defined in options.mirrors`);
  return { path: o.path, mirror: o.mirror };
}

function getText(url: string, insecure: boolean, signal: AbortSignal, redirects = 0): Promise<string> {
  const u = new URL(url);
  if (u.protocol === 'file:') return Promise.resolve(readFileSync(fileURLToPath(u), 'utf8'));
  return new Promise((resolve, reject) => {
    const mod = u.protocol === 'https:' ? https : http;
    const req = mod.get(u, { signal, ...(u.protocol === 'https:' ? { rejectUnauthorized: !insecure } : {}) }, (res) => {
      const code = res.statusCode ?? 0;
      if (code >= 300 && code < 400 && res.headers.location && redirects < 10) {
        res.resume();
        getText(new URL(res.headers.location, u).toString(), insecure, signal, redirects + 1).then(resolve, reject);
        return;
      }
      if (code !== 200) {
        res.resume();
        reject(new KilnError(`HTTP ${code}`));
        return;
      }
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve(body));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

/** Base URLs from a mirrorlist (one URL a line, # comments) or a metalink (repomd.xml URLs). */
export function parseMirrorDoc(type: 'mirrorlist' | 'metalink', text: string): string[] {
  if (type === 'mirrorlist') {
    return text
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#') && /^(https?|file):\/\//.test(l));
  }
  const out: string[] = [];
  const re = /<url\b([^>]*)>([^<]+)<\/url>/g;
  const withPref: { url: string; pref: number }[] = [];
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const url = m[2]!.trim().replace(/&amp;/g, '&');
    if (!/^(https?|file):\/\//.test(url)) continue; // rsync and friends
    const pref = Number(/preference="(\d+)"/.exec(m[1]!)?.[1] ?? 0);
    withPref.push({ url: url.replace(/\/?repodata\/repomd\.xml$/, ''), pref });
  }
  withPref.sort((a, b) => b.pref - a.pref);
  for (const w of withPref) out.push(w.url);
  return out;
}

async function resolveMirror(id: string, m: Mirror, signal: AbortSignal): Promise<string[]> {
  if (m.type === 'baseurl') return [m.url];
  if (m.type !== 'mirrorlist' && m.type !== 'metalink') throw new KilnError(`${TYPE}: mirror "${id}": unknown type "${String(m.type)}"`);
  let text: string;
  try {
    text = await getText(m.url, m.insecure === true, signal);
  } catch (err) {
    throw new KilnError(`${TYPE}: mirror "${id}": cannot fetch ${m.type} ${m.url}: ${(err as Error).message}`);
  }
  const urls = parseMirrorDoc(m.type, text);
  if (urls.length === 0) throw new KilnError(`${TYPE}: mirror "${id}": ${m.type} ${m.url} lists no usable URL`);
  return urls;
}

function join(base: string, path: string): string {
  return base.replace(/\/+$/, '') + '/' + path.replace(/^\/+/, '');
}

export const librepoSource: SourceImpl = {
  type: TYPE,
  contentType: 'org.osbuild.files',
  validate(desc) {
    const mirrors = mirrorsOf(desc);
    for (const [id, m] of Object.entries(mirrors)) {
      if (!m || typeof m.url !== 'string' || !['baseurl', 'mirrorlist', 'metalink'].includes(m.type)) {
        throw new KilnError(`${TYPE}: mirror "${id}": expected {url, type: baseurl|mirrorlist|metalink}`);
      }
    }
    for (const [item, v] of Object.entries(desc.items ?? {})) {
      parseChecksum(item, `${TYPE} item`);
      itemOf(item, v, mirrors);
    }
  },
  cached(store: Store, item: string) {
    return store.hasSource('org.osbuild.files', item);
  },
  async fetch(desc, wanted, ctx: SourceContext) {
    const mirrors = mirrorsOf(desc);
    const todo = wanted.filter((i) => !ctx.store.hasSource('org.osbuild.files', i));
    const byMirror = new Map<string, string[]>();
    for (const item of todo) {
      const { mirror } = itemOf(item, desc.items[item], mirrors);
      byMirror.set(mirror, [...(byMirror.get(mirror) ?? []), item]);
    }
    let downloaded = 0;
    let bytes = 0;
    for (const [mid, items] of byMirror) {
      const m = mirrors[mid]!;
      const bases = await resolveMirror(mid, m, ctx.signal);
      const limit = m['max-parallels'] && m['max-parallels'] > 0 ? Math.min(m['max-parallels'], ctx.concurrency) : ctx.concurrency;
      await pool(items, limit, async (item) => {
        const { path } = itemOf(item, desc.items[item], mirrors);
        const n = await downloadItem({ source: TYPE, contentType: 'org.osbuild.files', checksum: item, urls: bases.map((b) => join(b, path)), insecure: m.insecure }, ctx).catch(
          (err: Error) => {
            throw new KilnError(`${TYPE}: item ${item} (${path}, mirror "${mid}"): ${err.message.replace(/^org\.osbuild\.librepo: cannot download [^:]+: /, '')}`);
          },
        );
        if (n > 0) downloaded++;
        bytes += n;
      });
    }
    return { downloaded, bytes };
  },
};

