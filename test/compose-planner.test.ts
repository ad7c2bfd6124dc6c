// Planner: expansion of entries over variants/arches, imagebuilder_/global_ fallbacks, Pungi's
// magic release/version values, repos, failable arches, and ordering of ostree consumers after
// their producers (with a cycle error that names the entries).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseComposeConfig } from '../src/compose/config.js';
import { composeIdentity, type ComposeType } from '../src/compose/compose-id.js';
import { planCompose, type ComposePlan } from '../src/compose/planner.js';
import { KilnError } from '../src/util/errors.js';

const HEAD = `release: {name: Fedora-IoT, short: Fedora-IoT, version: "42"}
variants:
  - {uid: IoT, name: IoT, arches: [x86_64, aarch64], repo: "https://repo.example/iot/$arch/os/"}
  - {uid: Everything, name: Everything, arches: [x86_64, aarch64, ppc64le], repo: "https://repo.example/everything/$basearch/os/"}
  - {uid: Server, name: Server, arches: [x86_64]}
`;

function plan(body: string, o: { type?: ComposeType; label?: string; respin?: number } = {}): ComposePlan {
  const cfg = parseComposeConfig(HEAD + body, 'c.yaml', { env: {} });
  const id = composeIdentity(cfg.release, { type: o.type ?? 'nightly', date: '20251127', respin: o.respin ?? 3, ...(o.label ? { label: o.label } : {}) });
  return planCompose(cfg, id);
}

function planError(body: string): string {
  try {
    plan(body);
  } catch (e) {
    assert.ok(e instanceof KilnError, String(e));
    return (e as Error).message;
  }
  assert.fail('planned without error');
}

const group = (p: ComposePlan, name: string, variant = 'IoT') => {
  const g = p.groups.find((x) => x.name === name && x.variant === variant);
  assert.ok(g, `no group ${name} in ${variant}: ${p.groups.map((x) => x.id).join(', ')}`);
  return g;
};

test('fallbacks: entry key, then imagebuilder_<key>, then global_<key>', () => {
  const p = plan(`
global_target: g-target
global_distro: g-distro
global_seed: 7
global_preview: true
imagebuilder_target: ib-target
global_types: [minimal-raw-xz]
imagebuilder:
  "^Server$":
    - {name: A}
    - {name: B, target: own-target, types: [minimal-raw-zst], seed: 9, scratch: true, distro: fedora-43, preview: false}
`);
  const a = group(p, 'A', 'Server');
  assert.equal(a.preview, true);
  assert.equal(group(p, 'B', 'Server').preview, false);
  assert.equal(a.jobs[0]?.preview, true, 'jobs carry the group preview');
  assert.equal(a.target, 'ib-target');
  assert.equal(a.distro, 'g-distro');
  assert.equal(a.seed, 7);
  assert.equal(a.type, 'minimal-raw-xz');
  assert.equal(a.scratch, false);
  assert.equal(a.backend, 'local');
  const b = group(p, 'B', 'Server');
  assert.deepEqual([b.target, b.type, b.seed, b.scratch, b.distro], ['own-target', 'minimal-raw-zst', 9, true, 'fedora-43']);
});

test('release: absent means "let Koji pick", present-but-empty means the compose image release', () => {
  const body = (extra: string) => `
imagebuilder:
  "^Server$":
    - {name: A, types: [minimal-raw-xz]${extra}}
`;
  assert.equal(group(plan(body('')), 'A', 'Server').release, null);
  assert.equal(group(plan(body('')), 'A', 'Server').jobs[0].outputName, undefined);
  // nightly, 2025-11-27, respin 3 -> 20251127.n.3
  assert.equal(group(plan(body(', release: null')), 'A', 'Server').release, '20251127.n.3');
  assert.equal(group(plan(body(', release: ""')), 'A', 'Server').release, '20251127.n.3');
  assert.equal(group(plan(body(', release: "5"')), 'A', 'Server').release, '5');
  assert.equal(group(plan(body(', release: 5')), 'A', 'Server').jobs[0].outputName, 'A-42-5.x86_64');
  // a global fallback counts as present
  assert.equal(group(plan('global_release: null\n' + body('')), 'A', 'Server').release, '20251127.n.3');
});

