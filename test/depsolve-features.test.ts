// Hand-written depsolve cases, one feature each; expectations follow rpm/dnf semantics.
// Every case is also run through libsolv (python3-solv, configured like dnf) and must agree.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import { libsolv, pkg } from './helpers/depsolve-fixtures.js';
import { depsolve, DepsolveError, type Transaction } from '../src/depsolve/index.js';
import { formatNevra } from '../src/rpm/nevra.js';
import type { CompsGroup, Package } from '../src/rpm/types.js';

const tx = (include: string[], o: Partial<Transaction> = {}): Transaction => ({ include, exclude: [], installWeakDeps: false, ...o });
const tmp = fs.mkdtempSync(os.tmpdir() + '/kiln-depsolve-feat-');
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function solve(pkgs: Package[], txs: Transaction[], arch = 'x86_64', groups?: CompsGroup[]): string[][] {
  const ref = libsolv(tmp, pkgs, txs, arch, groups);
  let got: string[][];
  try {
    got = depsolve(pkgs, txs, { arch, groups }).transactions.map((t) => t.map(formatNevra));
  } catch (e) {
    assert.equal(ref.ok, false, `kiln failed (${(e as Error).message}) but libsolv solved it: ${JSON.stringify(ref.transactions)}`);
    throw e;
  }
  assert.ok(ref.ok, `kiln solved it but libsolv failed: ${ref.problems?.join('; ')}`);
  assert.deepEqual(got.map((t) => [...t].sort()), ref.transactions, 'kiln and libsolv disagree');
  return got;
}
function solve1(pkgs: Package[], include: string[], o: Partial<Transaction> = {}, arch = 'x86_64'): string[] {
  return solve(pkgs, [tx(include, o)], arch)[0]!;
}
function fails(f: () => unknown, ...parts: string[]): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof DepsolveError, `not a DepsolveError: ${e}`);
    for (const p of parts) assert.ok(e.message.includes(p), `'${e.message}' should contain '${p}'`);
    return true;
  });
}

test('versioned requires against versioned provides (release-less requirement)', () => {
  const repo = [pkg('bar-1.0-1.x86_64', { requires: ['libfoo >= 1'] }), pkg('foo-1.2-3.x86_64', { provides: ['libfoo = 1.2-3'] })];
  assert.deepEqual(solve1(repo, ['bar']), ['bar-1.0-1.x86_64', 'foo-1.2-3.x86_64']);
  const broken = [pkg('bar-1.0-1.x86_64', { requires: ['libfoo >= 2'] }), pkg('foo-1.2-3.x86_64', { provides: ['libfoo = 1.2-3'] })];
  fails(() => solve1(broken, ['bar']), 'nothing provides libfoo >= 2 needed by bar-1.0-1.x86_64');
  // an unversioned provide satisfies any versioned requirement
  const unv = [pkg('bar-1.0-1.x86_64', { requires: ['libfoo >= 9'] }), pkg('foo-1-1.x86_64', { provides: ['libfoo'] })];
  assert.deepEqual(solve1(unv, ['bar']), ['bar-1.0-1.x86_64', 'foo-1-1.x86_64']);
});

test('newest candidate wins unless a requirement caps the version; epochs count', () => {
  const repo = [pkg('foo-1.0-1.noarch'), pkg('foo-2.0-1.noarch'), pkg('foo-1:0.5-1.noarch'), pkg('app-1-1.noarch', { requires: ['foo < 1:0'] })];
  assert.deepEqual(solve1(repo, ['foo']), ['foo-1:0.5-1.noarch']);
  assert.deepEqual(solve1(repo, ['app']), ['app-1-1.noarch', 'foo-2.0-1.noarch']);
  const tilde = [pkg('x-1.0-1.noarch'), pkg('x-1.0~rc1-2.noarch')];
  assert.deepEqual(solve1(tilde, ['x']), ['x-1.0-1.noarch']);
});

test('file requires are satisfied by package files; specs may be paths', () => {
  const repo = [
    pkg('app-1-1.noarch', { requires: ['/usr/bin/python3', '/usr/share/app/data'] }),
    pkg('python3-3.13-1.x86_64', { files: ['/usr/bin/python3'] }),
    pkg('app-data-1-1.noarch', { files: ['/usr/share/app/data'] }),
    pkg('self-1-1.noarch', { requires: ['/etc/self.conf'], files: ['/etc/self.conf'] }),
  ];
  assert.deepEqual(solve1(repo, ['app']), ['app-1-1.noarch', 'app-data-1-1.noarch', 'python3-3.13-1.x86_64']);
  assert.deepEqual(solve1(repo, ['/usr/bin/python3']), ['python3-3.13-1.x86_64']);
  assert.deepEqual(solve1(repo, ['self']), ['self-1-1.noarch']);
});

