// What an imageBuilderBuildArch task needs from an image builder: the file extension an image
// type will have (asked before building, to check it against the hub's archive types) and the
// build itself. The default is Kiln's own `kiln build`; tests inject a stub.
import { join } from 'node:path';

import type { Blueprint } from '../../blueprint/types.js';
import { buildImage, extensionOf, type BuildOptions } from '../../build/build.js';
import { LineProgress } from '../../build/progress.js';
import { defaultDefinitionsDir, findDistro, hostDistro, loadDefinitions, resolveImageType, type Definitions } from '../../defs/index.js';
import type { BuildRootMode } from '../../executor/buildroot.js';
import type { OstreeOptions } from '../../manifest/types.js';
import { KilnError } from '../../util/errors.js';

export interface ImageBuildRequest {
  imageType: string;
  arch: string;
  distro?: string;
  blueprint?: Blueprint;
  /** repository base URLs ($arch already substituted), as image-builder --force-repo */
  repos: string[];
  seed?: bigint;
  preview?: boolean;
  ostree?: OstreeOptions;
  /** write `<outputName>.<ext>` and side files here */
  outputDir: string;
  outputName: string;
  cacheDir: string;
  buildroot: BuildRootMode;
  definitionsDir?: string;
  /** one line of build log (no trailing newline needed) */
  log: (line: string) => void;
  signal: AbortSignal;
}

export interface ImagePackage {
  name: string;
  epoch: number;
  version: string;
  release: string;
  arch: string;
}

export interface ImageBuildOutput {
  /** absolute path of the image */
  image: string;
  /** manifest, SBOMs and anything else to upload next to the image */
  sideFiles: string[];
  /** packages installed in the image (not the build root) */
  packages: ImagePackage[];
}

export interface ImageBuildRunner {
  /** the extension of the image the request will produce, e.g. "raw.xz" */
  imageExtension(req: ImageBuildRequest): Promise<string>;
  /** extensions of the side files build() will write (after `<outputName>.`) */
  sideFileSuffixes(req: ImageBuildRequest): Promise<string[]>;
  build(req: ImageBuildRequest): Promise<ImageBuildOutput>;
}

/**
 * The `kiln build` options for a task's request: what koji-image-builder turns into
 * image-builder flags (--force-repo, --seed, --preview, --ostree-*, --with-sbom,
 * --with-manifest, --output-name) as Kiln's build options.
 */
export function buildOptionsFor(req: ImageBuildRequest): BuildOptions {
  return {
    imageType: req.imageType,
    arch: req.arch,
    ...(req.distro ? { distro: req.distro } : {}),
    ...(req.blueprint ? { blueprint: req.blueprint } : {}),
    forceRepos: req.repos,
    ...(req.seed !== undefined ? { seed: req.seed } : {}),
    // opts.preview, when the task has one, overrides the distro's preview flag (upstream passes
    // `--preview true|false` to image-builder)
    ...(req.preview !== undefined ? { preview: req.preview } : {}),
    ...(req.ostree ? { ostree: req.ostree } : {}),
    ...(req.definitionsDir ? { definitionsDir: req.definitionsDir } : {}),
    rpmmdCache: join(req.cacheDir, 'rpmmd'),
    outputDir: req.outputDir,
    outputName: req.outputName,
    cacheDir: req.cacheDir,
    withManifest: true,
    withSbom: true,
    withBuildlog: false,
    buildroot: req.buildroot,
    progress: 'verbose',
    progressSink: new LineProgress((s) => req.log(s.replace(/\n$/, ''))),
    signal: req.signal,
    log: (m: string) => req.log(m),
  };
}

/** The default runner: Kiln's `buildImage`. */
export class KilnImageBuildRunner implements ImageBuildRunner {
  async imageExtension(req: ImageBuildRequest): Promise<string> {
    const defs = loadDefinitions(req.definitionsDir);
    // the task handler always settles the distro (chooseDistro); no silent host fallback here
    const distro = req.distro ?? req.blueprint?.distro;
    if (!distro) throw new KilnError(`image type ${req.imageType}: no distro given`);
    return extensionOf(resolveImageType(defs, distro, req.imageType, req.arch).filename);
  }

  async sideFileSuffixes(): Promise<string[]> {
    // osbuild-manifest.json and <pipeline>.spdx.json: all end in .json
    return ['osbuild-manifest.json', 'image-os.spdx.json'];
  }

