// Turn a downloaded metadata file (gz, xz, zstd, bzip2 or plain) into a stream of UTF-8 string
// chunks for the XML parser, without ever holding the whole decompressed document in memory
// (filelists of a big distribution is several hundred MB, beyond V8's maximum string length).
// gzip uses node:zlib; xz, zstd and bzip2 stream through the real `xz -dc` / `zstd -dc` /
// `bzip2 -dc` programs, which are present wherever rpm tooling is.
import { spawn } from 'node:child_process';
import { StringDecoder } from 'node:string_decoder';
import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { KilnError } from '../util/errors.js';

export type Compression = 'gz' | 'xz' | 'zstd' | 'bz2' | 'none';

/** Decide by magic bytes; the href suffix is only a fallback for files too short to tell. */
export function detectCompression(data: Uint8Array, href: string): Compression {
  const b = data;
  if (b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b) return 'gz';
  if (b.length >= 6 && b[0] === 0xfd && b[1] === 0x37 && b[2] === 0x7a && b[3] === 0x58 && b[4] === 0x5a && b[5] === 0x00) return 'xz';
  if (b.length >= 4 && b[0] === 0x28 && b[1] === 0xb5 && b[2] === 0x2f && b[3] === 0xfd) return 'zstd';
  if (b.length >= 3 && b[0] === 0x42 && b[1] === 0x5a && b[2] === 0x68) return 'bz2';
  if (/\.gz$/.test(href)) return 'gz';
  if (/\.xz$/.test(href)) return 'xz';
  if (/\.zst$/.test(href)) return 'zstd';
  if (/\.bz2$/.test(href)) return 'bz2';
  return 'none';
}

const PROGRAMS: Record<'xz' | 'zstd' | 'bz2', string> = { xz: 'xz', zstd: 'zstd', bz2: 'bzip2' };

/** Chunks of 1 MiB keep the per-write overhead of the XML parser negligible. */
const CHUNK = 1 << 20;

async function* decodeUtf8(src: AsyncIterable<Buffer>): AsyncGenerator<string> {
  const dec = new StringDecoder('utf8');
  let first = true;
  for await (const buf of src) {
    let s = dec.write(buf);
    if (first && s.length > 0) {
      if (s.charCodeAt(0) === 0xfeff) s = s.slice(1); // byte order mark
      first = false;
    }
    if (s.length > 0) yield s;
  }
  const rest = dec.end();
  if (rest.length > 0) yield rest;
}

async function* plainChunks(data: Buffer): AsyncGenerator<Buffer> {
  for (let off = 0; off < data.length; off += CHUNK) yield data.subarray(off, off + CHUNK);
}

async function* viaProcess(kind: 'xz' | 'zstd' | 'bz2', data: Buffer, what: string): AsyncGenerator<Buffer> {
  const prog = PROGRAMS[kind];
  const child = spawn(prog, ['-dc'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  let spawnError: Error | undefined;
  child.on('error', (e) => (spawnError = e));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  // The decompressor may exit early on corrupt input; ignore EPIPE on its stdin.
  child.stdin.on('error', () => {});
  child.stdin.end(data);
  let done = false;
  try {
    for await (const chunk of child.stdout as AsyncIterable<Buffer>) yield chunk;
    done = true;
  } finally {
    if (!done) child.kill();
  }
  const code = await exited;
  if (spawnError) throw new KilnError(`cannot decompress ${what}: running ${prog}: ${spawnError.message}`);
  if (code !== 0) throw new KilnError(`cannot decompress ${what}: ${prog} -dc failed (exit ${code}): ${stderr.trim()}`);
}

async function* viaGunzip(data: Buffer, what: string): AsyncGenerator<Buffer> {
  const gunzip = zlib.createGunzip({ chunkSize: 256 * 1024 });
  Readable.from([data]).pipe(gunzip);
  try {
    for await (const chunk of gunzip as AsyncIterable<Buffer>) yield chunk;
  } catch (e) {
    throw new KilnError(`cannot decompress ${what}: ${(e as Error).message}`);
  }
}

/**
 * Decompressed text of `data` as string chunks. `what` names the input in errors
 * (e.g. `repo "fedora" file repodata/...-primary.xml.zst`).
 */
export function decompressToText(data: Buffer, href: string, what: string): AsyncIterable<string> {
  const kind = detectCompression(data, href);
  switch (kind) {
    case 'gz':
      return decodeUtf8(viaGunzip(data, what));
    case 'xz':
    case 'zstd':
    case 'bz2':
      return decodeUtf8(viaProcess(kind, data, what));
    case 'none':
      return decodeUtf8(plainChunks(data));
  }
}

/** Whole decompressed text; only for small files (repomd, comps, metalink). */
export async function decompressToString(data: Buffer, href: string, what: string): Promise<string> {
  let s = '';
  for await (const c of decompressToText(data, href, what)) s += c;
  return s;
}
