// Typed builders for the osbuild stages, inputs and mounts that only the ostree and installer
// generators use: org.osbuild.ostree.*, the anaconda/lorax/dracut installer stages, ISO assembly
// (grub2.iso, squashfs/erofs, xorrisofs, implantisomd5), kickstart, ignition, FDO, bootc and OCI
// archive. Options follow the schemas in reference/osbuild-schemas; optional keys are omitted when
// unset so the JSON stays minimal and deterministic.
import { compact as clean, treeInput, type UserOptions } from './stages.js';
import type { Input, Mount, Stage } from './types.js';

// ---------------------------------------------------------------------------------------------
// inputs and mounts

/** `org.osbuild.ostree` input: a commit from the ostree source (resolved at manifest time). */
export function ostreeSourceInput(checksum: string, ref: string): Input {
  return { type: 'org.osbuild.ostree', origin: 'org.osbuild.source', references: { [checksum]: { ref } } };
}

/** `org.osbuild.ostree` input: the commit an earlier pipeline (e.g. `ostree-commit`) made. */
export function ostreePipelineInput(pipeline: string, ref: string): Input {
  return { type: 'org.osbuild.ostree', origin: 'org.osbuild.pipeline', references: { [`name:${pipeline}`]: { ref } } };
}

/** `org.osbuild.ostree.checkout` input: a checkout of a source commit (for copying files out of it). */
export function ostreeCheckoutInput(checksum: string): Input {
  return { type: 'org.osbuild.ostree.checkout', origin: 'org.osbuild.source', references: [checksum] };
}

export interface Deployment {
  osname: string;
  ref: string;
  serial?: number;
}

/** The mount that makes a stage see the deployment's root (instead of the sysroot) as its tree. */
export function ostreeDeploymentMount(d: Deployment): Mount {
  return {
    name: `ostree-${d.ref}`,
    type: 'org.osbuild.ostree.deployment',
    options: { deployment: { osname: d.osname, ref: d.ref, serial: d.serial ?? 0 } },
  };
}

/** Attach the deployment mount to a stage built for a plain tree. */
export function inDeployment(stage: Stage, d: Deployment): Stage {
  return { ...stage, mounts: [...(stage.mounts ?? []), ostreeDeploymentMount(d)] };
}

// ---------------------------------------------------------------------------------------------
// org.osbuild.ostree.*

export function ostreeInitStage(path: string, mode?: 'archive' | 'bare' | 'bare-user' | 'bare-user-only'): Stage {
  return { type: 'org.osbuild.ostree.init', options: clean({ mode, path }) };
}

export function ostreeCommitStage(o: { ref: string; osVersion?: string; parent?: string; treePipeline: string }): Stage {
  return {
    type: 'org.osbuild.ostree.commit',
    options: clean({ ref: o.ref, os_version: o.osVersion, parent: o.parent }),
    inputs: { tree: treeInput(o.treePipeline) },
  };
}

/** Copy /etc/passwd and /etc/group of the parent commit so uids/gids stay stable across commits. */
export function ostreePasswdStage(checksum: string, ref: string): Stage {
  return { type: 'org.osbuild.ostree.passwd', options: {}, inputs: { commits: ostreeSourceInput(checksum, ref) } };
}

export function ostreePreptreeStage(o: { etcGroupMembers?: string[]; initramfsArgs?: string[] }): Stage {
  return {
    type: 'org.osbuild.ostree.preptree',
    options: clean({ etc_group_members: o.etcGroupMembers, 'initramfs-args': o.initramfsArgs }),
  };
}

export function ostreeInitFsStage(): Stage {
  return { type: 'org.osbuild.ostree.init-fs' };
}

export function ostreeOsInitStage(osname: string): Stage {
  return { type: 'org.osbuild.ostree.os-init', options: { osname } };
}

export function ostreePullStage(repo: string, commits: Input, remote?: string): Stage {
  return { type: 'org.osbuild.ostree.pull', options: clean({ repo, remote }), inputs: { commits } };
}

export function ostreeDeployStage(o: {
  osname: string;
  ref: string;
  remote?: string;
  mounts: string[];
  rootfs: { label: string } | { uuid: string };
  kernelOpts: string[];
}): Stage {
  // No `commits` input: the preceding ostree.pull stage put the commit into the sysroot's repo,
  // and osbuild refuses a deploy stage that has both an input and a ref (reference §5.4 lists
  // only options for this stage).
  return {
    type: 'org.osbuild.ostree.deploy',
    options: clean({
      osname: o.osname,
      ref: o.ref,
      remote: o.remote,
      mounts: o.mounts,
      rootfs: o.rootfs,
      kernel_opts: o.kernelOpts,
    }),
  };
}

