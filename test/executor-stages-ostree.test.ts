// ostree stages end to end with the real ostree CLI: an OS tree is prepared (preptree), committed
// (init + commit), then deployed into a sysroot (init-fs, os-init, pull, deploy, remotes, fillvar,
// config, selinux) and everything is checked with ostree itself (log, ls, cat, admin status) and
// by reading the files ostree wrote.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Manifest, Pipeline, Stage } from '../src/manifest/types.js';
import { runManifest, type RunReport } from '../src/executor/run.js';
import { registerStage } from '../src/executor/stages/index.js';
import { OSTREE_STAGES } from '../src/executor/stages/registry-ostree.js';
import { assertNoLeaks, collect, mkTmp, tmpEntries } from './executor-helpers.js';
import { ostreeCommitGenerator, ostreeContainerGenerator } from '../src/manifest/generators/ostree-commit.js';
import { ostreeDiskGenerator } from '../src/manifest/generators/ostree-disk.js';
import { ostreeInstallerGenerator } from '../src/manifest/generators/ostree-installer.js';
import { bootableContainerGenerator } from '../src/manifest/generators/bootable-container.js';
import type { ImageGenerator } from '../src/manifest/types.js';
import type { ResolvedImageType } from '../src/defs/types.js';
import * as F from './manifest-ostree-fixtures.js';
import { installFakeDracut, installShell } from './executor-stages-ostree-helpers.js';

for (const s of OSTREE_STAGES) registerStage(s);
// the system temp dir, before the first suite points TMPDIR at its own private directory
const BASE_TMP = os.tmpdir();

const hasSetfiles = (process.env.PATH ?? '').split(':').some((d) => fs.existsSync(path.join(d, 'setfiles')));

/** The SELinux label stored on a file (the system python3 has os.getxattr; getfattr may be missing). */
function label(p: string): string {
  return execFileSync('/usr/bin/python3', ['-c', 'import os,sys; print(os.getxattr(sys.argv[1], "security.selinux", follow_symlinks=False).decode().rstrip("\\0"))', p], { encoding: 'utf8' }).trim();
}

function ostree(...args: string[]): string {
  return execFileSync('ostree', args, { encoding: 'utf8' }).trim();
}

const KVER = '6.1.0-kiln.x86_64';
const REF = 'kiln/x86_64/iot';

// test-only stage: a small installed OS as the rpm stage would leave it
registerStage({
  type: 'kiln.test.os-tree',
  async run(ctx) {
    const t = ctx.tree;
    const w = (p: string, data: string, mode?: number): void => {
      fs.mkdirSync(path.dirname(path.join(t, p)), { recursive: true });
      fs.writeFileSync(path.join(t, p), data);
      if (mode !== undefined) fs.chmodSync(path.join(t, p), mode);
    };
    w('usr/bin/hello', '#!/bin/sh\necho hello\n', 0o755);
    w('usr/lib/os-release', 'ID=kiln\nVERSION_ID=42\n');
    w('etc/os-release', 'ID=kiln\n');
    w('etc/passwd', 'root:x:0:0:root:/root:/bin/bash\nbin:x:1:1:bin:/bin:/sbin/nologin\ncore:x:1000:1000::/var/home/core:/bin/bash\n');
    w('etc/group', 'root:x:0:\nwheel:x:10:core\nbin:x:1:\ncore:x:1000:\n');
    w('etc/machine-id', '');
    w('etc/nsswitch.conf', 'passwd:     files systemd\ngroup:      files systemd\nhosts:      files dns\n');
    w('etc/selinux/config', 'SELINUX=enforcing\nSELINUXTYPE=targeted\n');
    w('etc/selinux/targeted/contexts/files/file_contexts', '/.* system_u:object_r:default_t:s0\n');
    w('etc/selinux/targeted/policy/policy.33', 'not a real policy');
    w(`boot/vmlinuz-${KVER}`, 'not really a kernel\n');
    w(`boot/initramfs-${KVER}.img`, 'not really an initramfs\n');
    w(`usr/lib/modules/${KVER}/modules.dep`, '');
    w(`boot/System.map-${KVER}`, 'symbols');
    w('boot/loader/entries/kernel-install.conf', 'title x\n');
    w('boot/efi/EFI/kiln/shimx64.efi', 'shim');
    fs.mkdirSync(path.join(t, 'var/lib/alternatives'), { recursive: true });
    fs.symlinkSync('/usr/bin/vim', path.join(t, 'var/lib/alternatives/editor'));
    w('usr/local/bin/tool', 'tool\n', 0o755);
    w('home/core/.bashrc', '# rc\n');
    w('var/lib/rpm/rpmdb.sqlite', 'db');
    w('var/log/install.log', 'dropped\n');
    fs.mkdirSync(path.join(t, 'var/lib/kiln'), { recursive: true, mode: 0o750 });
    fs.chmodSync(path.join(t, 'var/lib/kiln'), 0o750);
    fs.symlinkSync('../run/lock', path.join(t, 'var/lock'));
    // declared by a package's tmpfiles.d already: must not be repeated in the autovar file
    w('usr/lib/tmpfiles.d/var.conf', 'd /var/log 0755 - - -\n');
    for (const l of ['bin', 'sbin', 'lib', 'lib64']) fs.symlinkSync(`usr/${l}`, path.join(t, l));
    fs.mkdirSync(path.join(t, 'root'), { recursive: true });
    fs.writeFileSync(path.join(t, 'root/.profile'), 'not kept\n');
  },
});

