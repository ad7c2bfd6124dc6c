// Turn one (distro, image type, arch) into a ResolvedImageType: evaluate every `when`, apply
// overrides/appends/shallow merges, inherit the distro's default image config, compute the
// package sets (incl. the build root), render templates and convert sizes to bytes.
import { KilnError } from '../util/errors.js';
import type {
  DistroInfo, ImageConfig, Partition, PartitionTable, Platform, ResolvedImageType,
} from './types.js';
import type { Definitions, DistroDef, ImageTypeDef, ImageTypeFamily } from './loader.js';
import { whenMatches, type ConditionTarget, type When } from './conditions.js';
import { renderTemplate, type TemplateContext } from './template.js';
import { parseSize } from './size.js';
import { joinKey, lineOf } from './yaml-source.js';

type Raw = Record<string, unknown>;
type Conditions<T> = Record<string, { when: When } & T>;

const GLOB_CHARS = /[*?[\]]/;
const DEFAULT_REQUIRED_SIZES: Record<string, number> = { '/': 1024 ** 3, '/usr': 2 * 1024 ** 3 };
/** image_funcs whose OS tree is built from RPMs and ends up as an ostree commit */
const COMMIT_FUNCS = ['ostree_commit', 'ostree_container', 'bootable_container'];

function stripPrefix(v: string, prefix: string): string {
  return v.startsWith(prefix + ':') ? v.slice(prefix.length + 1) : v;
}

export function findDistro(defs: Definitions, name: string): DistroDef | undefined {
  return defs.distros.find((d) => d.name === name || d.aliases.includes(name));
}

export function distroInfo(d: DistroDef): DistroInfo {
  const r = d.raw;
  const major = Number(r.major_version);
  const ctx: TemplateContext = { MajorVersion: major, Name: d.name, Product: String(r.product) };
  const runner = r.runner as { name: string; build_packages?: string[] };
  const info: DistroInfo = {
    name: d.name,
    distro_like: String(r.distro_like),
    product: String(r.product),
    major_version: major,
    os_version: renderTemplate(String(r.os_version), ctx),
    release_version: renderTemplate(String(r.release_version ?? r.os_version), ctx),
    module_platform_id: renderTemplate(String(r.module_platform_id), ctx),
    preview: r.preview === true,
    runner: renderTemplate(runner.name, ctx),
    runner_build_packages: [...(runner.build_packages ?? [])],
    iso_label_tmpl: String(r.iso_label_tmpl),
    default_fs_type: String(r.default_fs_type),
  };
  if (typeof r.vendor === 'string') info.vendor = r.vendor;
  const copyMap = (v: unknown): Record<string, string[]> | undefined => (v ? structuredClone(v as Record<string, string[]>) : undefined);
  if (Array.isArray(r.build_base_packages)) info.build_base_packages = [...(r.build_base_packages as string[])];
  const ptp = copyMap(r.partition_tool_packages);
  if (ptp) info.partition_tool_packages = ptp;
  const cp = copyMap(r.customization_packages);
  if (cp) info.customization_packages = cp;
  const cbp = copyMap(r.customization_build_packages);
  if (cbp) info.customization_build_packages = cbp;
  return info;
}

function familyOf(defs: Definitions, d: DistroDef): ImageTypeFamily {
  const fam = defs.families.get(String(d.raw.defs_path));
  if (!fam) throw new KilnError(`${d.src.file}: ${d.keyPath}.defs_path: image types "${String(d.raw.defs_path)}" were not loaded`);
  return fam;
}

function target(d: DistroDef, arch: string): ConditionTarget {
  return { distroNames: [d.name, ...d.aliases], version: String(d.raw.major_version), arch };
}

function matching<T>(conds: Conditions<T> | undefined, t: ConditionTarget): (T & { when: When })[] {
  // Sorted by description so "no defined order" upstream becomes a stable order here.
  return Object.keys(conds ?? {}).sort().map((k) => conds![k]!).filter((c) => whenMatches(c.when, t));
}

