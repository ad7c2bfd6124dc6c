// The runner: caching of finished pipelines, resuming from checkpoints, validation before
// anything runs, and the config stages that need a tree (systemd, selinux).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Manifest, Stage } from '../src/manifest/types.js';
import { pipelineIds } from '../src/manifest/ids.js';
import { runManifest } from '../src/executor/run.js';
import { enableUnitsOffline } from '../src/executor/stages/systemd.js';
import { Store } from '../src/executor/store.js';
import { assertNoLeaks, collect, mkTmp, serve, sha256, tmpEntries, type Srv } from './executor-helpers.js';

function inlineItems(files: Record<string, string>): Manifest['sources'] {
  const items: Record<string, unknown> = {};
  for (const c of Object.values(files)) items[sha256(c)] = { encoding: 'base64', data: Buffer.from(c).toString('base64') };
  return { 'org.osbuild.inline': { items } };
}

/** A stage copying inline files to paths in the tree. */
function placeFiles(files: Record<string, string>): Stage {
  return {
    type: 'org.osbuild.copy',
    inputs: { f: { type: 'org.osbuild.files', origin: 'org.osbuild.source', references: Object.values(files).map((c) => sha256(c)) } },
    options: { paths: Object.entries(files).map(([to, c]) => ({ from: `input://f/${sha256(c)}`, to: `tree://${to}` })) },
  };
}

function twoPipelines(imgSize: string): Manifest {
  return {
    version: '2',
    sources: {},
    pipelines: [
      { name: 'tree', stages: [{ type: 'org.osbuild.mkdir', options: { paths: [{ path: '/etc' }] } }, { type: 'org.osbuild.hostname', options: { hostname: 'cached' } }] },
      { name: 'img', build: 'name:tree', stages: [{ type: 'org.osbuild.truncate', options: { filename: 'disk.img', size: imgSize } }] },
    ],
  };
}

