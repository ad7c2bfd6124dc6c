// Tests of `kiln koji build|watch|download` (src/koji/{config,submit,watch,download}.ts,
// src/cli/koji.ts): request building, client profiles, and the whole flow against the Koji hub
// protocol double (test/helpers/kojihub-double.ts) with a minimal fake build host in the test
// that takes the tasks through KojiSession's host calls, the way kojid does.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { Command, CommanderError } from 'commander';

import { registerKojiCommands } from '../src/cli/koji.js';
import { resolveKojiConfig, taskUrl } from '../src/koji/config.js';
import { planTaskDownload } from '../src/koji/download.js';
import { KojiSession } from '../src/koji/session.js';
import { buildTaskOpts, imageBuilderBuildParams } from '../src/koji/submit.js';
import { fastUpload } from '../src/koji/upload.js';
import { describeResult, exitCodeFor, formatElapsed, TASK_STATE, watchTask } from '../src/koji/watch.js';
import { decodeCall, encodeCall, encodeFault, encodeResponse, kwargs, type XmlRpcStruct, type XmlRpcValue } from '../src/koji/xmlrpc.js';
import { KilnError } from '../src/util/errors.js';
import { startKojiHubDouble, type KojiHubDouble } from './helpers/kojihub-double.js';
import { loadTranscripts } from './koji-transcripts.js';

const tmpdirs: string[] = [];
function tmp(): string {
  const d = fs.mkdtempSync(os.tmpdir() + '/kiln-kojisubmit-');
  tmpdirs.push(d);
  return d;
}
after(() => {
  for (const d of tmpdirs) fs.rmSync(d, { recursive: true, force: true });
});

// ------------------------------------------------------------------------------ helpers

/** A hub seeded like the recorded one, with a host that builds both arches. */
async function startHub(): Promise<KojiHubDouble> {
  const topdir = tmp();
  const hub = await startKojiHubDouble({
    topdir,
    users: [
      { name: 'kojiadmin', password: 'adminpass', perms: ['admin'] },
      { name: 'imguser', password: 'imgpass', perms: ['image'] },
      { name: 'builder1', password: 'hostpass', host: { arches: 'x86_64 aarch64', capacity: 10, channels: ['default', 'image'] } },
      { name: 'noperm', password: 'np' },
    ],
    tags: [{ name: 'f42-build', arches: 'x86_64 aarch64' }, { name: 'f42', packages: ['Fedora-Minimal'] }],
    targets: [{ name: 'f42-image-builder', buildTag: 'f42-build', destTag: 'f42' }],
    builds: [{ name: 'Fedora-Minimal', version: '42', release: '1', owner: 'imguser' }],
    ids: { task: 2 },
  });
  topdirs.set(hub, topdir);
  return hub;
}

async function withHub(fn: (hub: KojiHubDouble, creds: { pw: string }) => Promise<void>): Promise<void> {
  const hub = await startHub();
  const pw = path.join(tmp(), 'pw');
  fs.writeFileSync(pw, 'imgpass\n');
  try {
    await fn(hub, { pw });
  } finally {
    await hub.stop();
  }
}

interface CliRun {
  code: number;
  out: string;
  err: string;
}

/** Run `kiln koji ...` in-process, as main() does (KilnError -> "error: ..." and its exit code). */
async function kiln(args: string[], env: NodeJS.ProcessEnv = {}, live?: { out: string }): Promise<CliRun> {
  const sink = live ?? { out: '' };
  let err = '';
  const program = new Command('kiln').exitOverride().configureOutput({ writeOut: (s) => (sink.out += s), writeErr: (s) => (err += s) });
  registerKojiCommands(program, {
    stdout: { write: (s: string) => (sink.out += s), isTTY: false },
    stderr: { write: (s: string) => (err += s) },
    env: { HOME: tmp(), ...env },
    retryDelayMs: 10,
  });
  // subcommands need exitOverride too (commander copies settings only at creation)
  for (const c of program.commands) for (const s of [c, ...c.commands]) s.exitOverride().configureOutput({ writeOut: (x) => (sink.out += x), writeErr: (x) => (err += x) });
  try {
    await program.parseAsync(args, { from: 'user' });
    return { code: 0, out: sink.out, err };
  } catch (e) {
    if (e instanceof CommanderError) return { code: e.exitCode, out: sink.out, err };
    if (e instanceof KilnError) return { code: e.exitCode, out: sink.out, err: err + `error: ${e.message}\n` };
    throw e;
  }
}

/** Wait until the running command has printed a line matching `re` (so the test does not race the watcher). */
function gateOn(live: { out: string }) {
  return (re: RegExp) => until(`output matching ${re}`, () => re.test(live.out) || undefined, 10_000).then(() => undefined);
}

function hubArgs(hub: KojiHubDouble, pw: string): string[] {
  return ['--hub', hub.url, '--topurl', hub.topurl, '--user', 'imguser', '--password-file', pw];
}