export function ostreeRemotesStage(repo: string, remotes: { name: string; url: string; contenturl?: string; gpgkeys?: string[] }[]): Stage {
  return { type: 'org.osbuild.ostree.remotes', options: { repo, remotes: remotes.map((r) => clean({ ...r })) } };
}

export function ostreeFillvarStage(d: Deployment): Stage {
  return { type: 'org.osbuild.ostree.fillvar', options: { deployment: { osname: d.osname, ref: d.ref } } };
}

export function ostreeConfigStage(repo: string, sysroot: { readonly?: boolean; bootloader?: string; bootprefix?: boolean }): Stage {
  return { type: 'org.osbuild.ostree.config', options: { repo, config: { sysroot: clean({ ...sysroot }) } } };
}

export function ostreeSelinuxStage(d: Deployment): Stage {
  return { type: 'org.osbuild.ostree.selinux', options: { deployment: { osname: d.osname, ref: d.ref } } };
}

/** Wrap a commit into an ostree-native container (bootable container) archive. */
export function ostreeEncapsulateStage(o: { filename: string; commitPipeline: string; ref: string; cmd?: string[] }): Stage {
  return {
    type: 'org.osbuild.ostree.encapsulate',
    options: clean({ filename: o.filename, cmd: o.cmd }),
    inputs: { commit: ostreePipelineInput(o.commitPipeline, o.ref) },
  };
}

// ---------------------------------------------------------------------------------------------
// OS-tree stages used by the commit generators

export function bootupdGenMetadataStage(): Stage {
  return { type: 'org.osbuild.bootupd.gen-metadata', options: {} };
}

export function ignitionStage(network?: string[]): Stage {
  return { type: 'org.osbuild.ignition', options: clean({ network }) };
}

/** FDO: install the DIUN root certificates (an inline source file) into the installer tree. */
export function fdoStage(rootCertsInput: Input): Stage {
  return { type: 'org.osbuild.fdo', options: {}, inputs: { rootcerts: rootCertsInput } };
}

export function bootcInstallConfigStage(filename: string, rootFsType: string, kargs?: string[]): Stage {
  return {
    type: 'org.osbuild.bootc.install.config',
    options: { filename, config: { install: clean({ filesystem: { root: { type: rootFsType } }, kargs }) } },
  };
}

export function nginxConfStage(path: string, config: { listen?: string; root?: string; pid?: string; daemon?: boolean }): Stage {
  return { type: 'org.osbuild.nginx.conf', options: { path, config: clean({ ...config }) } };
}

export function ociArchiveLayeredStage(o: {
  architecture: string;
  filename: string;
  base: string;
  layers?: string[];
  config?: Record<string, unknown>;
  annotations?: Record<string, string>;
}): Stage {
  const inputs: Record<string, Input> = { base: treeInput(o.base) };
  (o.layers ?? []).forEach((p, i) => (inputs[`layer.${i + 1}`] = treeInput(p)));
  return {
    type: 'org.osbuild.oci-archive',
    options: clean({ architecture: o.architecture, filename: o.filename, config: o.config, annotations: o.annotations }),
    inputs,
  };
}

