// image_func `ostree_installer` (iot-installer, atomic desktop installers): an Anaconda boot ISO
// that installs an embedded ostree commit through a generated kickstart. Pipelines (reference
// §5.5): build, anaconda-tree (the installer root filesystem), efiboot-tree (grub2 EFI tree),
// bootiso-tree (ISO contents: kernel, initrd, install.img, EFI image, the ostree repo, kickstart),
// bootiso (xorrisofs + implantisomd5). BIOS boot (x86_64 hybrid) is done with grub2's El Torito
// image inside bootiso-tree rather than a separate grub2boot-tree pipeline.
import type { ResolvedImageType } from '../../defs/types.js';
import { KilnError } from '../../util/errors.js';
import { BUILD_REF, buildPackageSet, buildPipeline } from '../build-pipeline.js';
import { blueprintUsers, kernelName, kernelVersion } from '../os-pipeline.js';
import {
  anacondaStage,
  bcjFilter,
  buildstampStage,
  discinfoStage,
  dracutStage,
  efiArchitectures,
  efibootImageStages,
  EFIBOOT_IMG,
  erofsStage,
  grub2InstIsoStage,
  grub2IsoLegacyStage,
  grub2IsoStage,
  implantisomd5Stage,
  kickstartStage,
  loraxScriptStage,
  ostreeInitStage,
  ostreePullStage,
  ostreeSourceInput,
  selinuxConfigStage,
  squashfsStage,
  xorrisofsStage,
  type KickstartUser,
} from '../ostree-stages.js';
import { Rng, uuid4, vfatVolid, vfatVolumeId } from '../rng.js';
import { SourceCollector } from '../sources.js';
import { copyStage, localeStage, mkdirStage, rpmStage, treeInput, usersStage } from '../stages.js';
import type { DepsolvedPipeline, GeneratorRequest, ImageGenerator, Manifest, PackageSetChains, Pipeline, SerializeInput, Stage } from '../types.js';
import { cfgBool, cfgList, cfgString, deploymentSource, groupsOptions, isoLabel, ostreeNames, requireCommit } from './ostree-common.js';

export const ANACONDA_PIPELINE = 'anaconda-tree';
export const EFIBOOT_PIPELINE = 'efiboot-tree';
export const BOOTISO_TREE_PIPELINE = 'bootiso-tree';
const DEFAULT_KICKSTART_PATH = '/osbuild.ks';
const ISO_REPO = '/ostree/repo';
/** Where Anaconda mounts the install medium. */
const ISO_REPO_URL = `file:///run/install/repo${ISO_REPO}`;
const ELTORITO_IMG = 'images/eltorito.img';
const GRUB2_BIOS_MBR = '/usr/lib/grub/i386-pc/boot_hybrid.img';
const PREPARER = 'image-builder - https://osbuild.org/';

/** Packages that make the installer tree bootable from an ISO, per arch (reference §4.3). */
export function isoBootPackages(it: ResolvedImageType): string[] {
  const common = ['grub2-tools', 'grub2-tools-extra', 'grub2-tools-minimal', 'efibootmgr'];
  switch (it.arch) {
    case 'x86_64':
      return [...common, 'grub2-efi-x64', 'grub2-efi-x64-cdboot', ...(isoBiosBoot(it) ? ['grub2-pc', 'grub2-pc-modules'] : []), 'shim-x64'];
    case 'aarch64':
      return [...common, 'grub2-efi-aa64-cdboot', 'grub2-efi-aa64', 'shim-aa64'];
    default:
      throw new KilnError(`image type ${it.name}: boot ISOs are not supported on ${it.arch}`);
  }
}

function uniq(xs: string[]): string[] {
  return [...new Set(xs)];
}

/** squashfs (default) or erofs (iso_config.rootfs_type) for images/install.img. */
function rootfsType(it: ResolvedImageType): 'squashfs' | 'erofs' {
  const t = cfgString(it.iso_config, 'rootfs_type') ?? 'squashfs';
  if (t !== 'squashfs' && t !== 'erofs') throw new KilnError(`image type ${it.name}: iso_config.rootfs_type "${t}" must be squashfs or erofs`);
  return t;
}