const deployment = { osname: 'kiln', ref: REF };
const depMount = { name: 'ostree-dep', type: 'org.osbuild.ostree.deployment', options: { deployment: { ...deployment, serial: 0 } } };
const commitInput = { type: 'org.osbuild.ostree', origin: 'org.osbuild.pipeline', references: { 'name:commit': { ref: REF } } } as const;

function manifest(deployStages: Stage[] = []): Manifest {
  const pipelines: Pipeline[] = [
    { name: 'os', 'source-epoch': 1700000000, stages: [{ type: 'kiln.test.os-tree' }, { type: 'org.osbuild.ostree.preptree', options: { etc_group_members: ['wheel'] } }] },
    {
      name: 'commit',
      'source-epoch': 1700000000,
      stages: [
        { type: 'org.osbuild.ostree.init', options: { path: '/repo' } },
        { type: 'org.osbuild.ostree.commit', options: { ref: REF, os_version: '42' }, inputs: { tree: { type: 'org.osbuild.tree', origin: 'org.osbuild.pipeline', references: ['name:os'] } } },
      ],
    },
  ];
  if (deployStages.length) pipelines.push({ name: 'deploy', stages: deployStages });
  return { version: '2', sources: {}, pipelines } as Manifest;
}

describe('executor: ostree stages', () => {
  const dir = mkTmp('ostree-stages');
  const tmpBefore = tmpEntries(dir);
  let out = '';
  let report: RunReport;
  let commit = '';
  const ev = collect();

  before(async () => {
    out = path.join(dir, 'out');
    const store = path.join(dir, 'store');
    report = await runManifest(
      manifest([
        { type: 'org.osbuild.ostree.init-fs' },
        { type: 'org.osbuild.ostree.os-init', options: { osname: 'kiln' } },
        { type: 'org.osbuild.mkdir', options: { paths: [{ path: '/boot/efi', mode: 0o700 }] } },
        { type: 'org.osbuild.ostree.pull', options: { repo: '/ostree/repo', remote: 'kiln' }, inputs: { commits: commitInput } },
        {
          type: 'org.osbuild.ostree.deploy',
          options: { osname: 'kiln', ref: REF, remote: 'kiln', mounts: ['/boot', '/boot/efi'], rootfs: { label: 'root' }, kernel_opts: ['rw', 'console=ttyS0'] },
          inputs: { commits: commitInput },
        },
        { type: 'org.osbuild.ostree.remotes', options: { repo: '/ostree/repo', remotes: [{ name: 'kiln', url: 'https://ostree.example.com/repo' }, { name: 'signed', url: 'https://ostree.example.com/signed', branches: ['kiln/x86_64/iot'], gpgkeypaths: ['/etc/pki/rpm-gpg/'] }] } },
        { type: 'org.osbuild.ostree.fillvar', options: { deployment } },
        { type: 'org.osbuild.ostree.config', options: { repo: '/ostree/repo', config: { sysroot: { readonly: true, bootloader: 'none' } } }, mounts: [depMount] },
        { type: 'org.osbuild.ostree.selinux', options: { deployment } },
      ]),
      { store, outputDir: out, exports: ['os', 'commit', 'deploy'], buildroot: 'host', handleSignals: false, onEvent: ev.on, settings: { selinuxWithoutTools: 'warn' } },
    );
    commit = ostree(`--repo=${path.join(out, 'commit/repo')}`, 'rev-parse', REF);
    assertNoLeaks(dir, store, tmpBefore);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('preptree: ostree layout, /etc in /usr/etc, kernel in /usr/lib/modules, users split, /var as tmpfiles', () => {
    const t = path.join(out, 'os');
    assert.equal(fs.existsSync(path.join(t, 'etc')), false);
    assert.equal(fs.readFileSync(path.join(t, 'usr/etc/os-release'), 'utf8'), 'ID=kiln\n');
    for (const [l, target] of [['home', 'var/home'], ['ostree', 'sysroot/ostree'], ['root', 'var/roothome'], ['opt', 'var/opt'], ['bin', 'usr/bin'], ['usr/local', '../var/usrlocal']]) {
      assert.equal(fs.readlinkSync(path.join(t, l!)), target, l);
    }
    for (const d of ['dev', 'proc', 'run', 'sys', 'sysroot', 'var', 'tmp', 'boot']) assert.ok(fs.statSync(path.join(t, d)).isDirectory(), d);
    assert.equal(fs.statSync(path.join(t, 'tmp')).mode & 0o7777, 0o1777);
    assert.deepEqual(fs.readdirSync(path.join(t, 'var')), [], '/var is emptied');
    assert.deepEqual(fs.readdirSync(path.join(t, 'boot')), [], 'kernel moved out of /boot, the rest to /usr/lib/ostree-boot');
    assert.equal(fs.readFileSync(path.join(t, 'usr/lib/ostree-boot/efi/EFI/kiln/shimx64.efi'), 'utf8'), 'shim');
    assert.deepEqual(fs.readdirSync(path.join(t, 'usr/lib/ostree-boot')), ['efi'], 'BLS entries and System.map dropped');
    assert.equal(fs.readlinkSync(path.join(t, 'usr/lib/alternatives/editor')), '/usr/bin/vim');
    assert.equal(fs.readFileSync(path.join(t, `usr/lib/modules/${KVER}/vmlinuz`), 'utf8'), 'not really a kernel\n');
    assert.equal(fs.readFileSync(path.join(t, `usr/lib/modules/${KVER}/initramfs.img`), 'utf8'), 'not really an initramfs\n');
    assert.equal(fs.readFileSync(path.join(t, 'usr/share/rpm/rpmdb.sqlite'), 'utf8'), 'db');
    assert.equal(fs.readFileSync(path.join(t, 'usr/etc/passwd'), 'utf8'), 'root:x:0:0:root:/root:/bin/bash\n');
    assert.match(fs.readFileSync(path.join(t, 'usr/lib/passwd'), 'utf8'), /^bin:x:1:1:.*\ncore:x:1000:1000:/);
    assert.equal(fs.readFileSync(path.join(t, 'usr/etc/group'), 'utf8'), 'root:x:0:\nwheel:x:10:core\n');
    assert.equal(fs.readFileSync(path.join(t, 'usr/lib/group'), 'utf8'), 'bin:x:1:\ncore:x:1000:\n');
    assert.match(fs.readFileSync(path.join(t, 'usr/etc/nsswitch.conf'), 'utf8'), /^passwd:\s+files altfiles systemd$/m);
    assert.equal(fs.readFileSync(path.join(t, 'usr/etc/machine-id'), 'utf8'), '');
    const autovar = fs.readFileSync(path.join(t, 'usr/lib/tmpfiles.d/rpm-ostree-1-autovar.conf'), 'utf8').split('\n');
    assert.ok(autovar.includes('d /var/lib/kiln 0750 root root - -'), autovar.join('\n'));
    assert.ok(autovar.includes('d /var/home/core 0755 root root - -'));
    assert.ok(autovar.includes('d /var/usrlocal/bin 0755 root root - -'));
    assert.ok(autovar.includes('L /var/lock - - - - ../run/lock'));
    assert.ok(autovar.includes('L /var/lib/rpm - - - - ../../usr/share/rpm'));
    assert.ok(autovar.includes('L /var/lib/alternatives - - - - ../../usr/lib/alternatives'));
    assert.ok(!autovar.some((l) => / \/var\/log /.test(l)), '/var/log is declared by another tmpfiles.d file');
    const meta = report.pipelines.os!.stages[1]!.metadata as Record<string, unknown>;
    // plain files cannot be tmpfiles lines: dropped, and said so
    assert.deepEqual(meta['var-files-dropped'], ['/var/home/core/.bashrc', '/var/log/install.log', '/var/usrlocal/bin/tool']);
    assert.deepEqual(meta.kernels, [KVER]);
    assert.deepEqual(meta['not-carried'], ['/root']);
  });

  it('commit: ostree log/ls/cat see the commit under its ref with version metadata; compose.json names it', () => {
    const repo = `--repo=${path.join(out, 'commit/repo')}`;
    assert.match(commit, /^[0-9a-f]{64}$/);
    const compose = JSON.parse(fs.readFileSync(path.join(out, 'commit/compose.json'), 'utf8')) as Record<string, string>;
    assert.equal(compose['ostree-commit'], commit);
    assert.equal(compose.ref, REF);
    assert.equal(compose['ostree-version'], '42');
    assert.match(ostree(repo, 'log', REF), new RegExp(`^commit ${commit}`));
    assert.equal(ostree(repo, 'show', '--print-metadata-key=version', commit), "'42'");
    assert.equal(ostree(repo, 'show', '--print-metadata-key=ostree.bootable', commit), 'true');
    // bound to its ref, as rpm-ostree's commits are (pulls by another ref are refused)
    assert.equal(ostree(repo, 'show', '--print-metadata-key=ostree.ref-binding', commit), `['${REF}']`);
    assert.equal(ostree(repo, 'show', '--print-metadata-key=rpmostree.inputhash', commit), `'${report.pipelines.commit!.stages[1]!.id}'`);
    // the commit timestamp follows the pipeline's source-epoch
    assert.equal(compose['ostree-timestamp'], new Date(1700000000 * 1000).toISOString().replace('.000Z', 'Z'));
    const ls = ostree(repo, 'ls', '-R', commit, '/usr');
    assert.match(ls, /\/usr\/bin\/hello$/m);
    assert.match(ls, new RegExp(`/usr/lib/modules/${KVER.replace(/\./g, '\\.')}/vmlinuz$`, 'm'));
    assert.equal(ostree(repo, 'cat', commit, '/usr/etc/group'), 'root:x:0:\nwheel:x:10:core');
    assert.match(ostree(repo, 'config', 'get', 'core.mode'), /^archive/);
  });

  it('deploy: a deployment of the commit with its origin, BLS entry, and ostree admin status', () => {
    const t = path.join(out, 'deploy');
    const sysroot = `--sysroot=${t}`;
    const dep = path.join(t, 'ostree/deploy/kiln/deploy', `${commit}.0`);
    assert.ok(fs.existsSync(path.join(dep, 'usr/bin/hello')));
    // not immutable: the store can delete it
    assert.doesNotMatch(execFileSync('lsattr', ['-d', dep], { encoding: 'utf8' }).split(' ')[0]!, /i/);
    // ostree merged /usr/etc into the deployment's /etc
    assert.equal(fs.readFileSync(path.join(dep, 'etc/os-release'), 'utf8'), 'ID=kiln\n');
    assert.match(fs.readFileSync(`${dep}.origin`, 'utf8'), new RegExp(`^refspec=kiln:${REF}$`, 'm'));
    const status = execFileSync('ostree', ['admin', 'status', sysroot], { encoding: 'utf8' });
    assert.match(status, new RegExp(`kiln ${commit}\\.0`));
    assert.equal(ostree(`--repo=${path.join(t, 'ostree/repo')}`, 'rev-parse', `kiln:${REF}`), commit);
    const entries = fs.readdirSync(path.join(t, 'boot/loader/entries'));
    assert.equal(entries.length, 1);
    const bls = fs.readFileSync(path.join(t, 'boot/loader/entries', entries[0]!), 'utf8');
    const options = /^options (.*)$/m.exec(bls)?.[1]?.split(' ') ?? [];
    for (const k of ['rw', 'console=ttyS0', 'root=LABEL=root']) assert.ok(options.includes(k), `${k} in ${options.join(' ')}`);
    assert.ok(options.some((o) => o.startsWith('ostree=/ostree/boot.')));
    // /boot was a mount point while ostree ran: paths in the entry are relative to the boot fs
    const linux = /^linux (.*)$/m.exec(bls)?.[1] ?? '';
    assert.match(linux, new RegExp(`^/ostree/kiln-[0-9a-f]{64}/vmlinuz-${KVER.replace(/\./g, '\\.')}$`));
    assert.equal(fs.readFileSync(path.join(t, 'boot', linux), 'utf8'), 'not really a kernel\n');
    assert.match(fs.readFileSync(path.join(t, 'boot', /^initrd (.*)$/m.exec(bls)![1]!), 'utf8'), /initramfs/);
  });

  it('remotes, fillvar, config and selinux act on the sysroot', () => {
    const t = path.join(out, 'deploy');
    const repo = `--repo=${path.join(t, 'ostree/repo')}`;
    assert.equal(ostree(repo, 'remote', 'show-url', 'kiln'), 'https://ostree.example.com/repo');
    assert.equal(ostree(repo, 'config', 'get', 'remote "kiln".gpg-verify'), 'false');
    assert.equal(ostree(repo, 'config', 'get', 'remote "signed".gpgkeypath'), '/etc/pki/rpm-gpg/');
    assert.equal(ostree(repo, 'config', 'get', 'remote "signed".gpg-verify'), 'true');
    assert.equal(ostree(repo, 'config', 'get', 'remote "signed".branches'), 'kiln/x86_64/iot;');
    assert.equal(ostree(repo, 'config', 'get', 'sysroot.readonly'), 'true');
    assert.equal(ostree(repo, 'config', 'get', 'sysroot.bootloader'), 'none');
    const v = path.join(t, 'ostree/deploy/kiln/var');
    for (const d of ['lib', 'log', 'usrlocal/bin', 'home']) assert.ok(fs.statSync(path.join(v, d)).isDirectory(), d);
    assert.equal(fs.readlinkSync(path.join(v, 'lib/rpm')), '../../usr/share/rpm');
    // not under a fillvar prefix: left to systemd-tmpfiles on first boot
    assert.equal(fs.existsSync(path.join(v, 'lib/kiln')), false);
    const se = report.pipelines.deploy!.stages.find((s) => s.type === 'org.osbuild.ostree.selinux')!;
    if (hasSetfiles) {
      // labelled from the deployment's own file_contexts (everything default_t in the test policy)
      const dep = path.join(t, 'ostree/deploy/kiln/deploy', `${commit}.0`);
      for (const p of [path.join(dep, 'etc/os-release'), path.join(t, 'boot/loader/entries'), path.join(v, 'usrlocal')]) assert.equal(label(p), 'system_u:object_r:default_t:s0', p);
      assert.equal(se.metadata, undefined);
    } else {
      assert.deepEqual(se.metadata, { selinux: 'unlabeled', reason: 'setfiles not found' });
      assert.ok(ev.of('log').some((e) => /WARNING: .*ostree\.selinux.*UNLABELED/.test(e.message)));
    }
  });

  it('passwd: users and groups of a parent commit, /usr/etc winning over /usr/lib', async () => {
    const store = path.join(dir, 'store-passwd');
    const o2 = path.join(dir, 'out-passwd');
    const src = 'file://' + path.join(out, 'commit/repo');
    const m: Manifest = {
      version: '2',
      sources: { 'org.osbuild.ostree': { items: { [commit]: { remote: { url: src } } } } },
      pipelines: [
        {
          name: 'p',
          stages: [
            { type: 'org.osbuild.ostree.passwd', options: {}, inputs: { commits: { type: 'org.osbuild.ostree', origin: 'org.osbuild.source', references: { [commit]: { ref: REF } } } } },
            { type: 'org.osbuild.mkdir', options: { paths: [{ path: '/co' }] } },
            { type: 'org.osbuild.ostree.passwd', options: {}, inputs: { commits: { type: 'org.osbuild.ostree.checkout', origin: 'org.osbuild.source', references: [commit] } } },
          ],
        },
      ],
    } as Manifest;
    await runManifest(m, { store, outputDir: o2, exports: ['p'], buildroot: 'host', handleSignals: false });
    const p = fs.readFileSync(path.join(o2, 'p/etc/passwd'), 'utf8');
    assert.equal(p, 'root:x:0:0:root:/root:/bin/bash\nbin:x:1:1:bin:/bin:/sbin/nologin\ncore:x:1000:1000::/var/home/core:/bin/bash\n');
    assert.equal(fs.readFileSync(path.join(o2, 'p/etc/group'), 'utf8'), 'root:x:0:\nwheel:x:10:core\nbin:x:1:\ncore:x:1000:\n');
  });

  it('a second build finds the commit pipeline in the store (same stage ids)', async () => {
    const r = await runManifest(manifest(), { store: path.join(dir, 'store'), exports: [], buildroot: 'host', handleSignals: false });
    assert.equal(r.pipelines.commit!.status, 'cached');
  });
});

// a kernel without initramfs, with or without the tree's own (fake) dracut
registerStage({
  type: 'kiln.test.kernel-tree',
  async run(ctx) {
    const t = ctx.tree;
    fs.mkdirSync(path.join(t, 'etc'), { recursive: true });
    fs.writeFileSync(path.join(t, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/bash\n');
    fs.mkdirSync(path.join(t, `usr/lib/modules/${KVER}`), { recursive: true });
    fs.writeFileSync(path.join(t, `usr/lib/modules/${KVER}/vmlinuz`), 'kernel');
    if (ctx.options.dracut) {
      installShell(t);
      installFakeDracut(t);
    }
  },
});

describe('executor: ostree.preptree initramfs', () => {
  let dir = '';
  before(() => {
    dir = fs.mkdtempSync(`${BASE_TMP}/kiln-exec-preptree-`);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  async function prep(dracut: boolean): Promise<{ tree: string; meta: Record<string, unknown> }> {
    const store = path.join(dir, `store-${dracut}`);
    const out = path.join(dir, `out-${dracut}`);
    const r = await runManifest(
      { version: '2', sources: {}, pipelines: [{ name: 'p', stages: [{ type: 'kiln.test.kernel-tree', options: { dracut } }, { type: 'org.osbuild.ostree.preptree', options: { 'initramfs-args': ['--reproducible'] } }] }] } as Manifest,
      { store, outputDir: out, exports: ['p'], buildroot: 'host', handleSignals: false },
    );
    assertNoLeaks(dir, store);
    return { tree: path.join(out, 'p'), meta: r.pipelines.p!.stages[1]!.metadata ?? {} };
  }

  it("builds the initramfs with the tree's dracut, chrooted", async (t) => {
    if (!fs.existsSync('/lib64/ld-linux-x86-64.so.2')) return t.skip('no x86_64 loader to build a chroot shell');
    const { tree, meta } = await prep(true);
    const img = fs.readFileSync(path.join(tree, `usr/lib/modules/${KVER}/initramfs.img`), 'utf8');
    assert.equal(img, `fake dracut --no-hostonly --add ostree --tmpdir=/tmp --force --reproducible --kver ${KVER} /usr/lib/modules/${KVER}/initramfs.img\n`);
    assert.equal(meta.warnings, undefined);
  });

  it('without dracut in the tree: a warning in the log and the metadata, no initramfs', async () => {
    const { tree, meta } = await prep(false);
    assert.equal(fs.existsSync(path.join(tree, `usr/lib/modules/${KVER}/initramfs.img`)), false);
    assert.deepEqual(meta.warnings, [`kernel ${KVER} has no initramfs and the tree has no /usr/bin/dracut to make one; the commit will not boot`]);
  });
});

describe('executor: ostree stage option errors', () => {
  // made when the suite runs, outside the TMPDIR the suite above watches for leaks (and removes)
  let dir = '';
  before(() => {
    dir = fs.mkdtempSync(`${BASE_TMP}/kiln-exec-ostree-bad-`);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const cases: [string, Stage, RegExp][] = [
    ['commit without ref', { type: 'org.osbuild.ostree.commit', options: {}, inputs: { tree: { type: 'org.osbuild.noop', origin: 'org.osbuild.pipeline', references: ['name:a'] } } }, /ostree\.commit\).*option "ref" is required/],
    ['commit with a bad parent', { type: 'org.osbuild.ostree.commit', options: { ref: 'a/b', parent: 'abc' } }, /ostree\.commit\).*option "parent" must be a commit checksum/],
    ['init with an unknown mode', { type: 'org.osbuild.ostree.init', options: { mode: 'fancy' } }, /ostree\.init\).*option "mode" must be one of/],
    ['deploy with uuid and label', { type: 'org.osbuild.ostree.deploy', options: { osname: 'x', ref: 'r', rootfs: { uuid: 'u', label: 'l' } } }, /ostree\.deploy\).*option "rootfs" needs exactly one of "uuid" and "label"/],
    ['deploy with a relative mount', { type: 'org.osbuild.ostree.deploy', options: { osname: 'x', ref: 'r', mounts: ['boot'] } }, /ostree\.deploy\).*option "mounts": "boot"/],
    ['deploy without ref or input', { type: 'org.osbuild.ostree.deploy', options: { osname: 'x' } }, /ostree\.deploy\).*option "ref" is required/],
    ['config with an unknown bootloader', { type: 'org.osbuild.ostree.config', options: { repo: '/r', config: { sysroot: { bootloader: 'lilo' } } } }, /ostree\.config\).*"config\.sysroot\.bootloader" must be one of/],
    ['config with an unknown key', { type: 'org.osbuild.ostree.config', options: { repo: '/r', config: { sysroot: { readonly: 'yes' } } } }, /ostree\.config\).*"config\.sysroot\.readonly" must be a boolean/],
    ['fillvar default with osname', { type: 'org.osbuild.ostree.fillvar', options: { deployment: { default: true, osname: 'x' } } }, /ostree\.fillvar\).*"default": true excludes/],
    ['selinux without ref', { type: 'org.osbuild.ostree.selinux', options: { deployment: { osname: 'x' } } }, /ostree\.selinux\).*needs "osname" and "ref"/],
    ['remotes without url', { type: 'org.osbuild.ostree.remotes', options: { repo: '/r', remotes: [{ name: 'a' }] } }, /ostree\.remotes\).*option "remotes\[0\]\.url" is required/],
    ['preptree with a bad member list', { type: 'org.osbuild.ostree.preptree', options: { etc_group_members: 'wheel' } }, /ostree\.preptree\).*option "etc_group_members" must be an array of strings/],
    ['pull without input', { type: 'org.osbuild.ostree.pull', options: { repo: '/r' } }, /ostree\.pull\).*input "commits" is required/],
    ['os-init without osname', { type: 'org.osbuild.ostree.os-init', options: {} }, /ostree\.os-init\).*option "osname" is required/],
    ['init-fs with options', { type: 'org.osbuild.ostree.init-fs', options: { x: 1 } }, /ostree\.init-fs\).*takes no options/],
  ];
  for (const [name, stage, re] of cases) {
    it(`rejects ${name} before running anything`, async () => {
      const store = path.join(dir, 'store');
      await assert.rejects(runManifest({ version: '2', sources: {}, pipelines: [{ name: 'a', stages: [] }, { name: 'p', stages: [stage] }] } as Manifest, { store, exports: [], buildroot: 'host', handleSignals: false }), re);
      assert.equal(fs.existsSync(path.join(store, 'objects')) ? fs.readdirSync(path.join(store, 'objects')).length : 0, 0);
    });
  }

  it('encapsulate without rpm-ostree fails naming the tool', async () => {
    if (fs.existsSync('/usr/bin/rpm-ostree')) return;
    const repo = path.join(dir, 'repo');
    const content = path.join(dir, 'content');
    fs.mkdirSync(path.join(content, 'usr'), { recursive: true });
    ostree('init', '--mode=archive', `--repo=${repo}`);
    const c = ostree(`--repo=${repo}`, 'commit', '--branch=a/b', `--tree=dir=${content}`);
    const m = {
      version: '2',
      sources: { 'org.osbuild.ostree': { items: { [c]: { remote: { url: `file://${repo}` } } } } },
      pipelines: [{ name: 'p', stages: [{ type: 'org.osbuild.ostree.encapsulate', options: { filename: 'x.ociarchive' }, inputs: { commit: { type: 'org.osbuild.ostree', origin: 'org.osbuild.source', references: { [c]: { ref: 'a/b' } } } } }] }],
    } as Manifest;
    await assert.rejects(runManifest(m, { store: path.join(dir, 'store-enc'), exports: [], buildroot: 'host', handleSignals: false }), /ostree\.encapsulate\).*needs rpm-ostree/);
  });
});

