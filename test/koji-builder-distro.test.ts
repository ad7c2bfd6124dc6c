// Which distro a task builds when it does not say (build.default_distro, the host's own distro
// only when the definitions have it, else a clear failure), and host.max_jobs with parents
// waiting for their subtasks (counted against max_jobs, as kojid's readyForTask does).
import assert from 'node:assert/strict';
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';

import { chooseDistro, distroFallback } from '../src/koji/builder/runner.js';
import { defaultDefinitionsDir, findDistro, hostDistro, loadDefinitions } from '../src/defs/index.js';
import { KilnError } from '../src/util/errors.js';
import { TASK_STATES } from './helpers/kojihub-double.js';
import { children, makeTmp, result, SmallRunner, startHarness, submit, waitTask } from './koji-builder-harness.js';

const { tmp, cleanup } = makeTmp('kiln-kojibuilder-distro-');
after(cleanup);

/** A copy of the shipped definitions that knows only fedora-42 and fedora-43 (no rawhide). */
function twoDistroDefinitions(): string {
  const dir = tmp();
  cpSync(defaultDefinitionsDir(), dir, { recursive: true });
  const distros = join(dir, 'distros.yaml');
  const text = readFileSync(distros, 'utf8');
  const cut = text.indexOf('\n  # Rawhide');
  assert.ok(cut > 0, 'the shipped distros.yaml has its rawhide entry last');
  writeFileSync(distros, text.slice(0, cut) + '\n');
  rmSync(join(dir, 'repositories', 'fedora-rawhide.json'), { force: true });
  return dir;
}

describe('chooseDistro', () => {
  const definitionsDir = twoDistroDefinitions();
  const base = { file: '/etc/kiln/koji-builder.toml', definitionsDir };
  const host = () => 'fedora-43';
  test('opts.distro, then the blueprint, then build.default_distro, then a known host distro', () => {
    assert.deepEqual(loadDefinitions(definitionsDir).distros.map((d) => d.name), ['fedora-42', 'fedora-43']);
    assert.equal(chooseDistro({ taskDistro: 'fedora-42', blueprintDistro: 'x' }, { distro: 'y' }), 'fedora-42');
    // undefined: the build takes the blueprint's distro itself
    assert.equal(chooseDistro({ blueprintDistro: 'fedora-42' }, { distro: 'y' }), undefined);
    assert.equal(chooseDistro({}, distroFallback({ ...base, defaultDistro: 'fedora-42' }, host)), 'fedora-42');
    assert.equal(chooseDistro({}, distroFallback(base, host)), 'fedora-43');
    // a task that names its distro never needs the fallback, even when there is none
    assert.equal(chooseDistro({ taskDistro: 'fedora-42' }, distroFallback(base, () => 'debian-12')), 'fedora-42');
  });
  test('an unknown or undetectable host distro fails, saying how to choose one', () => {
    assert.throws(
      () => chooseDistro({}, distroFallback(base, () => 'debian-12')),
      (e: Error) =>
        e instanceof KilnError &&
        /build host's distro "debian-12" is not one the image definitions have \(fedora-42, fedora-43\)/.test(e.message) &&
        /pass opts\.distro \(kiln koji build --distro <distro>\) or set build\.default_distro in \/etc\/kiln\/koji-builder\.toml/.test(e.message),
    );
    assert.throws(
      () =>
        chooseDistro(
          {},
          distroFallback(base, () => {
            throw new KilnError('cannot detect the host distro: none of /etc/os-release is readable');
          }),
        ),
      /distro cannot be detected \(cannot detect the host distro: .*\); pass opts\.distro/,
    );
  });
  test('a build.default_distro the definitions do not have stops the start, naming file and key', () => {
    assert.throws(
      () => distroFallback({ ...base, defaultDistro: 'fedora-rawhide' }, host),
      /\/etc\/kiln\/koji-builder\.toml: build\.default_distro: unknown distro "fedora-rawhide"; the definitions in .* have: fedora-42, fedora-43/,
    );
  });
});

