// The build host and build tag repos, Koji 1.35 style: the parent asks the hub for a repo
// (repo.request); without one it spawns a waitrepo subtask that follows the request
// (repo.checkRequest) until the double's simulated kojira makes the repo; a request kojira gives
// up on fails the build with the hub's condition; a hub without repo.request (Koji < 1.35) gets
// the old getRepo polling.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';

import { parseBuilderConfig, type BuilderConfig } from '../src/koji/builder/config.js';
import { KojiBuilder } from '../src/koji/builder/daemon.js';
import { decodeCall, type XmlRpcStruct } from '../src/koji/xmlrpc.js';
import { BUILD_STATES, startKojiHubDouble, TASK_STATES, type KojiHubDouble, type KojiHubDoubleOptions } from './helpers/kojihub-double.js';
import { children, makeTmp, result, SmallRunner, submit, waitTask } from './koji-builder-harness.js';

const { tmp, cleanup } = makeTmp('kiln-kojirepo-');
after(cleanup);

interface Setup {
  dbl: KojiHubDouble;
  runner: SmallRunner;
  logs: string[];
  stop(): Promise<void>;
}

/** Hub double whose build tag f42-build starts WITHOUT a repo, and a host polling every 50 ms. */
async function setup(o: Partial<KojiHubDoubleOptions> = {}, wait: { repoWaitPauseMs?: number; repoWaitTimeoutMs?: number } = {}): Promise<Setup> {
  const dir = tmp();
  const dbl = await startKojiHubDouble({
    topdir: path.join(dir, 'koji'),
    users: [
      { name: 'kojiadmin', password: 'adminpass', perms: ['admin'] },
      { name: 'imguser', password: 'imgpass', perms: ['image'] },
    ],
    hosts: [{ name: 'kiln1', password: 'hostpass', arches: 'x86_64 aarch64', capacity: 10, channels: ['default', 'image'] }],
    tags: [{ name: 'f42-build', arches: 'x86_64 aarch64', repo: false }, { name: 'f42', packages: ['Fedora-Minimal'] }],
    targets: [{ name: 'f42-image-builder', buildTag: 'f42-build', destTag: 'f42' }],
    schedulerIntervalMs: 0,
    ...o,
  });
  const file = path.join(dir, 'builder.toml');
  fs.writeFileSync(
    file,
    `[hub]\nurl = "${dbl.url}"\ntopurl = "${dbl.topurl}"\n\n[auth]\ntype = "password"\nuser = "kiln1"\npassword = "hostpass"\n\n` +
      `[host]\nname = "kiln1"\narches = ["x86_64", "aarch64"]\nmax_jobs = 4\ncapacity = 4.0\npoll_interval = 0.05\nlog_interval = 0.05\n\n` +
      `[build]\nwork_dir = "${dir}/work"\ncache_dir = "${dir}/cache"\nbuildroot = "host"\n`,
  );
  const cfg: BuilderConfig = parseBuilderConfig(fs.readFileSync(file, 'utf8'), file);
  Object.assign(cfg, { repoWaitPauseMs: wait.repoWaitPauseMs ?? 30, ...(wait.repoWaitTimeoutMs ? { repoWaitTimeoutMs: wait.repoWaitTimeoutMs } : {}) });
  const runner = new SmallRunner();
  const logs: string[] = [];
  const builder = new KojiBuilder(cfg, { runner, log: (m) => logs.push(m) });
  await builder.start();
  const loop = builder.run();
  return {
    dbl,
    runner,
    logs,
    stop: async () => {
      await builder.stop();
      await loop;
      await dbl.stop();
    },
  };
}

const hostCalls = (dbl: KojiHubDouble) => dbl.calls.filter((c) => c.user === 'kiln1');
const request = (dbl: KojiHubDouble, id: number) => decodeCall(dbl.state.tasks.get(id)!.request).params;

