// A tiny static HTTP server for tests: serves a directory on 127.0.0.1 (random port), records
// every request path, and can inject faults per path.
//
//   const srv = await serveDir(repoDir, { faults: { '/repodata/repomd.xml': { status: 404 } } });
//   ... fetch(srv.url + '/repodata/repomd.xml') ...
//   srv.requests  // ['/repodata/repomd.xml', ...] (paths without query string)
//   srv.setFault('/x', { corrupt: true }); srv.addFile('/metalink', xmlText);
//   await srv.close();
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

export interface Fault {
  /** answer with this status code (and a short text body) instead of the file */
  status?: number;
  /** flip bytes in the middle of the file's content */
  corrupt?: boolean;
  /** wait this long before answering (to trigger client timeouts) */
  delayMs?: number;
  /** close the connection without answering */
  hangUp?: boolean;
}

export interface ServeOptions {
  /** URL path (e.g. '/repodata/repomd.xml') -> fault */
  faults?: Record<string, Fault>;
  /** serve HTTPS with a freshly generated self-signed certificate (needs the openssl CLI) */
  https?: boolean;
}

/** A throwaway self-signed certificate for 127.0.0.1. */
function selfSignedCert(): { key: Buffer; cert: Buffer } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-cert-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem')], { stdio: 'ignore' });
    return { key: fs.readFileSync(path.join(dir, 'key.pem')), cert: fs.readFileSync(path.join(dir, 'cert.pem')) };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export interface TestServer {
  /** http(s)://127.0.0.1:<port> (no trailing slash) */
  url: string;
  /** request paths in arrival order (no query string) */
  requests: string[];
  /** request paths with their query strings, in arrival order */
  requestUrls: string[];
  setFault(urlPath: string, fault: Fault | undefined): void;
  /** serve `content` at `urlPath` (overrides the directory) */
  addFile(urlPath: string, content: string | Buffer): void;
  close(): Promise<void>;
}

export async function serveDir(dir: string, opts: ServeOptions = {}): Promise<TestServer> {
  const faults = new Map(Object.entries(opts.faults ?? {}));
  const extra = new Map<string, Buffer>();
  const requests: string[] = [];
  const requestUrls: string[] = [];
  const root = path.resolve(dir);
  const handler: http.RequestListener = (req, res) => {
    const urlPath = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    requests.push(urlPath);
    requestUrls.push(req.url ?? '/');
    const fault = faults.get(urlPath);
    const answer = () => {
      if (fault?.hangUp) {
        req.socket.destroy();
        return;
      }
      if (fault?.status) {
        res.writeHead(fault.status, { 'content-type': 'text/plain' });
        res.end(`injected status ${fault.status}\n`);
        return;
      }
      let data = extra.get(urlPath);
      if (!data) {
        const file = path.join(root, urlPath);
        if (!file.startsWith(root + path.sep) && file !== root) {
          res.writeHead(403).end();
          return;
        }
        try {
          data = fs.readFileSync(file);
        } catch {
          res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
          return;
        }
      }
      if (fault?.corrupt && data.length > 0) {
        data = Buffer.from(data);
        const mid = data.length >> 1;
        for (let i = mid; i < Math.min(data.length, mid + 16); i++) data[i] = data[i]! ^ 0xff;
      }
      res.writeHead(200, { 'content-length': data.length, 'content-type': 'application/octet-stream' });
      res.end(data);
    };
    if (fault?.delayMs) setTimeout(answer, fault.delayMs);
    else answer();
  };
  const server = opts.https ? https.createServer(selfSignedCert(), handler) : http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `${opts.https ? 'https' : 'http'}://127.0.0.1:${port}`,
    requests,
    requestUrls,
    setFault(p, f) {
      if (f) faults.set(p, f);
      else faults.delete(p);
    },
    addFile(p, c) {
      extra.set(p, Buffer.isBuffer(c) ? c : Buffer.from(c));
    },
    close() {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
