import type { EventSink } from '../events.js';
import type { Store } from '../store.js';

export interface SourceContext {
  store: Store;
  signal: AbortSignal;
  onEvent: EventSink;
  /** parallel downloads per source (default 4) */
  concurrency: number;
  /** attempts per URL for transient errors (default 3) */
  retries: number;
  /** first backoff delay; doubles each retry (default 500 ms) */
  retryDelayMs: number;
}

export interface SourceImpl {
  /** the source type, e.g. org.osbuild.curl */
  type: string;
  /** the store directory its items land in (sources/<contentType>/) */
  contentType: string;
  /** check items/options before anything runs; throw a KilnError naming the item */
  validate(desc: SourceDesc): void;
  /** is this item already in the store? */
  cached(store: Store, item: string, desc: SourceDesc): boolean;
  /** fetch the wanted items (all items of the source when omitted) into the store */
  fetch(desc: SourceDesc, wanted: string[], ctx: SourceContext): Promise<{ downloaded: number; bytes: number }>;
}

export interface SourceDesc {
  items: Record<string, unknown>;
  options?: Record<string, unknown>;
}

/** Run `fn` over `items` with at most `limit` in flight; the first failure stops new starts. */
export async function pool<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed: unknown;
  const workers = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
    while (failed === undefined && next < items.length) {
      const it = items[next++]!;
      try {
        await fn(it);
      } catch (err) {
        if (failed === undefined) failed = err;
      }
    }
  });
  await Promise.all(workers);
  if (failed !== undefined) throw failed;
}
