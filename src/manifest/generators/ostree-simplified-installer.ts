// image_func `ostree_simplified_installer` (iot-simplified-installer): a coreos-installer ISO that
// writes a ready-made, LUKS2-encrypted ostree disk image (image.raw.xz) to the blueprint's
// `installation_device`, optionally onboarding through FDO. Pipelines: build, ostree-deployment,
// image, xz (the payload, as for iot-raw-xz), coi-tree (a kernel + initramfs with
// coreos-installer), efiboot-tree, bootiso-tree, bootiso.
// The installer's kernel options follow coreos-installer's `coreos.inst.*` interface; the exact
// upstream list is not recorded in the reference, so it is marked inferred below.
import type { Blueprint } from '../../blueprint/types.js';
import type { ResolvedImageType } from '../../defs/types.js';
import { KilnError } from '../../util/errors.js';
import { BUILD_REF, buildPackageSet, buildPipeline } from '../build-pipeline.js';
import { kernelName, kernelVersion } from '../os-pipeline.js';
import { buildstampStage, dracutStage, efibootImageStages, fdoStage } from '../ostree-stages.js';
import { Rng, uuid4, vfatVolid, vfatVolumeId } from '../rng.js';
import { SourceCollector } from '../sources.js';
import { copyStage, localeStage, pipelineFileInput, rpmStage, xzStage } from '../stages.js';
import type { GeneratorRequest, ImageGenerator, Input, Manifest, PackageSetChains, Pipeline, SerializeInput, Stage } from '../types.js';
import { cfgList, deploymentSource, isoLabel, requireCommit } from './ostree-common.js';
import { DEPLOYMENT_PIPELINE, DISK_FILE, IMAGE_PIPELINE, layoutFor, ostreeDeploymentPipeline, ostreeDiskBuildPackages, ostreeImagePipeline } from './ostree-disk.js';
import { bootisoPipeline, BOOTISO_TREE_PIPELINE, efibootTreePipeline, isoBootPackages, pxebootStages, type IsoBoot } from './ostree-installer.js';

const COI_PIPELINE = 'coi-tree';
/** The compressed disk image inside the ISO. */
const PAYLOAD = 'image.raw.xz';
/** Where the initramfs mounts the ISO (coreos-installer-dracut). */
const ISO_MOUNT = '/run/media/iso';
const FDO_ROOT_CERTS = '/fdo_diun_pub_key_root_certs.pem';
const IGNITION_FILE = 'ignition_config';

function uniq(xs: string[]): string[] {
  return [...new Set(xs)];
}

/** installation_device is mandatory; FDO needs a server URL and exactly one DIUN key option. */
function checkCustomizations(it: ResolvedImageType, bp: Blueprint): string {
  const c = bp.customizations;
  const dev = c.installation_device;
  if (!dev) throw new KilnError(`image type ${it.name}: blueprint customizations.installation_device is required (the disk to install to, e.g. /dev/vda)`);
  if (!dev.startsWith('/dev/')) throw new KilnError(`blueprint customizations.installation_device "${dev}" must be a device path under /dev/`);
  const fdo = c.fdo;
  if (fdo) {
    if (!fdo.manufacturing_server_url) throw new KilnError('blueprint customizations.fdo: manufacturing_server_url is required');
    const keys = [fdo.diun_pub_key_insecure, fdo.diun_pub_key_hash, fdo.diun_pub_key_root_certs].filter((x) => x !== undefined && x !== '');
    if (keys.length !== 1) {
      throw new KilnError('blueprint customizations.fdo: exactly one of diun_pub_key_insecure, diun_pub_key_hash, diun_pub_key_root_certs must be set');
    }
  }
  if (c.ignition?.embedded && c.ignition.firstboot) {
    throw new KilnError('blueprint customizations.ignition: embedded and firstboot cannot both be set');
  }
  return dev;
}

/** coreos-installer (and FDO) kernel options of the installer ISO (inferred, see header). */
function installerKernelOpts(bp: Blueprint, label: string, device: string): string[] {
  const opts = [
    'rd.neednet=1',
    'coreos.inst.crypt_root=1',
    `coreos.inst.isoroot=${label}`,
    `coreos.inst.install_dev=${device}`,
    `coreos.inst.image_file=${ISO_MOUNT}/${PAYLOAD}`,
    'coreos.inst.insecure',
  ];
  const fdo = bp.customizations.fdo;
  if (fdo) {
    opts.push(`fdo.manufacturing_server_url=${fdo.manufacturing_server_url}`);
    if (fdo.diun_pub_key_insecure) opts.push('fdo.diun_pub_key_insecure=true');
    if (fdo.diun_pub_key_hash) opts.push(`fdo.diun_pub_key_hash=${fdo.diun_pub_key_hash}`);
    if (fdo.diun_pub_key_root_certs) opts.push(`fdo.diun_pub_key_root_certs=${FDO_ROOT_CERTS}`);
    if (fdo.di_mfg_string_type_mac_iface) opts.push(`fdo.di_mfg_string_type_mac_iface=${fdo.di_mfg_string_type_mac_iface}`);
  }
  if (bp.customizations.ignition?.embedded) opts.push(`coreos.inst.ignition_url=file://${ISO_MOUNT}/${IGNITION_FILE}`);
  return opts;
}

