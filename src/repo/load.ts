// Load one repository: resolve its base URL (baseurl / metalink / mirrorlist), fetch and verify
// repomd.xml, then either load the parsed metadata from the cache (keyed by the sha256 of
// repomd.xml) or download primary / filelists / comps in parallel, verify their checksums,
// parse them and write a new cache entry.
import path from 'node:path';
import type { CompsEnvironment, CompsGroup, Package } from '../rpm/types.js';
import { KilnError } from '../util/errors.js';
import { pruneRevisions, readCacheEntry, encodeRepoCacheParts, writeFileAtomic } from './cache.js';
import { parseComps } from './comps.js';
import { decompressToText } from './decompress.js';
import { fetchBytes, fetchText, type FetchOptions } from './fetch.js';
import { applyCompactFilelists } from './filelists.js';
import { parseFilelistsInWorker } from './filelists-worker.js';
import { looksLikeMetalink, parseMetalink, parseMirrorlist } from './mirrors.js';
import { parsePrimary } from './primary.js';
import { parseRepomd, sha256Hex, verifyChecksum, type Repomd, type RepomdRecord } from './repomd.js';
import { substitute } from './subst.js';
import type { LoadedRepo, RepoConfig, RepoLoadOptions } from './types.js';

/** comps variants in order of preference (gz decompresses in-process) */
const GROUP_TYPES = ['group_gz', 'group_xz', 'group_zst', 'group'];

function withSlash(u: string): string {
  return u.endsWith('/') ? u : u + '/';
}

function resolveHref(base: string, href: string, repo?: string): string {
  try {
    return new URL(href, withSlash(base)).toString();
  } catch {
    throw new KilnError(`repo "${repo ?? '?'}": invalid URL "${base}" (a URL with a scheme, e.g. file:///path or https://host/path, is needed)`);
  }
}

/** Directory name of a repository in the cache: readable id plus a hash of where it comes from. */
export function repoCacheDirName(config: RepoConfig): string {
  const source = JSON.stringify([config.baseurl ?? [], config.metalink ?? '', config.mirrorlist ?? '']);
  const h = sha256Hex(source).slice(0, 12);
  const safe = /^[A-Za-z0-9][A-Za-z0-9._-]{0,100}$/.test(config.id) ? config.id : sha256Hex(config.id);
  return `${safe}-${h}`;
}

interface Resolved {
  baseurl: string;
  repomdBytes: Buffer;
  repomd: Repomd;
}

/** Candidate base URLs and the repomd hashes a metalink vouches for. */
async function candidates(config: RepoConfig, opts: RepoLoadOptions, fo: FetchOptions): Promise<{ bases: string[]; hashes: { type: string; value: string }[] }> {
  const vars = { arch: opts.arch, releasever: opts.releasever };
  const what = `repo "${config.id}"`;
  if (config.baseurl && config.baseurl.length > 0) return { bases: config.baseurl.map((u) => substitute(u, vars, what)), hashes: [] };
  if (config.metalink) {
    const url = substitute(config.metalink, vars, what);
    const ml = await parseMetalink(await fetchText(url, fo), config.id, url);
    return { bases: ml.baseurls, hashes: ml.hashes };
  }
  if (config.mirrorlist) {
    const url = substitute(config.mirrorlist, vars, what);
    const text = await fetchText(url, fo);
    if (looksLikeMetalink(text)) {
      const ml = await parseMetalink(text, config.id, url);
      return { bases: ml.baseurls, hashes: ml.hashes };
    }
    // librepo substitutes variables in mirrorlist entries too
    return { bases: parseMirrorlist(text, config.id, url).map((u) => substitute(u, vars, `${what} mirrorlist ${url}`)), hashes: [] };
  }
  throw new KilnError(`repo "${config.id}" has no baseurl, metalink or mirrorlist`);
}

/** Fetch repomd.xml from the first candidate that works (mirror failover). */
async function resolveRepomd(config: RepoConfig, opts: RepoLoadOptions, fo: FetchOptions): Promise<Resolved> {
  const { bases, hashes } = await candidates(config, opts, fo);
  const errors: string[] = [];
  for (const base of bases) {
    const url = resolveHref(base, 'repodata/repomd.xml', config.id);
    try {
      const bytes = await fetchBytes(url, fo);
      if (hashes.length > 0) {
        const usable = hashes.filter((h) => h.type === 'sha256' || h.type === 'sha512');
        const check = usable.length > 0 ? usable : hashes;
        const ok = check.some((h) => {
          try {
            verifyChecksum(bytes, h, config.id, url);
            return true;
          } catch {
            return false;
          }
        });
        if (!ok) throw new KilnError(`repo "${config.id}": checksum mismatch for ${url}: repomd.xml does not match the metalink's ${check[0]!.type} hash`);
      }
      const repomd = await parseRepomd(bytes.toString('utf8'), config.id, url);
      return { baseurl: withSlash(base), repomdBytes: bytes, repomd };
    } catch (e) {
      if (!(e instanceof KilnError)) throw e;
      errors.push(e.message);
      if (bases.length > 1) opts.log?.(`${e.message}; trying next mirror`);
    }
  }
  if (errors.length === 1) throw new KilnError(errors[0]!);
  throw new KilnError(`repo "${config.id}": no mirror worked:\n  ${errors.join('\n  ')}`);
}

async function download(rec: RepomdRecord, baseurl: string, config: RepoConfig, fo: FetchOptions): Promise<Buffer> {
  const url = resolveHref(baseurl, rec.href, config.id);
  const data = await fetchBytes(url, fo);
  verifyChecksum(data, rec.checksum, config.id, rec.href);
  return data;
}

