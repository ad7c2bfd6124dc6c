// Compose config loading: the shipped configs load; broken configs fail with
// `<file>:<line>: <key path>: <problem>` where the line is found by searching the test's own text.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadComposeConfig, parseComposeConfig } from '../src/compose/config.js';
import { composeIdentity } from '../src/compose/compose-id.js';
import { planCompose } from '../src/compose/planner.js';
import { KilnError } from '../src/util/errors.js';

const root = join(import.meta.dirname, '..', '..');
const configs = join(root, 'configs');
const tmp = mkdtempSync(join(tmpdir(), 'kiln-compose-config-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const GOOD = `release:
  name: Fedora-IoT
  short: Fedora-IoT
  version: 42
variants:
  - uid: IoT
    name: IoT
    arches: [x86_64, aarch64]
imagebuilder:
  "^IoT$":
    - name: Fedora-IoT-raw
      types: [iot-raw-xz]
      ostree: {url: "https://example.org/repo/", ref: "fedora/stable/$arch/iot"}
`;

function write(name: string, text: string): string {
  const f = join(tmp, name);
  writeFileSync(f, text);
  return f;
}

function lineOf(text: string, needle: string, nth = 1): number {
  let at = -1;
  for (let i = 0; i < nth; i++) {
    at = text.indexOf(needle, at + 1);
    assert.ok(at >= 0, `test setup: "${needle}" not in text`);
  }
  return text.slice(0, at).split('\n').length;
}

function errorOf(text: string, env: Record<string, string> = {}): string {
  const f = write(`bad-${Math.random().toString(36).slice(2)}.yaml`, text);
  try {
    loadComposeConfig(f, { env });
  } catch (e) {
    assert.ok(e instanceof KilnError, `expected KilnError, got ${String(e)}`);
    return (e as Error).message.replaceAll(f, 'FILE');
  }
  assert.fail('config loaded but should not have');
}

test('the shipped YAML configs load and plan', () => {
  const env = { KILN_DEMO_REPO: 'file:///srv/demo' };
  for (const name of ['fedora-iot', 'fedora-minimal', 'local-iot', 'local-minimal']) {
    const cfg = loadComposeConfig(join(configs, `${name}.yaml`), { env });
    assert.ok(cfg.entries.length > 0, name);
    const id = composeIdentity(cfg.release, { type: cfg.compose.type, date: '20251127', respin: 0 });
    const plan = planCompose(cfg, id);
    assert.deepEqual(plan.warnings, [], name);
    assert.ok(plan.groups.length > 0, name);
  }
  const iot = loadComposeConfig(join(configs, 'fedora-iot.yaml'));
  const id = composeIdentity(iot.release, { type: 'production', date: '20251127', respin: 0 });
  const plan = planCompose(iot, id);
  assert.deepEqual(
    plan.groups.map((g) => g.type).sort(),
    ['iot-commit', 'iot-installer', 'iot-qcow2', 'iot-raw-xz', 'iot-simplified-installer'],
  );
  for (const g of plan.groups) {
    assert.equal(g.backend, 'koji');
    assert.equal(g.target, 'f42-image-builder');
    assert.deepEqual(g.arches, ['aarch64', 'x86_64']);
    assert.deepEqual(g.failableArches, ['aarch64']);
  }
  const local = loadComposeConfig(join(configs, 'local-minimal.yaml'), { env });
  const lp = planCompose(local, composeIdentity(local.release, { type: 'test', date: '20251127', respin: 0 }));
  assert.deepEqual(lp.groups[0].jobs[0].repos, ['file:///srv/demo/x86_64']);
  assert.equal(lp.groups[0].backend, 'local');
});

test('the Pungi configs under configs/pungi describe the same images as the YAML ones', () => {
  const py = (file: string) =>
    JSON.parse(
      execFileSync('/usr/bin/python3', ['-c', 'import json,sys; ns={}; exec(open(sys.argv[1]).read(), ns); print(json.dumps({k: v for k, v in ns.items() if k != "__builtins__" and not k.startswith("_")}))', file], {
        encoding: 'utf8',
      }),
    ) as Record<string, unknown>;
  for (const name of ['fedora-iot', 'fedora-minimal']) {
    const pungi = py(join(configs, 'pungi', `${name}.conf`));
    const cfg = loadComposeConfig(join(configs, `${name}.yaml`));
    const id = composeIdentity(cfg.release, { type: 'production', date: '20251127', respin: 0 });
    const plan = planCompose(cfg, id);
    assert.equal(pungi.release_short, cfg.release.short);
    assert.equal(pungi.release_version, cfg.release.version);
    assert.equal(pungi.imagebuilder_target, plan.groups[0].target);
    const entries = Object.values(pungi.imagebuilder as Record<string, Record<string, unknown>[]>).flat();
    assert.equal(entries.length, plan.groups.length, name);
    for (const e of entries) {
      const g = plan.groups.find((x) => x.name === e.name);
      assert.ok(g, `${name}: ${String(e.name)} not planned from the YAML config`);
      assert.deepEqual(e.types, [g.type]);
      assert.deepEqual([...(e.arches as string[])].sort(), g.arches);
      const failable = e.failable as string[];
      assert.deepEqual(failable[0] === '*' ? g.arches : [...failable].sort(), g.failableArches);
      assert.equal(e.subvariant ?? g.variant, g.subvariant);
      assert.equal(e.manifest_type, g.manifestType);
      const ostree = e.ostree as Record<string, string> | undefined;
      assert.deepEqual(ostree, g.ostree);
    }
  }
});

test('a good config loads with defaults', () => {
  const cfg = parseComposeConfig(GOOD, 'good.yaml', { env: {} });
  assert.equal(cfg.release.version, '42'); // YAML number kept as the string it reads as
  assert.equal(cfg.release.type, 'ga');
  assert.equal(cfg.compose.type, 'production');
  assert.deepEqual(cfg.mediaChecksums, ['sha256']);
  assert.equal(cfg.mediaChecksumOneFile, true);
  assert.equal(cfg.linkType, 'hardlink-or-copy');
  assert.equal(cfg.variants[0].id, 'IoT');
  assert.equal(cfg.entries[0].variantRegex, '^IoT$');
});

test('${VAR} substitution from the environment, with defaults and escapes', () => {
  // (a replacer function: in a replacement string `$$` would itself be an escape)
  const text = GOOD.replace('types: [iot-raw-xz]', () => 'types: [iot-raw-xz]\n      repos: ["${REPO}/$arch", "${MISSING:-http://d.example/x}", "http://e.example/$${X}"]');
  const cfg = parseComposeConfig(text, 'env.yaml', { env: { REPO: 'file:///srv/repo' } });
  assert.deepEqual(cfg.entries[0].settings.repos?.value, ['file:///srv/repo/$arch', 'http://d.example/x', 'http://e.example/${X}']);
  const msg = errorOf(text);
  assert.match(msg, new RegExp(`^FILE:${lineOf(text, '${REPO}')}: imagebuilder\\.\\^IoT\\$\\[0\\]\\.repos\\[0\\]: environment variable REPO is not set`));
});

test('bad configs name file, line, key path and problem', () => {
  const cases: { edit: (t: string) => string; marker: string; path: string; problem: RegExp }[] = [
    { edit: (t) => t.replace('version: 42', 'version: "4 2"'), marker: 'version: "4 2"', path: 'release.version', problem: /not a release version/ },
    { edit: (t) => t.replace('arches: [x86_64, aarch64]', 'arches: [x86_64, arm65]'), marker: 'arches: [x86_64, arm65]', path: 'variants[0].arches[1]', problem: /unknown architecture "arm65"/ },
    { edit: (t) => t.replace('uid: IoT', 'uid: Io-T'), marker: 'uid: Io-T', path: 'variants[0].uid', problem: /letters and digits only/ },
    { edit: (t) => t.replace('types: [iot-raw-xz]', 'types: [iot-raw-xz]\n      failable: true'), marker: 'failable: true', path: 'imagebuilder.^IoT$[0].failable', problem: /expected a list of strings/ },
    { edit: (t) => t.replace('types: [iot-raw-xz]', 'types: [iot-raw-xz]\n      manifest_type: iso'), marker: 'manifest_type: iso', path: 'imagebuilder.^IoT$[0].manifest_type', problem: /"iso" is not a productmd image type/ },
    { edit: (t) => t.replace('types: [iot-raw-xz]', 'types: [iot-raw-xz]\n      seed: -1'), marker: 'seed: -1', path: 'imagebuilder.^IoT$[0].seed', problem: /out of range/ },
    { edit: (t) => t.replace('types: [iot-raw-xz]', 'types: [iot-raw-xz]\n      preview: maybe'), marker: 'preview: maybe', path: 'imagebuilder.^IoT$[0].preview', problem: /expected true or false, got/ },
    { edit: (t) => t.replace('types: [iot-raw-xz]', 'types: [iot-raw-xz]\n      backend: cloud'), marker: 'backend: cloud', path: 'imagebuilder.^IoT$[0].backend', problem: /expected one of "local", "koji", "remote-service"/ },
    { edit: (t) => t.replace('types: [iot-raw-xz]', 'typs: [iot-raw-xz]'), marker: 'typs:', path: 'imagebuilder.^IoT$[0].typs', problem: /unknown key/ },
    { edit: (t) => t.slice(0, t.indexOf('    - name: Fedora-IoT-raw')) + '    - just-a-string\n', marker: 'just-a-string', path: 'imagebuilder.^IoT$[0]', problem: /expected a mapping/ },
    { edit: (t) => t.replace('"^IoT$":', '"^Io(T$":'), marker: '"^Io(T$"', path: 'imagebuilder.^Io(T$', problem: /invalid variant regex/ },
    { edit: (t) => t + 'global_name: x\n', marker: 'global_name', path: 'global_name', problem: /cannot be set as a fallback/ },
    { edit: (t) => t + 'imagebuilder_bogus: x\n', marker: 'imagebuilder_bogus', path: 'imagebuilder_bogus', problem: /cannot be set as a fallback/ },
    { edit: (t) => t + 'compose:\n  type: weekly\n', marker: 'type: weekly', path: 'compose.type', problem: /expected one of "production", "nightly", "test", "ci", "development"/ },
    { edit: (t) => t + 'compose:\n  label: RC1\n', marker: 'label: RC1', path: 'compose.label', problem: /not a compose label/ },
    { edit: (t) => t + 'media_checksums: [sha256, crc32]\n', marker: 'media_checksums', path: 'media_checksums[1]', problem: /unknown checksum type "crc32"/ },
    { edit: (t) => t + 'media_checksums: [sha256, md5]\n', marker: 'media_checksums', path: 'media_checksums', problem: /needs exactly one checksum type/ },
    { edit: (t) => t.replace('    - name: Fedora-IoT-raw\n', '    - subvariant: x\n'), marker: 'subvariant: x', path: 'imagebuilder.^IoT$[0]', problem: /missing required key "name"/ },
    { edit: (t) => t.replace('      types: [iot-raw-xz]', '      types: [iot-raw-xz]\n      repos: [Nope]'), marker: 'repos: [Nope]', path: 'imagebuilder.^IoT$[0].repos', problem: /"Nope" is neither a URL, an absolute path nor a variant uid/ },
    { edit: (t) => t.replace('      types: [iot-raw-xz]', '      types: [iot-raw-xz]\n      blueprint: {packages: [{nam: vim}]}'), marker: 'blueprint:', path: 'imagebuilder.^IoT$[0].blueprint', problem: /nam/ },
    { edit: (t) => t.replace('      types: [iot-raw-xz]', '      types: [iot-raw-xz]\n      blueprint: missing.toml'), marker: 'blueprint:', path: 'imagebuilder.^IoT$[0].blueprint', problem: /cannot read: no such file/ },
    { edit: (t) => t.replace('    arches: [x86_64, aarch64]', '    arches: [x86_64, aarch64]\n  - uid: IoT\n    arches: [x86_64]'), marker: 'uid: IoT', path: 'variants[1].uid', problem: /defined twice/ },
  ];
  for (const c of cases) {
    const text = c.edit(GOOD);
    const msg = errorOf(text);
    const line = lineOf(text, c.marker, c.path === 'variants[1].uid' ? 2 : 1);
    const expectPrefix = `FILE:${line}: ${c.path}: `;
    const hit = msg.split('\n').find((l) => l.startsWith(expectPrefix));
    assert.ok(hit, `expected an error starting "${expectPrefix}", got:\n${msg}`);
    assert.match(hit, c.problem);
  }
});

test('a YAML syntax error names the line', () => {
  const text = GOOD.replace('    name: IoT\n', '    name: [IoT\n');
  assert.match(errorOf(text), /^FILE:\d+: YAML syntax error/);
});

test('blueprints: a path relative to the config, or inline', () => {
  write('bp.toml', 'name = "x"\n[[packages]]\nname = "vim-minimal"\n');
  const f = write('with-bp.yaml', GOOD.replace('types: [iot-raw-xz]', 'types: [iot-raw-xz]\n      blueprint: bp.toml'));
  const cfg = loadComposeConfig(f, { env: {} });
  const bp = cfg.entries[0].settings.blueprint?.value;
  assert.equal(bp?.kind, 'file');
  assert.deepEqual(bp?.blueprint.packages.map((p) => p.name), ['vim-minimal']);
  const inline = parseComposeConfig(GOOD.replace('types: [iot-raw-xz]', 'types: [iot-raw-xz]\n      blueprint: {customizations: {hostname: iot}}'), 'i.yaml', { env: {} });
  assert.equal(inline.entries[0].settings.blueprint?.value?.blueprint.customizations.hostname, 'iot');
});
