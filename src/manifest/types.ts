// osbuild manifest v2 document model, and the contract between image generators and the
// orchestration that depsolves and resolves ostree commits for them.
import type { Blueprint } from '../blueprint/types.js';
import type { ResolvedImageType } from '../defs/types.js';
import type { Transaction } from '../depsolve/types.js';
import type { LoadedRepo, RepoConfig } from '../repo/types.js';
import type { Package } from '../rpm/types.js';

export interface Input {
  type: string;
  origin: 'org.osbuild.source' | 'org.osbuild.pipeline';
  references: string[] | Record<string, unknown> | { id: string; options?: Record<string, unknown> }[];
  options?: Record<string, unknown>;
}

export interface Device {
  type: string;
  parent?: string;
  options?: Record<string, unknown>;
}

export interface Mount {
  name: string;
  type: string;
  source?: string;
  target?: string;
  partition?: number;
  options?: Record<string, unknown>;
}

export interface Stage {
  type: string;
  options?: Record<string, unknown>;
  inputs?: Record<string, Input>;
  devices?: Record<string, Device>;
  mounts?: Mount[];
}

export interface Pipeline {
  name: string;
  build?: string;
  runner?: string;
  'source-epoch'?: number;
  stages: Stage[];
}

export interface Manifest {
  version: '2';
  pipelines: Pipeline[];
  sources: Record<string, { items: Record<string, unknown>; options?: Record<string, unknown> }>;
  metadata?: Record<string, unknown>;
}

/** Ostree options from the CLI (`--ostree-url/--ostree-ref/--ostree-parent`) or a compose. */
export interface OstreeOptions {
  url?: string;
  ref?: string;
  parent?: string;
}

/** A commit the orchestration resolved for the generator (from `<url>/refs/heads/<ref>`). */
export interface ResolvedCommit {
  url: string;
  ref: string;
  checksum: string;
}

export interface GeneratorRequest {
  imageType: ResolvedImageType;
  blueprint: Blueprint;
  /** drives every UUID; same seed + inputs => byte-identical manifest */
  seed: bigint;
  repos: RepoConfig[];
  ostree?: OstreeOptions;
  useLibrepo: boolean;
}

/** Per pipeline name, the chain of transactions to depsolve for it. */
export type PackageSetChains = Record<string, Transaction[]>;

export interface DepsolvedPipeline {
  transactions: Package[][];
  /** repos that supplied packages (for gpgkeys and source URLs) */
  repos: LoadedRepo[];
}

export interface SerializeInput {
  depsolved: Record<string, DepsolvedPipeline>;
  /** the commit to deploy or embed (deployment/installer types), or the parent (commit types) */
  commit?: ResolvedCommit;
}

/**
 * An image generator for one `image_func` (disk, ostree_commit, ...). Two phases, as upstream:
 * first it says which package sets each pipeline needs and which ostree commit it needs resolved,
 * then, with the depsolved packages, it serializes the manifest.
 */
export interface ImageGenerator {
  packageSets(req: GeneratorRequest): PackageSetChains;
  /** the ostree ref/url this image needs resolved to a commit, if any */
  ostreeSource(req: GeneratorRequest): { url: string; ref: string } | undefined;
  serialize(req: GeneratorRequest, input: SerializeInput): Manifest;
}
