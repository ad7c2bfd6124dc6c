// Fixture image types (Fedora 42 IoT family, from the reference §3–§5) and fixture depsolve
// results for the ostree generator tests. Built by hand so the tests do not depend on the
// definitions loader.
import { createHash } from 'node:crypto';
import type { Blueprint } from '../src/blueprint/types.js';
import type { DistroInfo, PartitionTable, Platform, ResolvedImageType } from '../src/defs/types.js';
import type { DepsolvedPipeline, GeneratorRequest, PackageSetChains, ResolvedCommit } from '../src/manifest/types.js';
import type { LoadedRepo, RepoConfig } from '../src/repo/types.js';
import type { Package } from '../src/rpm/types.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

export const distro42: DistroInfo = {
  name: 'fedora-42',
  distro_like: 'fedora',
  product: 'Fedora',
  major_version: 42,
  os_version: '42',
  release_version: '42',
  module_platform_id: 'platform:f42',
  preview: false,
  runner: 'org.osbuild.fedora42',
  runner_build_packages: ['glibc', 'systemd', 'python3'],
  iso_label_tmpl: '{{.Product}}-{{.Distro.MajorVersion}}-{{.ISOLabel}}-{{.Arch}}',
  default_fs_type: 'ext4',
};

export type Arch = 'x86_64' | 'aarch64';

function platform(arch: Arch, installer = false): Platform {
  if (arch === 'x86_64') {
    return {
      arch,
      uefi_vendor: 'fedora',
      ...(installer ? { bios_platform: 'i386-pc' } : {}),
      packages: {
        uefi: ['dracut-config-generic', 'efibootmgr', 'grub2-efi-x64', 'shim-x64'],
        ...(installer ? { bios: ['dracut-config-generic', 'grub2-pc'] } : {}),
      },
      build_packages: installer ? { bios: ['grub2-pc'], booting: ['shim-ia32', 'grub2-efi-ia32', 'grub2-efi-ia32-cdboot'] } : {},
      bootloader: 'grub2',
    };
  }
  return {
    arch,
    uefi_vendor: 'fedora',
    packages: {
      uefi: ['dracut-config-generic', 'efibootmgr', 'grub2-efi-aa64', 'grub2-tools', 'shim-aa64'],
      firmware: ['arm-image-installer', 'bcm283x-firmware', 'uboot-images-armv8'],
    },
    build_packages: {},
    boot_files: [['/usr/share/uboot/rpi_arm64/u-boot.bin', '/boot/efi/rpi-u-boot.bin']],
    bootloader: 'grub2',
  };
}

export function iotPartitionTable(arch: Arch): PartitionTable {
  const gpt = arch === 'x86_64';
  return {
    uuid: gpt ? 'D209C89E-EA5E-4FBD-B161-B461CCE297E0' : '0xc1748067',
    type: gpt ? 'gpt' : 'dos',
    start_offset: gpt ? 8 * MiB : 16 * MiB,
    partitions: [
      {
        size: 501 * MiB,
        type: gpt ? 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B' : '06',
        bootable: !gpt,
        payload_type: 'filesystem',
        payload: { type: 'vfat', mountpoint: '/boot/efi', label: 'ESP', fstab_options: 'umask=0077,shortname=winnt', fstab_freq: 0, fstab_passno: 2 },
      },
      {
        size: 2 * GiB,
        type: gpt ? '0FC63DAF-8483-4772-8E79-3D69D8477DE4' : '83',
        payload_type: 'filesystem',
        payload: { type: 'ext4', mountpoint: '/boot', label: 'boot', fstab_options: 'defaults', fstab_freq: 1, fstab_passno: 2 },
      },
      {
        size: 2569 * MiB,
        type: gpt ? '0FC63DAF-8483-4772-8E79-3D69D8477DE4' : '83',
        payload_type: 'filesystem',
        payload: { type: 'ext4', mountpoint: '/', label: 'root', fstab_options: 'defaults,ro', fstab_freq: 1, fstab_passno: 1 },
      },
    ],
  };
}

