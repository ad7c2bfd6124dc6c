// Reader-level tests: chunking must not change the result, entities and CDATA decode, and
// translations in comps are skipped.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseComps } from '../src/repo/comps.js';
import { parseFilelists } from '../src/repo/filelists.js';
import { parseMetalink, parseMirrorlist } from '../src/repo/mirrors.js';
import { parsePrimary } from '../src/repo/primary.js';
import { parseRepomd } from '../src/repo/repomd.js';

const PRIMARY = `<?xml version="1.0" encoding="UTF-8"?>
<!-- a comment with <tags> & stuff -->
<metadata xmlns="http://linux.duke.edu/metadata/common" xmlns:rpm="http://linux.duke.edu/metadata/rpm" packages="2">
<package type="rpm">
  <name>a&amp;b</name>
  <arch>x86_64</arch>
  <version epoch="3" ver="1.0~rc1" rel="2.fc42"/>
  <checksum type="sha256" pkgid="YES">ABCDEF</checksum>
  <summary>Tom &amp; Jerry &lt;3 &#x263A; &#9731;</summary>
  <description><![CDATA[raw <text> & more]]></description>
  <url></url>
  <time file="1" build="1700000000"/>
  <size package="10" installed="20" archive="30"/>
  <location href="Packages/a/a&amp;b-1.0~rc1-2.fc42.x86_64.rpm"/>
  <format>
    <rpm:license>MIT</rpm:license>
    <rpm:vendor/>
    <rpm:sourcerpm>a-1.0-2.src.rpm</rpm:sourcerpm>
    <rpm:provides>
      <rpm:entry name="a&amp;b" flags="EQ" epoch="3" ver="1.0~rc1" rel="2.fc42"/>
      <rpm:entry name="virt"/>
    </rpm:provides>
    <rpm:requires>
      <rpm:entry name="(x &gt;= 1 with x &lt; 2)"/>
      <rpm:entry name="y" flags="LT" epoch="0" ver="5"/>
      <rpm:entry name="/bin/sh" pre="1"/>
    </rpm:requires>
    <rpm:conflicts><rpm:entry name="c" flags="LE" epoch="1" ver="2" rel="3"/></rpm:conflicts>
    <rpm:suggests><rpm:entry name="s"/></rpm:suggests>
    <rpm:enhances><rpm:entry name="e"/></rpm:enhances>
    <file>/usr/bin/a b</file>
    <file type="dir">/etc/a</file>
  </format>
</package>
<package type="rpm">
  <name>z</name>
  <arch>noarch</arch>
  <version epoch="0" ver="1" rel="1"/>
  <checksum type="sha512" pkgid="YES">00ff</checksum>
  <summary>zed</summary>
  <description>multi
line
text</description>
  <location href="z.rpm"/>
  <format/>
</package>
</metadata>
`;

function chunked(s: string, n: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < s.length; i += n) out.push(s.slice(i, i + n));
  return out;
}