async function fetchGpgKeys(config: RepoConfig, opts: RepoLoadOptions, fo: FetchOptions): Promise<string[]> {
  const vars = { arch: opts.arch, releasever: opts.releasever };
  return Promise.all(
    (config.gpgkeys ?? []).map(async (k) => {
      const t = k.trim();
      if (/^(https?|file):\/\//i.test(t)) return fetchText(substitute(t, vars, `repo "${config.id}" gpgkey`), fo);
      return k; // key text, kept as is
    }),
  );
}

interface Parsed {
  packages: Package[];
  groups: CompsGroup[];
  environments: CompsEnvironment[];
}

async function downloadAndParse(config: RepoConfig, res: Resolved, wantFilelists: boolean, fo: FetchOptions, opts: RepoLoadOptions): Promise<Parsed> {
  const rm = res.repomd.records;
  const primaryRec = rm.get('primary');
  if (!primaryRec) throw new KilnError(`repo "${config.id}": ${resolveHref(res.baseurl, 'repodata/repomd.xml')} lists no primary metadata`);
  const filelistsRec = wantFilelists ? rm.get('filelists') : undefined;
  const groupRec = GROUP_TYPES.map((t) => rm.get(t)).find((r) => r !== undefined);
  // All downloads start at once; each is verified before it is parsed.
  const [primaryData, filelistsData, groupData] = await Promise.all([
    download(primaryRec, res.baseurl, config, fo),
    filelistsRec ? download(filelistsRec, res.baseurl, config, fo) : undefined,
    groupRec ? download(groupRec, res.baseurl, config, fo) : undefined,
  ]);
  const what = (r: RepomdRecord) => `repo "${config.id}" file ${r.href}`;
  const compsP = groupData
    ? parseComps(decompressToText(groupData, groupRec!.href, what(groupRec!)), { repo: config.id, file: groupRec!.href })
    : Promise.resolve({ groups: [], environments: [] });
  compsP.catch(() => {}); // awaited below; avoid an unhandled rejection if primary fails first
  // filelists is parsed in a worker thread in parallel with primary on the main thread.
  const filelistsP = filelistsData ? parseFilelistsInWorker(filelistsData, filelistsRec!.href, config.id) : undefined;
  filelistsP?.catch(() => {}); // awaited below; avoid an unhandled rejection if primary fails first
  const t0 = performance.now();
  const packages = await parsePrimary(decompressToText(primaryData, primaryRec.href, what(primaryRec)), config.id, { repo: config.id, file: primaryRec.href });
  opts.log?.(`repo "${config.id}": parsed ${packages.length} packages from ${primaryRec.href} in ${Math.round(performance.now() - t0)} ms`);
  if (filelistsP) {
    const unmatched = applyCompactFilelists(await filelistsP, packages);
    if (unmatched > 0) opts.log?.(`repo "${config.id}": ${unmatched} filelists entries match no package in primary`);
  }
  const comps = await compsP;
  return { packages, groups: comps.groups, environments: comps.environments };
}

/** Load one repository's metadata (see the module comment). */
export async function loadRepo(config: RepoConfig, opts: RepoLoadOptions): Promise<LoadedRepo> {
  if (!config.id) throw new KilnError('repository without an id');
  const fo: FetchOptions = { repo: config.id, timeoutMs: opts.timeoutMs, ignoreSsl: config.ignoreSsl };
  const wantFilelists = opts.filelists !== false;
  const [res, gpgkeyTexts] = await Promise.all([resolveRepomd(config, opts, fo), fetchGpgKeys(config, opts, fo)]);
  const revision = sha256Hex(res.repomdBytes);

  let parsed: Parsed | undefined;
  let cacheFile: string | undefined;
  let repoDir: string | undefined;
  if (opts.cacheDir) {
    repoDir = path.join(opts.cacheDir, repoCacheDirName(config));
    cacheFile = path.join(repoDir, revision, wantFilelists ? 'primary+filelists.kcache' : 'primary.kcache');
    const hit = readCacheEntry(cacheFile, (why) => opts.log?.(`repo "${config.id}": cache entry ${cacheFile} is corrupt (${why}); refetching`));
    if (hit) {
      // Entries are stored per repo dir, which is derived from the id, so ids match; but a
      // sanitized (hashed) dir name could in theory be shared, so never return a foreign id.
      if (hit.packages.length > 0 && hit.packages[0]!.repoId !== config.id) for (const p of hit.packages) p.repoId = config.id;
      parsed = hit;
      opts.log?.(`repo "${config.id}": metadata loaded from cache (${hit.packages.length} packages)`);
    }
  }
  if (!parsed) {
    parsed = await downloadAndParse(config, res, wantFilelists, fo, opts);
    if (cacheFile && repoDir) {
      try {
        writeFileAtomic(cacheFile, encodeRepoCacheParts({ ...parsed, info: { baseurl: res.baseurl, written: Date.now() } }));
        pruneRevisions(repoDir, revision);
      } catch (e) {
        // A cache we cannot write costs time, not correctness.
        opts.log?.(`repo "${config.id}": cannot write metadata cache ${cacheFile}: ${(e as Error).message}`);
      }
    }
  }
  return {
    config,
    baseurl: res.baseurl,
    revision,
    packages: parsed.packages,
    groups: parsed.groups,
    environments: parsed.environments,
    gpgkeyTexts,
  };
}

/** Load several repositories in parallel; the result is in the order of `configs`. */
export async function loadRepos(configs: RepoConfig[], opts: RepoLoadOptions): Promise<LoadedRepo[]> {
  const ids = new Set<string>();
  for (const c of configs) {
    if (ids.has(c.id)) throw new KilnError(`repository id "${c.id}" is used twice`);
    ids.add(c.id);
  }
  return Promise.all(configs.map((c) => loadRepo(c, opts)));
}
