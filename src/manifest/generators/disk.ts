// image_func `disk`: package-based disk images (minimal-raw-xz/-zst, generic-qcow2, ...).
// Pipelines: build, os, image (raw disk: truncate, sfdisk, mkfs, copy the tree in, BIOS grub),
// then one conversion pipeline by compression (xz, zstd, gzip) or image format (qcow2, vmdk,
// vpc, vhdx); a plain raw image is exported from `image` itself.
import type { Blueprint } from '../../blueprint/types.js';
import type { ResolvedImageType } from '../../defs/types.js';
import { KilnError } from '../../util/errors.js';
import { BUILD_REF, buildPackageSet, buildPipeline } from '../build-pipeline.js';
import { devicesAndMounts, layoutPartitionTable, plainFilesystems, type LaidOutPartitionTable } from '../layout.js';
import { osPackageSetChain, osPipeline } from '../os-pipeline.js';
import { Rng } from '../rng.js';
import { SourceCollector } from '../sources.js';
import { copyStage, grub2InstStage, gzipStage, mkfsStage, qemuStage, sfdiskStage, treeInput, truncateStage, xzStage, zstdStage } from '../stages.js';
import type { GeneratorRequest, ImageGenerator, Manifest, PackageSetChains, Pipeline, SerializeInput, Stage } from '../types.js';

type Conversion = 'xz' | 'zstd' | 'gzip' | 'qcow2' | 'vmdk' | 'vpc' | 'vhdx' | 'raw';

/** What turns the raw disk into the artifact: compression wins, then the platform's image format. */
export function conversionFor(it: ResolvedImageType): Conversion {
  if (it.compression === 'xz' || it.compression === 'zstd' || it.compression === 'gzip') return it.compression;
  if (it.compression) throw new KilnError(`image type "${it.name}": compression "${it.compression}" is not supported for disk images`);
  const fmt = it.platform.image_format ?? 'raw';
  switch (fmt) {
    case 'raw':
      return 'raw';
    case 'qcow2':
    case 'vmdk':
    case 'vhdx':
      return fmt;
    case 'vhd':
    case 'vpc':
      return 'vpc';
    default:
      throw new KilnError(`image type "${it.name}" (${it.arch}): image_format "${fmt}" is not supported yet (raw, qcow2, vmdk, vhd, vhdx)`);
  }
}

/** The pipeline the conversion runs in (and that must be the export). */
function conversionPipeline(c: Conversion): string {
  return c === 'raw' ? 'image' : c;
}

/** Lay out the image type's table for this request (fresh RNG from the seed: deterministic). */
export function diskLayout(it: ResolvedImageType, bp: Blueprint, rng: Rng): LaidOutPartitionTable {
  if (!it.partition_table) throw new KilnError(`image type "${it.name}" (${it.arch}): a disk image needs a partition_table in the definitions`);
  return layoutPartitionTable(it.partition_table, {
    size: it.default_size,
    requiredSizes: it.required_partition_sizes,
    filesystems: bp.customizations?.filesystem,
    defaultFsType: it.distro.default_fs_type,
    rng,
    context: `image type "${it.name}" (${it.arch})`,
  });
}

function checkExport(it: ResolvedImageType, pipeline: string): void {
  if (it.exports.length !== 1 || it.exports[0] !== pipeline) {
    throw new KilnError(`image type "${it.name}": exports ${JSON.stringify(it.exports)} must be ["${pipeline}"] for a ${it.image_func} image with this compression/format`);
  }
}

function checkBootloader(it: ResolvedImageType): void {
  if (it.platform.bootloader === 'zipl' || it.platform.zipl_support) {
    throw new KilnError(`image type "${it.name}" (${it.arch}): the zipl bootloader is not supported yet`);
  }
  if (it.platform.bootloader === 'uki') throw new KilnError(`image type "${it.name}" (${it.arch}): UKI boot is not supported yet`);
}

function usesShadow(bp: Blueprint): boolean {
  return !!(bp.customizations?.user?.length || bp.customizations?.group?.length || bp.customizations?.sshkey?.length);
}

