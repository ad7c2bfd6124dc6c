// Core RPM data model shared by the repository readers, the solver and the manifest generators.

/** Comparison flag of a versioned dependency, as rpm-md primary.xml spells it. */
export type DepFlag = 'EQ' | 'LT' | 'LE' | 'GT' | 'GE';

/**
 * One dependency entry (provides/requires/conflicts/...). A rich (boolean) dependency such as
 * `(foo if bar)` keeps its whole expression in `name` (starting with '(') and has no flags.
 */
export interface Dep {
  name: string;
  flags?: DepFlag;
  epoch?: number;
  version?: string;
  release?: string;
  /** Requires(pre) and friends: still a hard requirement for solving. */
  pre?: boolean;
}

export interface Checksum {
  /** e.g. sha256 */
  type: string;
  value: string;
}

/** A binary package as read from a repository's primary (+ filelists) metadata. */
export interface Package {
  name: string;
  arch: string;
  epoch: number;
  version: string;
  release: string;
  summary?: string;
  description?: string;
  url?: string;
  license?: string;
  vendor?: string;
  buildTime?: number;
  sourceRpm?: string;
  /** location href relative to the repository base URL */
  location: string;
  checksum: Checksum;
  downloadSize?: number;
  installSize?: number;
  provides: Dep[];
  requires: Dep[];
  conflicts: Dep[];
  obsoletes: Dep[];
  recommends: Dep[];
  suggests: Dep[];
  supplements: Dep[];
  enhances: Dep[];
  /** Files the package owns: primary.xml's subset, or every file once filelists was read. */
  files: string[];
  /** id of the repository this package came from */
  repoId: string;
}

/** A comps group (`@core`). */
export interface CompsGroup {
  id: string;
  name: string;
  description?: string;
  default: boolean;
  uservisible: boolean;
  packages: { name: string; type: 'mandatory' | 'default' | 'optional' | 'conditional'; requires?: string }[];
}

export interface CompsEnvironment {
  id: string;
  name: string;
  groups: string[];
  options: string[];
}
