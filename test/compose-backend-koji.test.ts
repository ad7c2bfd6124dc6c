// The koji and remote-service compose backends against the Koji hub protocol double, with a real
// Kiln build host (src/koji/builder) taking the imageBuilderBuild tasks. The host's image build
// is an injected runner writing small random files; everything between the compose and those
// files is real: the hub calls, the task tree, uploads, the build import, the downloads from
// topurl (or links from a mounted topdir), the compose tree and its metadata.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { KojiBackend } from '../src/compose/backends/koji.js';
import { RemoteServiceBackend, osbuildImageParams } from '../src/compose/backends/remote-service.js';
import { parseComposeConfig } from '../src/compose/config.js';
import { runCompose, type ComposeReport } from '../src/compose/orchestrate.js';
import { planCompose } from '../src/compose/planner.js';
import { createComposeTree } from '../src/compose/tree.js';
import { parseBuilderConfig } from '../src/koji/builder/config.js';
import { KojiBuilder } from '../src/koji/builder/daemon.js';
import type { ImageBuildOutput, ImageBuildRequest, ImageBuildRunner } from '../src/koji/builder/runner.js';
import { KojiSession } from '../src/koji/session.js';
import { encodeResponse, type XmlRpcStruct } from '../src/koji/xmlrpc.js';
import { startKojiHubDouble, TASK_STATES, BUILD_STATES, type KojiHubDouble } from './helpers/kojihub-double.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-compose-koji-'));

class StubRunner implements ImageBuildRunner {
  builds: ImageBuildRequest[] = [];
  written = new Map<string, string>(); // basename -> sha256
  fail: (req: ImageBuildRequest) => boolean = () => false;
  hold: ((req: ImageBuildRequest) => Promise<void>) | undefined;
  /** ostree head the deployment read from the repository URL it was given, by arch */
  heads = new Map<string, string>();
  async imageExtension(req: ImageBuildRequest): Promise<string> {
    return req.imageType === 'iot-commit' ? 'tar' : 'raw.xz';
  }
  async sideFileSuffixes(): Promise<string[]> {
    return ['osbuild-manifest.json'];
  }
  async build(req: ImageBuildRequest): Promise<ImageBuildOutput> {
    this.builds.push(req);
    if (this.hold) await this.hold(req);
    if (this.fail(req)) throw new Error(`stage org.osbuild.rpm failed for ${req.arch}`);
    const image = path.join(req.outputDir, `${req.outputName}.${await this.imageExtension(req)}`);
    if (req.imageType === 'iot-commit') {
      // a real ostree repository at /repo in the tarball, as the iot-commit image is
      const work = fs.mkdtempSync(path.join(tmp, 'commit-'));
      fs.mkdirSync(path.join(work, 'tree/usr/lib'), { recursive: true });
      fs.writeFileSync(path.join(work, 'tree/usr/lib/os-release'), `ID=fedora\nARCH=${req.arch}\n`);
      execFileSync('ostree', ['init', `--repo=${path.join(work, 'repo')}`, '--mode=archive']);
      execFileSync('ostree', ['commit', `--repo=${path.join(work, 'repo')}`, `--branch=${req.ostree!.ref}`, `--tree=dir=${path.join(work, 'tree')}`]);
      execFileSync('tar', ['-cf', image, '-C', work, 'repo']);
    } else if (req.ostree?.url) {
      this.heads.set(req.arch, fs.readFileSync(path.join(fileURLToPath(req.ostree.url), 'refs/heads', req.ostree.ref!), 'utf8').trim());
    }
    const data = req.imageType === 'iot-commit' ? fs.readFileSync(image) : randomBytes(3000);
    if (req.imageType !== 'iot-commit') fs.writeFileSync(image, data);
    this.written.set(path.basename(image), createHash('sha256').update(data).digest('hex'));
    const manifest = path.join(req.outputDir, `${req.outputName}.osbuild-manifest.json`);
    fs.writeFileSync(manifest, '{"version": "2"}');
    return { image, sideFiles: [manifest], packages: [] };
  }
}

