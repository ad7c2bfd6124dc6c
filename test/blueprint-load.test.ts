// Blueprint loading: TOML and JSON, normalisation, and errors that name the file and key path.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadBlueprint, parseBlueprint, parseSize } from '../src/blueprint/index.js';
import { KilnError } from '../src/util/errors.js';
import { findJsonError } from '../src/blueprint/jsonpos.js';

function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(dir, 'package.json'))) dir = path.dirname(dir);
  return dir;
}
const FIX = path.join(repoRoot(), 'test', 'fixtures', 'blueprints');
const fx = (name: string) => path.join(FIX, name);

/** loadBlueprint must throw a KilnError whose message contains every part. */
function assertFails(file: string, ...parts: (string | RegExp)[]) {
  assert.throws(
    () => loadBlueprint(file),
    (e: unknown) => {
      assert.ok(e instanceof KilnError, `KilnError expected, got ${String(e)}`);
      for (const p of parts) {
        if (typeof p === 'string') assert.ok(e.message.includes(p), `message lacks ${JSON.stringify(p)}:\n${e.message}`);
        else assert.match(e.message, p);
      }
      return true;
    },
  );
}

describe('good blueprints', () => {
  it('TOML parses to what an independent TOML parser read, with sizes in bytes', () => {
    // good.json was written from good.toml by Python's tomllib; only minsize is normalised by us.
    const expected = JSON.parse(fs.readFileSync(fx('good.json'), 'utf8'));
    expected.customizations.filesystem = [
      { mountpoint: '/var', minsize: 1073741824 },
      { mountpoint: '/opt', minsize: 20_000_000_000 },
      { mountpoint: '/var/log', minsize: 2 * 1024 * 1024 * 1024 },
    ];
    assert.deepEqual(loadBlueprint(fx('good.toml')), expected);
  });

  it('JSON and TOML forms of the same blueprint are equal', () => {
    assert.deepEqual(loadBlueprint(fx('good.json')), loadBlueprint(fx('good.toml')));
  });

  it('spot-check fields as a generator will read them', () => {
    const bp = loadBlueprint(fx('good.toml'));
    assert.equal(bp.distro, 'fedora-42');
    assert.equal(bp.customizations.user?.[1]?.name, 'svc');
    assert.equal(bp.customizations.user?.[0]?.uid, 1200);
    assert.deepEqual(bp.customizations.user?.[0]?.groups, ['wheel', 'adm']);
    assert.equal(bp.customizations.kernel?.append, 'nosmt=force audit=1');
    assert.equal(bp.customizations.files?.[0]?.group, 0);
    assert.equal(bp.customizations.directories?.[0]?.ensure_parents, true);
    assert.equal(bp.customizations.ignition?.firstboot?.url, 'http://ignition.example.com/config.ign');
  });

  it('missing lists default to empty', () => {
    assert.deepEqual(loadBlueprint(fx('minimal.json')), {
      name: 'minimal',
      packages: [{ name: 'curl' }],
      modules: [],
      groups: [],
      customizations: {},
    });
    assert.deepEqual(parseBlueprint('', 'toml', 'empty.toml'), { packages: [], modules: [], groups: [], customizations: {} });
  });
});

describe('stdin', () => {
  function runStdin(input: string) {
    const mod = path.join(repoRoot(), 'dist', 'src', 'blueprint', 'index.js');
    const code = `import { loadBlueprint } from ${JSON.stringify(mod)};
      try { process.stdout.write(JSON.stringify(loadBlueprint('-'))); } catch (e) { process.stderr.write(e.message); process.exit(3); }`;
    return spawnSync(process.execPath, ['--input-type=module', '-e', code], { input, encoding: 'utf8' });
  }
  it('"-" reads JSON from stdin', () => {
    const r = runStdin(fs.readFileSync(fx('minimal.json'), 'utf8'));
    assert.equal(r.status, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).packages[0].name, 'curl');
  });
  it('"-" errors name <stdin>', () => {
    const r = runStdin('name = "toml is not accepted on stdin"');
    assert.equal(r.status, 3);
    assert.match(r.stderr, /^blueprint <stdin>: JSON syntax error at line 1, column \d+/);
  });
});