describe('executor: ostree stages accept what the generators emit', () => {
  const cases: [string, ImageGenerator, (a: F.Arch) => ResolvedImageType][] = [
    ['iot-commit', ostreeCommitGenerator, F.iotCommit],
    ['iot-container', ostreeContainerGenerator, F.iotContainer],
    ['iot-raw-xz', ostreeDiskGenerator, F.iotRawXz],
    ['iot-qcow2', ostreeDiskGenerator, F.iotQcow2],
    ['iot-installer', ostreeInstallerGenerator, F.iotInstaller],
    ['iot-bootable-container', bootableContainerGenerator, F.iotBootableContainer],
  ];
  const impls = new Map(OSTREE_STAGES.map((s) => [s.type, s]));
  for (const [name, gen, it_] of cases) {
    for (const arch of ['x86_64', 'aarch64'] as F.Arch[]) {
      it(`${name} ${arch}: every ostree/installer stage passes validation`, () => {
        const req = F.request(it_(arch));
        const m = gen.serialize(req, { depsolved: F.fakeDepsolve(gen.packageSets(req), arch), commit: { ...F.COMMIT, ref: `fedora/42/${arch}/iot` } });
        let checked = 0;
        for (const p of m.pipelines) {
          for (const [i, s] of p.stages.entries()) {
            const impl = impls.get(s.type);
            if (!impl) continue;
            impl.validate?.(s, `pipeline "${p.name}", stage ${i + 1} (${s.type})`);
            checked++;
          }
        }
        assert.ok(checked >= 4, `${checked} stages checked`);
      });
    }
  }
});
