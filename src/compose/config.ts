// Load and validate a compose config (YAML). The shape follows Pungi's imagebuilder phase: a
// release, compose type/label, variants, and `imagebuilder: {<variant uid regex>: [entry...]}`
// where each entry may leave keys to the fallbacks `imagebuilder_<key>` and then `global_<key>`
// at the top level. Every problem is reported as `<file>:<line>: <key path>: <problem>`, all at
// once.
//
// `${NAME}` / `${NAME:-default}` in any string value is replaced from the environment before
// validation (so `repos: ["${KILN_DEMO_REPO}/$arch"]` works); `$arch`/`$basearch` (no braces)
// are left for the planner, and `$${` writes a literal `${`.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseBlueprint, loadBlueprint } from '../blueprint/index.js';
import type { Blueprint } from '../blueprint/types.js';
import { joinKey, lineOf, parseYamlFile, type SourceFile } from '../defs/yaml-source.js';
import { KilnError } from '../util/errors.js';
import { COMPOSE_TYPES, RELEASE_TYPES, RELEASE_VERSION_RE, isValidLabel, type ComposeType, type ReleaseInfo } from './compose-id.js';
import { COMPOSE_ARCHES, SUPPORTED_IMAGE_TYPES } from './image-types.js';

export const BACKENDS = ['local', 'koji', 'remote-service'] as const;
export type BackendKind = (typeof BACKENDS)[number];

export const VARIANT_TYPES = ['variant', 'optional', 'addon', 'layered-product'] as const;
export type VariantType = (typeof VARIANT_TYPES)[number];

export const LINK_TYPES = ['hardlink', 'copy', 'hardlink-or-copy', 'symlink', 'abspath-symlink'] as const;
export type LinkType = (typeof LINK_TYPES)[number];

export const CHECKSUM_TYPES = ['md5', 'sha1', 'sha224', 'sha256', 'sha384', 'sha512'] as const;
export type ChecksumType = (typeof CHECKSUM_TYPES)[number];

export interface VariantConfig {
  uid: string;
  /** productmd variant id: the uid for top-level variants, the part after `<parent>-` for children */
  id: string;
  name: string;
  type: VariantType;
  arches: string[];
  parent?: string;
  /** the variant's own package repository (URL, `$arch` allowed); used when its uid is in `repos` */
  repo?: string;
  /** layered products carry their own release */
  release?: ReleaseInfo;
  keyPath: string;
}

export interface OstreeConfig {
  url?: string;
  ref?: string;
  parent?: string;
}

export type BlueprintSource = { kind: 'file'; path: string; blueprint: Blueprint } | { kind: 'inline'; blueprint: Blueprint };

/** The keys an entry may set; those in FALLBACK_KEYS may also come from imagebuilder_/global_. */
export interface EntrySettings {
  name?: string;
  types?: string[];
  target?: string;
  version?: string | null;
  release?: string | null;
  arches?: string[];
  repos?: string[];
  /** arch list; `['*']` means every arch the entry builds */
  failable?: string[];
  subvariant?: string;
  manifest_type?: string;
  ostree?: OstreeConfig;
  blueprint?: BlueprintSource;
  seed?: number;
  /** koji-image-builder's opts.preview: override the distro's prerelease state (RC composes) */
  preview?: boolean;
  scratch?: boolean;
  distro?: string;
  backend?: BackendKind;
}

export type SettingKey = keyof EntrySettings;

/** A setting with where it was written (for errors and for Pungi's "present" semantics). */
export interface Located<T> {
  value: T;
  /** `file:line: key.path` */
  where: string;
}

export type LocatedSettings = { [K in SettingKey]?: Located<NonNullable<EntrySettings[K]> | (null extends EntrySettings[K] ? null : never)> };

export interface ImageEntry {
  /** the variant regex this entry is listed under */
  variantRegex: string;
  /** index within that regex's list */
  index: number;
  keyPath: string;
  where: string;
  settings: LocatedSettings;
}

export const FALLBACK_KEYS = [
  'types', 'target', 'version', 'release', 'repos', 'failable', 'manifest_type', 'ostree', 'blueprint', 'seed', 'preview', 'scratch', 'distro',
  'backend', 'subvariant',
] as const satisfies readonly SettingKey[];

