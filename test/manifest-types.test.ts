// Every image type, both arches, two Fedora releases, with and without a blueprint: the manifest
// Kiln generates against the built-in demo repository must validate against osbuild's own JSON
// schemas, have the pipelines the upstream reference lists, and be byte-identical for a fixed seed.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatManifest, generateManifest, manifestDefinitions } from '../src/build/manifest.js';
import type { Blueprint, Customizations } from '../src/blueprint/types.js';
import { loadDefinitions, resolveImageType } from '../src/defs/index.js';
import type { Manifest, Stage } from '../src/manifest/types.js';
import { validateManifest } from '../src/manifest/validate.js';
import { demoRepoUrls, ostreeRepoUrl } from './helpers/demo.js';

// Pipeline names per image type as upstream-image-builder.md §5 records them. Installer types may
// carry extra bootloader trees, so those are checked as an ordered subsequence.
const PIPELINES: Record<string, { exact?: string[]; subsequence?: string[] }> = {
  'minimal-raw-xz': { exact: ['build', 'os', 'image', 'xz'] },
  'minimal-raw-zst': { exact: ['build', 'os', 'image', 'zstd'] },
  'generic-qcow2': { exact: ['build', 'os', 'image', 'qcow2'] },
  'generic-container': { subsequence: ['build', 'os', 'container'] },
  'iot-commit': { exact: ['build', 'os', 'ostree-commit', 'commit-archive'] },
  'iot-container': { exact: ['build', 'os', 'ostree-commit', 'container-tree', 'container'] },
  'iot-raw-xz': { exact: ['build', 'ostree-deployment', 'image', 'xz'] },
  'iot-qcow2': { exact: ['build', 'ostree-deployment', 'image', 'qcow2'] },
  'iot-installer': { subsequence: ['build', 'anaconda-tree', 'efiboot-tree', 'bootiso-tree', 'bootiso'] },
  'iot-simplified-installer': { subsequence: ['build', 'ostree-deployment', 'image', 'xz', 'efiboot-tree', 'bootiso-tree', 'bootiso'] },
  'iot-bootable-container': { subsequence: ['build', 'os', 'ostree-commit', 'ostree-encapsulate'] },
};

const DISTROS = ['fedora-42', 'fedora-43'];
const ARCHES = ['x86_64', 'aarch64'];

const FULL: Blueprint = {
  name: 'kiln-test',
  packages: [{ name: 'tmux' }],
  modules: [],
  groups: [],
  customizations: {
    hostname: 'kiln-host',
    kernel: { append: 'kiln.test=1' },
    user: [{ name: 'builder', password: '$6$salt$hash', key: 'ssh-ed25519 AAAA kiln@test', groups: ['wheel'], uid: 1042 }],
    group: [{ name: 'builders', gid: 1100 }],
    timezone: { timezone: 'Europe/Prague' },
    locale: { languages: ['en_GB.UTF-8'], keyboard: 'uk' },
    services: { enabled: ['chronyd.service'], disabled: ['sshd.service'] },
    files: [{ path: '/etc/kiln-test.conf', data: 'hello\n', mode: '0644' }],
    directories: [{ path: '/var/lib/kiln-test', mode: '0755' }],
    filesystem: [{ mountpoint: '/', minsize: 4 * 1024 ** 3 }],
    installation_device: '/dev/vda',
    fdo: { manufacturing_server_url: 'http://127.0.0.1:8080', diun_pub_key_insecure: 'true' },
  },
};

/** The full blueprint cut down to what the image type says it supports. */
function blueprintFor(supported: string[]): Blueprint {
  const allowed = (path: string) => supported.some((s) => path === s || path.startsWith(s + '.'));
  const c: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(FULL.customizations)) if (allowed(`customizations.${k}`)) c[k] = v;
  return {
    ...FULL,
    packages: allowed('packages') ? FULL.packages : [],
    customizations: c as Customizations,
  };
}

function names(m: Manifest): string[] {
  return m.pipelines.map((p) => p.name);
}

function isSubsequence(needle: string[], hay: string[]): boolean {
  let i = 0;
  for (const h of hay) if (h === needle[i]) i++;
  return i === needle.length;
}

function allStages(m: Manifest): Stage[] {
  return m.pipelines.flatMap((p) => p.stages);
}

let repos: Record<string, string>;
let ostreeUrl: string;
const cache = mkdtempSync(join(tmpdir(), 'kiln-rpmmd-'));

before(async () => {
  repos = await demoRepoUrls();
  const refs: string[] = [];
  for (const arch of ARCHES) for (const v of ['42', '43']) refs.push(`fedora/${v}/${arch}/iot`);
  ostreeUrl = await ostreeRepoUrl(refs);
});
after(() => rmSync(cache, { recursive: true, force: true }));

const defs = loadDefinitions();

for (const distro of DISTROS) {
  for (const arch of ARCHES) {
    describe(`${distro} ${arch}`, () => {
      for (const type of Object.keys(PIPELINES)) {
        for (const withBlueprint of [false, true]) {
          test(`${type}${withBlueprint ? ' with blueprint' : ''}`, async () => {
            const resolved = resolveImageType(defs, distro, type, arch);
            const blueprint = withBlueprint ? blueprintFor(resolved.blueprint.supported_options) : undefined;
            if (!withBlueprint && resolved.blueprint.required_options.length > 0) {
              // types that require options (installation_device) get a minimal blueprint
              const bp = blueprintFor(resolved.blueprint.required_options);
              return check(type, distro, arch, bp, false);
            }
            return check(type, distro, arch, blueprint, withBlueprint);
          });
        }
      }
    });
  }
}

