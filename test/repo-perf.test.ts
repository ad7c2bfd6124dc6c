// Throughput of the metadata readers and of the cache on a synthetic Fedora-sized repository
// (default 20,000 packages to keep the suite fast; KILN_PERF_PACKAGES=60000 for Fedora size). Timings are printed as test
// diagnostics; the assertions are loose sanity bounds (the warm cache must be much faster
// than parsing, and everything must come back complete), not a benchmark.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import zlib from 'node:zlib';
import { loadRepo } from '../src/repo/load.js';

const N = Number(process.env.KILN_PERF_PACKAGES ?? 20000);
const ARCHES = ['x86_64', 'noarch', 'i686'];

function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

/** Primary/filelists entries shaped like Fedora's (sizes, dependency counts, soname deps). */
function generate(n: number): { primary: string; filelists: string } {
  const p: string[] = [`<?xml version="1.0" encoding="UTF-8"?>\n<metadata xmlns="http://linux.duke.edu/metadata/common" xmlns:rpm="http://linux.duke.edu/metadata/rpm" packages="${n}">\n`];
  const f: string[] = [`<?xml version="1.0" encoding="UTF-8"?>\n<filelists xmlns="http://linux.duke.edu/metadata/filelists" packages="${n}">\n`];
  for (let i = 0; i < n; i++) {
    const name = `pkg${i}`;
    const arch = ARCHES[i % 3]!;
    const ver = `1.${i % 100}.${i % 13}`;
    const rel = `${i % 5}.fc42`;
    const id = sha256(Buffer.from(name));
    const req: string[] = [];
    for (let j = 0; j < 14; j++) {
      const target = j < 4 ? `libc.so.6(GLIBC_2.${30 + j})(64bit)` : `pkg${(i * 7 + j * 131) % n}`;
      const extra = j === 5 ? ' flags="GE" epoch="0" ver="1.2"' : j === 6 ? ' pre="1"' : '';
      req.push(`      <rpm:entry name="${target}"${extra}/>\n`);
    }
    p.push(`<package type="rpm">
  <name>${name}</name>
  <arch>${arch}</arch>
  <version epoch="${i % 7 === 0 ? 1 : 0}" ver="${ver}" rel="${rel}"/>
  <checksum type="sha256" pkgid="YES">${id}</checksum>
  <summary>Summary of ${name} &amp; friends</summary>
  <description>A long description of ${name}. It does many useful things and this text is about as long as a typical one.
It spans lines and has &lt;special&gt; characters.</description>
  <packager>Fedora Project</packager>
  <url>https://example.org/${name}</url>
  <time file="1700000000" build="${1690000000 + i}"/>
  <size package="123456" installed="456789" archive="460000"/>
  <location href="Packages/p/${name}-${ver}-${rel}.${arch}.rpm"/>
  <format>
    <rpm:license>MIT AND (GPL-2.0-or-later OR LGPL-2.1-only)</rpm:license>
    <rpm:vendor>Fedora Project</rpm:vendor>
    <rpm:group>Unspecified</rpm:group>
    <rpm:buildhost>buildhw-x86-01.iad2.fedoraproject.org</rpm:buildhost>
    <rpm:sourcerpm>${name}-${ver}-${rel}.src.rpm</rpm:sourcerpm>
    <rpm:header-range start="4504" end="25457"/>
    <rpm:provides>
      <rpm:entry name="${name}" flags="EQ" epoch="0" ver="${ver}" rel="${rel}"/>
      <rpm:entry name="${name}(x86-64)" flags="EQ" epoch="0" ver="${ver}" rel="${rel}"/>
      <rpm:entry name="lib${name}.so.1()(64bit)"/>
      <rpm:entry name="config(${name})" flags="EQ" epoch="0" ver="${ver}" rel="${rel}"/>
    </rpm:provides>
    <rpm:requires>
${req.join('')}      <rpm:entry name="(pkgA if pkgB)"/>
    </rpm:requires>
    <rpm:recommends>
      <rpm:entry name="pkg${(i + 1) % n}"/>
    </rpm:recommends>
    <file>/usr/bin/${name}</file>
    <file>/etc/${name}.conf</file>
  </format>
</package>
`);
    let files = `<package pkgid="${id}" name="${name}" arch="${arch}">\n  <version epoch="0" ver="${ver}" rel="${rel}"/>\n  <file>/usr/bin/${name}</file>\n  <file>/etc/${name}.conf</file>\n  <file type="dir">/usr/share/${name}</file>\n`;
    for (let k = 0; k < 25; k++) files += `  <file>/usr/share/${name}/data/file-${k}.txt</file>\n`;
    f.push(files + '</package>\n');
  }
  p.push('</metadata>\n');
  f.push('</filelists>\n');
  return { primary: p.join(''), filelists: f.join('') };
}

