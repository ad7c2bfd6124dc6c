// Manifest schema validation: osbuild's own example manifests must pass; mutated copies must
// fail with errors that name the pipeline, the stage (index and type) and the path.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultSchemaDir, normaliseDraft04, validateManifest } from '../src/manifest/validate.js';

function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    assert.notEqual(up, dir, 'package.json not found above the test');
    dir = up;
  }
  return dir;
}

const REF = path.resolve(repoRoot(), '..', 'shared', 'reference');
const MANIFESTS = path.join(REF, 'osbuild-manifests');

type J = any; // eslint-disable-line @typescript-eslint/no-explicit-any

function load(name: string): J {
  return JSON.parse(fs.readFileSync(path.join(MANIFESTS, name), 'utf8'));
}

/** Index of the first stage of `type` in pipeline `pipeline`. */
function stageIndex(m: J, pipeline: string, type: string): number {
  const pl = m.pipelines.find((p: J) => p.name === pipeline);
  assert.ok(pl, `pipeline ${pipeline} in fixture`);
  const i = pl.stages.findIndex((s: J) => s.type === type);
  assert.ok(i >= 0, `stage ${type} in pipeline ${pipeline}`);
  return i;
}

function stage(m: J, pipeline: string, type: string): J {
  return m.pipelines.find((p: J) => p.name === pipeline).stages[stageIndex(m, pipeline, type)];
}

/** Exactly one error line mentions all `parts`. */
function assertError(errors: string[], ...parts: string[]) {
  const hit = errors.filter((e) => parts.every((p) => e.includes(p)));
  assert.ok(hit.length >= 1, `expected an error containing ${JSON.stringify(parts)}, got:\n${errors.join('\n')}`);
}

describe('validateManifest on osbuild reference manifests', () => {
  const files = fs.readdirSync(MANIFESTS).filter((f) => f.endsWith('.json'));
  it('finds the reference manifests', () => {
    assert.ok(files.length >= 5, `reference manifests in ${MANIFESTS}`);
  });
  for (const f of files) {
    it(`${f} validates with zero errors`, () => {
      assert.deepEqual(validateManifest(load(f)), []);
    });
  }
});

