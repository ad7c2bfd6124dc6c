// org.osbuild.curl: items map a checksum to a URL (or {url, insecure}); http, https and file URLs.
import { KilnError } from '../../util/errors.js';
import { parseChecksum } from '../checksum.js';
import type { Store } from '../store.js';
import { downloadItem } from './download.js';
import { pool, type SourceContext, type SourceDesc, type SourceImpl } from './types.js';

const TYPE = 'org.osbuild.curl';

function itemsOf(desc: SourceDesc): Record<string, unknown> {
  // osbuild accepts the old name `urls` for `items`
  return desc.items ?? ((desc as unknown as { urls?: Record<string, unknown> }).urls ?? {});
}

function entry(item: string, v: unknown): { url: string; insecure: boolean } {
  if (typeof v === 'string') return { url: v, insecure: false };
  if (v && typeof v === 'object' && typeof (v as { url?: unknown }).url === 'string') {
    const o = v as { url: string; insecure?: boolean; secrets?: unknown };
    if (o.secrets) throw new KilnError(`${TYPE} item ${item}: "secrets" (subscription certificates) is not supported`);
    return { url: o.url, insecure: o.insecure === true };
  }
  throw new KilnError(`${TYPE} item ${item}: expected a URL string or {url}`);
}

export const curlSource: SourceImpl = {
  type: TYPE,
  contentType: 'org.osbuild.files',
  validate(desc) {
    for (const [item, v] of Object.entries(itemsOf(desc))) {
      parseChecksum(item, `${TYPE} item`);
      const { url } = entry(item, v);
      let u: URL;
      try {
        u = new URL(url);
      } catch {
        throw new KilnError(`${TYPE} item ${item}: invalid URL "${url}"`);
      }
      if (!['http:', 'https:', 'file:'].includes(u.protocol)) throw new KilnError(`${TYPE} item ${item}: unsupported URL scheme in "${url}"`);
    }
  },
  cached(store: Store, item: string) {
    return store.hasSource('org.osbuild.files', item);
  },
  async fetch(desc, wanted, ctx: SourceContext) {
    const items = itemsOf(desc);
    let downloaded = 0;
    let bytes = 0;
    await pool(wanted, ctx.concurrency, async (item) => {
      const { url, insecure } = entry(item, items[item]);
      const n = await downloadItem({ source: TYPE, contentType: 'org.osbuild.files', checksum: item, urls: [url], insecure }, ctx).catch((err: Error) => {
        throw new KilnError(`${TYPE}: item ${item} from ${url}: ${err.message.replace(/^org\.osbuild\.curl: cannot download [^:]+: /, '')}`);
      });
      if (n > 0) downloaded++;
      bytes += n;
    });
    return { downloaded, bytes };
  },
};
