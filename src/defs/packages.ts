// Every package name the definitions can ask a repository for. A built-in test repository must
// contain all of them so any image type can depsolve against it.
import type { Definitions } from './loader.js';
import { listImages } from './list.js';
import { resolveImageType } from './resolve.js';

function collect(defs: Definitions): { names: Set<string>; groups: Set<string> } {
  const names = new Set<string>();
  const groups = new Set<string>();
  const add = (p: string): void => {
    if (p.startsWith('@')) groups.add(p.slice(1));
    else names.add(p);
  };
  for (const d of defs.distros) {
    const r = d.raw;
    ((r.runner as { build_packages?: string[] }).build_packages ?? []).forEach(add);
    ((r.build_base_packages as string[] | undefined) ?? []).forEach(add);
    // blueprint customizations (LVM, btrfs, ...) can pull any partition tool, not only the defaults'
    Object.values((r.partition_tool_packages as Record<string, string[]> | undefined) ?? {}).flat().forEach(add);
    Object.values((r.customization_packages as Record<string, string[]> | undefined) ?? {}).flat().forEach(add);
    Object.values((r.customization_build_packages as Record<string, string[]> | undefined) ?? {}).flat().forEach(add);
    const ic = r.image_config as { default_kernel?: string } | undefined;
    if (ic?.default_kernel) add(ic.default_kernel);
  }
  for (const e of listImages(defs)) {
    const it = resolveImageType(defs, e.distro, e.type, e.arch);
    for (const ps of Object.values(it.package_sets)) ps.include.forEach(add);
    for (const xs of Object.values(it.platform.packages)) xs.forEach(add);
    for (const xs of Object.values(it.platform.build_packages)) xs.forEach(add);
    add('kernel');
  }
  return { names, groups };
}

/** Sorted package names (no groups) any distro/type/arch may request. */
export function allPackageNames(defs: Definitions): string[] {
  return [...collect(defs).names].sort();
}

/** Sorted comps group ids (without the leading "@") the definitions request, e.g. "core". */
export function allPackageGroups(defs: Definitions): string[] {
  return [...collect(defs).groups].sort();
}
