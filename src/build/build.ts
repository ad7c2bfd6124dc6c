// `kiln build`: manifest -> executor -> artifacts named as upstream image-builder names them
// (`<output-dir>/<basename>.<ext>`), plus the side files asked for. The image and every side file
// are written under temporary names in the output directory and renamed only when complete, so
// an interrupted build never leaves a partial artifact under a final name.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename as pathBasename, join, resolve } from 'node:path';
import { runManifest, type RunReport } from '../executor/run.js';
import type { BuildRootMode } from '../executor/buildroot.js';
import { withSignalHandling } from '../executor/resources.js';
import type { Manifest } from '../manifest/types.js';
import type { Package } from '../rpm/types.js';
import { spdxDocument, sbomFileName } from '../sbom/index.js';
import { KilnError } from '../util/errors.js';
import { kilnVersion } from '../util/version.js';
import { formatManifest, generateManifest, manifestDefinitions, type ManifestOptions, type ManifestResult } from './manifest.js';
import { createProgress, LineProgress, type ProgressSink } from './progress.js';

export interface BuildOptions extends ManifestOptions {
  /** rebuild a saved manifest instead of generating one */
  manifestFile?: string;
  outputDir?: string;
  outputName?: string;
  /** the executor's store (sources and finished pipelines) */
  cacheDir: string;
  cacheMaxSize?: number;
  withManifest?: boolean;
  withSbom?: boolean;
  withBuildlog?: boolean;
  buildroot: BuildRootMode;
  progress: 'term' | 'verbose';
  /** where progress goes; the default writes to stderr */
  progressSink?: ProgressSink;
  signal?: AbortSignal;
}

export interface BuildResult {
  image: string;
  sideFiles: string[];
  metadata: BuildMetadata;
  report: RunReport;
}

export interface BuildMetadata {
  kiln_version: string;
  distro?: string;
  image_type?: string;
  arch?: string;
  seed?: string;
  definitions?: { path: string; sha256: string };
  manifest_sha256: string;
  buildroot: BuildRootMode;
  image: { file: string; size: number; sha256: string };
  packages: Record<string, { name: string; epoch: number; version: string; release: string; arch: string; checksum: string }[]>;
  pipelines: { name: string; status: string; duration_ms: number; stages: { type: string; id: string; status: string; duration_ms: number }[] }[];
  duration_ms: number;
}

/** The part of a type's filename after its first dot: `disk.raw.xz` -> `raw.xz`. */
export function extensionOf(filename: string): string {
  const i = filename.indexOf('.');
  return i < 0 ? '' : filename.slice(i + 1);
}

/** upstream: `--output-name foo.qcow2` for a qcow2 image means basename `foo` */
export function outputBasename(name: string, ext: string): string {
  return ext && name.endsWith(`.${ext}`) ? name.slice(0, -(ext.length + 1)) : name;
}

function sha256File(path: string): Promise<string> {
  return new Promise((res, rej) => {
    const h = createHash('sha256');
    createReadStream(path)
      .on('data', (c) => h.update(c))
      .on('error', rej)
      .on('end', () => res(h.digest('hex')));
  });
}

/** Turn an ENOSPC or EACCES from writing outputs into an error that names the path. */
function explainFsError(e: unknown, what: string): never {
  const err = e as NodeJS.ErrnoException;
  if (err.code === 'ENOSPC') throw new KilnError(`no space left on device while writing ${what}`);
  if (err.code === 'EACCES' || err.code === 'EROFS') throw new KilnError(`cannot write ${what}: ${err.message}`);
  throw e;
}

/** Write a side file atomically (temp name in the same directory, then rename). */
function writeAtomic(path: string, data: string): void {
  const tmp = `${path}.partial-${randomBytes(4).toString('hex')}`;
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    explainFsError(e, path);
  }
}

interface Plan {
  manifest: Manifest;
  generated?: ManifestResult;
  basename: string;
  exportName: string;
}

