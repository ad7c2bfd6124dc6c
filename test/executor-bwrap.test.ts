// buildroot 'bwrap': stages of a pipeline with a build pipeline run inside that pipeline's tree.
// The build root here is assembled by a first pipeline from a few host binaries and the
// libraries ldd says they need (file:// sources), so the test needs no distribution packages.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import type { Manifest, Stage } from '../src/manifest/types.js';
import { runManifest } from '../src/executor/run.js';
import { registerStage } from '../src/executor/stages/index.js';
import { execFileSync } from 'node:child_process';
import { assertNoLeaks, collect, mkTmp, sha256, sh, tmpEntries } from './executor-helpers.js';

/** Host files (binary -> path in the build root) plus their shared libraries at the same paths. */
function rootFiles(bins: Record<string, string>): Record<string, string> {
  const files: Record<string, string> = {};
  for (const [host, inRoot] of Object.entries(bins)) {
    files[inRoot] = fs.realpathSync(host);
    for (const line of sh('ldd', [host]).split('\n')) {
      const m = /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(line);
      if (m) files[m[1]!] = fs.realpathSync(m[1]!);
    }
  }
  return files;
}

function buildRootManifest(extraPipelines: Manifest['pipelines']): Manifest {
  const files = rootFiles({ '/usr/bin/truncate': '/usr/bin/truncate', '/bin/dash': '/usr/bin/sh', '/sbin/mke2fs': '/usr/sbin/mkfs.ext4' });
  const items: Record<string, string> = {};
  const sumOf: Record<string, string> = {};
  for (const [inRoot, host] of Object.entries(files)) {
    const s = sha256(fs.readFileSync(host));
    items[s] = pathToFileURL(host).href;
    sumOf[inRoot] = s;
  }
  const dirs = [...new Set(Object.keys(files).map((f) => path.dirname(f)))];
  const stages: Stage[] = [
    { type: 'org.osbuild.mkdir', options: { paths: [...dirs.map((d) => ({ path: d, parents: true })), { path: '/etc' }] } },
    {
      type: 'org.osbuild.copy',
      inputs: { bin: { type: 'org.osbuild.files', origin: 'org.osbuild.source', references: [...new Set(Object.values(sumOf))] } },
      options: { paths: Object.entries(sumOf).map(([to, s]) => ({ from: `input://bin/${s}`, to: `tree://${to}` })) },
    },
    { type: 'org.osbuild.chmod', options: { items: Object.fromEntries(Object.keys(files).map((f) => [f, { mode: '0755' }])) } },
  ];
  return { version: '2', sources: { 'org.osbuild.curl': { items } }, pipelines: [{ name: 'build', stages }, ...extraPipelines] };
}

// test-only: copy host files (dereferenced) and directories into the tree, to make a build root
registerStage({
  type: 'kiln.test.host-copy',
  async run(ctx) {
    for (const p of ctx.options.paths as string[]) {
      fs.mkdirSync(path.dirname(path.join(ctx.tree, p)), { recursive: true });
      fs.cpSync(p, path.join(ctx.tree, p), { recursive: true, dereference: true });
    }
  },
});

function rpmSpec(name: string): string {
  return `Name: ${name}\nVersion: 2.0\nRelease: 3\nSummary: s\nLicense: MIT\nBuildArch: noarch\n%description\nd\n%install\nmkdir -p %{buildroot}/opt/${name}\necho ${name} > %{buildroot}/opt/${name}/f\n%files\n/opt/${name}/f\n`;
}

