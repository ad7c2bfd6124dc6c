// org.osbuild.oci-archive through the real runner; the archive is checked with tar, sha256sum
// and gzip as an OCI image layout (index -> manifest -> config and layers, digests and sizes).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import type { Input, Manifest, Pipeline, Stage } from '../src/manifest/types.js';
import { runManifest } from '../src/executor/run.js';
import { registerStage } from '../src/executor/stages/index.js';
import { OS_STAGES } from '../src/executor/stages/registry-os.js';
import { assertNoLeaks, mkTmp, sh, tmpEntries } from './executor-helpers.js';

for (const s of OS_STAGES) registerStage(s);

// test-only: a small OS tree with an owned file, an executable and a symlink
registerStage({
  type: 'kiln.test.oci-tree',
  async run(ctx) {
    const t = ctx.tree;
    fs.mkdirSync(path.join(t, 'etc'), { recursive: true });
    fs.mkdirSync(path.join(t, 'usr/bin'), { recursive: true });
    fs.writeFileSync(path.join(t, 'etc/os-release'), `ID=kiln\nNAME=${String(ctx.options.name)}\n`);
    fs.writeFileSync(path.join(t, 'usr/bin/tool'), '#!/bin/sh\n', { mode: 0o755 });
    fs.chownSync(path.join(t, 'usr/bin/tool'), 1000, 1001);
    fs.symlinkSync('usr/bin', path.join(t, 'bin'));
  },
});

const EPOCH = 1_700_000_000;
const treeInput = (p: string): Input => ({ type: 'org.osbuild.tree', origin: 'org.osbuild.pipeline', references: [`name:${p}`] });

