// SPDX 2.3 SBOM of one depsolved package set (one document per pipeline, as upstream
// image-builder's --with-sbom writes them): packages with versions, licences, checksums, purls
// and download locations; relationships for the dependency graph within the set.

import { createHash, randomUUID } from 'node:crypto';
import type { DepsolvedPipeline } from '../manifest/types.js';
import type { LoadedRepo } from '../repo/types.js';
import { formatNevra } from '../rpm/nevra.js';
import type { Package } from '../rpm/types.js';
import { KilnError } from '../util/errors.js';
import { dependencyEdges } from './deps.js';
import { licenseRefFor, licenseRefSuffix, normaliseLicense } from './license.js';
import type { SpdxChecksum, SpdxDocument, SpdxExtractedLicense, SpdxPackage, SpdxRelationship } from './types.js';

export interface SpdxOptions {
  /** document name, e.g. the SBOM file's basename */
  name: string;
  packages: Package[];
  /** the repositories the packages came from: downloadLocation = repo baseurl + location */
  repos: LoadedRepo[];
  /** creation time; default now */
  created?: Date;
  /** makes documentNamespace deterministic (with the name and the package checksums) */
  namespaceSeed?: string;
  /** Kiln's version, for the `Tool: kiln-<ver>` creator */
  toolVersion: string;
  /** purl namespace for every package; default derived from each package's vendor */
  purlNamespace?: string;
  /** URI prefix of documentNamespace; default https://kiln.invalid/spdxdocs (never resolved) */
  namespaceBase?: string;
}

const NOASSERTION = 'NOASSERTION';

/** `<basename>.<purpose>-<pipeline>.spdx.json`, e.g. `x.image-os.spdx.json`. */
export function sbomFileName(basename: string, purpose: 'image' | 'buildroot' | 'unknown', pipeline: string): string {
  if (!basename) throw new KilnError('SBOM file name: empty basename');
  if (!pipeline || pipeline.includes('/')) throw new KilnError(`SBOM file name: invalid pipeline name "${pipeline}"`);
  return `${basename}.${purpose}-${pipeline}.spdx.json`;
}

/** The document for one pipeline's depsolved set (all its transactions). */
export function pipelineSbom(dp: DepsolvedPipeline, opts: Omit<SpdxOptions, 'packages' | 'repos'>): SpdxDocument {
  return spdxDocument({ ...opts, packages: dp.transactions.flat(), repos: dp.repos });
}

/** SPDX JSON text as written to disk. */
export function serializeSbom(doc: SpdxDocument): string {
  return `${JSON.stringify(doc, null, 2)}\n`;
}

/** ISO 8601 UTC with seconds precision, as SPDX wants timestamps (`2025-01-02T03:04:05Z`). */
export function spdxTimestamp(d: Date, what: string): string {
  if (Number.isNaN(d.getTime())) throw new KilnError(`SBOM: ${what} is not a valid date`);
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function evrString(p: Package): string {
  return `${p.epoch ? `${p.epoch}:` : ''}${p.version}-${p.release}`;
}

function checksumKey(p: Package): string {
  return `${p.checksum.type}:${p.checksum.value}`;
}

const ALGORITHMS: Record<string, SpdxChecksum['algorithm']> = {
  // rpm-md's "sha" is SHA-1
  sha: 'SHA1',
  sha1: 'SHA1',
  sha224: 'SHA224',
  sha256: 'SHA256',
  sha384: 'SHA384',
  sha512: 'SHA512',
  md5: 'MD5',
};

function spdxChecksum(p: Package): SpdxChecksum {
  const algorithm = ALGORITHMS[p.checksum.type.toLowerCase()];
  if (!algorithm) {
    throw new KilnError(`SBOM: package ${formatNevra(p)} (repo "${p.repoId}"): checksum type "${p.checksum.type}" has no SPDX equivalent`);
  }
  return { algorithm, checksumValue: p.checksum.value.toLowerCase() };
}

// purl components: percent-encode everything but the unreserved characters (so "libstdc++"
// becomes "libstdc%2B%2B", as the purl spec asks for '+').
function purlEncode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

// The purl type-specific namespace of rpm is the vendor/distribution ("fedora", "redhat", ...).
const VENDOR_NAMESPACES: [RegExp, string][] = [
  [/fedora/i, 'fedora'],
  [/red ?hat/i, 'redhat'],
  [/centos/i, 'centos'],
  [/alma ?linux/i, 'almalinux'],
  [/rocky/i, 'rocky'],
  [/opensuse/i, 'opensuse'],
  [/suse/i, 'suse'],
];

function purlNamespace(p: Package, override: string | undefined): string | undefined {
  if (override) return override;
  const v = p.vendor ?? '';
  for (const [re, ns] of VENDOR_NAMESPACES) if (re.test(v)) return ns;
  return undefined;
}

function purl(p: Package, namespace: string | undefined): string {
  const ns = namespace ? `${purlEncode(namespace.toLowerCase())}/` : '';
  // qualifiers sorted by key, as the purl canonical form requires (arch < epoch)
  const q = [`arch=${purlEncode(p.arch)}`];
  if (p.epoch) q.push(`epoch=${p.epoch}`);
  return `pkg:rpm/${ns}${purlEncode(p.name)}@${purlEncode(`${p.version}-${p.release}`)}?${q.join('&')}`;
}

function downloadLocation(p: Package, repos: Map<string, LoadedRepo>): string {
  // an absolute location (xml:base-style) stands on its own
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(p.location)) return p.location;
  const repo = repos.get(p.repoId);
  if (!repo?.baseurl) return NOASSERTION;
  try {
    const base = repo.baseurl.endsWith('/') ? repo.baseurl : `${repo.baseurl}/`;
    return new URL(p.location, base).toString();
  } catch {
    return NOASSERTION;
  }
}