test('magic release and version values follow Pungi', () => {
  const p = (release: string, version: string | undefined, o: { type?: ComposeType; label?: string }) =>
    group(
      plan(
        `
imagebuilder:
  "^Server$":
    - {name: A, types: [minimal-raw-xz], release: "${release}"${version ? `, version: "${version}"` : ''}}
`,
        o,
      ),
      'A',
      'Server',
    );
  assert.equal(p('!RELEASE_FROM_LABEL_DATE_TYPE_RESPIN', undefined, {}).release, '20251127.n.3');
  assert.equal(p('!RELEASE_FROM_LABEL_DATE_TYPE_RESPIN', undefined, { type: 'production' }).release, '20251127.3');
  assert.equal(p('!RELEASE_FROM_LABEL_DATE_TYPE_RESPIN', undefined, { type: 'ci' }).release, '20251127.ci.3');
  assert.equal(p('!RELEASE_FROM_LABEL_DATE_TYPE_RESPIN', undefined, { type: 'test' }).release, '20251127.t.3');
  assert.equal(p('!RELEASE_FROM_LABEL_DATE_TYPE_RESPIN', undefined, { type: 'production', label: 'RC-1.2' }).release, '1.2');
  assert.equal(p('!RELEASE_FROM_DATE_RESPIN', undefined, { label: 'RC-1.2' }).release, '20251127.3');
  assert.equal(p('x', '!VERSION_FROM_VERSION_DATE_RESPIN', {}).version, '42.20251127.3');
  assert.equal(p('x', '!VERSION_FROM_VERSION', { label: 'Beta-1.0' }).version, '42');
  // no version configured: release version, with the milestone unless RC
  assert.equal(p('x', undefined, { type: 'production', label: 'Beta-1.0' }).version, '42_Beta');
  assert.equal(p('x', undefined, { type: 'production', label: 'RC-1.0' }).version, '42');
  assert.equal(p('!OSTREE_VERSION_FROM_LABEL_DATE_TYPE_RESPIN', undefined, { type: 'production', label: 'Beta-1.2' }).release, '42_Beta.1.2');
  assert.equal(p('!OSTREE_VERSION_FROM_LABEL_DATE_TYPE_RESPIN', undefined, {}).release, '42.20251127.n.3');
  const msg = planError(`
imagebuilder:
  "^Server$":
    - {name: A, types: [minimal-raw-xz], release: "!RELEASE_FROM_MOON"}
`);
  assert.match(msg, /^c\.yaml:9: imagebuilder\.\^Server\$\[0\]\.release: unknown version generator "!RELEASE_FROM_MOON"/);
});

test('variant regexes match at the start (re.match); arches intersect; types split into groups', () => {
  const p = plan(`
imagebuilder:
  "IoT|Every":
    - {name: A, types: [minimal-raw-xz, minimal-raw-zst], arches: [aarch64, ppc64le, s390x]}
  "erver":
    - {name: Z, types: [minimal-raw-xz]}
`);
  assert.deepEqual(
    p.groups.map((g) => `${g.variant}:${g.type}:${g.arches.join('+')}`),
    ['IoT:minimal-raw-xz:aarch64', 'IoT:minimal-raw-zst:aarch64', 'Everything:minimal-raw-xz:aarch64+ppc64le', 'Everything:minimal-raw-zst:aarch64+ppc64le'],
  );
  // "erver" does not match "Server" from the start, so the entry is reported as unused
  assert.equal(p.warnings.length, 1);
  assert.match(p.warnings[0], /c\.yaml:\d+: imagebuilder\.erver\[0\]: variant regex "erver" matches no variant/);
  assert.deepEqual(group(p, 'A', 'Everything').jobs.map((j) => j.id), ['Everything.A.minimal-raw-xz.aarch64', 'Everything.A.minimal-raw-xz.ppc64le']);
});

