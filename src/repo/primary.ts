// primary.xml reader. This is on the hot path (a Fedora-sized repo has ~60,000 packages and
// well over 100 MB of XML), so the handlers avoid per-event allocations: element names are
// dispatched with one switch, text is only collected inside the few elements we keep, and
// strings that repeat across packages (arch, dependency names, versions) are interned so a
// loaded repository shares them instead of holding millions of copies.
//
// Conventions of the resulting objects (src/rpm/types.ts):
// - every Package has all keys of the interface (optional ones may hold `undefined`), so all
//   packages share one object shape;
// - a Dep only has the keys that are present; `epoch` is omitted when it is 0, because rpm-md
//   writes epoch="0" for dependencies that had no epoch and the two mean the same to rpm;
// - empty texts (`<url></url>`, `<rpm:vendor/>`) become undefined.
// Namespaces are not processed: createrepo_c (and every rpm-md producer we know) uses the
// `rpm:` prefix for the rpm namespace, and that is what we match.
import type { Checksum, Dep, DepFlag, Package } from '../rpm/types.js';
import { KilnError } from '../util/errors.js';
import { defineLazyFiles } from './filelists.js';
import { parseXml, type XmlSource } from './xml.js';

/**
 * A copy of `s` that does not keep its source alive. saxes hands out attribute values and texts
 * as slices of the chunk being parsed, and V8 represents a slice of 13 or more characters as a
 * view into its parent string: keeping one such string keeps the whole chunk. Kept naively, the
 * parsed packages of a 60,000-package primary.xml pin every chunk, i.e. the whole decompressed
 * document (~70 MB). Concatenating and slicing forces a fresh flat copy of just these characters.
 */
export function ownString(s: string): string {
  return s.length < 13 ? s : (' ' + s).slice(1);
}

/** A string interner: returns one shared (and owned, see ownString) instance per distinct string. */
export class Interner {
  private readonly map = new Map<string, string>();
  get(s: string): string {
    const hit = this.map.get(s);
    if (hit !== undefined) return hit;
    const own = ownString(s);
    this.map.set(own, own);
    return own;
  }
}

const FLAGS: Record<string, DepFlag> = { EQ: 'EQ', LT: 'LT', LE: 'LE', GT: 'GT', GE: 'GE' };

/** A package with every key set (one shared object shape); `files` is lazy (filelists.ts). */
export function newPackage(repoId: string): Package {
  return defineLazyFiles({
    name: '',
    arch: '',
    epoch: 0,
    version: '',
    release: '',
    summary: undefined,
    description: undefined,
    url: undefined,
    license: undefined,
    vendor: undefined,
    buildTime: undefined,
    sourceRpm: undefined,
    location: '',
    checksum: { type: '', value: '' },
    downloadSize: undefined,
    installSize: undefined,
    provides: [],
    requires: [],
    conflicts: [],
    obsoletes: [],
    recommends: [],
    suggests: [],
    supplements: [],
    enhances: [],
    repoId,
  });
}

// Text fields we collect.
const T_NONE = 0,
  T_NAME = 1,
  T_ARCH = 2,
  T_SUMMARY = 3,
  T_DESCRIPTION = 4,
  T_URL = 5,
  T_LICENSE = 6,
  T_VENDOR = 7,
  T_SOURCERPM = 8,
  T_CHECKSUM = 9,
  T_FILE = 10;

function parseEpoch(s: string | undefined): number {
  if (s === undefined || s === '' || s === '0') return 0;
  const n = Number(s);
  if (!Number.isInteger(n) || n < 0) throw new KilnError(`invalid epoch "${s}"`);
  return n;
}

function optNumber(s: string | undefined): number | undefined {
  if (s === undefined || s === '') return undefined;
  const n = Number(s);
  return Number.isFinite(n) ? n : undefined;
}

/**
 * Parse primary.xml text chunks into packages of repository `repoId`.
 * `src` names the repository and file in errors.
 */
