// The data behind `kiln describe`: upstream's describe keys, packages grouped by the pipeline that
// installs them.
import type { PartitionTable, ResolvedImageType } from './types.js';

export interface ImageDescription {
  distro: string;
  type: string;
  arch: string;
  os_version: string;
  bootmode: ResolvedImageType['boot_mode'];
  partition_type: string;
  default_filename: string;
  build_pipelines: string[];
  payload_pipelines: string[];
  packages: Record<string, { include: string[]; exclude: string[] }>;
  partition_table?: PartitionTable;
  blueprint: { supported_options: string[]; required_options: string[] };
}

/** Which pipeline installs a package set (sets not listed map to a pipeline of the same name). */
export function pipelineForSet(set: string, payloadPipelines: string[]): string | undefined {
  const firstOf = (...names: string[]): string | undefined => names.find((n) => payloadPipelines.includes(n));
  switch (set) {
    case 'build': return 'build';
    case 'installer': return firstOf('anaconda-tree', 'coi-tree');
    case 'container': return firstOf('container-tree');
    case 'blueprint': return firstOf('os');
    default: return payloadPipelines.includes(set) ? set : undefined;
  }
}

export function describeImage(r: ResolvedImageType): ImageDescription {
  const payload = r.payload_pipelines ?? [];
  const packages: ImageDescription['packages'] = {};
  for (const [set, ps] of Object.entries(r.package_sets)) {
    const pipeline = pipelineForSet(set, payload) ?? set;
    const acc = (packages[pipeline] ??= { include: [], exclude: [] });
    acc.include = [...new Set([...acc.include, ...ps.include])].sort();
    acc.exclude = [...new Set([...acc.exclude, ...ps.exclude])].sort();
  }
  const out: ImageDescription = {
    distro: r.distro.name,
    type: r.name,
    arch: r.arch,
    os_version: r.distro.os_version,
    bootmode: r.boot_mode,
    partition_type: r.partition_table?.type ?? '',
    default_filename: r.filename,
    build_pipelines: [...(r.build_pipelines ?? ['build'])],
    payload_pipelines: [...payload],
    packages,
    blueprint: { supported_options: [...r.blueprint.supported_options], required_options: [...r.blueprint.required_options] },
  };
  if (r.partition_table) out.partition_table = r.partition_table;
  return out;
}
