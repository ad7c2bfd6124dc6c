// Blueprint user passwords: upstream accepts plaintext and stores a crypt(3) SHA-512 hash
// (`$6$<salt>$<hash>`); values that already look like a crypt hash pass through. The salt comes
// from the manifest's seeded RNG so manifests stay reproducible. Implementation of Drepper's
// SHA-crypt (the glibc algorithm) with the default 5000 rounds.
import { createHash } from 'node:crypto';
import type { Rng } from './rng.js';

const ITOA64 = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** Does the value already look like a crypt(3) hash (md5, bcrypt, sha256, sha512, yescrypt)? */
export function isCrypted(pw: string): boolean {
  return /^\$(1|2[abxy]?|5|6|y|gy|7)\$/.test(pw);
}

function sha512(...parts: Buffer[]): Buffer {
  const h = createHash('sha512');
  for (const p of parts) h.update(p);
  return h.digest();
}

function repeatTo(src: Buffer, len: number): Buffer {
  const out = Buffer.alloc(len);
  for (let i = 0; i < len; i++) out[i] = src[i % src.length]!;
  return out;
}

// glibc's byte order for the 64-byte digest, three bytes per 4 output characters
const ORDER: [number, number, number][] = [
  [0, 21, 42], [22, 43, 1], [44, 2, 23], [3, 24, 45], [25, 46, 4], [47, 5, 26], [6, 27, 48],
  [28, 49, 7], [50, 8, 29], [9, 30, 51], [31, 52, 10], [53, 11, 32], [12, 33, 54], [34, 55, 13],
  [56, 14, 35], [15, 36, 57], [37, 58, 16], [59, 17, 38], [18, 39, 60], [40, 61, 19], [62, 20, 41],
];

function b64From24(b2: number, b1: number, b0: number, n: number): string {
  let w = (b2 << 16) | (b1 << 8) | b0;
  let s = '';
  for (let i = 0; i < n; i++) {
    s += ITOA64[w & 0x3f];
    w >>= 6;
  }
  return s;
}

/** SHA-512 crypt with the given salt (at most 16 characters used), 5000 rounds. */
export function sha512Crypt(password: string, salt: string): string {
  const P = Buffer.from(password, 'utf8');
  const S = Buffer.from(salt.slice(0, 16), 'utf8');
  const B = sha512(P, S, P);
  const a = createHash('sha512');
  a.update(P);
  a.update(S);
  let i: number;
  for (i = P.length; i > 64; i -= 64) a.update(B);
  a.update(B.subarray(0, i));
  for (i = P.length; i > 0; i >>= 1) a.update(i & 1 ? B : P);
  const A = a.digest();
  const dp = createHash('sha512');
  for (i = 0; i < P.length; i++) dp.update(P);
  const Pseq = repeatTo(dp.digest(), P.length);
  const ds = createHash('sha512');
  for (i = 0; i < 16 + A[0]!; i++) ds.update(S);
  const Sseq = repeatTo(ds.digest(), S.length);
  let C = A;
  for (let r = 0; r < 5000; r++) {
    const h = createHash('sha512');
    h.update(r & 1 ? Pseq : C);
    if (r % 3) h.update(Sseq);
    if (r % 7) h.update(Pseq);
    h.update(r & 1 ? C : Pseq);
    C = h.digest();
  }
  let out = '';
  for (const [x, y, z] of ORDER) out += b64From24(C[x]!, C[y]!, C[z]!, 4);
  out += b64From24(0, 0, C[63]!, 2);
  return `$6$${S.toString('utf8')}$${out}`;
}

/** A crypt hash for a blueprint password: kept if already hashed, else sha512-crypt with a seeded salt. */
export function hashPassword(pw: string, rng: Rng): string {
  if (pw === '' || isCrypted(pw)) return pw;
  const salt = Array.from(rng.bytes(16), (b) => ITOA64[b & 0x3f]).join('');
  return sha512Crypt(pw, salt);
}