export interface KojiSettings {
  profile?: string;
  hub?: string;
  topurl?: string;
  weburl?: string;
}

export interface ComposeConfig {
  file: string;
  dir: string;
  release: ReleaseInfo;
  compose: { type: ComposeType; label?: string };
  variants: VariantConfig[];
  entries: ImageEntry[];
  /** `imagebuilder_<key>` values */
  phaseDefaults: LocatedSettings;
  /** `global_<key>` values */
  globalDefaults: LocatedSettings;
  translatePaths: [string, string][];
  linkType: LinkType;
  mediaChecksums: ChecksumType[];
  mediaChecksumOneFile: boolean;
  mediaChecksumBaseFilename: string;
  latestLink: boolean;
  latestLinkComponents: number;
  koji: KojiSettings;
}

export interface LoadOptions {
  /** environment for `${NAME}` substitution (default process.env) */
  env?: Record<string, string | undefined>;
}

const TOP_LEVEL_KEYS = new Set([
  'release', 'compose', 'variants', 'imagebuilder', 'translate_paths', 'link_type', 'media_checksums', 'media_checksum_one_file',
  'media_checksum_base_filename', 'latest_link', 'latest_link_components', 'koji',
]);

const ENTRY_KEYS: readonly SettingKey[] = [
  'name', 'types', 'target', 'version', 'release', 'arches', 'repos', 'failable', 'subvariant', 'manifest_type', 'ostree', 'blueprint',
  'seed', 'preview', 'scratch', 'distro', 'backend',
];

const ARCH_HINT = 'e.g. x86_64, aarch64, ppc64le, s390x';

export function loadComposeConfig(file: string, opts: LoadOptions = {}): ComposeConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new KilnError(`compose config ${file}: cannot read: ${err.code === 'ENOENT' ? 'no such file' : err.message}`);
  }
  return parseComposeConfig(text, file, opts);
}

export function parseComposeConfig(text: string, file: string, opts: LoadOptions = {}): ComposeConfig {
  const src = parseYamlFile(file, text);
  const v = new Validator(src, path.dirname(path.resolve(file)), opts.env ?? process.env);
  const cfg = v.top();
  if (v.errors.length > 0 || !cfg) throw new KilnError(v.errors.join('\n'));
  return cfg;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return `the string "${v}"`;
  return `${typeof v} ${String(v)}`;
}

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

class Validator {
  readonly errors: string[] = [];
  constructor(
    private src: SourceFile,
    private dir: string,
    private env: Record<string, string | undefined>,
  ) {}

  where(p: string): string {
    return `${this.src.file}:${lineOf(this.src, p)}: ${p || '(top level)'}`;
  }

  err(p: string, problem: string): undefined {
    this.errors.push(`${this.where(p)}: ${problem}`);
    return undefined;
  }

  // ---- scalars --------------------------------------------------------------------------

