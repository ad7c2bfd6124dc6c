// RPMs known to the hub double, for getRPM and for the rpmlist of host.completeImageBuild.
// Follows kojihub.py 1.35.3: get_rpm / _get_rpms (lookup by id, by "N-V-R.A[@location]" or by a
// struct; the struct match is on name, version, release and arch only — epoch is not compared;
// a `location` key restricts to that external repo and an unknown repo name is an error), and
// importImageInternal's loop over rpmlist (entries with a truthy `location` go through
// add_external_rpm(strict=False), the others through get_rpm(strict=True) + reject_draft).
//
// Kept apart from model.ts: the state lives in a WeakMap keyed by the HubState, seeded by tests
// with seedRpms() / seedExternalRepo().
import type { XmlRpcStruct, XmlRpcValue } from '../../../src/koji/xmlrpc.js';
import { hubError, type HubState } from './model.js';

export interface RpmSeed {
  name: string;
  version: string;
  release: string;
  arch: string;
  epoch?: number | null;
  draft?: boolean;
  /** external repo name (must be seeded with seedExternalRepo); internal rpm when absent */
  externalRepo?: string;
  payloadhash?: string;
  size?: number;
  buildtime?: number;
  buildId?: number | null;
}

interface Rpm {
  id: number;
  name: string;
  version: string;
  release: string;
  arch: string;
  epoch: number | null;
  draft: boolean;
  externalRepoId: number;
  payloadhash: string;
  size: number;
  buildtime: number;
  buildId: number | null;
}

interface RpmTables {
  rpms: Rpm[];
  /** external_repo: id 0 is INTERNAL, as in Koji's schema */
  repos: Map<string, number>;
  nextRpm: number;
  nextRepo: number;
}

const tables = new WeakMap<HubState, RpmTables>();

function tablesOf(state: HubState): RpmTables {
  let t = tables.get(state);
  if (!t) {
    t = { rpms: [], repos: new Map([['INTERNAL', 0]]), nextRpm: 1, nextRepo: 1 };
    tables.set(state, t);
  }
  return t;
}

export function seedExternalRepo(state: HubState, name: string): number {
  const t = tablesOf(state);
  const known = t.repos.get(name);
  if (known !== undefined) return known;
  const id = t.nextRepo++;
  t.repos.set(name, id);
  return id;
}

export function seedRpms(state: HubState, rpms: RpmSeed[]): number[] {
  const t = tablesOf(state);
  return rpms.map((r) => {
    const repoId = r.externalRepo === undefined ? 0 : t.repos.get(r.externalRepo);
    if (repoId === undefined) throw new Error(`seedRpms: unknown external repo ${r.externalRepo}`);
    const id = t.nextRpm++;
    t.rpms.push({
      id, name: r.name, version: r.version, release: r.release, arch: r.arch, epoch: r.epoch ?? null,
      draft: r.draft ?? false, externalRepoId: repoId, payloadhash: r.payloadhash ?? '0'.repeat(32),
      size: r.size ?? 1024, buildtime: r.buildtime ?? 1700000000, buildId: r.buildId ?? null,
    });
    return id;
  });
}

function repoName(t: RpmTables, id: number): string {
  for (const [n, i] of t.repos) if (i === id) return n;
  return String(id);
}

function rpmInfo(t: RpmTables, r: Rpm): XmlRpcStruct {
  return {
    id: r.id, build_id: r.buildId, buildroot_id: null, name: r.name, version: r.version, release: r.release,
    epoch: r.epoch, arch: r.arch, draft: r.draft, external_repo_id: r.externalRepoId,
    external_repo_name: repoName(t, r.externalRepoId), payloadhash: r.payloadhash, size: r.size,
    buildtime: r.buildtime, metadata_only: false, extra: null,
  };
}

const pyStr = (s: string) => (s.includes("'") && !s.includes('"') ? `"${s}"` : `'${s.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`);

/** Python repr of a scalar. */
export function pyValRepr(v: XmlRpcValue): string {
  if (v === null || v === undefined) return 'None';
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'string') return pyStr(v);
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  return JSON.stringify(v);
}

/** Python repr of a flat dict in insertion order (the hub's "%r" of the lookup dict). */
export function pyDictRepr(o: XmlRpcStruct): string {
  return `{${Object.entries(o).map(([k, v]) => `${pyStr(k)}: ${pyValRepr(v)}`).join(', ')}}`;
}

function parseNvra(s: string): XmlRpcStruct {
  let nvra = s;
  let location: string | undefined;
  const at = s.indexOf('@');
  if (at >= 0) [nvra, location] = [s.slice(0, at), s.slice(at + 1)];
  if (nvra.endsWith('.rpm')) nvra = nvra.slice(0, -4);
  const p3 = nvra.lastIndexOf('.');
  if (p3 === -1 || p3 === nvra.length - 1) throw hubError('GenericError', `invalid format: ${nvra}`);
  const nvr = nvra.slice(0, p3);
  const p2 = nvr.lastIndexOf('-');
  const p1 = nvr.lastIndexOf('-', p2 - 1);
  if (p2 <= 0 || p1 <= 0) throw hubError('GenericError', `invalid format: ${nvr}`);
  const out: XmlRpcStruct = { name: nvr.slice(0, p1), version: nvr.slice(p1 + 1, p2), release: nvr.slice(p2 + 1), arch: nvra.slice(p3 + 1) };
  out.src = out.arch === 'src';
  if (location) out.location = location;
  return out;
}

