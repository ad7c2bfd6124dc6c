import type { Package } from '../rpm/types.js';

/**
 * One transaction of a chained depsolve, as osbuild-depsolve-dnf takes them: each transaction
 * sees the previous transactions' packages as already installed.
 */
export interface Transaction {
  /** package specs: names, provides, file paths, globs, `@group` */
  include: string[];
  exclude: string[];
  installWeakDeps: boolean;
  /** repo ids this transaction may use; all loaded repos when undefined */
  repoIds?: string[];
}

export interface DepsolveResult {
  /** per transaction, the packages it added (disjoint), sorted by name */
  transactions: Package[][];
  /** all packages, sorted by name */
  packages: Package[];
}

/** Thrown when a request cannot be satisfied; message names the package and capability. */
export class DepsolveError extends Error {
  override name = 'DepsolveError';
}