describe('validateManifest on mutated manifests', () => {
  it('unknown stage type names pipeline, stage index and type', () => {
    const m = load('fedora-boot.json');
    const i = stageIndex(m, 'os', 'org.osbuild.hostname');
    m.pipelines[1].stages[i].type = 'org.osbuild.no-such-stage';
    const errs = validateManifest(m);
    assertError(errs, 'pipeline "os"', `stage ${i} org.osbuild.no-such-stage`, 'unknown stage type "org.osbuild.no-such-stage"');
  });

  it('wrong option type names the option path', () => {
    const m = load('fedora-boot.json');
    const i = stageIndex(m, 'os', 'org.osbuild.locale');
    stage(m, 'os', 'org.osbuild.locale').options.language = 42;
    const errs = validateManifest(m);
    assertError(errs, 'pipeline "os"', `stage ${i} org.osbuild.locale`, 'options.language', 'must be string');
    assert.equal(errs.length, 1, errs.join('\n'));
  });

  it('missing required option names the property', () => {
    const m = load('fedora-boot.json');
    const i = stageIndex(m, 'os', 'org.osbuild.hostname');
    delete stage(m, 'os', 'org.osbuild.hostname').options.hostname;
    assertError(validateManifest(m), 'pipeline "os"', `stage ${i} org.osbuild.hostname`, 'options', 'missing required property "hostname"');
  });

  it('unknown option names the property', () => {
    const m = load('fedora-boot.json');
    stage(m, 'os', 'org.osbuild.timezone').options.color = 'blue';
    assertError(validateManifest(m), 'org.osbuild.timezone', 'options', 'unknown property "color"');
  });

  it('bad device option is caught by the device type schema', () => {
    const m = load('fedora-boot.json');
    const i = stageIndex(m, 'image', 'org.osbuild.mkfs.fat');
    stage(m, 'image', 'org.osbuild.mkfs.fat').devices.device.options.start = 'four thousand';
    const errs = validateManifest(m);
    assertError(errs, 'pipeline "image"', `stage ${i} org.osbuild.mkfs.fat`, 'devices.device.options.start', 'must be number');
  });

  it('device without required option and with unknown option', () => {
    const m = load('fedora-boot.json');
    const dev = stage(m, 'image', 'org.osbuild.mkfs.ext4').devices.device;
    delete dev.options.filename;
    dev.options.sectorsize = 'big';
    const errs = validateManifest(m);
    assertError(errs, 'org.osbuild.mkfs.ext4', 'devices.device.options', 'missing required property "filename"');
    assertError(errs, 'org.osbuild.mkfs.ext4', 'devices.device.options', 'unknown property "sectorsize"');
  });

  it('unknown device, input and mount types are named', () => {
    const m = load('fedora-boot.json');
    const copy = stage(m, 'image', 'org.osbuild.copy');
    const i = stageIndex(m, 'image', 'org.osbuild.copy');
    copy.devices.boot.type = 'org.osbuild.floppy';
    copy.inputs['root-tree'].type = 'org.osbuild.magic';
    copy.mounts[0].type = 'org.osbuild.zfs';
    const errs = validateManifest(m);
    assertError(errs, `stage ${i} org.osbuild.copy`, 'devices.boot', 'unknown device type "org.osbuild.floppy"');
    assertError(errs, `stage ${i} org.osbuild.copy`, 'inputs.root-tree', 'unknown input type "org.osbuild.magic"');
    assertError(errs, `stage ${i} org.osbuild.copy`, 'mounts[0]', 'unknown mount type "org.osbuild.zfs"');
  });

  it('bad mount and input are checked against their type schema', () => {
    const m = load('fedora-boot.json');
    const copy = stage(m, 'image', 'org.osbuild.copy');
    copy.mounts[0].partition = 'one';
    copy.inputs['root-tree'].origin = 'org.osbuild.nowhere';
    const errs = validateManifest(m);
    assertError(errs, 'org.osbuild.copy', 'mounts[0].partition', 'must be number');
    assertError(errs, 'org.osbuild.copy', 'inputs.root-tree.origin');
  });

  it('stage-level inputs schema: rpm stage without packages input', () => {
    const m = load('fedora-boot.json');
    const i = stageIndex(m, 'os', 'org.osbuild.rpm');
    delete stage(m, 'os', 'org.osbuild.rpm').inputs.packages;
    assertError(validateManifest(m), `stage ${i} org.osbuild.rpm`, 'inputs', 'missing required property "packages"');
  });

  it('unknown source type and bad source item are named', () => {
    const m = load('fedora-boot.json');
    const items = m.sources['org.osbuild.curl'].items;
    const first = Object.keys(items)[0]!;
    items[first] = { url: 12 };
    const errs = validateManifest(m);
    assertError(errs, 'source org.osbuild.curl', `items["${first}"]`);
    m.sources['org.osbuild.ftp'] = { items: {} };
    assertError(validateManifest(m), 'source org.osbuild.ftp', 'unknown source type "org.osbuild.ftp"');
  });

  it('librepo sources (kiln default) are checked against their schema', () => {
    const m = load('fedora-boot.json');
    const sum = 'sha256:' + 'ab'.repeat(32);
    m.sources = {
      'org.osbuild.librepo': {
        items: { [sum]: { path: 'Packages/b/bash-5.2-1.fc42.x86_64.rpm', mirror: 'fedora' } },
        options: { mirrors: { fedora: { url: 'https://mirrors.example/metalink?repo=fedora-42', type: 'metalink' } } },
      },
    };
    assert.deepEqual(validateManifest(m), []);
    m.sources['org.osbuild.librepo'].options.mirrors.fedora.type = 'ftp';
    delete m.sources['org.osbuild.librepo'].items[sum].mirror;
    const errs = validateManifest(m);
    assertError(errs, 'source org.osbuild.librepo', 'options.mirrors.fedora.type', 'must be one of');
    assertError(errs, 'source org.osbuild.librepo', `items["${sum}"]`, 'missing required property "mirror"');
  });

  it('document-level errors: version, unknown keys, non-object modules', () => {
    const m = load('fedora-ostree-commit.json');
    m.version = '1';
    m.pipelines[0].color = 'red';
    const st = m.pipelines[1].stages[0];
    st.devices = { disk: 7 };
    const errs = validateManifest(m);
    assertError(errs, 'manifest: version', 'must be one of ["2"]');
    assertError(errs, 'pipeline "build"', 'unknown property "color"');
    assertError(errs, 'pipeline "ostree-tree"', 'stage 0', 'devices.disk', 'must be an object');
  });

  it('non-object manifests give errors, not exceptions', () => {
    assert.ok(validateManifest(null).length > 0);
    assert.ok(validateManifest([]).length > 0);
    assertError(validateManifest({}), 'missing required property "version"');
    assert.deepEqual(validateManifest({ version: '2' }), []);
  });

  it('stage types cannot escape the schema directory', () => {
    const m = load('fedora-boot.json');
    m.pipelines[0].stages[0].type = '../sources/org.osbuild.curl';
    assertError(validateManifest(m), 'unknown stage type "../sources/org.osbuild.curl"');
  });
});