export async function parsePrimary(chunks: AsyncIterable<string> | Iterable<string>, repoId: string, src: XmlSource, interner = new Interner()): Promise<Package[]> {
  const pkgs: Package[] = [];
  let pkg: Package | undefined;
  let deps: Dep[] | undefined;
  let field = T_NONE;
  let buf = '';
  let checksumType = '';
  let sawRoot = false;
  const intern = (s: string) => interner.get(s);

  const makeDep = (a: Record<string, string>): Dep => {
    const name = intern(a.name ?? '');
    if (name === '') throw new KilnError(`package "${pkg?.name}": <rpm:entry> without a name`);
    const fl = a.flags;
    const pre = a.pre === '1' || a.pre === 'true';
    if (fl === undefined) return pre ? { name, pre: true } : { name };
    const flags = FLAGS[fl];
    if (flags === undefined) throw new KilnError(`package "${pkg?.name}": unknown dependency flags "${fl}" on ${name}`);
    const dep: Dep = { name, flags };
    const e = a.epoch;
    if (e !== undefined && e !== '0' && e !== '') dep.epoch = parseEpoch(e);
    // (versions are mostly short, hence already copies; interning them costs more than it saves)
    if (a.ver !== undefined) dep.version = ownString(a.ver);
    if (a.rel !== undefined) dep.release = ownString(a.rel);
    if (pre) dep.pre = true;
    return dep;
  };

  const open = (name: string, a: Record<string, string>): void => {
    switch (name) {
      case 'rpm:entry':
        if (deps !== undefined) deps.push(makeDep(a));
        return;
      case 'file':
        if (pkg !== undefined) {
          field = T_FILE;
          buf = '';
        }
        return;
      case 'package':
        if (pkg !== undefined) throw new KilnError('nested <package>');
        pkg = newPackage(repoId);
        return;
      case 'name':
        field = T_NAME;
        buf = '';
        return;
      case 'arch':
        field = T_ARCH;
        buf = '';
        return;
      case 'summary':
        field = T_SUMMARY;
        buf = '';
        return;
      case 'description':
        field = T_DESCRIPTION;
        buf = '';
        return;
      case 'url':
        field = T_URL;
        buf = '';
        return;
      case 'rpm:license':
        field = T_LICENSE;
        buf = '';
        return;
      case 'rpm:vendor':
        field = T_VENDOR;
        buf = '';
        return;
      case 'rpm:sourcerpm':
        field = T_SOURCERPM;
        buf = '';
        return;
      case 'checksum':
        field = T_CHECKSUM;
        buf = '';
        checksumType = a.type ?? '';
        return;
      case 'version':
        if (pkg !== undefined) {
          pkg.epoch = parseEpoch(a.epoch);
          pkg.version = intern(a.ver ?? '');
          pkg.release = intern(a.rel ?? '');
        }
        return;
      case 'time':
        if (pkg !== undefined) pkg.buildTime = optNumber(a.build);
        return;
      case 'size':
        if (pkg !== undefined) {
          pkg.downloadSize = optNumber(a.package);
          pkg.installSize = optNumber(a.installed);
        }
        return;
      case 'location':
        if (pkg !== undefined) pkg.location = ownString(a.href ?? '');
        return;
      case 'rpm:provides':
        if (pkg !== undefined) deps = pkg.provides;
        return;
      case 'rpm:requires':
        if (pkg !== undefined) deps = pkg.requires;
        return;
      case 'rpm:conflicts':
        if (pkg !== undefined) deps = pkg.conflicts;
        return;
      case 'rpm:obsoletes':
        if (pkg !== undefined) deps = pkg.obsoletes;
        return;
      case 'rpm:recommends':
        if (pkg !== undefined) deps = pkg.recommends;
        return;
      case 'rpm:suggests':
        if (pkg !== undefined) deps = pkg.suggests;
        return;
      case 'rpm:supplements':
        if (pkg !== undefined) deps = pkg.supplements;
        return;
      case 'rpm:enhances':
        if (pkg !== undefined) deps = pkg.enhances;
        return;
      case 'metadata':
        sawRoot = true;
        return;
      default:
        if (!sawRoot) throw new KilnError(`expected <metadata> as the root element, found <${name}>`);
    }
  };

  const close = (name: string): void => {
    if (field !== T_NONE) {
      const p = pkg;
      if (p !== undefined) {
        switch (field) {
          case T_FILE:
            p.files.push(ownString(buf));
            break;
          case T_NAME:
            p.name = intern(buf);
            break;
          case T_ARCH:
            p.arch = intern(buf);
            break;
          case T_SUMMARY:
            p.summary = buf ? ownString(buf) : undefined;
            break;
          case T_DESCRIPTION:
            p.description = buf ? ownString(buf) : undefined;
            break;
          case T_URL:
            p.url = buf ? ownString(buf) : undefined;
            break;
          case T_LICENSE:
            p.license = buf ? intern(buf) : undefined;
            break;
          case T_VENDOR:
            p.vendor = buf ? intern(buf) : undefined;
            break;
          case T_SOURCERPM:
            p.sourceRpm = buf ? ownString(buf) : undefined;
            break;
          case T_CHECKSUM: {
            const c: Checksum = { type: intern(checksumType), value: ownString(buf.trim().toLowerCase()) };
            p.checksum = c;
            break;
          }
        }
      }
      field = T_NONE;
      return;
    }
    if (name === 'package') {
      const p = pkg!;
      if (p.name === '') throw new KilnError('<package> without <name>');
      if (p.arch === '') throw new KilnError(`package "${p.name}" has no <arch>`);
      if (p.location === '') throw new KilnError(`package "${p.name}" has no <location href>`);
      if (p.checksum.value === '') throw new KilnError(`package "${p.name}" has no <checksum>`);
      pkgs.push(p);
      pkg = undefined;
      deps = undefined;
    } else if (deps !== undefined && name.startsWith('rpm:') && name !== 'rpm:entry') {
      deps = undefined;
    }
  };

  await parseXml(
    chunks,
    {
      open,
      close,
      text(t) {
        buf = buf === '' ? t : buf + t;
      },
      wantText: () => field !== T_NONE,
    },
    src,
  );
  if (!sawRoot) throw new KilnError(`repo "${src.repo}": ${src.file}: no <metadata> element`);
  return pkgs;
}