/** Platforms for a type after platforms_override conditions (last matching override wins). */
export function effectivePlatforms(it: ImageTypeDef, t: ConditionTarget): Raw[] {
  let list = it.raw.platforms as Raw[];
  const po = it.raw.platforms_override as { conditions?: Conditions<{ override: Raw[] }> } | undefined;
  for (const c of matching(po?.conditions, t)) list = c.override;
  return list;
}

export function bootModeOf(p: Pick<Platform, 'uefi_vendor' | 'bios_platform' | 'zipl_support'>): ResolvedImageType['boot_mode'] {
  if (p.uefi_vendor && p.bios_platform) return 'hybrid';
  if (p.uefi_vendor) return 'uefi';
  if (p.bios_platform || p.zipl_support) return 'legacy';
  return 'none';
}

/** Resolve a distro/type/arch triple, naming the combination when it does not exist. */
export function lookup(defs: Definitions, distro: string, typeOrAlias: string, arch: string): { d: DistroDef; it: ImageTypeDef; platform: Raw } {
  distro = stripPrefix(distro, 'distro');
  typeOrAlias = stripPrefix(typeOrAlias, 'type');
  arch = stripPrefix(arch, 'arch');
  for (const [what, v] of [['distro', distro], ['image type', typeOrAlias], ['arch', arch]] as const) {
    if (GLOB_CHARS.test(v)) throw new KilnError(`cannot use globs in ${what} "${v}": name exactly one image`);
  }
  const notFound = (): KilnError => new KilnError(`cannot find image for: distro:"${distro}" type:"${typeOrAlias}" arch:"${arch}"`);
  const d = findDistro(defs, distro);
  if (!d) throw notFound();
  const fam = familyOf(defs, d);
  const canonical = fam.names.get(typeOrAlias);
  const it = canonical !== undefined ? fam.imageTypes.get(canonical) : undefined;
  if (!it) throw notFound();
  const platform = effectivePlatforms(it, target(d, arch)).find((p) => p.arch === arch);
  if (!platform) throw notFound();
  return { d, it, platform };
}

function bytes(v: unknown, it: ImageTypeDef, path: string): number {
  const r = parseSize(v);
  if (typeof r !== 'number') throw new KilnError(`${it.src.file}:${lineOf(it.src, path)}: ${path}: ${r.error}`);
  return r;
}

function shallowConfig(block: Raw | undefined, t: ConditionTarget): Raw | undefined {
  if (!block) return undefined;
  const { conditions, ...base } = block as Raw & { conditions?: Conditions<{ shallow_merge: Raw }> };
  const out: Raw = structuredClone(base);
  for (const c of matching(conditions, t)) Object.assign(out, structuredClone(c.shallow_merge));
  return out;
}

interface SetAcc { include: string[]; exclude: string[] }

function packageSet(fragments: unknown, t: ConditionTarget): SetAcc {
  const acc: SetAcc = { include: [], exclude: [] };
  const list = (Array.isArray(fragments) ? fragments : [fragments]) as (SetAcc & { conditions?: Conditions<{ append: Partial<SetAcc> }> })[];
  for (const f of list) {
    acc.include.push(...(f.include ?? []));
    acc.exclude.push(...(f.exclude ?? []));
    for (const c of matching(f.conditions, t)) {
      acc.include.push(...(c.append.include ?? []));
      acc.exclude.push(...(c.append.exclude ?? []));
    }
  }
  return acc;
}

function sortedUnique(xs: string[]): string[] {
  return [...new Set(xs)].sort();
}

function convertPartitionTable(raw: Raw, it: ImageTypeDef, path: string): PartitionTable {
  const conv = (v: unknown, p: string): unknown => {
    if (Array.isArray(v)) return v.map((x, i) => conv(x, joinKey(p, i)));
    if (v && typeof v === 'object') {
      const out: Raw = {};
      for (const [k, x] of Object.entries(v as Raw)) {
        out[k] = ['size', 'start', 'start_offset', 'extra_padding'].includes(k) && (typeof x === 'string' || typeof x === 'number')
          ? bytes(x, it, joinKey(p, k))
          : conv(x, joinKey(p, k));
      }
      return out;
    }
    return v;
  };
  return conv(raw, path) as PartitionTable;
}

