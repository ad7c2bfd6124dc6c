// Facts about productmd image types/formats and how a produced file name maps onto them.
//
// The type -> formats table is productmd 1.2's IMAGE_TYPE_FORMAT_MAPPING (productmd/images.py,
// release-engineering/productmd 2a28dec). productmd validates `type` and `format` each against
// its own flat list (SUPPORTED_IMAGE_TYPES / SUPPORTED_IMAGE_FORMATS); the mapping documents
// intent and is not cross-checked, so neither do we (Pungi sets type `boot`/`dvd-ostree-osbuild`
// for `.iso` files regardless).
//
// The suffix table is Pungi's imagebuilder phase: its own image-builder specific suffixes first
// (so `oci.tar.xz` wins over `tar.xz`), then the image_build phase's EXTENSIONS in dict order.
// A file matching neither (manifests, SBOMs, `.raw.zst`, ostree commit tarballs) is not an
// image productmd can describe and is not listed in images.json.

export const IMAGE_TYPE_FORMAT_MAPPING: Readonly<Record<string, readonly string[]>> = Object.freeze({
  appx: ['appx'],
  boot: ['iso'],
  'bootable-container': ['ociarchive'],
  cd: ['iso'],
  container: ['tar.xz', 'oci', 'ociarchive'],
  docker: ['tar.gz', 'tar.xz'],
  dvd: ['iso'],
  'dvd-debuginfo': ['iso'],
  'dvd-ostree': ['iso'],
  'dvd-ostree-osbuild': ['iso'],
  ec2: [],
  fex: ['erofs.xz', 'erofs.gz', 'erofs', 'squashfs.xz', 'squashfs.gz', 'squashfs'],
  kvm: [],
  live: [],
  'live-osbuild': ['iso'],
  'liveimg-squashfs': ['liveimg.squashfs'],
  netinst: ['iso'],
  ociarchive: ['ociarchive'],
  p2v: [],
  qcow: ['qcow'],
  qcow2: ['qcow2'],
  raw: ['raw'],
  'raw-xz': ['raw.xz'],
  rescue: [],
  'rhevm-ova': ['rhevm.ova'],
  'tar-gz': ['tar.gz'],
  'vagrant-hyperv': ['vagrant-hyperv.box'],
  'vagrant-libvirt': ['vagrant-libvirt.box'],
  'vagrant-virtualbox': ['vagrant-virtualbox.box'],
  'vagrant-vmware-fusion': ['vagrant-vmware-fusion.box'],
  vdi: ['vdi'],
  vmdk: ['vmdk'],
  vpc: ['vhd'],
  'vhd-compressed': ['vhd.gz', 'vhd.xz', 'vhdfixed.xz'],
  'vsphere-ova': ['vsphere.ova'],
  wsl2: ['tar', 'tar.gz', 'wsl'],
});

/** productmd SUPPORTED_IMAGE_TYPES: sorted keys of the mapping. */
export const SUPPORTED_IMAGE_TYPES: readonly string[] = Object.freeze(Object.keys(IMAGE_TYPE_FORMAT_MAPPING).sort());

/** productmd SUPPORTED_IMAGE_FORMATS: sorted union of the mapping's formats. */
export const SUPPORTED_IMAGE_FORMATS: readonly string[] = Object.freeze(
  [...new Set(Object.values(IMAGE_TYPE_FORMAT_MAPPING).flat())].sort(),
);

interface SuffixRule {
  type: string;
  suffixes: readonly string[];
  /** fixed format; when absent the matched suffix is the format */
  format?: string;
}

/** Pungi imagebuilder phase: image-builder specific suffixes, checked first, in order. */
const IMAGEBUILDER_SUFFIXES: readonly SuffixRule[] = [
  { type: 'vagrant-libvirt', suffixes: ['vagrant.libvirt.box'], format: 'vagrant-libvirt.box' },
  { type: 'vagrant-virtualbox', suffixes: ['vagrant.virtualbox.box'], format: 'vagrant-virtualbox.box' },
  { type: 'container', suffixes: ['oci.tar.xz'], format: 'tar.xz' },
  { type: 'wsl2', suffixes: ['wsl'], format: 'wsl' },
  // An ISO could be boot, cd, dvd, live...; `boot` is the default guess, `manifest_type` overrides.
  { type: 'boot', suffixes: ['.iso'], format: 'iso' },
];

