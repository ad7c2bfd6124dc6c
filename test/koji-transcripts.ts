// Reads the recorded Koji 1.35.3 HTTP exchanges committed in test/fixtures/koji/transcripts
// (relative to the repository root). Each file: ">>> " request line, headers, blank line,
// Content-Length bytes of body; then "<<< " status line, headers, blank line, body.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface HttpMessage {
  startLine: string;
  headers: [string, string][];
  body: Buffer;
}

export interface Transcript {
  file: string; // e.g. task2-scratch/0050-rawUpload.txt
  request: HttpMessage;
  response: HttpMessage;
}

// dist/test/<file>.js -> repository root is two levels up
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const TRANSCRIPT_DIR = path.resolve(repoRoot, 'test', 'fixtures', 'koji', 'transcripts');

export function header(m: HttpMessage, name: string): string | undefined {
  return m.headers.find(([k]) => k.toLowerCase() === name.toLowerCase())?.[1];
}

function readMessage(buf: Buffer, start: number, marker: string, file: string): { msg: HttpMessage; end: number } {
  const at = buf.indexOf(marker, start, 'latin1');
  if (at < 0) throw new Error(`${file}: no "${marker}" section`);
  const headEnd = buf.indexOf('\n\n', at, 'latin1');
  if (headEnd < 0) throw new Error(`${file}: "${marker}" section has no blank line after headers`);
  const lines = buf.toString('latin1', at + marker.length, headEnd).split('\n');
  const headers = lines.slice(1).map((l): [string, string] => {
    const i = l.indexOf(':');
    return [l.slice(0, i), l.slice(i + 1).trim()];
  });
  const msg: HttpMessage = { startLine: lines[0], headers, body: Buffer.alloc(0) };
  const len = Number(header(msg, 'Content-Length'));
  if (!Number.isInteger(len)) throw new Error(`${file}: "${marker}" section without Content-Length`);
  msg.body = buf.subarray(headEnd + 2, headEnd + 2 + len);
  if (msg.body.length !== len) throw new Error(`${file}: body shorter than Content-Length`);
  return { msg, end: headEnd + 2 + len };
}

export function loadTranscripts(): Transcript[] {
  const out: Transcript[] = [];
  for (const dir of fs.readdirSync(TRANSCRIPT_DIR).sort()) {
    const full = path.join(TRANSCRIPT_DIR, dir);
    if (!fs.statSync(full).isDirectory()) continue;
    for (const f of fs.readdirSync(full).sort()) {
      if (!f.endsWith('.txt')) continue;
      const file = `${dir}/${f}`;
      const buf = fs.readFileSync(path.join(full, f));
      const req = readMessage(buf, 0, '>>> ', file);
      const res = readMessage(buf, req.end, '<<< ', file);
      out.push({ file, request: req.msg, response: res.msg });
    }
  }
  return out;
}
