// image_func (from the definitions) -> the generator that turns it into pipelines.
import type { ResolvedImageType } from '../../defs/types.js';
import { KilnError } from '../../util/errors.js';
import type { ImageGenerator } from '../types.js';
import { diskGenerator } from './disk.js';
import { containerGenerator } from './container.js';
import { ostreeCommitGenerator, ostreeContainerGenerator } from './ostree-commit.js';
import { ostreeDiskGenerator } from './ostree-disk.js';
import { ostreeInstallerGenerator } from './ostree-installer.js';
import { ostreeSimplifiedInstallerGenerator } from './ostree-simplified-installer.js';
import { bootableContainerGenerator } from './bootable-container.js';

const generators: Record<string, ImageGenerator> = {
  disk: diskGenerator,
  container: containerGenerator,
  ostree_commit: ostreeCommitGenerator,
  ostree_container: ostreeContainerGenerator,
  ostree_disk: ostreeDiskGenerator,
  ostree_installer: ostreeInstallerGenerator,
  ostree_simplified_installer: ostreeSimplifiedInstallerGenerator,
  bootable_container: bootableContainerGenerator,
};

export function generatorFor(imageType: ResolvedImageType): ImageGenerator {
  const g = generators[imageType.image_func];
  if (!g) {
    throw new KilnError(
      `image type ${imageType.name}: image_func "${imageType.image_func}" has no manifest generator (known: ${Object.keys(generators).join(', ')})`,
    );
  }
  return g;
}
