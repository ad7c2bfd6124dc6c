// Shared pieces for the executor tests: a small HTTP server with hooks, leak checks (loop devices,
// mounts, temp dirs), event collection, hashing.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import assert from 'node:assert/strict';
import type { ExecutorEvent } from '../src/executor/events.js';

export function sha256(data: string | Buffer): string {
  return 'sha256:' + createHash('sha256').update(data).digest('hex');
}

export interface Srv {
  url: string;
  hits: Map<string, number>;
  maxInflight: number;
  /** return true when the hook answered the request itself */
  hook?: (path: string, res: http.ServerResponse, hit: number) => boolean;
  delayMs: number;
  close(): Promise<void>;
}

export async function serve(files: Record<string, Buffer | string>): Promise<Srv> {
  let inflight = 0;
  const srv: Srv = {
    url: '',
    hits: new Map(),
    maxInflight: 0,
    delayMs: 0,
    close: () => new Promise((r) => server.close(() => r())),
  };
  const server = http.createServer((req, res) => {
    const p = new URL(req.url ?? '/', 'http://x').pathname;
    const hit = (srv.hits.get(p) ?? 0) + 1;
    srv.hits.set(p, hit);
    inflight++;
    srv.maxInflight = Math.max(srv.maxInflight, inflight);
    res.on('close', () => inflight--);
    setTimeout(() => {
      if (srv.hook?.(p, res, hit)) return;
      const body = files[p];
      if (body === undefined) {
        res.writeHead(404).end('not found');
        return;
      }
      const buf = Buffer.from(body);
      res.writeHead(200, { 'content-length': buf.length }).end(buf);
    }, srv.delayMs);
  });
  server.keepAliveTimeout = 100;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  srv.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return srv;
}

/** Loop devices whose backing file is under `dir`. */
export function loopsUnder(dir: string): string[] {
  const out = execFileSync('losetup', ['--list', '--noheadings', '--output', 'NAME,BACK-FILE'], { encoding: 'utf8' });
  return out
    .split('\n')
    .filter((l) => l.includes(dir))
    .map((l) => l.trim());
}

export function mountsUnder(dir: string): string[] {
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((m) => m === dir || m.startsWith(dir + '/'));
}

/** Every leak check: no loop device or mount under `dir`, the store's tmp/ empty, the private TMPDIR empty. */
export function assertNoLeaks(dir: string, storeDir?: string, sysTmp?: string): void {
  assert.deepEqual(loopsUnder(dir), [], 'leaked loop devices');
  assert.deepEqual(mountsUnder(dir), [], 'leaked mounts');
  if (storeDir && fs.existsSync(`${storeDir}/tmp`)) assert.deepEqual(fs.readdirSync(`${storeDir}/tmp`), [], 'leaked store temp dirs');
  if (storeDir && fs.existsSync(`${storeDir}/locks`)) {
    assert.deepEqual(fs.readdirSync(`${storeDir}/locks`), [], 'leaked lock files');
  }
  if (sysTmp) assert.deepEqual(fs.readdirSync(sysTmp), [], `leaked temp files in TMPDIR (${sysTmp})`);
}

/**
 * Point TMPDIR (os.tmpdir() and the tools the executor runs) at a private directory under `dir`,
 * so the check for leaked temp files is not confused by other test files running at the same
 * time. Each test file runs in its own process, so this stays local to the file.
 */
export function tmpEntries(dir: string): string {
  const t = `${dir}/systmp`;
  fs.mkdirSync(t, { recursive: true });
  process.env.TMPDIR = t;
  return t;
}

export function collect(): { events: ExecutorEvent[]; on: (e: ExecutorEvent) => void; of<T extends ExecutorEvent['type']>(t: T): Extract<ExecutorEvent, { type: T }>[] } {
  const events: ExecutorEvent[] = [];
  return {
    events,
    on: (e) => events.push(e),
    of: <T extends ExecutorEvent['type']>(t: T) => events.filter((e) => e.type === t) as Extract<ExecutorEvent, { type: T }>[],
  };
}

export function mkTmp(tag: string): string {
  return fs.mkdtempSync(`${os.tmpdir()}/kiln-exec-${tag}-`);
}

export function sh(cmd: string, args: string[], opts: { input?: string } = {}): string {
  return execFileSync(cmd, args, { encoding: 'utf8', input: opts.input, stdio: ['pipe', 'pipe', 'pipe'] });
}
