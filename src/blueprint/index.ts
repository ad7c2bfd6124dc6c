// Public entry point of the blueprint module.
export { loadBlueprint, parseBlueprint } from './load.js';
export { checkDistro, checkSupported, supportErrors, unknownOptionPaths } from './check.js';
export { blueprintOptionPaths } from './schema.js';
export { parseSize } from './size.js';
export { emptyBlueprint } from './types.js';
export type { Blueprint, Customizations, BlueprintUser, BlueprintFile, BlueprintDirectory } from './types.js';
