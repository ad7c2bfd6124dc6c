// Public entry point of the depsolver.
export { depsolve, globToRegExp, type DepsolveOptions } from './solver.js';
export { DepsolveError, type DepsolveResult, type Transaction } from './types.js';