describe('schema directory selection', () => {
  const tmp = fs.mkdtempSync(os.tmpdir() + '/kiln-validate-');
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('defaults to <repo>/../shared/reference/osbuild-schemas', () => {
    const saved = process.env['KILN_OSBUILD_SCHEMAS'];
    delete process.env['KILN_OSBUILD_SCHEMAS'];
    try {
      assert.equal(defaultSchemaDir(), path.join(REF, 'osbuild-schemas'));
    } finally {
      if (saved !== undefined) process.env['KILN_OSBUILD_SCHEMAS'] = saved;
    }
  });

  it('honours schemaDir and KILN_OSBUILD_SCHEMAS', () => {
    // a copy of the schemas without the hostname stage: hostname stages become unknown
    const dir = path.join(tmp, 'schemas');
    fs.cpSync(path.join(REF, 'osbuild-schemas'), dir, { recursive: true });
    fs.rmSync(path.join(dir, 'stages', 'org.osbuild.hostname.meta.json'));
    const m = load('fedora-boot.json');
    assertError(validateManifest(m, dir), 'unknown stage type "org.osbuild.hostname"');
    const saved = process.env['KILN_OSBUILD_SCHEMAS'];
    process.env['KILN_OSBUILD_SCHEMAS'] = dir;
    try {
      assert.equal(defaultSchemaDir(), dir);
      assertError(validateManifest(m), 'unknown stage type "org.osbuild.hostname"');
    } finally {
      if (saved === undefined) delete process.env['KILN_OSBUILD_SCHEMAS'];
      else process.env['KILN_OSBUILD_SCHEMAS'] = saved;
    }
    // and the default directory is unaffected
    assert.deepEqual(validateManifest(m), []);
  });

  it('a directory without osbuild2.json is refused with its name', () => {
    assert.throws(() => validateManifest({ version: '2' }, tmp), (e: Error) => e.message.includes(tmp) && e.message.includes('osbuild2.json'));
  });
});

describe('normaliseDraft04', () => {
  it('rewrites boolean exclusive bounds and drops $schema and $ref siblings', () => {
    const s = normaliseDraft04({
      $schema: 'http://json-schema.org/draft-04/schema#',
      properties: {
        a: { minimum: 1, exclusiveMinimum: true },
        b: { maximum: 9, exclusiveMaximum: false },
        c: { $ref: '#/definitions/x', description: 'ignored by draft-04' },
      },
    });
    assert.deepEqual(s, {
      properties: {
        a: { exclusiveMinimum: 1 },
        b: { maximum: 9 },
        c: { $ref: '#/definitions/x' },
      },
    });
  });
});
