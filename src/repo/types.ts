import type { CompsEnvironment, CompsGroup, Package } from '../rpm/types.js';

/** A repository as configured (CLI flags, repository files, compose config). */
export interface RepoConfig {
  /** stable id used in depsolve results and manifest sources */
  id: string;
  name?: string;
  baseurl?: string[];
  metalink?: string;
  mirrorlist?: string;
  /** key texts or URLs */
  gpgkeys?: string[];
  checkGpg?: boolean;
  checkRepoGpg?: boolean;
  ignoreSsl?: boolean;
  /** restrict this repo to some package sets/pipelines (upstream `package_sets`) */
  packageSets?: string[];
}

/** Options for loading repository metadata. */
export interface RepoLoadOptions {
  arch: string;
  releasever?: string;
  /** metadata cache directory; no cache when undefined */
  cacheDir?: string;
  /** read filelists (needed for file requires outside primary's subset); default true */
  filelists?: boolean;
  /** network timeout per request in ms */
  timeoutMs?: number;
  /** progress/diagnostic messages (cache hits, corrupt cache entries, mirror failover) */
  log?: (message: string) => void;
}

/** A repository whose metadata has been read. */
export interface LoadedRepo {
  config: RepoConfig;
  /** the base URL the packages' locations are relative to (after metalink/mirrorlist resolution) */
  baseurl: string;
  /** checksum (sha256 hex) of repomd.xml: the cache key */
  revision: string;
  packages: Package[];
  groups: CompsGroup[];
  environments: CompsEnvironment[];
  /** gpg key texts (fetched if given as URLs) */
  gpgkeyTexts: string[];
}