describe('repo readers', () => {
  test('primary: fields, entities, CDATA, deps', async () => {
    const [a, z] = await parsePrimary([PRIMARY], 'r', { repo: 'r', file: 'primary.xml' });
    assert.equal(a!.name, 'a&b');
    assert.equal(a!.epoch, 3);
    assert.equal(a!.version, '1.0~rc1');
    assert.equal(a!.summary, 'Tom & Jerry <3 \u263a \u2603');
    assert.equal(a!.description, 'raw <text> & more');
    assert.equal(a!.url, undefined);
    assert.equal(a!.vendor, undefined);
    assert.equal(a!.location, 'Packages/a/a&b-1.0~rc1-2.fc42.x86_64.rpm');
    assert.deepEqual(a!.checksum, { type: 'sha256', value: 'abcdef' });
    assert.equal(a!.buildTime, 1700000000);
    assert.equal(a!.downloadSize, 10);
    assert.equal(a!.installSize, 20);
    assert.deepEqual(a!.provides, [{ name: 'a&b', flags: 'EQ', epoch: 3, version: '1.0~rc1', release: '2.fc42' }, { name: 'virt' }]);
    assert.deepEqual(a!.requires, [{ name: '(x >= 1 with x < 2)' }, { name: 'y', flags: 'LT', version: '5' }, { name: '/bin/sh', pre: true }]);
    assert.deepEqual(a!.conflicts, [{ name: 'c', flags: 'LE', epoch: 1, version: '2', release: '3' }]);
    assert.deepEqual(a!.suggests, [{ name: 's' }]);
    assert.deepEqual(a!.enhances, [{ name: 'e' }]);
    assert.deepEqual(a!.files, ['/usr/bin/a b', '/etc/a']);
    assert.equal(z!.description, 'multi\nline\ntext');
    assert.deepEqual(z!.provides, []);
  });

  test('primary: any chunking gives the same result', async () => {
    const whole = await parsePrimary([PRIMARY], 'r', { repo: 'r', file: 'p' });
    for (const n of [1, 2, 3, 7, 64, 1000]) assert.deepEqual(await parsePrimary(chunked(PRIMARY, n), 'r', { repo: 'r', file: 'p' }), whole, `chunk size ${n}`);
  });

  test('primary: wrong root and missing fields are errors', async () => {
    await assert.rejects(parsePrimary(['<filelists/>'], 'r', { repo: 'r', file: 'p.xml' }), /repo "r": p\.xml line 1: expected <metadata>/);
    await assert.rejects(parsePrimary(['<metadata><package><name>x</name><arch>noarch</arch></package></metadata>'], 'r', { repo: 'r', file: 'p.xml' }), /package "x" has no <location href>/);
    await assert.rejects(parsePrimary(['<metadata><package><name>x</name><rpm:provides><rpm:entry name="a" flags="XX"/></rpm:provides></package></metadata>'], 'r', { repo: 'r', file: 'p.xml' }), /unknown dependency flags "XX"/);
  });

  test('filelists chunked', async () => {
    const xml = '<filelists><package pkgid="AB" name="n" arch="noarch"><version epoch="0" ver="1" rel="1"/><file>/a&amp;b</file><file type="dir">/d</file></package><package pkgid="cd" name="m" arch="x86_64"></package></filelists>';
    for (const n of [1, 5, 1000]) {
      assert.deepEqual(await parseFilelists(chunked(xml, n), { repo: 'r', file: 'f' }), [
        { pkgid: 'ab', name: 'n', arch: 'noarch', files: '/a&b\u0001/d' },
        { pkgid: 'cd', name: 'm', arch: 'x86_64', files: '' },
      ]);
    }
  });

  test('comps: translations skipped, defaults applied, categories ignored', async () => {
    const xml = `<?xml version="1.0"?><!DOCTYPE comps PUBLIC "-//Red Hat, Inc.//DTD Comps info//EN" "comps.dtd">
<comps>
  <group><id>g</id><name xml:lang="fr">Gé</name><name>G</name><packagelist><packagereq>p</packagereq><packagereq type="optional">o</packagereq></packagelist></group>
  <category><id>cat</id><name>Cat</name><grouplist><groupid>g</groupid></grouplist></category>
  <environment><id>e</id><name>E</name><name xml:lang="de">EE</name><grouplist><groupid>g</groupid></grouplist><optionlist/></environment>
</comps>`;
    const r = await parseComps(chunked(xml, 3), { repo: 'r', file: 'comps.xml' });
    assert.deepEqual(r.groups, [{ id: 'g', name: 'G', description: undefined, default: false, uservisible: true, packages: [{ name: 'p', type: 'mandatory' }, { name: 'o', type: 'optional' }] }]);
    assert.deepEqual(r.environments, [{ id: 'e', name: 'E', groups: ['g'], options: [] }]);
    await assert.rejects(parseComps(['<comps><group><id>g</id><packagelist><packagereq type="weird">p</packagereq></packagelist></group></comps>'], { repo: 'r', file: 'c.xml' }), /repo "r": c\.xml line 1: group "g": unknown packagereq type "weird"/);
  });

  test('repomd records', async () => {
    const md = await parseRepomd(
      '<repomd xmlns="http://linux.duke.edu/metadata/repo"><revision>7</revision><data type="primary"><checksum type="sha256">AA</checksum><location href="repodata/p.xml.gz"/><size>3</size></data></repomd>',
      'r',
      'repomd.xml',
    );
    assert.equal(md.revision, '7');
    assert.deepEqual(md.records.get('primary'), { type: 'primary', href: 'repodata/p.xml.gz', checksum: { type: 'sha256', value: 'aa' }, size: 3 });
    await assert.rejects(parseRepomd('<repomd><data type="primary"><location href="x"/></data></repomd>', 'r', 'repomd.xml'), /repo "r": repomd\.xml line 1: <data type="primary"> has no <checksum>/);
  });

  test('metalink ordering and mirrorlist parsing', async () => {
    const ml = await parseMetalink(
      `<metalink><files><file name="other.xml"><resources><url protocol="https" preference="100">https://wrong/repodata/repomd.xml</url></resources></file>
       <file name="repomd.xml"><verification><hash type="sha256">AB</hash></verification><resources>
        <url protocol="http" preference="90">http://b/repodata/repomd.xml</url>
        <url protocol="https" preference="90">https://a/repodata/repomd.xml</url>
        <url protocol="rsync" preference="100">rsync://c/repodata/repomd.xml</url>
        <url protocol="https" preference="95">https://d/x/repodata/repomd.xml</url>
       </resources></file></files></metalink>`,
      'r',
      'ml',
    );
    assert.deepEqual(ml.baseurls, ['https://d/x/', 'https://a/', 'http://b/']);
    assert.deepEqual(ml.hashes, [{ type: 'sha256', value: 'ab' }]);
    assert.deepEqual(parseMirrorlist('# c\n\n  http://a/x/ \nrsync://b\nfile:///srv/r\n', 'r', 'ml'), ['http://a/x/', 'file:///srv/r']);
  });
});