test('conflicts: alternatives avoid a conflicting provider; a conflicting request fails naming both', () => {
  const repo = [
    pkg('baz-1-1.noarch', { conflicts: ['qux'] }),
    pkg('qux-2-1.noarch', { provides: ['engine'] }),
    pkg('zed-1-1.noarch', { provides: ['engine'] }),
    pkg('user-1-1.noarch', { requires: ['engine'] }),
  ];
  assert.deepEqual(solve1(repo, ['user']), ['qux-2-1.noarch', 'user-1-1.noarch']);
  assert.deepEqual(solve1(repo, ['baz', 'user']), ['baz-1-1.noarch', 'user-1-1.noarch', 'zed-1-1.noarch']);
  fails(() => solve1(repo, ['baz', 'qux']), 'package baz-1-1.noarch conflicts with qux provided by qux-2-1.noarch');
});

test('obsoletes match names: the replacement is chosen and cannot sit next to the old package', () => {
  const repo = [
    pkg('old-1-1.noarch'),
    pkg('new-2-1.noarch', { provides: ['old = 2'], obsoletes: ['old < 2'] }),
    pkg('user-1-1.noarch', { requires: ['old'] }),
    // obsoletes do not match provides: this one does not block 'engine' providers
    pkg('other-1-1.noarch', { obsoletes: ['engine'] }),
    pkg('motor-1-1.noarch', { provides: ['engine'] }),
  ];
  assert.deepEqual(solve1(repo, ['user']), ['new-2-1.noarch', 'user-1-1.noarch']);
  fails(() => solve1(repo, ['new', 'old']), 'new-2-1.noarch', 'old-1-1.noarch');
  assert.deepEqual(solve1(repo, ['other', 'engine']), ['motor-1-1.noarch', 'other-1-1.noarch']);
});

test('multilib: i686 only when nothing in the x86_64 class satisfies; lock-step with the 64-bit twin', () => {
  const repo = [
    pkg('glibc-2.41-1.x86_64', { provides: ['libc.so.6()(64bit)'] }),
    pkg('glibc-2.41-1.i686', { provides: ['libc.so.6'] }),
    pkg('zlib-1.3-1.x86_64', { provides: ['libz.so.1()(64bit)'], requires: ['libc.so.6()(64bit)'] }),
    pkg('zlib-1.3-1.i686', { provides: ['libz.so.1'], requires: ['libc.so.6'] }),
    pkg('steam-1-1.i686', { requires: ['libz.so.1'] }),
  ];
  assert.deepEqual(solve1(repo, ['zlib']), ['glibc-2.41-1.x86_64', 'zlib-1.3-1.x86_64']);
  // the i686 libraries are pulled for the 32-bit program, each with its x86_64 twin
  assert.deepEqual(solve1(repo, ['steam']), [
    'glibc-2.41-1.i686', 'glibc-2.41-1.x86_64', 'steam-1-1.i686', 'zlib-1.3-1.i686', 'zlib-1.3-1.x86_64',
  ]);
  // aarch64: x86 packages do not exist for the solver
  fails(() => solve1(repo, ['zlib'], {}, 'aarch64'), "no package matches spec 'zlib'");
});

test('weak deps: recommends only with installWeakDeps; supplements of installed packages', () => {
  const repo = [
    pkg('app-1-1.noarch', { recommends: ['app-extras', 'missing-thing'] }),
    pkg('app-extras-1-1.noarch'),
    pkg('app-langpack-1-1.noarch', { supplements: ['(app and langpacks-en)'] }),
    pkg('langpacks-en-1-1.noarch'),
    pkg('unrelated-lp-1-1.noarch', { supplements: ['unrelated'] }),
  ];
  assert.deepEqual(solve1(repo, ['app']), ['app-1-1.noarch']);
  assert.deepEqual(solve1(repo, ['app'], { installWeakDeps: true }), ['app-1-1.noarch', 'app-extras-1-1.noarch']);
  assert.deepEqual(solve1(repo, ['app', 'langpacks-en'], { installWeakDeps: true }), [
    'app-1-1.noarch', 'app-extras-1-1.noarch', 'app-langpack-1-1.noarch', 'langpacks-en-1-1.noarch',
  ]);
});

