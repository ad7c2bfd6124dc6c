// SPDX 2.3 SBOMs of depsolved package sets (`kiln build --with-sbom`).
export { pipelineSbom, sbomFileName, serializeSbom, spdxDocument, spdxTimestamp, uuidFromSeed, type SpdxOptions } from './spdx.js';
export { isValidSpdxExpression, normaliseLicense, type NormalisedLicense } from './license.js';
export { dependencyEdges, ProvidesIndex, type DepEdge } from './deps.js';
export type * from './types.js';