test('failable: arch lists intersect the built arches, "*" means all of them', () => {
  const p = plan(`
imagebuilder:
  "^IoT$":
    - {name: A, types: [minimal-raw-xz], failable: [aarch64, s390x]}
    - {name: B, types: [minimal-raw-xz], failable: ["*"]}
    - {name: C, types: [minimal-raw-xz]}
`);
  assert.deepEqual(group(p, 'A').failableArches, ['aarch64']);
  assert.deepEqual(group(p, 'A').jobs.map((j) => [j.arch, j.failable]), [['aarch64', true], ['x86_64', false]]);
  assert.deepEqual(group(p, 'B').failableArches, ['aarch64', 'x86_64']);
  assert.deepEqual(group(p, 'C').failableArches, []);
});

test('repos: explicit first, variant uids resolved, own variant repo appended, $arch per job', () => {
  const p = plan(`
translate_paths: [["/mnt/koji/compose/", "https://kojipkgs.example/compose/"]]
imagebuilder:
  "^IoT$":
    - name: A
      types: [minimal-raw-xz]
      repos: ["https://extra.example/$arch/", Everything, "/mnt/koji/compose/x/$arch/os", "/srv/local/$arch"]
    - {name: B, types: [minimal-raw-xz], repos: [IoT, Everything]}
`);
  const a = group(p, 'A');
  assert.deepEqual(a.repos, [
    'https://extra.example/$arch/',
    'https://repo.example/everything/$basearch/os/',
    'https://kojipkgs.example/compose/x/$arch/os',
    'file:///srv/local/$arch',
    'https://repo.example/iot/$arch/os/',
  ]);
  assert.deepEqual(a.jobs.find((j) => j.arch === 'aarch64')!.repos, [
    'https://extra.example/aarch64/',
    'https://repo.example/everything/aarch64/os/',
    'https://kojipkgs.example/compose/x/aarch64/os',
    'file:///srv/local/aarch64',
    'https://repo.example/iot/aarch64/os/',
  ]);
  // already listed: not appended again, order kept
  assert.deepEqual(group(p, 'B').repos, ['https://repo.example/iot/$arch/os/', 'https://repo.example/everything/$basearch/os/']);
  const msg = planError(`
imagebuilder:
  "^IoT$":
    - {name: A, types: [minimal-raw-xz], repos: [Server]}
`);
  assert.match(msg, /c\.yaml:9: imagebuilder\.\^IoT\$\[0\]\.repos: variant "Server" has no package repository/);
});

test('deployments are ordered after the commit they deploy, per arch', () => {
  const p = plan(`
imagebuilder:
  "^IoT$":
    - {name: Raw, types: [iot-raw-xz]}
    - {name: Installer, types: [iot-installer], ostree: {url: "compose:Commit", ref: "custom/$arch/ref"}}
    - {name: Commit, types: [iot-commit], ostree: {ref: "fedora/42/$arch/iot"}}
    - {name: Pinned, types: [iot-qcow2], ostree: {url: "https://ostree.example/repo/", ref: "fedora/stable/$arch/iot"}}
`);
  const order = p.groups.map((g) => g.name);
  assert.ok(order.indexOf('Commit') < order.indexOf('Raw'), order.join(','));
  assert.ok(order.indexOf('Commit') < order.indexOf('Installer'), order.join(','));
  const raw = group(p, 'Raw');
  assert.deepEqual(raw.dependsOn, ['IoT.Commit.iot-commit']);
  assert.deepEqual(raw.jobs.map((j) => j.ostreeFrom), ['IoT.Commit.iot-commit.aarch64', 'IoT.Commit.iot-commit.x86_64']);
  // the ref comes from the producer when not given, with $arch replaced per job
  assert.deepEqual(raw.jobs.map((j) => j.ostree?.ref), ['fedora/42/aarch64/iot', 'fedora/42/x86_64/iot']);
  assert.deepEqual(group(p, 'Installer').jobs.map((j) => j.ostree), [{ ref: 'custom/aarch64/ref' }, { ref: 'custom/x86_64/ref' }]);
  const pinned = group(p, 'Pinned');
  assert.deepEqual(pinned.dependsOn, []);
  assert.equal(pinned.jobs[1].ostree?.url, 'https://ostree.example/repo/');
  // among ready groups config order wins: Raw and Installer wait, so Commit (third) runs first
  assert.deepEqual(order, ['Commit', 'Raw', 'Installer', 'Pinned']);
});