function homepage(url: string | undefined): string | undefined {
  if (!url?.trim()) return undefined;
  try {
    const u = new URL(url.trim());
    return /^(https?|ftp):$/.test(u.protocol) ? url.trim() : undefined;
  } catch {
    return undefined;
  }
}

function sanitiseId(s: string): string {
  return s.replace(/[^A-Za-z0-9.-]/g, '-');
}

/** RFC 4122 name-based (version 5 layout, SHA-1) UUID: the same input gives the same UUID. */
export function uuidFromSeed(input: string): string {
  const b = createHash('sha1').update(input).digest().subarray(0, 16);
  b[6] = (b[6]! & 0x0f) | 0x50;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/**
 * SPDXIDs from the NEVRA ("SPDXRef-RPM-bash-5.2.37-1.fc42.x86_64"), readable and stable across
 * runs. Characters outside [A-Za-z0-9.-] become '-'; when two packages end up with the same id
 * (foo_bar vs foo-bar, or one NEVRA from two repos with different files) the checksum tells them apart.
 */
function assignSpdxIds(pkgs: Package[]): string[] {
  const base = pkgs.map((p) => `SPDXRef-RPM-${sanitiseId(formatNevra(p))}`);
  const count = new Map<string, number>();
  for (const id of base) count.set(id, (count.get(id) ?? 0) + 1);
  const ids = base.map((id, i) => (count.get(id)! > 1 ? `${id}-${sanitiseId(pkgs[i]!.checksum.value)}` : id));
  const used = new Set<string>();
  return ids.map((id) => {
    let unique = id;
    for (let n = 2; used.has(unique); n++) unique = `${id}-${n}`;
    used.add(unique);
    return unique;
  });
}

/** licenseDeclared values plus the extracted licensing infos the LicenseRefs among them need. */
function declareLicenses(pkgs: Package[]): { declared: string[]; extracted: SpdxExtractedLicense[] } {
  const parsed = pkgs.map((p) => {
    const tag = p.license?.trim() ?? '';
    return { tag, norm: tag ? normaliseLicense(tag) : undefined };
  });
  const exprRefs = new Set<string>();
  for (const x of parsed) x.norm?.refs.forEach((r) => exprRefs.add(r));
  // tags that are not expressions: group by sanitised id; ids shared by different tags, or
  // clashing with a LicenseRef some valid expression names, get a hash suffix per tag
  const byRef = new Map<string, Set<string>>();
  for (const x of parsed) {
    if (!x.norm || x.norm.expression !== undefined) continue;
    const ref = licenseRefFor(x.tag);
    let set = byRef.get(ref);
    if (!set) byRef.set(ref, (set = new Set()));
    set.add(x.tag);
  }
  const refForTag = new Map<string, string>();
  for (const [ref, tags] of byRef) {
    const clash = tags.size > 1 || exprRefs.has(ref);
    for (const tag of tags) refForTag.set(tag, clash ? `${ref}-${licenseRefSuffix(tag)}` : ref);
  }
  const extracted = new Map<string, SpdxExtractedLicense>();
  for (const [tag, ref] of refForTag) {
    extracted.set(ref, {
      licenseId: ref,
      name: tag,
      extractedText: tag,
      comment: 'RPM License tag that is not a valid SPDX license expression, kept verbatim',
    });
  }
  for (const ref of exprRefs) {
    extracted.set(ref, {
      licenseId: ref,
      name: ref.slice('LicenseRef-'.length),
      // the RPM header names the licence but does not carry its text
      extractedText: `${ref} (named in an RPM License tag; licence text not available)`,
      comment: 'license reference used in RPM License tags',
    });
  }
  const declared = parsed.map((x) => (!x.norm ? NOASSERTION : (x.norm.expression ?? refForTag.get(x.tag)!)));
  return { declared, extracted: [...extracted.values()].sort((a, b) => cmp(a.licenseId, b.licenseId)) };
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Build the SPDX 2.3 document for a package set. */
export function spdxDocument(opts: SpdxOptions): SpdxDocument {
  if (!opts.name?.trim()) throw new KilnError('SBOM: document name is empty');
  if (!opts.toolVersion?.trim()) throw new KilnError(`SBOM "${opts.name}": tool version is empty`);
  const created = spdxTimestamp(opts.created ?? new Date(), `"${opts.name}" creation time`);

  // one entry per distinct RPM file; a package listed twice (two transactions) is one package
  const unique = new Map<string, Package>();
  for (const p of opts.packages) {
    if (!p.checksum?.value) throw new KilnError(`SBOM "${opts.name}": package ${formatNevra(p)} (repo "${p.repoId}") has no checksum`);
    const key = `${formatNevra(p)} ${checksumKey(p)}`;
    if (!unique.has(key)) unique.set(key, p);
  }
  const pkgs = [...unique.entries()].sort((a, b) => cmp(a[0], b[0])).map(([, p]) => p);

  const repos = new Map(opts.repos.map((r) => [r.config.id, r]));
  const ids = assignSpdxIds(pkgs);
  const { declared, extracted } = declareLicenses(pkgs);

  const packages: SpdxPackage[] = pkgs.map((p, i) => {
    const vendor = p.vendor?.replace(/\s+/g, ' ').trim();
    const sp: SpdxPackage = {
      SPDXID: ids[i]!,
      name: p.name,
      versionInfo: evrString(p),
      supplier: vendor ? `Organization: ${vendor}` : NOASSERTION,
      downloadLocation: downloadLocation(p, repos),
      filesAnalyzed: false,
      licenseConcluded: NOASSERTION,
      licenseDeclared: declared[i]!,
      copyrightText: NOASSERTION,
      checksums: [spdxChecksum(p)],
      externalRefs: [{ referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: purl(p, purlNamespace(p, opts.purlNamespace)) }],
    };
    const hp = homepage(p.url);
    if (hp) sp.homepage = hp;
    if (p.summary) sp.summary = p.summary;
    if (p.description) sp.description = p.description;
    if (p.sourceRpm) sp.sourceInfo = `built package from: ${p.sourceRpm}`;
    if (p.buildTime !== undefined && Number.isFinite(p.buildTime)) sp.builtDate = spdxTimestamp(new Date(p.buildTime * 1000), `build time of ${formatNevra(p)}`);
    return sp;
  });

  const describes: SpdxRelationship[] = ids
    .map((id) => ({ spdxElementId: 'SPDXRef-DOCUMENT', relationshipType: 'DESCRIBES' as const, relatedSpdxElement: id }))
    .sort((a, b) => cmp(a.relatedSpdxElement, b.relatedSpdxElement));
  const deps: SpdxRelationship[] = dependencyEdges(pkgs).map((e) =>
    e.kind === 'requires'
      ? { spdxElementId: ids[e.from]!, relationshipType: 'DEPENDS_ON' as const, relatedSpdxElement: ids[e.to]! }
      : // "B OPTIONAL_DEPENDENCY_OF A": the weakly wanted package is the subject
        { spdxElementId: ids[e.to]!, relationshipType: 'OPTIONAL_DEPENDENCY_OF' as const, relatedSpdxElement: ids[e.from]! },
  );
  deps.sort((a, b) => cmp(a.spdxElementId, b.spdxElementId) || cmp(a.relationshipType, b.relationshipType) || cmp(a.relatedSpdxElement, b.relatedSpdxElement));

  const uuid =
    opts.namespaceSeed !== undefined
      ? uuidFromSeed(['kiln-sbom', opts.namespaceSeed, opts.name, ...pkgs.map(checksumKey)].join('\n'))
      : randomUUID();
  const nsBase = (opts.namespaceBase ?? 'https://kiln.invalid/spdxdocs').replace(/\/+$/, '');

  const doc: SpdxDocument = {
    spdxVersion: 'SPDX-2.3',
    dataLicense: 'CC0-1.0',
    SPDXID: 'SPDXRef-DOCUMENT',
    name: opts.name,
    documentNamespace: `${nsBase}/${encodeURIComponent(opts.name)}-${uuid}`,
    creationInfo: { created, creators: [`Tool: kiln-${opts.toolVersion}`] },
    packages,
    relationships: [...describes, ...deps],
  };
  if (extracted.length > 0) doc.hasExtractedLicensingInfos = extracted;
  return doc;
}
