// Host defaults for `--distro` and `--arch`, as upstream: ID-VERSION_ID from os-release.
import { readFileSync } from 'node:fs';
import { KilnError } from '../util/errors.js';

export function parseOsRelease(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^\s*([A-Za-z0-9_]+)=(.*)$/.exec(line);
    if (!m) continue;
    let v = m[2]!.trim();
    if ((v.startsWith('"') && v.endsWith('"')) || (v.startsWith("'") && v.endsWith("'"))) v = v.slice(1, -1);
    out[m[1]!] = v.replace(/\\(["'\\$`])/g, '$1');
  }
  return out;
}

/** e.g. "fedora-42"; reads /etc/os-release, falling back to /usr/lib/os-release. */
export function hostDistro(paths: string[] = ['/etc/os-release', '/usr/lib/os-release']): string {
  for (const p of paths) {
    let text: string;
    try {
      text = readFileSync(p, 'utf8');
    } catch {
      continue;
    }
    const osr = parseOsRelease(text);
    if (!osr.ID || !osr.VERSION_ID) throw new KilnError(`${p}: cannot detect the host distro: ID and VERSION_ID are required`);
    if (osr.ID === 'almalinux' && /^10$/.test(osr.VERSION_ID)) return 'almalinux_kitten-10';
    return `${osr.ID}-${osr.VERSION_ID}`;
  }
  throw new KilnError(`cannot detect the host distro: none of ${paths.join(', ')} is readable; use --distro`);
}

const NODE_TO_RPM_ARCH: Record<string, string> = { x64: 'x86_64', arm64: 'aarch64', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };

export function hostArch(nodeArch: string = process.arch): string {
  const a = NODE_TO_RPM_ARCH[nodeArch];
  if (!a) throw new KilnError(`unsupported host architecture "${nodeArch}"; use --arch`);
  return a;
}