describe('executor runner', () => {
  const dir = mkTmp('run');
  const tmpBefore = tmpEntries(dir);
  let srv: Srv;
  before(async () => {
    srv = await serve({ '/pkg.rpm': 'not really an rpm' });
  });
  after(async () => {
    await srv.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('caches finished pipelines: a second run skips them, a run sharing the OS tree skips that', async () => {
    const store = path.join(dir, 'cache');
    const m = twoPipelines('1M');
    const ev1 = collect();
    const r1 = await runManifest(m, { store, outputDir: path.join(dir, 'c1'), exports: ['img'], buildroot: 'host', handleSignals: false, onEvent: ev1.on });
    assert.equal(r1.pipelines.tree!.status, 'built');
    assert.equal(r1.pipelines.img!.status, 'built');
    assert.equal(ev1.of('stage-start').length, 3);
    const ids = pipelineIds(m);
    const s = new Store(store);
    assert.ok(s.hasObject(ids.get('tree')!) && s.hasObject(ids.get('img')!), 'both pipelines committed');

    const ev2 = collect();
    const r2 = await runManifest(m, { store, outputDir: path.join(dir, 'c2'), exports: ['img'], buildroot: 'host', handleSignals: false, onEvent: ev2.on });
    assert.equal(ev2.of('stage-start').length, 0, 'nothing ran');
    assert.deepEqual(ev2.of('pipeline-skip').map((e) => [e.pipeline, e.reason]).sort(), [['img', 'cached'], ['tree', 'not-needed']]);
    assert.equal(r2.pipelines.img!.status, 'cached');
    assert.equal(fs.statSync(path.join(dir, 'c2', 'img', 'disk.img')).size, 1024 * 1024, 'export from the cache');

    // another image over the same OS tree
    const ev3 = collect();
    await runManifest(twoPipelines('2M'), { store, outputDir: path.join(dir, 'c3'), exports: ['img'], buildroot: 'host', handleSignals: false, onEvent: ev3.on });
    assert.deepEqual(ev3.of('pipeline-skip').map((e) => [e.pipeline, e.reason]), [['tree', 'cached']]);
    assert.deepEqual(ev3.of('stage-start').map((e) => `${e.pipeline}/${e.stage}`), ['img/org.osbuild.truncate']);
    assert.equal(fs.statSync(path.join(dir, 'c3', 'img', 'disk.img')).size, 2 * 1024 * 1024);
    assertNoLeaks(dir, store, tmpBefore);
  });

  it('a pipeline too big for the store size limit is not cached but still feeds later pipelines and exports', async () => {
    const store = path.join(dir, 'tiny');
    const ev = collect();
    const out = path.join(dir, 'tiny-out');
    await runManifest(twoPipelines('1M'), { store, storeMaxSize: 1, outputDir: out, exports: ['img'], buildroot: 'host', handleSignals: false, onEvent: ev.on });
    assert.deepEqual(ev.of('pipeline-finish').map((e) => [e.pipeline, e.committed]), [['tree', false], ['img', false]]);
    assert.deepEqual(fs.readdirSync(path.join(store, 'objects')), []);
    assert.equal(fs.statSync(path.join(out, 'img', 'disk.img')).size, 1024 * 1024);
    assertNoLeaks(dir, store, tmpBefore);
  });

  it('two builds sharing a store at the same time: each pipeline is built once, both succeed', async () => {
    const store = path.join(dir, 'shared');
    const evA = collect();
    const evB = collect();
    const [a, b] = await Promise.all([
      runManifest(twoPipelines('3M'), { store, outputDir: path.join(dir, 'sa'), exports: ['img'], buildroot: 'host', handleSignals: false, onEvent: evA.on }),
      runManifest(twoPipelines('3M'), { store: new Store(store), outputDir: path.join(dir, 'sb'), exports: ['img'], buildroot: 'host', handleSignals: false, onEvent: evB.on }),
    ]);
    const starts = [...evA.of('stage-start'), ...evB.of('stage-start')].map((e) => `${e.pipeline}/${e.index}`).sort();
    assert.deepEqual(starts, ['img/0', 'tree/0', 'tree/1'], 'every stage ran exactly once across both builds');
    assert.deepEqual([a.pipelines.img!.status, b.pipelines.img!.status].sort(), ['built', 'cached']);
    for (const o of ['sa', 'sb']) assert.equal(fs.statSync(path.join(dir, o, 'img', 'disk.img')).size, 3 * 1024 * 1024);
    assertNoLeaks(dir, store, tmpBefore);
  });

  it('a stage failing while it holds loop devices and mounts releases them all', async () => {
    const store = path.join(dir, 'fail-held');
    const loop = { type: 'org.osbuild.loopback', options: { filename: 'fs.img' } };
    const base: Stage[] = [
      { type: 'org.osbuild.truncate', options: { filename: 'fs.img', size: '16M' } },
      { type: 'org.osbuild.mkfs.ext4', options: { uuid: '11111111-2222-3333-4444-555555555555' }, devices: { device: loop } },
    ];
    // the stage's own command fails with the file system mounted
    const m1: Manifest = {
      version: '2',
      sources: {},
      pipelines: [{ name: 'p', stages: [...base, { type: 'org.osbuild.copy', options: { paths: [{ from: 'tree:///missing', to: 'mount://root/' }] }, devices: { d: loop }, mounts: [{ name: 'root', type: 'org.osbuild.ext4', source: 'd', target: '/' }] }] }],
    };
    await assert.rejects(runManifest(m1, { store, exports: [], buildroot: 'host', handleSignals: false }), /pipeline "p", stage 3 \(org\.osbuild\.copy\): copying tree:\/\/\/missing/);
    assertNoLeaks(dir, store, tmpBefore);
    // the second mount fails (wrong file system type) after the first device and mount are up
    const m2: Manifest = {
      version: '2',
      sources: {},
      pipelines: [
        {
          name: 'p',
          stages: [
            ...base,
            {
              type: 'org.osbuild.copy',
              options: { paths: [{ from: 'tree:///fs.img', to: 'mount://root/' }] },
              devices: { d: loop, e: loop },
              mounts: [
                { name: 'root', type: 'org.osbuild.ext4', source: 'd', target: '/' },
                { name: 'bad', type: 'org.osbuild.xfs', source: 'e', target: '/boot' },
              ],
            },
          ],
        },
      ],
    };
    await assert.rejects(runManifest(m2, { store, exports: [], buildroot: 'host', handleSignals: false }), /stage 3 \(org\.osbuild\.copy\): mount "bad": command 'mount -t xfs/);
    assertNoLeaks(dir, store, tmpBefore);
  });

  it('resumes from the last checkpointed stage after a failure', async () => {
    const store = path.join(dir, 'resume');
    const stages = (copyFrom: string): Manifest => ({
      version: '2',
      sources: {},
      pipelines: [
        {
          name: 'p',
          stages: [
            { type: 'org.osbuild.mkdir', options: { paths: [{ path: '/etc' }, { path: '/data' }] } },
            { type: 'org.osbuild.hostname', options: { hostname: 'resumed' } },
            { type: 'org.osbuild.copy', options: { paths: [{ from: `tree:///${copyFrom}`, to: 'tree:///data/' }] } },
          ],
        },
      ],
    });
    const ev1 = collect();
    await assert.rejects(
      runManifest(stages('nonexistent'), { store, exports: [], buildroot: 'host', handleSignals: false, checkpoint: ['org.osbuild.hostname'], onEvent: ev1.on }),
      /pipeline "p", stage 3 \(org\.osbuild\.copy\): copying tree:\/\/\/nonexistent to tree:\/\/\/data\/: .*nonexistent/,
    );
    assert.equal(ev1.of('checkpoint').length, 1);
    assertNoLeaks(dir, store, tmpBefore);
    const ev2 = collect();
    const out = path.join(dir, 'r2');
    const r = await runManifest(stages('etc/hostname'), { store, outputDir: out, exports: ['p'], buildroot: 'host', handleSignals: false, onEvent: ev2.on });
    assert.equal(ev2.of('pipeline-start')[0]!.resumeFrom, 2);
    assert.deepEqual(ev2.of('stage-start').map((e) => e.index), [2]);
    assert.equal(r.pipelines.p!.resumedFrom, 2);
    assert.deepEqual(r.pipelines.p!.stages.map((s) => s.status), ['cached', 'cached', 'ran']);
    assert.equal(fs.readFileSync(path.join(out, 'p', 'data', 'hostname'), 'utf8'), 'resumed\n');
    assertNoLeaks(dir, store, tmpBefore);
  });

  it('an unknown stage type is an error before anything runs or downloads, naming it and its pipeline', async () => {
    const store = path.join(dir, 'unknown');
    const sum = sha256('not really an rpm');
    const m: Manifest = {
      version: '2',
      sources: { 'org.osbuild.curl': { items: { [sum]: `${srv.url}/pkg.rpm` } } },
      pipelines: [
        { name: 'build', stages: [{ type: 'org.osbuild.mkdir', options: { paths: [{ path: '/x' }] } }] },
        {
          name: 'os',
          build: 'name:build',
          stages: [
            { type: 'org.osbuild.rpm', inputs: { packages: { type: 'org.osbuild.files', origin: 'org.osbuild.source', references: [sum] } } },
            { type: 'org.osbuild.frobnicate', options: {} },
          ],
        },
      ],
    };
    const ev = collect();
    await assert.rejects(runManifest(m, { store, exports: ['os'], outputDir: path.join(dir, 'u'), buildroot: 'host', handleSignals: false, onEvent: ev.on }), (err: Error) => {
      assert.match(err.message, /pipeline "os", stage 2 \(org\.osbuild\.frobnicate\): no implementation for stage type "org\.osbuild\.frobnicate"/);
      return true;
    });
    assert.equal(ev.events.length, 0, 'no event: nothing started');
    assert.equal(srv.hits.get('/pkg.rpm') ?? 0, 0, 'nothing downloaded');
    assert.equal(fs.existsSync(store), false, 'the store was not even created');
  });

  it('validation lists every problem: bad options, unknown input/mount/device types, dangling references', async () => {
    const m: Manifest = {
      version: '2',
      sources: { 'org.osbuild.skopeo': { items: {} } },
      pipelines: [
        {
          name: 'a',
          build: 'name:later',
          stages: [
            { type: 'org.osbuild.truncate', options: { filename: 'x' } },
            { type: 'org.osbuild.copy', options: { paths: [{ from: 'input://nope/', to: 'tree:///' }] }, inputs: { t: { type: 'org.osbuild.tree', origin: 'org.osbuild.pipeline', references: ['name:ghost'] } } },
            { type: 'org.osbuild.mkfs.ext4', options: { uuid: 'u' }, devices: { device: { type: 'org.osbuild.luks2' } } },
            { type: 'org.osbuild.copy', options: { paths: [{ from: 'tree:///a', to: 'mount://m/' }] }, devices: { d: { type: 'org.osbuild.loopback', options: { filename: 'x' } } }, mounts: [{ name: 'm', type: 'org.osbuild.erofs', source: 'd', target: '/' }] },
          ],
        },
        { name: 'later', stages: [] },
      ],
    };
    await assert.rejects(runManifest(m, { store: path.join(dir, 'v'), exports: ['missing'], buildroot: 'host', handleSignals: false }), (err: Error) => {
      const msg = err.message;
      assert.match(msg, /sources: no implementation for source type "org\.osbuild\.skopeo"/);
      assert.match(msg, /pipeline "a": build "name:later" names no pipeline declared before it/);
      assert.match(msg, /pipeline "a", stage 1 \(org\.osbuild\.truncate\): option "size" is required/);
      assert.match(msg, /pipeline "a", stage 2 \(org\.osbuild\.copy\): input "t": reference "name:ghost" names no pipeline/);
      assert.match(msg, /stage 2 \(org\.osbuild\.copy\): paths\[0\]\.from names input "nope"/);
      assert.match(msg, /stage 3 \(org\.osbuild\.mkfs\.ext4\): device "device": no implementation for device type "org\.osbuild\.luks2"/);
      assert.match(msg, /stage 4 \(org\.osbuild\.copy\): mount "m": no implementation for mount type "org\.osbuild\.erofs"/);
      assert.match(msg, /export "missing": no pipeline of that name/);
      return true;
    });
  });

  it('systemd: enables (with [Install] symlinks), masks and sets the default target', async () => {
    const units = {
      '/usr/lib/systemd/system/kiln.service': '[Unit]\nDescription=k\n[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\nAlias=kiln-alias.service\nAlso=kiln-helper.socket\n',
      '/usr/lib/systemd/system/kiln-helper.socket': '[Socket]\nListenStream=/run/k.sock\n[Install]\nWantedBy=sockets.target\n',
      '/usr/lib/systemd/system/other.service': '[Service]\nExecStart=/bin/true\n',
      '/usr/lib/systemd/system/multi-user.target': '[Unit]\nDescription=mu\n',
    };
    const m: Manifest = {
      version: '2',
      sources: inlineItems(units),
      pipelines: [
        {
          name: 'os',
          stages: [
            { type: 'org.osbuild.mkdir', options: { paths: [{ path: '/usr/lib/systemd/system', parents: true }, { path: '/etc/systemd/system', parents: true }] } },
            placeFiles(units),
            { type: 'org.osbuild.systemd', options: { enabled_services: ['kiln.service'], masked_services: ['other.service'], masked_generators: ['systemd-gpt-auto-generator'], default_target: 'multi-user.target' } },
          ],
        },
      ],
    };
    const out = path.join(dir, 'sd');
    await runManifest(m, { store: path.join(dir, 'sds'), outputDir: out, exports: ['os'], buildroot: 'host', handleSignals: false });
    const etc = path.join(out, 'os', 'etc/systemd/system');
    assert.equal(fs.readlinkSync(path.join(etc, 'multi-user.target.wants/kiln.service')), '/usr/lib/systemd/system/kiln.service');
    assert.equal(fs.readlinkSync(path.join(etc, 'kiln-alias.service')), '/usr/lib/systemd/system/kiln.service');
    assert.equal(fs.readlinkSync(path.join(etc, 'sockets.target.wants/kiln-helper.socket')), '/usr/lib/systemd/system/kiln-helper.socket');
    assert.equal(fs.readlinkSync(path.join(etc, 'other.service')), '/dev/null');
    assert.match(fs.readlinkSync(path.join(etc, 'default.target')), /multi-user\.target$/);
    assert.equal(fs.readlinkSync(path.join(out, 'os', 'etc/systemd/system-generators/systemd-gpt-auto-generator')), '/dev/null');

    // the no-systemctl fallback writes the same enablement links systemctl wrote
    const t2 = path.join(dir, 'sd-offline');
    for (const [p, c] of Object.entries(units)) {
      fs.mkdirSync(path.dirname(path.join(t2, p)), { recursive: true });
      fs.writeFileSync(path.join(t2, p), c);
    }
    enableUnitsOffline(t2, ['kiln.service'], 'test');
    const links = (root: string): string[] => {
      const outL: string[] = [];
      const walk = (d: string): void => {
        for (const e of fs.readdirSync(d, { withFileTypes: true })) {
          const p = path.join(d, e.name);
          if (e.isSymbolicLink()) outL.push(`${path.relative(root, p)} -> ${fs.readlinkSync(p)}`);
          else if (e.isDirectory()) walk(p);
        }
      };
      walk(root);
      return outL.sort();
    };
    const fromSystemctl = links(etc).filter((l) => /kiln/.test(l));
    assert.deepEqual(links(path.join(t2, 'etc/systemd/system')), fromSystemctl);
    assert.throws(() => enableUnitsOffline(t2, ['absent.service'], 'stage X'), /stage X: unit "absent\.service" does not exist in the tree/);
  });

  it('selinux without setfiles: an error by default, an announced unlabeled tree with selinuxWithoutTools=warn', async (t) => {
    const m: Manifest = {
      version: '2',
      sources: {},
      pipelines: [{ name: 'os', stages: [{ type: 'org.osbuild.mkdir', options: { paths: [{ path: '/etc' }] } }, { type: 'org.osbuild.selinux', options: { file_contexts: 'etc/selinux/targeted/contexts/files/file_contexts' } }] }],
    };
    const hasSetfiles = (process.env.PATH ?? '').split(':').some((d) => fs.existsSync(path.join(d, 'setfiles')));
    if (hasSetfiles) {
      t.skip('this host has setfiles');
      return;
    }
    await assert.rejects(
      runManifest(m, { store: path.join(dir, 'se1'), exports: [], buildroot: 'host', handleSignals: false }),
      /pipeline "os", stage 2 \(org\.osbuild\.selinux\): setfiles not found in the host; cannot apply SELinux labels/,
    );
    const ev = collect();
    const r = await runManifest(m, { store: path.join(dir, 'se2'), exports: [], buildroot: 'host', handleSignals: false, onEvent: ev.on, settings: { selinuxWithoutTools: 'warn' } });
    assert.ok(ev.of('log').some((e) => /WARNING: .*setfiles not found.*UNLABELED/.test(e.message)));
    assert.deepEqual(r.pipelines.os!.stages[1]!.metadata, { selinux: 'unlabeled', reason: 'setfiles not found' });
    assertNoLeaks(dir, path.join(dir, 'se2'), tmpBefore);
  });
});
