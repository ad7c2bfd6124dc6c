// Tests of the Kiln Koji build host (src/koji/builder) against the Koji hub protocol double:
// scratch and real builds end to end (tagging included), failable and failing arches, an
// unsupported arch, the early archive-type check, a hub restart mid-task, an interrupted
// upload, SIGTERM (tasks freed) and SIGKILL of a daemon process followed by a restart that
// continues the open parent task.
//
// The image build itself is an injected runner that writes real (small) files, because the
// executor's stage set is not complete yet; the runner interface is what the daemon uses.
//
// When KILN_BUILDER_CHILD is set this file runs a builder daemon instead of tests (the SIGKILL
// test starts it as a separate process).
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';

import { runKojiBuilder } from '../src/cli/koji-builder.js';
import { parseBuilderConfig, type BuilderConfig } from '../src/koji/builder/config.js';
import { KojiBuilder } from '../src/koji/builder/daemon.js';
import type { ImageBuildRunner } from '../src/koji/builder/runner.js';
import { decodeResponse, type XmlRpcStruct, type XmlRpcValue } from '../src/koji/xmlrpc.js';
import { startKojiHubDouble, TASK_STATES, BUILD_STATES, type KojiHubDouble } from './helpers/kojihub-double.js';
import { SmallRunner } from './koji-builder-harness.js';

// ------------------------------------------------------------------------------------ helpers

const tmpdirs: string[] = [];
function tmp(): string {
  const d = fs.mkdtempSync(os.tmpdir() + '/kiln-kojibuilder-');
  tmpdirs.push(d);
  return d;
}

async function startHub(topdir: string): Promise<KojiHubDouble> {
  return startKojiHubDouble({
    topdir,
    users: [
      { name: 'kojiadmin', password: 'adminpass', perms: ['admin'] },
      { name: 'imguser', password: 'imgpass', perms: ['image'] },
    ],
    hosts: [{ name: 'kiln1', password: 'hostpass', arches: 'x86_64 aarch64', capacity: 10, channels: ['default', 'image'] }],
    tags: [{ name: 'f42-build', arches: 'x86_64 aarch64' }, { name: 'f42', packages: ['Fedora-Minimal'] }],
    targets: [{ name: 'f42-image-builder', buildTag: 'f42-build', destTag: 'f42' }],
    schedulerIntervalMs: 0,
  });
}

function configText(dbl: KojiHubDouble, dir: string, extra = ''): string {
  return `
[hub]
url = "${dbl.url}"
topurl = "${dbl.topurl}"

[auth]
type = "password"
user = "kiln1"
password = "hostpass"

[host]
name = "kiln1"
arches = ["x86_64", "aarch64"]
max_jobs = 4
capacity = 4.0
poll_interval = 0.05
log_interval = 0.05
${extra}

[build]
work_dir = "${dir}/work"
cache_dir = "${dir}/cache"
buildroot = "host"
default_distro = "fedora-42"
`;
}

function config(dbl: KojiHubDouble, dir: string, extra = ''): BuilderConfig {
  const file = path.join(dir, 'builder.toml');
  fs.writeFileSync(file, configText(dbl, dir, extra));
  return parseBuilderConfig(fs.readFileSync(file, 'utf8'), file);
}

interface Running {
  builder: KojiBuilder;
  loop: Promise<void>;
  logs: string[];
  stop(): Promise<void>;
}

async function startBuilder(cfg: BuilderConfig, runner: ImageBuildRunner): Promise<Running> {
  const logs: string[] = [];
  const builder = new KojiBuilder(cfg, { runner, log: (m) => logs.push(m) });
  await builder.start();
  const loop = builder.run();
  return {
    builder,
    loop,
    logs,
    stop: async () => {
      await builder.stop();
      await loop;
    },
  };
}

function submit(dbl: KojiHubDouble, arches: string[], opts: XmlRpcStruct, types = ['minimal-raw-xz']): number {
  return Number(dbl.callAs('imguser', 'imageBuilderBuild', ['f42-image-builder', arches, types, 'Fedora-Minimal', '42', opts]));
}