/**
 * BIOS boot from the ISO with grub2: iso_config.boot_type `grub2` (x86_64 in the definitions);
 * without a boot_type, any x86_64 platform with a BIOS platform.
 */
export function isoBiosBoot(it: ResolvedImageType): boolean {
  const t = cfgString(it.iso_config, 'boot_type');
  if (t !== undefined) {
    if (!['grub2', 'uefi', 'syslinux'].includes(t)) throw new KilnError(`image type ${it.name}: iso_config.boot_type "${t}" must be grub2 or uefi`);
    if (t === 'syslinux') throw new KilnError(`image type ${it.name}: iso_config.boot_type "syslinux" is not supported (use grub2)`);
    return t === 'grub2';
  }
  return it.arch === 'x86_64' && !!it.platform.bios_platform;
}

function kickstartPath(it: ResolvedImageType): string {
  return cfgString(it.installer_config, 'kickstart_path') ?? DEFAULT_KICKSTART_PATH;
}

/** The anaconda-tree transaction: installer set + ISO boot packages + platform packages + kernel. */
function anacondaChain(req: GeneratorRequest) {
  const it = req.imageType;
  const set = it.package_sets['installer'] ?? { include: [], exclude: [] };
  const include = uniq([
    ...set.include,
    ...isoBootPackages(it),
    ...Object.values(it.platform.packages ?? {}).flat(),
    ...(it.arch === 'x86_64' ? ['biosdevname'] : []),
    kernelName(req.blueprint),
  ]);
  const weak = cfgBool(it.installer_config, 'install_weak_deps') ?? true;
  return [{ include, exclude: uniq(set.exclude), installWeakDeps: weak }];
}

function requireDepsolved(it: ResolvedImageType, input: SerializeInput, name: string): DepsolvedPipeline {
  const d = input.depsolved[name];
  if (!d || d.transactions.every((t) => t.length === 0)) throw new KilnError(`image type "${it.name}": no depsolved packages for the ${name} pipeline`);
  return d;
}

/** The installer's root filesystem: Anaconda, its config, and an initramfs that finds the ISO. */
function anacondaTreePipeline(req: GeneratorRequest, dep: DepsolvedPipeline, sources: SourceCollector, kver: string): Pipeline {
  const it = req.imageType;
  const ic = it.installer_config;
  const stages: Stage[] = dep.transactions.filter((t) => t.length > 0).map((t) => rpmStage(t, dep.repos, sources, { excludeDocs: true }));
  stages.push(
    buildstampStage({
      arch: it.arch,
      product: it.distro.product,
      version: it.distro.os_version,
      final: !it.distro.preview,
      variant: it.variant,
    }),
  );
  stages.push(localeStage(cfgString(ic, 'locale') ?? 'en_US.UTF-8'));
  // root with an empty password for the installer console; `install` runs Anaconda on login
  stages.push(
    usersStage({
      root: { password: '' },
      install: { uid: 0, gid: 0, home: '/root', shell: '/usr/libexec/anaconda/run-anaconda', password: '' },
    }),
  );
  const modules =
    cfgList(ic, 'anaconda_modules') ??
    ['Localization', 'Network', 'Payloads', 'Runtime', 'Storage', 'Timezone', 'Users'].map((m) => `org.fedoraproject.Anaconda.Modules.${m}`);
  stages.push(anacondaStage({ activatableModules: uniq(modules) }));
  const branding = {
    release: cfgString(ic, 'lorax_release_package') ?? 'fedora-release',
    logos: cfgString(ic, 'lorax_logos_package') ?? 'fedora-logos',
  };
  const [postinstall, cleanup] = cfgList(ic, 'lorax_templates') ?? ['99-generic/runtime-postinstall.tmpl', '99-generic/runtime-cleanup.tmpl'];
  if (postinstall) stages.push(loraxScriptStage({ path: postinstall, basearch: it.arch, branding }));
  const dracutModules =
    cfgList(ic, 'dracut_modules') ??
    ['pollcdrom', 'qemu', 'qemu-net', 'net-lib', 'dbus-broker', ...(it.arch === 'x86_64' ? ['biosdevname'] : []), 'fips', 'anaconda', 'prefixdevname-tools'];
  stages.push(
    dracutStage({
      kernel: [kver],
      addModules: uniq(dracutModules),
      addDrivers: cfgList(ic, 'dracut_drivers'),
      install: ['/.buildstamp'],
      earlyMicrocode: false,
      extra: cfgList(ic, 'dracut_args') ?? ['--xz', '--nomdadmconf', '--nolvmconf'],
    }),
  );
  if (cleanup) stages.push(loraxScriptStage({ path: cleanup, basearch: it.arch, branding }));
  const selinux = cfgString(ic, 'selinux_state') ?? 'permissive';
  if (selinux !== 'enforcing' && selinux !== 'permissive' && selinux !== 'disabled') {
    throw new KilnError(`image type ${it.name}: installer_config.selinux_state "${selinux}" must be enforcing, permissive or disabled`);
  }
  stages.push(selinuxConfigStage(selinux));
  return { name: ANACONDA_PIPELINE, build: BUILD_REF, stages };
}