export function simplifiedPartitionTable(): PartitionTable {
  return {
    uuid: 'D209C89E-EA5E-4FBD-B161-B461CCE297E0',
    type: 'gpt',
    partitions: [
      {
        size: 501 * MiB,
        type: 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B',
        payload_type: 'filesystem',
        payload: { type: 'vfat', mountpoint: '/boot/efi', label: 'ESP', fstab_options: 'umask=0077,shortname=winnt', fstab_freq: 0, fstab_passno: 2 },
      },
      {
        size: 2 * GiB,
        type: 'BC13C2FF-59E6-4262-A352-B275FD6F7172',
        payload_type: 'filesystem',
        payload: { type: 'ext4', mountpoint: '/boot', label: 'boot', fstab_options: 'defaults', fstab_freq: 1, fstab_passno: 1 },
      },
      {
        size: 8 * GiB + 2 * MiB,
        type: '0FC63DAF-8483-4772-8E79-3D69D8477DE4',
        payload_type: 'luks',
        payload: {
          label: 'crypt_root',
          cipher: 'cipher_null',
          passphrase: 'osbuild',
          pbkdf: { memory: 32, iterations: 4, parallelism: 1 },
          clevis: { pin: 'null', policy: '{}', remove_passphrase: true },
          payload_type: 'lvm',
          payload: {
            name: 'rootvg',
            description: 'built with lvm2 and osbuild',
            logical_volumes: [
              {
                name: 'rootlv',
                size: 8 * GiB,
                payload_type: 'filesystem',
                payload: { type: 'ext4', mountpoint: '/', label: 'root', fstab_options: 'defaults,ro', fstab_freq: 0, fstab_passno: 0 },
              },
            ],
          },
        },
      },
    ],
  };
}

const IOT_OS = ['NetworkManager', 'bootupd', 'fedora-release-iot', 'greenboot', 'ignition', 'podman', 'rpm-ostree', 'selinux-policy-targeted', 'basesystem', 'ssh-key-dir'];
const IOT_SERVICES = ['NetworkManager.service', 'firewalld.service', 'sshd.service', 'greenboot-healthcheck', 'bootloader-update'];

function base(name: string, arch: Arch, over: Partial<ResolvedImageType>): ResolvedImageType {
  return {
    name,
    aliases: [],
    distro: distro42,
    arch,
    filename: 'x',
    mime_type: 'application/x-tar',
    compression: '',
    bootable: false,
    boot_iso: false,
    default_size: 0,
    image_func: 'ostree_commit',
    exports: [],
    required_partition_sizes: {},
    platform: platform(arch),
    boot_mode: 'uefi',
    package_sets: {},
    image_config: {},
    ostree: { name: 'fedora-iot', remote_name: 'fedora-iot', ref: `fedora/42/${arch}/iot`, url: 'mirrorlist=https://ostree.fedoraproject.org/iot/mirrorlist' },
    blueprint: { supported_options: [], required_options: [] },
    source: { path: 'fixture', sha256: '0'.repeat(64) },
    ...over,
  };
}

const commitImageConfig = {
  locale: 'C.UTF-8',
  hostname: 'localhost.localdomain',
  timezone: 'UTC',
  default_kernel: 'kernel-core',
  update_default_kernel: true,
  enabled_services: IOT_SERVICES,
  dracut_conf: [{ filename: '40-fips.conf', config: { add_dracutmodules: ['fips'] } }],
  systemd_journald: { filename: '10-persistent.conf', config: { Journal: { Storage: 'persistent' } } },
  presets: [
    { name: 'ignition-firstboot-complete.service', state: 'enable' as const },
    { name: 'coreos-ignition-write-issues.service', state: 'enable' as const },
    { name: 'fdo-client-linuxapp.service', state: 'enable' as const },
  ],
  ostree_preptree: { etc_group_members: ['wheel', 'docker'] },
  bootupd_gen_metadata: true,
};

