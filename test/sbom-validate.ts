// Checks an SPDX 2.3 document the way a consumer would: the official JSON schema (spdx/spdx-spec
// v2.3, test/fixtures/spdx/) plus the rules the schema leaves to the spec text: SPDXID syntax and
// uniqueness, relationships that point at existing elements, license expressions that parse,
// LicenseRefs that are defined, timestamps and namespace shape.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import type { SpdxDocument } from '../src/sbom/types.js';

const here = path.dirname(fileURLToPath(import.meta.url));
// dist/test/ at run time; the fixture stays in the source tree
const schemaPath = path.resolve(here, '..', '..', 'test', 'fixtures', 'spdx', 'spdx-schema-2.3.json');
const schema = JSON.parse(fs.readFileSync(schemaPath, 'utf8')) as Record<string, unknown>;
// the schema declares draft-07, ajv's default dialect
const validateSchema = new Ajv({ allErrors: true, strict: true }).compile(schema);

/** Schema errors of `doc` ([] when valid). */
export function schemaErrors(doc: unknown): string[] {
  if (validateSchema(doc)) return [];
  return (validateSchema.errors ?? []).map((e) => `${e.instancePath} ${e.message ?? ''} ${JSON.stringify(e.params)}`);
}

// An independent SPDX expression parser, when one is at hand: npm ships spdx-expression-parse
// (with the SPDX license list) next to node. Our own normaliser is not used to judge itself.
type ExprParser = (s: string) => unknown;
function findExprParser(): ExprParser | undefined {
  const candidates = [
    path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'spdx-expression-parse'),
    '/usr/lib/node_modules/npm/node_modules/spdx-expression-parse',
    '/usr/local/lib/node_modules/npm/node_modules/spdx-expression-parse',
  ];
  const req = createRequire(import.meta.url);
  for (const c of candidates) {
    try {
      return req(c) as ExprParser;
    } catch {
      /* next */
    }
  }
  return undefined;
}
export const exprParser = findExprParser();

const SPDXID = /^SPDXRef-[A-Za-z0-9.-]+$/;
const LICENSEREF = /LicenseRef-[A-Za-z0-9.-]+/g;

/** Assert everything above; returns the document's package SPDXIDs. */
export function assertValidSpdx(doc: SpdxDocument): Set<string> {
  assert.deepEqual(schemaErrors(doc), [], 'SPDX 2.3 JSON schema');
  assert.equal(doc.spdxVersion, 'SPDX-2.3');
  assert.equal(doc.dataLicense, 'CC0-1.0');
  assert.equal(doc.SPDXID, 'SPDXRef-DOCUMENT');
  assert.match(doc.creationInfo.created, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.ok(doc.creationInfo.creators.every((c) => /^(Tool|Organization|Person): \S/.test(c)), 'creators');
  // a URI without '#' (spec 6.5)
  assert.ok(!doc.documentNamespace.includes('#'));
  assert.doesNotThrow(() => new URL(doc.documentNamespace));

  const ids = new Set<string>();
  for (const p of doc.packages) {
    assert.match(p.SPDXID, SPDXID);
    assert.ok(!ids.has(p.SPDXID), `duplicate SPDXID ${p.SPDXID}`);
    ids.add(p.SPDXID);
    if (p.downloadLocation !== 'NOASSERTION' && p.downloadLocation !== 'NONE') assert.doesNotThrow(() => new URL(p.downloadLocation));
    if (p.builtDate) assert.match(p.builtDate, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    for (const r of p.externalRefs) {
      assert.equal(r.referenceCategory, 'PACKAGE-MANAGER');
      assert.equal(r.referenceType, 'purl');
      assert.match(r.referenceLocator, /^pkg:rpm\/([a-z0-9.-]+\/)?[A-Za-z0-9.%_-]+@[A-Za-z0-9.%_~-]+\?arch=[A-Za-z0-9_]+(&epoch=[1-9]\d*)?$/);
    }
  }
  const defined = new Set((doc.hasExtractedLicensingInfos ?? []).map((e) => e.licenseId));
  assert.equal(defined.size, (doc.hasExtractedLicensingInfos ?? []).length, 'extracted licence ids unique');
  for (const e of doc.hasExtractedLicensingInfos ?? []) {
    assert.match(e.licenseId, /^LicenseRef-[A-Za-z0-9.-]+$/);
    assert.ok(e.extractedText.length > 0);
  }
  for (const p of doc.packages) {
    for (const field of [p.licenseDeclared, p.licenseConcluded]) {
      if (field === 'NOASSERTION' || field === 'NONE') continue;
      if (exprParser) assert.doesNotThrow(() => exprParser(field), `licence of ${p.SPDXID} "${field}" does not parse`);
      for (const ref of field.match(LICENSEREF) ?? []) assert.ok(defined.has(ref), `${ref} used by ${p.SPDXID} has no extracted licensing info`);
    }
  }

  const all = new Set([...ids, 'SPDXRef-DOCUMENT']);
  const described = new Set<string>();
  for (const r of doc.relationships) {
    assert.ok(all.has(r.spdxElementId), `relationship from unknown ${r.spdxElementId}`);
    assert.ok(all.has(r.relatedSpdxElement), `relationship to unknown ${r.relatedSpdxElement}`);
    if (r.relationshipType === 'DESCRIBES') {
      assert.equal(r.spdxElementId, 'SPDXRef-DOCUMENT');
      described.add(r.relatedSpdxElement);
    }
  }
  assert.deepEqual(described, ids, 'the document describes every package');
  return ids;
}
