// org.osbuild.inline: the data is in the manifest (base64, or lzma/xz + base64); verify and store.
import { writeFileSync, rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { KilnError } from '../../util/errors.js';
import { parseChecksum } from '../checksum.js';
import type { Store } from '../store.js';
import { run } from '../proc.js';
import type { SourceContext, SourceDesc, SourceImpl } from './types.js';

const TYPE = 'org.osbuild.inline';

interface InlineItem {
  encoding: 'base64' | 'lzma+base64';
  data: string;
}

function itemOf(item: string, v: unknown): InlineItem {
  const o = v as Partial<InlineItem> | null;
  if (!o || typeof o !== 'object' || typeof o.data !== 'string' || (o.encoding !== 'base64' && o.encoding !== 'lzma+base64')) {
    throw new KilnError(`${TYPE} item ${item}: expected {encoding: base64|lzma+base64, data: string}`);
  }
  return o as InlineItem;
}

export const inlineSource: SourceImpl = {
  type: TYPE,
  contentType: 'org.osbuild.files',
  validate(desc) {
    for (const [item, v] of Object.entries(desc.items ?? {})) {
      parseChecksum(item, `${TYPE} item`);
      itemOf(item, v);
    }
  },
  cached(store: Store, item: string) {
    return store.hasSource('org.osbuild.files', item);
  },
  async fetch(desc: SourceDesc, wanted: string[], ctx: SourceContext) {
    let downloaded = 0;
    let bytes = 0;
    for (const item of wanted) {
      if (ctx.store.hasSource('org.osbuild.files', item)) continue;
      const { encoding, data } = itemOf(item, desc.items[item]);
      let buf = Buffer.from(data, 'base64');
      if (encoding === 'lzma+base64') {
        // xz in auto mode reads both .xz and legacy .lzma streams, as Python's lzma does
        const out = await run(['sh', '-c', 'xz --decompress --format=auto --stdout | base64 -w0'], { input: buf, what: `${TYPE} item ${item}`, signal: ctx.signal });
        buf = Buffer.from(out.stdout, 'base64');
      }
      const { algo } = parseChecksum(item);
      const got = `${algo}:${createHash(algo).update(buf).digest('hex')}`;
      if (got !== item) throw new KilnError(`${TYPE}: item ${item}: checksum mismatch: expected ${item}, got ${got}`);
      const tmp = ctx.store.tmpName('inline');
      try {
        writeFileSync(tmp, buf, { mode: 0o644 });
        ctx.store.admitSource('org.osbuild.files', item, tmp);
      } finally {
        rmSync(tmp, { force: true });
      }
      downloaded++;
      bytes += buf.length;
      ctx.onEvent({ type: 'download-finish', source: TYPE, item, bytes: buf.length, cached: false, duration: 0 });
    }
    return { downloaded, bytes };
  },
};
