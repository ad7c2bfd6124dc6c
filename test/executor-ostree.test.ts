// ostree: the source over HTTP, the ostree and ostree.checkout inputs (from the source and from a
// pipeline), and the ostree.deployment mount.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Manifest } from '../src/manifest/types.js';
import { runManifest } from '../src/executor/run.js';
import { registerStage } from '../src/executor/stages/index.js';
import { assertNoLeaks, collect, mkTmp, tmpEntries } from './executor-helpers.js';
import { serveDir, type TestServer } from './helpers/http.js';

function ostree(...args: string[]): string {
  return execFileSync('ostree', args, { encoding: 'utf8' }).trim();
}

const seen: Record<string, unknown> = {};

// test-only stages: look at what a stage is given, and make trees osbuild's ostree stages would make
registerStage({
  type: 'kiln.test.probe',
  async run(ctx) {
    const out: Record<string, unknown> = {};
    for (const [n, i] of Object.entries(ctx.inputs)) out[n] = { path: i.path, refs: i.refs, listing: fs.readdirSync(i.path).sort() };
    for (const [n, m] of Object.entries(ctx.mounts)) out[`mount:${n}`] = { path: m.path, sysroot: fs.existsSync(path.join(m.path, 'sysroot', 'ostree', 'repo')), var: fs.readdirSync(path.join(m.path, 'var')) };
    // a deployment has sysroot/ at its top, the plain tree does not
    out.deployed = fs.existsSync(path.join(ctx.tree, 'sysroot', 'ostree'));
    seen[ctx.options.key as string] = out;
  },
});
registerStage({
  type: 'kiln.test.ostree-commit',
  async run(ctx) {
    const repo = path.join(ctx.tree, 'repo');
    const content = ctx.scratch('content');
    fs.mkdirSync(path.join(content, 'usr/lib'), { recursive: true });
    fs.writeFileSync(path.join(content, 'usr/lib/os-release'), 'ID=kiln\n');
    ostree('init', '--mode=archive', `--repo=${repo}`);
    const commit = ostree(`--repo=${repo}`, 'commit', '--branch=kiln/test', `--tree=dir=${content}`, '--subject=pipeline commit');
    fs.writeFileSync(path.join(ctx.tree, 'compose.json'), JSON.stringify({ 'ostree-commit': commit, ref: 'kiln/test' }));
  },
});
registerStage({
  type: 'kiln.test.fake-deploy',
  async run(ctx) {
    const repo = path.join(ctx.tree, 'ostree/repo');
    const content = ctx.scratch('content');
    fs.mkdirSync(path.join(content, 'usr/etc'), { recursive: true });
    fs.mkdirSync(repo, { recursive: true });
    ostree('init', '--mode=bare', `--repo=${repo}`);
    const commit = ostree(`--repo=${repo}`, 'commit', '--branch=kiln/os', `--tree=dir=${content}`);
    const dep = path.join(ctx.tree, 'ostree/deploy/kiln/deploy', `${commit}.0`);
    for (const d of ['etc', 'sysroot', 'var', 'boot']) fs.mkdirSync(path.join(dep, d), { recursive: true });
    fs.symlinkSync('sysroot/ostree', path.join(dep, 'ostree')); // as in every real deployment
    fs.mkdirSync(path.join(ctx.tree, 'ostree/deploy/kiln/var/lib'), { recursive: true });
    fs.mkdirSync(path.join(ctx.tree, 'boot/loader'), { recursive: true });
  },
});