describe('bad blueprints', () => {
  const cases: [string, ...(string | RegExp)[]][] = [
    ['bad-uid-type.toml', 'bad-uid-type.toml: customizations.user[1].uid: expected integer, got string'],
    ['bad-unknown-key.toml', 'bad-unknown-key.toml: customizations.kernal: unknown key "kernal" (did you mean "kernel"?)'],
    ['bad-unknown-nested.json', 'customizations.user[0].shel: unknown key "shel" (did you mean "shell"?)', 'bad-unknown-nested.json: colour: unknown key "colour"'],
    [
      'bad-missing-required.toml',
      'customizations.user[0].name: required key "name" is missing',
      'customizations.files[0].path: required key "path" is missing',
      'customizations.filesystem[0].minsize: required key "minsize" is missing',
    ],
    [
      'bad-paths.toml',
      'customizations.files[0].path: path "etc/motd" must be absolute',
      'customizations.files[1].path: path "/etc/passwd" cannot be customized',
      'customizations.directories[0].path: path "/var/lib/../tmp" must be clean',
      'customizations.directories[0].mode: mode "0999" must be an octal string',
      'customizations.files[2].mode: mode "rw-r--r--" must be an octal string',
    ],
    [
      'bad-filesystem.toml',
      'customizations.filesystem[0].mountpoint: mountpoint "/etc" is not allowed',
      'customizations.filesystem[1].mountpoint: mountpoint "/usr/local" is not allowed',
      'customizations.filesystem[2].minsize: invalid size "2 GiBs": unknown unit "GiBs"',
      'customizations.filesystem[3].minsize: expected a non-negative integer number of bytes, got -5',
      'customizations.filesystem[3].mountpoint: duplicate mountpoint "/data" (also in filesystem[2])',
    ],
    ['bad-syntax.toml', /bad-syntax\.toml: TOML syntax error at line 3, column \d+/],
    ['bad-syntax.json', /bad-syntax\.json: JSON syntax error at line 5, column 3/],
    [
      'bad-types.json',
      'bad-types.json: name: expected string, got integer',
      'packages: expected array, got string',
      'groups[0]: expected table, got string',
      'customizations.hostname: expected string, got array',
      'customizations.kernel: expected table, got string',
      'customizations.services.enabled: expected array, got string',
      'customizations.directories[0].ensure_parents: expected boolean, got string',
      'customizations.timezone.ntpservers[0]: expected string, got integer',
    ],
    ['bad-ignition.toml', 'customizations.ignition: embedded and firstboot cannot both be set'],
    ['bad-duplicates.toml', 'customizations.user[1].name: duplicate name "dave" (also in user[0])'],
    ['bad-unimplemented.toml', 'customizations.openscap: upstream blueprint option not supported by kiln'],
    ['bad-hostname.toml', 'customizations.hostname: hostname "bad_host!" is not a valid host name', 'customizations.installation_device: installation device "vda" must be absolute'],
    ['bad-toml-date.toml', 'bad-toml-date.toml: version: expected string, got date'],
    ['bad-extension.yaml', 'blueprint ', 'bad-extension.yaml: unsupported file extension ".yaml"'],
    ['bad-toplevel.json', 'bad-toplevel.json: expected a table/object at the top level'],
    ['does-not-exist.toml', 'does-not-exist.toml: cannot read: no such file'],
  ];
  for (const [file, ...parts] of cases) {
    it(file, () => assertFails(fx(file), ...parts));
  }

  it('every problem is reported, each on its own line with the file name', () => {
    try {
      loadBlueprint(fx('bad-types.json'));
      assert.fail('should throw');
    } catch (e) {
      const lines = (e as Error).message.split('\n');
      assert.equal(lines.length, 8, (e as Error).message);
      for (const l of lines) assert.ok(l.startsWith(`blueprint ${fx('bad-types.json')}: `), l);
    }
  });

  it('every bad fixture is exercised', () => {
    const listed = new Set(cases.map((c) => c[0]));
    for (const f of fs.readdirSync(FIX)) if (f.startsWith('bad-')) assert.ok(listed.has(f), `${f} has no test case`);
  });
});

