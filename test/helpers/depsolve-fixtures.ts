// Fixtures shared by the hand-written depsolve tests: packages written as short strings, and
// libsolv (python3-solv via test/helpers/libsolv_solve.py, configured like dnf) as the reference
// solver for the same request.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHash } from 'node:crypto';
import { writeRepo } from './genrepo.js';
import type { Transaction } from '../../src/depsolve/index.js';
import type { CompsGroup, Dep, DepFlag, Package } from '../../src/rpm/types.js';

/** `foo`, `foo >= 1.2-3`, `(a or b)` */
export function dep(s: string): Dep {
  if (s.startsWith('(')) return { name: s };
  const m = /^(\S+)\s*(=|<|<=|>|>=)\s*(?:(\d+):)?([^-\s]+)(?:-(\S+))?$/.exec(s);
  if (!m) return { name: s };
  const flags = ({ '=': 'EQ', '<': 'LT', '<=': 'LE', '>': 'GT', '>=': 'GE' } as Record<string, DepFlag>)[m[2]!]!;
  return { name: m[1]!, flags, epoch: Number(m[3] ?? 0), version: m[4]!, ...(m[5] ? { release: m[5] } : {}) };
}

/** Dependency lists (in dep() notation), files and repository of a hand-made package. */
export type Extra = Partial<Record<'provides' | 'requires' | 'conflicts' | 'obsoletes' | 'recommends' | 'supplements', string[]>> & {
  files?: string[];
  repo?: string;
};

function makePkg(name: string, epoch: number, version: string, release: string, arch: string, x: Extra): Package {
  const nevra = `${name}-${epoch ? `${epoch}:` : ''}${version}-${release}.${arch}`;
  return {
    name, epoch, version, release, arch,
    location: `${nevra}.rpm`,
    checksum: { type: 'sha256', value: createHash('sha256').update(nevra).digest('hex') },
    provides: [{ name, flags: 'EQ', epoch, version, release }, ...(x.provides ?? []).map(dep)],
    requires: (x.requires ?? []).map(dep),
    conflicts: (x.conflicts ?? []).map(dep),
    obsoletes: (x.obsoletes ?? []).map(dep),
    recommends: (x.recommends ?? []).map(dep),
    suggests: [],
    supplements: (x.supplements ?? []).map(dep),
    enhances: [],
    files: x.files ?? [],
    repoId: x.repo ?? 'base',
  };
}

/** A package given by its NEVRA, `name-[epoch:]version-release.arch` */
export function pkg(nevra: string, x: Extra = {}): Package {
  const m = /^(.+)-(?:(\d+):)?([^-]+)-([^-]+)\.([^.]+)$/.exec(nevra);
  if (!m) throw new Error(`fixture: bad NEVRA '${nevra}'`);
  return makePkg(m[1]!, Number(m[2] ?? 0), m[3]!, m[4]!, m[5]!, x);
}

/** A noarch package `name-version-1` */
export function noarchPkg(name: string, version: string, x: Extra = {}): Package {
  return makePkg(name, 0, version, '1', 'noarch', x);
}

/** libsolv's answer for one request: its transactions (sorted NEVRAs each), or its problems. */
export interface LibsolvRef {
  ok: boolean;
  transactions?: string[][];
  problems?: string[];
}

const script = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../test/helpers/libsolv_solve.py');

/** Run libsolv on a request file ({arch, repos, groups, requests}): one answer per request. */
export function libsolvRequests(file: string): LibsolvRef[] {
  return JSON.parse(execFileSync('/usr/bin/python3', [script, file], { encoding: 'utf8', maxBuffer: 64 << 20 })) as LibsolvRef[];
}

/**
 * libsolv's answer for `txs` over `pkgs` (one repository per repoId), written to a fresh
 * directory under `tmp` (the caller's temporary directory, removed by the caller).
 */
export function libsolv(tmp: string, pkgs: Package[], txs: Transaction[], arch: string, groups?: CompsGroup[]): LibsolvRef {
  const dir = fs.mkdtempSync(path.join(tmp, 'libsolv-'));
  const repos = [...new Set(pkgs.map((p) => p.repoId))].map((id) => {
    const w = writeRepo(path.join(dir, id), pkgs.filter((p) => p.repoId === id));
    return { id, primary: w.primary, filelists: w.filelists };
  });
  const g = Object.fromEntries((groups ?? []).map((x) => [x.id, x.packages.filter((p) => p.type === 'mandatory' || p.type === 'default').map((p) => p.name)]));
  const f = path.join(dir, 'req.json');
  fs.writeFileSync(f, JSON.stringify({ arch, repos, groups: g, requests: [{ name: 'r', transactions: txs }] }));
  return libsolvRequests(f)[0]!;
}
