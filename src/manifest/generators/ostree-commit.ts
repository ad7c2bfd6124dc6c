// image_func `ostree_commit` (iot-commit) and `ostree_container` (iot-container): build the OS
// from RPMs in an ostree-ready layout (`os`), commit it (`ostree-commit`), then either tar the
// repository (`commit-archive`) or serve it from an nginx container (`container-tree`,
// `container`). Reference §5.3. A parent commit (from --ostree-url/--ostree-parent) is recorded
// as the commit's parent and its passwd/group are carried over so uids/gids stay stable.
import type { ResolvedImageType } from '../../defs/types.js';
import { BUILD_REF, buildPackageSet, buildPipeline } from '../build-pipeline.js';
import { osPackageSetChain, osPipeline } from '../os-pipeline.js';
import {
  bootupdGenMetadataStage,
  nginxConfStage,
  ociArch,
  ociArchiveLayeredStage,
  ostreeCommitStage,
  ostreeInitStage,
  ostreePasswdStage,
  ostreePipelineInput,
  ostreePreptreeStage,
  ostreePullStage,
} from '../ostree-stages.js';
import { Rng } from '../rng.js';
import { SourceCollector } from '../sources.js';
import { localeStage, rpmStage, tarStage } from '../stages.js';
import type { GeneratorRequest, ImageGenerator, Manifest, PackageSetChains, Pipeline, ResolvedCommit, SerializeInput, Stage } from '../types.js';
import { imageRef, parentSource } from './ostree-common.js';
import { KilnError } from '../../util/errors.js';

export const OS_PIPELINE = 'os';
export const COMMIT_PIPELINE = 'ostree-commit';
/** Where the container serves the repository from (nginx document root + /repo). */
const SERVER_ROOT = '/usr/share/nginx/html';
const SERVER_REPO = `${SERVER_ROOT}/repo`;
/** The rpm database of an ostree system lives in /usr (ostree owns /var). */
const OSTREE_RPM_DBPATH = '/usr/share/rpm';

export interface CommitOsExtras {
  /** stages right before org.osbuild.selinux */
  beforeSelinux?: Stage[];
  /** stages after ostree.preptree */
  after?: Stage[];
}

/** The os chain of a commit type: ostree images always carry a kernel. */
export function commitOsChain(req: GeneratorRequest) {
  return osPackageSetChain(req.imageType, req.blueprint, { kernel: true });
}

/**
 * The `os` pipeline of a commit: H5's os pipeline with ostree rpm options, ostree.passwd of the
 * parent first, and ostree.preptree (+ bootupd metadata when the image config asks) last.
 */
export function commitOsPipeline(req: GeneratorRequest, input: SerializeInput, sources: SourceCollector, rng: Rng, extras: CommitOsExtras = {}): Pipeline {
  const it = req.imageType;
  const parent = input.commit;
  const prepend: Stage[] = [];
  if (parent) {
    sources.addOstreeCommit(parent.checksum, { url: parent.url });
    prepend.push(ostreePasswdStage(parent.checksum, parent.ref));
  }
  const append: Stage[] = [ostreePreptreeStage({ etcGroupMembers: it.image_config.ostree_preptree?.etc_group_members })];
  if (it.image_config.bootupd_gen_metadata) append.push(bootupdGenMetadataStage());
  append.push(...(extras.after ?? []));
  return osPipeline(it, req.blueprint, input.depsolved[OS_PIPELINE], sources, {
    name: OS_PIPELINE,
    bootable: false,
    fixBls: true,
    rpmOptions: { ostreeBooted: true, dbpath: OSTREE_RPM_DBPATH, disableDracut: true },
    prepend,
    beforeSelinux: extras.beforeSelinux,
    append,
    rng,
  });
}

/** `ostree-commit`: an archive repo at /repo holding the os tree committed under `ref`. */
export function commitPipeline(it: ResolvedImageType, ref: string, parent: ResolvedCommit | undefined): Pipeline {
  return {
    name: COMMIT_PIPELINE,
    build: BUILD_REF,
    stages: [
      ostreeInitStage('/repo'),
      ostreeCommitStage({ ref, osVersion: it.distro.os_version, parent: parent?.checksum, treePipeline: OS_PIPELINE }),
    ],
  };
}

/** The ref to commit under, and a check that the parent (if any) was resolved for the request. */
function commitRef(req: GeneratorRequest, input: SerializeInput): string {
  const ref = imageRef(req);
  if (parentSource(req) && !input.commit) {
    throw new KilnError(`image type ${req.imageType.name}: --ostree-url was given but the parent commit was not resolved`);
  }
  return ref;
}

