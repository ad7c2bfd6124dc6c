// filelists.xml reader: the complete file list of every package, keyed by pkgid (the package
// checksum that primary.xml also carries), so it can be merged into the parsed packages.
// Parsing (parseFilelists) and merging (applyFilelists) are separate so the parse can run in
// a worker thread while the main thread parses primary.xml (see filelists-worker.ts).
import type { Package } from '../rpm/types.js';
import { KilnError } from '../util/errors.js';
import { parseXml, type XmlSource } from './xml.js';

/** One <package> of filelists.xml; `files` joined with FILES_SEP (cheap to post between threads). */
export interface FilelistEntry {
  pkgid: string;
  name: string;
  arch: string;
  files: string;
}

/** U+0001 cannot occur in XML 1.0 text, so it is a safe separator for paths. */
export const FILES_SEP = '\u0001';

export async function parseFilelists(chunks: AsyncIterable<string> | Iterable<string>, src: XmlSource): Promise<FilelistEntry[]> {
  const out: FilelistEntry[] = [];
  let cur: FilelistEntry | undefined;
  let files: string[] = [];
  let inFile = false;
  let buf = '';
  let sawRoot = false;
  await parseXml(
    chunks,
    {
      open(tag, a) {
        if (tag === 'file') {
          inFile = true;
          buf = '';
        } else if (tag === 'package') {
          const id = (a.pkgid ?? '').toLowerCase();
          if (id === '') throw new KilnError('<package> without pkgid');
          cur = { pkgid: id, name: a.name ?? '', arch: a.arch ?? '', files: '' };
          files = [];
        } else if (tag === 'filelists') {
          sawRoot = true;
        } else if (!sawRoot) {
          throw new KilnError(`expected <filelists> as the root element, found <${tag}>`);
        }
      },
      close(tag) {
        if (inFile) {
          files.push(buf);
          inFile = false;
        } else if (tag === 'package' && cur) {
          cur.files = files.join(FILES_SEP);
          out.push(cur);
          cur = undefined;
        }
      },
      text(t) {
        buf = buf === '' ? t : buf + t;
      },
      wantText: () => inFile,
    },
    src,
  );
  if (!sawRoot) throw new KilnError(`repo "${src.repo}": ${src.file}: no <filelists> element`);
  return out;
}

/**
 * Replace the `files` of the matching packages (primary only lists a subset). Packages are
 * matched by pkgid, and by name+arch when a pkgid occurs twice. Returns the number of entries
 * that matched no package (a sign of inconsistent metadata).
 */
export function applyFilelists(entries: FilelistEntry[], pkgs: Package[]): number {
  const byId = new Map<string, Package | Package[]>();
  for (const p of pkgs) {
    const prev = byId.get(p.checksum.value);
    if (prev === undefined) byId.set(p.checksum.value, p);
    else if (Array.isArray(prev)) prev.push(p);
    else byId.set(p.checksum.value, [prev, p]);
  }
  let unmatched = 0;
  for (const e of entries) {
    const target = byId.get(e.pkgid);
    if (target === undefined) {
      unmatched++;
      continue;
    }
    const files = e.files === '' ? [] : e.files.split(FILES_SEP);
    if (!Array.isArray(target)) target.files = files;
    else for (const p of target) if (p.name === e.name && p.arch === e.arch) p.files = files.slice();
  }
  return unmatched;
}

/** Parse and merge in one go (main thread). */
export async function mergeFilelists(chunks: AsyncIterable<string> | Iterable<string>, pkgs: Package[], src: XmlSource): Promise<number> {
  return applyFilelists(await parseFilelists(chunks, src), pkgs);
}
