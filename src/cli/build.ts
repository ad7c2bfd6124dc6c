// `build TYPE` / `build --manifest FILE`: build an image with Kiln's executor.
import type { Command } from 'commander';
import { Option } from 'commander';
import { join } from 'node:path';
import { buildImage } from '../build/build.js';
import { resolveMode, type ProgressMode } from '../build/progress.js';
import { KilnError } from '../util/errors.js';
import { globalOpts } from './main.js';
import { addManifestFlags, manifestOptionsFrom, type ManifestFlags } from './manifest.js';

interface BuildFlags extends ManifestFlags {
  manifest?: string;
  outputName?: string;
  cache?: string;
  cacheMaxSize?: string;
  withManifest: boolean;
  withSbom: boolean;
  withBuildlog: boolean;
  progress: ProgressMode;
  buildroot: 'bwrap' | 'host';
}

/** upstream: root uses /var/cache/image-builder/store; others the XDG cache. Kiln mirrors that. */
export function defaultStoreDir(): string {
  if (process.getuid?.() === 0) return '/var/cache/kiln/store';
  const base = process.env.XDG_CACHE_HOME ?? join(process.env.HOME ?? '/tmp', '.cache');
  return join(base, 'kiln', 'store');
}

function parseSize(flag: string, v: string | undefined): number | undefined {
  if (v === undefined || v === 'unlimited') return undefined;
  const m = /^(\d+)\s*([KMGT]i?B?)?$/i.exec(v.trim());
  if (!m) throw new KilnError(`${flag}: "${v}" is not a size (bytes, or a number with KiB/MiB/GiB/TiB, or "unlimited")`);
  const unit = (m[2] ?? '').toUpperCase()[0];
  const mult = unit === 'K' ? 1024 : unit === 'M' ? 1024 ** 2 : unit === 'G' ? 1024 ** 3 : unit === 'T' ? 1024 ** 4 : 1;
  return Number(m[1]) * mult;
}

export function registerBuildCommand(program: Command): void {
  addManifestFlags(
    program
      .command('build')
      .description('build an image: generate the manifest, run it with Kiln\'s executor, write <output-dir>/<basename>.<ext>')
      .argument('[image-type]', 'image type or alias (omit with --manifest)'),
  )
    .option('--manifest <file>', 'rebuild a saved manifest (from `kiln manifest` or --with-manifest) instead of generating one')
    .option('--output-name <name>', 'artifact basename (default <distro>-<type>-<arch>)')
    .option('--cache <dir>', 'store for downloaded sources and finished pipelines', defaultStoreDir())
    .option('--cache-max-size <size>', 'size limit of cached pipelines (sources are not counted)', '20GiB')
    .option('--with-manifest', 'also write <basename>.osbuild-manifest.json', false)
    .option('--with-sbom', 'also write SPDX 2.3 SBOMs for the OS and build-root package sets', false)
    .option('--with-buildlog', 'also write <basename>.buildlog', false)
    .addOption(new Option('--progress <mode>', 'progress display').choices(['auto', 'term', 'verbose']).default('auto'))
    .addOption(
      new Option('--buildroot <mode>', 'run stages in the build pipeline\'s tree (bwrap, as osbuild) or with this machine\'s tools (host)')
        .choices(['bwrap', 'host'])
        .default('bwrap'),
    )
    .action(async (type: string | undefined, o: BuildFlags, cmd: Command) => {
      if (!type && !o.manifest) throw new KilnError('build: give an image type, or --manifest FILE');
      if (type && o.manifest) throw new KilnError('build: give an image type or --manifest FILE, not both');
      const g = globalOpts(cmd);
      const result = await buildImage({
        ...manifestOptionsFrom(type ?? '', o, cmd),
        manifestFile: o.manifest,
        outputDir: g.outputDir,
        outputName: o.outputName,
        cacheDir: o.cache ?? defaultStoreDir(),
        cacheMaxSize: parseSize('--cache-max-size', o.cacheMaxSize),
        withManifest: o.withManifest,
        withSbom: o.withSbom,
        withBuildlog: o.withBuildlog,
        buildroot: o.buildroot,
        progress: resolveMode(o.progress, Boolean(g.verbose)),
      });
      process.stdout.write(`Image build successful: ${result.image}\n`);
    });
}

