// The solver with packages whose full file lists live in a compact FileStore (as loadRepo and
// the metadata cache produce them), mixed with packages that have plain `files` arrays: file
// requires, path specs and path globs must resolve the same way as with plain arrays, and the
// store-backed lists must not get decoded onto the packages by the solve.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { depsolve, DepsolveError } from '../src/depsolve/index.js';
import { FileStoreBuilder, lazyFilesOf, setLazyFiles } from '../src/repo/filelists.js';
import { newPackage } from '../src/repo/primary.js';
import type { Package } from '../src/rpm/types.js';

function mk(name: string, requires: string[] = []): Package {
  const p = newPackage('base');
  p.name = name;
  p.arch = 'x86_64';
  p.version = '1';
  p.release = '1';
  p.location = `${name}.rpm`;
  p.checksum = { type: 'sha256', value: name };
  p.provides = [{ name, flags: 'EQ', version: '1', release: '1' }];
  p.requires = requires.map((r) => ({ name: r }));
  return p;
}

/** packages plus the store lists given to some of them */
function fixture(): { pkgs: Package[]; lists: Map<string, string[]> } {
  const lists = new Map<string, string[]>([
    ['data', ['/usr/share/data/x.dat', '/usr/share/data/y.dat']],
    ['extra', ['/opt/extra/readme', '/opt/extra/bin/run']],
    ['globpkg', ['/opt/glob/a.conf', '/opt/glob/b.txt']],
    ['unused', ['/usr/share/unused/z']],
  ]);
  const pkgs = [
    mk('app', ['/usr/share/data/x.dat', '/usr/bin/tool', '(/opt/extra/bin/run if data)']),
    mk('data'),
    mk('extra'),
    mk('globpkg'),
    mk('unused'),
    mk('tool'),
    mk('broken', ['/usr/share/data/missing']),
  ];
  pkgs.find((p) => p.name === 'tool')!.files = ['/usr/bin/tool']; // plain, like primary's subset
  const b = new FileStoreBuilder();
  const order = [...lists.keys()];
  for (const n of order) {
    for (const f of lists.get(n)!) b.addFile(f);
    b.endEntry();
  }
  const store = b.finish();
  order.forEach((n, e) => setLazyFiles(pkgs.find((p) => p.name === n)!, store, e));
  return { pkgs, lists };
}

const names = (ps: Package[]) => ps.map((p) => p.name).sort();
const tx = (include: string[]) => [{ include, exclude: [], installWeakDeps: false }];

test('file requires (plain and rich) are satisfied from the file store', () => {
  const { pkgs } = fixture();
  const r = depsolve(pkgs, tx(['app']), { arch: 'x86_64' });
  assert.deepEqual(names(r.packages), ['app', 'data', 'extra', 'tool']);
  // the solve looked paths up in the store, it did not decode lists onto the packages
  for (const n of ['data', 'extra', 'globpkg', 'unused']) assert.ok(lazyFilesOf(pkgs.find((p) => p.name === n)!), `${n} still store-backed`);
});

test('path specs and path globs match files in the store', () => {
  const { pkgs } = fixture();
  assert.deepEqual(names(depsolve(pkgs, tx(['/opt/extra/readme']), { arch: 'x86_64' }).packages), ['extra']);
  assert.deepEqual(names(depsolve(pkgs, tx(['/opt/glob/*.conf']), { arch: 'x86_64' }).packages), ['globpkg']);
  assert.deepEqual(names(depsolve(pkgs, tx(['/usr/bin/tool']), { arch: 'x86_64' }).packages), ['tool']);
});

test('a file nobody owns is reported with the package and the path', () => {
  const { pkgs } = fixture();
  assert.throws(() => depsolve(pkgs, tx(['broken']), { arch: 'x86_64' }), (e: unknown) => e instanceof DepsolveError && /broken/.test(e.message) && /\/usr\/share\/data\/missing/.test(e.message));
  assert.throws(() => depsolve(pkgs, tx(['/opt/nothing/here']), { arch: 'x86_64' }), (e: unknown) => e instanceof DepsolveError && /\/opt\/nothing\/here/.test(e.message));
});

test('the same answers with the lists as plain arrays', () => {
  const { pkgs, lists } = fixture();
  const plain = pkgs.map((p) => ({ ...p, files: lists.get(p.name) ?? p.files }));
  assert.ok(plain.every((p) => lazyFilesOf(p) === undefined));
  assert.deepEqual(names(depsolve(plain, tx(['app']), { arch: 'x86_64' }).packages), ['app', 'data', 'extra', 'tool']);
  assert.deepEqual(names(depsolve(plain, tx(['/opt/glob/*.conf']), { arch: 'x86_64' }).packages), ['globpkg']);
});
