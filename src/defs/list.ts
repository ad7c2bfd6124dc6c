// `list --filter` semantics: each filter is `prefix:glob` (distro, arch, type, bootmode) or a bare
// glob matching distro OR arch OR type OR alias; all filters must hold (AND).
import { KilnError } from '../util/errors.js';
import type { Definitions } from './loader.js';
import { globMatch } from './glob.js';
import { bootModeOf, effectivePlatforms, distroInfo } from './resolve.js';

export interface ImageListEntry {
  distro: string;
  type: string;
  arch: string;
}

export const FILTER_PREFIXES = ['distro', 'arch', 'type', 'bootmode'] as const;
type Prefix = (typeof FILTER_PREFIXES)[number];

interface Candidate extends ImageListEntry {
  distroNames: string[];
  typeNames: string[];
  bootmode: string;
}

function parseFilter(f: string): { prefix: Prefix | undefined; glob: string } {
  const idx = f.indexOf(':');
  if (idx === -1) return { prefix: undefined, glob: f };
  const prefix = f.slice(0, idx);
  if (!(FILTER_PREFIXES as readonly string[]).includes(prefix)) {
    throw new KilnError(`unsupported filter prefix "${prefix}" in "${f}": supported prefixes are ${FILTER_PREFIXES.map((p) => `"${p}:"`).join(', ')}`);
  }
  return { prefix: prefix as Prefix, glob: f.slice(idx + 1) };
}

function matches(c: Candidate, prefix: Prefix | undefined, glob: string): boolean {
  const any = (xs: string[]): boolean => xs.some((x) => globMatch(glob, x));
  switch (prefix) {
    case 'distro': return any(c.distroNames);
    case 'arch': return globMatch(glob, c.arch);
    case 'type': return any(c.typeNames);
    case 'bootmode': return globMatch(glob, c.bootmode);
    default: return any(c.distroNames) || globMatch(glob, c.arch) || any(c.typeNames);
  }
}

export function listImages(defs: Definitions, filters: string[] = []): ImageListEntry[] {
  const parsed = filters.map(parseFilter);
  const out: ImageListEntry[] = [];
  for (const d of defs.distros) {
    const fam = defs.families.get(String(d.raw.defs_path));
    if (!fam) continue;
    const version = String(distroInfo(d).major_version);
    for (const it of fam.imageTypes.values()) {
      const arches = new Set<string>();
      for (const arch of ['x86_64', 'aarch64', 'ppc64le', 's390x', 'riscv64']) {
        const t = { distroNames: [d.name, ...d.aliases], version, arch };
        const p = effectivePlatforms(it, t).find((x) => x.arch === arch);
        if (!p || arches.has(arch)) continue;
        arches.add(arch);
        const c: Candidate = {
          distro: d.name, type: it.name, arch,
          distroNames: [d.name, ...d.aliases],
          typeNames: [it.name, ...((it.raw.name_aliases as string[] | undefined) ?? [])],
          bootmode: bootModeOf(p as { uefi_vendor?: string; bios_platform?: string; zipl_support?: boolean }),
        };
        if (parsed.every((f) => matches(c, f.prefix, f.glob))) out.push({ distro: c.distro, type: c.type, arch });
      }
    }
  }
  return out.sort((a, b) => a.distro.localeCompare(b.distro) || a.type.localeCompare(b.type) || a.arch.localeCompare(b.arch));
}