let hub: KojiHubDouble;
let builder: KojiBuilder;
let loop: Promise<void>;
const runner = new StubRunner();

before(async () => {
  hub = await startKojiHubDouble({
    topdir: path.join(tmp, 'kojitop'),
    users: [{ name: 'imguser', password: 'imgpass', perms: ['image'] }],
    hosts: [{ name: 'kiln1', password: 'hostpass', arches: 'x86_64 aarch64', capacity: 10, channels: ['default', 'image'] }],
    tags: [{ name: 'f42-build', arches: 'x86_64 aarch64' }, { name: 'f42', packages: ['Fedora-Minimal', 'Fedora-Minimal-remote', 'Fedora-IoT-commit', 'Fedora-IoT-raw'] }],
    targets: [{ name: 'f42-image-builder', buildTag: 'f42-build', destTag: 'f42' }],
    schedulerIntervalMs: 0,
  });
  const cfgFile = path.join(tmp, 'builder.toml');
  fs.writeFileSync(
    cfgFile,
    `[hub]\nurl = "${hub.url}"\ntopurl = "${hub.topurl}"\n[auth]\ntype = "password"\nuser = "kiln1"\npassword = "hostpass"\n` +
      `[host]\nname = "kiln1"\narches = ["x86_64", "aarch64"]\nmax_jobs = 6\ncapacity = 6.0\npoll_interval = 0.05\nlog_interval = 0.05\n` +
      // Pungi's imagebuilder phase sends no distro: the build host's default_distro applies
      `[build]\nwork_dir = "${tmp}/hostwork"\ncache_dir = "${tmp}/hostcache"\nbuildroot = "host"\ndefault_distro = "fedora-42"\n`,
  );
  builder = new KojiBuilder(parseBuilderConfig(fs.readFileSync(cfgFile, 'utf8'), cfgFile), { runner, log: () => {} });
  await builder.start();
  loop = builder.run();
});