export function iotCommit(arch: Arch): ResolvedImageType {
  const { ostree: _drop, ...rest } = base('iot-commit', arch, {});
  return {
    ...rest,
    ostree: { name: 'fedora-iot', remote_name: 'fedora-iot', ref: `fedora/42/${arch}/iot` },
    filename: 'commit.tar',
    image_func: 'ostree_commit',
    exports: ['commit-archive'],
    boot_mode: arch === 'x86_64' ? 'hybrid' : 'uefi',
    platform: platform(arch, true),
    package_sets: { os: { include: IOT_OS, exclude: [] } },
    image_config: { ...commitImageConfig, install_weak_deps: false },
  };
}

export function iotContainer(arch: Arch): ResolvedImageType {
  return {
    ...iotCommit(arch),
    name: 'iot-container',
    filename: 'container.tar',
    image_func: 'ostree_container',
    exports: ['container'],
    package_sets: { os: { include: IOT_OS, exclude: [] }, container: { include: ['nginx'], exclude: [] } },
    image_config: { ...commitImageConfig, install_weak_deps: true, ostree_server: { port: 8080, config_path: '/etc/nginx.conf' } },
  };
}

export function iotBootableContainer(arch: Arch): ResolvedImageType {
  return {
    ...iotCommit(arch),
    name: 'iot-bootable-container',
    filename: 'iot-bootable-container.tar',
    image_func: 'bootable_container',
    exports: ['ostree-encapsulate'],
    package_sets: { os: { include: ['bootc', 'bootupd', 'ostree', 'rpm-ostree', 'podman'], exclude: ['grubby', 'plymouth'] } },
    image_config: { locale: 'C.UTF-8', install_weak_deps: false, enabled_services: ['bootc-fetch-apply-updates.timer'] },
  };
}

const deployImageConfig = {
  kernel_options: ['rw', 'coreos.no_persist_ip'],
  ignition_platform: 'metal',
  keyboard: 'us',
  keymap: 'us',
  locale: 'C.UTF-8',
  lock_root_user: true,
  grub2_config: { default: 'saved', timeout: 1, terminal_output: ['console'] },
};

export function iotRawXz(arch: Arch): ResolvedImageType {
  return base('iot-raw-xz', arch, {
    filename: 'image.raw.xz',
    mime_type: 'application/xz',
    compression: 'xz',
    bootable: true,
    default_size: 6 * GiB,
    image_func: 'ostree_disk',
    exports: ['xz'],
    required_partition_sizes: { '/': 0 },
    partition_table: iotPartitionTable(arch),
    image_config: deployImageConfig,
  });
}

export function iotQcow2(arch: Arch): ResolvedImageType {
  return base('iot-qcow2', arch, {
    filename: 'image.qcow2',
    mime_type: 'application/x-qemu-disk',
    bootable: true,
    default_size: 10 * GiB,
    image_func: 'ostree_disk',
    exports: ['qcow2'],
    platform: { ...platform(arch), image_format: 'qcow2', qcow2_compat: arch === 'aarch64' ? '1.1' : '' },
    partition_table: iotPartitionTable(arch),
    image_config: { ...deployImageConfig, ignition_platform: 'qemu' },
  });
}

export function iotInstaller(arch: Arch): ResolvedImageType {
  return base('iot-installer', arch, {
    filename: 'installer.iso',
    mime_type: 'application/x-iso9660-image',
    boot_iso: true,
    image_func: 'ostree_installer',
    exports: ['bootiso'],
    boot_mode: arch === 'x86_64' ? 'hybrid' : 'uefi',
    platform: platform(arch, true),
    package_sets: { installer: { include: ['anaconda', 'anaconda-dracut', 'fedora-release-iot', 'kernel', 'lorax-templates-generic'], exclude: [] } },
    image_config: { locale: 'C.UTF-8' },
    installer_config: {
      additional_dracut_modules: ['pollcdrom', 'qemu', 'qemu-net', 'net-lib', 'dbus-broker'],
      install_weak_deps: true,
    },
    iso_label: 'IoT',
    variant: 'IoT',
  });
}

