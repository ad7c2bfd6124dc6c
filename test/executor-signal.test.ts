// SIGINT/SIGTERM during a stage: the build process ends the conventional way (killed by the
// signal, after cleanup), leaving no loop device, mount, temp dir or export behind.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runManifest } from '../src/executor/run.js';
import { assertNoLeaks, loopsUnder, mkTmp, mountsUnder, tmpEntries } from './executor-helpers.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const runJs = path.resolve(here, '../src/executor/run.js');
const stagesJs = path.resolve(here, '../src/executor/stages/index.js');

// The child builds: truncate, mkfs.ext4 on a loop device, then a slow stage holding a loop device
// and a mount. The slow stage is test-only, registered through the stage registry.
const CHILD = `
import { renameSync, writeFileSync } from 'node:fs';
import { runManifest } from ${JSON.stringify(runJs)};
import { registerStage } from ${JSON.stringify(stagesJs)};
const [store, out, marker] = process.argv.slice(2);
registerStage({
  type: 'kiln.test.sleep',
  async run(ctx) {
    // written whole, then renamed: the test polls for the marker and must never read it half-written
    writeFileSync(marker + '.tmp', JSON.stringify({ mount: ctx.mounts.root.path, device: ctx.devices.disk.path }));
    renameSync(marker + '.tmp', marker);
    await ctx.run(['sleep', '60']);
  },
});
const loop = { type: 'org.osbuild.loopback', options: { filename: 'fs.img' } };
await runManifest({
  version: '2',
  sources: {},
  pipelines: [{ name: 'slow', stages: [
    { type: 'org.osbuild.truncate', options: { filename: 'fs.img', size: '16M' } },
    { type: 'org.osbuild.mkfs.ext4', options: { uuid: '11111111-2222-3333-4444-555555555555' }, devices: { device: loop } },
    { type: 'kiln.test.sleep', devices: { disk: loop }, mounts: [{ name: 'root', type: 'org.osbuild.ext4', source: 'disk', target: '/' }] },
  ] }],
}, { store, outputDir: out, exports: ['slow'], buildroot: 'host' });
console.log('finished');
`;

/** Start the child and wait until its slow stage holds the loop device and mount. */
async function startChild(base: string): Promise<{ child: ReturnType<typeof spawn>; store: string; out: string; exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>; output: () => string }> {
  fs.mkdirSync(base);
  const script = path.join(base, 'child.mjs');
  fs.writeFileSync(script, CHILD);
  const store = path.join(base, 'store');
  const out = path.join(base, 'out');
  const marker = path.join(base, 'marker.json');
  const child = spawn(process.execPath, [script, store, out, marker], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.on('exit', (code, signal) => r({ code, signal })));
  const deadline = Date.now() + 20_000;
  while (!fs.existsSync(marker)) {
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      assert.fail(`slow stage never started: ${output}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const held = JSON.parse(fs.readFileSync(marker, 'utf8')) as { mount: string; device: string };
  // the stage really holds a loop device and a mount right now (so the leak checks mean something)
  assert.equal(loopsUnder(base).length, 1);
  assert.deepEqual(mountsUnder(base), [held.mount]);
  return { child, store, out, exited, output: () => output };
}

/** Children of `pid` (by /proc), so a test can end exactly the processes it caused. */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${e}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(e));
    } catch {
      /* gone */
    }
  }
  return out;
}

describe('executor: interrupted builds', () => {
  const dir = mkTmp('signal');
  const tmpBefore = tmpEntries(dir);
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    it(`${sig} during a stage: cleanup, then the process dies of ${sig}; nothing leaks, no export`, async () => {
      const { child, store, out, exited, output } = await startChild(path.join(dir, sig));
      child.kill(sig);
      const { code, signal } = await exited;
      assert.equal(signal, sig, `killed by the re-raised signal (code ${code}); output: ${output()}`);
      assert.doesNotMatch(output(), /finished/);
      assert.equal(fs.existsSync(path.join(out, 'slow')), false, 'no export under the final name');
      assert.deepEqual(fs.existsSync(out) ? fs.readdirSync(out) : [], [], 'no partial export either');
      assertNoLeaks(dir, store, tmpBefore);
      // the first stages were not committed as the pipeline's object
      assert.deepEqual(fs.readdirSync(path.join(store, 'objects')), []);
    });
  }

  it('after SIGKILL (no chance to clean up), the next build on the store removes the leftovers', async () => {
    const base = path.join(dir, 'KILL');
    const { child, store, exited } = await startChild(base);
    const orphans = childrenOf(child.pid!);
    child.kill('SIGKILL');
    await exited;
    for (const p of orphans) process.kill(p, 'SIGKILL'); // the stage's `sleep`
    assert.equal(loopsUnder(base).length, 1, 'SIGKILL leaves the loop device');
    assert.equal(mountsUnder(base).length, 1, 'and the mount');
    await runManifest({ version: '2', sources: {}, pipelines: [{ name: 'p', stages: [{ type: 'org.osbuild.mkdir', options: { paths: [{ path: '/x' }] } }] }] }, { store, exports: [], buildroot: 'host', handleSignals: false });
    assertNoLeaks(base, store, tmpBefore);
  });
});
