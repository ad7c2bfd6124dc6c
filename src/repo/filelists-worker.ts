// Worker thread that decompresses and parses filelists.xml while the main thread parses
// primary.xml: on a Fedora-sized repository filelists is as big as primary, and this takes it
// off the critical path of a cold load. Falls back to the main thread if workers are unavailable.
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { KilnError } from '../util/errors.js';
import { decompressToText } from './decompress.js';
import { parseFilelists, type FilelistEntry } from './filelists.js';

interface Job {
  data: Uint8Array;
  href: string;
  repo: string;
}

type Reply = { ok: true; entries: FilelistEntry[] } | { ok: false; message: string; kiln: boolean };

async function run(job: Job): Promise<FilelistEntry[]> {
  const buf = Buffer.from(job.data.buffer, job.data.byteOffset, job.data.byteLength);
  return parseFilelists(decompressToText(buf, job.href, `repo "${job.repo}" file ${job.href}`), { repo: job.repo, file: job.href });
}

if (!isMainThread && parentPort && (workerData as { kilnFilelists?: boolean })?.kilnFilelists) {
  const port = parentPort;
  port.once('message', (job: Job) => {
    run(job).then(
      (entries) => port.postMessage({ ok: true, entries } satisfies Reply),
      (e: unknown) => port.postMessage({ ok: false, message: (e as Error).message ?? String(e), kiln: e instanceof KilnError } satisfies Reply),
    );
  });
}

/** Parse filelists data in a worker thread (main-thread fallback if one cannot be started). */
export function parseFilelistsInWorker(data: Buffer, href: string, repo: string): Promise<FilelistEntry[]> {
  let worker: Worker;
  try {
    worker = new Worker(new URL(import.meta.url), { workerData: { kilnFilelists: true } });
  } catch {
    return run({ data, href, repo });
  }
  return new Promise<FilelistEntry[]>((resolve, reject) => {
    let settled = false;
    worker.once('message', (r: Reply) => {
      settled = true;
      void worker.terminate();
      if (r.ok) resolve(r.entries);
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
