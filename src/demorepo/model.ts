// Data model of the demo repository generator: what one generated package looks like before it
// is turned into a spec-file subpackage.

export type FileKind = 'file' | 'dir' | 'symlink';

export interface FileEntry {
  /** absolute path inside the installed system */
  path: string;
  kind: FileKind;
  /** file body (kind 'file') */
  content?: string;
  /** link target (kind 'symlink') */
  target?: string;
  /** permission bits; defaults 0644 files, 0755 dirs */
  mode?: number;
  /** %config(noreplace) */
  config?: boolean;
}

/** One binary package as the generator will build it. Dependency strings are rpm spec syntax. */
export interface DemoPackage {
  name: string;
  epoch?: number;
  version: string;
  /** full release including the dist tag, e.g. 1.fc42 */
  release: string;
  noarch: boolean;
  summary: string;
  license: string;
  requires: string[];
  recommends: string[];
  suggests: string[];
  supplements: string[];
  provides: string[];
  conflicts: string[];
  obsoletes: string[];
  files: FileEntry[];
}

/** Per-architecture facts the catalog needs to shape packages. */
export interface ArchContext {
  arch: string;
  releasever: string;
  /** dist tag with leading dot: .fc42 */
  dist: string;
  /** rpm ISA suffix as rpmbuild spells it, e.g. (x86-64); '' when unknown */
  isa: string;
  /** soname marker for 64-bit libraries: '(64bit)' or '' */
  bits: string;
  /** /usr/lib64 on 64-bit arches, else /usr/lib */
  libdir: string;
  /** kernel uname -r, e.g. 6.14.0-63.fc42.x86_64 */
  kver: string;
}

/** rpm's ISA names (rpmrc "arch_compat"/isa macros), needed to write `foo(x86-64)` deps. */
const ISA: Record<string, string> = {
  x86_64: '(x86-64)',
  aarch64: '(aarch-64)',
  ppc64le: '(ppc-64)',
  s390x: '(s390-64)',
  riscv64: '(riscv-64)',
  i686: '(x86-32)',
  armv7hl: '(arm-32)',
};

const SIXTY_FOUR = new Set(['x86_64', 'aarch64', 'ppc64le', 's390x', 'riscv64']);

export const KERNEL_VERSION = '6.14.0';
export const KERNEL_RELEASE_NUM = '63';

export function archContext(arch: string, releasever: string): ArchContext {
  const dist = `.fc${releasever}`;
  const is64 = SIXTY_FOUR.has(arch);
  return {
    arch,
    releasever,
    dist,
    isa: ISA[arch] ?? '',
    bits: is64 ? '(64bit)' : '',
    libdir: is64 ? '/usr/lib64' : '/usr/lib',
    kver: `${KERNEL_VERSION}-${KERNEL_RELEASE_NUM}${dist}.${arch}`,
  };
}
