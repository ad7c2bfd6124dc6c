// dnf-style variable substitution in repository URLs: $arch, $basearch, $releasever
// (+ $releasever_major/_minor), also written as ${name}. Unknown variables are left alone.
import { KilnError } from '../util/errors.js';

const BASEARCH: Record<string, string> = {
  x86_64: 'x86_64',
  i386: 'i386',
  i486: 'i386',
  i586: 'i386',
  i686: 'i386',
  athlon: 'i386',
  geode: 'i386',
  aarch64: 'aarch64',
  ppc64le: 'ppc64le',
  ppc64: 'ppc64',
  s390x: 's390x',
  riscv64: 'riscv64',
  armv7hl: 'armhfp',
  armv7hnl: 'armhfp',
};

/** dnf's basearch of an rpm arch: x86_64 -> x86_64, i686 -> i386, aarch64 -> aarch64. */
export function basearch(arch: string): string {
  return BASEARCH[arch] ?? arch;
}

export interface SubstVars {
  arch: string;
  releasever?: string;
}

/** Replace variables in `s`; `what` names the input when $releasever is used but unknown. */
export function substitute(s: string, vars: SubstVars, what: string): string {
  if (!s.includes('$')) return s;
  const rv = vars.releasever;
  const values: Record<string, string | undefined> = {
    arch: vars.arch,
    basearch: basearch(vars.arch),
    releasever: rv,
    releasever_major: rv?.split('.')[0],
    releasever_minor: rv === undefined ? undefined : (rv.split('.')[1] ?? ''),
  };
  return s.replace(/\$(?:\{(\w+)\}|(\w+))/g, (m, braced: string | undefined, bare: string | undefined) => {
    const name = (braced ?? bare)!;
    if (!(name in values)) return m;
    const v = values[name];
    if (v === undefined) throw new KilnError(`${what}: $${name} is used in "${s}" but no release version was given`);
    return v;
  });
}
