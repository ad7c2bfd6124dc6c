// Start/stop of the build host against the hub double: the pid file in the work dir and the
// host's exclusive session. A refused start leaves no pid file; a stale pid file forces the
// session takeover only when it records that its dead process held the session; a builder whose
// session is taken over (AuthError in the main loop) stops with an error instead of looping.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';

import { runKojiBuilder } from '../src/cli/koji-builder.js';
import { parseBuilderConfig, type BuilderConfig } from '../src/koji/builder/config.js';
import { KojiBuilder } from '../src/koji/builder/daemon.js';
import { KilnError } from '../src/util/errors.js';
import { startKojiHubDouble, TASK_STATES, type KojiHubDouble } from './helpers/kojihub-double.js';
import { makeTmp, result, SmallRunner, submit, waitTask } from './koji-builder-harness.js';

const { tmp, cleanup } = makeTmp('kiln-kojibuilder-life-');
after(cleanup);

const PID_FILE = 'kiln-koji-builder.pid';

async function hub(dir: string): Promise<KojiHubDouble> {
  return startKojiHubDouble({
    topdir: path.join(dir, 'koji'),
    users: [{ name: 'imguser', password: 'imgpass', perms: ['image'] }],
    hosts: [{ name: 'kiln1', password: 'hostpass', arches: 'x86_64 aarch64', capacity: 10, channels: ['default', 'image'] }],
    tags: [{ name: 'f42-build', arches: 'x86_64 aarch64' }, { name: 'f42', packages: ['Fedora-Minimal'] }],
    targets: [{ name: 'f42-image-builder', buildTag: 'f42-build', destTag: 'f42' }],
    schedulerIntervalMs: 0,
  });
}

/** A builder config for host kiln1 with its own work dir (two machines configured as one host). */
function configFor(dbl: KojiHubDouble, dir: string, build = 'default_distro = "fedora-42"'): BuilderConfig {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'builder.toml');
  fs.writeFileSync(
    file,
    `[hub]\nurl = "${dbl.url}"\ntopurl = "${dbl.topurl}"\n\n[auth]\ntype = "password"\nuser = "kiln1"\npassword = "hostpass"\n\n` +
      `[host]\nname = "kiln1"\narches = ["x86_64"]\npoll_interval = 0.05\nlog_interval = 0.05\n\n` +
      `[build]\nwork_dir = "${dir}/work"\ncache_dir = "${dir}/cache"\nbuildroot = "host"\n${build}\n`,
  );
  return parseBuilderConfig(fs.readFileSync(file, 'utf8'), file);
}

/** A pid that belonged to a process which has exited. */
function deadPid(): number {
  const r = spawnSync('/bin/true');
  assert.ok(r.pid && r.pid > 0);
  return r.pid;
}

/** p's outcome, or 'still running' after ms (the timer does not keep the process alive). */
function within<T>(p: Promise<T>, ms: number): Promise<T | 'still running'> {
  let t: NodeJS.Timeout | undefined;
  const timeout = new Promise<'still running'>((r) => (t = setTimeout(() => r('still running'), ms)));
  return Promise.race([p, timeout]).finally(() => clearTimeout(t));
}

const exclusiveCalls = (dbl: KojiHubDouble) => dbl.calls.filter((c) => c.method === 'exclusiveSession').map((c) => JSON.stringify(c.params));