/** kojihub get_rpm(rpminfo, strict, multi). */
export function getRpm(state: HubState, rpminfo: XmlRpcValue, strict: boolean, multi = false): XmlRpcValue {
  const t = tablesOf(state);
  let data: XmlRpcStruct;
  if (typeof rpminfo === 'number') data = { id: rpminfo };
  else if (typeof rpminfo === 'string') data = /^-?\d+$/.test(rpminfo.trim()) ? { id: Number(rpminfo) } : parseNvra(rpminfo);
  else if (rpminfo && typeof rpminfo === 'object' && !Array.isArray(rpminfo) && !(rpminfo instanceof Date) && !(rpminfo instanceof Uint8Array)) {
    data = { ...(rpminfo as XmlRpcStruct) };
  } else throw hubError('GenericError', `Invalid type for rpminfo: <class '${Array.isArray(rpminfo) ? 'list' : typeof rpminfo}'>`);

  let found: Rpm[];
  if ('id' in data) found = t.rpms.filter((r) => r.id === Number(data.id));
  else {
    for (const k of ['name', 'version', 'release', 'arch']) {
      // the SQL query binds %(name)s etc.: a missing key is a KeyError on the hub
      if (!(k in data)) throw hubError('GenericError', `KeyError: '${k}'`);
    }
    found = t.rpms.filter((r) => r.name === data.name && r.version === data.version && r.release === data.release && r.arch === data.arch);
  }
  if ('location' in data) {
    const repoId = t.repos.get(String(data.location));
    if (repoId === undefined) throw hubError('GenericError', `No such entry in table external_repo: ${data.location}`);
    data.external_repo_id = repoId;
    found = found.filter((r) => r.externalRepoId === repoId);
  }
  if (multi) return found.map((r) => rpmInfo(t, r));
  if (found.length === 0) {
    if (strict) throw hubError('GenericError', `No such rpm: ${pyDictRepr(data)}`);
    return null;
  }
  // preference: internal non-draft, then internal draft (highest id), then external (highest id)
  const byId = [...found].sort((a, b) => b.id - a.id);
  const pick = byId.find((r) => r.externalRepoId === 0 && !r.draft) ?? byId.find((r) => r.externalRepoId === 0) ?? byId[0]!;
  return rpmInfo(t, pick);
}

const EXTERNAL_FIELDS: [string, (v: XmlRpcValue) => boolean][] = [
  ['name', (v) => typeof v === 'string'],
  ['version', (v) => typeof v === 'string'],
  ['release', (v) => typeof v === 'string'],
  ['epoch', (v) => v === null || (typeof v === 'number' && Number.isInteger(v))],
  ['arch', (v) => typeof v === 'string'],
  ['payloadhash', (v) => typeof v === 'string'],
  ['size', (v) => typeof v === 'number' && Number.isInteger(v)],
  ['buildtime', (v) => typeof v === 'number' && Number.isInteger(v)],
];

/**
 * importImageInternal's rpmlist loop, split in a check (every fault it can raise, nothing
 * changed) and an apply (the external rpms add_external_rpm would insert), so the double can
 * keep its "check everything before changing anything" rule. Returns the apply step.
 */
export function checkImageRpmlist(state: HubState, rpmlist: XmlRpcValue): () => void {
  const t = tablesOf(state);
  const toAdd: RpmSeed[] = [];
  for (const an of Array.isArray(rpmlist) ? rpmlist : []) {
    const entry = an as XmlRpcStruct;
    const location = entry && typeof entry === 'object' ? entry.location : undefined;
    if (location) {
      // add_external_rpm(an_rpm, location, strict=False)
      for (const [field, ok] of EXTERNAL_FIELDS) {
        if (!(field in entry)) throw hubError('GenericError', `${field} field missing: ${pyDictRepr(entry)}`);
        if (!ok(entry[field]!)) throw hubError('GenericError', `Invalid value for ${field}: ${pyValRepr(entry[field]!)}`);
      }
      const prev = getRpm(state, { name: entry.name!, version: entry.version!, release: entry.release!, arch: entry.arch!, location }, false) as XmlRpcStruct | null;
      if (prev) {
        if (prev.payloadhash !== entry.payloadhash) {
          const disp = `${prev.name}-${prev.version}-${prev.release}.${prev.arch}@${prev.external_repo_name}`;
          throw hubError('GenericError', `hash changed for external rpm: ${disp} (${prev.payloadhash} -> ${entry.payloadhash})`);
        }
        continue;
      }
      if (!t.repos.has(String(location))) throw hubError('GenericError', `No such entry in table external_repo: ${location}`);
      // a second entry for the same rpm finds the first one's insert (check_dup)
      if (toAdd.some((x) => x.name === entry.name && x.version === entry.version && x.release === entry.release && x.arch === entry.arch && x.externalRepo === String(location))) continue;
      toAdd.push({
        name: String(entry.name), version: String(entry.version), release: String(entry.release), arch: String(entry.arch),
        epoch: entry.epoch as number | null, externalRepo: String(location), payloadhash: String(entry.payloadhash),
        size: Number(entry.size), buildtime: Number(entry.buildtime),
      });
    } else {
      const data = getRpm(state, an, true) as XmlRpcStruct;
      // unlike buildroots, images reject draft rpms as components
      if (data.draft) throw hubError('GenericError', 'Draft rpm not supported');
    }
  }
  return () => {
    seedRpms(state, toAdd);
  };
}
