// A small structural schema checker for definition files. Hand-written rather than ajv so every
// problem is reported as `<file>:<line>: <key path>: <problem>` with the YAML line it came from.
import { lineOf, joinKey, type SourceFile } from './yaml-source.js';
import { parseSize, describeType } from './size.js';
import { templateVariables } from './template.js';
import { WHEN_KEYS, VERSION_RE } from './conditions.js';

export type Spec =
  | { kind: 'string'; enum?: readonly string[]; template?: readonly string[] }
  | { kind: 'bool' }
  | { kind: 'int'; min?: number }
  | { kind: 'size' }
  | { kind: 'scalar' } // string or number, kept as is
  | { kind: 'any' }
  | { kind: 'list'; of: Spec; minItems?: number }
  | { kind: 'tuple'; of: Spec[] }
  | { kind: 'map'; of: Spec; keyPattern?: RegExp; keyHint?: string }
  | { kind: 'object'; fields: Record<string, Spec>; required?: readonly string[] }
  | { kind: 'oneOrList'; of: Spec }
  | { kind: 'custom'; check: (v: unknown, path: string, ctx: Checker) => void };

export class Checker {
  readonly errors: string[] = [];
  constructor(readonly src: SourceFile) {}

  error(path: string, problem: string): void {
    this.errors.push(`${this.src.file}:${lineOf(this.src, path)}: ${path || '(top level)'}: ${problem}`);
  }

