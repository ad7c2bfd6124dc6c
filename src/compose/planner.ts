// Expand a compose config into image jobs, the way Pungi's imagebuilder phase does (variants x
// matching entries x arches, generics with imagebuilder_/global_ fallbacks, magic release values,
// failable arches, repo lists), plus what Pungi does not have: entries that consume another
// entry's output. An ostree deployment (iot-raw-xz, iot-installer, ...) whose `ostree.url` is
// `compose:<entry name or variant uid>`, or unset while the compose builds an iot-commit, deploys
// the commit that entry builds; the plan orders such groups after their producers.
//
// A JobGroup is one entry x variant x image type: what one Koji `imageBuilderBuild` call covers
// (Koji allows exactly one type per call, so an entry with several types becomes several
// groups). Its `jobs` are the per-arch builds a local backend runs.
import type { Blueprint } from '../blueprint/types.js';
import { KilnError } from '../util/errors.js';
import { expandMagic, imageRelease, imageVersion, type ComposeIdentity } from './compose-id.js';
import type { BackendKind, ComposeConfig, ImageEntry, Located, OstreeConfig, SettingKey, VariantConfig } from './config.js';

/** Image types whose output is an ostree commit another image can deploy. */
export const OSTREE_COMMIT_TYPES: ReadonlySet<string> = new Set(['iot-commit']);
/** Image types that deploy an ostree commit (need ostree url + ref). */
export const OSTREE_DEPLOY_TYPES: ReadonlySet<string> = new Set(['iot-raw-xz', 'iot-qcow2', 'iot-installer', 'iot-simplified-installer']);

export const COMPOSE_URL_PREFIX = 'compose:';

export interface ImageJob {
  /** `<group id>.<arch>` */
  id: string;
  groupId: string;
  variant: string;
  arch: string;
  /** image-builder image type, e.g. iot-raw-xz */
  type: string;
  name: string;
  version: string;
  /** null: let the backend pick (Koji: getNextRelease) */
  release: string | null;
  subvariant: string;
  failable: boolean;
  /** repository URLs with `$arch`/`$basearch` replaced */
  repos: string[];
  /** ostree options with `$arch` replaced in ref/parent; url unset when `ostreeFrom` is set */
  ostree?: OstreeConfig;
  /** the job whose commit this one deploys (filled in at run time from its result) */
  ostreeFrom?: string;
  blueprint?: Blueprint;
  seed?: number;
  preview?: boolean;
  scratch: boolean;
  distro?: string;
  target?: string;
  backend: BackendKind;
  /** productmd type override */
  manifestType?: string;
  /** `<name>-<version>-<release>.<arch>`, the file name stem image-builder is asked for */
  outputName?: string;
}

export interface JobGroup {
  id: string;
  /** where the entry is in the config (for messages) */
  where: string;
  keyPath: string;
  variant: string;
  type: string;
  name: string;
  version: string;
  release: string | null;
  target?: string;
  arches: string[];
  failableArches: string[];
  /** repository URLs as templates (`$arch` kept: Koji replaces it on the builder) */
  repos: string[];
  ostree?: OstreeConfig;
  /** group whose commit this group deploys */
  ostreeFrom?: string;
  blueprint?: Blueprint;
  seed?: number;
  preview?: boolean;
  scratch: boolean;
  distro?: string;
  backend: BackendKind;
  subvariant: string;
  manifestType?: string;
  /** groups that must finish first */
  dependsOn: string[];
  jobs: ImageJob[];
}

export interface ComposePlan {
  compose: ComposeIdentity;
  /** in dependency order: every group comes after the groups it depends on */
  groups: JobGroup[];
  /** things worth telling the user that are not errors (entries matching nothing, ...) */
  warnings: string[];
}

/** Pungi's get_config: the entry's key, else imagebuilder_<key>, else global_<key>. */
export function lookup<K extends SettingKey>(cfg: ComposeConfig, entry: ImageEntry, key: K): Located<unknown> | undefined {
  return (entry.settings[key] ?? cfg.phaseDefaults[key] ?? cfg.globalDefaults[key]) as Located<unknown> | undefined;
}

/** Release per Pungi get_release: first present value, magic expanded; empty -> image release; none -> null. */
export function resolveRelease(cfg: ComposeConfig, entry: ImageEntry, compose: ComposeIdentity): string | null {
  const r = lookup(cfg, entry, 'release');
  if (!r) return null;
  const v = r.value === null ? '' : expandMagic(String(r.value), compose, r.where);
  return v || imageRelease(compose);
}