/** The deployment gets ignition's first-boot URL on its kernel command line. */
function withFirstbootUrl(req: GeneratorRequest): GeneratorRequest {
  const url = req.blueprint.customizations.ignition?.firstboot?.url;
  if (!url) return req;
  const append = [req.blueprint.customizations.kernel?.append, `ignition.config.url=${url}`].filter(Boolean).join(' ');
  return {
    ...req,
    blueprint: { ...req.blueprint, customizations: { ...req.blueprint.customizations, kernel: { ...req.blueprint.customizations.kernel, append } } },
  };
}

/** `coi-tree`: kernel + an initramfs with coreos-installer (and FDO's client) in it. */
function coiTreePipeline(req: GeneratorRequest, input: SerializeInput, sources: SourceCollector, kver: string): Pipeline {
  const it = req.imageType;
  const dep = input.depsolved[COI_PIPELINE]!;
  const stages: Stage[] = dep.transactions.filter((t) => t.length > 0).map((t) => rpmStage(t, dep.repos, sources));
  stages.push(buildstampStage({ arch: it.arch, product: it.distro.product, version: it.distro.os_version, final: !it.distro.preview, variant: it.variant }));
  stages.push(localeStage('C.UTF-8'));
  const certs = req.blueprint.customizations.fdo?.diun_pub_key_root_certs;
  if (certs) {
    const id = sources.addInline(certs);
    const rootcerts: Input = { type: 'org.osbuild.files', origin: 'org.osbuild.source', references: [id] };
    stages.push(fdoStage(rootcerts));
  }
  const modules = cfgList(it.installer_config, 'dracut_modules') ?? ['coreos-installer', 'fdo'];
  stages.push(
    dracutStage({
      kernel: [kver],
      addModules: uniq(modules),
      install: certs ? [FDO_ROOT_CERTS] : undefined,
      earlyMicrocode: false,
      extra: ['--xz'],
    }),
  );
  return { name: COI_PIPELINE, build: BUILD_REF, stages };
}

export const ostreeSimplifiedInstallerGenerator: ImageGenerator = {
  packageSets(req: GeneratorRequest): PackageSetChains {
    const it = req.imageType;
    const set = it.package_sets['installer'] ?? { include: [], exclude: [] };
    const coi = uniq([...set.include, ...Object.values(it.platform.packages ?? {}).flat(), kernelName(req.blueprint)]);
    const buildExtra = [...ostreeDiskBuildPackages(it, req.blueprint), ...isoBootPackages(it), ...Object.values(it.platform.build_packages ?? {}).flat()];
    return {
      build: [buildPackageSet(it, ['ostree-deployment', 'image', 'xz', 'bootiso'], buildExtra)],
      [COI_PIPELINE]: [{ include: coi, exclude: uniq(set.exclude), installWeakDeps: true }],
    };
  },

  ostreeSource(req: GeneratorRequest) {
    return deploymentSource(req);
  },

  serialize(baseReq: GeneratorRequest, input: SerializeInput): Manifest {
    const it = baseReq.imageType;
    const device = checkCustomizations(it, baseReq.blueprint);
    const req = withFirstbootUrl(baseReq);
    const bp = req.blueprint;
    const commit = requireCommit(req, input);
    const sources = new SourceCollector(req.useLibrepo);
    const rng = new Rng(req.seed);
    const pt = layoutFor(req, rng);
    const label = isoLabel(it);

    const coiDep = input.depsolved[COI_PIPELINE];
    if (!coiDep || coiDep.transactions.every((t) => t.length === 0)) throw new KilnError(`image type "${it.name}": no depsolved packages for the ${COI_PIPELINE} pipeline`);
    const kver = kernelVersion(coiDep.transactions.flat(), kernelName(bp));
    const boot: IsoBoot = { label, kernelOpts: installerKernelOpts(bp, label, device), product: { name: it.distro.product, version: it.distro.os_version } };

    const build = buildPipeline(it, input.depsolved['build'], sources);
    const deployment = ostreeDeploymentPipeline({ req, pt, commit, sources, rng });
    const image = ostreeImagePipeline(req, pt, DEPLOYMENT_PIPELINE, commit);
    const efiVolid = vfatVolid(vfatVolumeId(uuid4(rng)));

    const treeStages: Stage[] = [
      ...pxebootStages(COI_PIPELINE, kver),
      copyStage([{ from: `input://file/${PAYLOAD}`, to: `tree:///${PAYLOAD}` }], { inputs: { file: pipelineFileInput('xz', PAYLOAD) } }),
    ];
    const embedded = bp.customizations.ignition?.embedded?.config;
    if (embedded) {
      // the blueprint carries the config base64-encoded; the ISO gets the decoded file
      const id = sources.addInline(Buffer.from(embedded, 'base64'));
      treeStages.push(
        copyStage([{ from: `input://ignition/${id}`, to: `tree:///${IGNITION_FILE}` }], {
          inputs: { ignition: { type: 'org.osbuild.files', origin: 'org.osbuild.source', references: [id] } },
        }),
      );
    }
    treeStages.push(...efibootImageStages('efiboot-tree', efiVolid));

    const pipelines: Pipeline[] = [
      build,
      deployment,
      image,
      { name: 'xz', build: BUILD_REF, stages: [xzStage(PAYLOAD, IMAGE_PIPELINE, DISK_FILE)] },
      coiTreePipeline(req, input, sources, kver),
      efibootTreePipeline(it, boot),
      { name: BOOTISO_TREE_PIPELINE, build: BUILD_REF, stages: treeStages },
      bootisoPipeline(it, label, false),
    ];
    return { version: '2', pipelines, sources: sources.toJSON() };
  },
};
