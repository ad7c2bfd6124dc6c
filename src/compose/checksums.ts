// Image checksums and the CHECKSUM files Pungi's image_checksum phase writes next to images.
//
// File content (Pungi dump_checksums): entries sorted by (file name, size, algorithm, digest),
// each as two lines:
//   # <file name>: <size> bytes
//   <ALGORITHM> (<file name>) = <hex digest>
// With media_checksum_one_file (Kiln's default) each directory gets one `[<base>-]CHECKSUM`;
// otherwise one `[<base>-]<ALG>SUM` per algorithm per directory plus `<file>.<ALG>SUM` per image.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { KilnError } from '../util/errors.js';
import { writeFileAtomic } from './productmd.js';

export interface ChecksumEntry {
  filename: string;
  size: number;
  alg: string;
  digest: string;
}

/** Compute several digests of a file in one read. */
export async function fileDigests(file: string, algs: readonly string[]): Promise<Record<string, string>> {
  const hashes = algs.map((a) => [a, createHash(a)] as const);
  await new Promise<void>((resolve, reject) => {
    const s = fs.createReadStream(file);
    s.on('data', (chunk) => {
      for (const [, h] of hashes) h.update(chunk);
    });
    s.on('error', (e) => reject(new KilnError(`checksum ${file}: ${(e as Error).message}`)));
    s.on('end', () => resolve());
  });
  return Object.fromEntries(hashes.map(([a, h]) => [a, h.digest('hex')]));
}

/** Python tuple order: compare field by field; strings by code point. */
function cmpEntry(a: ChecksumEntry, b: ChecksumEntry): number {
  const s = (x: string, y: string) => (x < y ? -1 : x > y ? 1 : 0);
  return s(a.filename, b.filename) || a.size - b.size || s(a.alg, b.alg) || s(a.digest, b.digest);
}

export function checksumFileText(entries: readonly ChecksumEntry[]): string {
  const seen = new Set<string>();
  const uniq = entries.filter((e) => {
    const k = JSON.stringify(e);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
  return [...uniq]
    .sort(cmpEntry)
    .map((e) => `# ${e.filename}: ${e.size} bytes\n${e.alg.toUpperCase()} (${e.filename}) = ${e.digest}\n`)
    .join('');
}

export type ChecksumSubsts = Record<string, string | number | undefined>;

/**
 * media_checksum_base_filename: both `%(name)s` and `{name}` substitutions (as Pungi), then "-"
 * appended; an empty template gives no prefix.
 */
export function checksumBaseName(template: string, substs: ChecksumSubsts): string {
  if (!template) return '';
  const val = (k: string) => {
    const v = substs[k];
    if (v === undefined) throw new KilnError(`media_checksum_base_filename: unknown substitution "${k}" (known: ${Object.keys(substs).join(', ')})`);
    return String(v);
  };
  const out = template.replace(/%\(([A-Za-z_]+)\)s/g, (_m, k: string) => val(k)).replace(/\{([A-Za-z_]+)\}/g, (_m, k: string) => val(k));
  return `${out}-`;
}

export interface DirChecksumOptions {
  algs: readonly string[];
  oneFile: boolean;
  /** already expanded base name (with the trailing "-"), or "" */
  baseName: string;
}

/** Write the checksum files for one directory's images. Returns the files written. */
export function writeDirChecksums(dir: string, images: readonly { filename: string; size: number; digests: Record<string, string> }[], o: DirChecksumOptions): string[] {
  const files = new Map<string, ChecksumEntry[]>();
  const add = (name: string, e: ChecksumEntry) => (files.get(name) ?? files.set(name, []).get(name)!).push(e);
  for (const img of images) {
    for (const alg of o.algs) {
      const digest = img.digests[alg];
      if (!digest) throw new KilnError(`checksum ${path.join(dir, img.filename)}: no ${alg} digest computed`);
      const e = { filename: img.filename, size: img.size, alg, digest };
      if (o.oneFile) add(`${o.baseName}CHECKSUM`, e);
      else {
        add(`${img.filename}.${alg.toUpperCase()}SUM`, e);
        add(`${o.baseName}${alg.toUpperCase()}SUM`, e);
      }
    }
  }
  const written: string[] = [];
  for (const [name, entries] of files) {
    const p = path.join(dir, name);
    writeFileAtomic(p, checksumFileText(entries));
    written.push(p);
  }
  return written.sort();
}