describe('executor: bubblewrap build root', () => {
  const dir = mkTmp('bwrap');
  const tmpBefore = tmpEntries(dir);
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("runs stage tools from the build pipeline's tree, with loop devices reachable", async () => {
    const m = buildRootManifest([
      {
        name: 'image',
        build: 'name:build',
        stages: [
          { type: 'org.osbuild.truncate', options: { filename: 'fs.img', size: '8M' } },
          { type: 'org.osbuild.mkfs.ext4', options: { uuid: 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee', label: 'inbwrap' }, devices: { device: { type: 'org.osbuild.loopback', options: { filename: 'fs.img' } } } },
        ],
      },
    ]);
    const store = path.join(dir, 'store');
    const out = path.join(dir, 'out');
    const ev = collect();
    await runManifest(m, { store, outputDir: out, exports: ['image'], buildroot: 'bwrap', handleSignals: false, onEvent: ev.on });
    const br = ev.of('buildroot');
    assert.equal(br.find((e) => e.pipeline === 'build')?.mode, 'host-first');
    assert.equal(br.find((e) => e.pipeline === 'image')?.mode, 'bwrap');
    const img = path.join(out, 'image', 'fs.img');
    assert.equal(fs.statSync(img).size, 8 * 1024 * 1024);
    const blk = sh('blkid', ['-p', '-o', 'export', img]);
    assert.match(blk, /^TYPE=ext4$/m);
    assert.match(blk, /^UUID=aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee$/m);
    assert.match(blk, /^LABEL=inbwrap$/m);
    assertNoLeaks(dir, store, tmpBefore);
  });

  it('a tool missing from the build root fails even though the host has it', async () => {
    const m = buildRootManifest([
      {
        name: 'image',
        build: 'name:build',
        stages: [
          { type: 'org.osbuild.truncate', options: { filename: 'fs.img', size: '8M' } },
          { type: 'org.osbuild.mkfs.fat', options: { volid: '1234ABCD' }, devices: { device: { type: 'org.osbuild.loopback', options: { filename: 'fs.img' } } } },
        ],
      },
    ]);
    assert.ok(sh('sh', ['-c', 'command -v mkfs.fat']).trim(), 'the host has mkfs.fat');
    const store = path.join(dir, 'store2');
    await assert.rejects(runManifest(m, { store, exports: [], buildroot: 'bwrap', handleSignals: false }), /pipeline "image", stage 2 \(org\.osbuild\.mkfs\.fat\): the build root cannot run "mkfs\.fat" \(No such file or directory\).*--buildroot host/s);
    // the same manifest in host mode uses the host's mkfs.fat
    await runManifest(m, { store: path.join(dir, 'store3'), exports: [], buildroot: 'host', handleSignals: false });
    assertNoLeaks(dir, store, tmpBefore);
    assertNoLeaks(dir, path.join(dir, 'store3'), tmpBefore);
  });

  it('the rpm stage runs the build root\'s rpm, with packages, tree and keys seen through the sandbox', async () => {
    const top = path.join(dir, 'rpmtop');
    const rpms: string[] = [];
    for (const n of ['bwone', 'bwtwo']) {
      fs.writeFileSync(path.join(dir, `${n}.spec`), rpmSpec(n));
      execFileSync('rpmbuild', ['-bb', '--define', `_topdir ${top}`, path.join(dir, `${n}.spec`)], { stdio: 'ignore' });
      rpms.push(path.join(top, 'RPMS/noarch', `${n}-2.0-3.noarch.rpm`));
    }
    // sign one package, and check it inside the sandbox with the key given to the stage
    const gnupg = path.join(dir, 'gnupg');
    fs.mkdirSync(gnupg, { mode: 0o700 });
    const genv = { ...process.env, GNUPGHOME: gnupg };
    execFileSync('gpg', ['--batch', '--passphrase', '', '--quick-gen-key', 'Kiln Bwrap <bw@example.org>', 'rsa2048', 'sign', 'never'], { env: genv, stdio: 'ignore' });
    const pubkey = execFileSync('gpg', ['--armor', '--export', 'bw@example.org'], { env: genv, encoding: 'utf8' });
    execFileSync('rpmsign', ['--define', '__gpg /usr/bin/gpg', '--define', `_gpg_path ${gnupg}`, '--define', '_gpg_name bw@example.org', '--addsign', rpms[1]!], { env: genv, stdio: 'ignore' });
    execFileSync('gpgconf', ['--kill', 'gpg-agent'], { env: genv, stdio: 'ignore' });
    const bins = ['/usr/bin/rpm', '/usr/bin/rpmkeys'];
    const libs = new Set<string>();
    for (const b of bins) for (const line of sh('ldd', [b]).split('\n')) {
      const m = /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(line);
      if (m) libs.add(m[1]!);
    }
    const items: Record<string, string> = {};
    for (const r of rpms) items[sha256(fs.readFileSync(r))] = pathToFileURL(r).href;
    const m: Manifest = {
      version: '2',
      sources: { 'org.osbuild.curl': { items } },
      pipelines: [
        { name: 'build', stages: [{ type: 'kiln.test.host-copy', options: { paths: [...bins, ...libs, '/usr/lib/rpm', '/etc/rpm'].filter((p) => fs.existsSync(p)) } }] },
        {
          name: 'os',
          build: 'name:build',
          stages: [
            {
              type: 'org.osbuild.rpm',
              options: { exclude: { docs: true }, gpgkeys: [pubkey] },
              inputs: { packages: { type: 'org.osbuild.files', origin: 'org.osbuild.source', references: Object.fromEntries(Object.keys(items).map((k, i) => [k, i === 1 ? { metadata: { 'rpm.check_gpg': true } } : {}])) } },
            },
          ],
        },
      ],
    };
    const store = path.join(dir, 'store-rpm');
    const out = path.join(dir, 'out-rpm');
    const ev = collect();
    const r = await runManifest(m, { store, outputDir: out, exports: ['os'], buildroot: 'bwrap', handleSignals: false, onEvent: ev.on });
    assert.equal(ev.of('buildroot').find((e) => e.pipeline === 'os')?.mode, 'bwrap');
    assert.deepEqual(sh('rpm', ['--root', path.join(out, 'os'), '--dbpath', '/usr/lib/sysimage/rpm', '-qa']).trim().split('\n').filter((l) => !l.startsWith('gpg-pubkey')).sort(), ['bwone-2.0-3.noarch', 'bwtwo-2.0-3.noarch']);
    assert.equal(fs.readFileSync(path.join(out, 'os/opt/bwtwo/f'), 'utf8'), 'bwtwo\n');
    assert.match(sh('rpm', ['--root', path.join(out, 'os'), '--dbpath', '/usr/lib/sysimage/rpm', '-q', 'gpg-pubkey', '--qf', '%{SUMMARY}']), /Kiln Bwrap/);
    assert.deepEqual((r.pipelines.os!.stages[0]!.metadata as { packages: { name: string }[] }).packages.map((p) => p.name).sort(), ['bwone', 'bwtwo']);
    // without the key, the signature check inside the sandbox refuses the signed package
    const noKey = JSON.parse(JSON.stringify(m)) as Manifest;
    delete (noKey.pipelines[1]!.stages[0]!.options as Record<string, unknown>).gpgkeys;
    const ev2 = collect();
    await assert.rejects(runManifest(noKey, { store, exports: [], buildroot: 'bwrap', handleSignals: false, onEvent: ev2.on }), /package bwtwo-2\.0-3\.noarch \(sha256:[0-9a-f]+\) failed GPG signature verification/);
    assert.deepEqual(ev2.of('pipeline-skip').map((e) => e.pipeline), ['build'], 'the build root came from the cache');
    assertNoLeaks(dir, store, tmpBefore);
  });
});
