// Compact file lists (FileStore), lazy `files` on packages, and the metadata cache sections that
// hold them. Expected values come from the inputs written here, never from the code under test.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CorruptCacheError, decodeRepoCache, encodeRepoCache } from '../src/repo/cache.js';
import {
  FileStore,
  FileStoreBuilder,
  applyCompactFilelists,
  lazyFilesOf,
  parseFilelists,
  parseFilelistsCompact,
  setLazyFiles,
} from '../src/repo/filelists.js';
import { newPackage, ownString } from '../src/repo/primary.js';
import type { Package } from '../src/rpm/types.js';

const ENTRIES: string[][] = [
  ['/usr/bin/a', '/etc/a.conf', '/usr/share/doc/a/README'],
  [],
  ['/usr/share/é/naïve', '/usr/share/中文/文件', '/usr/bin/a'], // non-ASCII; /usr/bin/a twice
  ['/usr/bin/ab', '/usr/bin', ''], // prefixes of other paths, and an empty path
];

function build(entries: string[][], hint?: number): FileStore {
  const b = new FileStoreBuilder(hint);
  for (const files of entries) {
    for (const f of files) b.addFile(f);
    b.endEntry();
  }
  return b.finish();
}

/** owners computed from the input lists by brute force */
function expectedOwners(entries: string[][], path: string): number[] {
  return entries.flatMap((files, e) => (files.includes(path) ? [e] : []));
}

function chunked(s: string, n: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < s.length; i += n) out.push(s.slice(i, i + n));
  return out;
}

function pkgWith(name: string, checksum: string): Package {
  const p = newPackage('r');
  p.name = name;
  p.arch = 'x86_64';
  p.version = '1';
  p.release = '1';
  p.location = `${name}.rpm`;
  p.checksum = { type: 'sha256', value: checksum };
  return p;
}

describe('FileStore', () => {
  test('lists and owners match the input, including non-ASCII, empty and repeated paths', () => {
    for (const hint of [undefined, 1]) {
      const s = build(ENTRIES, hint);
      assert.equal(s.nEntries, ENTRIES.length);
      assert.equal(s.nFiles, ENTRIES.flat().length);
      ENTRIES.forEach((files, e) => assert.deepEqual(s.filesOf(e), files, `entry ${e}`));
      for (const path of [...new Set(ENTRIES.flat()), '/usr/bin/', '/usr/bin/abc', '/usr/share/é', '/nope']) {
        assert.deepEqual(s.owners(path), expectedOwners(ENTRIES, path), `owners of "${path}"`);
      }
      assert.equal(FileStore.check(s), undefined);
    }
  });

  test('many paths (builder growth, hash collisions, long probe runs)', () => {
    const entries: string[][] = [];
    for (let e = 0; e < 400; e++) entries.push(Array.from({ length: e % 7 }, (_, k) => `/usr/lib/pkg${e % 50}/file-${k}${e % 3 === 0 ? '-ü' : ''}`));
    const s = build(entries, 16);
    entries.forEach((files, e) => assert.deepEqual(s.filesOf(e), files));
    for (const path of new Set(entries.flat())) assert.deepEqual(s.owners(path), expectedOwners(entries, path), path);
  });

  test('check() rejects inconsistent tables', () => {
    const s = build(ENTRIES);
    const parts = { bytes: s.bytes, fileOff: s.fileOff, entryFile: s.entryFile, table: s.table };
    const badOff = Int32Array.from(s.fileOff);
    badOff[2] = badOff[1]!; // an empty slot: offsets must increase
    assert.match(FileStore.check({ ...parts, fileOff: badOff }) ?? '', /bad offset of file/);
    const badEntries = Int32Array.from(s.entryFile);
    badEntries[badEntries.length - 1] = 99;
    assert.match(FileStore.check({ ...parts, entryFile: badEntries }) ?? '', /entry offsets/);
    assert.match(FileStore.check({ ...parts, table: new Int32Array(3) }) ?? '', /hash table size/);
    // a damaged table (no empty slot, out-of-range values) must not hang or throw in owners()
    const full = new FileStore({ ...parts, table: new Int32Array(s.table.length).fill(1000) });
    assert.deepEqual(full.owners('/usr/bin/a'), []);
  });
});

