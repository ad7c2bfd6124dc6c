// Manifest `sources`: where osbuild fetches the content that inputs reference by checksum.
// RPMs go to org.osbuild.librepo (default; mirror per repository) or org.osbuild.curl (one URL
// per package); generated files go to org.osbuild.inline; ostree commits to org.osbuild.ostree.
// One SourceCollector per manifest: pipelines add what they reference, and `toJSON()` emits every
// map with sorted keys so the output does not depend on the order things were added.
import { createHash } from 'node:crypto';
import type { LoadedRepo } from '../repo/types.js';
import type { Package } from '../rpm/types.js';
import { KilnError } from '../util/errors.js';

/** `sha256:<hex>` style checksum id for a package (from its repository metadata checksum). */
export function packageChecksum(pkg: Package): string {
  const algo = (pkg.checksum?.type ?? '').toLowerCase().replace(/^sha$/, 'sha1');
  const hex = (pkg.checksum?.value ?? '').toLowerCase();
  if (!/^(md5|sha1|sha256|sha384|sha512)$/.test(algo) || !/^[0-9a-f]{32,128}$/.test(hex)) {
    throw new KilnError(`package ${pkg.name}-${pkg.version}-${pkg.release}.${pkg.arch} from repo "${pkg.repoId}" has no usable checksum (${algo || 'none'}:${hex || 'none'})`);
  }
  return `${algo}:${hex}`;
}

/** Join a repository base URL and a package location without doubling or losing the slash. */
export function joinUrl(base: string, location: string): string {
  return base.replace(/\/+$/, '') + '/' + location.replace(/^\/+/, '');
}

export interface OstreeRemote {
  url: string;
  contenturl?: string;
  gpgkeys?: string[];
  secrets?: { name: string };
}

function sortKeys<T>(o: Record<string, T>): Record<string, T> {
  const out: Record<string, T> = {};
  for (const k of Object.keys(o).sort()) out[k] = o[k]!;
  return out;
}

export class SourceCollector {
  private readonly curl: Record<string, { url: string; insecure?: boolean }> = {};
  private readonly librepo: Record<string, { path: string; mirror: string }> = {};
  private readonly mirrors: Record<string, { url: string; type: 'baseurl' | 'metalink' | 'mirrorlist'; insecure?: boolean }> = {};
  private readonly inline: Record<string, { encoding: 'base64'; data: string }> = {};
  private readonly ostree: Record<string, { remote: OstreeRemote }> = {};

  /** @param useLibrepo org.osbuild.librepo (true, upstream default) or org.osbuild.curl */
  constructor(readonly useLibrepo: boolean) {}

  /**
   * Add packages; `repos` must contain each package's repository (matched on config.id).
   * Returns the checksum ids in the order given (what an rpm stage references).
   */
  addPackages(pkgs: Package[], repos: LoadedRepo[]): string[] {
    const byId = new Map(repos.map((r) => [r.config.id, r]));
    return pkgs.map((pkg) => {
      const id = packageChecksum(pkg);
      const repo = byId.get(pkg.repoId);
      if (!repo) throw new KilnError(`package ${pkg.name} comes from repo "${pkg.repoId}", which is not among the repositories that supplied the depsolve`);
      if (this.useLibrepo) {
        this.librepo[id] = { path: pkg.location, mirror: repo.config.id };
        this.mirrors[repo.config.id] = mirrorFor(repo);
      } else {
        const item: { url: string; insecure?: boolean } = { url: joinUrl(repo.baseurl, pkg.location) };
        if (repo.config.ignoreSsl) item.insecure = true;
        this.curl[id] = item;
      }
      return id;
    });
  }

  /** Add a generated file; returns its `sha256:<hex>` id. */
  addInline(data: string | Uint8Array): string {
    const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data);
    const id = 'sha256:' + createHash('sha256').update(buf).digest('hex');
    this.inline[id] = { encoding: 'base64', data: buf.toString('base64') };
    return id;
  }

  /** Add an ostree commit to fetch from `remote`. */
  addOstreeCommit(checksum: string, remote: OstreeRemote): void {
    if (!/^[0-9a-f]{64}$/.test(checksum)) throw new KilnError(`ostree commit "${checksum}" is not a 64-hex checksum`);
    this.ostree[checksum] = { remote };
  }

  /** The manifest's `sources` object: only non-empty source types, every map key-sorted. */
  toJSON(): Record<string, { items: Record<string, unknown>; options?: Record<string, unknown> }> {
    const out: Record<string, { items: Record<string, unknown>; options?: Record<string, unknown> }> = {};
    if (Object.keys(this.curl).length) out['org.osbuild.curl'] = { items: sortKeys(this.curl) };
    if (Object.keys(this.inline).length) out['org.osbuild.inline'] = { items: sortKeys(this.inline) };
    if (Object.keys(this.librepo).length) {
      out['org.osbuild.librepo'] = { items: sortKeys(this.librepo), options: { mirrors: sortKeys(this.mirrors) } };
    }
    if (Object.keys(this.ostree).length) out['org.osbuild.ostree'] = { items: sortKeys(this.ostree) };
    return sortKeys(out);
  }
}

/** librepo mirror for a repository: metalink, else mirrorlist, else the (resolved) base URL. */
export function mirrorFor(repo: LoadedRepo): { url: string; type: 'baseurl' | 'metalink' | 'mirrorlist'; insecure?: boolean } {
  const c = repo.config;
  const m: { url: string; type: 'baseurl' | 'metalink' | 'mirrorlist'; insecure?: boolean } = c.metalink
    ? { url: c.metalink, type: 'metalink' }
    : c.mirrorlist
      ? { url: c.mirrorlist, type: 'mirrorlist' }
      : { url: c.baseurl?.[0] ?? repo.baseurl, type: 'baseurl' };
  if (c.ignoreSsl) m.insecure = true;
  return m;
}
