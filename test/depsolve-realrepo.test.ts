// Depsolve over a real repository: packages built with rpmbuild, metadata by createrepo_c, read
// with src/repo's loadRepo; the result must match libsolv's on the same metadata.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadRepo } from '../src/repo/load.js';
import { depsolve, DepsolveError } from '../src/depsolve/index.js';
import { formatNevra } from '../src/rpm/nevra.js';
import type { Package } from '../src/rpm/types.js';

const script = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../test/helpers/libsolv_solve.py');
const tmp = fs.mkdtempSync(os.tmpdir() + '/kiln-depsolve-real-');
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

interface Spec {
  name: string;
  version: string;
  arch?: 'noarch' | 'x86_64';
  tags?: string[];
  files?: string[];
}

const SPECS: Spec[] = [
  { name: 'foo', version: '1.0' },
  { name: 'foo', version: '1.2', tags: ['Provides: libfoo = 1.2'] },
  { name: 'tool', version: '3', files: ['/usr/bin/tool', '/usr/share/tool/data'] },
  { name: 'alpha-impl', version: '1', tags: ['Provides: impl'] },
  { name: 'beta-impl', version: '1', tags: ['Provides: impl'] },
  { name: 'extras', version: '1' },
  { name: 'lang', version: '1', tags: ['Supplements: (app and foo)'] },
  { name: 'oldname', version: '1' },
  { name: 'newname', version: '2', tags: ['Provides: oldname = 2', 'Obsoletes: oldname < 2'] },
  {
    name: 'app',
    version: '1',
    tags: [
      'Requires: foo >= 1.1',
      'Requires: /usr/share/tool/data',
      'Requires: (impl if foo)',
      'Requires: oldname',
      'Requires(post): /usr/bin/tool',
      'Recommends: extras',
      'Conflicts: beta-impl',
    ],
  },
  { name: 'needs-missing', version: '1', tags: ['Requires: libmissing >= 2'] },
];

function specText(s: Spec): string {
  const files = s.files ?? [`/usr/share/${s.name}/${s.name}.txt`];
  return `Name: ${s.name}
Version: ${s.version}
Release: 1
Summary: test package ${s.name}
License: MIT
BuildArch: ${s.arch ?? 'noarch'}
${(s.tags ?? []).join('\n')}
%description
test package
%install
${files.map((f) => `mkdir -p %{buildroot}${path.dirname(f)} && echo x > %{buildroot}${f}`).join('\n')}
%files
${files.join('\n')}
`;
}

let pkgs: Package[] = [];
let primary = '';
let filelists = '';
before(async () => {
  const top = path.join(tmp, 'rpmbuild');
  const repo = path.join(tmp, 'repo');
  fs.mkdirSync(repo, { recursive: true });
  for (const s of SPECS) {
    const f = path.join(tmp, `${s.name}-${s.version}.spec`);
    fs.writeFileSync(f, specText(s));
    execFileSync('rpmbuild', ['-bb', '--quiet', '--define', `_topdir ${top}`, f], { stdio: 'pipe' });
  }
  for (const d of fs.readdirSync(path.join(top, 'RPMS'))) {
    for (const r of fs.readdirSync(path.join(top, 'RPMS', d))) fs.copyFileSync(path.join(top, 'RPMS', d, r), path.join(repo, r));
  }
  execFileSync('createrepo_c', ['--quiet', repo]);
  const loaded = await loadRepo({ id: 'real', baseurl: [`file://${repo}`] }, { arch: 'x86_64' });
  pkgs = loaded.packages;
  const rd = fs.readdirSync(path.join(repo, 'repodata'));
  primary = path.join(repo, 'repodata', rd.find((f) => f.endsWith('primary.xml.gz') || f.includes('primary.xml'))!);
  filelists = path.join(repo, 'repodata', rd.find((f) => f.includes('filelists.xml'))!);
});

function libsolv(include: string[], weak: boolean): { ok: boolean; transactions?: string[][]; problems?: string[] } {
  const f = path.join(tmp, `req-${include.join('_').replace(/\W/g, '')}-${weak}.json`);
  const tx = { include, exclude: [], installWeakDeps: weak };
  fs.writeFileSync(f, JSON.stringify({ arch: 'x86_64', repos: [{ id: 'real', primary, filelists }], requests: [{ name: 'r', transactions: [tx] }] }));
  return JSON.parse(execFileSync('/usr/bin/python3', [script, f], { encoding: 'utf8' }))[0];
}

for (const [include, weak] of [
  [['app'], false],
  [['app'], true],
  [['foo', 'impl'], false],
  [['/usr/bin/tool', 'libfoo'], true],
] as const) {
  test(`real repo: ${include.join(' ')} (weak ${weak}) matches libsolv`, () => {
    const want = libsolv([...include], weak);
    assert.ok(want.ok, want.problems?.join('; '));
    const got = depsolve(pkgs, [{ include: [...include], exclude: [], installWeakDeps: weak }], { arch: 'x86_64' });
    assert.deepEqual(got.transactions.map((t) => t.map(formatNevra).sort()), want.transactions);
  });
}

test('real repo: the expected packages for app (independent of libsolv)', () => {
  const got = depsolve(pkgs, [{ include: ['app'], exclude: [], installWeakDeps: true }], { arch: 'x86_64' }).packages.map((p) => p.name);
  // foo >= 1.1 -> foo-1.2; (impl if foo) with beta-impl in conflict -> alpha-impl; oldname -> newname
  // (it obsoletes oldname-1); recommends extras; lang supplements (app and foo)
  assert.deepEqual(got, ['alpha-impl', 'app', 'extras', 'foo', 'lang', 'newname', 'tool']);
  assert.equal(pkgs.find((p) => p.name === 'foo' && p.version === '1.2') !== undefined, true);
});

test('real repo: unsatisfiable requirement names package and capability', () => {
  assert.throws(
    () => depsolve(pkgs, [{ include: ['needs-missing'], exclude: [], installWeakDeps: false }], { arch: 'x86_64' }),
    (e: unknown) => e instanceof DepsolveError && e.message === 'nothing provides libmissing >= 2 needed by needs-missing-1-1.noarch',
  );
  assert.equal(libsolv(['needs-missing'], false).ok, false);
});