  check(v: unknown, spec: Spec, path: string): void {
    switch (spec.kind) {
      case 'any':
        return;
      case 'string':
        if (typeof v !== 'string') return this.error(path, `wrong type: expected a string, got ${describeType(v)}`);
        if (spec.enum && !spec.enum.includes(v)) {
          return this.error(path, `invalid value "${v}": expected one of ${spec.enum.map((e) => `"${e}"`).join(', ')}`);
        }
        if (spec.template) {
          try {
            for (const name of templateVariables(v)) {
              if (!spec.template.includes(name)) {
                this.error(path, `unknown template variable .${name} (available: ${spec.template.map((t) => '.' + t).join(', ')})`);
              }
            }
          } catch (e) {
            this.error(path, (e as Error).message);
          }
        }
        return;
      case 'bool':
        if (typeof v !== 'boolean') this.error(path, `wrong type: expected true or false, got ${describeType(v)}`);
        return;
      case 'int':
        if (typeof v !== 'number' || !Number.isInteger(v)) return this.error(path, `wrong type: expected an integer, got ${describeType(v)}`);
        if (spec.min !== undefined && v < spec.min) this.error(path, `value ${v} is below the minimum ${spec.min}`);
        return;
      case 'size': {
        const r = parseSize(v);
        if (typeof r !== 'number') this.error(path, r.error);
        return;
      }
      case 'scalar':
        if (typeof v !== 'string' && typeof v !== 'number') this.error(path, `wrong type: expected a string or number, got ${describeType(v)}`);
        return;
      case 'list':
        if (!Array.isArray(v)) return this.error(path, `wrong type: expected a list, got ${describeType(v)}`);
        if (spec.minItems !== undefined && v.length < spec.minItems) this.error(path, `needs at least ${spec.minItems} item(s)`);
        v.forEach((item, i) => this.check(item, spec.of, joinKey(path, i)));
        return;
      case 'tuple':
        if (!Array.isArray(v) || v.length !== spec.of.length) {
          return this.error(path, `wrong type: expected a list of exactly ${spec.of.length} items, got ${describeType(v)}`);
        }
        v.forEach((item, i) => this.check(item, spec.of[i]!, joinKey(path, i)));
        return;
      case 'oneOrList':
        if (Array.isArray(v)) v.forEach((item, i) => this.check(item, spec.of, joinKey(path, i)));
        else this.check(v, spec.of, path);
        return;
      case 'map':
        if (!isPlainObject(v)) return this.error(path, `wrong type: expected a mapping, got ${describeType(v)}`);
        for (const [k, val] of Object.entries(v)) {
          if (spec.keyPattern && !spec.keyPattern.test(k)) {
            this.error(joinKey(path, k), `invalid key "${k}"${spec.keyHint ? `: ${spec.keyHint}` : ''}`);
            continue;
          }
          this.check(val, spec.of, joinKey(path, k));
        }
        return;
      case 'object': {
        if (!isPlainObject(v)) return this.error(path, `wrong type: expected a mapping, got ${describeType(v)}`);
        for (const req of spec.required ?? []) {
          if (!(req in v) || v[req] === null) this.error(path, `missing required key "${req}"`);
        }
        for (const [k, val] of Object.entries(v)) {
          const f = spec.fields[k];
          if (!f) {
            this.error(joinKey(path, k), `unknown key "${k}" (known keys: ${Object.keys(spec.fields).join(', ')})`);
            continue;
          }
          this.check(val, f, joinKey(path, k));
        }
        return;
      }
      case 'custom':
        spec.check(v, path, this);
        return;
    }
  }
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// ------------------------------------------------------------------ building blocks
const str: Spec = { kind: 'string' };
const bool: Spec = { kind: 'bool' };
const strList: Spec = { kind: 'list', of: str };
const size: Spec = { kind: 'size' };

const versionValue: Spec = {
  kind: 'custom',
  check: (v, path, c) => {
    if ((typeof v !== 'string' && typeof v !== 'number') || !VERSION_RE.test(String(v))) {
      c.error(path, `bad version comparison value ${JSON.stringify(v)}: expected a version number like "43"`);
    }
  },
};

// Built from the evaluator's own key list so schema and evaluation cannot drift apart.
export const whenSpec: Spec = {
  kind: 'object',
  fields: Object.fromEntries(WHEN_KEYS.map((k) => [k, k.startsWith('version_') ? versionValue : str])),
};

/** `conditions: {<description>: {when, <actionKey>: <payload>}}` */
export function conditionsSpec(actionKey: string, payload: Spec): Spec {
  return {
    kind: 'map',
    of: { kind: 'object', fields: { when: whenSpec, [actionKey]: payload }, required: ['when', actionKey] },
  };
}

/** A config block (image_config, disk_config, ...) with `conditions` doing shallow merges. */
function configSpec(fields: Record<string, Spec>): Spec {
  const plain: Spec = { kind: 'object', fields };
  return { kind: 'object', fields: { ...fields, conditions: conditionsSpec('shallow_merge', plain) } };
}

const filesystemPayload: Spec = {
  kind: 'object',
  fields: { type: str, mountpoint: str, label: str, uuid: str, fstab_options: str, fstab_freq: { kind: 'int', min: 0 }, fstab_passno: { kind: 'int', min: 0 } },
  required: ['type'],
};
const PAYLOAD_TYPES = ['filesystem', 'lvm', 'btrfs', 'luks', 'raw'] as const;

function payloadSpecFor(t: unknown): Spec {
  switch (t) {
    case 'filesystem': return filesystemPayload;
    case 'lvm': return lvmPayload;
    case 'btrfs': return btrfsPayload;
    case 'luks': return luksPayload;
    default: return { kind: 'any' };
  }
}
/** payload_type + payload pairs, where the payload's shape depends on payload_type. */
function withPayload(fields: Record<string, Spec>, required: string[]): Spec {
  const base: Spec = { kind: 'object', fields: { ...fields, payload_type: { kind: 'string', enum: PAYLOAD_TYPES }, payload: { kind: 'any' } }, required };
  return {
    kind: 'custom',
    check: (v, path, c) => {
      c.check(v, base, path);
      if (!isPlainObject(v)) return;
      if (v.payload !== undefined && v.payload_type === undefined) c.error(path, 'missing required key "payload_type" (needed with "payload")');
      if (v.payload !== undefined && typeof v.payload_type === 'string') c.check(v.payload, payloadSpecFor(v.payload_type), joinKey(path, 'payload'));
    },
  };
}
const logicalVolume: Spec = withPayload({ name: str, size }, ['size', 'payload_type', 'payload']);
const lvmPayload: Spec = { kind: 'object', fields: { name: str, description: str, logical_volumes: { kind: 'list', of: logicalVolume, minItems: 1 } }, required: ['logical_volumes'] };
const btrfsPayload: Spec = {
  kind: 'object',
  fields: { uuid: str, label: str, subvolumes: { kind: 'list', of: { kind: 'object', fields: { name: str, mountpoint: str, size }, required: ['name', 'mountpoint'] } } },
  required: ['subvolumes'],
};
const luksPayload: Spec = withPayload(
  {
    label: str, uuid: str, cipher: str, passphrase: str,
    pbkdf: { kind: 'object', fields: { memory: { kind: 'int', min: 0 }, iterations: { kind: 'int', min: 0 }, parallelism: { kind: 'int', min: 0 } } },
    clevis: { kind: 'object', fields: { pin: str, policy: str, remove_passphrase: bool }, required: ['pin', 'policy'] },
  },
  ['payload_type', 'payload'],
);
const partition: Spec = withPayload(
  { size, start: size, type: str, bootable: bool, uuid: str, label: str, attrs: { kind: 'list', of: { kind: 'int', min: 0 } } },
  ['size', 'type'],
);
export const partitionTableSpec: Spec = {
  kind: 'object',
  fields: {
    uuid: str, type: { kind: 'string', enum: ['gpt', 'dos'] }, start_offset: size,
    sector_size: { kind: 'int', min: 512 }, extra_padding: size,
    partitions: { kind: 'list', of: partition, minItems: 1 },
  },
  required: ['type', 'partitions'],
};
const ptPerArch: Spec = { kind: 'map', of: partitionTableSpec };

const pkgGroups: Spec = { kind: 'map', of: strList };
export const platformSpec: Spec = {
  kind: 'object',
  fields: {
    arch: { kind: 'string', enum: ['x86_64', 'aarch64', 'ppc64le', 's390x', 'riscv64'] },
    image_format: { kind: 'string', enum: ['raw', 'qcow2', 'vhd', 'vmdk', 'ova', 'gce', 'vagrant_libvirt', 'vagrant_virtualbox'] },
    qcow2_compat: str,
    bios_platform: { kind: 'string', enum: ['i386-pc', 'powerpc-ieee1275'] },
    uefi_vendor: str,
    zipl_support: bool,
    extra_uefi_architectures: strList,
    packages: pkgGroups,
    build_packages: pkgGroups,
    boot_files: { kind: 'list', of: { kind: 'tuple', of: [str, str] } },
    bootloader: { kind: 'string', enum: ['grub2', 'zipl', 'uki'] },
    fips_menu: bool,
  },
  required: ['arch'],
};

const includeExclude: Spec = { kind: 'object', fields: { include: strList, exclude: strList } };
const packageSetFragment: Spec = {
  kind: 'object',
  fields: { include: strList, exclude: strList, conditions: conditionsSpec('append', includeExclude) },
};

const fileCustomization: Spec = {
  kind: 'object',
  fields: { path: str, user: { kind: 'scalar' }, group: { kind: 'scalar' }, mode: str, data: str },
  required: ['path'],
};

export const imageConfigFields: Record<string, Spec> = {
  hostname: str, locale: str, timezone: str, keyboard: str, keymap: str,
  kernel_options: strList,
  enabled_services: strList, disabled_services: strList, masked_services: strList,
  default_target: str,
  install_weak_deps: bool,
  machine_id_uninitialized: bool,
  default_kernel: str,
  update_default_kernel: bool,
  default_oscap_datastream: str,
  grub2_config: { kind: 'object', fields: { default: str, timeout: { kind: 'int', min: 0 }, terminal_output: strList } },
  files: { kind: 'list', of: fileCustomization },
  dracut_conf: { kind: 'list', of: { kind: 'object', fields: { filename: str, config: { kind: 'map', of: { kind: 'any' } } }, required: ['filename', 'config'] } },
  systemd_journald: { kind: 'object', fields: { filename: str, config: { kind: 'map', of: { kind: 'any' } } }, required: ['filename', 'config'] },
  presets: { kind: 'list', of: { kind: 'object', fields: { name: str, state: { kind: 'string', enum: ['enable', 'disable'] } }, required: ['name', 'state'] } },
  ostree_preptree: { kind: 'object', fields: { etc_group_members: strList } },
  bootupd_gen_metadata: bool,
  lock_root_user: bool,
  ignition_platform: str,
  ignition_firstboot: bool,
  ignition_network_kernel_options: strList,
  greenboot: bool,
  ostree_sysroot_readonly: bool,
  ostree_bootloader: str,
  ostree_mounts: strList,
  selinux: str,
  selinux_force_relabel: bool,
  bootc_config: { kind: 'object', fields: { filename: str, root_filesystem_type: str }, required: ['filename'] },
};

export const distroImageConfigSpec: Spec = { kind: 'object', fields: imageConfigFields };

const installerConfigFields: Record<string, Spec> = {
  install_weak_deps: bool, anaconda_modules: strList, dracut_modules: strList, dracut_args: strList,
  locale: str, lorax_template_package: str, lorax_templates: strList, lorax_release_package: str,
  lorax_logos_package: str, selinux_state: str, kickstart_path: str,
};
const isoConfigFields: Record<string, Spec> = {
  rootfs_type: { kind: 'string', enum: ['squashfs', 'erofs', 'squashfs-ext4'] },
  boot_type: { kind: 'string', enum: ['grub2', 'syslinux', 'uefi'] },
};
const diskConfigFields: Record<string, Spec> = {
  mount_configuration: { kind: 'string', enum: ['fstab', 'units', 'none'] },
  partitioning_tool: str,
};

export const IMAGE_FUNCS = [
  'disk', 'ostree_commit', 'ostree_container', 'ostree_disk', 'ostree_installer', 'ostree_simplified_installer',
  'bootable_container', 'container', 'tar', 'live_installer', 'image_installer', 'network-installer', 'pxe_tar',
] as const;

export const OSTREE_REF_VARS = ['Distro.Name', 'Distro.MajorVersion', 'Arch'];

export const imageTypeSpec: Spec = {
  kind: 'object',
  fields: {
    name_aliases: strList,
    filename: str,
    mime_type: str,
    compression: { kind: 'string', enum: ['', 'xz', 'zstd', 'gzip'] },
    bootable: bool,
    boot_iso: bool,
    default_size: size,
    image_func: { kind: 'string', enum: IMAGE_FUNCS },
    exports: { kind: 'list', of: str, minItems: 1 },
    build_pipelines: strList,
    payload_pipelines: { kind: 'list', of: str, minItems: 1 },
    required_partition_sizes: { kind: 'map', of: size, keyPattern: /^\//, keyHint: 'must be an absolute mountpoint' },
    platforms: { kind: 'list', of: platformSpec, minItems: 1 },
    platforms_override: { kind: 'object', fields: { conditions: conditionsSpec('override', { kind: 'list', of: platformSpec, minItems: 1 }) } },
    platform_packages_set: { kind: 'string', enum: ['os', 'installer', 'build'] },
    package_sets: { kind: 'map', of: { kind: 'oneOrList', of: packageSetFragment }, keyPattern: /^(os|installer|container|blueprint|build)$/, keyHint: 'package sets are os, installer, container, blueprint, build' },
    partition_table: ptPerArch,
    partition_tables_override: { kind: 'object', fields: { conditions: conditionsSpec('override', ptPerArch) } },
    image_config: configSpec(imageConfigFields),
    installer_config: configSpec(installerConfigFields),
    iso_config: configSpec(isoConfigFields),
    disk_config: configSpec(diskConfigFields),
    container_config: { kind: 'map', of: { kind: 'any' } },
    ostree: {
      kind: 'object',
      fields: { name: str, remote_name: str, ref: { kind: 'string', template: OSTREE_REF_VARS }, url: str },
      required: ['ref'],
    },
    iso_label: str,
    variant: str,
    blueprint: { kind: 'object', fields: { supported_options: strList, required_options: strList } },
  },
  required: ['filename', 'mime_type', 'image_func', 'exports', 'payload_pipelines', 'platforms'],
};

export const imageTypesFileSpec: Spec = {
  kind: 'object',
  fields: {
    image_types: { kind: 'map', of: imageTypeSpec, keyPattern: /^[a-z0-9][a-z0-9._-]*$/, keyHint: 'image type names use lowercase letters, digits, "-", "_" and "."' },
    pipeline_build_packages: { kind: 'map', of: strList },
  },
  required: ['image_types', 'pipeline_build_packages'],
};

const DISTRO_VARS = ['MajorVersion', 'Name', 'Product'];
const ISO_LABEL_VARS = ['Product', 'Distro.MajorVersion', 'Distro.Name', 'ISOLabel', 'Arch'];

export const distroSpec: Spec = {
  kind: 'object',
  fields: {
    name: { kind: 'string', template: DISTRO_VARS },
    aliases: strList,
    major_version: { kind: 'int', min: 1 },
    distro_like: str,
    product: str,
    vendor: str,
    codename: str,
    preview: bool,
    os_version: { kind: 'string', template: DISTRO_VARS },
    release_version: { kind: 'string', template: DISTRO_VARS },
    module_platform_id: { kind: 'string', template: DISTRO_VARS },
    iso_label_tmpl: { kind: 'string', template: ISO_LABEL_VARS },
    default_fs_type: { kind: 'string', enum: ['ext4', 'xfs', 'btrfs'] },
    defs_path: { kind: 'custom', check: (v, p, c) => {
      if (typeof v !== 'string') return c.error(p, `wrong type: expected a string, got ${describeType(v)}`);
      if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(v)) c.error(p, `invalid defs_path "${v}": must be a directory name inside the definitions directory`);
    } },
    runner: { kind: 'object', fields: { name: { kind: 'string', template: DISTRO_VARS }, build_packages: strList }, required: ['name'] },
    build_base_packages: strList,
    oscap_profiles_allowlist: strList,
    bootstrap_containers: { kind: 'map', of: { kind: 'string', template: DISTRO_VARS } },
    partition_tool_packages: { kind: 'map', of: strList },
    customization_packages: { kind: 'map', of: strList },
    customization_build_packages: { kind: 'map', of: strList },
    image_config: distroImageConfigSpec,
  },
  required: ['name', 'major_version', 'distro_like', 'product', 'os_version', 'module_platform_id', 'defs_path', 'runner', 'iso_label_tmpl', 'default_fs_type'],
};

export const distrosFileSpec: Spec = {
  kind: 'object',
  fields: { distros: { kind: 'list', of: distroSpec, minItems: 1 } },
  required: ['distros'],
};