/** Version per Pungi get_version: configured value (magic expanded), else the compose's image version. */
export function resolveVersion(cfg: ComposeConfig, entry: ImageEntry, compose: ComposeIdentity): string {
  const r = lookup(cfg, entry, 'version');
  const v = r && r.value !== null ? expandMagic(String(r.value), compose, r.where) : '';
  return v || imageVersion(compose);
}

/** Pungi matches variant regexes with re.match: anchored at the start only. */
function variantMatches(regex: string, uid: string): boolean {
  return new RegExp(`^(?:${regex})`).test(uid);
}

function substArch(s: string, arch: string): string {
  return s.replace(/\$basearch\b/g, arch).replace(/\$arch\b/g, arch);
}

/** Turn a local path into a URL via translate_paths (Pungi), else file://. */
export function translatePath(p: string, table: [string, string][]): string {
  for (const [prefix, url] of table) {
    if (p.startsWith(prefix)) return url + p.slice(prefix.length);
  }
  return `file://${p}`;
}

export function planCompose(cfg: ComposeConfig, compose: ComposeIdentity): ComposePlan {
  const errors: string[] = [];
  const warnings: string[] = [];
  const groups: JobGroup[] = [];
  const variantByUid = new Map(cfg.variants.map((v) => [v.uid, v]));

  const matched = new Set<ImageEntry>();
  for (const variant of cfg.variants) {
    for (const entry of cfg.entries) {
      if (!variantMatches(entry.variantRegex, variant.uid)) continue;
      matched.add(entry);
      try {
        groups.push(...groupsFor(cfg, entry, variant, variantByUid, compose, warnings));
      } catch (e) {
        if (e instanceof KilnError) errors.push(e.message);
        else throw e;
      }
    }
  }
  for (const entry of cfg.entries) {
    if (!matched.has(entry)) warnings.push(`${entry.where}: variant regex "${entry.variantRegex}" matches no variant; entry ignored`);
  }
  if (errors.length === 0) uniqueIds(groups);
  if (errors.length === 0) errors.push(...checkCollisions(groups));
  if (errors.length === 0) errors.push(...linkOstree(groups));
  if (errors.length > 0) throw new KilnError(errors.join('\n'));
  return { compose, groups: orderGroups(groups), warnings };
}

function groupsFor(
  cfg: ComposeConfig,
  entry: ImageEntry,
  variant: VariantConfig,
  variants: Map<string, VariantConfig>,
  compose: ComposeIdentity,
  warnings: string[],
): JobGroup[] {
  const name = entry.settings.name!.value as string;
  const entryArches = entry.settings.arches?.value as string[] | undefined;
  const arches = [...variant.arches].filter((a) => !entryArches || entryArches.includes(a)).sort();
  if (arches.length === 0) {
    warnings.push(`${entry.where}: no arch of variant ${variant.uid} (${variant.arches.join(', ')}) is in the entry's arches; skipped for this variant`);
    return [];
  }
  const typesL = lookup(cfg, entry, 'types');
  if (!typesL) throw new KilnError(`${entry.where}: no image types: set "types" (or imagebuilder_types / global_types)`);
  const types = typesL.value as string[];

  const backend = ((lookup(cfg, entry, 'backend')?.value as BackendKind | undefined) ?? 'local') as BackendKind;
  const target = lookup(cfg, entry, 'target')?.value as string | undefined;
  if (backend === 'koji' && !target) {
    throw new KilnError(`${entry.where}: the koji backend needs a Koji build target: set "target" (or imagebuilder_target / global_target)`);
  }
  const release = resolveRelease(cfg, entry, compose);
  const version = resolveVersion(cfg, entry, compose);

  const failL = lookup(cfg, entry, 'failable');
  const failRaw = (failL?.value as string[] | undefined) ?? [];
  const failableArches = failRaw[0] === '*' ? [...arches] : arches.filter((a) => failRaw.includes(a));

  const repos = resolveRepos(cfg, entry, variant, variants);
  const ostree = lookup(cfg, entry, 'ostree')?.value as OstreeConfig | undefined;
  const bp = lookup(cfg, entry, 'blueprint')?.value as { blueprint: Blueprint } | undefined;
  const seed = lookup(cfg, entry, 'seed')?.value as number | undefined;
  const preview = lookup(cfg, entry, 'preview')?.value as boolean | undefined;
  const scratch = (lookup(cfg, entry, 'scratch')?.value as boolean | undefined) ?? false;
  const distro = lookup(cfg, entry, 'distro')?.value as string | undefined;
  const subvariant = (lookup(cfg, entry, 'subvariant')?.value as string | undefined) ?? variant.uid;
  const manifestType = lookup(cfg, entry, 'manifest_type')?.value as string | undefined;

  return types.map((type) => {
    const id = `${variant.uid}.${name}.${type}`;
    const g: JobGroup = {
      id,
      where: entry.where,
      keyPath: entry.keyPath,
      variant: variant.uid,
      type,
      name,
      version,
      release,
      arches,
      failableArches,
      repos,
      scratch,
      backend,
      subvariant,
      dependsOn: [],
      jobs: [],
      ...(target !== undefined ? { target } : {}),
      ...(ostree ? { ostree: { ...ostree } } : {}),
      ...(bp ? { blueprint: bp.blueprint } : {}),
      ...(seed !== undefined ? { seed } : {}),
      ...(preview !== undefined ? { preview } : {}),
      ...(distro !== undefined ? { distro } : {}),
      ...(manifestType !== undefined ? { manifestType } : {}),
    };
    return g;
  });
}