test('specs: globs, provides, excludes by name and glob; no match is an error naming the spec', () => {
  const repo = [
    pkg('kernel-6.1-1.x86_64', { provides: ['installonlypkg(kernel)'] }),
    pkg('kernel-core-6.1-1.x86_64'),
    pkg('kernel-debug-6.1-1.x86_64'),
    pkg('vim-minimal-9-1.x86_64', { provides: ['vi'] }),
    pkg('nvi-1-1.x86_64', { provides: ['vi'] }),
  ];
  assert.deepEqual(solve1(repo, ['kernel*'], { exclude: ['*-debug'] }), ['kernel-6.1-1.x86_64', 'kernel-core-6.1-1.x86_64']);
  // the provider whose name sorts first is libsolv's choice
  assert.deepEqual(solve1(repo, ['vi']), ['nvi-1-1.x86_64']);
  assert.deepEqual(solve1(repo, ['vi'], { exclude: ['nvi'] }), ['vim-minimal-9-1.x86_64']);
  fails(() => solve1(repo, ['nonexistent']), "no package matches spec 'nonexistent'");
  fails(() => solve1(repo, ['nvi'], { exclude: ['nvi'] }), "no package matches spec 'nvi'");
  assert.deepEqual(solve1(repo, ['vim-minimal-9-1.x86_64']), ['vim-minimal-9-1.x86_64']);
});

test('@group installs mandatory and default packages, skips optional and missing ones', () => {
  const repo = [pkg('a-1-1.noarch'), pkg('b-1-1.noarch'), pkg('c-1-1.noarch')];
  const groups: CompsGroup[] = [
    {
      id: 'core', name: 'Core', default: true, uservisible: true,
      packages: [
        { name: 'a', type: 'mandatory' }, { name: 'b', type: 'default' }, { name: 'c', type: 'optional' }, { name: 'gone', type: 'default' },
      ],
    },
  ];
  assert.deepEqual(solve(repo, [tx(['@core'])], 'x86_64', groups), [['a-1-1.noarch', 'b-1-1.noarch']]);
  fails(() => solve(repo, [tx(['@nope'])], 'x86_64', groups), "'@nope'");
});

test('chained transactions: disjoint results, later ones see earlier packages; repoIds restrict', () => {
  const repo = [
    pkg('base-1-1.noarch'),
    pkg('lib-1-1.noarch', { requires: ['base'] }),
    pkg('app-1-1.noarch', { requires: ['lib', 'base'] }),
    pkg('lib-1-2.noarch', { requires: ['base'], repo: 'updates' }),
    pkg('tool-1-1.noarch', { repo: 'updates' }),
  ];
  const r = solve(repo, [tx(['lib'], { repoIds: ['base'] }), tx(['app'], { repoIds: ['base', 'updates'] })]);
  assert.deepEqual(r, [['base-1-1.noarch', 'lib-1-1.noarch'], ['app-1-1.noarch']]);
  assert.deepEqual(solve(repo, [tx(['lib'])]), [['base-1-1.noarch', 'lib-1-2.noarch']]);
  fails(() => solve(repo, [tx(['tool'], { repoIds: ['base'] })]), "no package matches spec 'tool'");
  const res = depsolve(repo, [tx(['lib'], { repoIds: ['base'] }), tx(['app'])], { arch: 'x86_64' });
  assert.deepEqual(res.packages.map(formatNevra), ['app-1-1.noarch', 'base-1-1.noarch', 'lib-1-1.noarch']);
});

test('rich dependencies', () => {
  const repo = [
    pkg('a-1-1.noarch', { requires: ['(b if c else d)', '(e or f)', '(g unless h)', '(api with api-tls)'] }),
    ...['b', 'c', 'd', 'e', 'f', 'g', 'h'].map((n) => pkg(`${n}-1-1.noarch`)),
    pkg('plain-1-1.noarch', { provides: ['api'] }),
    pkg('tls-1-1.noarch', { provides: ['api', 'api-tls'] }),
  ];
  // c vs d: c sorts first, so libsolv installs c, and then b is required
  assert.deepEqual(solve1(repo, ['a']), ['a-1-1.noarch', 'b-1-1.noarch', 'c-1-1.noarch', 'e-1-1.noarch', 'g-1-1.noarch', 'tls-1-1.noarch']);
  // libsolv reads (g unless h) as "g and not h"
  fails(() => solve1(repo, ['a', 'h']), 'a-1-1.noarch', '(g unless h)');
  const ue = [
    pkg('u-1-1.noarch', { requires: ['(g unless h else b)', '(e or f)'] }),
    ...['b', 'e', 'f', 'g', 'h'].map((n) => pkg(`${n}-1-1.noarch`)),
  ];
  assert.deepEqual(solve1(ue, ['u', 'h', 'f']), ['b-1-1.noarch', 'f-1-1.noarch', 'h-1-1.noarch', 'u-1-1.noarch']);
  assert.deepEqual(solve1(ue, ['u']), ['e-1-1.noarch', 'g-1-1.noarch', 'u-1-1.noarch']);
  const bad = [pkg('x-1-1.noarch', { requires: ['(y and or z)'] })];
  // libsolv silently accepts this; Kiln reports it (not compared with libsolv)
  fails(() => depsolve(bad, [tx(['x'])], { arch: 'x86_64' }), 'x-1-1.noarch', "invalid rich dependency '(y and or z)'");
});