function loadSavedManifest(file: string): Manifest {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new KilnError(`--manifest ${file}: ${(e as Error).message}`);
  }
  let m: Manifest;
  try {
    m = JSON.parse(text) as Manifest;
  } catch (e) {
    throw new KilnError(`--manifest ${file}: not valid JSON: ${(e as Error).message}`);
  }
  if (m === null || typeof m !== 'object' || m.version !== '2' || !Array.isArray(m.pipelines)) {
    throw new KilnError(`--manifest ${file}: not an osbuild manifest v2 (needs "version": "2" and "pipelines")`);
  }
  return m;
}

async function plan(opts: BuildOptions, progress: ProgressSink): Promise<Plan> {
  if (opts.manifestFile) {
    const manifest = loadSavedManifest(opts.manifestFile);
    const exports = ((manifest.metadata?.exports ?? []) as { name: string }[]).map((e) => e.name);
    const exportName = exports[0] ?? manifest.pipelines[manifest.pipelines.length - 1]?.name;
    if (!exportName) throw new KilnError(`--manifest ${opts.manifestFile}: has no pipelines`);
    const fileBase = pathBasename(opts.manifestFile).replace(/(\.osbuild-manifest)?\.json$/, '');
    return { manifest, basename: opts.outputName ?? fileBase, exportName };
  }
  progress.line(`generating manifest for ${opts.imageType}`);
  const generated = await generateManifest(opts);
  const it = generated.imageType;
  if (it.exports.length !== 1) throw new KilnError(`image type ${it.name} has ${it.exports.length} exports; kiln build needs exactly one`);
  const ext = extensionOf(it.filename);
  const basename = opts.outputName ? outputBasename(opts.outputName, ext) : `${it.distro.name}-${it.name}-${it.arch}`;
  return { manifest: generated.manifest, generated, basename, exportName: it.exports[0]! };
}

function packagesOf(generated: ManifestResult | undefined): BuildMetadata['packages'] {
  const out: BuildMetadata['packages'] = {};
  if (!generated) return out;
  for (const [pipeline, d] of Object.entries(generated.depsolved)) {
    out[pipeline] = d.transactions
      .flat()
      .map((p: Package) => ({ name: p.name, epoch: p.epoch, version: p.version, release: p.release, arch: p.arch, checksum: `${p.checksum.type}:${p.checksum.value}` }))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }
  return out;
}

/** Payload pipelines get purpose `image`, the build pipeline `buildroot`, as upstream names SBOMs. */
function sbomPurpose(pipeline: string): 'image' | 'buildroot' {
  return pipeline === 'build' ? 'buildroot' : 'image';
}

/**
 * Build an image. SIGINT/SIGTERM are handled here rather than inside the executor so that the
 * build's own temporary output directory is removed before the signal is re-raised.
 */
export async function buildImage(opts: BuildOptions): Promise<BuildResult> {
  return withSignalHandling((scope) => buildImageIn({ ...opts, signal: scope.signal }), { outer: opts.signal });
}