/** OCI architecture name for an RPM arch. */
export function ociArch(arch: string): string {
  return ({ x86_64: 'amd64', aarch64: 'arm64', ppc64le: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' } as Record<string, string>)[arch] ?? arch;
}

// ---------------------------------------------------------------------------------------------
// installer (anaconda / coreos-installer) tree stages

export function buildstampStage(o: { arch: string; product: string; version: string; final: boolean; variant?: string; bugurl?: string }): Stage {
  return {
    type: 'org.osbuild.buildstamp',
    options: clean({ arch: o.arch, product: o.product, version: o.version, final: o.final, variant: o.variant, bugurl: o.bugurl }),
  };
}

export function anacondaStage(o: { kickstartModules?: string[]; activatableModules?: string[]; forbiddenModules?: string[]; optionalModules?: string[] }): Stage {
  return {
    type: 'org.osbuild.anaconda',
    options: clean({
      'kickstart-modules': o.kickstartModules,
      'activatable-modules': o.activatableModules,
      'forbidden-modules': o.forbiddenModules,
      'optional-modules': o.optionalModules,
    }),
  };
}

export function loraxScriptStage(o: { path: string; basearch: string; product?: { name: string; version: string }; branding?: { release?: string; logos?: string } }): Stage {
  return { type: 'org.osbuild.lorax-script', options: clean({ path: o.path, basearch: o.basearch, product: o.product, branding: o.branding }) };
}

export function dracutStage(o: {
  kernel: string[];
  addModules?: string[];
  modules?: string[];
  omitModules?: string[];
  addDrivers?: string[];
  install?: string[];
  earlyMicrocode?: boolean;
  extra?: string[];
}): Stage {
  return {
    type: 'org.osbuild.dracut',
    options: clean({
      kernel: o.kernel,
      modules: o.modules,
      add_modules: o.addModules,
      omit_modules: o.omitModules,
      add_drivers: o.addDrivers,
      install: o.install,
      early_microcode: o.earlyMicrocode,
      extra: o.extra,
    }),
  };
}

export function selinuxConfigStage(state: 'enforcing' | 'permissive' | 'disabled', type?: 'targeted' | 'minimum' | 'mls'): Stage {
  return { type: 'org.osbuild.selinux.config', options: clean({ state, type }) };
}

// ---------------------------------------------------------------------------------------------
// ISO assembly

export interface IsoKernel {
  dir: string;
  opts?: string[];
}

export function grub2IsoStage(o: {
  product: { name: string; version: string };
  kernel: IsoKernel;
  isolabel: string;
  architectures: string[];
  vendor: string;
  fips?: boolean;
  config?: { timeout?: number; default?: number };
}): Stage {
  return {
    type: 'org.osbuild.grub2.iso',
    options: clean({
      product: o.product,
      kernel: clean({ dir: o.kernel.dir, opts: o.kernel.opts }),
      isolabel: o.isolabel,
      architectures: o.architectures,
      vendor: o.vendor,
      fips: o.fips,
      config: o.config,
    }),
  };
}

export function grub2IsoLegacyStage(o: {
  product: { name: string; version: string };
  kernel: IsoKernel;
  isolabel: string;
  fips?: boolean;
  config?: { timeout?: number; default?: number };
}): Stage {
  return {
    type: 'org.osbuild.grub2.iso.legacy',
    options: clean({ product: o.product, kernel: clean({ dir: o.kernel.dir, opts: o.kernel.opts }), isolabel: o.isolabel, fips: o.fips, config: o.config }),
  };
}

/** grub2.inst for an ISO: the BIOS El Torito image with its config on the iso9660 filesystem. */
export function grub2InstIsoStage(filename: string, prefixPath: string): Stage {
  return {
    type: 'org.osbuild.grub2.inst',
    options: {
      filename,
      platform: 'i386-pc',
      core: { type: 'mkimage', partlabel: 'gpt', filesystem: 'iso9660' },
      prefix: { path: prefixPath },
    },
  };
}

export function squashfsStage(filename: string, treePipeline: string, method: 'gzip' | 'lz4' | 'xz' | 'zstd', bcj?: string): Stage {
  return {
    type: 'org.osbuild.squashfs',
    options: { filename, compression: clean({ method, options: bcj ? { bcj } : undefined }) },
    inputs: { tree: treeInput(treePipeline) },
  };
}

export function erofsStage(filename: string, treePipeline: string, o: { method: string; level?: number; options?: string[]; clusterSize?: number }): Stage {
  return {
    type: 'org.osbuild.erofs',
    options: clean({
      filename,
      compression: clean({ method: o.method, level: o.level }),
      options: o.options,
      'cluster-size': o.clusterSize,
    }),
    inputs: { tree: treeInput(treePipeline) },
  };
}

/** Kickstart users take the users stage's fields except expiredate. */
export type KickstartUser = Omit<UserOptions, 'expiredate'>;

export function kickstartStage(o: {
  path: string;
  ostree?: { osname: string; url: string; ref: string; remote?: string; gpg?: boolean };
  users?: Record<string, KickstartUser>;
  groups?: Record<string, { gid?: number }>;
}): Stage {
  // users come in the org.osbuild.users shape, possibly with unset (undefined) fields
  const users = o.users && Object.keys(o.users).length ? Object.fromEntries(Object.entries(o.users).map(([n, u]) => [n, clean({ ...u })])) : undefined;
  const groups = o.groups && Object.keys(o.groups).length ? o.groups : undefined;
  return { type: 'org.osbuild.kickstart', options: clean({ path: o.path, ostree: o.ostree ? clean({ ...o.ostree }) : undefined, users, groups }) };
}

export function discinfoStage(basearch: string, release: string): Stage {
  return { type: 'org.osbuild.discinfo', options: { basearch, release } };
}

export function xorrisofsStage(o: {
  filename: string;
  volid: string;
  sysid?: string;
  pub?: string;
  prep?: string;
  isolevel?: number;
  efi?: string;
  boot?: { image: string; catalog: string };
  grub2mbr?: string;
  isohybridmbr?: string;
  treePipeline: string;
}): Stage {
  return {
    type: 'org.osbuild.xorrisofs',
    options: clean({
      filename: o.filename,
      volid: o.volid,
      sysid: o.sysid,
      pub: o.pub,
      prep: o.prep,
      boot: o.boot,
      efi: o.efi,
      grub2mbr: o.grub2mbr,
      isohybridmbr: o.isohybridmbr,
      isolevel: o.isolevel,
    }),
    inputs: { tree: treeInput(o.treePipeline) },
  };
}

export function implantisomd5Stage(filename: string): Stage {
  return { type: 'org.osbuild.implantisomd5', options: { filename } };
}

// ---------------------------------------------------------------------------------------------
// LUKS2 + LVM (the simplified installer's encrypted root)

export function luks2FormatStage(o: {
  passphrase: string;
  uuid: string;
  label?: string;
  cipher?: string;
  pbkdf: { method: 'argon2i' | 'argon2id' | 'pbkdf2'; memory?: number; iterations: number; parallelism?: number };
}): Stage {
  return {
    type: 'org.osbuild.luks2.format',
    options: clean({ passphrase: o.passphrase, uuid: o.uuid, label: o.label, cipher: o.cipher, pbkdf: clean({ ...o.pbkdf }) }),
  };
}

export function lvm2CreateStage(volumes: ({ name: string; size: string } | { name: string; extents: string })[]): Stage {
  return { type: 'org.osbuild.lvm2.create', options: { volumes } };
}

export function lvm2MetadataStage(vgName: string, creationHost?: string, description?: string): Stage {
  return { type: 'org.osbuild.lvm2.metadata', options: clean({ vg_name: vgName, creation_host: creationHost, description }) };
}

export function clevisLuksBindStage(o: { passphrase: string; pin: string; policy: string }): Stage {
  return { type: 'org.osbuild.clevis.luks-bind', options: { passphrase: o.passphrase, pin: o.pin, policy: o.policy } };
}

export function luks2RemoveKeyStage(passphrase: string): Stage {
  return { type: 'org.osbuild.luks2.remove-key', options: { passphrase } };
}

// ---------------------------------------------------------------------------------------------
// EFI boot image of an ISO

export const EFIBOOT_IMG = 'images/efiboot.img';
/** Size of the FAT image holding the EFI boot tree (shim + grub + config fit comfortably). */
export const EFIBOOT_SIZE = 20 * 1024 * 1024;

/**
 * The ISO's EFI boot: a FAT image (`images/efiboot.img`) holding the `efiboot-tree` pipeline,
 * and the same EFI/ directory copied into the ISO root (for firmware that reads it from there).
 */
export function efibootImageStages(efibootPipeline: string, volid: string, label = 'ANACONDA'): Stage[] {
  const loop = { type: 'org.osbuild.loopback', options: { filename: EFIBOOT_IMG, size: EFIBOOT_SIZE / 512 } };
  return [
    { type: 'org.osbuild.truncate', options: { filename: EFIBOOT_IMG, size: String(EFIBOOT_SIZE) } },
    { type: 'org.osbuild.mkfs.fat', options: { volid, label }, devices: { device: { ...loop, options: { ...loop.options, lock: true } } } },
    {
      type: 'org.osbuild.copy',
      options: { paths: [{ from: 'input://root-tree/', to: 'mount://-/' }] },
      inputs: { 'root-tree': treeInput(efibootPipeline) },
      devices: { '-': loop },
      mounts: [{ name: '-', type: 'org.osbuild.fat', source: '-', target: '/' }],
    },
    {
      type: 'org.osbuild.copy',
      options: { paths: [{ from: 'input://root-tree/EFI', to: 'tree:///' }] },
      inputs: { 'root-tree': treeInput(efibootPipeline) },
    },
  ];
}

/** squashfs BCJ filter for an arch (better compression of executables), if it has one. */
export function bcjFilter(arch: string): string | undefined {
  return ({ x86_64: 'x86', aarch64: 'arm', ppc64le: 'powerpc' } as Record<string, string>)[arch];
}

/** grub2.iso architecture names (EFI binary suffixes) for an arch. */
export function efiArchitectures(arch: string, extra: string[] = []): string[] {
  const main = ({ x86_64: 'X64', aarch64: 'AA64', riscv64: 'RISCV64' } as Record<string, string>)[arch];
  return [...(main ? [main] : []), ...extra.map((e) => e.toUpperCase())];
}
