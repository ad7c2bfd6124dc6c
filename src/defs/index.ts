// Public API of the definitions module.
export { loadDefinitions, defaultDefinitionsDir, type Definitions, type DistroDef, type ImageTypeDef } from './loader.js';
export { resolveImageType, findDistro, distroInfo, bootModeOf, partitionTableKinds } from './resolve.js';
export { listImages, FILTER_PREFIXES, type ImageListEntry } from './list.js';
export { describeImage, pipelineForSet, type ImageDescription } from './describe.js';
export { allPackageNames, allPackageGroups } from './packages.js';
export { hostDistro, hostArch, parseOsRelease } from './host.js';
export { parseSize } from './size.js';
export { globMatch } from './glob.js';
export type * from './types.js';