describe('koji builder: build tag repos (Koji 1.35 repo requests)', () => {
  test('no repo at first: the host requests one, waits in waitrepo, and builds once kojira made it', async () => {
    // kojira takes its time: the waitrepo task sees the request change before the repo comes
    const s = await setup({ repoManager: { delayMs: 150 } });
    try {
      assert.equal(s.dbl.callAs('imguser', 'getRepo', ['f42-build']), null, 'no repo before the build');
      const id = submit(s.dbl, ['x86_64'], { distro: 'fedora-42' });
      assert.equal(await waitTask(s.dbl, id), TASK_STATES.CLOSED, JSON.stringify(result(s.dbl, id)));

      const reqs = [...s.dbl.state.repoRequests.values()];
      assert.equal(reqs.length, 1, 'one request for the tag');
      const req = reqs[0]!;
      assert.equal(req.active, false);
      assert.notEqual(req.repoId, null);
      assert.equal(req.tries, 1);
      const repo = s.dbl.state.repos.get(req.repoId!)!;
      assert.equal(repo.state, 1);
      assert.equal(s.dbl.state.tags.get(repo.tagId)!.name, 'f42-build');

      const kids = children(s.dbl, id);
      const wait = kids.find((k) => k.method === 'waitrepo')!;
      assert.ok(wait, `a waitrepo subtask; children: ${kids.map((k) => k.method).join(' ')}`);
      assert.equal(wait.state, TASK_STATES.CLOSED);
      // RepoWatcher.task_args: [tag name, newer_than None, nvrs [], the request's min_event]
      assert.deepEqual(request(s.dbl, wait.id), ['f42-build', null, [], req.minEvent]);
      const waitResult = result(s.dbl, wait.id).value as XmlRpcStruct;
      assert.equal(waitResult.id, repo.id);
      assert.equal(waitResult.tag_name, 'f42-build');

      // the arch task got that repo (its info is request[7]) and built from it
      const arch = kids.find((k) => k.method === 'imageBuilderBuildArch')!;
      assert.ok(wait.id < arch.id, 'the arch task comes after the wait');
      assert.equal((request(s.dbl, arch.id)[7] as XmlRpcStruct).id, repo.id);
      assert.equal(s.runner.builds[0]!.repos[0], `${s.dbl.topurl}/repos/f42-build/${repo.id}/x86_64`);

      // the protocol: request from the parent, checkRequest from waitrepo until the repo came
      const methods = hostCalls(s.dbl).map((c) => c.method);
      assert.ok(methods.includes('repo.request'));
      const checks = hostCalls(s.dbl).filter((c) => c.method === 'repo.checkRequest');
      assert.ok(checks.length >= 2, `waitrepo polled the request (${checks.length} checks)`);
      assert.deepEqual(checks[0]!.params, [req.id]);
      // kojira's newRepo task shows in the request while it works
      assert.ok(s.logs.some((l) => /repo request \d+ updated: task_state: None -> OPEN|repo request \d+ updated: task_id: null -> \d+/.test(l)), s.logs.join('\n'));
      const newRepo = [...s.dbl.state.tasks.values()].find((t) => t.method === 'newRepo')!;
      assert.equal(newRepo.state, TASK_STATES.CLOSED);
      assert.equal(repo.taskId, newRepo.id);

      const build = [...s.dbl.state.builds.values()][0]!;
      assert.equal(build.state, BUILD_STATES.COMPLETE);
    } finally {
      await s.stop();
    }
  });

  test('a build tag with a repo: repo.request hands it over, no waitrepo', async () => {
    const s = await setup({ tags: [{ name: 'f42-build', arches: 'x86_64 aarch64' }, { name: 'f42', packages: ['Fedora-Minimal'] }] });
    try {
      const seeded = [...s.dbl.state.repos.values()];
      assert.equal(seeded.length, 1, 'the seeded repo');
      const id = submit(s.dbl, ['x86_64'], { scratch: true, distro: 'fedora-42' });
      assert.equal(await waitTask(s.dbl, id), TASK_STATES.CLOSED, JSON.stringify(result(s.dbl, id)));
      assert.deepEqual(children(s.dbl, id).map((k) => k.method), ['imageBuilderBuildArch']);
      assert.equal(s.dbl.state.repoRequests.size, 0, 'an existing repo makes no queue entry');
      const info = request(s.dbl, children(s.dbl, id)[0]!.id)[7] as XmlRpcStruct;
      assert.equal(info.id, seeded[0]!.id);
      assert.equal(info.state, 1);
    } finally {
      await s.stop();
    }
  });

  test('kojira gives up on the request: waitrepo and the build fail with "Repo request no longer active"', async () => {
    const s = await setup({ repoManager: { mode: 'fail', delayMs: 5 } });
    try {
      const id = submit(s.dbl, ['x86_64'], { distro: 'fedora-42' });
      assert.equal(await waitTask(s.dbl, id), TASK_STATES.FAILED);
      const wait = children(s.dbl, id).find((k) => k.method === 'waitrepo')!;
      assert.equal(wait.state, TASK_STATES.FAILED);
      assert.equal(result(s.dbl, wait.id).fault?.faultString, 'Repo request no longer active');
      assert.equal(result(s.dbl, id).fault?.faultString, 'Repo request no longer active');
      // RepoRetries (3) retries after the first try, then the hub stops (the parent's request
      // may already be dead when waitrepo asks, which then makes a second one: both end so)
      const reqs = [...s.dbl.state.repoRequests.values()];
      assert.ok(reqs.length >= 1);
      for (const req of reqs) {
        assert.equal(req.active, false);
        assert.equal(req.repoId, null);
        assert.equal(req.tries, 4);
      }
      assert.equal([...s.dbl.state.tasks.values()].filter((t) => t.method === 'newRepo').length, 4 * reqs.length);
      assert.ok(s.logs.some((l) => /repo task \d+ state is FAILED/.test(l)), s.logs.join('\n'));
      // no arch task and no build were started
      assert.equal(children(s.dbl, id).filter((k) => k.method === 'imageBuilderBuildArch').length, 0);
      assert.equal(s.dbl.state.builds.size, 0);
    } finally {
      await s.stop();
    }
  });

  test('kojira never answers: waitrepo gives up after the configured timeout', async () => {
    const s = await setup({ repoManager: { mode: 'off' } }, { repoWaitPauseMs: 20, repoWaitTimeoutMs: 300 });
    try {
      const id = submit(s.dbl, ['x86_64'], { distro: 'fedora-42' });
      assert.equal(await waitTask(s.dbl, id), TASK_STATES.FAILED);
      assert.match(String(result(s.dbl, id).fault?.faultString), /^Unsuccessfully waited 0:0\d for a new f42-build repo$/);
      const req = [...s.dbl.state.repoRequests.values()][0]!;
      assert.equal(req.active, true, 'the request stays queued on the hub');
    } finally {
      await s.stop();
    }
  });

  test('a hub without repo.request (Koji < 1.35): falls back to polling getRepo, saying so', async () => {
    const s = await setup({ legacyRepos: true, repoManager: { delayMs: 300 } });
    try {
      const id = submit(s.dbl, ['x86_64'], { distro: 'fedora-42' });
      assert.equal(await waitTask(s.dbl, id), TASK_STATES.CLOSED, JSON.stringify(result(s.dbl, id)));
      // (the hub refuses an unknown method before it looks at the session)
      const asked = s.dbl.calls.find((c) => c.method === 'repo.request')!;
      assert.equal(asked.fault?.faultString, 'Invalid method: repo.request');
      assert.ok(s.logs.some((l) => l.includes(`task ${id} (imageBuilderBuild): the hub has no repo.request (Koji before 1.35); falling back to polling getRepo`)), s.logs.join('\n'));
      const wait = children(s.dbl, id).find((k) => k.method === 'waitrepo')!;
      assert.ok(wait, 'the old hub had no repo at first: waitrepo polled for it');
      assert.deepEqual(request(s.dbl, wait.id), ['f42-build', null, null]);
      assert.ok(hostCalls(s.dbl).filter((c) => c.method === 'getRepo').length >= 2);
      const repo = [...s.dbl.state.repos.values()][0]!;
      assert.equal((result(s.dbl, wait.id).value as XmlRpcStruct).id, repo.id);
      assert.equal([...s.dbl.state.builds.values()][0]!.state, BUILD_STATES.COMPLETE);
    } finally {
      await s.stop();
    }
  });
});
