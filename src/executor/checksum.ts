// `<algo>:<hex>` content checksums as osbuild sources use them.
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { KilnError } from '../util/errors.js';

const ALGOS: Record<string, number> = { md5: 32, sha1: 40, sha256: 64, sha384: 96, sha512: 128 };

export function parseChecksum(checksum: string, what = 'checksum'): { algo: string; hex: string } {
  const m = /^([a-z0-9]+):([0-9a-f]+)$/.exec(checksum);
  if (!m || !(m[1]! in ALGOS) || m[2]!.length !== ALGOS[m[1]!]) {
    throw new KilnError(`${what}: "${checksum}" is not a valid checksum (want <md5|sha1|sha256|sha384|sha512>:<hex>)`);
  }
  return { algo: m[1]!, hex: m[2]! };
}

export function hasherFor(checksum: string): Hash {
  return createHash(parseChecksum(checksum).algo);
}

export async function fileChecksum(path: string, algo: string): Promise<string> {
  const h = createHash(algo);
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return `${algo}:${h.digest('hex')}`;
}