function writeRepo(dir: string, primary: string, filelists: string): void {
  fs.mkdirSync(path.join(dir, 'repodata'), { recursive: true });
  const rec = (type: string, xml: string) => {
    const plain = Buffer.from(xml);
    const gz = zlib.gzipSync(plain, { level: 1 });
    const href = `repodata/${sha256(gz)}-${type}.xml.gz`;
    fs.writeFileSync(path.join(dir, href), gz);
    return `  <data type="${type}">
    <checksum type="sha256">${sha256(gz)}</checksum>
    <open-checksum type="sha256">${sha256(plain)}</open-checksum>
    <location href="${href}"/>
    <size>${gz.length}</size>
    <open-size>${plain.length}</open-size>
  </data>\n`;
  };
  const repomd = `<?xml version="1.0" encoding="UTF-8"?>\n<repomd xmlns="http://linux.duke.edu/metadata/repo">\n  <revision>1</revision>\n${rec('primary', primary)}${rec('filelists', filelists)}</repomd>\n`;
  fs.writeFileSync(path.join(dir, 'repodata/repomd.xml'), repomd);
}

describe(`repo performance (${N} synthetic packages)`, () => {
  let tmp: string;
  let primaryMB = 0;
  let filelistsMB = 0;
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-repo-perf-'));
    const { primary, filelists } = generate(N);
    primaryMB = primary.length / 1e6;
    filelistsMB = filelists.length / 1e6;
    writeRepo(path.join(tmp, 'repo'), primary, filelists);
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  test('primary only: cold parse, cache write, warm load', async (t) => {
    const cfg = { id: 'perf', baseurl: [pathToFileURL(path.join(tmp, 'repo')).toString()] };
    const opts = { arch: 'x86_64', filelists: false, cacheDir: path.join(tmp, 'cache-p') };
    let t0 = performance.now();
    const cold = await loadRepo(cfg, opts);
    const coldMs = performance.now() - t0;
    t0 = performance.now();
    const warm = await loadRepo(cfg, opts);
    const warmMs = performance.now() - t0;
    t.diagnostic(`primary.xml ${primaryMB.toFixed(0)} MB: cold ${coldMs.toFixed(0)} ms (${Math.round((N / coldMs) * 1000)} pkg/s incl. cache write), warm ${warmMs.toFixed(0)} ms`);
    assert.equal(cold.packages.length, N);
    assert.equal(warm.packages.length, N);
    assert.deepEqual(warm.packages[N - 1], cold.packages[N - 1]);
    assert.equal(warm.packages[N >> 1]!.requires.length, 15);
    assert.ok(warmMs < coldMs / 2, `warm ${warmMs} ms vs cold ${coldMs} ms`);
  });

  test('primary + filelists: cold and warm', async (t) => {
    const cfg = { id: 'perf-fl', baseurl: [pathToFileURL(path.join(tmp, 'repo')).toString()] };
    const opts = { arch: 'x86_64', cacheDir: path.join(tmp, 'cache-f') };
    let t0 = performance.now();
    const cold = await loadRepo(cfg, opts);
    const coldMs = performance.now() - t0;
    t0 = performance.now();
    const warm = await loadRepo(cfg, opts);
    const warmMs = performance.now() - t0;
    t.diagnostic(`primary ${primaryMB.toFixed(0)} MB + filelists ${filelistsMB.toFixed(0)} MB: cold ${coldMs.toFixed(0)} ms, warm ${warmMs.toFixed(0)} ms`);
    assert.equal(cold.packages[7]!.files.length, 28);
    assert.deepEqual(warm.packages[7]!.files, cold.packages[7]!.files);
    assert.ok(warmMs < coldMs / 2, `warm ${warmMs} ms vs cold ${coldMs} ms`);
  });
});
