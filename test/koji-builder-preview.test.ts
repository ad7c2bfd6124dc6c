// A task's opts.preview reaches Kiln's build: koji-image-builder passes it to image-builder as
// `--preview true|false`; Kiln's build host passes it as the `preview` build option, which
// overrides the distro's preview flag in the manifest (the installer buildstamp's `final`).
// The daemon test runs the real task path (hub double -> host -> handler -> buildOptionsFor ->
// generateManifest) and stops at the manifest, which is all the override changes.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { generateManifest } from '../src/build/manifest.js';
import { loadDefinitions, resolveImageType } from '../src/defs/index.js';
import { buildOptionsFor, KilnImageBuildRunner, type ImageBuildOutput, type ImageBuildRequest, type ImageBuildRunner } from '../src/koji/builder/runner.js';
import type { Manifest } from '../src/manifest/types.js';
import { demoRepoUrls, ostreeRepoUrl } from './helpers/demo.js';
import { TASK_STATES } from './helpers/kojihub-double.js';
import { makeTmp, result, startHarness, submit, waitTask } from './koji-builder-harness.js';

const { tmp, cleanup } = makeTmp('kiln-kojipreview-');
after(cleanup);

function request(over: Partial<ImageBuildRequest> = {}): ImageBuildRequest {
  return {
    imageType: 'iot-installer', arch: 'x86_64', distro: 'fedora-42', repos: ['file:///nowhere'], outputDir: '/out', outputName: 'n',
    cacheDir: '/cache', buildroot: 'host', log: () => {}, signal: new AbortController().signal, ...over,
  };
}

function buildstampFinal(m: Manifest): unknown {
  const stamps = m.pipelines.flatMap((p) => p.stages).filter((s) => s.type === 'org.osbuild.buildstamp');
  assert.equal(stamps.length, 1);
  return (stamps[0]!.options as Record<string, unknown>).final;
}

describe('buildOptionsFor', () => {
  test('carries preview only when the task set it', () => {
    assert.equal(buildOptionsFor(request({ preview: true })).preview, true);
    assert.equal(buildOptionsFor(request({ preview: false })).preview, false);
    assert.ok(!('preview' in buildOptionsFor(request())));
  });
});

/** Generates the manifest the way KilnImageBuildRunner builds it, and "builds" nothing else. */
class ManifestRunner implements ImageBuildRunner {
  manifests: Manifest[] = [];
  private readonly real = new KilnImageBuildRunner();
  imageExtension(req: ImageBuildRequest): Promise<string> {
    return this.real.imageExtension(req);
  }
  async sideFileSuffixes(): Promise<string[]> {
    return ['osbuild-manifest.json'];
  }
  async build(req: ImageBuildRequest): Promise<ImageBuildOutput> {
    const { manifest } = await generateManifest(buildOptionsFor(req));
    this.manifests.push(manifest);
    const image = path.join(req.outputDir, `${req.outputName}.${await this.imageExtension(req)}`);
    fs.writeFileSync(image, 'not an image');
    const mf = path.join(req.outputDir, `${req.outputName}.osbuild-manifest.json`);
    fs.writeFileSync(mf, JSON.stringify(manifest));
    return { image, sideFiles: [mf], packages: [] };
  }
}

describe('opts.preview through a Koji task', () => {
  let repos: Record<string, string>;
  let ostreeUrl: string;
  before(async () => {
    repos = await demoRepoUrls();
    ostreeUrl = await ostreeRepoUrl(['fedora/42/x86_64/iot']);
  });

  test('iot-installer: opts.preview=true makes the buildstamp non-final; without it the definitions decide', async () => {
    const defined = resolveImageType(loadDefinitions(), 'fedora-42', 'iot-installer', 'x86_64').distro.preview;
    assert.equal(defined, false, 'fedora-42 is not a preview in the definitions');
    const runner = new ManifestRunner();
    const h = await startHarness(tmp(), runner);
    try {
      const base = { scratch: true, distro: 'fedora-42', seed: 3, repos: [repos.x86_64!.replace(/x86_64$/, '$arch')], ostree: { url: ostreeUrl, ref: 'fedora/42/$arch/iot' } };
      const withPreview = submit(h.dbl, ['x86_64'], { ...base, preview: true }, ['iot-installer']);
      assert.equal(await waitTask(h.dbl, withPreview), TASK_STATES.CLOSED, JSON.stringify(result(h.dbl, withPreview)));
      const without = submit(h.dbl, ['x86_64'], base, ['iot-installer']);
      assert.equal(await waitTask(h.dbl, without), TASK_STATES.CLOSED, JSON.stringify(result(h.dbl, without)));
      assert.equal(runner.manifests.length, 2);
      assert.equal(buildstampFinal(runner.manifests[0]!), !true, 'opts.preview=true');
      assert.equal(buildstampFinal(runner.manifests[1]!), !defined, 'no opts.preview');
    } finally {
      await h.stop();
    }
  });
});