  async build(req: ImageBuildRequest): Promise<ImageBuildOutput> {
    if (req.preview !== undefined) req.log(`distro preview state overridden by opts.preview: ${req.preview}`);
    const res = await buildImage(buildOptionsFor(req));
    const packages: ImagePackage[] = [];
    const seen = new Set<string>();
    for (const [pipeline, list] of Object.entries(res.metadata.packages)) {
      if (pipeline === 'build') continue;
      for (const p of list) {
        const key = `${p.name}-${p.epoch}:${p.version}-${p.release}.${p.arch}`;
        if (seen.has(key)) continue;
        seen.add(key);
        packages.push({ name: p.name, epoch: p.epoch, version: p.version, release: p.release, arch: p.arch });
      }
    }
    // metadata.json is Kiln's own record; Koji gets the image, manifest and SBOMs like upstream
    const sideFiles = res.sideFiles.filter((f) => !f.endsWith('.metadata.json') && !f.endsWith('.buildlog'));
    return { image: res.image, sideFiles, packages };
  }
}

// ---------------------------------------------------------------------------------------------
// Which distro a task builds. upstream's builder runs image-builder inside a mock buildroot of
// the build tag, so "no --distro" means the buildroot's distro; a Kiln host builds on itself,
// where the host's own distro (e.g. debian-12) is usually not one the definitions have.

/** Startup check of build.default_distro against the definitions; the error names file and key. */
function checkDefaultDistro(cfg: DistroConfig, name: string): void {
  let defs: Definitions;
  try {
    defs = loadDefinitions(cfg.definitionsDir);
  } catch (e) {
    throw new KilnError(`${cfg.file}: build.default_distro: cannot check ${JSON.stringify(name)}: ${(e as Error).message}`);
  }
  if (findDistro(defs, name) === undefined) {
    throw new KilnError(
      `${cfg.file}: build.default_distro: unknown distro ${JSON.stringify(name)}; ` +
        `the definitions in ${cfg.definitionsDir ?? defaultDefinitionsDir()} have: ${distroNames(defs).join(', ')}`,
    );
  }
}

function distroNames(defs: Definitions): string[] {
  return defs.distros.map((d) => d.name);
}

/** The parts of the builder config the distro fallback depends on. */
export interface DistroConfig {
  /** the builder config file (for messages) */
  file: string;
  /** build.default_distro */
  defaultDistro?: string;
  definitionsDir?: string;
}

/**
 * What a task that names no distro (neither opts.distro nor its blueprint) builds: a distro,
 * or the error such a task fails with.
 */
export type DistroFallback = { distro: string } | { error: Error };

/**
 * The distro fallback, settled once when the builder starts: neither the host's distro nor the
 * definitions change while the daemon runs. build.default_distro (a bad one stops the start),
 * else the host's distro if the definitions know it, else why neither can be used.
 */
export function distroFallback(cfg: DistroConfig, host: () => string = hostDistro): DistroFallback {
  if (cfg.defaultDistro) {
    checkDefaultDistro(cfg, cfg.defaultDistro);
    return { distro: cfg.defaultDistro };
  }
  const noDistro = (why: string): DistroFallback => ({
    error: new KilnError(
      `the task gives no distro (no opts.distro, no distro in its blueprint) and ${why}; ` +
        `pass opts.distro (kiln koji build --distro <distro>) or set build.default_distro in ${cfg.file}`,
    ),
  });
  let h: string;
  try {
    h = host();
  } catch (e) {
    return noDistro(`the build host's distro cannot be detected (${(e as Error).message})`);
  }
  let defs: Definitions;
  try {
    defs = loadDefinitions(cfg.definitionsDir);
  } catch (e) {
    // broken definitions fail every such task with their own error, as a build would
    return { error: e as Error };
  }
  if (findDistro(defs, h) !== undefined) return { distro: h };
  const names = distroNames(defs);
  return noDistro(`the build host's distro ${JSON.stringify(h)} is not one the image definitions have${names.length ? ` (${names.join(', ')})` : ''}`);
}

export interface DistroInputs {
  /** opts.distro of the task */
  taskDistro?: string | undefined;
  /** the distro the task's blueprint names */
  blueprintDistro?: string | undefined;
}

/**
 * The distro to pass to the build, or undefined when the blueprint's own distro applies (as
 * image-builder: --distro, then the blueprint, then the default). Order: opts.distro, the
 * blueprint's distro, then the builder's fallback (see distroFallback), whose error the task
 * fails with when there is none.
 */
export function chooseDistro(i: DistroInputs, fallback: DistroFallback): string | undefined {
  if (i.taskDistro) return i.taskDistro;
  if (i.blueprintDistro) return undefined;
  if ('distro' in fallback) return fallback.distro;
  throw fallback.error;
}