/** Pungi image_build EXTENSIONS (pungi 1494f20; dict order matters: `.tar.gz` maps to docker). */
const IMAGE_BUILD_EXTENSIONS: readonly SuffixRule[] = [
  { type: 'docker', suffixes: ['tar.gz', 'tar.xz'] },
  { type: 'iso', suffixes: ['iso'] },
  { type: 'liveimg-squashfs', suffixes: ['liveimg.squashfs'] },
  { type: 'qcow', suffixes: ['qcow'] },
  { type: 'qcow2', suffixes: ['qcow2'] },
  { type: 'raw', suffixes: ['raw'] },
  { type: 'raw-xz', suffixes: ['raw.xz'] },
  { type: 'rhevm-ova', suffixes: ['rhevm.ova'] },
  { type: 'tar-gz', suffixes: ['tar.gz'] },
  { type: 'vagrant-hyperv', suffixes: ['vagrant-hyperv.box'] },
  { type: 'vagrant-libvirt', suffixes: ['vagrant-libvirt.box', 'vagrant.libvirt.box'] },
  { type: 'vagrant-virtualbox', suffixes: ['vagrant-virtualbox.box', 'vagrant.virtualbox.box'] },
  { type: 'vagrant-vmware-fusion', suffixes: ['vagrant-vmware-fusion.box'] },
  { type: 'vdi', suffixes: ['vdi'] },
  { type: 'vmdk', suffixes: ['vmdk'] },
  // `vhdfixed` is not a productmd format: such a file is refused when images.json is written.
  { type: 'vpc', suffixes: ['vhd', 'vhdfixed'] },
  { type: 'vhd-compressed', suffixes: ['vhd.gz', 'vhd.xz'] },
  { type: 'vsphere-ova', suffixes: ['vsphere.ova'] },
];

export interface TypeAndFormat {
  type: string;
  format: string;
}

/**
 * productmd type and format for a produced file, by suffix, the way Pungi's imagebuilder phase
 * decides; undefined when the file is not an image productmd knows (it is then not collected).
 */
export function findTypeAndFormat(fileName: string): TypeAndFormat | undefined {
  for (const r of IMAGEBUILDER_SUFFIXES) {
    const s = r.suffixes.find((x) => fileName.endsWith(x));
    if (s !== undefined) return { type: r.type, format: r.format ?? s };
  }
  for (const r of IMAGE_BUILD_EXTENSIONS) {
    const s = r.suffixes.find((x) => fileName.endsWith(x));
    if (s !== undefined) return { type: r.type, format: r.format ?? s };
  }
  return undefined;
}

/** ISOs go to `iso/` and are bootable; everything else goes to `images/`. */
export function isIsoFormat(format: string): boolean {
  return format === 'iso';
}

/** productmd RPM_ARCHES (common.py); images.add rejects arches outside it. */
export const RPM_ARCHES: readonly string[] = Object.freeze([
  'aarch64', 'alpha', 'alphaev4', 'alphaev45', 'alphaev5', 'alphaev56', 'alphaev6', 'alphaev67', 'alphaev68', 'alphaev7',
  'alphapca56', 'amd64', 'arm64', 'armhfp', 'armv5tejl', 'armv5tel', 'armv5tl', 'armv6hl', 'armv6l', 'armv7hl', 'armv7hnl',
  'armv7l', 'armv8hl', 'armv8l', 'athlon', 'geode', 'i386', 'i486', 'i586', 'i686', 'ia32e', 'ia64', 'loongarch64', 'mips',
  'mips64', 'mips64el', 'mipsel', 'ppc', 'ppc64', 'ppc64iseries', 'ppc64le', 'ppc64p7', 'ppc64pseries', 'riscv128', 'riscv32',
  'riscv64', 's390', 's390x', 'sh3', 'sh4', 'sh4a', 'sparc', 'sparc64', 'sparc64v', 'sparcv8', 'sparcv9', 'sparcv9v', 'x86_64',
  'src', 'nosrc', 'noarch',
]);

/** Arches a compose variant can build images for: RPM_ARCHES minus src/nosrc (refused by
 * productmd for images) and noarch (not a machine). */
export const COMPOSE_ARCHES: readonly string[] = Object.freeze(RPM_ARCHES.filter((a) => a !== 'src' && a !== 'nosrc' && a !== 'noarch'));
