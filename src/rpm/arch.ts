// Architecture compatibility for a host arch, following libsolv's arch policies: arches are
// grouped in classes ordered by preference; when choosing among candidates the solver keeps only
// the best class present (plus noarch). For x86_64 this makes i686 packages (multilib) a last
// resort: chosen only when nothing in the x86_64 class satisfies the dependency.

const POLICIES: Record<string, string[][]> = {
  x86_64: [['x86_64', 'amd64', 'ia32e'], ['i686'], ['i586'], ['i486'], ['i386']],
  i686: [['i686'], ['i586'], ['i486'], ['i386']],
  aarch64: [['aarch64']],
  ppc64le: [['ppc64le']],
  ppc64: [['ppc64'], ['ppc']],
  s390x: [['s390x']],
  riscv64: [['riscv64']],
  armv7hl: [['armv7hl'], ['armv7l'], ['armv6l'], ['armv5tel']],
};

export interface ArchPolicy {
  /** arch -> score: 1 for noarch, >= 2 for real arches (lower is better), absent = incompatible */
  score: Map<string, number>;
  /** arch -> class index (noarch: -1) */
  cls: Map<string, number>;
}

export function archPolicy(host: string): ArchPolicy {
  const classes = POLICIES[host] ?? [[host]];
  const score = new Map<string, number>([['noarch', 1]]);
  const cls = new Map<string, number>([['noarch', -1]]);
  let n = 2;
  classes.forEach((c, ci) => {
    for (const a of c) {
      score.set(a, n++);
      cls.set(a, ci);
    }
  });
  return { score, cls };
}

export function isArchCompatible(policy: ArchPolicy, arch: string): boolean {
  return policy.score.has(arch);
}
