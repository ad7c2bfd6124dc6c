// repomd.xml: the index of a repository's metadata files.
import { createHash, getHashes } from 'node:crypto';
import { KilnError } from '../util/errors.js';
import { parseXmlString } from './xml.js';

export interface RepomdRecord {
  type: string;
  /** location href relative to the repository base URL */
  href: string;
  checksum: { type: string; value: string };
  openChecksum?: { type: string; value: string };
  size?: number;
  openSize?: number;
}

export interface Repomd {
  revision?: string;
  records: Map<string, RepomdRecord>;
}

/** Parse repomd.xml text. `repo` and `file` name the input in errors. */
export async function parseRepomd(text: string, repo: string, file: string): Promise<Repomd> {
  const records = new Map<string, RepomdRecord>();
  let revision: string | undefined;
  let cur: Partial<RepomdRecord> | undefined;
  let field = '';
  let fieldAttrType = '';
  let buf = '';
  let depth = 0;
  await parseXmlString(
    text,
    {
      open(name, attrs) {
        depth++;
        if (depth === 1 && name !== 'repomd') throw new KilnError(`expected <repomd> as the root element, found <${name}>`);
        if (depth === 2 && name === 'data') {
          cur = { type: attrs.type ?? '' };
        } else if (cur && depth === 3) {
          field = name;
          buf = '';
          fieldAttrType = attrs.type ?? '';
          if (name === 'location') cur.href = attrs.href;
        } else if (depth === 2 && name === 'revision') {
          field = name;
          buf = '';
        }
      },
      close(name) {
        if (cur && depth === 3) {
          const v = buf.trim();
          if (name === 'checksum') cur.checksum = { type: fieldAttrType, value: v.toLowerCase() };
          else if (name === 'open-checksum') cur.openChecksum = { type: fieldAttrType, value: v.toLowerCase() };
          else if (name === 'size') cur.size = Number(v);
          else if (name === 'open-size') cur.openSize = Number(v);
          field = '';
        } else if (depth === 2 && name === 'revision') {
          revision = buf.trim();
          field = '';
        } else if (depth === 2 && name === 'data' && cur) {
          if (!cur.type) throw new KilnError('<data> without a type attribute');
          if (!cur.href) throw new KilnError(`<data type="${cur.type}"> has no <location href>`);
          if (!cur.checksum || !cur.checksum.value) throw new KilnError(`<data type="${cur.type}"> has no <checksum>`);
          records.set(cur.type, cur as RepomdRecord);
          cur = undefined;
        }
        depth--;
      },
      text(t) {
        buf += t;
      },
      wantText() {
        return field !== '';
      },
    },
    { repo, file },
  );
  return { revision, records };
}

/** Map rpm-md checksum type names to node:crypto names ("sha" is the old name of sha1). */
export function cryptoHashName(type: string): string | undefined {
  const t = type.toLowerCase();
  const name = t === 'sha' ? 'sha1' : t;
  return getHashes().includes(name) ? name : undefined;
}

/** Verify `data` against a checksum from repomd/metalink; throws naming the repo and file. */
export function verifyChecksum(data: Uint8Array, sum: { type: string; value: string }, repo: string, file: string): void {
  const algo = cryptoHashName(sum.type);
  if (!algo) throw new KilnError(`repo "${repo}": ${file}: unsupported checksum type "${sum.type}"`);
  const got = createHash(algo).update(data).digest('hex');
  if (got !== sum.value.toLowerCase()) {
    throw new KilnError(`repo "${repo}": checksum mismatch for ${file}: expected ${sum.type} ${sum.value}, got ${got}`);
  }
}

export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}
