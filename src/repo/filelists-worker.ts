// Worker thread that decompresses and parses filelists.xml while the main thread parses
// primary.xml: on a Fedora-sized repository filelists is as big as primary, and this takes it
// off the critical path of a cold load. The result is a compact FileStore (filelists.ts): its
// typed arrays are transferred, not copied, and the worker's heap (with all the per-path
// garbage of parsing) is released when the worker exits. Falls back to the main thread if
// workers are unavailable.
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { KilnError } from '../util/errors.js';
import { decompressToText } from './decompress.js';
import { FileStore, parseFilelistsCompact, type CompactFilelists, type FileStoreParts } from './filelists.js';

interface Job {
  data: Uint8Array;
  href: string;
  repo: string;
}

/** Entry metadata is joined with NUL (cannot occur in XML): one string clones faster than 3 arrays. */
type Reply = { ok: true; parts: FileStoreParts; pkgids: string; names: string; archs: string; n: number } | { ok: false; message: string; kiln: boolean };

/**
 * An upper bound of the bytes the paths need: the decompressed size (gzip stores it, mod 2^32,
 * in its last 4 bytes), else a generous multiple of the compressed size. Over-estimating is
 * cheap (see FileStoreBuilder); under-estimating only costs a copy.
 */
function pathBytesHint(data: Buffer): number {
  const cap = 1 << 30;
  if (data.length >= 18 && data[0] === 0x1f && data[1] === 0x8b) {
    const isize = data.readUInt32LE(data.length - 4);
    if (isize > data.length) return Math.min(cap, isize);
  }
  return Math.min(cap, Math.max(1 << 20, data.length * 12));
}

async function run(job: Job): Promise<CompactFilelists> {
  const buf = Buffer.from(job.data.buffer, job.data.byteOffset, job.data.byteLength);
  return parseFilelistsCompact(decompressToText(buf, job.href, `repo "${job.repo}" file ${job.href}`), { repo: job.repo, file: job.href }, pathBytesHint(buf));
}

if (!isMainThread && parentPort && (workerData as { kilnFilelists?: boolean })?.kilnFilelists) {
  const port = parentPort;
  port.once('message', (job: Job) => {
    run(job).then(
      (fl) => {
        const s = fl.store;
        const parts: FileStoreParts = { bytes: s.bytes, fileOff: s.fileOff, entryFile: s.entryFile, table: s.table };
        const reply: Reply = { ok: true, parts, pkgids: fl.pkgids.join('\0'), names: fl.names.join('\0'), archs: fl.archs.join('\0'), n: fl.pkgids.length };
        port.postMessage(reply, [s.bytes.buffer, s.fileOff.buffer, s.entryFile.buffer, s.table.buffer] as ArrayBuffer[]);
      },
      (e: unknown) => port.postMessage({ ok: false, message: (e as Error).message ?? String(e), kiln: e instanceof KilnError } satisfies Reply),
    );
  });
}

const YOUNG_MB = 8;

const splitN = (s: string, n: number): string[] => (n === 0 ? [] : s.split('\0'));

/** Parse filelists data in a worker thread (main-thread fallback if one cannot be started). */
export function parseFilelistsInWorker(data: Buffer, href: string, repo: string): Promise<CompactFilelists> {
  let worker: Worker;
  try {
    // A small young generation: the worker's garbage is short-lived (per-path strings), and
    // its heap adds to the process's peak RSS while primary.xml is parsed on the main thread.
    worker = new Worker(new URL(import.meta.url), { workerData: { kilnFilelists: true }, resourceLimits: { maxYoungGenerationSizeMb: YOUNG_MB } });
  } catch {
    return run({ data, href, repo });
  }
  return new Promise<CompactFilelists>((resolve, reject) => {
    let settled = false;
    worker.once('message', (r: Reply) => {
      settled = true;
      void worker.terminate();
      if (r.ok) resolve({ store: new FileStore(r.parts), pkgids: splitN(r.pkgids, r.n), names: splitN(r.names, r.n), archs: splitN(r.archs, r.n) });
      else reject(r.kiln ? new KilnError(r.message) : new Error(r.message));
    });
    worker.once('error', (e) => {
      if (!settled) {
        settled = true;
        reject(e);
      }
    });
    worker.once('exit', (code) => {
      if (!settled) {
        settled = true;
        reject(new Error(`filelists worker exited with code ${code}`));
      }
    });
    // Copy into a transferable buffer: `data` may be a slice of Node's shared pool.
    const copy = new Uint8Array(data.byteLength);
    copy.set(data);
    worker.postMessage({ data: copy, href, repo } satisfies Job, [copy.buffer]);
  });
}
