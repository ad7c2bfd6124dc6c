// Matching output file names against the hub's archive types, the way kojihub get_archive_type
// does: lower-cased name split on ".", suffixes tried from the longest to the shortest, the
// first suffix registered by exactly one type wins. completeImageBuild refuses a file with no
// type ("Unsupported file type"), so the build host checks its outputs before spending an hour
// building an image the hub will not take.
import type { XmlRpcValue } from '../xmlrpc.js';

export interface ArchiveType {
  name: string;
  extensions: string[];
}

/** Parse getArchiveTypes() output ({name, extensions: "a b c", ...}[]). */
export function parseArchiveTypes(v: XmlRpcValue): ArchiveType[] {
  if (!Array.isArray(v)) throw new Error(`getArchiveTypes returned ${typeof v}, expected a list`);
  return v.map((t) => {
    const s = t as { name?: unknown; extensions?: unknown };
    return { name: String(s.name), extensions: String(s.extensions ?? '').split(/\s+/).filter(Boolean) };
  });
}

/** The archive type name for a file name, or undefined when no type matches. */
export function matchArchiveType(filename: string, types: ArchiveType[]): string | undefined {
  const parts = filename.toLowerCase().split('.');
  for (let i = 0; i < parts.length; i++) {
    const suffix = parts.slice(i).join('.');
    const hits = types.filter((t) => t.extensions.includes(suffix));
    // kojihub raises on several hits (a misconfigured hub); the first is as good a guess here
    if (hits.length >= 1) return hits[0]!.name;
  }
  return undefined;
}