function resolveRepos(cfg: ComposeConfig, entry: ImageEntry, variant: VariantConfig, variants: Map<string, VariantConfig>): string[] {
  const reposL = lookup(cfg, entry, 'repos');
  const listed = [...((reposL?.value as string[] | undefined) ?? [])];
  // Pungi appends the variant's own repo unless it is empty or already listed.
  if (variant.repo && !listed.includes(variant.uid)) listed.push(variant.uid);
  return listed.map((r) => {
    const v = variants.get(r);
    if (v) {
      if (!v.repo) {
        throw new KilnError(
          `${reposL?.where ?? entry.where}: variant "${r}" has no package repository: set "repo" on variant ${r} (Kiln does not build variant os trees)`,
        );
      }
      return v.repo;
    }
    if (r.startsWith('/')) return translatePath(r, cfg.translatePaths);
    if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(r)) {
      throw new KilnError(`${reposL?.where ?? entry.where}: repo "${r}" is not a URL (scheme://...), an absolute path or a variant uid`);
    }
    return r;
  });
}

/** Groups from the same entry/variant/type twice (different versions) get a numeric suffix. */
function uniqueIds(groups: JobGroup[]): void {
  const seen = new Map<string, number>();
  for (const g of groups) {
    const n = seen.get(g.id) ?? 0;
    seen.set(g.id, n + 1);
    if (n > 0) g.id = `${g.id}.${n + 1}`;
  }
}

/**
 * Two builds with the same name-version-release would collide: Koji refuses a second build with
 * that NVR, and image files named `<name>-<version>-<release>.<arch>.<ext>` would overwrite each
 * other.
 */
function checkCollisions(groups: JobGroup[]): string[] {
  const errors: string[] = [];
  const seen = new Map<string, JobGroup>();
  for (const g of groups) {
    if (g.release === null) continue;
    const kojiBuild = g.backend === 'koji' && !g.scratch;
    const key = kojiBuild ? `koji:${g.name}-${g.version}-${g.release}` : `${g.name}-${g.version}-${g.release}:${g.type}`;
    const other = seen.get(key);
    if (other) {
      errors.push(
        `${g.where}: image ${g.name}-${g.version}-${g.release} (${g.type}, variant ${g.variant}) collides with ${other.where} ` +
          `(${other.type}, variant ${other.variant}): ${kojiBuild ? 'Koji builds need a unique name-version-release' : 'their files would have the same names'}; give one a different name`,
      );
    } else seen.set(key, g);
  }
  return errors;
}

/** Resolve `compose:` / implicit ostree sources and create the per-arch jobs. */
function linkOstree(groups: JobGroup[]): string[] {
  const errors: string[] = [];
  const commits = groups.filter((g) => OSTREE_COMMIT_TYPES.has(g.type));
  for (const g of groups) {
    const url = g.ostree?.url;
    let producer: JobGroup | undefined;
    if (url?.startsWith(COMPOSE_URL_PREFIX)) {
      const ref = url.slice(COMPOSE_URL_PREFIX.length);
      const byName = commits.filter((c) => c.name === ref);
      const sameVariant = byName.filter((c) => c.variant === g.variant);
      let cands = sameVariant.length > 0 ? sameVariant : byName;
      if (cands.length === 0) cands = commits.filter((c) => c.variant === ref);
      if (cands.length === 0) {
        errors.push(
          `${g.where}: ostree.url "${url}": no ${[...OSTREE_COMMIT_TYPES].join('/')} entry named "${ref}" (or in variant "${ref}") in this compose` +
            (commits.length ? ` (commit entries: ${[...new Set(commits.map((c) => `${c.name} in ${c.variant}`))].join(', ')})` : ''),
        );
        continue;
      }
      if (cands.length > 1) {
        errors.push(`${g.where}: ostree.url "${url}" is ambiguous: ${cands.map((c) => `${c.where} (${c.variant})`).join(', ')}`);
        continue;
      }
      producer = cands[0];
    } else if (!url && OSTREE_DEPLOY_TYPES.has(g.type)) {
      const same = commits.filter((c) => c.variant === g.variant);
      const cands = same.length > 0 ? same : commits;
      if (cands.length === 0) {
        errors.push(`${g.where}: ${g.type} deploys an ostree commit: set ostree.url and ostree.ref, or add an iot-commit entry to the compose`);
        continue;
      }
      if (cands.length > 1) {
        errors.push(
          `${g.where}: ${g.type} has no ostree.url and the compose builds several commits (${cands.map((c) => c.name).join(', ')}): ` +
            `set ostree.url to "compose:<entry name>"`,
        );
        continue;
      }
      producer = cands[0];
    }
    if (producer) {
      g.ostreeFrom = producer.id;
      g.dependsOn.push(producer.id);
      const missing = g.arches.filter((a) => !producer!.arches.includes(a));
      if (missing.length > 0) {
        errors.push(`${g.where}: deploys the commit of ${producer.where}, which is not built for ${missing.join(', ')}`);
        continue;
      }
      // the ref defaults to the producer's ref so the deployment boots the branch it built
      if (!g.ostree?.ref && producer.ostree?.ref) g.ostree = { ...(g.ostree ?? {}), ref: producer.ostree.ref };
      if (g.ostree) delete g.ostree.url;
    }
    g.jobs = g.arches.map((arch) => makeJob(g, arch, producer));
  }
  return errors;
}