/** Filesystem types and volume kinds a partition table uses (vfat, ext4, lvm, luks, ...). */
export function partitionTableKinds(pt: PartitionTable): string[] {
  const kinds = new Set<string>();
  const walk = (payloadType: string | undefined, payload: unknown): void => {
    if (!payload || typeof payload !== 'object') return;
    const p = payload as Raw;
    switch (payloadType) {
      case 'filesystem': if (typeof p.type === 'string' && p.type !== 'swap') kinds.add(p.type); break;
      case 'lvm':
        kinds.add('lvm');
        for (const lv of (p.logical_volumes as Raw[]) ?? []) walk(lv.payload_type as string, lv.payload);
        break;
      case 'btrfs': kinds.add('btrfs'); break;
      case 'luks': kinds.add('luks'); walk(p.payload_type as string, p.payload); break;
    }
  };
  for (const part of pt.partitions as Partition[]) walk(part.payload_type, part.payload);
  return [...kinds].sort();
}

export function resolveImageType(defs: Definitions, distro: string, typeOrAlias: string, arch: string): ResolvedImageType {
  const { d, it, platform: rawPlatform } = lookup(defs, distro, typeOrAlias, arch);
  const fam = familyOf(defs, d);
  const t = target(d, arch);
  const raw = it.raw;
  const info = distroInfo(d);
  const k = (s: string): string => joinKey(it.keyPath, s);

  const platform: Platform = {
    ...(structuredClone(rawPlatform) as unknown as Platform),
    packages: structuredClone((rawPlatform.packages as Record<string, string[]>) ?? {}),
    build_packages: structuredClone((rawPlatform.build_packages as Record<string, string[]>) ?? {}),
  };

  // partition table: the per-arch base, replaced by any matching override
  let ptRaw = (raw.partition_table as Record<string, Raw> | undefined)?.[arch];
  let ptPath = joinKey(k('partition_table'), arch);
  const pto = raw.partition_tables_override as { conditions?: Conditions<{ override: Record<string, Raw> }> } | undefined;
  for (const [cname, c] of Object.entries(pto?.conditions ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (whenMatches(c.when, t) && c.override[arch]) {
      ptRaw = c.override[arch];
      ptPath = joinKey(joinKey(joinKey(joinKey(k('partition_tables_override'), 'conditions'), cname), 'override'), arch);
    }
  }
  const partition_table = ptRaw ? convertPartitionTable(ptRaw, it, ptPath) : undefined;

  // image config: the type's values (after shallow merges) over the distro defaults
  const distroDefaults = structuredClone((d.raw.image_config as Raw | undefined) ?? {});
  const image_config = { ...distroDefaults, ...(shallowConfig(raw.image_config as Raw | undefined, t) ?? {}) } as ImageConfig;

  // package sets
  const sets: Record<string, SetAcc> = {};
  for (const [name, frags] of Object.entries((raw.package_sets as Raw | undefined) ?? {})) sets[name] = packageSet(frags, t);
  const ensure = (name: string): SetAcc => (sets[name] ??= { include: [], exclude: [] });
  const imageFunc = String(raw.image_func);
  const bootable = raw.bootable === true;

  // platform packages go to the set that builds the bootable tree (see definitions/README.md)
  const platformTarget = (raw.platform_packages_set as string | undefined)
    ?? (sets.os ? 'os' : sets.installer ? 'installer' : 'build');
  const platformPkgs = Object.values(platform.packages).flat();
  if (platformPkgs.length) ensure(platformTarget).include.push(...platformPkgs);

  const ptKinds = partition_table ? partitionTableKinds(partition_table) : [];
  const toolMap = (d.raw.partition_tool_packages as Record<string, string[]> | undefined) ?? {};
  const ptTools = ptKinds.flatMap((kind) => toolMap[kind] ?? []);
  if (sets.os) {
    if (bootable || COMMIT_FUNCS.includes(imageFunc)) sets.os.include.push('kernel');
    sets.os.include.push(...ptTools);
    if (image_config.selinux !== 'none') sets.os.include.push('selinux-policy-targeted');
  }

  const build = ensure('build');
  build.include.push(...((d.raw.build_base_packages as string[] | undefined) ?? []), ...info.runner_build_packages, ...ptTools);
  for (const p of raw.payload_pipelines as string[]) build.include.push(...(fam.pipelineBuildPackages[p] ?? []));
  build.include.push(...Object.values(platform.build_packages).flat());

  const package_sets: ResolvedImageType['package_sets'] = {};
  for (const name of Object.keys(sets).sort()) {
    package_sets[name] = { include: sortedUnique(sets[name]!.include), exclude: sortedUnique(sets[name]!.exclude) };
  }

  const required: Record<string, number> = {};
  const reqRaw = (raw.required_partition_sizes as Record<string, unknown> | undefined);
  if (reqRaw) for (const [mp, v] of Object.entries(reqRaw)) required[mp] = bytes(v, it, joinKey(k('required_partition_sizes'), mp));
  else Object.assign(required, DEFAULT_REQUIRED_SIZES);

  const templateCtx: TemplateContext = {
    Product: info.product,
    Distro: { Name: info.distro_like, MajorVersion: info.major_version },
    Arch: arch,
  };
  const render = (tmpl: string, path: string): string => {
    try {
      return renderTemplate(tmpl, templateCtx);
    } catch (e) {
      throw new KilnError(`${it.src.file}:${lineOf(it.src, path)}: ${path}: ${(e as Error).message}`);
    }
  };

  const resolved: ResolvedImageType = {
    name: it.name,
    aliases: [...((raw.name_aliases as string[] | undefined) ?? [])],
    distro: info,
    arch,
    filename: String(raw.filename),
    mime_type: String(raw.mime_type),
    compression: ((raw.compression as string | undefined) ?? '') as ResolvedImageType['compression'],
    bootable,
    boot_iso: raw.boot_iso === true,
    default_size: raw.default_size !== undefined ? bytes(raw.default_size, it, k('default_size')) : 0,
    image_func: imageFunc,
    exports: [...(raw.exports as string[])],
    required_partition_sizes: required,
    platform,
    boot_mode: bootModeOf(platform),
    package_sets,
    image_config,
    blueprint: {
      supported_options: [...(((raw.blueprint as Raw | undefined)?.supported_options as string[] | undefined) ?? [])],
      required_options: [...(((raw.blueprint as Raw | undefined)?.required_options as string[] | undefined) ?? [])],
    },
    source: { path: defs.path, sha256: defs.sha256 },
  };
  if (partition_table) resolved.partition_table = partition_table;
  const installer = shallowConfig(raw.installer_config as Raw | undefined, t);
  if (installer) resolved.installer_config = installer;
  const iso = shallowConfig(raw.iso_config as Raw | undefined, t);
  if (iso) resolved.iso_config = iso;
  const disk = shallowConfig(raw.disk_config as Raw | undefined, t);
  if (disk) resolved.disk_config = disk as ResolvedImageType['disk_config'];
  if (raw.container_config) resolved.container_config = structuredClone(raw.container_config as Raw);
  resolved.payload_pipelines = [...(raw.payload_pipelines as string[])];
  resolved.build_pipelines = [...((raw.build_pipelines as string[] | undefined) ?? ['build'])];
  const os = raw.ostree as { name?: string; remote_name?: string; ref: string; url?: string } | undefined;
  if (os) {
    resolved.ostree = {
      name: os.name ?? '',
      remote_name: os.remote_name ?? os.name ?? '',
      ref: render(os.ref, joinKey(k('ostree'), 'ref')),
    };
    if (os.url) resolved.ostree.url = os.url;
  }
  if (typeof raw.iso_label === 'string') {
    const tctx = { ...templateCtx, ISOLabel: raw.iso_label };
    try {
      resolved.iso_label = renderTemplate(info.iso_label_tmpl, tctx);
    } catch (e) {
      throw new KilnError(`${d.src.file}:${lineOf(d.src, joinKey(d.keyPath, 'iso_label_tmpl'))}: ${joinKey(d.keyPath, 'iso_label_tmpl')}: ${(e as Error).message}`);
    }
  }
  if (typeof raw.variant === 'string') resolved.variant = raw.variant;
  return resolved;
}