  /** Substitute `${NAME}` / `${NAME:-default}`; `$${` is a literal `${`. */
  subst(s: string, p: string): string {
    return s.replace(/\$(\$)?\{([^}]*)\}/g, (whole, esc: string | undefined, body: string) => {
      if (esc) return whole.slice(1);
      const m = /^([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?$/s.exec(body);
      if (!m) {
        this.err(p, `invalid substitution "\${${body}}" (use \${NAME} or \${NAME:-default})`);
        return whole;
      }
      const val = this.env[m[1]];
      if (val !== undefined && val !== '') return val;
      if (m[2] !== undefined) return m[2];
      this.err(p, `environment variable ${m[1]} is not set (used as \${${m[1]}})`);
      return whole;
    });
  }

  str(v: unknown, p: string, opts: { nonEmpty?: boolean; enum?: readonly string[] } = {}): string | undefined {
    if (typeof v !== 'string') return this.err(p, `expected a string, got ${describe(v)}`);
    const s = this.subst(v, p);
    if (opts.nonEmpty !== false && s.trim() === '') return this.err(p, 'must not be empty');
    if (opts.enum && !opts.enum.includes(s)) {
      return this.err(p, `invalid value "${s}": expected one of ${opts.enum.map((e) => `"${e}"`).join(', ')}`);
    }
    return s;
  }

  /** string, or a number written without quotes (YAML `version: 42`) */
  strOrNum(v: unknown, p: string): string | undefined {
    if (typeof v === 'number' && Number.isFinite(v)) return String(v);
    return this.str(v, p);
  }

  bool(v: unknown, p: string): boolean | undefined {
    if (typeof v !== 'boolean') return this.err(p, `expected true or false, got ${describe(v)}`);
    return v;
  }

  int(v: unknown, p: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
    if (typeof v !== 'number' || !Number.isInteger(v)) return this.err(p, `expected an integer, got ${describe(v)}`);
    if (v < min || v > max) return this.err(p, `value ${v} is out of range ${min}..${max}`);
    return v;
  }

  /** A list of strings; a single string is accepted as a one-item list (as Pungi's force_list). */
  strList(v: unknown, p: string, opts: { nonEmpty?: boolean } = {}): string[] | undefined {
    const items = typeof v === 'string' ? [v] : v;
    if (!Array.isArray(items)) return this.err(p, `expected a list of strings, got ${describe(v)}`);
    if (opts.nonEmpty && items.length === 0) return this.err(p, 'must not be an empty list');
    const out: string[] = [];
    let ok = true;
    items.forEach((it, i) => {
      const s = this.str(it, typeof v === 'string' ? p : joinKey(p, i));
      if (s === undefined) ok = false;
      else out.push(s);
    });
    return ok ? out : undefined;
  }

  arches(v: unknown, p: string): string[] | undefined {
    const list = this.strList(v, p, { nonEmpty: true });
    if (!list) return undefined;
    let ok = true;
    list.forEach((a, i) => {
      if (!COMPOSE_ARCHES.includes(a)) {
        ok = false;
        this.err(Array.isArray(v) ? joinKey(p, i) : p, `unknown architecture "${a}" (${ARCH_HINT}; src/noarch are not image arches)`);
      }
    });
    const dup = list.find((a, i) => list.indexOf(a) !== i);
    if (dup) return this.err(p, `architecture "${dup}" is listed twice`);
    return ok ? list : undefined;
  }

  keys(m: Record<string, unknown>, p: string, allowed: readonly string[]): void {
    for (const k of Object.keys(m)) {
      if (!allowed.includes(k)) this.err(joinKey(p, k), `unknown key (allowed: ${allowed.join(', ')})`);
    }
  }

  // ---- sections -------------------------------------------------------------------------

  top(): ComposeConfig | undefined {
    const root = this.src.value;
    if (!isMap(root)) return this.err('', `expected a mapping at the top level, got ${describe(root)}`);

    const phaseDefaults: LocatedSettings = {};
    const globalDefaults: LocatedSettings = {};
    for (const k of Object.keys(root)) {
      if (TOP_LEVEL_KEYS.has(k)) continue;
      const m = /^(imagebuilder|global)_(.+)$/.exec(k);
      if (m && (FALLBACK_KEYS as readonly string[]).includes(m[2])) {
        this.setting(m[2] as SettingKey, root[k], k, m[1] === 'imagebuilder' ? phaseDefaults : globalDefaults);
        continue;
      }
      if (m) {
        this.err(k, `"${m[2]}" cannot be set as a fallback (fallback keys: ${FALLBACK_KEYS.join(', ')})`);
        continue;
      }
      this.err(k, `unknown top-level key (allowed: ${[...TOP_LEVEL_KEYS].join(', ')}, imagebuilder_<key>, global_<key>)`);
    }

    const release = 'release' in root ? this.release(root.release, 'release') : this.err('', 'missing required key "release"');
    const compose = this.composeSection(root.compose, 'compose');
    const variants = 'variants' in root ? this.variants(root.variants, 'variants') : this.err('', 'missing required key "variants"');
    const entries = this.imagebuilder(root.imagebuilder, 'imagebuilder');

    const translatePaths = this.translatePaths(root.translate_paths, 'translate_paths');
    const linkType = (root.link_type === undefined ? 'hardlink-or-copy' : this.str(root.link_type, 'link_type', { enum: LINK_TYPES })) as
      | LinkType
      | undefined;
    let mediaChecksums: ChecksumType[] | undefined = ['sha256'];
    if (root.media_checksums !== undefined) {
      const l = this.strList(root.media_checksums, 'media_checksums', { nonEmpty: true });
      mediaChecksums = l?.every((c, i) => (CHECKSUM_TYPES as readonly string[]).includes(c) || this.err(joinKey('media_checksums', i), `unknown checksum type "${c}" (known: ${CHECKSUM_TYPES.join(', ')})`))
        ? (l as ChecksumType[])
        : undefined;
    }
    const oneFile = root.media_checksum_one_file === undefined ? true : this.bool(root.media_checksum_one_file, 'media_checksum_one_file');
    if (oneFile && mediaChecksums && mediaChecksums.length !== 1) {
      this.err('media_checksums', 'media_checksum_one_file needs exactly one checksum type (one CHECKSUM file per directory)');
    }
    const baseFilename =
      root.media_checksum_base_filename === undefined
        ? ''
        : this.str(root.media_checksum_base_filename, 'media_checksum_base_filename', { nonEmpty: false });
    const latestLink = root.latest_link === undefined ? true : this.bool(root.latest_link, 'latest_link');
    const latestLinkComponents =
      root.latest_link_components === undefined ? -1 : this.int(root.latest_link_components, 'latest_link_components', -100, 100);
    const koji = this.koji(root.koji, 'koji');

    if (variants && entries) this.crossChecks(variants, entries);
    if (!release || !compose || !variants || !entries || !translatePaths || !linkType || !mediaChecksums || oneFile === undefined) return undefined;
    if (baseFilename === undefined || latestLink === undefined || latestLinkComponents === undefined || !koji) return undefined;
    return {
      file: this.src.file,
      dir: this.dir,
      release,
      compose,
      variants,
      entries,
      phaseDefaults,
      globalDefaults,
      translatePaths,
      linkType,
      mediaChecksums,
      mediaChecksumOneFile: oneFile,
      mediaChecksumBaseFilename: baseFilename,
      latestLink,
      latestLinkComponents,
      koji,
    };
  }

  release(v: unknown, p: string): ReleaseInfo | undefined {
    if (!isMap(v)) return this.err(p, `expected a mapping with name, short, version, type; got ${describe(v)}`);
    this.keys(v, p, ['name', 'short', 'version', 'type', 'internal']);
    for (const k of ['name', 'short', 'version']) if (!(k in v)) this.err(p, `missing required key "${k}"`);
    const name = 'name' in v ? this.str(v.name, joinKey(p, 'name')) : undefined;
    const short = 'short' in v ? this.str(v.short, joinKey(p, 'short')) : undefined;
    let version = 'version' in v ? this.strOrNum(v.version, joinKey(p, 'version')) : undefined;
    if (version !== undefined && !RELEASE_VERSION_RE.test(version)) {
      version = this.err(joinKey(p, 'version'), `"${version}" is not a release version (a number like 42 or 9.4, or a name like Rawhide)`);
    }
    if (short !== undefined && /[\s/]/.test(short)) this.err(joinKey(p, 'short'), `"${short}" must not contain spaces or "/" (it names directories)`);
    const type = v.type === undefined ? 'ga' : this.str(v.type, joinKey(p, 'type'), { enum: RELEASE_TYPES });
    const internal = v.internal === undefined ? false : this.bool(v.internal, joinKey(p, 'internal'));
    if (name === undefined || short === undefined || version === undefined || type === undefined || internal === undefined) return undefined;
    return { name, short, version, type, internal };
  }

  composeSection(v: unknown, p: string): { type: ComposeType; label?: string } | undefined {
    if (v === undefined) return { type: 'production' };
    if (!isMap(v)) return this.err(p, `expected a mapping with type and label, got ${describe(v)}`);
    this.keys(v, p, ['type', 'label']);
    const type = (v.type === undefined ? 'production' : this.str(v.type, joinKey(p, 'type'), { enum: COMPOSE_TYPES })) as ComposeType | undefined;
    let label: string | undefined;
    if (v.label !== undefined && v.label !== null) {
      label = this.str(v.label, joinKey(p, 'label'));
      if (label !== undefined && !isValidLabel(label)) {
        return this.err(joinKey(p, 'label'), `"${label}" is not a compose label: expected <Milestone>-<major>.<minor> such as RC-1.2 or Beta-1.0`);
      }
    }
    if (!type) return undefined;
    return label ? { type, label } : { type };
  }

  variants(v: unknown, p: string): VariantConfig[] | undefined {
    if (!Array.isArray(v) || v.length === 0) return this.err(p, `expected a non-empty list of variants, got ${describe(v)}`);
    const out: VariantConfig[] = [];
    let ok = true;
    v.forEach((item, i) => {
      const vc = this.variant(item, joinKey(p, i));
      if (vc) out.push(vc);
      else ok = false;
    });
    if (!ok) return undefined;
    const byUid = new Map<string, VariantConfig>();
    for (const vc of out) {
      if (byUid.has(vc.uid)) {
        ok = false;
        this.err(joinKey(vc.keyPath, 'uid'), `variant "${vc.uid}" is defined twice (also at ${this.where(byUid.get(vc.uid)!.keyPath)})`);
      }
      byUid.set(vc.uid, vc);
    }
    for (const vc of out) {
      if (!vc.parent) continue;
      const parent = byUid.get(vc.parent);
      if (!parent) {
        ok = false;
        this.err(joinKey(vc.keyPath, 'parent'), `no variant with uid "${vc.parent}"`);
        continue;
      }
      if (parent.parent) {
        ok = false;
        this.err(joinKey(vc.keyPath, 'parent'), `variant "${vc.parent}" is itself a child variant; only one level of nesting is supported`);
      }
      const extra = vc.arches.filter((a) => !parent.arches.includes(a));
      if (extra.length > 0) {
        ok = false;
        this.err(joinKey(vc.keyPath, 'arches'), `arch(es) ${extra.join(', ')} not in parent variant "${parent.uid}" arches (${parent.arches.join(', ')})`);
      }
    }
    return ok ? out : undefined;
  }

  variant(v: unknown, p: string): VariantConfig | undefined {
    if (!isMap(v)) return this.err(p, `expected a mapping with uid, name, type, arches; got ${describe(v)}`);
    this.keys(v, p, ['uid', 'name', 'type', 'arches', 'parent', 'repo', 'release']);
    for (const k of ['uid', 'arches']) if (!(k in v)) this.err(p, `missing required key "${k}"`);
    const uid = 'uid' in v ? this.str(v.uid, joinKey(p, 'uid')) : undefined;
    const name = v.name === undefined ? uid : this.str(v.name, joinKey(p, 'name'));
    const type = (v.type === undefined ? 'variant' : this.str(v.type, joinKey(p, 'type'), { enum: VARIANT_TYPES })) as VariantType | undefined;
    const arches = 'arches' in v ? this.arches(v.arches, joinKey(p, 'arches')) : undefined;
    const parent = v.parent === undefined ? undefined : this.str(v.parent, joinKey(p, 'parent'));
    const repo = v.repo === undefined ? undefined : this.str(v.repo, joinKey(p, 'repo'));
    let id: string | undefined;
    if (uid !== undefined) {
      // productmd: ids are alphanumeric; a child's uid is `<parent uid>-<id>`
      if (parent !== undefined) {
        if (!uid.startsWith(`${parent}-`) || !/^[A-Za-z0-9]+$/.test(uid.slice(parent.length + 1))) {
          this.err(joinKey(p, 'uid'), `a child variant's uid must be "${parent}-<alphanumeric id>", got "${uid}"`);
        } else id = uid.slice(parent.length + 1);
      } else if (!/^[A-Za-z0-9]+$/.test(uid)) {
        this.err(joinKey(p, 'uid'), `"${uid}" is not a variant uid: letters and digits only (productmd variant ids are alphanumeric)`);
      } else id = uid;
    }
    let release: ReleaseInfo | undefined;
    if (type === 'layered-product') {
      if (v.release === undefined) this.err(p, 'a layered-product variant needs its own "release" (name, short, version, type)');
      else release = this.release(v.release, joinKey(p, 'release'));
    } else if (v.release !== undefined) {
      this.err(joinKey(p, 'release'), 'only layered-product variants carry their own release');
    }
    if (parent === undefined && (type === 'optional' || type === 'addon')) {
      this.err(joinKey(p, 'type'), `an ${type} variant needs a "parent" variant`);
    }
    if (!uid || !id || !name || !type || !arches) return undefined;
    if (type === 'layered-product' && !release) return undefined;
    return { uid, id, name, type, arches, keyPath: p, ...(parent ? { parent } : {}), ...(repo ? { repo } : {}), ...(release ? { release } : {}) };
  }

  imagebuilder(v: unknown, p: string): ImageEntry[] | undefined {
    if (v === undefined || v === null) return [];
    if (!isMap(v)) return this.err(p, `expected a mapping {<variant uid regex>: [image entries]}, got ${describe(v)}`);
    const out: ImageEntry[] = [];
    let ok = true;
    for (const [regex, list] of Object.entries(v)) {
      const rp = joinKey(p, regex);
      try {
        new RegExp(regex);
      } catch (e) {
        ok = false;
        this.err(rp, `invalid variant regex: ${(e as Error).message}`);
        continue;
      }
      if (!Array.isArray(list)) {
        ok = false;
        this.err(rp, `expected a list of image entries, got ${describe(list)}`);
        continue;
      }
      list.forEach((item, i) => {
        const ep = joinKey(rp, i);
        const e = this.entry(item, ep, regex, i);
        if (e) out.push(e);
        else ok = false;
      });
    }
    return ok ? out : undefined;
  }

  entry(v: unknown, p: string, variantRegex: string, index: number): ImageEntry | undefined {
    if (!isMap(v)) return this.err(p, `expected a mapping (an image entry), got ${describe(v)}`);
    const before = this.errors.length;
    this.keys(v, p, ENTRY_KEYS);
    const settings: LocatedSettings = {};
    for (const k of ENTRY_KEYS) {
      if (k in v) this.setting(k, v[k], joinKey(p, k), settings);
    }
    if (!('name' in v)) this.err(p, 'missing required key "name" (the image name, a Koji package name such as Fedora-IoT)');
    if (this.errors.length > before) return undefined;
    return { variantRegex, index, keyPath: p, where: this.where(p), settings };
  }

  /** Validate one setting (entry key or fallback) and store it with its location. */
  setting(k: SettingKey, v: unknown, p: string, into: LocatedSettings): void {
    const put = <T>(val: T | undefined | null, allowNull = false) => {
      if (val === undefined) return;
      if (val === null && !allowNull) return;
      (into as Record<string, Located<unknown>>)[k] = { value: val, where: this.where(p) };
    };
    switch (k) {
      case 'name': {
        const s = this.str(v, p);
        if (s !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._+-]*$/.test(s)) {
          this.err(p, `"${s}" is not a usable image name (letters, digits, ".", "_", "+", "-"; it becomes a Koji package name and file names)`);
        } else put(s);
        return;
      }
      case 'types': {
        const l = this.strList(v, p, { nonEmpty: true });
        l?.forEach((t, i) => {
          if (!/^[a-z0-9][a-z0-9-]*$/.test(t)) this.err(Array.isArray(v) ? joinKey(p, i) : p, `"${t}" is not an image type name`);
        });
        if (l && l.every((t) => /^[a-z0-9][a-z0-9-]*$/.test(t))) put(l);
        return;
      }
      case 'target':
      case 'subvariant':
      case 'distro':
        put(this.str(v, p));
        return;
      case 'version':
      case 'release':
        // Pungi: a present-but-empty release means "use the compose's image release"
        if (v === null || v === '') put(null, true);
        else put(this.strOrNum(v, p));
        return;
      case 'arches':
        put(this.arches(v, p));
        return;
      case 'repos':
        put(this.strList(v, p));
        return;
      case 'failable': {
        if (v === '*') return put(['*']);
        const l = this.strList(v, p);
        if (l && l.includes('*') && l.length > 1) return void this.err(p, '"*" must be the only item (it means every arch)');
        if (l && !l.includes('*')) {
          const bad = l.find((a) => !COMPOSE_ARCHES.includes(a));
          if (bad) return void this.err(p, `unknown architecture "${bad}" (${ARCH_HINT}, or "*")`);
        }
        put(l);
        return;
      }
      case 'manifest_type': {
        const s = this.str(v, p);
        if (s !== undefined && !SUPPORTED_IMAGE_TYPES.includes(s)) {
          return void this.err(p, `"${s}" is not a productmd image type (known: ${SUPPORTED_IMAGE_TYPES.join(', ')})`);
        }
        put(s);
        return;
      }
      case 'ostree': {
        if (!isMap(v)) return void this.err(p, `expected a mapping with url, ref, parent; got ${describe(v)}`);
        this.keys(v, p, ['url', 'ref', 'parent']);
        const o: OstreeConfig = {};
        for (const f of ['url', 'ref', 'parent'] as const) {
          if (v[f] === undefined || v[f] === null) continue;
          const s = this.str(v[f], joinKey(p, f));
          if (s !== undefined) o[f] = s;
        }
        put(o);
        return;
      }
      case 'blueprint':
        put(this.blueprint(v, p));
        return;
      case 'seed':
        put(this.int(v, p, 0));
        return;
      case 'scratch':
      case 'preview':
        put(this.bool(v, p));
        return;
      case 'backend':
        put(this.str(v, p, { enum: BACKENDS }) as BackendKind | undefined);
        return;
    }
  }

