// `kiln compose` as a process: exit statuses, --json, the plain-line live summary, --resume and
// Ctrl-C. The builder is a shell script plugged in through the KILN_COMPOSE_TEST_BUILDER hook
// (a CommandBackend), so the CLI's own signal and process handling is what is tested.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..', '..');
const tmp = mkdtempSync(join(tmpdir(), 'kiln-compose-cli-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

// Runs the compose command the way main() does (errors -> `error: ...` and the KilnError's exit
// status), whether or not main.ts has registered it yet.
const LAUNCHER = `
import { Command } from 'commander';
import { registerComposeCommand } from './dist/src/cli/compose.js';
import { KilnError } from './dist/src/util/errors.js';
const program = new Command('kiln').option('--definitions <dir>').option('-v, --verbose').exitOverride();
registerComposeCommand(program);
try {
  await program.parseAsync(process.argv.slice(1), { from: 'user' });
} catch (e) {
  process.stderr.write('error: ' + e.message + '\\n');
  process.exitCode = e instanceof KilnError ? e.exitCode : (e.exitCode ?? 1);
}
`;

const SCRIPT = join(tmp, 'builder.sh');
writeFileSync(
  SCRIPT,
  `#!/bin/sh
echo "$KILN_JOB_ID" >> "$ORDER_FILE"
case " $FAIL_JOBS " in *" $KILN_JOB_ID "*) echo "failing on purpose" >&2; exit 7;; esac
out="$KILN_OUTPUT_DIR/$KILN_OUTPUT_NAME"
case " $SLOW_JOBS " in *" $KILN_JOB_ID "*)
  echo $$ > "$PID_FILE"
  head -c 1000 /dev/urandom > "$out.raw.xz.partial"
  sleep 60 ;;
esac
case "$KILN_TYPE" in
  *-raw-xz) head -c 4096 /dev/zero | xz -0 > "$out.raw.xz" ;;
  *installer) head -c 8192 /dev/urandom > "$out.iso" ;;
esac
echo '{}' > "$out.osbuild-manifest.json"
`,
);

const CONFIG = join(tmp, 'minimal.yaml');
writeFileSync(
  CONFIG,
  `release: {name: Fedora-Minimal, short: Fedora-Minimal, version: "42"}
compose: {type: nightly}
variants:
  - {uid: Minimal, name: Minimal, arches: [x86_64, aarch64]}
global_release: "!RELEASE_FROM_LABEL_DATE_TYPE_RESPIN"
imagebuilder_repos: ["file:///srv/repo/$arch"]
imagebuilder:
  "^Minimal$":
    - {name: Fedora-Minimal, types: [minimal-raw-xz], failable: [aarch64]}
    - {name: Fedora-Minimal-installer, types: [iot-installer], ostree: {url: "file:///srv/ostree", ref: "fedora/42/$arch/iot"}}
`,
);

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function kiln(args: string[], env: Record<string, string>, onSpawn?: (pid: number) => void): Promise<Run> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', LAUNCHER, 'compose', ...args], {
      cwd: ROOT,
      env: { ...process.env, KILN_COMPOSE_TEST_BUILDER: JSON.stringify(['/bin/sh', SCRIPT]), FAIL_JOBS: '', SLOW_JOBS: '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('error', rej);
    child.on('close', (code, signal) => res({ code, signal, stdout, stderr }));
    if (onSpawn) onSpawn(child.pid!);
  });
}

const order = (name: string) => {
  const f = join(tmp, `${name}.order`);
  writeFileSync(f, '');
  return { ORDER_FILE: f, env: { ORDER_FILE: f }, read: () => readFileSync(f, 'utf8').split('\n').filter(Boolean) };
};

