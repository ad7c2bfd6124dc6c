// NEVRA formatting/parsing: the spelling rpm, dnf and error messages use for one package.

import type { Package } from './types.js';

/** `name-[epoch:]version-release.arch` (epoch only when non-zero, like dnf). */
export function formatNevra(p: Pick<Package, 'name' | 'epoch' | 'version' | 'release' | 'arch'>): string {
  return `${p.name}-${p.epoch ? `${p.epoch}:` : ''}${p.version}-${p.release}.${p.arch}`;
}

export interface Nevra {
  name: string;
  epoch: number;
  version: string;
  release: string;
  arch: string;
}

/** Parse `name-[epoch:]version-release.arch`; undefined when the string does not have that shape. */
export function parseNevra(s: string): Nevra | undefined {
  const m = /^(.+)-(?:(\d+):)?([^-:]+)-([^-:]+)\.([^.-]+)$/.exec(s);
  if (!m) return undefined;
  return { name: m[1]!, epoch: m[2] ? Number(m[2]) : 0, version: m[3]!, release: m[4]!, arch: m[5]! };
}
