// The resolved image-type model: what the definitions say an image is, for one distro and arch,
// after every `when` condition has been evaluated. Keys keep upstream's snake_case spelling so
// the YAML and the model read alike.

export interface DistroInfo {
  /** e.g. fedora-42, fedora-43, fedora-rawhide */
  name: string;
  /** family, e.g. fedora */
  distro_like: string;
  product: string;
  major_version: number;
  os_version: string;
  release_version: string;
  module_platform_id: string;
  preview: boolean;
  /** e.g. org.osbuild.fedora42 */
  runner: string;
  runner_build_packages: string[];
  iso_label_tmpl: string;
  default_fs_type: string;
  /** distro-level default image config, already merged into each image type's image_config */
  vendor?: string;
  /** packages every build root gets on top of runner_build_packages (selinux-policy-targeted, coreutils, xz) */
  build_base_packages?: string[];
  /** filesystem/volume kind (vfat, ext4, xfs, btrfs, lvm, luks) -> tool packages */
  partition_tool_packages?: Record<string, string[]>;
  /** customization (selinux, chrony, firewall, users, oscap) -> OS packages it needs */
  customization_packages?: Record<string, string[]>;
  /** customization (users, cloud_init, dnf_config, containers, oscap_tailoring, uki) -> build-root packages */
  customization_build_packages?: Record<string, string[]>;
}

export type PayloadType = 'filesystem' | 'lvm' | 'btrfs' | 'luks' | 'raw';

export interface FilesystemPayload {
  type: string; // ext4, xfs, vfat, btrfs, swap
  mountpoint?: string;
  label?: string;
  uuid?: string;
  fstab_options?: string;
  fstab_freq?: number;
  fstab_passno?: number;
}

export interface LogicalVolume {
  name: string;
  size: number;
  payload_type: PayloadType;
  payload: FilesystemPayload;
}

export interface LvmPayload {
  name: string;
  description?: string;
  logical_volumes: LogicalVolume[];
}

export interface BtrfsPayload {
  uuid?: string;
  label?: string;
  subvolumes: { name: string; mountpoint: string; size?: number }[];
}

export interface LuksPayload {
  label?: string;
  uuid?: string;
  cipher?: string;
  passphrase?: string;
  pbkdf?: { memory?: number; iterations?: number; parallelism?: number };
  clevis?: { pin: string; policy: string; remove_passphrase?: boolean };
  payload_type: PayloadType;
  payload: FilesystemPayload | LvmPayload;
}

export interface Partition {
  /** bytes */
  size: number;
  /** bytes; set by the layout algorithm */
  start?: number;
  /** GPT type GUID or DOS id (e.g. "83") */
  type: string;
  bootable?: boolean;
  uuid?: string;
  label?: string;
  attrs?: number[];
  payload_type?: PayloadType;
  payload?: FilesystemPayload | LvmPayload | BtrfsPayload | LuksPayload;
}

export interface PartitionTable {
  uuid?: string;
  type: 'gpt' | 'dos';
  /** bytes */
  start_offset?: number;
  sector_size?: number;
  extra_padding?: number;
  partitions: Partition[];
}

export interface Platform {
  arch: string;
  image_format?: string;
  qcow2_compat?: string;
  bios_platform?: string;
  uefi_vendor?: string;
  zipl_support?: boolean;
  extra_uefi_architectures?: string[];
  /** groups of packages, all merged into the OS set */
  packages: Record<string, string[]>;
  /** groups of packages, all merged into the build-root set */
  build_packages: Record<string, string[]>;
  boot_files?: [string, string][];
  bootloader?: 'grub2' | 'zipl' | 'uki';
  fips_menu?: boolean;
}

export interface FileCustomization {
  path: string;
  user?: string | number;
  group?: string | number;
  mode?: string;
  data?: string;
}

export interface ImageConfig {
  hostname?: string;
  locale?: string;
  timezone?: string;
  keyboard?: string;
  kernel_options?: string[];
  enabled_services?: string[];
  disabled_services?: string[];
  masked_services?: string[];
  default_target?: string;
  install_weak_deps?: boolean;
  machine_id_uninitialized?: boolean;
  default_kernel?: string;
  update_default_kernel?: boolean;
  grub2_config?: { default?: string; timeout?: number; terminal_output?: string[] };
  files?: FileCustomization[];
  dracut_conf?: { filename: string; config: Record<string, unknown> }[];
  systemd_journald?: { filename: string; config: Record<string, unknown> };
  presets?: { name: string; state: 'enable' | 'disable' }[];
  ostree_preptree?: { etc_group_members?: string[] };
  bootupd_gen_metadata?: boolean;
  lock_root_user?: boolean;
  ignition_platform?: string;
  keymap?: string;
  selinux?: string;
  selinux_force_relabel?: boolean;
  /** units vs fstab handled by disk_config; everything else passes through */
  [key: string]: unknown;
}

export interface OstreeFacts {
  name: string;
  remote_name: string;
  /** already templated for distro/arch */
  ref: string;
  url?: string;
}

/** An image type resolved for one distro and one arch. */
export interface ResolvedImageType {
  name: string;
  aliases: string[];
  distro: DistroInfo;
  arch: string;
  filename: string;
  mime_type: string;
  compression: '' | 'xz' | 'zstd' | 'gzip';
  bootable: boolean;
  boot_iso: boolean;
  /** bytes */
  default_size: number;
  image_func: string;
  exports: string[];
  /** mountpoint -> bytes */
  required_partition_sizes: Record<string, number>;
  platform: Platform;
  /** boot mode derived from the platform: hybrid | uefi | legacy | none */
  boot_mode: 'hybrid' | 'uefi' | 'legacy' | 'none';
  /** set name (os, installer, container, blueprint, build) -> include/exclude */
  package_sets: Record<string, { include: string[]; exclude: string[] }>;
  partition_table?: PartitionTable;
  image_config: ImageConfig;
  installer_config?: Record<string, unknown>;
  iso_config?: Record<string, unknown>;
  disk_config?: { mount_configuration?: 'fstab' | 'units' | 'none'; partitioning_tool?: string };
  ostree?: OstreeFacts;
  iso_label?: string;
  variant?: string;
  blueprint: { supported_options: string[]; required_options: string[] };
  /** pipelines that produce the payload, in creation order (e.g. os, image, xz); from the definitions */
  payload_pipelines?: string[];
  /** build-root pipelines (normally just "build") */
  build_pipelines?: string[];
  /** OCI container settings for container-producing types (e.g. iot-container's nginx server) */
  container_config?: Record<string, unknown>;
  /** which definitions produced this: directory and content hash */
  source: { path: string; sha256: string };
}