test('a finished compose: exit 0, final table on stdout, plain progress lines on stderr', async () => {
  const o = order('ok');
  const top = join(tmp, 'ok');
  const r = await kiln([CONFIG, '--topdir', top, '--date', '20251127'], { ORDER_FILE: o.ORDER_FILE });
  assert.equal(r.code, 0, r.stderr);
  const id = 'Fedora-Minimal-42-20251127.n.0';
  assert.equal(readFileSync(join(top, id, 'STATUS'), 'utf8'), 'FINISHED\n');
  assert.match(r.stdout, /^VARIANT\s+ARCH\s+TYPE\s+STATE\s+ELAPSED/m);
  assert.match(r.stdout, /^Minimal\s+x86_64\s+minimal-raw-xz\s+done\s+\S+\s+Minimal\/x86_64\/images\/Fedora-Minimal-42-20251127\.n\.0\.x86_64\.raw\.xz$/m);
  assert.match(r.stdout, new RegExp(`compose ${id.replace(/\./g, '\\.')}: FINISHED \\(4 images\\)`));
  // not a terminal: one line per state change
  assert.match(r.stderr, /\d\d:\d\d:\d\d Minimal aarch64 iot-installer: running/);
  assert.match(r.stderr, /\d\d:\d\d:\d\d Minimal aarch64 iot-installer: done after \d+:\d\d/);
  assert.equal(o.read().length, 4);
});

test('--json and exit statuses: FINISHED_INCOMPLETE exits 3 (0 with --incomplete-ok)', async () => {
  const top = join(tmp, 'json');
  const failing = 'Minimal.Fedora-Minimal.minimal-raw-xz.aarch64';
  const r = await kiln([CONFIG, '--topdir', top, '--json', '--date', '20251127', '--compose-type', 'test'], { ...order('json').env, FAIL_JOBS: failing });
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /error: compose Fedora-Minimal-42-20251127\.t\.0 FINISHED_INCOMPLETE: 1 image\(s\) not delivered \(Minimal\.Fedora-Minimal\.minimal-raw-xz\.aarch64\)/);
  const rep = JSON.parse(r.stdout);
  assert.equal(rep.compose_id, 'Fedora-Minimal-42-20251127.t.0');
  assert.equal(rep.status, 'FINISHED_INCOMPLETE');
  assert.equal(rep.dir, join(top, rep.compose_id));
  assert.equal(rep.images.length, 4);
  const bad = rep.images.find((i: any) => i.job === failing);
  assert.deepEqual([bad.variant, bad.arch, bad.type, bad.state, bad.failable, bad.files], ['Minimal', 'aarch64', 'minimal-raw-xz', 'failed', true, []]);
  assert.match(bad.error, /exit status 7/);
  const good = rep.images.find((i: any) => i.job === 'Minimal.Fedora-Minimal.minimal-raw-xz.x86_64');
  assert.deepEqual([good.state, good.error, good.files], ['done', null, ['Minimal/x86_64/images/Fedora-Minimal-42-20251127.t.0.x86_64.raw.xz']]);
  // the files the report names exist, and images.json lists exactly the delivered ones
  const doc = JSON.parse(readFileSync(rep.images_json, 'utf8'));
  const listed = Object.values<any>(doc.payload.images.Minimal).flat().map((i: any) => i.path).sort();
  assert.deepEqual(listed, rep.images.flatMap((i: any) => i.files).sort());
  for (const f of listed) assert.ok(existsSync(join(rep.dir, 'compose', f)));

  const ok = await kiln([CONFIG, '--topdir', top, '--json', '--incomplete-ok', '--date', '20251127', '--compose-type', 'test'], { ...order('json2').env, FAIL_JOBS: failing });
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(JSON.parse(ok.stdout).compose_id, 'Fedora-Minimal-42-20251127.t.1', 'second run gets the next respin');
});

test('DOOMED exits 4; --resume keeps what finished and builds the rest under the same id', async () => {
  const top = join(tmp, 'resume');
  const first = order('resume1');
  const r1 = await kiln([CONFIG, '--topdir', top, '--date', '20251127', '--concurrency', '1'], {
    ORDER_FILE: first.ORDER_FILE,
    FAIL_JOBS: 'Minimal.Fedora-Minimal-installer.iot-installer.x86_64',
  });
  assert.equal(r1.code, 4, r1.stderr);
  const dir = join(top, 'Fedora-Minimal-42-20251127.n.0');
  assert.equal(readFileSync(join(dir, 'STATUS'), 'utf8'), 'DOOMED\n');
  const done1 = first.read().filter((j) => j !== 'Minimal.Fedora-Minimal-installer.iot-installer.x86_64');
  assert.ok(done1.length >= 1, first.read().join(','));

  const second = order('resume2');
  const r2 = await kiln([CONFIG, '--resume', dir, '--json'], { ORDER_FILE: second.ORDER_FILE });
  assert.equal(r2.code, 0, r2.stderr);
  const rep = JSON.parse(r2.stdout);
  assert.equal(rep.compose_id, 'Fedora-Minimal-42-20251127.n.0');
  assert.equal(rep.status, 'FINISHED');
  for (const id of done1) {
    assert.ok(!second.read().includes(id), `${id} was built again`);
    assert.equal(rep.images.find((i: any) => i.job === id).state, 'kept');
  }
  assert.ok(second.read().includes('Minimal.Fedora-Minimal-installer.iot-installer.x86_64'));
  assert.deepEqual(readdirSync(top).filter((d) => d.startsWith('Fedora')), ['Fedora-Minimal-42-20251127.n.0'], 'no new compose directory');

  const again = await kiln([CONFIG, '--resume', dir], order('resume3').env);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /error: --resume .*: compose Fedora-Minimal-42-20251127\.n\.0 is FINISHED; a finished compose is never modified/);
});

