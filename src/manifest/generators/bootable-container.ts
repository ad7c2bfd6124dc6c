// image_func `bootable_container` (iot-bootable-container): the OS built from RPMs as an ostree
// commit, wrapped by `ostree container encapsulate` into an OCI archive that bootc can install and
// update from. Pipelines: build, os, ostree-commit, ostree-encapsulate (reference §5.3).
import { BUILD_REF, buildPackageSet, buildPipeline } from '../build-pipeline.js';
import { bootcInstallConfigStage, ostreeEncapsulateStage } from '../ostree-stages.js';
import { Rng } from '../rng.js';
import { SourceCollector } from '../sources.js';
import type { GeneratorRequest, ImageGenerator, Manifest, PackageSetChains, Pipeline, SerializeInput } from '../types.js';
import { COMMIT_PIPELINE, OS_PIPELINE, commitOsChain, commitOsPipeline, commitPipeline } from './ostree-commit.js';
import { imageRef, parentSource } from './ostree-common.js';

/** bootc's install config for the image: root filesystem type (the distro default, e.g. ext4). */
const BOOTC_CONFIG_FILE = '20-fedora.toml';

export const bootableContainerGenerator: ImageGenerator = {
  packageSets(req: GeneratorRequest): PackageSetChains {
    return {
      build: [buildPackageSet(req.imageType, ['os', 'ostree-commit', 'ostree-encapsulate'])],
      [OS_PIPELINE]: commitOsChain(req),
    };
  },

  ostreeSource(req: GeneratorRequest) {
    return parentSource(req);
  },

  serialize(req: GeneratorRequest, input: SerializeInput): Manifest {
    const it = req.imageType;
    const ref = imageRef(req);
    const sources = new SourceCollector(req.useLibrepo);
    const rng = new Rng(req.seed);
    const rootFsType = it.distro.default_fs_type || 'ext4';
    const pipelines: Pipeline[] = [
      buildPipeline(it, input.depsolved['build'], sources),
      commitOsPipeline(req, input, sources, rng, {
        beforeSelinux: [bootcInstallConfigStage(BOOTC_CONFIG_FILE, rootFsType)],
      }),
      commitPipeline(it, ref, input.commit),
      {
        name: 'ostree-encapsulate',
        build: BUILD_REF,
        stages: [ostreeEncapsulateStage({ filename: it.filename, commitPipeline: COMMIT_PIPELINE, ref })],
      },
    ];
    return { version: '2', pipelines, sources: sources.toJSON() };
  },
};
