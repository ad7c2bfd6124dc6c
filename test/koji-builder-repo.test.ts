// The build host and build tag repos, Koji 1.35 style: the parent asks the hub for a repo
// (repo.request); without one it spawns a waitrepo subtask that follows the request
// (repo.checkRequest) until the double's simulated kojira makes the repo; a request kojira gives
// up on fails the build with the hub's condition; a hub without repo.request (Koji < 1.35) gets
// the old getRepo polling.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';

import { decodeCall, type XmlRpcStruct } from '../src/koji/xmlrpc.js';
import { BUILD_STATES, TASK_STATES, type KojiHubDouble, type KojiHubDoubleOptions } from './helpers/kojihub-double.js';
import { children, makeTmp, result, SmallRunner, startHarness, submit, waitTask } from './koji-builder-harness.js';

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
  const runner = new SmallRunner();
  const h = await startHarness(tmp(), runner, ['Fedora-Minimal'], {
    hub: { tags: [{ name: 'f42-build', arches: 'x86_64 aarch64', repo: false }, { name: 'f42', packages: ['Fedora-Minimal'] }], ...o },
    configure: (cfg) => {
      cfg.repoWaitPauseMs = wait.repoWaitPauseMs ?? 30;
      if (wait.repoWaitTimeoutMs) cfg.repoWaitTimeoutMs = wait.repoWaitTimeoutMs;
    },
  });
  return { dbl: h.dbl, runner, logs: h.logs, stop: h.stop };
}

async function until(cond: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    assert.ok(Date.now() < end, `timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const hostCalls = (dbl: KojiHubDouble) => dbl.calls.filter((c) => c.user === 'kiln1');
const request = (dbl: KojiHubDouble, id: number) => decodeCall(dbl.state.tasks.get(id)!.request).params;

describe('koji builder: build tag repos (Koji 1.35 repo requests)', () => {
  test('no repo at first: the host requests one, waits in waitrepo, and builds once kojira made it', async () => {
    // kojira takes its time: the test plays it, one pass at a time, so that the waitrepo task
    // sees the request change (newRepo task started) before the repo comes, whatever the load
    const s = await setup({ repoManager: { mode: 'off' } });
    try {
      assert.equal(s.dbl.callAs('imguser', 'getRepo', ['f42-build']), null, 'no repo before the build');
      const id = submit(s.dbl, ['x86_64'], { distro: 'fedora-42' });
      const nChecks = () => hostCalls(s.dbl).filter((c) => c.method === 'repo.checkRequest').length;
      await until(() => nChecks() >= 1, 'waitrepo checks the request');
      s.dbl.repoManager.tick(); // the newRepo task starts
      const seen = nChecks();
      await until(() => nChecks() > seen, 'waitrepo checks the request again');
      s.dbl.repoManager.tick(); // the repo is made and handed to the request
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
    // the repo appears only once waitrepo is polling (an old hub's kojira works on its own
    // schedule; making it here, not after a delay, keeps the test independent of machine load)
    const s = await setup({ legacyRepos: true, repoManager: { mode: 'off' } });
    try {
      const id = submit(s.dbl, ['x86_64'], { distro: 'fedora-42' });
      await until(() => children(s.dbl, id).some((k) => k.method === 'waitrepo' && k.state === TASK_STATES.OPEN), 'a waitrepo task is started');
      s.dbl.makeRepo('f42-build');
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
