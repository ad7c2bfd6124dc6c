// The `build` pipeline: the build root every other pipeline runs its stages in (reference §4.6,
// §5.2). Its package set is the runner's packages + selinux-policy-targeted, coreutils, xz + what
// the pipelines present need; it installs weak deps. Stages: org.osbuild.rpm per non-empty
// transaction, then org.osbuild.selinux labelling cp (and tar when installed) as install_exec_t so
// they may write any label into image trees.
import type { ResolvedImageType } from '../defs/types.js';
import type { Transaction } from '../depsolve/types.js';
import { KilnError } from '../util/errors.js';
import { partitionTablePackages } from './layout.js';
import type { SourceCollector } from './sources.js';
import { INSTALL_EXEC_LABEL, rpmStage, selinuxStage } from './stages.js';
import type { DepsolvedPipeline, Pipeline } from './types.js';

export const BUILD_PIPELINE = 'build';
export const BUILD_REF = `name:${BUILD_PIPELINE}`;

/**
 * Build-root packages each kind of pipeline needs (keys are pipeline kinds, usually the pipeline
 * name). `os` and `image` also add the platform build packages and partition-table tools; see
 * buildPackageSet.
 */
export const PIPELINE_BUILD_PACKAGES: Record<string, string[]> = {
  os: ['rpm', 'policycoreutils', 'selinux-policy-targeted'],
  image: [],
  xz: ['xz'],
  zstd: ['zstd'],
  gzip: ['gzip'],
  qcow2: ['qemu-img'],
  vmdk: ['qemu-img'],
  vpc: ['qemu-img'],
  vhdx: ['qemu-img'],
  tar: ['tar'],
  archive: ['tar'],
  container: ['tar'],
  'ostree-commit': ['rpm-ostree'],
  'ostree-deployment': ['rpm-ostree'],
  'ostree-encapsulate': ['rpm-ostree', 'python3-pyyaml'],
  'bootiso-tree': ['squashfs-tools'],
  bootiso: ['isomd5sum', 'xorriso'],
};

const BASE_BUILD_PACKAGES = ['selinux-policy-targeted', 'coreutils', 'xz'];

function uniq(xs: string[]): string[] {
  return [...new Set(xs)];
}

/**
 * The build root's single transaction for an image type whose manifest has the pipelines
 * `pipelinesUsed` (kinds from PIPELINE_BUILD_PACKAGES; unknown kinds add nothing), plus
 * `extraPackages` (e.g. shadow-utils when users are created, lorax templates). A `build` package
 * set from the definitions is merged in. Sorted, deduplicated, install_weak_deps true.
 */
export function buildPackageSet(it: ResolvedImageType, pipelinesUsed: string[], extraPackages: string[] = []): Transaction {
  const include: string[] = [...it.distro.runner_build_packages, ...BASE_BUILD_PACKAGES];
  for (const p of pipelinesUsed) {
    include.push(...(PIPELINE_BUILD_PACKAGES[p] ?? []));
    if (p === 'os' || p === 'image') {
      include.push(...Object.values(it.platform.build_packages ?? {}).flat());
      if (it.partition_table) include.push(...partitionTablePackages(it.partition_table));
    }
  }
  include.push(...extraPackages);
  const defs = it.package_sets['build'];
  if (defs) include.push(...defs.include);
  const exclude = uniq(defs?.exclude ?? []).sort();
  return { include: uniq(include).sort(), exclude, installWeakDeps: true };
}

/** The `build` pipeline from its depsolved packages; runner = the distro's runner. */
export function buildPipeline(it: ResolvedImageType, depsolved: DepsolvedPipeline | undefined, sources: SourceCollector): Pipeline {
  if (!depsolved || depsolved.transactions.every((t) => t.length === 0)) {
    throw new KilnError(`image type "${it.name}": no depsolved packages for the build pipeline`);
  }
  const stages = depsolved.transactions.filter((t) => t.length > 0).map((t) => rpmStage(t, depsolved.repos, sources));
  const labels: Record<string, string> = { '/usr/bin/cp': INSTALL_EXEC_LABEL };
  if (depsolved.transactions.some((t) => t.some((p) => p.name === 'tar'))) labels['/usr/bin/tar'] = INSTALL_EXEC_LABEL;
  stages.push(selinuxStage({ labels }));
  return { name: BUILD_PIPELINE, runner: it.distro.runner, stages };
}