async function buildImageIn(opts: BuildOptions): Promise<BuildResult> {
  const log: string[] = [];
  const screen = opts.progressSink ?? createProgress(opts.progress);
  const recorder = new LineProgress((s) => log.push(s));
  const progress: ProgressSink = {
    event: (e) => {
      screen.event(e);
      recorder.event(e);
    },
    line: (m) => {
      screen.line(m);
      recorder.line(m);
    },
    close: () => screen.close(),
  };
  let work: string | undefined;
  try {
    if (opts.withSbom && opts.manifestFile) {
      throw new KilnError('--with-sbom needs the depsolved package sets: it cannot be used with --manifest (generate the SBOM when the manifest is made)');
    }
    // the override changes what the manifest says; a saved manifest is built as it is
    if (opts.preview !== undefined && opts.manifestFile) {
      throw new KilnError('--preview changes how the manifest is generated: it cannot be used with --manifest');
    }
    const p = await plan(opts, progress);
    const outDir = resolve(opts.outputDir ?? p.basename);
    try {
      mkdirSync(outDir, { recursive: true });
      mkdirSync(opts.cacheDir, { recursive: true });
    } catch (e) {
      explainFsError(e, outDir);
    }
    if (opts.buildroot === 'host') progress.line('build root: host tools (--buildroot host); stages run with this machine\'s programs, not the build pipeline\'s');

    // the executor exports into a private directory next to the final artifact (same
    // filesystem, so the final step is a rename)
    work = join(outDir, `.kiln-build-${randomBytes(6).toString('hex')}`);
    mkdirSync(work);
    const report = await runManifest(p.manifest, {
      store: opts.cacheDir,
      storeMaxSize: opts.cacheMaxSize,
      outputDir: work,
      exports: [p.exportName],
      buildroot: opts.buildroot,
      onEvent: (e) => progress.event(e),
      signal: opts.signal,
      handleSignals: false,
    });
    const exported = report.exports[p.exportName] ?? join(work, p.exportName);
    const files = readdirSync(exported);
    const filename = p.generated?.imageType.filename ?? (files.length === 1 ? files[0]! : undefined);
    if (!filename || !existsSync(join(exported, filename))) {
      throw new KilnError(`export ${p.exportName} did not produce ${filename ?? 'exactly one file'} (found: ${files.join(', ') || 'nothing'})`);
    }
    const ext = extensionOf(filename);
    const image = join(outDir, ext ? `${p.basename}.${ext}` : p.basename);
    const size = statSync(join(exported, filename)).size;
    const sha256 = await sha256File(join(exported, filename));

    const sideFiles: string[] = [];
    const side = (suffix: string, data: string) => {
      const f = join(outDir, `${p.basename}.${suffix}`);
      writeAtomic(f, data);
      sideFiles.push(f);
    };
    const manifestText = formatManifest(p.manifest);
    if (opts.withManifest) side('osbuild-manifest.json', manifestText);
    if (opts.withSbom && p.generated) {
      const g = p.generated;
      for (const [pipeline, d] of Object.entries(g.depsolved)) {
        const doc = spdxDocument({
          name: `${p.basename}-${pipeline}`,
          packages: d.transactions.flat(),
          repos: d.repos,
          toolVersion: kilnVersion(),
          namespaceSeed: `${g.seed}-${pipeline}-${sha256}`,
        });
        const name = sbomFileName(p.basename, sbomPurpose(pipeline), pipeline);
        side(name.slice(p.basename.length + 1), JSON.stringify(doc, null, 2) + '\n');
      }
    }
    const it = p.generated?.imageType;
    const metadata: BuildMetadata = {
      kiln_version: kilnVersion(),
      distro: it?.distro.name,
      image_type: it?.name,
      arch: it?.arch,
      seed: p.generated?.seed.toString(),
      definitions: manifestDefinitions(p.manifest),
      manifest_sha256: createHash('sha256').update(manifestText).digest('hex'),
      buildroot: opts.buildroot,
      image: { file: pathBasename(image), size, sha256 },
      packages: packagesOf(p.generated),
      pipelines: Object.values(report.pipelines).map((pl) => ({
        name: pl.name,
        status: pl.status,
        duration_ms: pl.duration,
        stages: pl.stages.map((s) => ({ type: s.type, id: s.id, status: s.status, duration_ms: s.duration })),
      })),
      duration_ms: report.duration,
    };
    side('metadata.json', JSON.stringify(metadata, null, 2) + '\n');

    // the image last: once it has its final name, everything beside it is complete too
    try {
      renameSync(join(exported, filename), image);
    } catch (e) {
      explainFsError(e, image);
    }
    progress.line(`image ${image} (${size} bytes, sha256 ${sha256})`);
    if (opts.withBuildlog) side('buildlog', log.join(''));
    return { image, sideFiles, metadata, report };
  } finally {
    if (work) rmSync(work, { recursive: true, force: true });
    progress.close();
  }
}
