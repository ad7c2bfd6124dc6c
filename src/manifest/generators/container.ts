// image_func `container`: a package-based OCI container (generic-container). Pipelines: build,
// os (no kernel, no bootloader, no partition table), container (org.osbuild.oci-archive of the os
// tree as a single layer).
import { KilnError } from '../../util/errors.js';
import { BUILD_REF, buildPackageSet, buildPipeline } from '../build-pipeline.js';
import { osPackageSetChain, osPipeline } from '../os-pipeline.js';
import { Rng } from '../rng.js';
import { SourceCollector } from '../sources.js';
import { ociArch, ociArchiveStage } from '../stages.js';
import type { GeneratorRequest, ImageGenerator, Manifest, PackageSetChains, SerializeInput } from '../types.js';

function check(req: GeneratorRequest): void {
  const it = req.imageType;
  if (it.exports.length !== 1 || it.exports[0] !== 'container') {
    throw new KilnError(`image type "${it.name}": exports ${JSON.stringify(it.exports)} must be ["container"] for a container image`);
  }
}

export const containerGenerator: ImageGenerator = {
  packageSets(req: GeneratorRequest): PackageSetChains {
    check(req);
    const it = req.imageType;
    const users = !!(req.blueprint.customizations?.user?.length || req.blueprint.customizations?.group?.length);
    return {
      build: [buildPackageSet(it, ['os', 'container'], users ? ['shadow-utils'] : [])],
      os: osPackageSetChain(it, req.blueprint, { kernel: false }),
    };
  },

  ostreeSource(): undefined {
    return undefined;
  },

  serialize(req: GeneratorRequest, input: SerializeInput): Manifest {
    check(req);
    const it = req.imageType;
    const rng = new Rng(req.seed);
    const sources = new SourceCollector(req.useLibrepo);
    const pipelines = [
      buildPipeline(it, input.depsolved['build'], sources),
      osPipeline(it, req.blueprint, input.depsolved['os'], sources, { bootable: false, rng }),
      { name: 'container', build: BUILD_REF, stages: [ociArchiveStage(it.filename, ociArch(it.arch), 'os')] },
    ];
    return { version: '2', pipelines, sources: sources.toJSON() };
  },
};