  blueprint(v: unknown, p: string): BlueprintSource | undefined {
    const where = this.where(p);
    try {
      if (typeof v === 'string') {
        const file = path.resolve(this.dir, this.subst(v, p));
        return { kind: 'file', path: file, blueprint: loadBlueprint(file) };
      }
      if (isMap(v)) return { kind: 'inline', blueprint: parseBlueprint(JSON.stringify(v), 'json', `${where} (inline)`) };
    } catch (e) {
      return this.err(p, (e as Error).message);
    }
    return this.err(p, `expected a blueprint file path (.toml/.json, relative to the config) or an inline mapping, got ${describe(v)}`);
  }

  translatePaths(v: unknown, p: string): [string, string][] | undefined {
    if (v === undefined) return [];
    if (!Array.isArray(v)) return this.err(p, `expected a list of [local prefix, URL prefix] pairs, got ${describe(v)}`);
    const out: [string, string][] = [];
    let ok = true;
    v.forEach((pair, i) => {
      const ip = joinKey(p, i);
      if (!Array.isArray(pair) || pair.length !== 2) {
        ok = false;
        this.err(ip, `expected a [local prefix, URL prefix] pair, got ${describe(pair)}`);
        return;
      }
      const a = this.str(pair[0], joinKey(ip, 0));
      const b = this.str(pair[1], joinKey(ip, 1));
      if (a === undefined || b === undefined) ok = false;
      else out.push([a, b]);
    });
    return ok ? out : undefined;
  }

  koji(v: unknown, p: string): KojiSettings | undefined {
    if (v === undefined) return {};
    if (!isMap(v)) return this.err(p, `expected a mapping (profile, hub, topurl, weburl), got ${describe(v)}`);
    this.keys(v, p, ['profile', 'hub', 'topurl', 'weburl']);
    const out: KojiSettings = {};
    for (const k of ['profile', 'hub', 'topurl', 'weburl'] as const) {
      if (v[k] === undefined) continue;
      const s = this.str(v[k], joinKey(p, k));
      if (s === undefined) return undefined;
      out[k] = s;
    }
    return out;
  }

  /** Checks that need both the variants and the entries. */
  crossChecks(variants: VariantConfig[], entries: ImageEntry[]): void {
    const uids = new Set(variants.map((x) => x.uid));
    for (const e of entries) {
      const repos = e.settings.repos?.value ?? [];
      for (const r of repos) {
        if (/^[A-Za-z0-9-]+$/.test(r) && !uids.has(r)) {
          this.err(joinKey(e.keyPath, 'repos'), `"${r}" is neither a URL, an absolute path nor a variant uid of this compose`);
        }
      }
    }
  }
}