describe('executor: ostree', () => {
  const dir = mkTmp('ostree');
  const tmpBefore = tmpEntries(dir);
  const repo = path.join(dir, 'remote');
  let commit = '';
  let srv: TestServer;
  before(async () => {
    const content = path.join(dir, 'content');
    fs.mkdirSync(path.join(content, 'usr/bin'), { recursive: true });
    fs.writeFileSync(path.join(content, 'usr/bin/hello'), 'hello from ostree\n');
    ostree('init', '--mode=archive', `--repo=${repo}`);
    commit = ostree(`--repo=${repo}`, 'commit', '--branch=fedora/x86_64/iot', `--tree=dir=${content}`, '--subject=t');
    srv = await serveDir(repo);
  });
  after(async () => {
    await srv.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('pulls a commit over HTTP and feeds ostree and ostree.checkout inputs from it', async () => {
    const m: Manifest = {
      version: '2',
      sources: { 'org.osbuild.ostree': { items: { [commit]: { remote: { url: srv.url } } } } },
      pipelines: [
        {
          name: 'tree',
          stages: [
            {
              type: 'org.osbuild.copy',
              inputs: { co: { type: 'org.osbuild.ostree.checkout', origin: 'org.osbuild.source', references: [commit] } },
              options: { paths: [{ from: `input://co/${commit}/usr/bin/hello`, to: 'tree:///hello' }] },
            },
            { type: 'kiln.test.probe', options: { key: 'src' }, inputs: { commits: { type: 'org.osbuild.ostree', origin: 'org.osbuild.source', references: { [commit]: { ref: 'kiln/pulled' } } } } },
          ],
        },
      ],
    };
    const store = path.join(dir, 's1');
    const out = path.join(dir, 'o1');
    const ev = collect();
    await runManifest(m, { store, outputDir: out, exports: ['tree'], buildroot: 'host', handleSignals: false, onEvent: ev.on });
    assert.ok(srv.requests.some((r) => r.startsWith('/objects/')), 'pulled over HTTP');
    assert.equal(fs.readFileSync(path.join(out, 'tree', 'hello'), 'utf8'), 'hello from ostree\n');
    const probe = (seen.src as Record<string, { refs: Record<string, unknown>; listing: string[] }>).commits!;
    assert.deepEqual(probe.refs, { [commit]: { ref: 'kiln/pulled' } });
    assert.ok(probe.listing.includes('objects') && probe.listing.includes('config'), 'the input is a repository');
    assert.deepEqual(ev.of('download-finish').map((e) => [e.source, e.item]), [['org.osbuild.ostree', commit]]);
    assertNoLeaks(dir, store, tmpBefore);
  });

  it('takes the commit of a pipeline (compose.json) for ostree inputs', async () => {
    const m: Manifest = {
      version: '2',
      sources: {},
      pipelines: [
        { name: 'commit', stages: [{ type: 'kiln.test.ostree-commit' }] },
        {
          name: 'use',
          stages: [
            { type: 'kiln.test.probe', options: { key: 'pipe' }, inputs: { commits: { type: 'org.osbuild.ostree', origin: 'org.osbuild.pipeline', references: { 'name:commit': { ref: 'kiln/x' } } } } },
            { type: 'org.osbuild.copy', inputs: { co: { type: 'org.osbuild.ostree.checkout', origin: 'org.osbuild.pipeline', references: ['name:commit'] } }, options: { paths: [{ from: 'input://co/', to: 'tree:///' }] } },
          ],
        },
      ],
    };
    const store = path.join(dir, 's2');
    const out = path.join(dir, 'o2');
    await runManifest(m, { store, outputDir: out, exports: ['use', 'commit'], buildroot: 'host', handleSignals: false });
    const made = (JSON.parse(fs.readFileSync(path.join(out, 'commit', 'compose.json'), 'utf8')) as { 'ostree-commit': string })['ostree-commit'];
    const probe = (seen.pipe as Record<string, { refs: Record<string, unknown> }>).commits!;
    assert.deepEqual(probe.refs, { [made]: { ref: 'kiln/x' } });
    assert.equal(fs.readFileSync(path.join(out, 'use', made, 'usr/lib/os-release'), 'utf8'), 'ID=kiln\n');
    assertNoLeaks(dir, store, tmpBefore);
  });

  it('ostree.deployment mounts the deployment with sysroot and var bound in; fstab writes into it', async () => {
    const deployment = { osname: 'kiln', ref: 'kiln/os' };
    const mount = { name: 'ostree.deployment', type: 'org.osbuild.ostree.deployment', options: { deployment } };
    const m: Manifest = {
      version: '2',
      sources: {},
      pipelines: [
        {
          name: 'image-tree',
          stages: [
            { type: 'kiln.test.fake-deploy' },
            { type: 'kiln.test.probe', options: { key: 'dep' }, mounts: [mount] },
            { type: 'org.osbuild.fstab', options: { ostree: { deployment }, filesystems: [{ label: 'root', path: '/', vfs_type: 'xfs' }] }, mounts: [mount] },
          ],
        },
      ],
    };
    const store = path.join(dir, 's3');
    const out = path.join(dir, 'o3');
    await runManifest(m, { store, outputDir: out, exports: ['image-tree'], buildroot: 'host', handleSignals: false });
    const probe = (seen.dep as Record<string, { path: string; sysroot: boolean; var: string[] }>)['mount:ostree.deployment']!;
    assert.match(probe.path, /\/tree-[^/]+$/, 'the deployment is moved over the tree itself');
    assert.equal(probe.sysroot, true, 'sysroot is the tree');
    assert.equal((seen.dep as Record<string, { deployed: boolean }>).deployed, true, 'the stage sees the deployment as its tree');
    assert.deepEqual(probe.var, ['lib'], 'var is the stateroot var');
    const deps = fs.readdirSync(path.join(out, 'image-tree', 'ostree/deploy/kiln/deploy'));
    assert.equal(fs.readFileSync(path.join(out, 'image-tree', 'ostree/deploy/kiln/deploy', deps[0]!, 'etc/fstab'), 'utf8'), 'LABEL=root\t/\txfs\tdefaults\t0\t0\n');
    // nothing stays bound: the exported deployment's sysroot is an empty directory
    assert.deepEqual(fs.readdirSync(path.join(out, 'image-tree', 'ostree/deploy/kiln/deploy', deps[0]!, 'sysroot')), []);
    assertNoLeaks(dir, store, tmpBefore);
  });
});