export const diskGenerator: ImageGenerator = {
  packageSets(req: GeneratorRequest): PackageSetChains {
    const it = req.imageType;
    checkBootloader(it);
    const conv = conversionFor(it);
    checkExport(it, conversionPipeline(conv));
    const pt = diskLayout(it, req.blueprint, new Rng(req.seed));
    const kinds = ['os', 'image', ...(conv === 'raw' ? [] : [conv])];
    return {
      build: [buildPackageSet(it, kinds, usesShadow(req.blueprint) ? ['shadow-utils'] : [])],
      os: osPackageSetChain(it, req.blueprint, { kernel: it.bootable, partitionTable: pt }),
    };
  },

  ostreeSource(): undefined {
    return undefined;
  },

  serialize(req: GeneratorRequest, input: SerializeInput): Manifest {
    const it = req.imageType;
    checkBootloader(it);
    const conv = conversionFor(it);
    const last = conversionPipeline(conv);
    checkExport(it, last);
    const rng = new Rng(req.seed);
    const pt = diskLayout(it, req.blueprint, rng);
    const sources = new SourceCollector(req.useLibrepo);

    const pipelines: Pipeline[] = [buildPipeline(it, input.depsolved['build'], sources)];
    pipelines.push(osPipeline(it, req.blueprint, input.depsolved['os'], sources, { bootable: it.bootable, partitionTable: pt, rng }));
    const diskFile = conv === 'raw' ? it.filename : 'disk.img';
    pipelines.push(imagePipeline(it, pt, diskFile));

    switch (conv) {
      case 'raw':
        break;
      case 'xz':
        pipelines.push({ name: 'xz', build: BUILD_REF, stages: [xzStage(it.filename, 'image', diskFile)] });
        break;
      case 'zstd':
        pipelines.push({ name: 'zstd', build: BUILD_REF, stages: [zstdStage(it.filename, 'image', diskFile)] });
        break;
      case 'gzip':
        pipelines.push({ name: 'gzip', build: BUILD_REF, stages: [gzipStage(it.filename, 'image', diskFile)] });
        break;
      default:
        pipelines.push({
          name: conv,
          build: BUILD_REF,
          stages: [qemuStage(it.filename, conv, 'image', diskFile, conv === 'qcow2' ? it.platform.qcow2_compat : undefined)],
        });
    }
    return { version: '2', pipelines, sources: sources.toJSON() };
  },
};

/**
 * The `image` pipeline: create the file, partition it, make every filesystem, copy the os tree
 * in through mounts, copy platform boot files, install BIOS grub when the platform has one.
 */
export function imagePipeline(it: ResolvedImageType, pt: LaidOutPartitionTable, filename: string, treePipeline = 'os'): Pipeline {
  const stages: Stage[] = [truncateStage(filename, pt.size), sfdiskStage(pt, filename)];
  for (const { partition } of plainFilesystems(pt)) stages.push(mkfsStage(pt, partition, filename));
  const { devices, mounts } = devicesAndMounts(pt, filename);
  const root = mounts.find((m) => m.target === '/');
  if (!root) throw new KilnError(`image type "${it.name}": the partition table has no plain root filesystem to copy the tree into`);
  const inputs = { 'root-tree': treeInput(treePipeline) };
  stages.push(copyStage([{ from: 'input://root-tree/', to: `mount://${root.name}/` }], { inputs, devices, mounts }));
  const bootFiles = it.platform.boot_files ?? [];
  if (bootFiles.length) {
    const paths = bootFiles.map(([src, dst]) => ({
      from: `input://root-tree${src.startsWith('/') ? '' : '/'}${src}`,
      to: `mount://${root.name}${dst.startsWith('/') ? '' : '/'}${dst}`,
    }));
    stages.push(copyStage(paths, { inputs: { 'root-tree': treeInput(treePipeline) }, devices: structuredClone(devices), mounts: structuredClone(mounts) }));
  }
  if (it.platform.bios_platform) stages.push(grub2InstStage(pt, filename, it.platform.bios_platform));
  return { name: 'image', build: BUILD_REF, stages };
}
