// `when` blocks: every key must hold (AND). Versions compare numerically, component by component,
// so "9.10" > "9.9" and rawhide's major number compares like any other release.
export const WHEN_KEYS = [
  'distro_name', 'not_distro_name', 'arch',
  'version_less_than', 'version_equal', 'version_greater_or_equal',
] as const;
export type WhenKey = (typeof WHEN_KEYS)[number];
export type When = Partial<Record<WhenKey, string>>;

export interface ConditionTarget {
  /** all names the distro answers to (canonical + aliases) */
  distroNames: string[];
  /** e.g. "42" */
  version: string;
  arch: string;
}

export const VERSION_RE = /^\d+(\.\d+)*$/;

export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

export function whenMatches(when: When, t: ConditionTarget): boolean {
  for (const [k, v] of Object.entries(when) as [WhenKey, string][]) {
    const val = String(v);
    switch (k) {
      case 'distro_name': if (!t.distroNames.includes(val)) return false; break;
      case 'not_distro_name': if (t.distroNames.includes(val)) return false; break;
      case 'arch': if (t.arch !== val) return false; break;
      case 'version_less_than': if (!(compareVersions(t.version, val) < 0)) return false; break;
      case 'version_equal': if (compareVersions(t.version, val) !== 0) return false; break;
      case 'version_greater_or_equal': if (!(compareVersions(t.version, val) >= 0)) return false; break;
      default: return false;
    }
  }
  return true;
}
