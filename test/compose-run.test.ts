// End-to-end compose runs with a real builder: CommandBackend running a shell script that writes
// image files (xz-compressed random data, an "ISO", a commit tarball). Checks the tree, CHECKSUM
// files (sha256sum -c), images.json against productmd's rules (checked here independently),
// composeinfo.json, STATUS, failable arches, dependency ordering and Ctrl-C (TERMINATED).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CommandBackend, type JobContext, type JobOutcome } from '../src/compose/backend.js';
import { parseComposeConfig } from '../src/compose/config.js';
import { prepareCompose, runCompose, type ComposeReport } from '../src/compose/orchestrate.js';
import { planCompose, type ImageJob, type JobGroup } from '../src/compose/planner.js';
import { createComposeTree } from '../src/compose/tree.js';

const tmp = mkdtempSync(join(tmpdir(), 'kiln-compose-run-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

// The builder: what a local image-builder run leaves behind, named as image-builder names it.
const SCRIPT = join(tmp, 'builder.sh');
writeFileSync(
  SCRIPT,
  `#!/bin/sh
set -e
echo "job=$KILN_JOB_ID ostree=$KILN_OSTREE_URL ref=$KILN_OSTREE_REF repos=$KILN_REPOS"
echo "$KILN_JOB_ID" >> "$ORDER_FILE"
case " $FAIL_JOBS " in *" $KILN_JOB_ID "*) echo "failing on purpose" >&2; exit 7;; esac
case " $SLOW_JOBS " in *" $KILN_JOB_ID "*) sleep 30;; esac
out="$KILN_OUTPUT_DIR/$KILN_OUTPUT_NAME"
case "$KILN_TYPE" in
  iot-commit)
    head -c 2048 /dev/urandom > "$out.tar"
    printf '{"url": "file:///srv/ostree-%s", "ref": "%s"}' "$KILN_ARCH" "$KILN_OSTREE_REF" > "$KILN_OUTPUT_DIR/ostree-commit.json" ;;
  iot-raw-xz|minimal-raw-xz)
    [ -n "$KILN_OSTREE_URL" ] || [ "$KILN_TYPE" = minimal-raw-xz ] || { echo "no ostree url" >&2; exit 3; }
    head -c 65536 /dev/urandom | xz -0 > "$out.raw.xz" ;;
  iot-installer)
    head -c 32768 /dev/urandom > "$out.iso" ;;
esac
echo '{"version": "2"}' > "$out.osbuild-manifest.json"
echo '{}' > "$out.image-os.spdx.json"
`,
);

const CONFIG = `release: {name: Fedora-IoT, short: Fedora-IoT, version: "42"}
compose: {type: nightly}
variants:
  - {uid: IoT, name: IoT, arches: [x86_64, aarch64]}
global_release: "!RELEASE_FROM_LABEL_DATE_TYPE_RESPIN"
imagebuilder_repos: ["file:///srv/repo/$arch"]
imagebuilder:
  "^IoT$":
    - {name: Fedora-IoT-raw, types: [iot-raw-xz], failable: [aarch64]}
    - {name: Fedora-IoT-ostree, types: [iot-installer], manifest_type: dvd-ostree-osbuild, failable: [aarch64]}
    - {name: Fedora-IoT-commit, types: [iot-commit], failable: [aarch64], ostree: {ref: "fedora/42/$arch/iot"}}
`;

// productmd 1.2 rules (images.py / composeinfo.py), restated for this test
const TYPES = new Set(['raw-xz', 'dvd-ostree-osbuild', 'boot', 'qcow2']);
const FORMATS = new Set(['raw.xz', 'iso', 'qcow2']);
const IMAGE_KEYS = ['arch', 'bootable', 'checksums', 'disc_count', 'disc_number', 'format', 'implant_md5', 'mtime', 'path', 'size', 'subvariant', 'type', 'volume_id'];

function checkImagesJson(dir: string): any[] {
  const doc = JSON.parse(readFileSync(join(dir, 'compose/metadata/images.json'), 'utf8'));
  assert.deepEqual(doc.header, { type: 'productmd.images', version: '1.2' });
  assert.match(doc.payload.compose.id, /^.*\d{8}(\.nightly|\.n|\.ci|\.test|\.t)?(\.\d+)?/);
  assert.equal(doc.payload.compose.id, readFileSync(join(dir, 'COMPOSE_ID'), 'utf8'));
  const all: any[] = [];
  const seen = new Set<string>();
  for (const [variant, arches] of Object.entries<any>(doc.payload.images)) {
    for (const [arch, list] of Object.entries<any[]>(arches)) {
      const paths = list.map((i) => i.path);
      assert.deepEqual(paths, [...paths].sort(), 'images sorted by path');
      for (const i of list) {
        assert.deepEqual(Object.keys(i).sort(), IMAGE_KEYS);
        assert.equal(i.arch, arch);
        assert.ok(i.path.startsWith(`${variant}/${arch}/`), i.path);
        assert.ok(TYPES.has(i.type), i.type);
        assert.ok(FORMATS.has(i.format), i.format);
        assert.equal(i.bootable, i.format === 'iso');
        assert.ok(i.path.includes(i.format === 'iso' ? '/iso/' : '/images/'));
        const file = join(dir, 'compose', i.path);
        const st = statSync(file);
        assert.equal(i.size, st.size);
        assert.ok(i.size > 0);
        assert.equal(i.mtime, Math.floor(st.mtimeMs / 1000));
        assert.equal(i.checksums.sha256, execFileSync('sha256sum', [file], { encoding: 'utf8' }).split(' ')[0]);
        assert.equal(i.implant_md5, null);
        assert.equal(i.volume_id, null);
        assert.deepEqual([i.disc_number, i.disc_count], [1, 1]);
        const key = JSON.stringify([i.subvariant, i.type, i.format, i.arch, i.disc_number]);
        assert.ok(!seen.has(key), `duplicate productmd identity ${key}`);
        seen.add(key);
        all.push(i);
      }
    }
  }
  return all;
}

async function compose(name: string, env: Record<string, string>, opts: { signal?: AbortSignal; config?: string } = {}) {
  const cfg = parseComposeConfig(opts.config ?? CONFIG, `${name}.yaml`, { env: {} });
  const top = join(tmp, name);
  const tree = createComposeTree(top, cfg.release, { type: cfg.compose.type, date: '20251127' });
  const plan = planCompose(cfg, tree.identity);
  const order = join(tmp, `${name}.order`);
  writeFileSync(order, '');
  const backend = new CommandBackend({ command: ['/bin/sh', SCRIPT], env: { ORDER_FILE: order, FAIL_JOBS: '', SLOW_JOBS: '', ...env } });
  const report = await runCompose({ config: cfg, plan, tree, backends: { local: backend }, concurrency: 2, ...(opts.signal ? { signal: opts.signal } : {}) });
  return { report, tree, top, order: readFileSync(order, 'utf8').trim().split('\n').filter(Boolean) };
}

const job = (r: ComposeReport, id: string) => r.jobs.find((j) => j.job === id)!;

test('a full compose: tree, CHECKSUMs, images.json, composeinfo.json, STATUS, latest link', async () => {
  const { report, tree, top, order } = await compose('full', {});
  assert.equal(report.status, 'FINISHED');
  assert.equal(readFileSync(join(tree.dir, 'STATUS'), 'utf8'), 'FINISHED\n');
  assert.equal(tree.identity.id, 'Fedora-IoT-42-20251127.n.0');
  assert.equal(readlinkSync(join(top, 'latest-Fedora-IoT-42')), tree.identity.id);

  // commits first, per arch, and the deployment got the commit its producer reported
  for (const arch of ['x86_64', 'aarch64']) {
    assert.ok(order.indexOf(`IoT.Fedora-IoT-commit.iot-commit.${arch}`) < order.indexOf(`IoT.Fedora-IoT-raw.iot-raw-xz.${arch}`), order.join(','));
    const log = readFileSync(tree.jobLog(arch, `IoT.Fedora-IoT-raw.iot-raw-xz.${arch}`), 'utf8');
    assert.match(log, new RegExp(`ostree=file:///srv/ostree-${arch} ref=fedora/42/${arch}/iot repos=file:///srv/repo/${arch}`));
  }

  const images = checkImagesJson(tree.dir);
  assert.deepEqual(
    images.map((i) => i.path).sort(),
    [
      'IoT/aarch64/images/Fedora-IoT-raw-42-20251127.n.0.aarch64.raw.xz',
      'IoT/aarch64/iso/Fedora-IoT-ostree-42-20251127.n.0.aarch64.iso',
      'IoT/x86_64/images/Fedora-IoT-raw-42-20251127.n.0.x86_64.raw.xz',
      'IoT/x86_64/iso/Fedora-IoT-ostree-42-20251127.n.0.x86_64.iso',
    ],
  );
  assert.deepEqual([...new Set(images.map((i) => `${i.type}/${i.format}`))].sort(), ['dvd-ostree-osbuild/iso', 'raw-xz/raw.xz']);
  assert.ok(images.every((i) => i.subvariant === 'IoT'));
  // manifests, SBOMs and the commit tarball are not images
  assert.ok(!existsSync(join(tree.dir, 'compose/IoT/x86_64/images/Fedora-IoT-raw-42-20251127.n.0.x86_64.osbuild-manifest.json')));
  assert.ok(!images.some((i) => i.path.endsWith('.tar')));
  // the raw image really is xz
  execFileSync('xz', ['-t', join(tree.dir, 'compose', images.find((i) => i.format === 'raw.xz').path)]);

  for (const d of ['IoT/x86_64/images', 'IoT/x86_64/iso', 'IoT/aarch64/images', 'IoT/aarch64/iso']) {
    const out = execFileSync('sha256sum', ['-c', 'CHECKSUM'], { cwd: join(tree.dir, 'compose', d), encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    assert.match(out, /: OK$/m, d);
    assert.match(readFileSync(join(tree.dir, 'compose', d, 'CHECKSUM'), 'utf8'), /^# \S+: \d+ bytes\nSHA256 \(\S+\) = [0-9a-f]{64}\n/);
  }

  const ci = JSON.parse(readFileSync(join(tree.dir, 'compose/metadata/composeinfo.json'), 'utf8'));
  assert.deepEqual(ci.header, { type: 'productmd.composeinfo', version: '1.2' });
  assert.equal(ci.payload.compose.id, tree.identity.id);
  assert.deepEqual(ci.payload.variants.IoT.arches, ['aarch64', 'x86_64']);
  assert.deepEqual(ci.payload.variants.IoT.paths, {
    images: { aarch64: 'IoT/aarch64/images', x86_64: 'IoT/x86_64/images' },
    isos: { aarch64: 'IoT/aarch64/iso', x86_64: 'IoT/x86_64/iso' },
  });
  assert.ok(report.jobs.every((j) => j.status === 'done'));
});

test('a failable arch that fails: FINISHED_INCOMPLETE, the rest delivered', async () => {
  const { report, tree } = await compose('failable', { FAIL_JOBS: 'IoT.Fedora-IoT-raw.iot-raw-xz.aarch64' });
  assert.equal(report.status, 'FINISHED_INCOMPLETE');
  assert.equal(readFileSync(join(tree.dir, 'STATUS'), 'utf8'), 'FINISHED_INCOMPLETE\n');
  const failed = job(report, 'IoT.Fedora-IoT-raw.iot-raw-xz.aarch64');
  assert.equal(failed.status, 'failed');
  assert.match(failed.error!, /exit status 7/);
  assert.match(readFileSync(failed.log, 'utf8'), /failing on purpose/);
  const paths = checkImagesJson(tree.dir).map((i) => i.path);
  assert.ok(paths.includes('IoT/x86_64/images/Fedora-IoT-raw-42-20251127.n.0.x86_64.raw.xz'));
  assert.ok(!paths.some((p) => p.startsWith('IoT/aarch64/images/')));
  const deliverables = JSON.parse(readFileSync(join(tree.dir, 'logs/global/deliverables.json'), 'utf8'));
  assert.deepEqual(deliverables.failed.imageBuilderBuild, [['IoT', 'aarch64', 'IoT.Fedora-IoT-raw.iot-raw-xz.aarch64']]);
  // latest link follows Pungi: made for FINISHED_INCOMPLETE too
  assert.ok(existsSync(join(tree.topdir, 'latest-Fedora-IoT-42')));
});

test('a failed commit fails the deployments of that arch without running them', async () => {
  const { report, order } = await compose('depfail', { FAIL_JOBS: 'IoT.Fedora-IoT-commit.iot-commit.aarch64' });
  assert.equal(report.status, 'FINISHED_INCOMPLETE');
  for (const id of ['IoT.Fedora-IoT-raw.iot-raw-xz.aarch64', 'IoT.Fedora-IoT-ostree.iot-installer.aarch64']) {
    assert.equal(job(report, id).status, 'skipped');
    assert.match(job(report, id).error!, /dependency failed: IoT\.Fedora-IoT-commit\.iot-commit\.aarch64/);
    assert.ok(!order.includes(id), `${id} should not have run`);
  }
  assert.equal(job(report, 'IoT.Fedora-IoT-raw.iot-raw-xz.x86_64').status, 'done');
});

test('a failure on a non-failable arch dooms the compose', async () => {
  const { report, tree, top } = await compose('doomed', { FAIL_JOBS: 'IoT.Fedora-IoT-commit.iot-commit.x86_64' });
  assert.equal(report.status, 'DOOMED');
  assert.equal(readFileSync(join(tree.dir, 'STATUS'), 'utf8'), 'DOOMED\n');
  assert.ok(!existsSync(join(tree.dir, 'compose/metadata/images.json')));
  assert.ok(!existsSync(join(top, 'latest-Fedora-IoT-42')));
  assert.equal(job(report, 'IoT.Fedora-IoT-raw.iot-raw-xz.x86_64').status, 'skipped');
});

test('Ctrl-C: running builds are killed and STATUS is TERMINATED', async () => {
  const ac = new AbortController();
  const started = Date.now();
  const config = `release: {name: Fedora-Minimal, short: Fedora-Minimal, version: "42"}
variants:
  - {uid: Minimal, name: Minimal, arches: [x86_64]}
imagebuilder:
  "^Minimal$":
    - {name: Fedora-Minimal, types: [minimal-raw-xz], release: "1"}
`;
  setTimeout(() => ac.abort(), 300);
  const { report, tree } = await compose('terminated', { SLOW_JOBS: 'Minimal.Fedora-Minimal.minimal-raw-xz.x86_64' }, { signal: ac.signal, config });
  assert.equal(report.status, 'TERMINATED');
  assert.equal(readFileSync(join(tree.dir, 'STATUS'), 'utf8'), 'TERMINATED\n');
  assert.ok(Date.now() - started < 10000, 'the sleeping builder was killed, not waited for');
  assert.ok(!existsSync(join(tree.dir, 'compose/metadata/images.json')));
});

// A backend that takes a whole group at once (as the koji backend does with one task per entry):
// here it runs the arches one after the other and reports a per-arch outcome.
class GroupedBackend extends CommandBackend {
  calls: string[] = [];
  async runGroup(group: JobGroup, jobs: ImageJob[], ctx: Record<string, JobContext>): Promise<Record<string, JobOutcome>> {
    this.calls.push(`${group.id}:${jobs.map((j) => j.arch).join('+')}:${group.failableArches.join('+')}`);
    const out: Record<string, JobOutcome> = {};
    for (const j of jobs) {
      out[j.arch] = await this.run(j, ctx[j.arch]).then(
        (result): JobOutcome => ({ ok: true, result }),
        (error: Error): JobOutcome => ({ ok: false, error }),
      );
    }
    return out;
  }
}

test('a backend with runGroup gets one call per group with all its arches', async () => {
  const cfg = parseComposeConfig(CONFIG, 'grouped.yaml', { env: {} });
  const tree = createComposeTree(join(tmp, 'grouped'), cfg.release, { type: cfg.compose.type, date: '20251127' });
  const order = join(tmp, 'grouped.order');
  writeFileSync(order, '');
  const backend = new GroupedBackend({ command: ['/bin/sh', SCRIPT], env: { ORDER_FILE: order, FAIL_JOBS: 'IoT.Fedora-IoT-ostree.iot-installer.aarch64', SLOW_JOBS: '' } });
  const report = await runCompose({ config: cfg, plan: planCompose(cfg, tree.identity), tree, backends: { local: backend } });
  // raw and installer may run in either order (concurrency 2); both after the commit
  assert.deepEqual([...backend.calls].sort(), [
    'IoT.Fedora-IoT-commit.iot-commit:aarch64+x86_64:aarch64',
    'IoT.Fedora-IoT-ostree.iot-installer:aarch64+x86_64:aarch64',
    'IoT.Fedora-IoT-raw.iot-raw-xz:aarch64+x86_64:aarch64',
  ]);
  assert.equal(backend.calls[0].split(':')[0], 'IoT.Fedora-IoT-commit.iot-commit');
  assert.equal(report.status, 'FINISHED_INCOMPLETE');
  assert.equal(job(report, 'IoT.Fedora-IoT-ostree.iot-installer.aarch64').status, 'failed');
  assert.equal(job(report, 'IoT.Fedora-IoT-ostree.iot-installer.x86_64').status, 'done');
  checkImagesJson(tree.dir);
});

test('prepareCompose plans before it creates anything, with the free respin and CLI overrides', () => {
  const top = join(tmp, 'prepare');
  mkdirSync(join(top, 'Fedora-IoT-42-20251127.0'), { recursive: true });
  const cfg = parseComposeConfig(CONFIG, 'prepare.yaml', { env: {} });
  const { tree, plan } = prepareCompose(cfg, { topdir: top, type: 'production', date: '20251127' });
  assert.equal(tree.identity.id, 'Fedora-IoT-42-20251127.1');
  assert.equal(plan.compose.id, tree.identity.id);
  assert.equal(plan.groups[0].release, '20251127.1');
  const labelled = prepareCompose(cfg, { topdir: top, type: 'production', label: 'RC-1.5', date: '20251127' });
  assert.equal(labelled.plan.groups[0].release, '1.5');
  // a config the planner rejects leaves no compose directory behind
  const bad = parseComposeConfig(CONFIG.replace('ostree: {ref: "fedora/42/$arch/iot"}', 'ostree: {url: "compose:Nope"}'), 'bad.yaml', { env: {} });
  const before = readdirSync(top).sort();
  assert.throws(() => prepareCompose(bad, { topdir: top, date: '20251127' }), /compose:Nope/);
  assert.deepEqual(readdirSync(top).sort(), before);
});
