// The local compose backend driven by the real orchestrator, with an injected builder standing in
// for buildImage (same contract: write <outputDir>/<outputName>.<ext> plus side files, return
// their paths). The iot-commit builder makes a real ostree repository with the ostree tool and
// tars it as osbuild's iot-commit does (repository at /repo), so the deployment job really gets
// a repository it can read.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BuildOptions } from '../src/build/build.js';
import { LocalBackend, unpackCommit, type BuildFunction } from '../src/compose/backends/local.js';
import { parseComposeConfig } from '../src/compose/config.js';
import { openCompose, runCompose, type ComposeReport } from '../src/compose/orchestrate.js';
import { planCompose, type ImageJob } from '../src/compose/planner.js';
import { createComposeTree } from '../src/compose/tree.js';

const tmp = mkdtempSync(join(tmpdir(), 'kiln-compose-local-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const EXT: Record<string, string> = { 'iot-commit': 'tar', 'iot-raw-xz': 'raw.xz', 'iot-installer': 'iso', 'minimal-raw-xz': 'raw.xz', 'iot-qcow2': 'qcow2' };

interface Call {
  opts: BuildOptions;
  /** what the deployment read from the ostree repository it was given */
  ostreeHead?: string;
  start: number;
  end?: number;
}

/** A builder with buildImage's contract that writes small real files. */
function fakeBuilder(o: { fail?: Set<string>; delayMs?: number } = {}) {
  const calls: Call[] = [];
  let active = 0;
  let maxActive = 0;
  const build: BuildFunction = async (opts) => {
    const call: Call = { opts, start: Date.now() };
    calls.push(call);
    active++;
    maxActive = Math.max(maxActive, active);
    try {
      await new Promise((r) => setTimeout(r, o.delayMs ?? 20));
      if (opts.signal?.aborted) throw new Error('aborted');
      const key = `${opts.imageType}.${opts.arch}`;
      if (o.fail?.has(key)) throw new Error(`stage org.osbuild.rpm failed for ${key}`);
      const out = opts.outputDir!;
      const base = join(out, opts.outputName!);
      const image = `${base}.${EXT[opts.imageType]}`;
      if (opts.imageType === 'iot-commit') {
        const work = mkdtempSync(join(tmp, 'commit-'));
        const tree = join(work, 'tree');
        mkdirSync(join(tree, 'usr/lib'), { recursive: true });
        writeFileSync(join(tree, 'usr/lib/os-release'), `ID=fedora\nARCH=${opts.arch}\n`);
        execFileSync('ostree', ['init', `--repo=${join(work, 'repo')}`, '--mode=archive']);
        execFileSync('ostree', ['commit', `--repo=${join(work, 'repo')}`, `--branch=${opts.ostree!.ref}`, `--tree=dir=${tree}`, '--subject=test']);
        execFileSync('tar', ['-cf', image, '-C', work, 'repo']);
        rmSync(work, { recursive: true, force: true });
      } else {
        if (opts.ostree?.url) {
          const refFile = join(fileURLToPath(opts.ostree.url), 'refs/heads', opts.ostree.ref!);
          call.ostreeHead = readFileSync(refFile, 'utf8').trim();
        }
        writeFileSync(image, execFileSync('xz', ['-0', '-c'], { input: Buffer.alloc(4096, opts.arch!) }));
      }
      const manifest = `${base}.osbuild-manifest.json`;
      writeFileSync(manifest, '{"version": "2"}\n');
      return { image, sideFiles: [manifest] };
    } finally {
      call.end = Date.now();
      active--;
    }
  };
  return { build, calls, maxActive: () => maxActive };
}

const IOT = `release: {name: Fedora-IoT, short: Fedora-IoT, version: "42"}
compose: {type: test}
variants:
  - {uid: IoT, name: IoT, arches: [x86_64, aarch64]}
global_release: "!RELEASE_FROM_LABEL_DATE_TYPE_RESPIN"
imagebuilder_distro: fedora-42
imagebuilder_repos: ["file:///srv/demo/$arch"]
imagebuilder_seed: 42
imagebuilder:
  "^IoT$":
    - {name: Fedora-IoT-commit, types: [iot-commit], ostree: {ref: "fedora/42/$arch/iot"}, failable: [aarch64], preview: false}
    - {name: Fedora-IoT-raw, types: [iot-raw-xz], failable: [aarch64]}
    - {name: Fedora-IoT-ostree, types: [iot-installer], manifest_type: dvd-ostree-osbuild, failable: ["*"]}
`;

async function run(name: string, b: ReturnType<typeof fakeBuilder>, o: { config?: string; concurrency?: number; resumeDir?: string } = {}) {
  const cfg = parseComposeConfig(o.config ?? IOT, `${name}.yaml`, { env: {} });
  let tree;
  let plan;
  if (o.resumeDir) ({ tree, plan } = openCompose(cfg, o.resumeDir));
  else {
    tree = createComposeTree(join(tmp, name), cfg.release, { type: cfg.compose.type, date: '20251127' });
    plan = planCompose(cfg, tree.identity);
  }
  const backend = new LocalBackend({ cacheDir: join(tmp, 'store'), build: b.build, concurrency: o.concurrency ?? 2 });
  const report = await runCompose({ config: cfg, plan, tree, backends: { local: backend }, concurrency: 4, resume: Boolean(o.resumeDir) });
  return { report, tree, cfg };
}

const images = (dir: string): string[] => {
  const doc = JSON.parse(readFileSync(join(dir, 'compose/metadata/images.json'), 'utf8'));
  return Object.values<any>(doc.payload.images).flatMap((a) => Object.values<any[]>(a).flat().map((i) => i.path)).sort();
};
const job = (r: ComposeReport, id: string) => r.jobs.find((j) => j.job === id)!;

test('IoT chain: the commit is built first and the raw image deploys the commit repository it produced', async () => {
  const b = fakeBuilder();
  const { report, tree } = await run('chain', b);
  assert.equal(report.status, 'FINISHED', JSON.stringify(report.jobs));
  for (const arch of ['x86_64', 'aarch64']) {
    const commit = b.calls.find((c) => c.opts.imageType === 'iot-commit' && c.opts.arch === arch)!;
    const raw = b.calls.find((c) => c.opts.imageType === 'iot-raw-xz' && c.opts.arch === arch)!;
    assert.ok(commit.end! <= raw.start, 'the commit finished before the raw image started');
    // the raw image's ostree source is the unpacked commit tarball under the compose's work dir
    const url = raw.opts.ostree!.url!;
    assert.ok(url.startsWith('file://'), url);
    assert.ok(fileURLToPath(url).startsWith(join(tree.dir, 'work', arch)), url);
    assert.equal(raw.opts.ostree!.ref, `fedora/42/${arch}/iot`);
    // the head the deployment read is the commit ostree itself reports for that repository
    const head = execFileSync('ostree', ['rev-parse', `--repo=${fileURLToPath(url)}`, `fedora/42/${arch}/iot`], { encoding: 'utf8' }).trim();
    assert.match(head, /^[0-9a-f]{64}$/);
    assert.equal(raw.ostreeHead, head);
    // job flags: repos with $arch replaced, seed, distro, planner's output name, shared store
    assert.deepEqual(raw.opts.forceRepos, [`file:///srv/demo/${arch}`]);
    assert.equal(raw.opts.seed, 42n);
    assert.equal(raw.opts.distro, 'fedora-42');
    // preview only where the config sets it (the commit entry), passed as the build's override
    assert.equal(commit.opts.preview, false);
    assert.ok(!('preview' in raw.opts), 'no override unless configured');
    assert.equal(raw.opts.outputName, `Fedora-IoT-raw-42-20251127.t.0.${arch}`);
    assert.equal(raw.opts.cacheDir, join(tmp, 'store'));
    assert.equal(raw.opts.withManifest, true);
  }
  assert.deepEqual(images(tree.dir), [
    'IoT/aarch64/images/Fedora-IoT-raw-42-20251127.t.0.aarch64.raw.xz',
    'IoT/aarch64/iso/Fedora-IoT-ostree-42-20251127.t.0.aarch64.iso',
    'IoT/x86_64/images/Fedora-IoT-raw-42-20251127.t.0.x86_64.raw.xz',
    'IoT/x86_64/iso/Fedora-IoT-ostree-42-20251127.t.0.x86_64.iso',
  ]);
  // build logs land in the compose's per-job logs
  const log = readFileSync(tree.jobLog('x86_64', 'IoT.Fedora-IoT-raw.iot-raw-xz.x86_64'), 'utf8');
  assert.match(log, /kiln build iot-raw-xz --arch x86_64 --distro fedora-42 --output-name Fedora-IoT-raw-42-20251127\.t\.0\.x86_64 --force-repo file:\/\/\/srv\/demo\/x86_64 --ostree-url file:\/\//);
  assert.match(log, /finished: Fedora-IoT-raw-42-20251127\.t\.0\.x86_64\.raw\.xz/);
});

test('concurrency: never more builds at once than the limit', async () => {
  const one = fakeBuilder({ delayMs: 60 });
  await run('limit1', one, { concurrency: 1 });
  assert.equal(one.maxActive(), 1);
  const two = fakeBuilder({ delayMs: 60 });
  await run('limit2', two, { concurrency: 2 });
  assert.equal(two.maxActive(), 2);
});

test('a failable failure: FINISHED_INCOMPLETE, the image is absent from images.json, the error names the job', async () => {
  const b = fakeBuilder({ fail: new Set(['iot-installer.aarch64']) });
  const { report, tree } = await run('failable', b);
  assert.equal(report.status, 'FINISHED_INCOMPLETE');
  const failed = job(report, 'IoT.Fedora-IoT-ostree.iot-installer.aarch64');
  assert.equal(failed.status, 'failed');
  assert.match(failed.error!, /IoT\.Fedora-IoT-ostree\.iot-installer\.aarch64: stage org\.osbuild\.rpm failed/);
  assert.match(readFileSync(failed.log, 'utf8'), /failed: stage org\.osbuild\.rpm failed/);
  const paths = images(tree.dir);
  assert.ok(!paths.some((p) => p.includes('aarch64/iso')), paths.join(','));
  assert.ok(paths.includes('IoT/x86_64/iso/Fedora-IoT-ostree-42-20251127.t.0.x86_64.iso'));
});

test('a non-failable failure dooms the compose after the builds already running have finished', async () => {
  // the x86_64 commit fails at once; the aarch64 commit (started with it) takes longer
  const b = fakeBuilder({ fail: new Set(['iot-commit.x86_64']), delayMs: 50 });
  const slow: BuildFunction = async (opts) => {
    if (opts.arch === 'aarch64') await new Promise((r) => setTimeout(r, 300));
    return b.build(opts);
  };
  const { report, tree } = await run('doomed', { ...b, build: slow });
  assert.equal(report.status, 'DOOMED');
  // the running build was let finish (Pungi does not cancel on an error), nothing new started
  assert.equal(job(report, 'IoT.Fedora-IoT-commit.iot-commit.aarch64').status, 'done');
  assert.ok(!b.calls.some((c) => c.opts.imageType !== 'iot-commit'), b.calls.map((c) => c.opts.imageType).join(','));
  assert.equal(readFileSync(join(tree.dir, 'STATUS'), 'utf8'), 'DOOMED\n');
  assert.ok(b.calls.every((c) => c.end !== undefined), 'no build still running when runCompose returned');
  assert.ok(!existsSync(join(tree.dir, 'compose/metadata/images.json')));
  assert.equal(job(report, 'IoT.Fedora-IoT-raw.iot-raw-xz.x86_64').status, 'skipped');
  assert.ok(!b.calls.some((c) => c.opts.imageType === 'iot-raw-xz' && c.opts.arch === 'x86_64'));
});

test('resume: finished images are kept (the builder is not called for them), the rest is built', async () => {
  // first run: the x86_64 raw image fails (not failable) -> DOOMED after the commits finished
  const first = fakeBuilder({ fail: new Set(['iot-raw-xz.x86_64']) });
  const r1 = await run('resume', first, { concurrency: 1 });
  assert.equal(r1.report.status, 'DOOMED');
  const built1 = r1.report.jobs.filter((j) => j.status === 'done').map((j) => j.job);
  assert.ok(built1.includes('IoT.Fedora-IoT-commit.iot-commit.x86_64'), built1.join(','));

  const second = fakeBuilder();
  const r2 = await run('resume', second, { resumeDir: r1.tree.dir, concurrency: 1 });
  assert.equal(r2.tree.dir, r1.tree.dir);
  assert.equal(r2.report.status, 'FINISHED', JSON.stringify(r2.report.jobs));
  const rebuilt = second.calls.map((c) => `${c.opts.imageType}.${c.opts.arch}`);
  for (const id of built1) {
    const [, , type, arch] = id.split('.');
    assert.ok(!rebuilt.includes(`${type}.${arch}`), `${id} was built again`);
    assert.equal(job(r2.report, id).resumed, true);
  }
  assert.ok(rebuilt.includes('iot-raw-xz.x86_64'));
  // the resumed raw image deploys the commit the first run built
  const raw = second.calls.find((c) => c.opts.imageType === 'iot-raw-xz' && c.opts.arch === 'x86_64')!;
  assert.match(raw.ostreeHead!, /^[0-9a-f]{64}$/);
  assert.equal(images(r2.tree.dir).length, 4);
  // a finished compose cannot be resumed
  assert.throws(() => openCompose(r2.cfg, r2.tree.dir), /FINISHED; a finished compose is never modified/);
});

test('resume refuses a directory that is not a compose of this config', () => {
  const cfg = parseComposeConfig(IOT, 'x.yaml', { env: {} });
  const empty = join(tmp, 'not-a-compose');
  mkdirSync(empty, { recursive: true });
  assert.throws(() => openCompose(cfg, empty), /--resume .*not-a-compose: not a Kiln compose directory/);
  const other = parseComposeConfig(IOT.replace(/Fedora-IoT, short: Fedora-IoT/, 'Fedora-Minimal, short: Fedora-Minimal'), 'm.yaml', { env: {} });
  const t = createComposeTree(join(tmp, 'other'), other.release, { type: 'test', date: '20251127' });
  assert.throws(() => openCompose(cfg, t.dir), /is not a compose of x\.yaml/);
});

test('a job for another arch fails at once with a message naming both arches', async () => {
  const b = fakeBuilder();
  const backend = new LocalBackend({ cacheDir: join(tmp, 'store'), build: b.build, hostArch: 'x86_64' });
  const cfg = parseComposeConfig(IOT, 'arch.yaml', { env: {} });
  const tree = createComposeTree(join(tmp, 'arch'), cfg.release, { type: 'test', date: '20251127' });
  const report = await runCompose({ config: cfg, plan: planCompose(cfg, tree.identity), tree, backends: { local: backend } });
  assert.equal(report.status, 'FINISHED_INCOMPLETE');
  assert.match(job(report, 'IoT.Fedora-IoT-commit.iot-commit.aarch64').error!, /builds on this x86_64 machine only and cannot build aarch64/);
  assert.ok(!b.calls.some((c) => c.opts.arch === 'aarch64'));
});

test('unpackCommit: a tarball without an ostree repository, or without the ref, is an error naming the job', async () => {
  const d = mkdtempSync(join(tmp, 'unpack-'));
  writeFileSync(join(d, 'x.txt'), 'x');
  execFileSync('tar', ['-cf', join(d, 'bad.tar'), '-C', d, 'x.txt']);
  const j = { id: 'IoT.c.iot-commit.x86_64', ostree: { ref: 'fedora/42/x86_64/iot' } } as ImageJob;
  await assert.rejects(unpackCommit(j, join(d, 'bad.tar'), join(d, 'out')), /IoT\.c\.iot-commit\.x86_64: bad\.tar holds no ostree repository at \/repo/);
  execFileSync('ostree', ['init', `--repo=${join(d, 'repo')}`, '--mode=archive']);
  mkdirSync(join(d, 't'));
  execFileSync('ostree', ['commit', `--repo=${join(d, 'repo')}`, '--branch=other/ref', `--tree=dir=${join(d, 't')}`]);
  execFileSync('tar', ['-cf', join(d, 'c.tar'), '-C', d, 'repo']);
  await assert.rejects(unpackCommit(j, join(d, 'c.tar'), join(d, 'out2')), /has no ref "fedora\/42\/x86_64\/iot" \(refs: other\/ref\)/);
  const noRef = { id: 'j', ostree: {} } as ImageJob;
  const c = await unpackCommit(noRef, join(d, 'c.tar'), join(d, 'out3'));
  assert.equal(c.ref, 'other/ref');
  assert.equal(c.checksum, execFileSync('ostree', ['rev-parse', `--repo=${join(d, 'repo')}`, 'other/ref'], { encoding: 'utf8' }).trim());
});