async function check(type: string, distro: string, arch: string, blueprint: Blueprint | undefined, full: boolean) {
  const opts = {
    imageType: type,
    distro,
    arch,
    blueprint,
    forceRepos: [repos[arch]],
    seed: 42n,
    ostree: { url: ostreeUrl },
    rpmmdCache: cache,
  };
  const { manifest } = await generateManifest(opts);
  const errors = validateManifest(manifest);
  assert.deepEqual(errors, [], `schema errors for ${type}:\n${errors.join('\n')}`);

  const want = PIPELINES[type];
  if (want.exact) assert.deepEqual(names(manifest), want.exact);
  if (want.subsequence) assert.ok(isSubsequence(want.subsequence, names(manifest)), `pipelines ${names(manifest).join(',')} lack ${want.subsequence.join(',')}`);

  // build pipeline first, carrying the runner; everything else builds in it
  assert.equal(manifest.pipelines[0].name, 'build');
  assert.match(manifest.pipelines[0].runner ?? '', /^org\.osbuild\.fedora\d+$/);
  for (const p of manifest.pipelines.slice(1)) assert.equal(p.build, 'name:build', `${p.name} build`);

  // every package a stage consumes is a source item, and every rpm source item is consumed
  const sourceIds = new Set(Object.values(manifest.sources).flatMap((s) => Object.keys(s.items)));
  for (const st of allStages(manifest)) {
    for (const input of Object.values(st.inputs ?? {})) {
      if (input.origin !== 'org.osbuild.source') continue;
      const refs = Array.isArray(input.references)
        ? input.references.map((r) => (typeof r === 'string' ? r : r.id))
        : Object.keys(input.references);
      for (const r of refs) assert.ok(sourceIds.has(r), `${st.type} references ${r} which no source provides`);
    }
  }

  // the ostree deployment types deploy the commit resolved from our real ostree repository
  if (['iot-raw-xz', 'iot-qcow2', 'iot-installer', 'iot-simplified-installer'].includes(type)) {
    assert.ok(manifest.sources['org.osbuild.ostree'], 'ostree source present');
    const [checksum] = Object.keys(manifest.sources['org.osbuild.ostree'].items);
    assert.match(checksum, /^[0-9a-f]{64}$/);
  }

  if (full && type === 'minimal-raw-xz') {
    const os = manifest.pipelines.find((p) => p.name === 'os')!;
    const hostname = os.stages.find((s) => s.type === 'org.osbuild.hostname');
    assert.equal(hostname?.options?.hostname, 'kiln-host');
  }

  // generic-qcow2 supports every customization: each must reach its stage
  if (full && type === 'generic-qcow2') {
    const os = manifest.pipelines.find((p) => p.name === 'os')!;
    const hostname = os.stages.find((s) => s.type === 'org.osbuild.hostname');
    assert.equal(hostname?.options?.hostname, 'kiln-host');
    const users = os.stages.find((s) => s.type === 'org.osbuild.users');
    assert.ok(users && JSON.stringify(users.options).includes('builder'), 'blueprint user in users stage');
    const tz = os.stages.find((s) => s.type === 'org.osbuild.timezone');
    assert.equal(tz?.options?.zone, 'Europe/Prague');
    const cmdline = JSON.stringify(os.stages.filter((s) => s.type === 'org.osbuild.kernel-cmdline' || s.type === 'org.osbuild.grub2').map((s) => s.options));
    assert.ok(cmdline.includes('kiln.test=1'), 'kernel append reaches the boot config');
    // the root filesystem grew to the blueprint's 4 GiB minimum
    const sfdisk = manifest.pipelines.find((p) => p.name === 'image')!.stages.find((s) => s.type === 'org.osbuild.sfdisk')!;
    const parts = (sfdisk.options as { partitions: { size: number }[] }).partitions;
    assert.ok(Math.max(...parts.map((p) => p.size)) * 512 >= 4 * 1024 ** 3, 'root partition >= 4 GiB');
    // the blueprint package is installed from the demo repository
    const rpmInputs = JSON.stringify(os.stages.filter((s) => s.type === 'org.osbuild.rpm').map((s) => s.inputs));
    const items = manifest.sources['org.osbuild.librepo']?.items as Record<string, { path: string }>;
    const tmux = Object.entries(items).find(([, v]) => v.path.includes('/tmux-'));
    assert.ok(tmux && rpmInputs.includes(tmux[0]), 'blueprint package tmux is in an rpm stage');
  }

  // same inputs and seed => byte-identical manifest
  const again = await generateManifest(opts);
  assert.equal(formatManifest(again.manifest), formatManifest(manifest));
}

test('a different seed changes the UUIDs of a disk image', async () => {
  const base = { imageType: 'minimal-raw-xz', distro: 'fedora-42', arch: 'x86_64', forceRepos: [repos.x86_64], rpmmdCache: cache };
  const a = await generateManifest({ ...base, seed: 1n });
  const b = await generateManifest({ ...base, seed: 2n });
  const sfdisk = (m: Manifest) => allStages(m).find((s) => s.type === 'org.osbuild.sfdisk')!.options;
  assert.notEqual(JSON.stringify(sfdisk(a.manifest)), JSON.stringify(sfdisk(b.manifest)));
});

test('manifest metadata records the definitions path and hash', async () => {
  const { manifest } = await generateManifest({ imageType: 'minimal-raw', distro: 'fedora-42', arch: 'x86_64', forceRepos: [repos.x86_64], seed: 7n, rpmmdCache: cache });
  const meta = manifestDefinitions(manifest);
  assert.equal(meta?.sha256, defs.sha256);
  assert.equal(meta?.path, defs.path);
  assert.deepEqual((manifest.metadata as { exports: unknown }).exports, [{ name: 'xz' }], 'alias minimal-raw exports xz like minimal-raw-xz');
});