export const ostreeCommitGenerator: ImageGenerator = {
  packageSets(req: GeneratorRequest): PackageSetChains {
    return {
      build: [buildPackageSet(req.imageType, ['os', 'ostree-commit', 'archive'])],
      [OS_PIPELINE]: commitOsChain(req),
    };
  },

  ostreeSource(req: GeneratorRequest) {
    return parentSource(req);
  },

  serialize(req: GeneratorRequest, input: SerializeInput): Manifest {
    const it = req.imageType;
    const ref = commitRef(req, input);
    const sources = new SourceCollector(req.useLibrepo);
    const rng = new Rng(req.seed);
    const pipelines: Pipeline[] = [
      buildPipeline(it, input.depsolved['build'], sources),
      commitOsPipeline(req, input, sources, rng),
      commitPipeline(it, ref, input.commit),
      { name: 'commit-archive', build: BUILD_REF, stages: [tarStage(it.filename, COMMIT_PIPELINE)] },
    ];
    return { version: '2', pipelines, sources: sources.toJSON() };
  },
};

// ---------------------------------------------------------------------------------------------
// iot-container

interface OstreeServerConfig {
  port: number;
  config_path: string;
}

function serverConfig(it: ResolvedImageType): OstreeServerConfig {
  const c = (it.image_config['ostree_server'] ?? {}) as Partial<OstreeServerConfig>;
  return { port: c.port ?? 8080, config_path: c.config_path ?? '/etc/nginx.conf' };
}

/**
 * `container-tree`: nginx (the `container` package set) with the commit pulled into its
 * document root and a config listening on the image config's port, in the foreground.
 */
function containerTreePipeline(it: ResolvedImageType, ref: string, input: SerializeInput, sources: SourceCollector): Pipeline {
  const dep = input.depsolved['container-tree'];
  if (!dep || dep.transactions.every((t) => t.length === 0)) {
    throw new KilnError(`image type "${it.name}": no depsolved packages for the container-tree pipeline (package set "container")`);
  }
  const srv = serverConfig(it);
  const stages: Stage[] = dep.transactions.filter((t) => t.length > 0).map((t) => rpmStage(t, dep.repos, sources));
  stages.push(localeStage(it.image_config.locale ?? 'C.UTF-8'));
  stages.push(ostreeInitStage(SERVER_REPO));
  stages.push(ostreePullStage(SERVER_REPO, ostreePipelineInput(COMMIT_PIPELINE, ref)));
  stages.push(nginxConfStage(srv.config_path, { listen: String(srv.port), root: SERVER_ROOT, daemon: false, pid: '/tmp/nginx.pid' }));
  return { name: 'container-tree', build: BUILD_REF, stages };
}

export const ostreeContainerGenerator: ImageGenerator = {
  packageSets(req: GeneratorRequest): PackageSetChains {
    const it = req.imageType;
    const set = it.package_sets['container'] ?? { include: ['nginx'], exclude: [] };
    return {
      build: [buildPackageSet(it, ['os', 'ostree-commit', 'container'])],
      [OS_PIPELINE]: commitOsChain(req),
      'container-tree': [{ include: [...set.include], exclude: [...set.exclude], installWeakDeps: true }],
    };
  },

  ostreeSource(req: GeneratorRequest) {
    return parentSource(req);
  },

  serialize(req: GeneratorRequest, input: SerializeInput): Manifest {
    const it = req.imageType;
    const ref = commitRef(req, input);
    const sources = new SourceCollector(req.useLibrepo);
    const rng = new Rng(req.seed);
    const srv = serverConfig(it);
    const pipelines: Pipeline[] = [
      buildPipeline(it, input.depsolved['build'], sources),
      commitOsPipeline(req, input, sources, rng),
      commitPipeline(it, ref, input.commit),
      containerTreePipeline(it, ref, input, sources),
      {
        name: 'container',
        build: BUILD_REF,
        stages: [
          ociArchiveLayeredStage({
            architecture: ociArch(it.arch),
            filename: it.filename,
            base: 'container-tree',
            config: { Cmd: ['nginx', '-c', srv.config_path], ExposedPorts: [String(srv.port)] },
          }),
        ],
      },
    ];
    return { version: '2', pipelines, sources: sources.toJSON() };
  },
};
