// EVR comparison, differentially against the installed rpm (rpm.vercmp through rpm --eval lua).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { comparePkgEvr, parseEvr, rangesOverlap, rpmvercmp } from '../src/rpm/evr.js';
import { formatNevra, parseNevra } from '../src/rpm/nevra.js';
import { mulberry32 } from './helpers/genrepo.js';

/** Ask rpm to compare many EVR pairs in one process. */
function rpmCompare(pairs: [string, string][]): number[] {
  const dir = fs.mkdtempSync(os.tmpdir() + '/kiln-evr-');
  try {
    const f = path.join(dir, 'pairs.txt');
    fs.writeFileSync(f, pairs.map(([a, b]) => `${a}\t${b}\n`).join(''));
    const out = execFileSync(
      'rpm',
      ['--eval', `%{lua: for l in io.lines("${f}") do local a,b = l:match("^(.-)\\t(.*)$"); print(rpm.vercmp(a,b) .. "\\n") end}`],
      { encoding: 'utf8', maxBuffer: 64 << 20 },
    );
    return out.trim().split('\n').map(Number);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function genVersion(rnd: () => number): string {
  const atoms = ['0', '1', '2', '9', '10', '007', '00', 'a', 'b', 'rc', 'beta', 'Z', '.', '.', '_', '+', '~', '~', '^', '^'];
  const n = 1 + Math.floor(rnd() * 6);
  let s = '';
  for (let i = 0; i < n; i++) s += atoms[Math.floor(rnd() * atoms.length)];
  return s;
}

test('rpmvercmp agrees with rpm on generated version pairs', () => {
  const rnd = mulberry32(42);
  const pairs: [string, string][] = [
    ['1.0~rc1', '1.0'],
    ['1.0^', '1.0'],
    ['1.0^git1', '1.0.1'],
    ['1.0^git1', '1.0~rc1'],
    ['1.0', '1.0.0'],
    ['1.01', '1.1'],
    ['2a', '2.0'],
    ['a', '1'],
    ['1.0~~', '1.0~'],
    ['1_0', '1.0'],
  ];
  for (let i = 0; i < 3000; i++) {
    const a = genVersion(rnd);
    // half of the pairs share a prefix, so that the interesting tail decides
    const r = rnd();
    const b =
      r < 0.15
        ? // equal to rpm though spelled differently: other separators, leading zeros
          a.replace(/\./g, rnd() < 0.5 ? '_' : '+').replace(/(^|\D)(\d)/g, '$10$2')
        : r < 0.55
          ? a.slice(0, Math.floor(rnd() * a.length)) + genVersion(rnd)
          : genVersion(rnd);
    pairs.push([a, b]);
  }
  const want = rpmCompare(pairs);
  assert.equal(want.length, pairs.length);
  // the generated pairs must exercise all three outcomes
  for (const v of [-1, 0, 1]) assert.ok(want.filter((w) => w === v).length > 50, `too few pairs comparing ${v}`);
  const bad = pairs.map((p, i) => [p, want[i], rpmvercmp(p[0], p[1])] as const).filter(([, w, g]) => w !== g);
  assert.deepEqual(bad.slice(0, 10), []);
});

test('full EVR comparison (epoch, version, release) agrees with rpm', () => {
  const rnd = mulberry32(7);
  const pairs: [string, string][] = [];
  const objs: [ReturnType<typeof parseEvr>, ReturnType<typeof parseEvr>][] = [];
  for (let i = 0; i < 1000; i++) {
    const mk = () => {
      const e = rnd() < 0.3 ? Math.floor(rnd() * 3) : 0;
      const v = genVersion(rnd).replace(/[~^]$/, '') || '1';
      const r = (genVersion(rnd).replace(/[~^]/g, '') || '1') + (rnd() < 0.5 ? '.fc42' : '');
      return { e, v, r };
    };
    const a = mk();
    const b = rnd() < 0.5 ? { ...a, r: mk().r } : mk();
    const sa = `${a.e}:${a.v}-${a.r}`;
    const sb = `${b.e}:${b.v}-${b.r}`;
    pairs.push([sa, sb]);
    objs.push([parseEvr(sa), parseEvr(sb)]);
  }
  const want = rpmCompare(pairs);
  for (let i = 0; i < pairs.length; i++) {
    const [a, b] = objs[i]!;
    const got = comparePkgEvr(
      { epoch: a.epoch, version: a.version, release: a.release! },
      { epoch: b.epoch, version: b.version, release: b.release! },
    );
    assert.equal(got, want[i], `${pairs[i]![0]} vs ${pairs[i]![1]}`);
  }
});

test('dependency ranges: release-less requirements and flags', () => {
  const req = (flags: 'EQ' | 'LT' | 'LE' | 'GT' | 'GE', v: string) => {
    const e = parseEvr(v);
    return { name: 'foo', flags, epoch: e.epoch, version: e.version, release: e.release };
  };
  const prov = req('EQ', '1.2-3');
  // rpm's documented behaviour: a requirement without release ignores the provider's release
  assert.equal(rangesOverlap(req('GE', '1'), prov), true);
  assert.equal(rangesOverlap(req('EQ', '1.2'), prov), true);
  assert.equal(rangesOverlap(req('GT', '1.2'), prov), false);
  assert.equal(rangesOverlap(req('LT', '1.2'), prov), false);
  assert.equal(rangesOverlap(req('LE', '1.2-2'), prov), false);
  assert.equal(rangesOverlap(req('GE', '1.2-4'), prov), false);
  assert.equal(rangesOverlap(req('GE', '1:0.1'), prov), false);
  assert.equal(rangesOverlap(req('LT', '2'), req('GT', '1')), true);
  assert.equal(rangesOverlap(req('LT', '1'), req('GT', '1')), false);
  // unversioned provide matches any requirement, unversioned requirement any provide
  assert.equal(rangesOverlap(req('GE', '99'), { name: 'foo' }), true);
  assert.equal(rangesOverlap({ name: 'foo' }, prov), true);
});

test('NEVRA format and parse', () => {
  const p = { name: 'glibc-langpack-en', epoch: 0, version: '2.41', release: '1.fc42', arch: 'x86_64' };
  assert.equal(formatNevra(p), 'glibc-langpack-en-2.41-1.fc42.x86_64');
  assert.deepEqual(parseNevra('glibc-langpack-en-2.41-1.fc42.x86_64'), p);
  assert.deepEqual(parseNevra('bash-1:5.2-3.noarch'), { name: 'bash', epoch: 1, version: '5.2', release: '3', arch: 'noarch' });
  assert.equal(parseNevra('nonsense'), undefined);
});