async function until<T>(what: string, fn: () => T | undefined | Promise<T | undefined>, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v as T;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** The parts of kojid the tests need, over a real KojiSession with host calls. */
class FakeHost {
  private constructor(readonly s: KojiSession, private readonly hub: KojiHubDouble) {}

  static async start(hub: KojiHubDouble): Promise<FakeHost> {
    const s = new KojiSession({ hub: hub.url, auth: { type: 'password', user: 'builder1', password: 'hostpass' }, retries: 5, retryDelayMs: 20 });
    await s.login();
    await s.exclusiveSession(true);
    await s.call('host.updateHost', 0, true, kwargs({ data: { maxjobs: 10 } }));
    return new FakeHost(s, hub);
  }

  /** host.getTasks until the task is assigned to us, then host.openTask. */
  async take(id: number): Promise<XmlRpcStruct> {
    await until(`task ${id} assigned`, async () => ((await this.s.call('host.getTasks')) as XmlRpcStruct[]).some((t) => t.id === id) || undefined);
    return (await this.s.call('host.openTask', id)) as XmlRpcStruct;
  }

  async subtask(parent: number, arch: string, name = 'Fedora-Minimal', version = '42', release = '2'): Promise<number> {
    return (await this.s.call('host.subtask', kwargs({ method: 'imageBuilderBuildArch', arglist: [name, version, release, arch, ['minimal-raw-xz'], {}, {}, {}, {}], label: arch, parent, arch }))) as number;
  }

  async upload(taskId: number, files: Record<string, string | Buffer>): Promise<void> {
    const d = tmp();
    for (const [n, c] of Object.entries(files)) {
      fs.writeFileSync(path.join(d, n), c);
      await fastUpload(this.s, path.join(d, n), `tasks/${taskId % 10000}/${taskId}`);
    }
  }

  close(id: number, result: XmlRpcValue): Promise<XmlRpcValue> {
    return this.s.call('host.closeTask', id, encodeResponse(result));
  }

  fail(id: number, code: number, msg: string): Promise<XmlRpcValue> {
    return this.s.call('host.failTask', id, encodeFault(code, msg));
  }

  stop(): void {
    this.s.close();
  }
}

const pause = () => sleep(60);

/**
 * Run one image build on the fake host the way the builder plugin does: subtasks per arch,
 * uploads, import (or move to scratch), close. `failArch` fails that child.
 */
async function runBuild(
  host: FakeHost,
  parent: number,
  o: { arches: string[]; scratch?: boolean; failArch?: string; failable?: string[]; release?: string; gate?: (re: RegExp) => Promise<void> },
): Promise<{ files: Record<string, Record<string, string>>; release: string; buildId?: number }> {
  const gate = o.gate ?? (async () => undefined);
  await gate(new RegExp(`^${parent} imageBuilderBuild \\(noarch\\): free$`, 'm'));
  await host.take(parent);
  await pause();
  const release = o.release ?? ((await host.s.call('getNextRelease', { name: 'Fedora-Minimal', version: '42' })) as string);
  let buildId: number | undefined;
  if (!o.scratch) {
    const b = (await host.s.call('host.initImageBuild', parent, { name: 'Fedora-Minimal', version: '42', release, epoch: 0 })) as XmlRpcStruct;
    buildId = b.id as number;
  }
  const kids: [string, number][] = [];
  for (const arch of o.arches) kids.push([arch, await host.subtask(parent, arch, 'Fedora-Minimal', '42', release)]);
  await host.s.call('host.taskSetWait', parent, kids.map(([, id]) => id));
  for (const [arch, id] of kids) await gate(new RegExp(`^  ${id} imageBuilderBuildArch \\(${arch}\\): `, 'm'));
  await pause();
  const files: Record<string, Record<string, string>> = {};
  const results: XmlRpcStruct = {};
  for (const [arch, id] of kids) {
    await host.take(id);
    await pause();
    if (arch === o.failArch) {
      await host.upload(id, { 'image-builder.log': `building ${arch}\nerror: depsolve failed\n` });
      await host.fail(id, 1005, 'image-builder failed: exit status 1');
      continue;
    }
    const base = `Fedora-Minimal-42-${release}.${arch}`;
    const f: Record<string, string> = {
      [`${base}.raw.xz`]: `raw image for ${arch} `.repeat(500 + arch.length),
      [`${base}.osbuild-manifest.json`]: JSON.stringify({ version: '2', arch }),
      'image-builder.log': `built ${arch}\n`,
    };
    await host.upload(id, f);
    files[arch] = f;
    await host.close(id, { task_id: id, name: 'Fedora-Minimal', version: '42', release, arch, files: Object.keys(f).filter((n) => !n.endsWith('.log')), logs: [], rpmlist: [] });
    results[String(id)] = { task_id: id, name: 'Fedora-Minimal', version: '42', release, arch, files: Object.keys(f).filter((n) => !n.endsWith('.log')), logs: [], rpmlist: [] };
  }
  await pause();
  const canfail = kids.filter(([a]) => o.failable?.includes(a)).map(([, id]) => id);
  try {
    const res = (await host.s.call('host.taskWaitResults', parent, kids.map(([, id]) => id), kwargs({ canfail }))) as [number, XmlRpcValue][];
    for (const [id, r] of res) results[String(id)] = r;
  } catch (e) {
    if (buildId !== undefined) await host.s.call('host.failBuild', parent, buildId);
    await host.fail(parent, 1005, (e as { faultString?: string }).faultString ?? String(e));
    return { files, release, buildId };
  }
  if (o.scratch) {
    await host.s.call('host.moveImageBuildToScratch', parent, results);
    await host.close(parent, 'Scratch image build results in: scratch');
  } else {
    await host.s.call('host.completeImageBuild', parent, buildId!, results);
    await host.close(parent, `image build results in: build ${buildId}`);
  }
  return { files, release, buildId };
}

// ------------------------------------------------------------------------------ pure parts

describe('koji submit: request building', () => {
  test('opts like the upstream CLI plugin: scratch always, others only when given, plugin key order', () => {
    assert.deepEqual(buildTaskOpts({ target: 't', name: 'n', version: '1', type: 'x' }), { scratch: false });
    const bp = path.join(tmp(), 'bp.toml');
    fs.writeFileSync(bp, 'name = "min"\n[[packages]]\nname = "vim-minimal"\n[customizations]\nhostname = "box"\n');
    const opts = buildTaskOpts({
      target: 't', name: 'n', version: '1', type: 'x', scratch: true, skipTag: true,
      ostree: { url: 'https://o/repo', ref: 'fedora/$arch/iot' },
      bootc: { ref: 'quay.io/x:1', installerPayloadRef: 'quay.io/p:1' },
      repos: ['https://r/$arch/os/'], release: '20250101.n.0', distro: 'fedora-42', seed: 0, preview: false,
      blueprintFile: bp, failableArches: ['aarch64'],
    });
    assert.deepEqual(Object.keys(opts), ['scratch', 'ostree', 'bootc', 'repos', 'release', 'distro', 'seed', 'preview', 'blueprint', 'failable_arches', 'skip_tag']);
    assert.deepEqual(opts.ostree, { ref: 'fedora/$arch/iot', url: 'https://o/repo' });
    assert.deepEqual(opts.bootc, { ref: 'quay.io/x:1', 'installer-payload-ref': 'quay.io/p:1' });
    assert.equal(opts.seed, 0, 'seed 0 is sent (the plugin drops it)');
    assert.equal(opts.preview, false);
    const b = opts.blueprint as XmlRpcStruct;
    assert.equal(b.name, 'min');
    assert.deepEqual(b.packages, [{ name: 'vim-minimal' }]);
    assert.deepEqual(b.customizations, { hostname: 'box' });
    assert.ok(!Object.values(b).includes(undefined as never), 'no undefined members (would travel as nil)');
  });

  test('positional parameters; priority only when given; arch flags checked', () => {
    const base = { target: 'f42-image-builder', name: 'Fedora-Minimal', version: '42', type: 'minimal-raw-xz' };
    assert.deepEqual(imageBuilderBuildParams({ ...base, arches: ['x86_64'] }), ['f42-image-builder', ['x86_64'], ['minimal-raw-xz'], 'Fedora-Minimal', '42', { scratch: false }]);
    assert.equal(imageBuilderBuildParams({ ...base, priority: 5 }).length, 7);
    assert.throws(() => imageBuilderBuildParams({ ...base, arches: ['x86_64,aarch64'] }), /--arch "x86_64,aarch64": not an architecture name \(give --arch once per architecture\)/);
    assert.throws(() => imageBuilderBuildParams({ ...base, arches: ['x86_64', 'x86_64'] }), /--arch x86_64 is given twice/);
    assert.throws(() => imageBuilderBuildParams({ ...base, arches: ['x86_64'], failableArches: ['aarch64'] }), /--failable-arch aarch64: not among the --arch values \(x86_64\)/);
    assert.throws(() => imageBuilderBuildParams({ ...base, version: ' ' }), /version must not be empty/);
  });

  test('bad blueprint file: the error names the file and the key', () => {
    const bp = path.join(tmp(), 'bad.toml');
    fs.writeFileSync(bp, '[customizations]\nhostname = 5\n');
    assert.throws(() => buildTaskOpts({ target: 't', name: 'n', version: '1', type: 'x', blueprintFile: bp }), (e: Error) => e.message.includes(bp) && /customizations\.hostname/.test(e.message));
    const missing = path.join(tmp(), 'nope.json');
    assert.throws(() => buildTaskOpts({ target: 't', name: 'n', version: '1', type: 'x', blueprintFile: missing }), (e: Error) => e.message.includes(missing) && /no such file/.test(e.message));
  });

  test('watch helpers: elapsed format, exit codes, summaries', () => {
    assert.equal(formatElapsed(3725.9), '01:02:05');
    const mk = (state: number, failures: { id: number; label: string; reason: string }[] = []) => ({
      taskId: 5, state, stateName: '', interrupted: false, failures,
      tasks: [{ id: 5, parent: null, method: 'imageBuilderBuild', arch: 'noarch', label: null, state, hostId: null, createTs: null, startTs: null, completionTs: null, level: 0 }],
    });
    assert.deepEqual([mk(TASK_STATE.CLOSED), mk(TASK_STATE.FAILED), mk(TASK_STATE.CANCELED), { ...mk(TASK_STATE.OPEN), interrupted: true }].map(exitCodeFor), [0, 1, 2, 130]);
    assert.match(describeResult(mk(TASK_STATE.FAILED, [{ id: 5, label: 'x', reason: 'BuildError: boom' }, { id: 6, label: 'imageBuilderBuildArch (aarch64)', reason: 'BuildError: child' }])), /^5 imageBuilderBuild \(noarch\) failed: BuildError: boom\n {2}6 imageBuilderBuildArch \(aarch64\) failed: BuildError: child$/);
  });
});

describe('koji client profile', () => {
  test('flags over environment over profile file; named profiles; relative paths from the file', () => {
    const d = tmp();
    fs.writeFileSync(path.join(d, 'pw'), 'secret\n');
    const file = path.join(d, 'koji.toml');
    fs.writeFileSync(file, 'hub = "https://base/kojihub"\ntopurl = "https://pkgs"\n[stg]\nhub = "https://stg/kojihub"\nuser = "me"\npassword_file = "pw"\nweburl = "https://stg/koji/"\n');
    const env = { HOME: d, KILN_KOJI_CONFIG: file };
    const a = resolveKojiConfig({}, { env });
    assert.equal(a.hub, 'https://base/kojihub');
    assert.equal(a.auth.type, 'none');
    const b = resolveKojiConfig({ profile: 'stg' }, { env });
    assert.deepEqual([b.hub, b.topurl, b.weburl], ['https://stg/kojihub', 'https://pkgs', 'https://stg/koji']);
    assert.deepEqual(b.auth, { type: 'password', user: 'me', password: 'secret' });
    assert.equal(taskUrl(b, 42), 'https://stg/koji/taskinfo?taskID=42');
    const c = resolveKojiConfig({ profile: 'stg', hub: 'http://flag/kojihub' }, { env: { ...env, KILN_KOJI_HUB: 'http://env/kojihub', KILN_KOJI_TOPURL: 'http://envpkgs' } });
    assert.deepEqual([c.hub, c.sources.hub, c.topurl, c.sources.topurl], ['http://flag/kojihub', '--hub', 'http://envpkgs', 'KILN_KOJI_TOPURL']);
    // the default file location
    fs.mkdirSync(path.join(d, '.config', 'kiln'), { recursive: true });
    fs.writeFileSync(path.join(d, '.config', 'kiln', 'koji.toml'), 'hub = "https://home/kojihub"\n');
    assert.equal(resolveKojiConfig({}, { env: { HOME: d } }).hub, 'https://home/kojihub');
  });

  test('errors name the source of the bad value', () => {
    const d = tmp();
    const file = path.join(d, 'koji.toml');
    fs.writeFileSync(file, 'hub = "https://h/kojihub"\nbogus = 1\n');
    assert.throws(() => resolveKojiConfig({ config: file }, { env: { HOME: d } }), (e: Error) => e.message.includes(file) && /unknown key "bogus"/.test(e.message));
    assert.throws(() => resolveKojiConfig({}, { env: { HOME: d, KILN_KOJI_HUB: 'ftp://x' } }), /Koji hub URL ftp:\/\/x \(from KILN_KOJI_HUB\): only http and https/);
    assert.throws(() => resolveKojiConfig({}, { env: { HOME: d } }), /no Koji hub configured: give --hub URL, set KILN_KOJI_HUB/);
    assert.throws(() => resolveKojiConfig({ hub: 'http://h', user: 'u', passwordFile: path.join(d, 'missing') }, { env: { HOME: d } }), /password file .*missing \(from --password-file\): cannot read: no such file/);
    assert.throws(() => resolveKojiConfig({ hub: 'http://h', user: 'u' }, { env: { HOME: d } }), /user "u" is given \(--user\) but no password file/);
    assert.throws(() => resolveKojiConfig({ hub: 'http://h' }, { env: { HOME: d }, requireAuth: true }), /no Koji credentials configured/);
    assert.throws(() => resolveKojiConfig({ hub: 'http://h' }, { env: { HOME: d }, requireTopurl: true }), /no Koji topurl configured/);
    assert.throws(() => resolveKojiConfig({ hub: 'http://h', profile: 'x', config: file }, { env: { HOME: d } }), /unknown key "bogus"/);
    fs.writeFileSync(file, 'hub = "https://h/kojihub"\n[a]\nuser = "u"\n');
    assert.throws(() => resolveKojiConfig({ profile: 'b', config: file }, { env: { HOME: d } }), /Koji profile "b" \(from --profile\): no \[b\] table in .*koji.toml \(profiles there: a\)/);
    const cert = path.join(d, 'c.pem');
    fs.writeFileSync(cert, 'x');
    assert.throws(() => resolveKojiConfig({ hub: 'http://h', cert }, { env: { HOME: d } }), /client certificate \(--cert\) needs an https hub URL, but hub is http:\/\/h \(from --hub\)/);
    // a flag-level cert overrides user/password from the environment instead of clashing with it
    const r = resolveKojiConfig({ hub: 'https://h', cert }, { env: { HOME: d, KILN_KOJI_USER: 'u', KILN_KOJI_PASSWORD_FILE: '/x' } });
    assert.equal(r.auth.type, 'ssl');
    assert.throws(() => resolveKojiConfig({ hub: 'https://h', cert, user: 'u' }, { env: { HOME: d } }), /both a client certificate \(--cert\) and user\/password \(--user\)/);
  });
});

// ------------------------------------------------------------------------------ against the double

describe('kiln koji against the hub double', () => {
  test('build --nowait sends exactly what the koji CLI sent (transcript cli/0003) and does not wait', async () => {
    const recorded = loadTranscripts().find((t) => t.file === 'cli/0003-imageBuilderBuild.txt')!;
    const want = decodeCall(recorded.request.body);
    await withHub(async (hub, { pw }) => {
      const r = await kiln(['koji', 'build', 'f42-image-builder', 'Fedora-Minimal', '42', 'minimal-raw-xz', '--arch', 'x86_64', '--scratch', '--nowait', ...hubArgs(hub, pw), '--weburl', 'http://web/koji']);
      assert.equal(r.code, 0, r.err);
      const calls = hub.calls.filter((c) => c.method === 'imageBuilderBuild');
      assert.equal(calls.length, 1);
      assert.deepEqual(calls[0]!.params, want.params);
      // same bytes as the koji CLI's request body
      assert.equal(encodeCall('imageBuilderBuild', calls[0]!.params), recorded.request.body.toString('utf8'));
      const id = [...hub.state.tasks.keys()].at(-1)!;
      assert.equal(r.out, `Created task: ${id}\nTask info: http://web/koji/taskinfo?taskID=${id}\n`);
      assert.equal(hub.state.tasks.get(id)!.state, TASK_STATE.FREE, 'nobody took it; the command did not wait');
      const early = await kiln(['koji', 'download', String(id), '--dir', tmp(), ...hubArgs(hub, pw)]);
      assert.equal(early.code, 1);
      assert.match(early.err, new RegExp(`task ${id} has not finished yet \\(free\\); wait for it with \`kiln koji watch ${id}\``));
      assert.equal(hub.sessionsOf('imguser').filter((s) => !s.closed).length, 0, 'logged out');
    });
  });

  test('build watches the task tree to CLOSED (exit 0), then download fetches the build archives, verified', async () => {
    await withHub(async (hub, { pw }) => {
      const live = { out: '' };
      const run = kiln(['koji', 'build', 'f42-image-builder', 'Fedora-Minimal', '42', 'minimal-raw-xz', '--arch', 'x86_64', '--arch', 'aarch64', '--poll-interval', '0.02', ...hubArgs(hub, pw)], {}, live);
      const parent = await until('task', () => [...hub.state.tasks.values()].find((t) => t.method === 'imageBuilderBuild')?.id);
      const host = await FakeHost.start(hub);
      let built;
      try {
        built = await runBuild(host, parent, { arches: ['x86_64', 'aarch64'], gate: gateOn(live) });
      } finally {
        host.stop();
      }
      const r = await run;
      assert.equal(r.code, 0, r.out + r.err);
      const kids = [...hub.state.tasks.values()].filter((t) => t.parent === parent).map((t) => t.id);
      assert.equal(kids.length, 2);
      const lines = r.out.split('\n');
      assert.equal(lines[0], `Created task: ${parent}`);
      assert.ok(lines.includes(`${parent} imageBuilderBuild (noarch): free`), r.out);
      assert.ok(lines.some((l) => l.startsWith(`${parent} imageBuilderBuild (noarch): `) && l.includes('-> open')), r.out);
      assert.ok(lines.some((l) => new RegExp(`^  ${kids[0]} imageBuilderBuildArch \\(x86_64\\): .*-> closed \\(\\d\\d:\\d\\d:\\d\\d\\)$`).test(l)), r.out);
      assert.ok(lines.some((l) => l.startsWith(`  ${kids[1]} imageBuilderBuildArch (aarch64): `)), r.out);
      assert.match(r.out, new RegExp(`${parent} imageBuilderBuild \\(noarch\\) completed successfully: image build results in: build ${built.buildId}\\n$`));
      // the imageBuilderBuild call was made once; the session logged out
      assert.equal(hub.calls.filter((c) => c.method === 'imageBuilderBuild').length, 1);

      // download: the archives come from packages/<n>/<v>/<r>/images/ and are checked
      const plan = await planTaskDownload(new KojiSession({ hub: hub.url }), parent, { topurl: hub.topurl });
      const want = Object.entries(built.files).flatMap(([, f]) => Object.keys(f).filter((n) => !n.endsWith('.log')));
      assert.deepEqual(plan.map((p) => p.name).sort(), want.sort());
      for (const p of plan) {
        assert.equal(p.source, 'build');
        assert.equal(p.url, `${hub.topurl}/packages/Fedora-Minimal/42/${built.release}/images/${p.name}`);
        assert.equal(p.checksum?.type, 'sha256');
      }
      const dir = path.join(tmp(), 'out');
      const d = await kiln(['koji', 'download', String(parent), '--dir', dir, '--logs', ...hubArgs(hub, pw)]);
      assert.equal(d.code, 0, d.err);
      for (const [arch, f] of Object.entries(built.files)) {
        for (const [n, content] of Object.entries(f)) {
          const local = n.endsWith('.log') ? `image-builder.${arch}.log` : n;
          assert.equal(fs.readFileSync(path.join(dir, local), 'utf8'), content, local);
        }
      }
      assert.deepEqual(fs.readdirSync(dir).filter((n) => n.startsWith('.')), [], 'no temporary files left');
      // again: nothing is fetched twice
      const again = await kiln(['koji', 'download', String(parent), '--dir', dir, ...hubArgs(hub, pw)]);
      assert.equal(again.code, 0, again.err);
      assert.equal((again.out.match(/already downloaded/g) ?? []).length, want.length, again.out);

      // a file on the server that does not match the build's record is refused and not kept
      const img = want.find((n) => n.endsWith('x86_64.raw.xz'))!;
      fs.appendFileSync(path.join(hubTopdir(hub), 'packages', 'Fedora-Minimal', '42', built.release, 'images', img), 'tampered');
      const dir2 = path.join(tmp(), 'out2');
      const bad = await kiln(['koji', 'download', String(parent), '--dir', dir2, ...hubArgs(hub, pw)]);
      assert.equal(bad.code, 1);
      assert.match(bad.err, new RegExp(`${img.replace(/\./g, '\\.')}: got \\d+ bytes, the hub says \\d+`));
      assert.ok(!fs.existsSync(path.join(dir2, img)), 'no file under the final name');
      assert.deepEqual(fs.readdirSync(dir2).filter((n) => n.startsWith('.')), []);
    });
  });

  test('a FAILED child: the parent fails, exit 1, failure reasons of parent and child shown', async () => {
    await withHub(async (hub, { pw }) => {
      const live = { out: '' };
      const run = kiln(['koji', 'build', 'f42-image-builder', 'Fedora-Minimal', '42', 'minimal-raw-xz', '--arch', 'x86_64', '--arch', 'aarch64', '--poll-interval', '0.02', ...hubArgs(hub, pw)], {}, live);
      const parent = await until('task', () => [...hub.state.tasks.values()].find((t) => t.method === 'imageBuilderBuild')?.id);
      const host = await FakeHost.start(hub);
      try {
        await runBuild(host, parent, { arches: ['x86_64', 'aarch64'], failArch: 'aarch64', gate: gateOn(live) });
      } finally {
        host.stop();
      }
      const r = await run;
      assert.equal(r.code, 1);
      const child = [...hub.state.tasks.values()].find((t) => t.parent === parent && t.arch === 'aarch64')!.id;
      assert.match(r.out, new RegExp(`  ${child} imageBuilderBuildArch \\(aarch64\\): (?:open \\(host 1\\)|assigned|free) -> failed \\(\\d\\d:\\d\\d:\\d\\d\\): BuildError: image-builder failed: exit status 1`));
      assert.match(r.err, new RegExp(`^error: ${parent} imageBuilderBuild \\(noarch\\) failed: BuildError: image-builder failed: exit status 1\\n  ${child} imageBuilderBuildArch \\(aarch64\\) failed: BuildError: image-builder failed: exit status 1\\n$`));
      assert.equal(hub.state.builds.get(2)?.state, 3, 'the build was marked FAILED');
      // nothing to download from a failed task
      const d = await kiln(['koji', 'download', String(parent), '--dir', tmp(), ...hubArgs(hub, pw)]);
      assert.equal(d.code, 1);
      assert.match(d.err, new RegExp(`task ${parent} failed: nothing to download \\(\`kiln koji watch ${parent}\` shows why\\)`));
    });
  });

  test('a failable arch that fails: parent CLOSED, exit 0, failure listed; scratch download from task dirs with logs', async () => {
    await withHub(async (hub, { pw }) => {
      const live = { out: '' };
      const run = kiln(['koji', 'build', 'f42-image-builder', 'Fedora-Minimal', '42', 'minimal-raw-xz', '--scratch', '--arch', 'x86_64', '--arch', 'aarch64', '--failable-arch', 'aarch64', '--poll-interval', '0.02', ...hubArgs(hub, pw)], {}, live);
      const parent = await until('task', () => [...hub.state.tasks.values()].find((t) => t.method === 'imageBuilderBuild')?.id);
      const host = await FakeHost.start(hub);
      let built;
      try {
        built = await runBuild(host, parent, { arches: ['x86_64', 'aarch64'], failArch: 'aarch64', failable: ['aarch64'], scratch: true, gate: gateOn(live) });
      } finally {
        host.stop();
      }
      const r = await run;
      assert.equal(r.code, 0, r.err);
      const call = hub.calls.find((c) => c.method === 'imageBuilderBuild')!;
      assert.deepEqual(call.params.at(-1), { scratch: true, failable_arches: ['aarch64'] });
      assert.match(r.out, /completed successfully: Scratch image build results in: scratch\n {2}\d+ imageBuilderBuildArch \(aarch64\) failed \(allowed to fail\): BuildError: image-builder failed: exit status 1\n$/);
      const x86 = [...hub.state.tasks.values()].find((t) => t.parent === parent && t.arch === 'x86_64')!.id;
      const plan = await planTaskDownload(new KojiSession({ hub: hub.url }), parent, { topurl: hub.topurl, logs: true });
      assert.deepEqual(
        plan.map((p) => [p.taskId, p.dest, p.source]).sort(),
        Object.keys(built.files.x86_64!).map((n) => [x86, n.endsWith('.log') ? 'image-builder.x86_64.log' : n, 'task']).sort(),
        'the failed child is skipped',
      );
      for (const p of plan) assert.equal(p.url, `${hub.topurl}/work/tasks/${x86 % 10000}/${x86}/${p.name}`);
      const dir = path.join(tmp(), 'dl');
      const d = await kiln(['koji', 'download', String(parent), '--dir', dir, '--logs', ...hubArgs(hub, pw)]);
      assert.equal(d.code, 0, d.err);
      assert.deepEqual(fs.readdirSync(dir).sort(), plan.map((p) => p.dest).sort());
      for (const p of plan) assert.equal(fs.statSync(path.join(dir, p.dest)).size, p.size);
    });
  });

  test('watch: canceled task exits 2; unknown task is an error', async () => {
    await withHub(async (hub, { pw }) => {
      const id = (await kilnTask(hub, pw)).id;
      const live = { out: '' };
      const run = kiln(['koji', 'watch', String(id), '--hub', hub.url, '--poll-interval', '0.02'], {}, live);
      await gateOn(live)(/: free$/m);
      const u = new KojiSession({ hub: hub.url, auth: { type: 'password', user: 'imguser', password: 'imgpass' } });
      await u.login();
      await u.call('cancelTask', id);
      await u.logout();
      const r = await run;
      assert.equal(r.code, 2);
      assert.match(r.out, new RegExp(`^${id} imageBuilderBuild \\(noarch\\): free\\n${id} imageBuilderBuild \\(noarch\\): free -> canceled`));
      assert.match(r.err, new RegExp(`error: ${id} imageBuilderBuild \\(noarch\\) was canceled`));
      const none = await kiln(['koji', 'watch', '999', '--hub', hub.url]);
      assert.equal(none.code, 1);
      assert.match(none.err, /no task 999/);
      const bad = await kiln(['koji', 'watch', 'x12', '--hub', hub.url]);
      assert.match(bad.err, /task id "x12": must be a positive integer/);
    });
  });

  test('watch survives the hub going offline and restarting, and says so', async () => {
    await withHub(async (hub, { pw }) => {
      const { id } = await kilnTask(hub, pw);
      let out = '';
      const s = new KojiSession({ hub: hub.url, retries: 0 });
      const watching = watchTask(s, id, { out: { write: (x: string) => (out += x) }, pollMs: 20, maxPollMs: 40, errorBackoffMs: 20, maxErrorBackoffMs: 80 });
      const host = await FakeHost.start(hub);
      try {
        await host.take(id);
        await sleep(100);
        hub.setOffline(true);
        await sleep(250);
        hub.setOffline(false);
        await until('back online noticed', () => out.includes('hub reachable again') || undefined);
        await hub.restart();
        await sleep(100);
        await host.close(id, 'done');
      } finally {
        host.stop();
      }
      const r = await watching;
      assert.equal(r.state, TASK_STATE.CLOSED);
      assert.equal(exitCodeFor(r), 0);
      assert.match(out, /hub unavailable \(.*server is offline.*\); retrying in [\d.]+ s\n/);
      assert.match(out, /hub reachable again \(after \d\d:\d\d:\d\d\)\n/);
      assert.match(out, new RegExp(`${id} imageBuilderBuild \\(noarch\\): (?:open \\(host 1\\)|assigned|free) -> closed`));
      // a hub that stays away: give up after maxOfflineMs with a clear error
      hub.setOffline(true);
      await assert.rejects(
        watchTask(s, id, { out: { write: () => 0 }, errorBackoffMs: 10, maxOfflineMs: 100 }),
        (e: Error) => /unreachable for \d\d:\d\d:\d\d while watching task \d+: .*server is offline/.test(e.message),
      );
      hub.setOffline(false);
    });
  });

  test('live view on a terminal: redrawn in place', async () => {
    await withHub(async (hub, { pw }) => {
      const { id } = await kilnTask(hub, pw);
      let out = '';
      const s = new KojiSession({ hub: hub.url });
      const watching = watchTask(s, id, { out: { write: (x: string) => (out += x), isTTY: true, columns: 80 }, pollMs: 20, maxPollMs: 20 });
      await sleep(80);
      const u = new KojiSession({ hub: hub.url, auth: { type: 'password', user: 'imguser', password: 'imgpass' } });
      await u.login();
      await u.call('cancelTask', id);
      const r = await watching;
      assert.equal(r.state, TASK_STATE.CANCELED);
      assert.ok(out.includes('\x1b[1F\x1b[J'), 'moves up and clears before redrawing');
      const last = out.split('\x1b[1F\x1b[J').at(-1)!;
      assert.match(last, new RegExp(`^${id}  imageBuilderBuild \\(noarch\\)  canceled  \\d\\d:\\d\\d:\\d\\d\\n$`));
    });
  });

  test('bad inputs: hub faults, unknown target, bad flags, bad blueprint — nothing submitted', async () => {
    await withHub(async (hub, { pw }) => {
      const base = ['koji', 'build', 'f42-image-builder', 'Fedora-Minimal', '42', 'minimal-raw-xz', '--nowait'];
      // the hub's permission fault, with its text
      const np = path.join(tmp(), 'np');
      fs.writeFileSync(np, 'np');
      const r1 = await kiln([...base, '--hub', hub.url, '--user', 'noperm', '--password-file', np]);
      assert.equal(r1.code, 1);
      assert.match(r1.err, /call imageBuilderBuild: image permission required \(logged in as noperm\) \(fault 1004 ActionNotAllowed\)\n\(the Koji user needs the "image" or "admin" permission/);
      // unknown target: checked before a task is made
      const r2 = await kiln(['koji', 'build', 'f99-nope', 'Fedora-Minimal', '42', 'minimal-raw-xz', '--nowait', ...hubArgs(hub, pw)]);
      assert.equal(r2.code, 1);
      assert.match(r2.err, /build target "f99-nope" does not exist/);
      // flags
      const r3 = await kiln([...base, '--arch', 'x86_64,aarch64', ...hubArgs(hub, pw)]);
      assert.match(r3.err, /--arch "x86_64,aarch64": not an architecture name \(give --arch once per architecture\)/);
      const r3b = await kiln([...base, '--arch', 'x86_64', '--arch', 'ppc64le', ...hubArgs(hub, pw)]);
      assert.equal(r3b.code, 1);
      assert.match(r3b.err, /--arch ppc64le: not an architecture of build tag f42-build of target f42-image-builder \(x86_64 aarch64\)/);
      const r4 = await kiln([...base, '--seed', 'abc', ...hubArgs(hub, pw)]);
      assert.match(r4.err, /--seed "abc": must be an integer/);
      const bp = path.join(tmp(), 'bp.json');
      fs.writeFileSync(bp, '{"customizations": {"user": [{"name": "root", "uid": "zero"}]}}');
      const r5 = await kiln([...base, '--blueprint', bp, ...hubArgs(hub, pw)]);
      assert.equal(r5.code, 1);
      assert.ok(r5.err.includes(bp) && /customizations\.user\[0\]\.uid/.test(r5.err), r5.err);
      const r6 = await kiln([...base, '--hub', hub.url]);
      assert.match(r6.err, /no Koji credentials configured/);
      const r7 = await kiln(['koji', 'build', 'f42-image-builder', 'Fedora-Minimal', '42', ...hubArgs(hub, pw)]);
      assert.notEqual(r7.code, 0);
      assert.match(r7.err, /missing required argument 'type'/);
      assert.equal(hub.state.tasks.size, 0, 'no task was created by any of these');
      // a schema fault from the hub (ParameterError) is shown as a rejected request
      const s = new KojiSession({ hub: hub.url, auth: { type: 'password', user: 'imguser', password: 'imgpass' } });
      await s.login();
      const { submitImageBuild } = await import('../src/koji/submit.js');
      await assert.rejects(submitImageBuild(s, ['f42-image-builder', ['x86_64'], ['minimal-raw-xz'], 'Fedora-Minimal', '42', { bogus: 1 }]), /the hub rejected the build request: .*Additional properties are not allowed \('bogus' was unexpected\)/);
      await s.logout();
    });
  });

  test('connection lost after imageBuilderBuild was sent: not resent, advice to look before resubmitting', async () => {
    await withHub(async (hub, { pw }) => {
      hub.hook = (c) => (c.method === 'imageBuilderBuild' ? 'drop-after' : undefined);
      const r = await kiln(['koji', 'build', 'f42-image-builder', 'Fedora-Minimal', '42', 'minimal-raw-xz', ...hubArgs(hub, pw)]);
      hub.hook = () => undefined;
      assert.equal(r.code, 1);
      assert.match(r.err, /may or may not have happened on the hub/);
      assert.match(r.err, /Do not submit again blindly: .*koji list-tasks --mine --method imageBuilderBuild.*kiln koji watch TASK_ID/s);
      assert.equal(hub.calls.filter((c) => c.method === 'imageBuilderBuild').length, 1, 'sent once');
      assert.equal(hub.state.tasks.size, 1, 'the hub did make the task');
    });
  });
});

/** Submit a scratch build directly (for watch tests). */
async function kilnTask(hub: KojiHubDouble, pw: string): Promise<{ id: number }> {
  const r = await kiln(['koji', 'build', 'f42-image-builder', 'Fedora-Minimal', '42', 'minimal-raw-xz', '--arch', 'x86_64', '--scratch', '--nowait', ...hubArgs(hub, pw)]);
  assert.equal(r.code, 0, r.err);
  return { id: Number(/Created task: (\d+)/.exec(r.out)![1]) };
}

/** The double's topdir (where it serves files from). */
function hubTopdir(hub: KojiHubDouble): string {
  const t = topdirs.get(hub);
  if (!t) throw new Error('unknown hub');
  return t;
}
const topdirs = new Map<KojiHubDouble, string>();
