// Differential test: Kiln's depsolver must choose exactly what libsolv (python3-solv, configured
// like dnf) chooses, over generated repositories with every dependency feature.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateRepo, writeRepo, type GenRequest } from './helpers/genrepo.js';
import { depsolve, DepsolveError } from '../src/depsolve/index.js';
import { formatNevra } from '../src/rpm/nevra.js';
import type { Package } from '../src/rpm/types.js';

const here = path.dirname(fileURLToPath(import.meta.url));
// the script lives next to the TypeScript sources (tsc does not copy .py files)
const script = path.resolve(here, '../../test/helpers/libsolv_solve.py');
const tmp = fs.mkdtempSync(os.tmpdir() + '/kiln-depsolve-diff-');
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

interface RefResult {
  name: string;
  ok: boolean;
  transactions?: string[][];
  problems?: string[];
}

function libsolv(arch: string, repos: { id: string; primary: string; filelists: string }[], groups: Record<string, string[]>, requests: GenRequest[]): RefResult[] {
  const f = path.join(tmp, `req-${Math.random().toString(36).slice(2)}.json`);
  fs.writeFileSync(f, JSON.stringify({ arch, repos, groups, requests }));
  return JSON.parse(execFileSync('/usr/bin/python3', [script, f], { encoding: 'utf8', maxBuffer: 256 << 20 })) as RefResult[];
}

/** An "updates" repo: newer releases of some packages, to exercise repoIds and newest-wins. */
function updatesRepo(base: Package[], every: number): Package[] {
  const out: Package[] = [];
  base.forEach((p, i) => {
    if (i % every !== 3 || p.name.startsWith('glibc')) return;
    const release = p.release.replace(/^(\d+)/, (m) => String(Number(m) + 10));
    out.push({
      ...p,
      release,
      repoId: 'updates',
      location: p.location.replace(p.release, release),
      checksum: { type: 'sha256', value: p.checksum.value.slice(0, 60) + 'beef' },
      provides: p.provides.map((d) => (d.name === p.name && d.flags === 'EQ' ? { ...d, release } : d)),
    });
  });
  return out;
}

// KILN_DIFF_SEEDS=N runs N more seeds (for soak runs; the default set keeps the suite fast)
const extra = Number(process.env.KILN_DIFF_SEEDS ?? 0);
const seeds: [number, 'x86_64' | 'aarch64'][] = [
  [1, 'x86_64'],
  [2, 'x86_64'],
  [3, 'aarch64'],
  [4, 'x86_64'],
  [5, 'x86_64'],
  [6, 'aarch64'],
  [7, 'x86_64'],
  [8, 'x86_64'],
];
for (let i = 0; i < extra; i++) seeds.push([100 + i, i % 3 === 2 ? 'aarch64' : 'x86_64']);
for (const [seed, arch] of seeds) {
  test(`depsolve matches libsolv: seed ${seed} ${arch}`, () => {
    const g = generateRepo({ seed, apps: 160, arch, repoId: 'gen' });
    const upd = updatesRepo(g.packages, 17);
    const dir = path.join(tmp, `s${seed}`);
    const w1 = writeRepo(path.join(dir, 'gen'), g.packages, { gzip: seed % 2 === 0 });
    const w2 = writeRepo(path.join(dir, 'updates'), upd);
    const all = [...g.packages, ...upd];
    const updNames = [...new Set(upd.filter((p) => !p.name.includes('-')).map((p) => p.name))].slice(0, 4);
    const requests: GenRequest[] = [
      ...g.requests,
      { name: 'repoids-base-only', transactions: [{ include: updNames, exclude: [], installWeakDeps: false, repoIds: ['gen'] }] },
      { name: 'repoids-all', transactions: [{ include: updNames, exclude: [], installWeakDeps: true }] },
      {
        name: 'chain-repoids',
        transactions: [
          { include: updNames.slice(0, 2), exclude: [], installWeakDeps: false, repoIds: ['gen'] },
          { include: updNames.slice(2), exclude: [], installWeakDeps: true, repoIds: ['gen', 'updates'] },
        ],
      },
    ];
    const groups = Object.fromEntries(g.groups.map((x) => [x.id, x.packages.filter((p) => p.type === 'mandatory' || p.type === 'default').map((p) => p.name)]));
    const ref = libsolv(
      arch,
      [
        { id: 'gen', primary: w1.primary, filelists: w1.filelists },
        { id: 'updates', primary: w2.primary, filelists: w2.filelists },
      ],
      groups,
      requests,
    );
    assert.equal(ref.length, requests.length);
    let compared = 0;
    let nonTrivial = 0;
    for (const [k, rq] of requests.entries()) {
      const want = ref[k]!;
      let got: string[][] | undefined;
      let err: unknown;
      try {
        got = depsolve(all, rq.transactions, { arch, groups: g.groups }).transactions.map((t) => t.map(formatNevra).sort());
      } catch (e) {
        err = e;
      }
      if (!want.ok) {
        assert.ok(err instanceof DepsolveError, `${rq.name}: libsolv failed (${want.problems?.join('; ')}) but kiln gave ${JSON.stringify(got)}`);
        for (const s of rq.expectError ?? []) assert.ok((err as Error).message.includes(s), `${rq.name}: '${(err as Error).message}' should mention ${s}`);
        continue;
      }
      assert.ok(!rq.expectError, `${rq.name}: libsolv unexpectedly succeeded`);
      if (err) throw new Error(`${rq.name}: kiln failed but libsolv solved it: ${(err as Error).message}`);
      assert.deepEqual(got, want.transactions, `${rq.name} (${JSON.stringify(rq.transactions)})`);
      compared++;
      if (want.transactions!.flat().length > 5) nonTrivial++;
    }
    assert.ok(compared >= 20, `only ${compared} successful comparisons`);
    assert.ok(nonTrivial >= 10);
  });
}
