// What an imageBuilderBuildArch task needs from an image builder: the file extension an image
// type will have (asked before building, to check it against the hub's archive types) and the
// build itself. The default is Kiln's own `kiln build`; tests inject a stub.
import { join } from 'node:path';

import type { Blueprint } from '../../blueprint/types.js';
import { buildImage, extensionOf, type BuildOptions } from '../../build/build.js';
import { LineProgress } from '../../build/progress.js';
import { hostDistro, loadDefinitions, resolveImageType } from '../../defs/index.js';
import type { BuildRootMode } from '../../executor/buildroot.js';
import type { OstreeOptions } from '../../manifest/types.js';

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
    const distro = req.distro ?? req.blueprint?.distro ?? hostDistro();
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
