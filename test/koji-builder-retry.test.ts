// What Kiln's build host does when a build is retried whose NVR failed before, against the hub
// double's Koji 1.35.3 new_build/recycle_build rules: getNextRelease ignores FAILED builds, so
// the retry asks for the same NVR and the hub recycles the failed build (same id); asking for
// an NVR that is COMPLETE fails the parent task with the hub's fault and leaves that build alone.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, test } from 'node:test';

import { BUILD_STATES, TASK_STATES } from './helpers/kojihub-double.js';
import { children, makeTmp, result, SmallRunner, startHarness, submit, waitTask } from './koji-builder-harness.js';

const { tmp, cleanup } = makeTmp('kiln-kojiretry-');
after(cleanup);

test('a failed build is retried under the same NVR (recycled build id); a COMPLETE NVR is refused', async () => {
  const runner = new SmallRunner();
  const h = await startHarness(tmp(), runner);
  const { dbl } = h;
  try {
    // 1. the first attempt fails in the image build: the host fails the build
    runner.fail = true;
    const first = submit(dbl, ['x86_64'], {});
    assert.equal(await waitTask(dbl, first), TASK_STATES.FAILED);
    const failed = [...dbl.state.builds.values()];
    assert.equal(failed.length, 1);
    const b = failed[0]!;
    assert.deepEqual([b.release, b.state, b.taskId], ['1', BUILD_STATES.FAILED, first]);

    // 2. the retry: same release (FAILED builds do not count for getNextRelease), same build row
    runner.fail = false;
    const retry = submit(dbl, ['x86_64'], {});
    assert.equal(await waitTask(dbl, retry), TASK_STATES.CLOSED, JSON.stringify(result(dbl, retry)));
    assert.equal(dbl.state.builds.size, 1, 'no second build');
    assert.deepEqual([b.release, b.state, b.taskId], ['1', BUILD_STATES.COMPLETE, retry]);
    assert.equal(runner.builds.at(-1)!.outputName, 'Fedora-Minimal-42-1.x86_64');
    const images = path.join(h.dir, 'koji', 'packages', 'Fedora-Minimal', '42', '1', 'images');
    assert.deepEqual(fs.readdirSync(images).sort(), [
      'Fedora-Minimal-42-1.x86_64.image-os.spdx.json',
      'Fedora-Minimal-42-1.x86_64.osbuild-manifest.json',
      'Fedora-Minimal-42-1.x86_64.raw.xz',
    ]);
    assert.ok(dbl.state.getTagStrict('f42').tagged.some((t) => t.buildId === b.id), 'tagged into f42');

    // 3. an explicit release naming the COMPLETE build: the parent fails with the hub's fault
    //    before any image is built, and the existing build is not touched (no failBuild)
    const built = runner.builds.length;
    const again = submit(dbl, ['x86_64'], { release: '1' });
    assert.equal(await waitTask(dbl, again), TASK_STATES.FAILED);
    const f = result(dbl, again).fault!;
    assert.equal(f.faultCode, 1000);
    assert.match(f.faultString, new RegExp(`^Build already exists \\(id=${b.id}, state=COMPLETE\\): \\{'name': 'Fedora-Minimal', 'version': '42', 'release': '1', 'epoch': 0, 'task_id': ${again}, `));
    assert.equal(children(dbl, again).length, 0, 'no image build subtask');
    assert.equal(runner.builds.length, built);
    assert.deepEqual([b.state, b.taskId], [BUILD_STATES.COMPLETE, retry]);
  } finally {
    await h.stop();
  }
});