test('Ctrl-C: the builder is killed, STATUS is TERMINATED, exit 130, no partial file under a final name', async () => {
  const top = join(tmp, 'sigint');
  const pidFile = join(tmp, 'slow.pid');
  let childPid = 0;
  const started = Date.now();
  const run = kiln([CONFIG, '--topdir', top, '--date', '20251127'], {
    ...order('sigint').env,
    SLOW_JOBS: 'Minimal.Fedora-Minimal.minimal-raw-xz.x86_64',
    PID_FILE: pidFile,
  }, (pid) => (childPid = pid));
  // wait until the slow build is running, then Ctrl-C the compose
  while (!existsSync(pidFile) || readFileSync(pidFile, 'utf8').trim() === '') {
    assert.ok(Date.now() - started < 20000, 'the slow build never started');
    await new Promise((r) => setTimeout(r, 50));
  }
  const builderPid = Number(readFileSync(pidFile, 'utf8'));
  process.kill(childPid, 'SIGINT');
  const r = await run;
  assert.equal(r.code, 130, r.stderr);
  assert.ok(Date.now() - started < 30000, 'the sleeping builder was not waited for');
  assert.match(r.stderr, /SIGINT: stopping the compose/);
  const dir = join(top, 'Fedora-Minimal-42-20251127.n.0');
  assert.equal(readFileSync(join(dir, 'STATUS'), 'utf8'), 'TERMINATED\n');
  assert.throws(() => process.kill(builderPid, 0), /ESRCH/, 'the builder process is gone');
  // nothing of the interrupted image is in the compose tree, and no metadata claims anything
  const imagesDir = join(dir, 'compose/Minimal/x86_64/images');
  const names = existsSync(imagesDir) ? readdirSync(imagesDir) : [];
  assert.ok(!names.some((n) => n.includes('Fedora-Minimal-42-20251127.n.0.x86_64.raw.xz')), names.join(','));
  assert.ok(!existsSync(join(dir, 'compose/metadata/images.json')));
  // a terminated compose can be resumed
  const resumed = await kiln([CONFIG, '--resume', dir, '--json'], order('sigint2').env);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.equal(JSON.parse(resumed.stdout).status, 'FINISHED');
});

test('bad flags are errors naming the flag; a bad config creates no compose directory', async () => {
  const r = await kiln([CONFIG, '--topdir', join(tmp, 'bad'), '--concurrency', '0'], {});
  assert.equal(r.code, 1);
  assert.match(r.stderr, /error: --concurrency: "0" is not a positive integer/);
  const n = await kiln([CONFIG], {});
  assert.match(n.stderr, /give --topdir DIR/);
  const badCfg = join(tmp, 'bad.yaml');
  writeFileSync(badCfg, readFileSync(CONFIG, 'utf8').replace('types: [minimal-raw-xz]', 'types: [minimal-raw-xz], ostree: {url: "compose:Nope"}'));
  const b = await kiln([badCfg, '--topdir', join(tmp, 'badcfg')], {});
  assert.equal(b.code, 1);
  assert.match(b.stderr, /compose:Nope/);
  assert.ok(!existsSync(join(tmp, 'badcfg')) || readdirSync(join(tmp, 'badcfg')).length === 0);
  const k = await kiln([CONFIG, '--topdir', join(tmp, 'k'), '--backend', 'koji'], {});
  assert.equal(k.code, 1);
  assert.match(k.stderr, /minimal\.yaml:\d+: imagebuilder\.\^Minimal\$\[0\]: --backend koji needs a Koji build target/);
});