test('compose: references by variant uid, and the errors for bad ones', () => {
  const p = plan(`
imagebuilder:
  "^IoT$":
    - {name: Commit, types: [iot-commit], ostree: {ref: "r/$arch"}}
  "^Everything$":
    - {name: Raw, types: [iot-raw-xz], arches: [x86_64], ostree: {url: "compose:IoT"}}
`);
  assert.deepEqual(group(p, 'Raw', 'Everything').dependsOn, ['IoT.Commit.iot-commit']);

  assert.match(
    planError(`
imagebuilder:
  "^IoT$":
    - {name: Raw, types: [iot-raw-xz], ostree: {url: "compose:Nope"}}
`),
    /c\.yaml:9: imagebuilder\.\^IoT\$\[0\]: ostree\.url "compose:Nope": no iot-commit entry named "Nope"/,
  );
  assert.match(
    planError(`
imagebuilder:
  "^IoT$":
    - {name: Raw, types: [iot-raw-xz]}
`),
    /c\.yaml:9: imagebuilder\.\^IoT\$\[0\]: iot-raw-xz deploys an ostree commit: set ostree\.url and ostree\.ref, or add an iot-commit entry/,
  );
  assert.match(
    planError(`
imagebuilder:
  "^IoT$":
    - {name: C1, types: [iot-commit]}
    - {name: C2, types: [iot-commit]}
    - {name: Raw, types: [iot-raw-xz]}
`),
    /imagebuilder\.\^IoT\$\[2\]: iot-raw-xz has no ostree\.url and the compose builds several commits \(C1, C2\)/,
  );
  assert.match(
    planError(`
imagebuilder:
  "^Server$":
    - {name: C1, types: [iot-commit]}
  "^IoT$":
    - {name: Raw, types: [iot-raw-xz], ostree: {url: "compose:C1"}}
`),
    /imagebuilder\.\^IoT\$\[0\]: deploys the commit of c\.yaml:9: imagebuilder\.\^Server\$\[0\], which is not built for aarch64/,
  );
});

test('a dependency cycle is an error naming the entries', () => {
  const msg = planError(`
imagebuilder:
  "^IoT$":
    - {name: Base, types: [iot-commit], ostree: {url: "compose:Layer", ref: "a/$arch"}}
    - {name: Layer, types: [iot-commit], ostree: {url: "compose:Base", ref: "b/$arch"}}
    - {name: Free, types: [minimal-raw-xz]}
`);
  assert.match(msg, /depend on each other in a cycle/);
  assert.match(msg, /Base \(iot-commit, c\.yaml:9: imagebuilder\.\^IoT\$\[0\]\)/);
  assert.match(msg, /Layer \(iot-commit, c\.yaml:10: imagebuilder\.\^IoT\$\[1\]\)/);
  assert.doesNotMatch(msg, /Free/);
});

test('colliding builds and a koji backend without target are errors', () => {
  assert.match(
    planError(`
global_release: "1"
imagebuilder:
  "^IoT$":
    - {name: A, types: [minimal-raw-xz]}
  "^Every":
    - {name: A, types: [minimal-raw-xz]}
`),
    /c\.yaml:12: imagebuilder\.\^Every\[0\]: image A-42-1 \(minimal-raw-xz, variant Everything\) collides with c\.yaml:10: imagebuilder\.\^IoT\$\[0\]/,
  );
  // Koji: one NVR per build even across types
  assert.match(
    planError(`
global_release: "1"
global_backend: koji
global_target: t
imagebuilder:
  "^IoT$":
    - {name: A, types: [minimal-raw-xz, minimal-raw-zst]}
`),
    /Koji builds need a unique name-version-release/,
  );
  assert.match(
    planError(`
imagebuilder:
  "^IoT$":
    - {name: A, types: [minimal-raw-xz], backend: koji}
`),
    /c\.yaml:9: imagebuilder\.\^IoT\$\[0\]: the koji backend needs a Koji build target/,
  );
  assert.match(
    planError(`
imagebuilder:
  "^IoT$":
    - {name: A}
`),
    /c\.yaml:9: imagebuilder\.\^IoT\$\[0\]: no image types/,
  );
});