export interface IsoBoot {
  label: string;
  kernelOpts: string[];
  product: { name: string; version: string };
}

/** `efiboot-tree`: grub2's EFI tree for the ISO (shim + grub + grub.cfg with our kernel options). */
export function efibootTreePipeline(it: ResolvedImageType, boot: IsoBoot): Pipeline {
  // hybrid x86_64 installers also carry the 32-bit EFI loaders (shim-ia32 in the build root)
  const extra = uniq([...(it.arch === 'x86_64' && isoBiosBoot(it) ? ['IA32'] : []), ...(it.platform.extra_uefi_architectures ?? []).map((a) => a.toUpperCase())]);
  return {
    name: EFIBOOT_PIPELINE,
    build: BUILD_REF,
    stages: [
      grub2IsoStage({
        product: boot.product,
        kernel: { dir: '/images/pxeboot', opts: boot.kernelOpts },
        isolabel: boot.label,
        architectures: efiArchitectures(it.arch, extra),
        vendor: it.platform.uefi_vendor ?? 'fedora',
        config: { default: 0 },
      }),
    ],
  };
}

/** Kernel and initrd from a tree pipeline into /images/pxeboot. */
export function pxebootStages(fromPipeline: string, kver: string): Stage[] {
  return [
    mkdirStage([{ path: 'images' }, { path: 'images/pxeboot' }]),
    copyStage(
      [
        { from: `input://tree/boot/vmlinuz-${kver}`, to: 'tree:///images/pxeboot/vmlinuz' },
        { from: `input://tree/boot/initramfs-${kver}.img`, to: 'tree:///images/pxeboot/initrd.img' },
      ],
      { inputs: { tree: treeInput(fromPipeline) } },
    ),
  ];
}

/** BIOS boot from the ISO with grub2 (El Torito image + legacy grub config). */
function biosIsoStages(boot: IsoBoot): Stage[] {
  return [
    grub2IsoLegacyStage({ product: boot.product, kernel: { dir: '/images/pxeboot', opts: boot.kernelOpts }, isolabel: boot.label, config: { default: 0 } }),
    grub2InstIsoStage(ELTORITO_IMG, '/boot/grub2'),
  ];
}

/** `bootiso`: the ISO file itself. */
export function bootisoPipeline(it: ResolvedImageType, label: string, bios: boolean): Pipeline {
  const publisher = it.distro.vendor ?? `${it.distro.product} Project`;
  return {
    name: 'bootiso',
    build: BUILD_REF,
    stages: [
      xorrisofsStage({
        filename: it.filename,
        volid: label,
        sysid: 'LINUX',
        pub: publisher,
        prep: PREPARER,
        isolevel: 3,
        efi: EFIBOOT_IMG,
        ...(bios ? { boot: { image: ELTORITO_IMG, catalog: 'boot.cat' }, grub2mbr: GRUB2_BIOS_MBR } : {}),
        treePipeline: BOOTISO_TREE_PIPELINE,
      }),
      implantisomd5Stage(it.filename),
    ],
  };
}