describe('executor OS stages: oci-archive', () => {
  const dir = mkTmp('stages-os-oci');
  const tmpBefore = tmpEntries(dir);
  let n = 0;
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  async function build(oci: Stage, extra: Pipeline[] = []): Promise<string> {
    const out = path.join(dir, `out${++n}`);
    const store = path.join(dir, `store${n}`);
    const m: Manifest = {
      version: '2',
      sources: {},
      pipelines: [{ name: 'os', stages: [{ type: 'kiln.test.oci-tree', options: { name: 'base' } }] }, ...extra, { name: 'container', 'source-epoch': EPOCH, stages: [oci] }],
    };
    try {
      await runManifest(m, { store, outputDir: out, exports: ['container'], buildroot: 'host', handleSignals: false });
    } finally {
      assertNoLeaks(dir, store, tmpBefore);
    }
    return path.join(out, 'container', 'container.tar');
  }

  const sha = (f: string): string => sh('sha256sum', [f]).split(' ')[0]!;

  /** Unpack the archive and follow index -> manifest -> config, checking every digest and size. */
  function openLayout(archive: string) {
    const x = fs.mkdtempSync(path.join(dir, 'x-'));
    sh('tar', ['-xf', archive, '-C', x]);
    const blob = (digest: string, size: number): string => {
      const [algo, hex] = digest.split(':');
      assert.equal(algo, 'sha256');
      const f = path.join(x, 'blobs/sha256', hex!);
      assert.equal(sha(f), hex, `blob ${digest} has that digest`);
      assert.equal(fs.statSync(f).size, size, `blob ${digest} has the size its descriptor says`);
      return f;
    };
    const index = JSON.parse(fs.readFileSync(path.join(x, 'index.json'), 'utf8'));
    assert.equal(index.schemaVersion, 2);
    assert.equal(index.manifests.length, 1);
    const md = index.manifests[0];
    assert.equal(md.mediaType, 'application/vnd.oci.image.manifest.v1+json');
    const manifest = JSON.parse(fs.readFileSync(blob(md.digest, md.size), 'utf8'));
    assert.equal(manifest.config.mediaType, 'application/vnd.oci.image.config.v1+json');
    const config = JSON.parse(fs.readFileSync(blob(manifest.config.digest, manifest.config.size), 'utf8'));
    const layers = (manifest.layers as { mediaType: string; digest: string; size: number }[]).map((l) => {
      assert.equal(l.mediaType, 'application/vnd.oci.image.layer.v1.tar+gzip');
      return blob(l.digest, l.size);
    });
    return { x, index, manifest, config, layers, layout: JSON.parse(fs.readFileSync(path.join(x, 'oci-layout'), 'utf8')) };
  }

  it('one layer from the base tree, config from the options, reproducible with a source epoch', async () => {
    const stage: Stage = {
      type: 'org.osbuild.oci-archive',
      inputs: { base: treeInput('os') },
      options: { architecture: 'amd64', filename: 'container.tar', config: { Cmd: ['nginx', '-c', '/etc/nginx.conf'], ExposedPorts: ['8080'], Labels: { a: 'b' }, WorkingDir: '/srv' }, annotations: { 'org.example.k': 'v' } },
    };
    const archive = await build(stage);
    // the archive: owned by root, timestamps at the epoch, the OCI layout at the top
    const listing = sh('tar', ['--numeric-owner', '--full-time', '-tvf', archive]).trim().split('\n');
    const names = listing.map((l) => l.split(/\s+/).pop()!);
    assert.deepEqual(names.filter((nm) => !nm.startsWith('blobs/sha256/')), ['blobs/', 'index.json', 'oci-layout']);
    assert.equal(names.filter((nm) => /^blobs\/sha256\/[0-9a-f]{64}$/.test(nm)).length, 3, 'layer, config and manifest blobs');
    for (const l of listing) assert.match(l, /^\S+ 0\/0 +\d+ 2023-11-14 22:13:20 /, l);
    const { config, manifest, layers, layout } = openLayout(archive);
    assert.deepEqual(layout, { imageLayoutVersion: '1.0.0' });
    assert.deepEqual(manifest.annotations, { 'org.example.k': 'v' });
    assert.equal(config.architecture, 'amd64');
    assert.equal(config.os, 'linux');
    assert.equal(config.created, '2023-11-14T22:13:20+00:00');
    assert.deepEqual(config.config, {
      Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
      Cmd: ['nginx', '-c', '/etc/nginx.conf'],
      Labels: { a: 'b' },
      WorkingDir: '/srv',
      ExposedPorts: { '8080': {} },
    });
    // the layer: diff_id is the digest of the uncompressed tar
    assert.equal(layers.length, 1);
    assert.deepEqual(config.rootfs, { type: 'layers', diff_ids: ['sha256:' + sh('sh', ['-c', 'gzip -dc "$1" | sha256sum', 'sh', layers[0]!]).split(' ')[0]] });
    const files = sh('tar', ['--numeric-owner', '-tvzf', layers[0]!]).trim().split('\n');
    const entry = (name: string) => files.find((l) => l.split(/\s+/)[5] === name);
    assert.match(entry('usr/bin/tool') ?? '', /^-rwxr-xr-x 1000\/1001 /, 'owners and modes are kept');
    assert.match(entry('bin') ?? '', /^lrwxrwxrwx .* bin -> usr\/bin$/);
    assert.ok(entry('etc/os-release'));
    assert.ok(!files.some((l) => l.includes('.kiln-oci')), 'no working files in the layer');
    // same inputs, same epoch: byte-identical archive
    const again = await build(stage);
    assert.equal(sha(again), sha(archive));
  });

  it('layer.N inputs stack on base in order; bad inputs and options are rejected naming them', async () => {
    const archive = await build(
      { type: 'org.osbuild.oci-archive', inputs: { 'layer.2': treeInput('l2'), base: treeInput('os'), 'layer.1': treeInput('l1') }, options: { architecture: 'arm64', variant: 'v8', filename: 'container.tar' } },
      [
        { name: 'l1', stages: [{ type: 'kiln.test.oci-tree', options: { name: 'one' } }] },
        { name: 'l2', stages: [{ type: 'kiln.test.oci-tree', options: { name: 'two' } }] },
      ],
    );
    const { config, layers } = openLayout(archive);
    assert.equal(config.variant, 'v8');
    assert.equal(config.rootfs.diff_ids.length, 3);
    const names = layers.map((l) => /NAME=(\w+)/.exec(sh('tar', ['-xzOf', l, 'etc/os-release']))![1]);
    assert.deepEqual(names, ['base', 'one', 'two']);
    assert.deepEqual(config.history.map((h: { created_by: string }) => /'(.*)'/.exec(h.created_by)![1]), ['base', 'layer.1', 'layer.2']);

    await assert.rejects(build({ type: 'org.osbuild.oci-archive', inputs: { tree: treeInput('os') }, options: { architecture: 'amd64', filename: 'c.tar' } }), /org\.osbuild\.oci-archive\): input "base" is required/);
    await assert.rejects(build({ type: 'org.osbuild.oci-archive', inputs: { base: treeInput('os') }, options: { filename: 'c.tar' } }), /org\.osbuild\.oci-archive\): option "architecture" is required/);
    await assert.rejects(build({ type: 'org.osbuild.oci-archive', inputs: { base: treeInput('os') }, options: { architecture: 'amd64', filename: 'c.tar', annotations: { 'org.opencontainers.x': 'y' } } }), /option "annotations": "org\.opencontainers\.x" is in a reserved namespace/);
    await assert.rejects(build({ type: 'org.osbuild.oci-archive', inputs: { base: treeInput('os') }, options: { architecture: 'amd64', filename: 'c.tar', config: { Cmd: 'sh' } } }), /option "config\.Cmd" must be an array of strings/);
  });
});
