// Compose ids (productmd/Pungi format), respin allocation under a topdir, STATUS rules, the
// latest-* link and where images land in the tree.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildComposeId, composeIdentity, isValidLabel, parseComposeId, type ReleaseInfo } from '../src/compose/compose-id.js';
import { createComposeTree } from '../src/compose/tree.js';
import { KilnError } from '../src/util/errors.js';

const tmp = mkdtempSync(join(tmpdir(), 'kiln-compose-tree-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const IOT: ReleaseInfo = { name: 'Fedora-IoT', short: 'Fedora-IoT', version: '42', type: 'ga' };

// productmd composeinfo.py: compose.id must match this (re.match, i.e. anchored at the start only)
const PRODUCTMD_ID_RE = /^.*\d{8}(\.nightly|\.n|\.ci|\.test|\.t)?(\.\d+)?/;

test('compose ids: short-version[-type]-date<suffix>.respin', () => {
  assert.equal(buildComposeId(IOT, '20251127', 'nightly', 0), 'Fedora-IoT-42-20251127.n.0');
  assert.equal(buildComposeId(IOT, '20251127', 'production', 2), 'Fedora-IoT-42-20251127.2');
  assert.equal(buildComposeId(IOT, '20251127', 'test', 1), 'Fedora-IoT-42-20251127.t.1');
  assert.equal(buildComposeId(IOT, '20251127', 'ci', 0), 'Fedora-IoT-42-20251127.ci.0');
  assert.equal(buildComposeId({ ...IOT, type: 'updates' }, '20251127', 'production', 0), 'Fedora-IoT-42-updates-20251127.0');
  for (const t of ['production', 'nightly', 'test', 'ci', 'development'] as const) {
    const id = buildComposeId(IOT, '20251127', t, 4);
    assert.match(id, PRODUCTMD_ID_RE);
    assert.deepEqual(parseComposeId(id), { date: '20251127', type: t, respin: 4 });
  }
  assert.throws(() => buildComposeId(IOT, '2025-11-27', 'nightly', 0), /not YYYYMMDD/);
});

test('labels: <Milestone>-<major>.<minor> with productmd milestone names', () => {
  for (const ok of ['RC-1.2', 'Beta-1.0', 'RC-20251127.0', 'Update-3.4', 'SecurityFix-1.0', 'EA-0.1']) assert.ok(isValidLabel(ok), ok);
  for (const bad of ['RC1.2', 'Gamma-1.0', 'RC-1', 'rc-1.2', 'RC-1.2.3']) assert.ok(!isValidLabel(bad), bad);
});

test('the respin is bumped until the compose directory is free', () => {
  const top = join(tmp, 'respin');
  const a = createComposeTree(top, IOT, { type: 'nightly', date: '20251127' });
  const b = createComposeTree(top, IOT, { type: 'nightly', date: '20251127' });
  assert.equal(a.identity.id, 'Fedora-IoT-42-20251127.n.0');
  assert.equal(b.identity.id, 'Fedora-IoT-42-20251127.n.1');
  // an unrelated directory with the next id also counts as taken
  mkdirSync(join(top, 'Fedora-IoT-42-20251127.n.2'));
  assert.equal(createComposeTree(top, IOT, { type: 'nightly', date: '20251127' }).identity.id, 'Fedora-IoT-42-20251127.n.3');
  // other types do not share respins
  assert.equal(createComposeTree(top, IOT, { type: 'production', date: '20251127' }).identity.id, 'Fedora-IoT-42-20251127.0');
  assert.equal(readFileSync(join(top, b.identity.id, 'COMPOSE_ID'), 'utf8'), 'Fedora-IoT-42-20251127.n.1');
  const base = JSON.parse(readFileSync(join(top, b.identity.id, 'work', 'global', 'composeinfo-base.json'), 'utf8'));
  assert.equal(base.header.type, 'productmd.composeinfo');
  assert.deepEqual(base.payload.compose, { id: 'Fedora-IoT-42-20251127.n.1', date: '20251127', type: 'nightly', respin: 1 });
});

test('STATUS: written with a newline; FINISHED becomes FINISHED_INCOMPLETE; finished composes are final', () => {
  const t = createComposeTree(join(tmp, 'status'), IOT, { type: 'test', date: '20251127' });
  assert.equal(t.readStatus(), undefined);
  t.writeStatus('STARTED');
  assert.equal(readFileSync(join(t.dir, 'STATUS'), 'utf8'), 'STARTED\n');
  assert.equal(t.writeStatus('FINISHED', true), 'FINISHED_INCOMPLETE');
  assert.equal(readFileSync(join(t.dir, 'STATUS'), 'utf8'), 'FINISHED_INCOMPLETE\n');
  assert.throws(() => t.writeStatus('DOOMED'), (e: unknown) => e instanceof KilnError && /could not modify a finished compose/.test((e as Error).message));
  const u = createComposeTree(join(tmp, 'status'), IOT, { type: 'test', date: '20251127' });
  u.writeStatus('STARTED');
  u.writeStatus('TERMINATED');
  assert.equal(readFileSync(join(u.dir, 'STATUS'), 'utf8'), 'TERMINATED\n');
});

test('latest link: latest-<short>-<version components>, relative, replaced atomically', () => {
  const top = join(tmp, 'latest');
  const rel: ReleaseInfo = { name: 'X', short: 'X', version: '9.4.1', type: 'ga' };
  const a = createComposeTree(top, rel, { type: 'production', date: '20251127' });
  const link = a.updateLatestLink(-1);
  assert.equal(link, join(top, 'latest-X-9.4'));
  assert.equal(readlinkSync(link), a.identity.id);
  const b = createComposeTree(top, rel, { type: 'production', date: '20251127' });
  b.updateLatestLink(-1);
  assert.equal(readlinkSync(link), b.identity.id);
  assert.equal(readlinkSync(b.updateLatestLink(1)), b.identity.id);
  assert.ok(lstatSync(join(top, 'latest-X-9')).isSymbolicLink());
  assert.ok(!existsSync(join(top, 'latest-X')));
  b.updateLatestLink(0);
  assert.ok(lstatSync(join(top, 'latest-X')).isSymbolicLink());
  const iot = createComposeTree(top, IOT, { type: 'nightly', date: '20251127' });
  assert.equal(iot.updateLatestLink(), join(top, 'latest-Fedora-IoT-42'));
});

test('images go to images/, ISOs to iso/, under compose/<Variant>/<arch>/; one log per job', () => {
  const t = createComposeTree(join(tmp, 'layout'), IOT, { type: 'nightly', date: '20251127' });
  const src = join(tmp, 'Fedora-IoT-raw-42-1.x86_64.raw.xz');
  writeFileSync(src, 'raw');
  const iso = join(tmp, 'Fedora-IoT-ostree-42-1.x86_64.iso');
  writeFileSync(iso, 'iso');
  assert.equal(t.placeImage(src, 'IoT', 'x86_64', 'raw.xz', 'hardlink'), 'IoT/x86_64/images/Fedora-IoT-raw-42-1.x86_64.raw.xz');
  assert.equal(statSync(join(t.dir, 'compose/IoT/x86_64/images/Fedora-IoT-raw-42-1.x86_64.raw.xz')).ino, statSync(src).ino);
  assert.equal(t.placeImage(iso, 'IoT', 'x86_64', 'iso', 'copy'), 'IoT/x86_64/iso/Fedora-IoT-ostree-42-1.x86_64.iso');
  assert.notEqual(statSync(join(t.dir, 'compose/IoT/x86_64/iso/Fedora-IoT-ostree-42-1.x86_64.iso')).ino, statSync(iso).ino);
  t.placeImage(src, 'IoT', 'aarch64', 'raw.xz', 'symlink');
  const linked = join(t.dir, 'compose/IoT/aarch64/images/Fedora-IoT-raw-42-1.x86_64.raw.xz');
  assert.equal(readFileSync(linked, 'utf8'), 'raw');
  assert.ok(!readlinkSync(linked).startsWith('/'));
  assert.equal(t.jobLog('x86_64', 'IoT.Fedora-IoT-raw.iot-raw-xz.x86_64'), join(t.dir, 'logs/x86_64/imagebuilder/IoT.Fedora-IoT-raw.iot-raw-xz.x86_64.log'));
  // job ids cannot climb out of the logs directory
  assert.ok(t.jobLog('x86_64', '../../etc/passwd').startsWith(join(t.dir, 'logs/x86_64/imagebuilder/')));
  assert.ok(!existsSync(join(t.dir, 'STATUS')));
  assert.equal(composeIdentity(IOT, { type: 'nightly', date: '20251127', respin: 0 }).id, t.identity.id);
});