async function waitFor<T>(what: string, fn: () => T | undefined | false, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const FINISHED: number[] = [TASK_STATES.CLOSED, TASK_STATES.FAILED, TASK_STATES.CANCELED];

async function waitTask(dbl: KojiHubDouble, id: number, timeoutMs = 20_000): Promise<number> {
  return waitFor(`task ${id} to finish`, () => {
    const t = dbl.state.tasks.get(id);
    return t && FINISHED.includes(t.state) ? t.state : undefined;
  }, timeoutMs);
}

/** A finished task's result: the value, or the fault. */
function result(dbl: KojiHubDouble, id: number): { value?: XmlRpcValue; fault?: { faultCode: number; faultString: string } } {
  const t = dbl.state.tasks.get(id)!;
  const r = decodeResponse(t.result!);
  return r.kind === 'value' ? { value: r.value } : { fault: r.fault };
}

function children(dbl: KojiHubDouble, parent: number) {
  return [...dbl.state.tasks.values()].filter((t) => t.parent === parent);
}

/** Run this file as a builder daemon process (see KILN_BUILDER_CHILD below). */
function spawnDaemon(configFile: string, marker: string) {
  const proc: ChildProcess = spawn(process.execPath, [new URL(import.meta.url).pathname], {
    env: { ...process.env, KILN_BUILDER_CHILD: JSON.stringify({ configFile, marker }) },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<[number | null, NodeJS.Signals | null]>((r) => proc.once('exit', (code, sig) => r([code, sig])));
  return {
    proc,
    exited,
    stderr: () => err,
    kill: () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    },
  };
}

/**
 * The build host's calls contain the recorded build host's calls of a transcript folder, in
 * order. Left out: calls that recording made and Kiln does not need (host.getID,
 * host.getLoadData, the legacy uploadFile path) and the client's calls after the task.
 */
function assertFollowsTranscript(dbl: KojiHubDouble, folder: string, notNeeded: string[] = []): void {
  const recorded = fs
    .readdirSync(`${TRANSCRIPTS}/${folder}`)
    .map((f) => f.replace(/^\d+-(.*)\.txt$/, '$1'))
    .filter((m) => ![...notNeeded, 'host.getID', 'host.getLoadData', 'uploadFile', 'getTaskResult', 'listTaskOutput', 'logout'].includes(m));
  const hostSessions = dbl.sessionsOf('kiln1').map((x) => x.id);
  const ours = dbl.calls
    .filter((c) => c.user === 'kiln1' || (c.method === 'login' && c.params[0] === 'kiln1') || (c.sessionId !== undefined && hostSessions.includes(c.sessionId)))
    .map((c) => c.method);
  let at = 0;
  for (const m of ours) if (m === recorded[at]) at++;
  assert.equal(at, recorded.length, `recorded call ${recorded[at]} (#${at} of ${folder}) not made in order; ours: ${ours.join(' ')}`);
}

const TRANSCRIPTS = new URL('../../test/fixtures/koji/transcripts', import.meta.url).pathname;

const sha256 = (f: string) => createHash('sha256').update(fs.readFileSync(f)).digest('hex');

// ---------------------------------------------------------------------------------- child mode

if (process.env.KILN_BUILDER_CHILD) {
  const c = JSON.parse(process.env.KILN_BUILDER_CHILD) as { configFile: string; marker: string };
  // builds hang after writing the marker, until aborted (SIGTERM) or killed (SIGKILL)
  const runner = new SmallRunner({
    marker: c.marker,
    gate: (req) => new Promise((_, rej) => req.signal.addEventListener('abort', () => rej(req.signal.reason))),
  });
  await runKojiBuilder(c.configFile, { runner, log: (m) => process.stderr.write(`[child] ${m}\n`) });
} else {
  after(() => {
    for (const d of tmpdirs) fs.rmSync(d, { recursive: true, force: true });
  });

  describe('koji builder against the hub double', () => {
    test('scratch build: child uploads image, manifest, SBOM and log; parent moves them to scratch', async () => {
      const dir = tmp();
      const dbl = await startHub(path.join(dir, 'koji'));
      const runner = new SmallRunner();
      const b = await startBuilder(config(dbl, dir), runner);
      try {
        const id = submit(dbl, ['x86_64'], { scratch: true });
        assert.equal(await waitTask(dbl, id), TASK_STATES.CLOSED, JSON.stringify(result(dbl, id)));
        const kids = children(dbl, id);
        assert.equal(kids.length, 1);
        const kid = kids[0]!;
        assert.equal(kid.method, 'imageBuilderBuildArch');
        assert.equal(kid.label, 'x86_64');
        assert.equal(kid.arch, 'x86_64');
        assert.equal(kid.state, TASK_STATES.CLOSED);
        const kr = result(dbl, kid.id).value as XmlRpcStruct;
        const base = 'Fedora-Minimal-42-1.x86_64';
        assert.deepEqual(kr.files, [`${base}.raw.xz`, `${base}.osbuild-manifest.json`, `${base}.image-os.spdx.json`]);
        assert.equal(kr.task_id, kid.id);
        assert.equal(kr.release, '1');
        assert.deepEqual(kr.logs, ['kiln-build.log']);
        // build.rpmlist defaults to "none", as upstream
        assert.deepEqual(kr.rpmlist, []);
        // the default repo is the build tag's repo under topurl, with the arch filled in
        assert.match(runner.builds[0]!.repos[0]!, new RegExp(`^${dbl.topurl}/repos/f42-build/\\d+/x86_64$`));
        const scratch = path.join(dir, 'koji', 'scratch', 'imguser', `task_${kid.id}`);
        assert.equal(sha256(path.join(scratch, `${base}.raw.xz`)), runner.written.get(`${base}.raw.xz`));
        const log = fs.readFileSync(path.join(scratch, 'kiln-build.log'), 'utf8');
        assert.match(log, /stub build of minimal-raw-xz for x86_64/);
        assert.match(log, /uploading Fedora-Minimal-42-1\.x86_64\.raw\.xz/);
        assert.match(String(result(dbl, id).value), new RegExp(`^Scratch image build results in: .*/work/tasks/${kid.id % 10000}/${kid.id}$`));
        // no build was made for a scratch task
        assert.equal([...dbl.state.builds.values()].length, 0);
        // the host's calls follow the recorded build host (task2-scratch) in order
        assertFollowsTranscript(dbl, 'task2-scratch');
        // the host said what it handles
        const hostData = dbl.state.hosts.get(1)!.data as XmlRpcStruct;
        assert.deepEqual(hostData.methods, ['imageBuilderBuild', 'imageBuilderBuildArch', 'tagBuild', 'waitrepo']);
      } finally {
        await b.stop();
        await dbl.stop();
      }
    });

    test('task options reach the build: repos and ostree ref with $arch filled in, seed, blueprint; a bad blueprint fails naming it', async () => {
      const dir = tmp();
      const dbl = await startHub(path.join(dir, 'koji'));
      const runner = new SmallRunner();
      const b = await startBuilder(config(dbl, dir), runner);
      try {
        const id = submit(dbl, ['aarch64'], {
          scratch: true,
          repos: ['https://example.org/compose/Everything/$arch/os/', 'https://example.org/extra/$basearch/'],
          ostree: { url: 'https://example.org/iot/repo/', ref: 'fedora/rawhide/$arch/iot' },
          seed: 42,
          preview: false,
          distro: 'fedora-42',
          blueprint: { name: 'bp', customizations: { hostname: 'kiln-image' } },
        });
        assert.equal(await waitTask(dbl, id), TASK_STATES.CLOSED, JSON.stringify(result(dbl, id)));
        const req = runner.builds[0]!;
        assert.deepEqual(req.repos, ['https://example.org/compose/Everything/aarch64/os/', 'https://example.org/extra/aarch64/']);
        assert.deepEqual(req.ostree, { url: 'https://example.org/iot/repo/', ref: 'fedora/rawhide/aarch64/iot' });
        assert.equal(req.seed, 42n);
        assert.equal(req.preview, false);
        assert.equal(req.distro, 'fedora-42');
        assert.equal(req.arch, 'aarch64');
        assert.equal(req.outputName, 'Fedora-Minimal-42-1.aarch64');
        assert.equal(req.blueprint?.customizations?.hostname, 'kiln-image');

        const bad = submit(dbl, ['x86_64'], { scratch: true, blueprint: { name: 'bp', customizations: { hostnam: 'typo' } } });
        assert.equal(await waitTask(dbl, bad), TASK_STATES.FAILED);
        const kid = children(dbl, bad)[0]!;
        const f = result(dbl, kid.id).fault!;
        assert.match(f.faultString, /opts\.blueprint/);
        assert.match(f.faultString, /hostnam/);
        assert.equal(runner.builds.length, 1, 'the bad blueprint was not built');
      } finally {
        await b.stop();
        await dbl.stop();
      }
    });

    test('full build: COMPLETE build with typed archives, tagged into the destination tag', async () => {
      const dir = tmp();
      const dbl = await startHub(path.join(dir, 'koji'));
      const runner = new SmallRunner();
      const b = await startBuilder(config(dbl, dir), runner);
      try {
        const id = submit(dbl, ['x86_64', 'aarch64'], { release: '20260101.n.0' });
        assert.equal(await waitTask(dbl, id), TASK_STATES.CLOSED, JSON.stringify(result(dbl, id)));
        const builds = [...dbl.state.builds.values()];
        assert.equal(builds.length, 1);
        const build = builds[0]!;
        assert.equal(build.state, BUILD_STATES.COMPLETE);
        assert.equal(`${build.name}-${build.version}-${build.release}`, 'Fedora-Minimal-42-20260101.n.0');
        assert.equal(build.taskId, id);
        const archives = [...dbl.state.archives.values()].filter((a) => a.buildId === build.id);
        const types = new Map([...dbl.state.archiveTypes.values()].map((t) => [t.id, t.name]));
        const got = archives.map((a) => `${a.filename}:${types.get(a.typeId)}:${a.arch}`).sort();
        assert.deepEqual(got, [
          'Fedora-Minimal-42-20260101.n.0.aarch64.image-os.spdx.json:json:aarch64',
          'Fedora-Minimal-42-20260101.n.0.aarch64.osbuild-manifest.json:json:aarch64',
          'Fedora-Minimal-42-20260101.n.0.aarch64.raw.xz:raw-xz:aarch64',
          'Fedora-Minimal-42-20260101.n.0.x86_64.image-os.spdx.json:json:x86_64',
          'Fedora-Minimal-42-20260101.n.0.x86_64.osbuild-manifest.json:json:x86_64',
          'Fedora-Minimal-42-20260101.n.0.x86_64.raw.xz:raw-xz:x86_64',
        ]);
        const img = path.join(dir, 'koji', 'packages', 'Fedora-Minimal', '42', '20260101.n.0', 'images', 'Fedora-Minimal-42-20260101.n.0.x86_64.raw.xz');
        assert.equal(sha256(img), runner.written.get(path.basename(img)));
        const f42 = [...dbl.state.tags.values()].find((t) => t.name === 'f42')!;
        assert.deepEqual(f42.tagged.map((x) => x.buildId), [build.id]);
        const kids = children(dbl, id);
        assert.deepEqual(kids.map((k) => `${k.method}:${k.label}`).sort(), ['imageBuilderBuildArch:aarch64', 'imageBuilderBuildArch:x86_64', 'tagBuild:tag']);
        assert.ok(kids.every((k) => k.state === TASK_STATES.CLOSED));
        assert.equal(result(dbl, id).value, `image build results in: /mnt/koji/packages/Fedora-Minimal/42/20260101.n.0/images`);
        // kojid's TagBuildTask reports success (ignore_success=True from the parent's subtask)
        assert.deepEqual(dbl.state.tagNotifications, [[true, f42.id, null, build.id, null, true, '']]);
        // (no getNextRelease: this request gives the release)
        assertFollowsTranscript(dbl, 'task3-build', ['getNextRelease']);
      } finally {
        await b.stop();
        await dbl.stop();
      }
    });

    test('a failable arch may fail; a failing arch that is not failable fails the build', async () => {
      const dir = tmp();
      const dbl = await startHub(path.join(dir, 'koji'));
      const b = await startBuilder(config(dbl, dir), new SmallRunner({ failArches: ['aarch64'] }));
      try {
        const ok = submit(dbl, ['x86_64', 'aarch64'], { failable_arches: ['aarch64'], skip_tag: true });
        assert.equal(await waitTask(dbl, ok), TASK_STATES.CLOSED, JSON.stringify(result(dbl, ok)));
        const okBuild = [...dbl.state.builds.values()].find((x) => x.taskId === ok)!;
        assert.equal(okBuild.state, BUILD_STATES.COMPLETE);
        const okArches = [...dbl.state.archives.values()].filter((a) => a.buildId === okBuild.id).map((a) => a.arch);
        assert.deepEqual([...new Set(okArches)], ['x86_64']);
        const failedKid = children(dbl, ok).find((k) => k.label === 'aarch64')!;
        assert.equal(failedKid.state, TASK_STATES.FAILED);
        assert.match(result(dbl, failedKid.id).fault!.faultString, /org\.osbuild\.rpm failed for aarch64/);

        const bad = submit(dbl, ['x86_64', 'aarch64'], { skip_tag: true });
        assert.equal(await waitTask(dbl, bad), TASK_STATES.FAILED);
        const f = result(dbl, bad).fault!;
        assert.match(f.faultString, /aarch64/);
        const badBuild = [...dbl.state.builds.values()].find((x) => x.taskId === bad)!;
        assert.equal(badBuild.state, BUILD_STATES.FAILED);

        // every arch failing fails the parent even when all are failable
        const all = submit(dbl, ['aarch64'], { failable_arches: ['aarch64'], scratch: true });
        assert.equal(await waitTask(dbl, all), TASK_STATES.FAILED);
        assert.match(result(dbl, all).fault!.faultString, /all subtasks failed/);
      } finally {
        await b.stop();
        await dbl.stop();
      }
    });

    test('an arch the build tag does not have fails the parent, naming it', async () => {
      const dir = tmp();
      const dbl = await startHub(path.join(dir, 'koji'));
      const runner = new SmallRunner();
      const b = await startBuilder(config(dbl, dir), runner);
      try {
        const id = submit(dbl, ['x86_64', 'ppc64le'], { scratch: true });
        assert.equal(await waitTask(dbl, id), TASK_STATES.FAILED);
        const f = result(dbl, id).fault!;
        assert.equal(f.faultCode, 1005);
        assert.match(f.faultString, /Unsupported architecture\(s\): ppc64le/);
        assert.equal(children(dbl, id).length, 0);
        assert.equal(runner.builds.length, 0);
      } finally {
        await b.stop();
        await dbl.stop();
      }
    });

    test('an output extension the hub has no archive type for fails before building', async () => {
      const dir = tmp();
      const dbl = await startHub(path.join(dir, 'koji'));
      const runner = new SmallRunner({ ext: 'raw.zst' });
      const b = await startBuilder(config(dbl, dir), runner);
      try {
        const id = submit(dbl, ['x86_64'], {}, ['minimal-raw-zst']);
        assert.equal(await waitTask(dbl, id), TASK_STATES.FAILED);
        const kid = children(dbl, id)[0]!;
        const f = result(dbl, kid.id).fault!;
        assert.match(f.faultString, /Fedora-Minimal-42-1\.x86_64\.raw\.zst/);
        assert.match(f.faultString, /"raw\.zst"/);
        assert.match(f.faultString, /addArchiveType/);
        assert.equal(runner.builds.length, 0, 'nothing was built');
        assert.equal([...dbl.state.builds.values()][0]!.state, BUILD_STATES.FAILED);

        // once an admin registers the type, the same request builds (release 2: the double does
        // not recycle FAILED builds the way kojihub recycle_build does)
        dbl.callAs('kojiadmin', 'addArchiveType', ['raw-zst', 'Zstd compressed raw disk image', 'raw.zst']);
        const id2 = submit(dbl, ['x86_64'], { skip_tag: true, release: '2' }, ['minimal-raw-zst']);
        assert.equal(await waitTask(dbl, id2), TASK_STATES.CLOSED, JSON.stringify(result(dbl, id2)));
        assert.equal(runner.builds.length, 1);
      } finally {
        await b.stop();
        await dbl.stop();
      }
    });

    test('the hub restarting while tasks run does not lose them', async () => {
      const dir = tmp();
      const dbl = await startHub(path.join(dir, 'koji'));
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      let building = false;
      const runner = new SmallRunner({
        gate: async () => {
          building = true;
          await gate;
        },
      });
      const b = await startBuilder(config(dbl, dir), runner);
      try {
        const id = submit(dbl, ['x86_64'], {});
        await waitFor('the build to start', () => building);
        // the build log is streamed into the task's upload dir while the build runs
        const kid = children(dbl, id)[0]!;
        const hubLog = path.join(dir, 'koji', 'work', 'tasks', String(kid.id % 10000), String(kid.id), 'kiln-build.log');
        await waitFor('the streamed log', () => fs.existsSync(hubLog) && /stub build of minimal-raw-xz/.test(fs.readFileSync(hubLog, 'utf8')));
        await dbl.restart();
        await new Promise((r) => setTimeout(r, 200));
        await dbl.restart();
        release();
        assert.equal(await waitTask(dbl, id), TASK_STATES.CLOSED, JSON.stringify(result(dbl, id)));
        assert.equal([...dbl.state.builds.values()][0]!.state, BUILD_STATES.COMPLETE);
      } finally {
        await b.stop();
        await dbl.stop();
      }
    });

    test('lost answers to completeImageBuild and closeTask are checked, not repeated blindly', async () => {
      const dir = tmp();
      const dbl = await startHub(path.join(dir, 'koji'));
      const dropped = new Map<string, number>();
      dbl.hook = (c) => {
        if ((c.method === 'host.completeImageBuild' || c.method === 'host.initImageBuild' || c.method === 'host.closeTask') && !dropped.has(c.method)) {
          dropped.set(c.method, Number(c.params[0]));
          return 'drop-after';
        }
        return undefined;
      };
      const b = await startBuilder(config(dbl, dir), new SmallRunner());
      try {
        const id = submit(dbl, ['x86_64'], { skip_tag: true });
        assert.equal(await waitTask(dbl, id), TASK_STATES.CLOSED, JSON.stringify(result(dbl, id)) + b.logs.join('\n'));
        assert.deepEqual([...dropped.keys()].sort(), ['host.closeTask', 'host.completeImageBuild', 'host.initImageBuild']);
        const builds = [...dbl.state.builds.values()];
        assert.equal(builds.length, 1, 'initImageBuild was not repeated into a second build');
        assert.equal(builds[0]!.state, BUILD_STATES.COMPLETE);
        assert.equal(dbl.calls.filter((c) => c.method === 'host.completeImageBuild').length, 1);
        assert.equal(result(dbl, id).value, 'image build results in: /mnt/koji/packages/Fedora-Minimal/42/1/images');
      } finally {
        await b.stop();
        await dbl.stop();
      }
    });

    test('an upload whose connection drops is resumed', async () => {
      const dir = tmp();
      const dbl = await startHub(path.join(dir, 'koji'));
      const runner = new SmallRunner({ size: 3 * 1048576 + 123 });
      let dropped = 0;
      dbl.hook = (c) => {
        if (c.method === 'rawUpload' && c.query?.filename?.endsWith('.raw.xz') && c.query.offset === String(2 * 1048576) && dropped === 0) {
          dropped++;
          return 'drop-after';
        }
        return undefined;
      };
      const b = await startBuilder(config(dbl, dir), runner);
      try {
        const id = submit(dbl, ['x86_64'], { scratch: true });
        assert.equal(await waitTask(dbl, id), TASK_STATES.CLOSED, JSON.stringify(result(dbl, id)));
        assert.equal(dropped, 1);
        const kid = children(dbl, id)[0]!;
        const name = 'Fedora-Minimal-42-1.x86_64.raw.xz';
        assert.equal(sha256(path.join(dir, 'koji', 'scratch', 'imguser', `task_${kid.id}`, name)), runner.written.get(name));
        assert.match(b.logs.join('\n') + fs.readFileSync(path.join(dir, 'koji', 'scratch', 'imguser', `task_${kid.id}`, 'kiln-build.log'), 'utf8'), /resumed 1 time/);
      } finally {
        await b.stop();
        await dbl.stop();
      }
    });

    test('the default runner (kiln build) reports a repo it cannot load, naming it', async () => {
      const dir = tmp();
      const dbl = await startHub(path.join(dir, 'koji'));
      const logs: string[] = [];
      const builder = new KojiBuilder(config(dbl, dir), { log: (m) => logs.push(m) });
      await builder.start();
      const loop = builder.run();
      try {
        // the build tag's repo directory does not exist on this hub
        const id = submit(dbl, ['x86_64'], { scratch: true, distro: 'fedora-42' });
        assert.equal(await waitTask(dbl, id, 60_000), TASK_STATES.FAILED);
        const kid = children(dbl, id)[0]!;
        const f = result(dbl, kid.id).fault!;
        assert.equal(f.faultCode, 1005);
        assert.match(f.faultString, /Kiln build of minimal-raw-xz for x86_64 failed/);
        assert.match(f.faultString, /repos\/f42-build\/\d+\/x86_64/);
      } finally {
        await builder.stop();
        await loop;
        await dbl.stop();
      }
    });

    test('a task method the host has no handler for is refused, naming the method', async () => {
      const dir = tmp();
      const dbl = await startHub(path.join(dir, 'koji'));
      const b = await startBuilder(config(dbl, dir), new SmallRunner());
      try {
        const id = dbl.state.makeTask('buildArch', ['x.src.rpm', 1, 'x86_64', true, {}], { channel: 'default', arch: 'x86_64', owner: dbl.state.userByName('kojiadmin')!.id });
        const refusal = await waitFor('the refusal', () => dbl.calls.find((c) => c.method === 'host.refuseTask' && c.params[0] === id));
        assert.match(JSON.stringify(refusal.params), /no handler for method buildArch/);
        assert.notEqual(dbl.state.tasks.get(id)!.state, TASK_STATES.OPEN);
        assert.match(b.logs.join('\n'), new RegExp(`task ${id}: refusing: no handler for method buildArch`));
      } finally {
        await b.stop();
        await dbl.stop();
      }
    });

    test('canceling a task on the hub stops its build', async () => {
      const dir = tmp();
      const dbl = await startHub(path.join(dir, 'koji'));
      let aborted = false;
      const runner = new SmallRunner({
        gate: (req) =>
          new Promise((_, rej) => {
            req.signal.addEventListener('abort', () => {
              aborted = true;
              rej(req.signal.reason);
            });
          }),
      });
      const b = await startBuilder(config(dbl, dir), runner);
      try {
        const id = submit(dbl, ['x86_64'], { scratch: true });
        await waitFor('the build to start', () => runner.builds.length > 0);
        dbl.callAs('imguser', 'cancelTask', [id]);
        await waitFor('the build to be aborted', () => aborted);
        await waitFor('the jobs to end', () => b.builder.runningTasks.length === 0);
        assert.equal(dbl.state.tasks.get(id)!.state, TASK_STATES.CANCELED);
        assert.ok(!dbl.calls.some((c) => c.method === 'host.closeTask' || c.method === 'host.failTask'), 'canceled tasks are not closed or failed: ' + JSON.stringify(dbl.calls.filter((c) => c.method === 'host.closeTask' || c.method === 'host.failTask')) + b.logs.join('\n'));
        assert.match(b.logs.join('\n'), /canceled on the hub; stopping it/);
      } finally {
        await b.stop();
        await dbl.stop();
      }
    });

    test('stop() (SIGTERM) aborts running builds and frees their tasks', async () => {
      const dir = tmp();
      const dbl = await startHub(path.join(dir, 'koji'));
      let aborted = false;
      const runner = new SmallRunner({
        gate: (req) =>
          new Promise((_, rej) => {
            req.signal.addEventListener('abort', () => {
              aborted = true;
              rej(req.signal.reason);
            });
          }),
      });
      const b = await startBuilder(config(dbl, dir), runner);
      const id = submit(dbl, ['x86_64'], { scratch: true });
      await waitFor('the build to start', () => runner.builds.length > 0);
      await b.stop();
      try {
        assert.ok(aborted, 'the build saw the abort');
        const kid = children(dbl, id)[0]!;
        assert.equal(dbl.state.tasks.get(kid.id)!.state, TASK_STATES.FREE);
        assert.equal(dbl.state.tasks.get(id)!.state, TASK_STATES.FREE);
        assert.ok(!fs.existsSync(path.join(dir, 'work', 'kiln-koji-builder.pid')));
      } finally {
        await dbl.stop();
      }
    });

    test('SIGTERM to a running daemon process frees its tasks and exits cleanly', async () => {
      const dir = tmp();
      const dbl = await startHub(path.join(dir, 'koji'));
      const cfg = config(dbl, dir);
      const marker = path.join(dir, 'building');
      const child = spawnDaemon(cfg.file, marker);
      try {
        const id = submit(dbl, ['x86_64'], {});
        await waitFor(`the child daemon to start building (stderr: ${child.stderr()})`, () => fs.existsSync(marker));
        const kid = children(dbl, id)[0]!;
        child.proc.kill('SIGTERM');
        const [code, signal] = await child.exited;
        assert.equal(signal, null, child.stderr());
        assert.equal(code, 0, child.stderr());
        assert.equal(dbl.state.tasks.get(kid.id)!.state, TASK_STATES.FREE);
        assert.equal(dbl.state.tasks.get(id)!.state, TASK_STATES.FREE);
        assert.ok(!fs.existsSync(path.join(dir, 'work', 'kiln-koji-builder.pid')));
        assert.match(child.stderr(), /freeing tasks/);
        // the session was closed: the next daemon needs no force
        const b = await startBuilder(cfg, new SmallRunner());
        try {
          assert.equal(await waitTask(dbl, id), TASK_STATES.CLOSED);
          const ex = dbl.calls.filter((c) => c.method === 'exclusiveSession').map((c) => JSON.stringify(c.params));
          assert.match(ex[1]!, /"force":false/);
        } finally {
          await b.stop();
        }
      } finally {
        child.kill();
        await dbl.stop();
      }
    });

    test('a builder killed with SIGKILL and started again continues its open parent task', async () => {
      const dir = tmp();
      const dbl = await startHub(path.join(dir, 'koji'));
      const cfg = config(dbl, dir);
      const marker = path.join(dir, 'building');
      const child = spawnDaemon(cfg.file, marker);
      let b: Running | undefined;
      try {
        const id = submit(dbl, ['x86_64'], {});
        await waitFor(`the child daemon to start building (stderr: ${child.stderr()})`, () => fs.existsSync(marker));
        const kid = children(dbl, id)[0]!;
        assert.equal(dbl.state.tasks.get(id)!.state, TASK_STATES.OPEN);
        assert.equal(kid.state, TASK_STATES.OPEN);
        child.proc.kill('SIGKILL');
        await child.exited;

        const runner = new SmallRunner();
        b = await startBuilder(cfg, runner);
        assert.equal(await waitTask(dbl, id), TASK_STATES.CLOSED, JSON.stringify(result(dbl, id)) + b.logs.join('\n'));
        // the same subtask was continued, no second one and no second build
        const archKids = children(dbl, id).filter((k) => k.method === 'imageBuilderBuildArch');
        assert.deepEqual(archKids.map((k) => k.id), [kid.id]);
        const builds = [...dbl.state.builds.values()];
        assert.equal(builds.length, 1);
        assert.equal(builds[0]!.state, BUILD_STATES.COMPLETE);
        const f42 = [...dbl.state.tags.values()].find((t) => t.name === 'f42')!;
        assert.deepEqual(f42.tagged.map((x) => x.buildId), [builds[0]!.id]);
        assert.match(b.logs.join('\n'), new RegExp(`task ${id} \\(imageBuilderBuild\\): left open by a previous run`));
        // the restarted host took over the dead one's session lock
        const exclusive = dbl.calls.filter((c) => c.method === 'exclusiveSession');
        assert.equal(exclusive.length, 2);
      } finally {
        child.kill();
        await b?.stop();
        await dbl.stop();
      }
    });
  });
}
