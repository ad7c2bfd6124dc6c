// End to end on real RPMs: rpmbuild -> createrepo_c -> Kiln's repo loader -> SPDX document.
// Facts are checked against the real files (sha256 of what downloadLocation points at) and
// against `rpm -qp` (versions, build times, source RPMs); relationships against the
// dependencies written into the test packages.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { loadRepo } from '../src/repo/load.js';
import type { LoadedRepo } from '../src/repo/types.js';
import { pipelineSbom, sbomFileName, serializeSbom } from '../src/sbom/index.js';
import type { SpdxDocument } from '../src/sbom/types.js';
import { buildTestRepo } from './helpers/createrepo.js';
import type { FakePkg } from './helpers/rpmbuild.js';
import { assertValidSpdx } from './sbom-validate.js';

const PKGS: FakePkg[] = [
  {
    name: 'base-files',
    version: '1.0',
    release: '1.fc42',
    arch: 'noarch',
    license: 'GPLv2+',
    vendor: 'Fedora Project',
    url: 'https://example.org/base',
    // /usr/share/... is not in primary.xml's file subset: only filelists knows it
    files: [{ path: '/etc/base-release', content: 'x\n' }, { path: '/usr/share/base/data.txt', content: 'data\n' }],
  },
  { name: 'libz', version: '1.3', release: '2.fc42', epoch: 2, arch: 'x86_64', license: 'Zlib', vendor: 'Fedora Project', provides: ['libz.so.1()(64bit)'], files: [{ path: '/usr/lib64/libz.so.1', content: 'z' }] },
  {
    name: 'tool',
    version: '2.0',
    release: '1.fc42',
    arch: 'x86_64',
    license: 'MIT AND (GPL-2.0-or-later OR LGPL-2.1-only)',
    vendor: 'Fedora Project',
    requires: ['libz.so.1()(64bit)', 'libz >= 2:1.2', '/usr/share/base/data.txt', '(shell-a or shell-b)', '(helper if base-files)', '(absent-thing if nothing-here)', 'docs-pkg > 3'],
    recommends: ['docs-pkg'],
    files: [{ path: '/usr/bin/tool', content: '#!/bin/sh\n' }],
  },
  { name: 'shell-b', version: '1', release: '1', arch: 'noarch', license: 'BSD-3-Clause' },
  { name: 'helper', version: '1', release: '1', arch: 'noarch', license: 'mit', requiresPre: ['base-files'] },
  { name: 'docs-pkg', version: '1', release: '1', arch: 'noarch', license: 'GFDL' },
  { name: 'lang-pkg', version: '1', release: '1', arch: 'noarch', license: 'MIT', supplements: ['(tool and base-files)'] },
];

let tmp: string;
let repo: LoadedRepo;
let doc: SpdxDocument;

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-sbom-'));
  const dir = path.join(tmp, 'repo');
  fs.mkdirSync(dir);
  await buildTestRepo(dir, PKGS);
  repo = await loadRepo({ id: 'local', baseurl: [pathToFileURL(dir).toString()] }, { arch: 'x86_64' });
  // two transactions, as a pipeline's chain would have them
  const half = Math.floor(repo.packages.length / 2);
  doc = pipelineSbom(
    { transactions: [repo.packages.slice(0, half), repo.packages.slice(half)], repos: [repo] },
    { name: 'test-image.image-os', toolVersion: '0.1.0', namespaceSeed: 's' },
  );
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

test('document from a real repository is valid SPDX 2.3 and survives a JSON round trip', () => {
  assert.equal(repo.packages.length, PKGS.length);
  assertValidSpdx(JSON.parse(serializeSbom(doc)) as SpdxDocument);
  assert.equal(doc.packages.length, PKGS.length);
  fs.writeFileSync(path.join(tmp, sbomFileName('test-image', 'image', 'os')), serializeSbom(doc));
  assert.ok(fs.existsSync(path.join(tmp, 'test-image.image-os.spdx.json')));
});

test('download locations and checksums point at the real RPM files', () => {
  for (const p of doc.packages) {
    assert.match(p.downloadLocation, /^file:\/\//);
    const data = fs.readFileSync(fileURLToPath(p.downloadLocation));
    assert.deepEqual(p.checksums, [{ algorithm: 'SHA256', checksumValue: createHash('sha256').update(data).digest('hex') }]);
  }
});

test('versions, build dates and source RPMs agree with rpm -qp', () => {
  for (const p of doc.packages) {
    const file = fileURLToPath(p.downloadLocation);
    const out = execFileSync('rpm', ['-qp', '--nosignature', '--nodigest', '--qf', '%{NAME}|%|EPOCH?{%{EPOCH}:}|%{VERSION}-%{RELEASE}|%{BUILDTIME}|%{SOURCERPM}|%{ARCH}', file], { encoding: 'utf8' });
    const [name, evr, buildtime, srpm, arch] = out.split('|');
    assert.equal(p.name, name);
    assert.equal(p.versionInfo, evr);
    assert.equal(p.builtDate, new Date(Number(buildtime) * 1000).toISOString().replace(/\.000Z$/, 'Z'));
    assert.equal(p.sourceInfo, `built package from: ${srpm}`);
    assert.ok(p.externalRefs[0]!.referenceLocator.includes(`?arch=${arch}`));
  }
  const libz = doc.packages.find((p) => p.name === 'libz')!;
  assert.equal(libz.externalRefs[0]!.referenceLocator, 'pkg:rpm/fedora/libz@1.3-2.fc42?arch=x86_64&epoch=2');
});

test('licences from real RPM headers', () => {
  const lic = Object.fromEntries(doc.packages.map((p) => [p.name, p.licenseDeclared]));
  assert.deepEqual(lic, {
    'base-files': 'LicenseRef-GPLv2plus',
    'docs-pkg': 'LicenseRef-GFDL',
    helper: 'MIT',
    'lang-pkg': 'MIT',
    libz: 'Zlib',
    'shell-b': 'BSD-3-Clause',
    tool: 'MIT AND (GPL-2.0-or-later OR LGPL-2.1-only)',
  });
  assert.deepEqual(
    doc.hasExtractedLicensingInfos!.map((e) => [e.licenseId, e.extractedText]),
    [
      ['LicenseRef-GFDL', 'GFDL'],
      ['LicenseRef-GPLv2plus', 'GPLv2+'],
    ],
  );
});

test('relationships follow the requires, file, rich, pre and weak dependencies in the headers', () => {
  const name = new Map(doc.packages.map((p) => [p.SPDXID, p.name]));
  const rel = (type: string) =>
    doc.relationships
      .filter((r) => r.relationshipType === type)
      .map((r) => `${name.get(r.spdxElementId)} -> ${name.get(r.relatedSpdxElement)}`)
      .sort();
  assert.deepEqual(rel('DEPENDS_ON'), [
    'helper -> base-files', // Requires(pre)
    'tool -> base-files', // /usr/share/base/data.txt, known from filelists only
    'tool -> helper', // (helper if base-files)
    'tool -> libz', // libz.so.1()(64bit) and libz >= 2:1.2
    'tool -> shell-b', // (shell-a or shell-b)
  ]);
  assert.deepEqual(rel('OPTIONAL_DEPENDENCY_OF'), [
    'docs-pkg -> tool', // Recommends (the Requires docs-pkg > 3 is not met by docs-pkg 1)
    'lang-pkg -> base-files', // Supplements: (tool and base-files)
    'lang-pkg -> tool',
  ]);
});
