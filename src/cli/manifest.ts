// `manifest TYPE`: print the osbuild v2 manifest for an image type.
import { Option, type Command } from 'commander';
import { formatManifest, generateManifest } from '../build/manifest.js';
import { KilnError } from '../util/errors.js';
import { globalOpts } from './main.js';

export interface ManifestFlags {
  distro?: string;
  arch?: string;
  blueprint?: string;
  seed?: string;
  ostreeUrl?: string;
  ostreeRef?: string;
  ostreeParent?: string;
  useLibrepo: boolean;
  rpmmdCache?: string;
  /** set only when --preview was given: overrides the distro's preview (prerelease) flag */
  preview?: boolean;
}

/** Go-style boolean flag values: `--use-librepo=false`. */
export function parseBool(flag: string) {
  return (value: string | undefined): boolean => {
    if (value === undefined) return true;
    const v = value.toLowerCase();
    if (['true', '1', 't', 'yes'].includes(v)) return true;
    if (['false', '0', 'f', 'no'].includes(v)) return false;
    throw new KilnError(`${flag}: invalid boolean value "${value}"`);
  };
}

export function parseSeed(value: string | undefined): bigint | undefined {
  if (value === undefined) return undefined;
  if (!/^-?\d+$/.test(value)) throw new KilnError(`--seed: "${value}" is not an integer`);
  return BigInt(value);
}

// The spellings Go's strconv.ParseBool accepts, which is what upstream's --preview flag parses.
const GO_TRUE = ['1', 't', 'T', 'TRUE', 'true', 'True'];
const GO_FALSE = ['0', 'f', 'F', 'FALSE', 'false', 'False'];

/**
 * `--preview`, `--preview=false` (upstream's form) and `--preview false` (the separate value
 * koji-image-builder's build host passes) all work. Because the value is optional, a bare
 * `--preview` directly before the image type would take the type as its value; that is
 * reported as a bad value rather than silently building the wrong thing.
 */
export function parsePreview(value: string | undefined): boolean {
  if (value === undefined || GO_TRUE.includes(value)) return true;
  if (GO_FALSE.includes(value)) return false;
  throw new KilnError(`--preview: invalid value "${value}": expected true or false (write --preview=true when the image type follows)`);
}

/** Adds the flags `manifest` and `build` share (upstream copies the flag set the same way). */
export function addManifestFlags(cmd: Command): Command {
  return cmd
    .option('--distro <name>', 'distribution, e.g. fedora-42 (default: blueprint distro, then the host)')
    .option('--arch <arch>', 'architecture (default: the host)')
    .option('--blueprint <file>', 'blueprint file (.toml or .json; - for JSON on stdin)')
    .option('--seed <int>', 'seed for UUIDs and other random values (same seed + inputs = same manifest)')
    .option('--ostree-url <url>', 'ostree repository URL (commit to deploy, or parent source)')
    .option('--ostree-ref <ref>', 'ostree ref ($arch is substituted)')
    .option('--ostree-parent <ref>', 'ostree parent commit or ref')
    .option('--use-librepo [bool]', 'download packages with org.osbuild.librepo (mirrors) instead of org.osbuild.curl', parseBool('--use-librepo'), true)
    .option('--rpmmd-cache <dir>', 'repository metadata cache directory')
    // hidden like upstream's: for release engineering (Pungi RC composes via Koji), not for users
    .addOption(
      new Option('--preview [bool]', "override the distro's preview (prerelease) state; without the flag the definitions decide")
        .argParser(parsePreview)
        .hideHelp(),
    );
}

export function manifestOptionsFrom(type: string, o: ManifestFlags, cmd: Command) {
  const g = globalOpts(cmd);
  const ostree = o.ostreeUrl || o.ostreeRef || o.ostreeParent ? { url: o.ostreeUrl, ref: o.ostreeRef, parent: o.ostreeParent } : undefined;
  return {
    imageType: type,
    distro: o.distro,
    arch: o.arch,
    definitionsDir: g.definitions,
    blueprintPath: o.blueprint,
    forceRepos: g.forceRepo,
    extraRepos: g.extraRepo,
    seed: parseSeed(o.seed),
    ostree,
    useLibrepo: o.useLibrepo,
    rpmmdCache: o.rpmmdCache ?? defaultRpmmdCache(),
    ...(o.preview !== undefined ? { preview: o.preview } : {}),
    log: (msg: string) => process.stderr.write(msg + '\n'),
  };
}

export function defaultRpmmdCache(): string {
  const base = process.env.XDG_CACHE_HOME ?? (process.env.HOME ? `${process.env.HOME}/.cache` : '/var/cache');
  return `${base}/kiln/rpmmd`;
}

export function registerManifestCommand(program: Command): void {
  addManifestFlags(
    program
      .command('manifest')
      .description('print the osbuild manifest (v2 JSON) for an image type')
      .argument('<image-type>', 'image type or alias, e.g. minimal-raw-xz'),
  ).action(async (type: string, o: ManifestFlags, cmd: Command) => {
    const result = await generateManifest(manifestOptionsFrom(type, o, cmd));
    process.stdout.write(formatManifest(result.manifest));
  });
}