/** Build-root packages for an installer ISO (reference §4.6). */
function installerBuildPackages(it: ResolvedImageType, erofs: boolean): string[] {
  const lorax = cfgString(it.installer_config, 'lorax_template_package') ?? 'lorax-templates-generic';
  const extra = [...isoBootPackages(it), 'rpm', 'shadow-utils', lorax, 'isomd5sum', 'xorriso', 'rpm-ostree'];
  extra.push(...Object.values(it.platform.build_packages ?? {}).flat());
  extra.push(erofs ? 'erofs-utils' : 'squashfs-tools');
  if (isoBiosBoot(it)) extra.push('grub2-pc-modules');
  return extra;
}

export const ostreeInstallerGenerator: ImageGenerator = {
  packageSets(req: GeneratorRequest): PackageSetChains {
    const it = req.imageType;
    return {
      build: [buildPackageSet(it, ['bootiso'], installerBuildPackages(it, rootfsType(it) === 'erofs'))],
      [ANACONDA_PIPELINE]: anacondaChain(req),
    };
  },

  ostreeSource(req: GeneratorRequest) {
    return deploymentSource(req);
  },

  serialize(req: GeneratorRequest, input: SerializeInput): Manifest {
    const it = req.imageType;
    const bp = req.blueprint;
    const commit = requireCommit(req, input);
    const sources = new SourceCollector(req.useLibrepo);
    const rng = new Rng(req.seed);
    const { osname, remote } = ostreeNames(it);
    const label = isoLabel(it);
    const bios = isoBiosBoot(it);
    const ksPath = kickstartPath(it);

    const dep = requireDepsolved(it, input, ANACONDA_PIPELINE);
    const kver = kernelVersion(dep.transactions.flat(), kernelName(bp));
    const kernelOpts = [`inst.ks=hd:LABEL=${label}:${ksPath}`];
    if (it.platform.fips_menu) kernelOpts.push('fips=1');
    const boot: IsoBoot = { label, kernelOpts, product: { name: it.distro.product, version: it.distro.os_version } };

    // The commit goes into the ISO as a local repository the kickstart installs from.
    sources.addOstreeCommit(commit.checksum, { url: commit.url });
    const efiVolid = vfatVolid(vfatVolumeId(uuid4(rng)));
    const users: Record<string, KickstartUser> = blueprintUsers(bp, rng);
    const treeStages: Stage[] = [...pxebootStages(ANACONDA_PIPELINE, kver)];
    if (rootfsType(it) === 'erofs') {
      treeStages.push(erofsStage('images/install.img', ANACONDA_PIPELINE, { method: 'lzma', level: 6, options: ['fragments'], clusterSize: 1024 * 1024 }));
    } else {
      treeStages.push(squashfsStage('images/install.img', ANACONDA_PIPELINE, 'xz', bcjFilter(it.arch)));
    }
    if (bios) treeStages.push(...biosIsoStages(boot));
    treeStages.push(...efibootImageStages(EFIBOOT_PIPELINE, efiVolid));
    treeStages.push(ostreeInitStage(ISO_REPO), ostreePullStage(ISO_REPO, ostreeSourceInput(commit.checksum, commit.ref)));
    treeStages.push(
      kickstartStage({
        path: ksPath,
        ostree: { osname, url: ISO_REPO_URL, ref: commit.ref, remote, gpg: false },
        users,
        groups: groupsOptions(bp),
      }),
    );
    treeStages.push(discinfoStage(it.arch, `${it.distro.product} ${it.distro.os_version}`));

    const pipelines: Pipeline[] = [
      buildPipeline(it, input.depsolved['build'], sources),
      anacondaTreePipeline(req, dep, sources, kver),
      efibootTreePipeline(it, boot),
      { name: BOOTISO_TREE_PIPELINE, build: BUILD_REF, stages: treeStages },
      bootisoPipeline(it, label, bios),
    ];
    return { version: '2', pipelines, sources: sources.toJSON() };
  },
};