after(async () => {
  await builder?.stop();
  await loop;
  await hub?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** The start of a nightly compose config: one product, one variant on x86_64 and aarch64. */
const configHead = (product: string, variant: string) => `release: {name: ${product}, short: ${product}, version: "42"}
compose: {type: nightly}
variants:
  - {uid: ${variant}, name: ${variant}, arches: [x86_64, aarch64]}
global_release: "!RELEASE_FROM_LABEL_DATE_TYPE_RESPIN"
`;

const CONFIG = `${configHead('Fedora-Minimal', 'Minimal')}global_backend: koji
imagebuilder_target: f42-image-builder
imagebuilder_distro: fedora-42
imagebuilder_repos: ["https://repos.example/42/$arch/os/"]
imagebuilder:
  "^Minimal$":
    - {name: Fedora-Minimal, types: [minimal-raw-xz], failable: [aarch64], seed: 7, preview: true}
    - {name: Fedora-Minimal-scratch, types: [minimal-raw-xz], scratch: true, subvariant: Scratch}
`;

async function session(retries = 10): Promise<KojiSession> {
  const s = new KojiSession({ hub: hub.url, auth: { type: 'password', user: 'imguser', password: 'imgpass' }, retryDelayMs: 50, maxRetryDelayMs: 200, retries });
  await s.login();
  return s;
}

async function compose(name: string, backendOpts: Partial<ConstructorParameters<typeof KojiBackend>[0]>, o: { config?: string; signal?: AbortSignal; retries?: number; beforeRun?: () => void } = {}) {
  const cfg = parseComposeConfig(o.config ?? CONFIG, `${name}.yaml`, { env: {} });
  const tree = createComposeTree(path.join(tmp, name), cfg.release, { type: cfg.compose.type, date: '20251127' });
  const plan = planCompose(cfg, tree.identity);
  const opts = { session: await session(o.retries), topurl: hub.topurl, translatePaths: cfg.translatePaths, pollMs: 50, maxPollMs: 200, retryDelayMs: 50, ...backendOpts };
  const backends = { koji: new KojiBackend(opts), 'remote-service': new RemoteServiceBackend(opts) };
  o.beforeRun?.();
  const report = await runCompose({ config: cfg, plan, tree, backends, concurrency: 4, ...(o.signal ? { signal: o.signal } : {}) });
  return { report, tree };
}

const job = (r: ComposeReport, id: string) => r.jobs.find((j) => j.job === id)!;
const imagesJson = (dir: string) => JSON.parse(fs.readFileSync(path.join(dir, 'compose/metadata/images.json'), 'utf8')).payload.images;
const sha256 = (f: string) => createHash('sha256').update(fs.readFileSync(f)).digest('hex');

test('koji: one imageBuilderBuild per group, failable arch failure -> FINISHED_INCOMPLETE, images from the build and from scratch tasks', async () => {
  runner.fail = (req) => req.arch === 'aarch64' && req.outputName.startsWith('Fedora-Minimal-42-');
  const callsBefore = hub.calls.length;
  const { report, tree } = await compose('koji', {});
  runner.fail = () => false;
  assert.equal(report.status, 'FINISHED_INCOMPLETE', JSON.stringify(report.jobs, null, 1));

  // the hub calls: one per group, arches together, failable arches, $arch left for the builder
  const submits = hub.calls.slice(callsBefore).filter((c) => c.method === 'imageBuilderBuild' && !c.fault);
  assert.equal(submits.length, 2);
  const real = submits.find((c) => c.params[3] === 'Fedora-Minimal')!;
  assert.deepEqual(real.params.slice(0, 5), ['f42-image-builder', ['aarch64', 'x86_64'], ['minimal-raw-xz'], 'Fedora-Minimal', '42']);
  const opts = real.params[5] as XmlRpcStruct;
  assert.deepEqual(
    { scratch: opts.scratch, repos: opts.repos, release: opts.release, failable_arches: opts.failable_arches, seed: opts.seed, distro: opts.distro, preview: opts.preview },
    { scratch: false, repos: ['https://repos.example/42/$arch/os/'], release: '20251127.n.0', failable_arches: ['aarch64'], seed: 7, distro: 'fedora-42', preview: true },
  );
  const scratchOpts = submits.find((c) => c.params[3] === 'Fedora-Minimal-scratch')!.params[5] as XmlRpcStruct;
  assert.equal(scratchOpts.scratch, true);
  assert.ok(!('preview' in scratchOpts), 'no preview key unless the config sets one');

  // failed failable arch: reported with the builder's reason, not in images.json
  const failed = job(report, 'Minimal.Fedora-Minimal.minimal-raw-xz.aarch64');
  assert.equal(failed.status, 'failed');
  assert.match(failed.error!, /imageBuilderBuildArch task \d+ FAILED: .*stage org\.osbuild\.rpm failed for aarch64/);
  const images = imagesJson(tree.dir);
  const paths = Object.values<any[]>(images.Minimal).flat().map((i) => i.path).sort();
  assert.deepEqual(paths, [
    'Minimal/aarch64/images/Fedora-Minimal-scratch-42-20251127.n.0.aarch64.raw.xz',
    'Minimal/x86_64/images/Fedora-Minimal-42-20251127.n.0.x86_64.raw.xz',
    'Minimal/x86_64/images/Fedora-Minimal-scratch-42-20251127.n.0.x86_64.raw.xz',
  ]);
  // the bytes are the ones the build host wrote, and images.json's checksum is theirs
  for (const p of paths) {
    const f = path.join(tree.dir, 'compose', p);
    assert.equal(sha256(f), runner.written.get(path.basename(p)), p);
    const entry = Object.values<any[]>(images.Minimal).flat().find((i) => i.path === p);
    assert.equal(entry.checksums.sha256, runner.written.get(path.basename(p)));
  }
  // non-scratch: taken from the imported build; scratch: from the task's output dir
  const realLog = fs.readFileSync(job(report, 'Minimal.Fedora-Minimal.minimal-raw-xz.x86_64').log, 'utf8');
  assert.match(realLog, /fetched Fedora-Minimal-42-20251127\.n\.0\.x86_64\.raw\.xz \(3000 bytes\) from the build: .*\/packages\/Fedora-Minimal\/42\/20251127\.n\.0\/images\//);
  const scratchLog = fs.readFileSync(job(report, 'Minimal.Fedora-Minimal-scratch.minimal-raw-xz.x86_64').log, 'utf8');
  assert.match(scratchLog, /from task \d+: .*\/work\/tasks\/\d+\/\d+\/Fedora-Minimal-scratch/);
  // Pungi's task record
  const taskIds = fs.readdirSync(path.join(tree.dir, 'logs/global/koji-tasks'));
  assert.equal(taskIds.length, 2);
  const build = [...hub.state.builds.values()].find((b) => b.name === 'Fedora-Minimal' && b.release === '20251127.n.0')!;
  assert.equal(build.state, BUILD_STATES.COMPLETE);
});

test('koji: a hub that is offline at submit time is waited for, not fatal', async () => {
  let timer: NodeJS.Timeout | undefined;
  // the session itself does not retry here, so the backend's own waiting is what is tested
  const beforeRun = () => {
    hub.setOffline(true);
    timer = setTimeout(() => hub.setOffline(false), 600);
  };
  const config = CONFIG.replace(/    - \{name: Fedora-Minimal-scratch.*\n/, '').replace('Fedora-Minimal, types', 'Fedora-Minimal-offline, types').replace('packages: [', 'packages: [');
  const { report } = await compose('offline', {}, { config: config.replace('Fedora-Minimal-offline, types: [minimal-raw-xz], failable: [aarch64], seed: 7', 'Fedora-Minimal-offline, types: [minimal-raw-xz], seed: 7, scratch: true'), retries: 0, beforeRun });
  clearTimeout(timer);
  hub.setOffline(false);
  assert.equal(report.status, 'FINISHED', JSON.stringify(report.jobs));
  const log = fs.readFileSync(report.jobs[0].log, 'utf8');
  assert.match(log, /Koji hub unavailable .*retrying/);
});

test('koji: files are linked from a mounted topdir when one is given', async () => {
  const config = CONFIG.replace(/    - \{name: Fedora-Minimal, types.*\n/, '').replace('arches: [x86_64, aarch64]', 'arches: [x86_64]').replace('Fedora-Minimal-scratch', 'Fedora-Minimal-mounted');
  const { report, tree } = await compose('mounted', { topurl: undefined, topdir: path.join(tmp, 'kojitop'), linkType: 'hardlink' }, { config });
  assert.equal(report.status, 'FINISHED', JSON.stringify(report.jobs));
  const rel = report.jobs[0].images[0];
  const placed = path.join(tree.dir, 'compose', rel);
  const name = path.basename(rel);
  const hubFile = findFile(path.join(tmp, 'kojitop'), name)!;
  assert.ok(hubFile, `${name} under the hub's topdir`);
  assert.equal(fs.statSync(placed).ino, fs.statSync(hubFile).ino, 'the compose image is a link to the hub file, not a download');
});

function findFile(dir: string, name: string): string | undefined {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      const f = findFile(p, name);
      if (f) return f;
    } else if (e.name === name && e.isFile()) return p;
  }
  return undefined;
}

test('koji: Ctrl-C cancels the Koji task and leaves STATUS TERMINATED', async () => {
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  runner.hold = () => held;
  const ac = new AbortController();
  const config = CONFIG.replace(/    - \{name: Fedora-Minimal-scratch.*\n/, '').replace('Fedora-Minimal, types', 'Fedora-Minimal-cancel, types').replace('failable: [aarch64], seed: 7', 'scratch: true');
  const before = runner.builds.length;
  const waitBuild = (async () => {
    while (runner.builds.length === before) await new Promise((r) => setTimeout(r, 20));
    ac.abort();
  })();
  const { report, tree } = await compose('cancel', {}, { config, signal: ac.signal });
  await waitBuild;
  runner.hold = undefined;
  release();
  assert.equal(report.status, 'TERMINATED');
  assert.equal(fs.readFileSync(path.join(tree.dir, 'STATUS'), 'utf8'), 'TERMINATED\n');
  const id = Number(fs.readdirSync(path.join(tree.dir, 'logs/global/koji-tasks'))[0]);
  assert.equal(hub.state.tasks.get(id)!.state, TASK_STATES.CANCELED);
  assert.ok(hub.calls.some((c) => c.method === 'cancelTask' && c.params[0] === id));
});

test('remote-service: osbuildImage with the koji-osbuild argument shape; the content-generator build\'s archives are collected per arch', async () => {
  const config = `${configHead('Fedora-Minimal', 'Minimal')}imagebuilder:
  "^Minimal$":
    - {name: Fedora-Minimal-remote, types: [minimal-raw-xz], backend: remote-service, target: f42-image-builder, distro: fedora-42,
       repos: ["https://repos.example/42/$arch/os/"], failable: ["*"]}
`;
  // play koji-osbuild's builder + osbuild-composer: when the task appears, import a CG build
  // (files in packages/N/V/R/images, archives with extra.image.arch) and close the task with
  // {composer: {...}, koji: {build: id}}
  const written = new Map<string, string>();
  const fake = setInterval(() => {
    const t = [...hub.state.tasks.values()].find((x) => x.method === 'osbuildImage' && x.state === TASK_STATES.FREE);
    if (!t) return;
    const bid = hub.state.take('build');
    const release = '20251127.n.0';
    hub.state.builds.set(bid, {
      id: bid, pkgId: hub.state.packageId('Fedora-Minimal-remote'), name: 'Fedora-Minimal-remote', version: '42', release, epoch: null,
      state: BUILD_STATES.COMPLETE, taskId: null, ownerId: t.owner, createEvent: 1, createTs: Date.now() / 1000, startTs: null, completionTs: Date.now() / 1000,
      extra: null, btypes: new Set(['image']),
    });
    const dir = path.join(tmp, 'kojitop', 'packages', 'Fedora-Minimal-remote', '42', release, 'images');
    fs.mkdirSync(dir, { recursive: true });
    for (const arch of ['x86_64', 'aarch64']) {
      const filename = `Fedora-Minimal-remote-42-${release}.${arch}.raw.xz`;
      const data = randomBytes(2000);
      fs.writeFileSync(path.join(dir, filename), data);
      const sum = createHash('sha256').update(data).digest('hex');
      written.set(filename, sum);
      const aid = hub.state.take('archive');
      hub.state.archives.set(aid, {
        id: aid, buildId: bid, typeId: hub.state.archiveTypeFor(filename)!.id, btype: 'image', filename, size: data.length,
        checksum: sum, checksumType: 2, arch, extra: { image: { arch } },
      });
    }
    t.state = TASK_STATES.CLOSED;
    t.completionTs = Date.now() / 1000;
    t.result = encodeResponse({ composer: { server: 'https://composer.example', id: 'abc' }, koji: { build: bid } });
  }, 30);
  try {
    const { report, tree } = await compose('remote', {}, { config });
    assert.equal(report.status, 'FINISHED', JSON.stringify(report.jobs));
    const call = hub.calls.find((c) => c.method === 'osbuildImage')!;
    assert.deepEqual(call.params.slice(0, 6), ['Fedora-Minimal-remote', '42', 'fedora-42', ['minimal-raw-xz'], 'f42-image-builder', ['aarch64', 'x86_64']]);
    assert.deepEqual(call.params[6], { repo: [{ baseurl: 'https://repos.example/42/$arch/os/' }], release: '20251127.n.0' });
    for (const arch of ['x86_64', 'aarch64']) {
      const rel = `Minimal/${arch}/images/Fedora-Minimal-remote-42-20251127.n.0.${arch}.raw.xz`;
      assert.deepEqual(report.jobs.find((j) => j.arch === arch)!.images, [rel]);
      assert.equal(sha256(path.join(tree.dir, 'compose', rel)), written.get(path.basename(rel)));
    }
  } finally {
    clearInterval(fake);
  }
});

test('remote-service: an entry without distro is an error naming the entry', () => {
  const cfg = parseComposeConfig(
    `release: {name: F, short: F, version: "42"}
variants: [{uid: M, arches: [x86_64]}]
imagebuilder:
  "^M$": [{name: F-img, types: [minimal-raw-xz], backend: remote-service, target: t, release: "1"}]
`,
    'nodistro.yaml',
    { env: {} },
  );
  const plan = planCompose(cfg, createComposeTree(path.join(tmp, 'nd'), cfg.release, { type: 'test', date: '20251127' }).identity);
  assert.throws(() => osbuildImageParams(plan.groups[0], ['x86_64']), /nodistro\.yaml:\d+: .*needs "distro"/);
});

test('remote-service: a preview override is refused, not silently dropped (koji-osbuild has no such option)', () => {
  const cfg = parseComposeConfig(
    `release: {name: F, short: F, version: "42"}
variants: [{uid: M, arches: [x86_64]}]
imagebuilder:
  "^M$": [{name: F-img, types: [minimal-raw-xz], backend: remote-service, target: t, distro: fedora-42, preview: true}]
`,
    'preview.yaml',
    { env: {} },
  );
  const plan = planCompose(cfg, createComposeTree(path.join(tmp, 'pv'), cfg.release, { type: 'test', date: '20251127' }).identity);
  assert.throws(() => osbuildImageParams(plan.groups[0], ['x86_64']), /preview\.yaml:\d+: imagebuilder\.\^M\$\[0\]: "preview" cannot be honoured by the remote-service backend/);
});

test('koji: the IoT chain - the commit built in Koji is merged into one repository and handed to the deployment task', async () => {
  const config = `${configHead('Fedora-IoT', 'IoT')}global_backend: koji
imagebuilder_target: f42-image-builder
imagebuilder_repos: ["https://repos.example/42/$arch/os/"]
translate_paths: [["${tmp}/", "file://${tmp}/served/"]]
imagebuilder:
  "^IoT$":
    - {name: Fedora-IoT-commit, types: [iot-commit], ostree: {ref: "fedora/42/$arch/iot"}}
    - {name: Fedora-IoT-raw, types: [iot-raw-xz]}
`;
  // builders get the compose path through translate_paths; here the "web server" is a symlink
  fs.symlinkSync(tmp, path.join(tmp, 'served'));
  const before = hub.calls.length;
  const { report, tree } = await compose('iot', {}, { config });
  assert.equal(report.status, 'FINISHED', JSON.stringify(report.jobs, null, 1));
  const deploy = hub.calls.slice(before).find((c) => c.method === 'imageBuilderBuild' && c.params[3] === 'Fedora-IoT-raw')!;
  const ostree = (deploy.params[5] as XmlRpcStruct).ostree as XmlRpcStruct;
  const shared = path.join(tree.dir, 'work/global/ostree/IoT.Fedora-IoT-commit.iot-commit/repo');
  assert.deepEqual(ostree, { ref: 'fedora/42/$arch/iot', url: `file://${tmp}/served/${path.relative(tmp, shared)}` });
  for (const arch of ['x86_64', 'aarch64']) {
    const head = execFileSync('ostree', ['rev-parse', `--repo=${shared}`, `fedora/42/${arch}/iot`], { encoding: 'utf8' }).trim();
    assert.equal(runner.heads.get(arch), head, `${arch} deployment read the commit Koji built`);
  }
  assert.deepEqual(report.jobs.filter((j) => j.images.length).map((j) => j.images[0]).sort(), [
    'IoT/aarch64/images/Fedora-IoT-raw-42-20251127.n.0.aarch64.raw.xz',
    'IoT/x86_64/images/Fedora-IoT-raw-42-20251127.n.0.x86_64.raw.xz',
  ]);
});

// `kiln compose --backend koji` as a process (the real CLI, bin/kiln.js): hub flags, password login, --json
test('kiln compose --backend koji: flags, login, JSON report', async () => {
  const cfgFile = path.join(tmp, 'cli-koji.yaml');
  fs.writeFileSync(
    cfgFile,
    CONFIG.replace('global_backend: koji\n', '').replace(/    - \{name: Fedora-Minimal, types.*\n/, '').replace('Fedora-Minimal-scratch', 'Fedora-Minimal-cli'),
  );
  const pw = path.join(tmp, 'pw');
  fs.writeFileSync(pw, 'imgpass\n');
  const { spawn } = await import('node:child_process');
  const root = path.resolve(import.meta.dirname, '..', '..');
  const args = [
    path.join(root, 'bin', 'kiln.js'), 'compose', cfgFile, '--topdir', path.join(tmp, 'cli'), '--date', '20251127', '--json',
    '--backend', 'koji', '--hub', hub.url, '--topurl', hub.topurl, '--koji-user', 'imguser', '--koji-password-file', pw, '--poll-interval', '0.05',
  ];
  const r = await new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
    const child = spawn(process.execPath, args, { cwd: root, env: { ...process.env, XDG_CONFIG_HOME: path.join(tmp, 'xdg') } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => (err += d));
    child.on('close', (code) => resolve({ code, out, err }));
  });
  assert.equal(r.code, 0, r.err);
  const rep = JSON.parse(r.out);
  assert.equal(rep.status, 'FINISHED');
  assert.deepEqual(rep.images.map((i: any) => [i.arch, i.state]).sort(), [['aarch64', 'done'], ['x86_64', 'done']]);
  for (const i of rep.images) {
    assert.equal(sha256(path.join(rep.dir, 'compose', i.files[0])), runner.written.get(path.basename(i.files[0])));
  }
  assert.match(r.err, /Task URL: task \d+/);
});

test('koji: a group whose task an earlier run submitted re-attaches to it instead of submitting again', async () => {
  const config = CONFIG.replace(/    - \{name: Fedora-Minimal, types.*\n/, '').replace('Fedora-Minimal-scratch', 'Fedora-Minimal-again');
  const cfg = parseComposeConfig(config, 'again.yaml', { env: {} });
  const tree = createComposeTree(path.join(tmp, 'again'), cfg.release, { type: cfg.compose.type, date: '20251127' });
  const group = planCompose(cfg, tree.identity).groups[0];
  const backend = new KojiBackend({ session: await session(), topurl: hub.topurl, pollMs: 50, maxPollMs: 200 });
  const ctxs = () =>
    Object.fromEntries(
      group.jobs.map((j) => {
        const outputDir = tree.jobWorkDir(j.arch, j.id);
        fs.rmSync(outputDir, { recursive: true, force: true });
        fs.mkdirSync(outputDir, { recursive: true });
        return [j.arch, { tree, outputDir, logFile: tree.jobLog(j.arch, j.id), signal: new AbortController().signal, log: () => {} }];
      }),
    );
  const submits = () => hub.calls.filter((c) => c.method === 'imageBuilderBuild' && c.params[3] === 'Fedora-Minimal-again').length;
  const first = await backend.runGroup(group, group.jobs, ctxs());
  assert.ok(Object.values(first).every((o) => o.ok));
  assert.equal(submits(), 1);
  const second = await backend.runGroup(group, group.jobs, ctxs());
  assert.equal(submits(), 1, 'no second imageBuilderBuild');
  for (const j of group.jobs) {
    const o = second[j.arch];
    assert.ok(o.ok);
    if (o.ok) assert.deepEqual(o.result.files.map((f) => path.basename(f)).sort(), [`Fedora-Minimal-again-42-20251127.n.0.${j.arch}.osbuild-manifest.json`, `Fedora-Minimal-again-42-20251127.n.0.${j.arch}.raw.xz`]);
  }
  assert.match(fs.readFileSync(tree.jobLog(group.jobs[0].arch, group.jobs[0].id), 'utf8'), /re-attaching to Koji task \d+ from an earlier run/);
});
