// Definitions + blueprint + repositories -> osbuild manifest v2. This is the pure half of a build
// (no root needed): everything after the manifest belongs to the executor.
import { randomBytes } from 'node:crypto';
import type { Blueprint } from '../blueprint/types.js';
import { emptyBlueprint } from '../blueprint/types.js';
import { checkDistro, checkSupported, loadBlueprint } from '../blueprint/index.js';
import type { ResolvedImageType } from '../defs/types.js';
import { hostArch, hostDistro, loadDefinitions, resolveImageType, type Definitions } from '../defs/index.js';
import { depsolve } from '../depsolve/index.js';
import type { DepsolveResult } from '../depsolve/types.js';
import { generatorFor } from '../manifest/generators/index.js';
import { resolveOstreeCommit } from '../manifest/ostree-resolve.js';
import type { DepsolvedPipeline, GeneratorRequest, Manifest, OstreeOptions, ResolvedCommit } from '../manifest/types.js';
import { loadRepos } from '../repo/load.js';
import { defaultReposFor } from './repos.js';
import { repoConfigsFromFlags } from '../repo/flags.js';
import type { LoadedRepo, RepoConfig } from '../repo/types.js';
import { KilnError } from '../util/errors.js';
import { kilnVersion } from '../util/version.js';

/** Prefix of the metadata.generators entry that records the definitions directory. */
export const DEFINITIONS_GENERATOR_PREFIX = 'kiln-definitions:';

/** Reads back which definitions produced a manifest (path and sha256), if Kiln made it. */
export function manifestDefinitions(manifest: Manifest): { path: string; sha256: string } | undefined {
  const gens = (manifest.metadata?.generators ?? []) as { name: string; version?: string }[];
  const g = gens.find((x) => x.name.startsWith(DEFINITIONS_GENERATOR_PREFIX));
  return g ? { path: g.name.slice(DEFINITIONS_GENERATOR_PREFIX.length), sha256: g.version ?? '' } : undefined;
}

export interface ManifestOptions {
  imageType: string;
  distro?: string;
  arch?: string;
  definitionsDir?: string;
  blueprintPath?: string;
  /** an already parsed blueprint (compose, koji) instead of a file */
  blueprint?: Blueprint;
  forceRepos?: string[];
  extraRepos?: string[];
  /** repositories given as configs (koji build tag repo, compose variants) */
  repoConfigs?: RepoConfig[];
  seed?: bigint;
  ostree?: OstreeOptions;
  useLibrepo?: boolean;
  /**
   * Overrides the distro's `preview` (prerelease) flag for this build only, like upstream's
   * hidden --preview; undefined keeps what the definitions say.
   */
  preview?: boolean;
  /** repository metadata cache */
  rpmmdCache?: string;
  /** where messages for the user go (stderr in the CLI) */
  log?: (msg: string) => void;
}

export interface ManifestResult {
  manifest: Manifest;
  imageType: ResolvedImageType;
  depsolved: Record<string, DepsolvedPipeline>;
  commit?: ResolvedCommit;
  seed: bigint;
  definitions: Definitions;
}

/** Upstream accepts `distro:x`, `type:y`, `arch:z` (copied from `list` output); strip the prefix. */
export function stripPrefix(value: string | undefined, prefix: string): string | undefined {
  if (value === undefined) return undefined;
  return value.startsWith(prefix + ':') ? value.slice(prefix.length + 1) : value;
}

export function randomSeed(): bigint {
  // upstream draws a random int63 when --seed is not given
  return randomBytes(8).readBigUInt64BE() & 0x7fffffffffffffffn;
}

/** Resolve distro the way upstream does: --distro > blueprint distro > host. */
function pickDistro(opts: ManifestOptions, bp: Blueprint): string {
  const cli = stripPrefix(opts.distro, 'distro');
  if (cli) {
    checkDistro(bp, cli);
    return cli;
  }
  if (bp.distro) return bp.distro;
  const host = hostDistro();
  opts.log?.(`No distro name specified, selecting "${host}" based on host, use --distro to override`);
  return host;
}

/**
 * The image type with its distro's preview flag overridden. Copies rather than edits: the
 * resolved distro may be shared with other image types of the same definitions.
 */