describe('builder start/stop lifecycle', () => {
  test('a start refused because another builder holds the session leaves no pid file and does not force later', async () => {
    const dir = tmp();
    const dbl = await hub(dir);
    const a = new KojiBuilder(configFor(dbl, path.join(dir, 'a')), { runner: new SmallRunner(), log: () => {} });
    await a.start();
    const aLoop = a.run();
    const logs: string[] = [];
    try {
      // the pid file of a builder that holds the session says so
      assert.equal(fs.readFileSync(path.join(dir, 'a', 'work', PID_FILE), 'utf8'), `${process.pid}\nsession\n`);
      const bCfg = configFor(dbl, path.join(dir, 'b'));
      const bPid = path.join(dir, 'b', 'work', PID_FILE);
      for (let i = 0; i < 2; i++) {
        const b = new KojiBuilder(bCfg, { runner: new SmallRunner(), log: (m) => logs.push(m) });
        await assert.rejects(b.start(), (e: Error) => e instanceof KilnError && /host kiln1 already has an active session/.test(e.message) && e.message.includes(bCfg.file));
        assert.ok(!fs.existsSync(bPid), `attempt ${i + 1} left ${bPid}`);
      }
      // a stale pid file (dead process) that never held the session: no takeover either
      fs.writeFileSync(bPid, `${deadPid()}\n`);
      const b = new KojiBuilder(bCfg, { runner: new SmallRunner(), log: (m) => logs.push(m) });
      await assert.rejects(b.start(), /already has an active session/);
      assert.ok(!fs.existsSync(bPid));
      assert.match(logs.join('\n'), /without a session; not forcing the session lock/);
      assert.deepEqual(exclusiveCalls(dbl).map((p) => /"force":true/.test(p)), [false, false, false, false]);
      // the running builder kept its session and still works
      const id = submit(dbl, ['x86_64'], { scratch: true });
      assert.equal(await waitTask(dbl, id), TASK_STATES.CLOSED, JSON.stringify(result(dbl, id)));
    } finally {
      await a.stop();
      await aLoop;
      await dbl.stop();
    }
    assert.ok(!fs.existsSync(path.join(dir, 'a', 'work', PID_FILE)), 'stop() removes the pid file');
  });

  test('a dead holder recorded in the pid file is taken over; the builder thrown out stops with an AuthError message', async () => {
    const dir = tmp();
    const dbl = await hub(dir);
    const aLogs: string[] = [];
    const a = new KojiBuilder(configFor(dbl, path.join(dir, 'a')), { runner: new SmallRunner(), log: (m) => aLogs.push(m) });
    await a.start();
    const aLoop = a.run();
    const aDone = aLoop.then(
      () => undefined,
      (e: unknown) => e,
    );
    // b's work dir says its previous process died holding the session
    const bCfg = configFor(dbl, path.join(dir, 'b'));
    const bPid = path.join(dir, 'b', 'work', PID_FILE);
    fs.mkdirSync(path.dirname(bPid), { recursive: true });
    fs.writeFileSync(bPid, `${deadPid()}\nsession\n`);
    const bLogs: string[] = [];
    const b = new KojiBuilder(bCfg, { runner: new SmallRunner(), log: (m) => bLogs.push(m) });
    try {
      await b.start();
      assert.match(bLogs.join('\n'), /died holding the host's session; .*taking over its session/);
      assert.match(exclusiveCalls(dbl).at(-1)!, /"force":true/);
      assert.equal(fs.readFileSync(bPid, 'utf8'), `${process.pid}\nsession\n`);
      const bLoop = b.run();
      // a's session is gone: its loop ends with an error (not a retry every poll)
      const err = await within(aDone, 10_000);
      assert.ok(err instanceof KilnError, `a's run() ended with ${String(err)}`);
      assert.match(err.message, /the session of host kiln1 is no longer valid \(AuthError: .*\); another build host may have taken over/);
      assert.equal(aLogs.filter((l) => /no longer valid/.test(l)).length, 1, aLogs.join('\n'));
      assert.ok(!fs.existsSync(path.join(dir, 'a', 'work', PID_FILE)));
      // b works
      const id = submit(dbl, ['x86_64'], { scratch: true });
      assert.equal(await waitTask(dbl, id), TASK_STATES.CLOSED, JSON.stringify(result(dbl, id)));
      await b.stop();
      await bLoop;
    } finally {
      await a.stop();
      await b.stop();
      await dbl.stop();
    }
  });

  test('runKojiBuilder (kiln koji builder) rejects when the session is taken over, so the command exits non-zero', async () => {
    const dir = tmp();
    const dbl = await hub(dir);
    const aCfg = configFor(dbl, path.join(dir, 'a'));
    const running = runKojiBuilder(aCfg.file, { runner: new SmallRunner(), log: () => {} }).then(
      () => 'resolved',
      (e: unknown) => e,
    );
    const b = new KojiBuilder({ ...configFor(dbl, path.join(dir, 'b')), forceLock: true }, { runner: new SmallRunner(), log: () => {} });
    try {
      // wait until a holds the session, then take it (force_lock)
      const aPid = path.join(dir, 'a', 'work', PID_FILE);
      for (let i = 0; i < 200 && !(fs.existsSync(aPid) && fs.readFileSync(aPid, 'utf8').includes('session')); i++) await new Promise((r) => setTimeout(r, 20));
      await b.start();
      const out = await within(running, 10_000);
      assert.ok(out instanceof KilnError, `runKojiBuilder ended with ${String(out)}`);
      assert.notEqual(out.exitCode, 0);
      assert.match(out.message, /no longer valid/);
    } finally {
      await b.stop();
      await dbl.stop();
    }
  });

  test('build.default_distro is checked at start, naming the file and key; nothing is left behind', async () => {
    const dir = tmp();
    const dbl = await hub(dir);
    try {
      const cfg = configFor(dbl, path.join(dir, 'a'), 'default_distro = "debian-12"');
      const b = new KojiBuilder(cfg, { runner: new SmallRunner(), log: () => {} });
      await assert.rejects(
        b.start(),
        (e: Error) => e instanceof KilnError && e.message.startsWith(`${cfg.file}: build.default_distro: unknown distro "debian-12"`) && /have: .*fedora-42/.test(e.message),
      );
      assert.ok(!fs.existsSync(path.join(dir, 'a', 'work', PID_FILE)));
      assert.equal(dbl.calls.filter((c) => c.method === 'login').length, 0);
    } finally {
      await dbl.stop();
    }
  });
});