function makeJob(g: JobGroup, arch: string, producer: JobGroup | undefined): ImageJob {
  const ostree: OstreeConfig | undefined = g.ostree
    ? Object.fromEntries(Object.entries(g.ostree).map(([k, v]) => [k, k === 'url' ? v : substArch(v as string, arch)]))
    : undefined;
  return {
    id: `${g.id}.${arch}`,
    groupId: g.id,
    variant: g.variant,
    arch,
    type: g.type,
    name: g.name,
    version: g.version,
    release: g.release,
    subvariant: g.subvariant,
    failable: g.failableArches.includes(arch),
    repos: g.repos.map((r) => substArch(r, arch)),
    scratch: g.scratch,
    backend: g.backend,
    ...(ostree && Object.keys(ostree).length ? { ostree } : {}),
    ...(producer ? { ostreeFrom: `${producer.id}.${arch}` } : {}),
    ...(g.blueprint ? { blueprint: g.blueprint } : {}),
    ...(g.seed !== undefined ? { seed: g.seed } : {}),
    ...(g.preview !== undefined ? { preview: g.preview } : {}),
    ...(g.distro !== undefined ? { distro: g.distro } : {}),
    ...(g.target !== undefined ? { target: g.target } : {}),
    ...(g.manifestType !== undefined ? { manifestType: g.manifestType } : {}),
    ...(g.release !== null ? { outputName: `${g.name}-${g.version}-${g.release}.${arch}` } : {}),
  };
}

/** Topological order (stable: config order among ready groups); a cycle is an error naming it. */
export function orderGroups(groups: JobGroup[]): JobGroup[] {
  const byId = new Map(groups.map((g) => [g.id, g]));
  const indeg = new Map(groups.map((g) => [g.id, 0]));
  for (const g of groups) for (const d of g.dependsOn) if (byId.has(d)) indeg.set(g.id, indeg.get(g.id)! + 1);
  const out: JobGroup[] = [];
  const done = new Set<string>();
  let progress = true;
  while (progress) {
    progress = false;
    for (const g of groups) {
      if (done.has(g.id) || indeg.get(g.id)! > 0) continue;
      done.add(g.id);
      out.push(g);
      progress = true;
      for (const h of groups) if (h.dependsOn.includes(g.id)) indeg.set(h.id, indeg.get(h.id)! - 1);
      break; // restart from the top so config order wins among ready groups
    }
  }
  if (out.length < groups.length) {
    const cycle = findCycle(groups.filter((g) => !done.has(g.id)), byId);
    throw new KilnError(
      `compose entries depend on each other in a cycle: ${cycle.map((g) => `${g.name} (${g.type}, ${g.where})`).join(' -> ')}`,
    );
  }
  return out;
}

function findCycle(rest: JobGroup[], byId: Map<string, JobGroup>): JobGroup[] {
  // walk dependencies from any remaining node until a node repeats
  const path: JobGroup[] = [];
  const index = new Map<string, number>();
  let cur: JobGroup | undefined = rest[0];
  while (cur && !index.has(cur.id)) {
    index.set(cur.id, path.length);
    path.push(cur);
    cur = cur.dependsOn.map((d) => byId.get(d)).find((d) => d && rest.includes(d));
  }
  if (!cur) return rest;
  const loop = path.slice(index.get(cur.id)!);
  return [...loop, cur];
}