describe('parseSize', () => {
  it('accepts bytes and SI/IEC units', () => {
    assert.equal(parseSize(0), 0);
    assert.equal(parseSize(4096), 4096);
    assert.equal(parseSize('512'), 512);
    assert.equal(parseSize('1 kB'), 1000);
    assert.equal(parseSize('1KiB'), 1024);
    assert.equal(parseSize('3 MiB'), 3 * 1048576);
    assert.equal(parseSize('20 GB'), 20e9);
    assert.equal(parseSize('2 GiB'), 2147483648);
    assert.equal(parseSize('1 TiB'), 1099511627776);
    assert.equal(parseSize('7 B'), 7);
  });
  it('rejects what is not a size, saying why', () => {
    assert.match(String(parseSize('1.5 GiB')), /invalid size "1.5 GiB"/);
    assert.match(String(parseSize('ten MB')), /invalid size/);
    assert.match(String(parseSize('10 XB')), /unknown unit "XB"/);
    assert.match(String(parseSize(1.5)), /non-negative integer/);
    assert.match(String(parseSize(true)), /got boolean/);
  });
});

describe('temp files', () => {
  const tmp = fs.mkdtempSync(os.tmpdir() + '/kiln-blueprint-');
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));
  it('extension check is case-insensitive and a file without extension is refused', () => {
    const upper = path.join(tmp, 'BP.TOML');
    fs.writeFileSync(upper, 'name = "upper"\n');
    assert.equal(loadBlueprint(upper).name, 'upper');
    const none = path.join(tmp, 'blueprint');
    fs.writeFileSync(none, '{}');
    assertFails(none, `blueprint ${none}: unsupported file extension "(none)"`);
  });
});

describe('JSON error location', () => {
  it('findJsonError agrees with JSON.parse on damaged copies of a blueprint', () => {
    const good = fs.readFileSync(fx('good.json'), 'utf8');
    let seed = 12345;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    const junk = ['', ',', '}', ']', '"', ':', 'x', '1', ' ', '\\', '{', '['];
    for (let k = 0; k < 500; k++) {
      const at = rnd(good.length);
      const cut = rnd(3);
      const text = good.slice(0, at) + junk[rnd(junk.length)] + good.slice(at + cut);
      let parses = true;
      try {
        JSON.parse(text);
      } catch {
        parses = false;
      }
      assert.equal(findJsonError(text) === undefined, parses, `disagreement on damage at ${at}: ${JSON.stringify(text.slice(Math.max(0, at - 20), at + 20))}`);
    }
  });

  it('a byte-order mark is accepted', () => {
    assert.equal(parseBlueprint('\uFEFF{"name": "bom"}', 'json', 'bom.json').name, 'bom');
  });
});

describe('JSON null', () => {
  it('a null value counts as not set, but still needs a known key', () => {
    const bp = parseBlueprint('{"name": "n", "description": null, "modules": null, "customizations": null}', 'json', 'null.json');
    assert.deepEqual(bp, { name: 'n', packages: [], modules: [], groups: [], customizations: {} });
    assert.throws(() => parseBlueprint('{"colour": null}', 'json', 'null.json'), /null\.json: colour: unknown key/);
    assert.throws(
      () => parseBlueprint('{"customizations": {"user": [{"name": "a"}, {"name": "b", "uid": null}, {"description": null}]}}', 'json', 'null.json'),
      /null\.json: customizations\.user\[2\]\.name: required key "name" is missing/,
    );
  });
});