export function iotSimplifiedInstaller(arch: Arch): ResolvedImageType {
  return base('iot-simplified-installer', arch, {
    filename: 'simplified-installer.iso',
    mime_type: 'application/x-iso9660-image',
    boot_iso: true,
    bootable: true,
    default_size: 10 * GiB,
    image_func: 'ostree_simplified_installer',
    exports: ['bootiso'],
    ostree: { name: 'fedora', remote_name: 'fedora-iot', ref: `fedora/42/${arch}/iot`, url: 'mirrorlist=https://ostree.fedoraproject.org/iot/mirrorlist' },
    partition_table: simplifiedPartitionTable(),
    package_sets: { installer: { include: ['coreos-installer', 'coreos-installer-dracut', 'fdo-init', 'kernel'], exclude: [] } },
    image_config: { ...deployImageConfig, ignition_platform: 'metal' },
    iso_label: 'IoT',
    variant: 'IoT',
  });
}

// ---------------------------------------------------------------------------------------------
// depsolve fixtures

export const repoConfig: RepoConfig = { id: 'fedora', baseurl: ['https://example.com/fedora/42/'], checkGpg: true, gpgkeys: ['KEY'] };

export function pkg(name: string, arch = 'x86_64', version = '1.0', release = '1.fc42'): Package {
  return {
    name,
    arch,
    epoch: 0,
    version,
    release,
    location: `Packages/${name[0]}/${name}-${version}-${release}.${arch}.rpm`,
    checksum: { type: 'sha256', value: createHash('sha256').update(`${name}-${version}-${release}.${arch}`).digest('hex') },
    provides: [],
    requires: [],
    conflicts: [],
    obsoletes: [],
    recommends: [],
    suggests: [],
    supplements: [],
    enhances: [],
    files: [],
    repoId: 'fedora',
  };
}

export function loadedRepo(packages: Package[]): LoadedRepo {
  return {
    config: repoConfig,
    baseurl: 'https://example.com/fedora/42/',
    revision: 'r1',
    packages,
    groups: [],
    environments: [],
    gpgkeyTexts: ['-----BEGIN PGP PUBLIC KEY BLOCK-----\nfixture\n-----END PGP PUBLIC KEY BLOCK-----\n'],
  };
}

export const KERNEL_VERSION = '6.14.0';
export const KERNEL_RELEASE = '63.fc42';

/** A depsolve result for every chain a generator asked for: each transaction gets its includes as packages (+ kernel). */
export function fakeDepsolve(chains: PackageSetChains, arch: Arch): Record<string, DepsolvedPipeline> {
  const out: Record<string, DepsolvedPipeline> = {};
  for (const [name, chain] of Object.entries(chains)) {
    const seen = new Set<string>();
    const transactions = chain.map((t) => {
      const names = t.include.filter((n) => !n.startsWith('@') && !n.startsWith('/') && !seen.has(n));
      names.forEach((n) => seen.add(n));
      return names.sort().map((n) => (n === 'kernel' ? pkg('kernel', arch, KERNEL_VERSION, KERNEL_RELEASE) : pkg(n, arch)));
    });
    out[name] = { transactions, repos: [loadedRepo(transactions.flat())] };
  }
  return out;
}

export function emptyBp(): Blueprint {
  return { packages: [], modules: [], groups: [], customizations: {} };
}

export function request(imageType: ResolvedImageType, over: Partial<GeneratorRequest> = {}): GeneratorRequest {
  return { imageType, blueprint: emptyBp(), seed: 42n, repos: [repoConfig], useLibrepo: true, ...over };
}

export const COMMIT: ResolvedCommit = {
  url: 'https://ostree.example.com/repo',
  ref: 'fedora/42/x86_64/iot',
  checksum: 'c0ffee'.padEnd(64, '0'),
};