describe('compact filelists parsing', () => {
  const XML =
    '<?xml version="1.0"?><filelists packages="3">' +
    '<package pkgid="AB12" name="n" arch="noarch"><version epoch="0" ver="1" rel="1"/><file>/a&amp;b</file><file type="dir">/d</file><file>/ü/x</file></package>' +
    '<package pkgid="cd34" name="m" arch="x86_64"><version epoch="0" ver="1" rel="1"/></package>' +
    '<package pkgid="ef56" name="o" arch="x86_64"><version epoch="0" ver="1" rel="1"/><file><![CDATA[/c d]]></file></package>' +
    '</filelists>';

  test('agrees with the string-based reader for every chunking', async () => {
    const ref = await parseFilelists([XML], { repo: 'r', file: 'f' });
    for (const n of [1, 3, 7, 1000]) {
      const c = await parseFilelistsCompact(chunked(XML, n), { repo: 'r', file: 'f' });
      assert.deepEqual(c.pkgids, ['ab12', 'cd34', 'ef56']);
      assert.deepEqual(c.names, ['n', 'm', 'o']);
      assert.deepEqual(c.archs, ['noarch', 'x86_64', 'x86_64']);
      ref.forEach((r, e) => assert.deepEqual(c.store.filesOf(e), r.files === '' ? [] : r.files.split('\u0001')));
    }
  });

  test('bad input names the file and the problem', async () => {
    await assert.rejects(parseFilelistsCompact(['<filelists><package name="x"></package></filelists>'], { repo: 'r', file: 'fl.xml' }), /repo "r": fl\.xml line 1: <package> without pkgid/);
    await assert.rejects(parseFilelistsCompact(['<metadata/>'], { repo: 'r', file: 'fl.xml' }), /expected <filelists>/);
    await assert.rejects(parseFilelistsCompact(['<filelists><package pkgid="a"><file>x</fil></package></filelists>'], { repo: 'r', file: 'fl.xml' }), /bad XML in fl\.xml/);
  });

  test('applyCompactFilelists matches by pkgid, and by name+arch for a repeated pkgid', async () => {
    const c = await parseFilelistsCompact([XML], { repo: 'r', file: 'f' });
    const n = pkgWith('n', 'ab12');
    n.arch = 'noarch';
    const o1 = pkgWith('o', 'ef56');
    const o2 = pkgWith('other', 'ef56'); // same checksum, different name: must not get o's files
    const lone = pkgWith('lone', 'ffff');
    lone.files.push('/etc/lone'); // primary's subset stays when filelists has no entry
    assert.equal(applyCompactFilelists(c, [n, o1, o2, lone]), 1); // cd34 matches nothing
    assert.deepEqual(n.files, ['/a&b', '/d', '/ü/x']);
    assert.deepEqual(o1.files, ['/c d']);
    assert.deepEqual(o2.files, []);
    assert.deepEqual(lone.files, ['/etc/lone']);
  });
});

describe('lazy package files', () => {
  test('behave like a plain array property', () => {
    const s = build(ENTRIES);
    const p = pkgWith('a', 'aa');
    setLazyFiles(p, s, 2);
    assert.ok(lazyFilesOf(p));
    assert.ok(Object.keys(p).includes('files'));
    assert.deepEqual({ ...p }.files, ENTRIES[2]);
    assert.deepEqual(JSON.parse(JSON.stringify(p)).files, ENTRIES[2]);
    assert.deepEqual(p.files, ENTRIES[2]);
    assert.equal(lazyFilesOf(p), undefined, 'decoded once, then kept');
    assert.equal(p.files, p.files);
    p.files.push('/extra');
    assert.deepEqual(p.files, [...ENTRIES[2]!, '/extra']);
    p.files = ['/x'];
    assert.deepEqual(p.files, ['/x']);
    // deep equality with a plain object literal holding the same values
    const q = pkgWith('b', 'bb');
    setLazyFiles(q, s, 0);
    assert.deepEqual(q, { ...q, files: [...ENTRIES[0]!] });
    // plain objects (not from newPackage) get a real array
    const plain = { ...pkgWith('c', 'cc'), files: [] as string[] };
    setLazyFiles(plain, s, 3);
    assert.ok(Array.isArray(Object.getOwnPropertyDescriptor(plain, 'files')!.value));
    assert.deepEqual(plain.files, ENTRIES[3]);
  });

  test('ownString copies the characters', () => {
    const big = 'x'.repeat(1000) + '/usr/lib64/libfoo.so.1()(64bit)' + 'y'.repeat(1000);
    const slice = big.slice(1000, 1000 + 31);
    assert.equal(ownString(slice), '/usr/lib64/libfoo.so.1()(64bit)');
    assert.equal(ownString('short'), 'short');
  });
});

describe('metadata cache with a file store', () => {
  function sample(): Package[] {
    const s = build(ENTRIES);
    const pkgs = ['a', 'b', 'c', 'd'].map((n, i) => {
      const p = pkgWith(n, `${n}${i}`);
      p.requires = [{ name: 'libc.so.6()(64bit)' }, { name: 'x', flags: 'GE', version: '1', release: '2', pre: true }];
      p.provides = [{ name: n, flags: 'EQ', epoch: 1, version: '1', release: '1' }];
      if (i < 3) setLazyFiles(p, s, i + 1);
      return p;
    });
    pkgs[3]!.files = ['/plain/one', '/plain/two']; // a package with a plain list
    return pkgs;
  }

  test('round trip keeps files, deps and shares identical deps', () => {
    const pkgs = sample();
    const dec = decodeRepoCache(encodeRepoCache({ packages: pkgs, groups: [], environments: [], info: {} }));
    assert.ok(lazyFilesOf(dec.packages[1]!), 'store-backed after decoding');
    assert.deepEqual(dec.packages, pkgs);
    assert.deepEqual(
      dec.packages.map((p) => p.files),
      [ENTRIES[1], ENTRIES[2], ENTRIES[3], ['/plain/one', '/plain/two']],
    );
    assert.equal(dec.packages[0]!.requires[0], dec.packages[2]!.requires[0]);
    assert.equal(dec.packages[0]!.requires[1], dec.packages[3]!.requires[1]);
    assert.notEqual(dec.packages[0]!.provides[0], dec.packages[1]!.provides[0]);
  });

  test('damage anywhere, including the file store, is detected', () => {
    const enc = encodeRepoCache({ packages: sample(), groups: [], environments: [], info: {} });
    for (const at of [20, Math.floor(enc.length / 2), enc.length - 40, enc.length - 1]) {
      const bad = Buffer.from(enc);
      bad[at] ^= 0x40;
      assert.throws(() => decodeRepoCache(bad), CorruptCacheError, `byte ${at}`);
    }
    assert.throws(() => decodeRepoCache(enc.subarray(0, enc.length - 8)), CorruptCacheError);
  });
});