export function withPreview(it: ResolvedImageType, preview: boolean | undefined): ResolvedImageType {
  if (preview === undefined || preview === it.distro.preview) return it;
  return { ...it, distro: { ...it.distro, preview } };
}

export async function generateManifest(opts: ManifestOptions): Promise<ManifestResult> {
  const definitions = loadDefinitions(opts.definitionsDir);
  const blueprint = opts.blueprint ?? (opts.blueprintPath ? loadBlueprint(opts.blueprintPath) : emptyBlueprint());
  const distro = pickDistro(opts, blueprint);
  const arch = stripPrefix(opts.arch, 'arch') ?? hostArch();
  const typeName = stripPrefix(opts.imageType, 'type')!;
  const imageType = withPreview(resolveImageType(definitions, distro, typeName, arch), opts.preview);
  checkSupported(blueprint, imageType.blueprint.supported_options, imageType.blueprint.required_options, imageType.name);

  const repos = selectRepos(opts, definitions, imageType);
  const seed = opts.seed ?? randomSeed();
  const generator = generatorFor(imageType);
  const req: GeneratorRequest = {
    imageType,
    blueprint,
    seed,
    repos,
    ostree: opts.ostree,
    useLibrepo: opts.useLibrepo ?? true,
  };

  // resolve the ostree commit first: a missing --ostree-url is reported before any download
  const source = generator.ostreeSource(req);
  const commit = source ? await resolveOstreeCommit(source.url, source.ref) : undefined;

  const chains = generator.packageSets(req);
  const needsPackages = Object.values(chains).some((c) => c.length > 0);
  const loaded: LoadedRepo[] = needsPackages
    ? await loadRepos(repos, { arch, releasever: imageType.distro.release_version, cacheDir: opts.rpmmdCache })
    : [];
  const depsolved: Record<string, DepsolvedPipeline> = {};
  const allPackages = loaded.flatMap((r) => r.packages);
  const groups = loaded.flatMap((r) => r.groups);
  for (const [pipeline, transactions] of Object.entries(chains)) {
    if (transactions.length === 0) continue;
    let result: DepsolveResult;
    try {
      result = await depsolve(allPackages, transactions, { arch, groups });
    } catch (e) {
      throw new KilnError(`depsolving pipeline "${pipeline}" of ${imageType.name} (${distro}, ${arch}): ${(e as Error).message}`);
    }
    const used = new Set(result.packages.map((p) => p.repoId));
    depsolved[pipeline] = { transactions: result.transactions, repos: loaded.filter((r) => used.has(r.config.id)) };
  }

  const manifest = generator.serialize(req, { depsolved, commit });
  // osbuild's schema allows only `exports` and `generators` ({name, version}) in metadata, so
  // the definitions that produced the manifest are recorded as a generator entry whose name is
  // their path and whose version is their content hash.
  manifest.metadata = {
    exports: imageType.exports.map((name) => ({ name })),
    generators: [
      { name: 'kiln', version: kilnVersion() },
      { name: `${DEFINITIONS_GENERATOR_PREFIX}${imageType.source.path}`, version: imageType.source.sha256 },
    ],
  };
  return { manifest, imageType, depsolved, commit, seed, definitions };
}

function selectRepos(opts: ManifestOptions, definitions: Definitions, imageType: ResolvedImageType): RepoConfig[] {
  const fromFlags = repoConfigsFromFlags({ forceRepos: opts.forceRepos ?? [], extraRepos: opts.extraRepos ?? [] });
  const forced = fromFlags.filter((r) => r.id.startsWith('forced-repo-'));
  const extra = fromFlags.filter((r) => r.id.startsWith('extra-repo-'));
  if (opts.repoConfigs && opts.repoConfigs.length > 0) return [...opts.repoConfigs, ...extra];
  if (forced.length > 0) return [...forced, ...extra];
  return [...defaultReposFor(definitions, imageType.distro.name, imageType.arch), ...extra];
}

/** The manifest as upstream prints it: 4-space indent and a trailing newline. */
export function formatManifest(manifest: Manifest): string {
  return JSON.stringify(manifest, null, 4) + '\n';
}