describe('distro of a Koji task without opts.distro', () => {
  test('build.default_distro is used; opts.distro wins; without either, the host distro only if the definitions have it', async () => {
    const withDefault = new SmallRunner();
    const h = await startHarness(tmp(), withDefault, undefined, { build: 'default_distro = "fedora-43"' });
    try {
      const a = submit(h.dbl, ['x86_64'], { scratch: true });
      assert.equal(await waitTask(h.dbl, a), TASK_STATES.CLOSED, JSON.stringify(result(h.dbl, a)));
      const b = submit(h.dbl, ['x86_64'], { scratch: true, distro: 'fedora-42' });
      assert.equal(await waitTask(h.dbl, b), TASK_STATES.CLOSED, JSON.stringify(result(h.dbl, b)));
      assert.deepEqual(withDefault.builds.map((r) => r.distro), ['fedora-43', 'fedora-42']);
    } finally {
      await h.stop();
    }

    // no default_distro: what happens depends on this machine's distro, so ask the definitions
    const host = hostDistro();
    const hostKnown = findDistro(loadDefinitions(), host) !== undefined;
    const plain = new SmallRunner();
    const h2 = await startHarness(tmp(), plain, undefined, { build: '' });
    try {
      const id = submit(h2.dbl, ['x86_64'], { scratch: true });
      const state = await waitTask(h2.dbl, id);
      if (hostKnown) {
        assert.equal(state, TASK_STATES.CLOSED, JSON.stringify(result(h2.dbl, id)));
        assert.equal(plain.builds[0]!.distro, host);
      } else {
        assert.equal(state, TASK_STATES.FAILED);
        const kid = children(h2.dbl, id).find((k) => k.method === 'imageBuilderBuildArch')!;
        const f = result(h2.dbl, kid.id).fault!;
        assert.match(f.faultString, new RegExp(`build host's distro "${host}" is not one the image definitions have`));
        assert.match(f.faultString, /kiln koji build --distro .* or set build\.default_distro in .*builder\.toml/);
        assert.equal(plain.builds.length, 0, 'nothing was built');
      }
    } finally {
      await h2.stop();
    }
  });
});

describe('max_jobs and parents waiting for subtasks (as kojid)', () => {
  /** Two image builds submitted before the host polls; returns their parents' final states or 'stuck'. */
  async function twoBuilds(maxJobs: number, waitMs: number) {
    const h = await startHarness(tmp(), new SmallRunner(), undefined, { host: `max_jobs = ${maxJobs}`, paused: true });
    try {
      const ids = [submit(h.dbl, ['x86_64'], { scratch: true }), submit(h.dbl, ['x86_64'], { scratch: true })];
      h.resume();
      const states = await Promise.all(ids.map((id) => waitTask(h.dbl, id, waitMs).catch(() => 'stuck' as const)));
      const kids = ids.flatMap((id) => children(h.dbl, id));
      return { states, kids: kids.map((k) => h.dbl.state.tasks.get(k.id)!.state), parents: ids.map((id) => h.dbl.state.tasks.get(id)!.state), logs: h.logs.join('\n') };
    } finally {
      await h.stop();
    }
  }

  test('max_jobs = 2 with two waiting parents takes none of their children; max_jobs = 3 builds both', async () => {
    const stuck = await twoBuilds(2, 1500);
    assert.deepEqual(stuck.states, ['stuck', 'stuck']);
    assert.deepEqual(stuck.parents, [TASK_STATES.OPEN, TASK_STATES.OPEN]);
    assert.equal(stuck.kids.length, 2);
    assert.ok(stuck.kids.every((s) => s !== TASK_STATES.OPEN && s !== TASK_STATES.CLOSED), `children: ${stuck.kids}`);
    assert.match(stuck.logs, /all 2 job slots \(host\.max_jobs\) are taken by tasks waiting for their subtasks/);
    assert.equal(stuck.logs.match(/job slots/g)!.length, 1, 'said once');

    const ok = await twoBuilds(3, 30_000);
    assert.deepEqual(ok.states, [TASK_STATES.CLOSED, TASK_STATES.CLOSED]);
    assert.doesNotMatch(ok.logs, /job slots/);
  });
});
