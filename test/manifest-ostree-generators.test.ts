// The ostree generators: pipeline and stage order per image type (reference §5.3–5.5), key
// options, osbuild schema validity, determinism, ostreeSource rules and input errors.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { bootableContainerGenerator } from '../src/manifest/generators/bootable-container.js';
import { ostreeCommitGenerator, ostreeContainerGenerator } from '../src/manifest/generators/ostree-commit.js';
import { ostreeDiskGenerator } from '../src/manifest/generators/ostree-disk.js';
import { ostreeInstallerGenerator } from '../src/manifest/generators/ostree-installer.js';
import { ostreeSimplifiedInstallerGenerator } from '../src/manifest/generators/ostree-simplified-installer.js';
import type { GeneratorRequest, ImageGenerator, Manifest, Pipeline, ResolvedCommit, Stage } from '../src/manifest/types.js';
import { validateManifest } from '../src/manifest/validate.js';
import { KilnError } from '../src/util/errors.js';
import {
  COMMIT,
  KERNEL_RELEASE,
  KERNEL_VERSION,
  emptyBp,
  fakeDepsolve,
  iotBootableContainer,
  iotCommit,
  iotContainer,
  iotInstaller,
  iotQcow2,
  iotRawXz,
  iotSimplifiedInstaller,
  request,
  type Arch,
} from './manifest-ostree-fixtures.js';

const ARCHES: Arch[] = ['x86_64', 'aarch64'];

function commitFor(arch: Arch): ResolvedCommit {
  return { ...COMMIT, ref: `fedora/42/${arch}/iot` };
}

function generate(g: ImageGenerator, req: GeneratorRequest, commit?: ResolvedCommit): Manifest {
  const chains = g.packageSets(req);
  return g.serialize(req, { depsolved: fakeDepsolve(chains, req.imageType.arch as Arch), commit });
}

const names = (m: Manifest) => m.pipelines.map((p) => p.name);
const pipe = (m: Manifest, n: string): Pipeline => {
  const p = m.pipelines.find((x) => x.name === n);
  assert.ok(p, `pipeline ${n} missing; have ${names(m).join(', ')}`);
  return p;
};
const types = (p: Pipeline) => p.stages.map((s) => s.type);
const stage = (p: Pipeline, type: string, nth = 0): Stage => {
  const s = p.stages.filter((x) => x.type === type)[nth];
  assert.ok(s, `stage ${type} #${nth} missing in ${p.name}: ${types(p).join(', ')}`);
  return s;
};
const opts = (s: Stage) => s.options as Record<string, any>;

function assertValid(m: Manifest) {
  const errors = validateManifest(m);
  assert.deepEqual(errors, [], errors.join('\n'));
}

/** `a` appears in order (not necessarily adjacent) in `list`. */
function assertSubsequence(list: string[], a: string[]) {
  let i = 0;
  for (const x of list) if (x === a[i]) i++;
  assert.equal(i, a.length, `expected order ${a.join(' < ')} in ${list.join(', ')}`);
}

describe('iot-commit', () => {
  for (const arch of ARCHES) {
    it(`${arch}: pipelines, os stages, commit and archive`, () => {
      const req = request(iotCommit(arch));
      const m = generate(ostreeCommitGenerator, req);
      assert.deepEqual(names(m), ['build', 'os', 'ostree-commit', 'commit-archive']);
      const os = pipe(m, 'os');
      assert.equal(types(os)[0], 'org.osbuild.dracut.conf');
      assertSubsequence(types(os), [
        'org.osbuild.dracut.conf',
        'org.osbuild.rpm',
        'org.osbuild.fix-bls',
        'org.osbuild.locale',
        'org.osbuild.hostname',
        'org.osbuild.timezone',
        'org.osbuild.sysconfig',
        'org.osbuild.systemd-journald',
        'org.osbuild.systemd',
        'org.osbuild.selinux',
        'org.osbuild.ostree.preptree',
        'org.osbuild.bootupd.gen-metadata',
      ]);
      assert.ok(!types(os).includes('org.osbuild.ostree.passwd'), 'no parent, no passwd stage');
      assert.ok(!types(os).includes('org.osbuild.grub2'), 'a commit has no bootloader config');
      const rpm = opts(stage(os, 'org.osbuild.rpm'));
      assert.equal(rpm['ostree_booted'], true);
      assert.equal(rpm['dbpath'], '/usr/share/rpm');
      assert.equal(rpm['disable_dracut'], true);
      assert.deepEqual(opts(stage(os, 'org.osbuild.ostree.preptree')), { etc_group_members: ['wheel', 'docker'] });
      // the os package chain has the kernel and the type's os set; weak deps per image config
      const chains = ostreeCommitGenerator.packageSets(req);
      assert.ok(chains['os']![0]!.include.includes('kernel'));
      assert.ok(chains['os']![0]!.include.includes('fedora-release-iot'));
      assert.equal(chains['os']![0]!.installWeakDeps, false);
      assert.ok(chains['build']![0]!.include.includes('rpm-ostree'));
      assert.ok(chains['build']![0]!.include.includes('tar'));

      const commit = pipe(m, 'ostree-commit');
      assert.deepEqual(types(commit), ['org.osbuild.ostree.init', 'org.osbuild.ostree.commit']);
      assert.deepEqual(opts(commit.stages[0]!), { path: '/repo' });
      assert.deepEqual(opts(commit.stages[1]!), { ref: `fedora/42/${arch}/iot`, os_version: '42' });
      assert.deepEqual(commit.stages[1]!.inputs!['tree']!.references, ['name:os']);
      const tar = stage(pipe(m, 'commit-archive'), 'org.osbuild.tar');
      assert.equal(opts(tar)['filename'], 'commit.tar');
      assert.deepEqual(tar.inputs!['tree']!.references, ['name:ostree-commit']);
      assert.equal(m.pipelines[0]!.runner, 'org.osbuild.fedora42');
      assert.ok(m.pipelines.slice(1).every((p) => p.build === 'name:build'));
      assertValid(m);
    });
  }

  it('with --ostree-url: the parent is resolved, recorded and its passwd copied', () => {
    const req = request(iotCommit('x86_64'), { ostree: { url: 'https://ostree.example.com/repo', parent: 'fedora/41/x86_64/iot' } });
    assert.deepEqual(ostreeCommitGenerator.ostreeSource(req), { url: 'https://ostree.example.com/repo', ref: 'fedora/41/x86_64/iot' });
    const parent: ResolvedCommit = { url: 'https://ostree.example.com/repo', ref: 'fedora/41/x86_64/iot', checksum: 'ab'.repeat(32) };
    const m = generate(ostreeCommitGenerator, req, parent);
    const os = pipe(m, 'os');
    const passwd = stage(os, 'org.osbuild.ostree.passwd');
    assert.ok(types(os).indexOf('org.osbuild.ostree.passwd') < types(os).indexOf('org.osbuild.rpm'));
    assert.deepEqual(passwd.inputs!['commits']!.references, { [parent.checksum]: { ref: parent.ref } });
    assert.equal(opts(stage(pipe(m, 'ostree-commit'), 'org.osbuild.ostree.commit'))['parent'], parent.checksum);
    assert.deepEqual((m.sources['org.osbuild.ostree']!.items as any)[parent.checksum], { remote: { url: parent.url } });
    assertValid(m);
  });

  it('ostreeSource: none without a URL; the image ref when only --ostree-url; --ostree-parent alone is an error', () => {
    assert.equal(ostreeCommitGenerator.ostreeSource(request(iotCommit('x86_64'))), undefined);
    assert.deepEqual(ostreeCommitGenerator.ostreeSource(request(iotCommit('aarch64'), { ostree: { url: 'http://h/repo' } })), {
      url: 'http://h/repo',
      ref: 'fedora/42/aarch64/iot',
    });
    assert.throws(
      () => ostreeCommitGenerator.ostreeSource(request(iotCommit('x86_64'), { ostree: { parent: 'fedora/41/x86_64/iot' } })),
      (e: Error) => e instanceof KilnError && /--ostree-parent/.test(e.message) && /--ostree-url/.test(e.message),
    );
  });

  it('--ostree-ref replaces the ref, with $arch/$basearch substituted; bad refs are named', () => {
    const req = request(iotCommit('aarch64'), { ostree: { ref: 'fedora/rawhide/$arch/iot-${basearch}' } });
    const m = generate(ostreeCommitGenerator, req);
    assert.equal(opts(stage(pipe(m, 'ostree-commit'), 'org.osbuild.ostree.commit'))['ref'], 'fedora/rawhide/aarch64/iot-aarch64');
    assert.throws(
      () => generate(ostreeCommitGenerator, request(iotCommit('x86_64'), { ostree: { ref: 'bad ref//x' } })),
      (e: Error) => e instanceof KilnError && /--ostree-ref/.test(e.message) && /bad ref/.test(e.message),
    );
  });
});

describe('iot-container', () => {
  for (const arch of ARCHES) {
    it(`${arch}: nginx container serving the commit`, () => {
      const req = request(iotContainer(arch));
      const chains = ostreeContainerGenerator.packageSets(req);
      assert.deepEqual(chains['container-tree']![0]!.include, ['nginx']);
      assert.equal(chains['os']![0]!.installWeakDeps, true);
      const m = generate(ostreeContainerGenerator, req);
      assert.deepEqual(names(m), ['build', 'os', 'ostree-commit', 'container-tree', 'container']);
      const tree = pipe(m, 'container-tree');
      assertSubsequence(types(tree), ['org.osbuild.rpm', 'org.osbuild.locale', 'org.osbuild.ostree.init', 'org.osbuild.ostree.pull', 'org.osbuild.nginx.conf']);
      const pull = stage(tree, 'org.osbuild.ostree.pull');
      assert.deepEqual(pull.inputs!['commits']!.references, { 'name:ostree-commit': { ref: `fedora/42/${arch}/iot` } });
      assert.equal(opts(stage(tree, 'org.osbuild.nginx.conf'))['config'].listen, '8080');
      const oci = stage(pipe(m, 'container'), 'org.osbuild.oci-archive');
      assert.equal(opts(oci)['architecture'], arch === 'x86_64' ? 'amd64' : 'arm64');
      assert.equal(opts(oci)['filename'], 'container.tar');
      assert.deepEqual(opts(oci)['config'], { Cmd: ['nginx', '-c', '/etc/nginx.conf'], ExposedPorts: ['8080'] });
      assertValid(m);
    });
  }
});

describe('iot-bootable-container', () => {
  for (const arch of ARCHES) {
    it(`${arch}: commit encapsulated as an OCI archive`, () => {
      const m = generate(bootableContainerGenerator, request(iotBootableContainer(arch)));
      assert.deepEqual(names(m), ['build', 'os', 'ostree-commit', 'ostree-encapsulate']);
      const os = pipe(m, 'os');
      assert.deepEqual(opts(stage(os, 'org.osbuild.bootc.install.config')), {
        filename: '20-fedora.toml',
        config: { install: { filesystem: { root: { type: 'ext4' } } } },
      });
      assertSubsequence(types(os), ['org.osbuild.rpm', 'org.osbuild.bootc.install.config', 'org.osbuild.selinux', 'org.osbuild.ostree.preptree']);
      const enc = stage(pipe(m, 'ostree-encapsulate'), 'org.osbuild.ostree.encapsulate');
      assert.equal(opts(enc)['filename'], 'iot-bootable-container.tar');
      assert.deepEqual(enc.inputs!['commit']!.references, { 'name:ostree-commit': { ref: `fedora/42/${arch}/iot` } });
      assertValid(m);
    });
  }
});

const DEPLOY_ORDER = [
  'org.osbuild.ostree.init-fs',
  'org.osbuild.ostree.os-init',
  'org.osbuild.mkdir',
  'org.osbuild.ostree.pull',
  'org.osbuild.ostree.deploy',
  'org.osbuild.ostree.fillvar',
  'org.osbuild.ostree.config',
  'org.osbuild.fstab',
  'org.osbuild.ignition',
  'org.osbuild.users',
  'org.osbuild.keymap',
  'org.osbuild.locale',
  'org.osbuild.grub2',
  'org.osbuild.ostree.selinux',
];

describe('iot-raw-xz / iot-qcow2', () => {
  for (const arch of ARCHES) {
    it(`${arch} iot-raw-xz: deployment, image, xz`, () => {
      const req = request(iotRawXz(arch));
      assert.deepEqual(ostreeDiskGenerator.ostreeSource(req), { url: 'mirrorlist=https://ostree.fedoraproject.org/iot/mirrorlist', ref: `fedora/42/${arch}/iot` });
      const chains = ostreeDiskGenerator.packageSets(req);
      assert.deepEqual(Object.keys(chains), ['build']);
      for (const p of ['rpm-ostree', 'shadow-utils', 'xz', 'dosfstools', 'e2fsprogs', 'efibootmgr']) assert.ok(chains['build']![0]!.include.includes(p), p);
      const commit = commitFor(arch);
      const m = generate(ostreeDiskGenerator, req, commit);
      assert.deepEqual(names(m), ['build', 'ostree-deployment', 'image', 'xz']);
      const dep = pipe(m, 'ostree-deployment');
      assert.deepEqual(types(dep), DEPLOY_ORDER);
      const deploy = opts(stage(dep, 'org.osbuild.ostree.deploy'));
      assert.deepEqual(deploy, {
        osname: 'fedora-iot',
        ref: commit.ref,
        remote: 'fedora-iot',
        mounts: ['/boot', '/boot/efi'],
        rootfs: { label: 'root' },
        kernel_opts: ['rw', 'coreos.no_persist_ip', 'ignition.platform.id=metal', '$ignition_firstboot'],
      });
      assert.deepEqual(opts(stage(dep, 'org.osbuild.mkdir')), { paths: [{ path: '/boot/efi', mode: 0o700 }] });
      const pull = stage(dep, 'org.osbuild.ostree.pull');
      assert.deepEqual(opts(pull), { repo: '/ostree/repo', remote: 'fedora-iot' });
      assert.deepEqual(pull.inputs!['commits'], { type: 'org.osbuild.ostree', origin: 'org.osbuild.source', references: { [commit.checksum]: { ref: commit.ref } } });
      assert.deepEqual(opts(stage(dep, 'org.osbuild.ostree.config')), { repo: '/ostree/repo', config: { sysroot: { readonly: true, bootloader: 'none' } } });
      assert.deepEqual(opts(stage(dep, 'org.osbuild.users')), { users: { root: { password: '!locked' } } });
      // config stages run inside the deployment
      for (const t of ['org.osbuild.ostree.config', 'org.osbuild.fstab', 'org.osbuild.users', 'org.osbuild.keymap', 'org.osbuild.locale']) {
        assert.deepEqual(stage(dep, t).mounts, [
          { name: `ostree-${commit.ref}`, type: 'org.osbuild.ostree.deployment', options: { deployment: { osname: 'fedora-iot', ref: commit.ref, serial: 0 } } },
        ], t);
      }
      assert.equal(stage(dep, 'org.osbuild.ostree.selinux').mounts, undefined);
      const fstab = opts(stage(dep, 'org.osbuild.fstab'))['filesystems'] as any[];
      assert.deepEqual(fstab.map((f) => [f.path, f.options, f.passno ?? 0]), [
        ['/', 'defaults,ro', 1],
        ['/boot', 'defaults', 2],
        ['/boot/efi', 'umask=0077,shortname=winnt', 2],
      ]);
      const grub = opts(stage(dep, 'org.osbuild.grub2'));
      assert.equal(grub['kernel_opts'], 'rw coreos.no_persist_ip ignition.platform.id=metal $ignition_firstboot');
      assert.deepEqual(grub['uefi'], { vendor: 'fedora', install: true, unified: true });
      assert.equal(grub['greenboot'], true);
      assert.equal(grub['ignition'], true);
      assert.equal(grub['write_cmdline'], false);
      assert.deepEqual(grub['config'], { default: 'saved', timeout: 1, terminal_output: ['console'] });
      assert.equal(grub['saved_entry'], undefined);
      assert.equal(grub['root_fs_uuid'], fstab.find((f) => f.path === '/').uuid);
      assert.equal(grub['boot_fs_uuid'], fstab.find((f) => f.path === '/boot').uuid);

      const image = pipe(m, 'image');
      assertSubsequence(types(image), ['org.osbuild.truncate', 'org.osbuild.sfdisk', 'org.osbuild.mkfs.fat', 'org.osbuild.mkfs.ext4', 'org.osbuild.mkfs.ext4', 'org.osbuild.copy']);
      assert.equal(opts(stage(image, 'org.osbuild.truncate'))['size'], String(6 * 1024 ** 3));
      const sfdisk = opts(stage(image, 'org.osbuild.sfdisk'));
      assert.equal(sfdisk['label'], arch === 'x86_64' ? 'gpt' : 'dos');
      const copy = stage(image, 'org.osbuild.copy');
      assert.deepEqual(copy.inputs!['root-tree']!.references, ['name:ostree-deployment']);
      assert.deepEqual(opts(copy)['paths'], [{ from: 'input://root-tree/', to: 'mount://-/' }]);
      assert.deepEqual(copy.mounts!.map((x) => x.target), ['/', '/boot', '/boot/efi']);
      if (arch === 'aarch64') {
        const boot = stage(image, 'org.osbuild.copy', 1);
        assert.equal(boot.inputs!['ostree-tree']!.type, 'org.osbuild.ostree.checkout');
        assert.deepEqual(opts(boot)['paths'], [
          { from: `input://ostree-tree/${commit.checksum}/usr/share/uboot/rpi_arm64/u-boot.bin`, to: 'mount://-/boot/efi/rpi-u-boot.bin' },
        ]);
      } else {
        assert.equal(image.stages.filter((s) => s.type === 'org.osbuild.copy').length, 1);
      }
      const xz = stage(pipe(m, 'xz'), 'org.osbuild.xz');
      assert.deepEqual(opts(xz), { filename: 'image.raw.xz' });
      assert.deepEqual(xz.inputs!['file']!.references, { 'name:image': { file: 'disk.img' } });
      assert.deepEqual(m.sources['org.osbuild.ostree'], { items: { [commit.checksum]: { remote: { url: commit.url } } } });
      assertValid(m);
    });

    it(`${arch} iot-qcow2: ignition.platform.id=qemu and a qcow2 pipeline`, () => {
      const m = generate(ostreeDiskGenerator, request(iotQcow2(arch)), commitFor(arch));
      assert.deepEqual(names(m), ['build', 'ostree-deployment', 'image', 'qcow2']);
      const deploy = opts(stage(pipe(m, 'ostree-deployment'), 'org.osbuild.ostree.deploy'));
      assert.ok(deploy['kernel_opts'].includes('ignition.platform.id=qemu'));
      assert.ok(!deploy['kernel_opts'].includes('ignition.platform.id=metal'));
      const q = opts(stage(pipe(m, 'qcow2'), 'org.osbuild.qemu'));
      assert.deepEqual(q, { filename: 'image.qcow2', format: arch === 'aarch64' ? { type: 'qcow2', compat: '1.1' } : { type: 'qcow2' } });
      assert.equal(opts(stage(pipe(m, 'image'), 'org.osbuild.truncate'))['size'], String(10 * 1024 ** 3));
      assertValid(m);
    });
  }

  it('blueprint customizations: kernel append, users, groups, files, directories, services', () => {
    const bp = emptyBp();
    bp.customizations = {
      kernel: { append: 'console=ttyS0 quiet' },
      user: [{ name: 'core', password: 'secret', groups: ['wheel'], key: 'ssh-ed25519 AAAA core' }],
      group: [{ name: 'edge', gid: 1500 }],
      files: [{ path: '/etc/motd', data: 'hello\n', mode: '0644' }],
      directories: [{ path: '/etc/edge', mode: '0750' }],
      services: { enabled: ['podman.socket'] },
    };
    const m = generate(ostreeDiskGenerator, request(iotRawXz('x86_64'), { blueprint: bp }), commitFor('x86_64'));
    const dep = pipe(m, 'ostree-deployment');
    assert.deepEqual(opts(stage(dep, 'org.osbuild.ostree.deploy'))['kernel_opts'].slice(-2), ['console=ttyS0', 'quiet']);
    assert.match(opts(stage(dep, 'org.osbuild.grub2'))['kernel_opts'], / console=ttyS0 quiet$/);
    assertSubsequence(types(dep), ['org.osbuild.fstab', 'org.osbuild.groups', 'org.osbuild.users', 'org.osbuild.ignition', 'org.osbuild.users', 'org.osbuild.grub2', 'org.osbuild.mkdir', 'org.osbuild.copy', 'org.osbuild.systemd', 'org.osbuild.ostree.selinux']);
    const users = opts(stage(dep, 'org.osbuild.users'))['users'];
    assert.match(users.core.password, /^\$6\$/, 'plaintext password hashed');
    assert.deepEqual(users.core.groups, ['wheel']);
    assert.deepEqual(opts(stage(dep, 'org.osbuild.groups'))['groups'], { edge: { gid: 1500 } });
    assert.ok(stage(dep, 'org.osbuild.copy').mounts![0]!.type === 'org.osbuild.ostree.deployment');
    assert.deepEqual(opts(stage(dep, 'org.osbuild.systemd'))['enabled_services'], ['podman.socket']);
    assert.ok(m.sources['org.osbuild.inline']);
    assertValid(m);
  });

  it('ostreeSource: --ostree-url/--ostree-ref override the definition; no URL at all is an error naming --ostree-url', () => {
    const req = request(iotRawXz('aarch64'), { ostree: { url: 'http://127.0.0.1:1/repo', ref: 'fedora/rawhide/$basearch/iot' } });
    assert.deepEqual(ostreeDiskGenerator.ostreeSource(req), { url: 'http://127.0.0.1:1/repo', ref: 'fedora/rawhide/aarch64/iot' });
    const it = iotRawXz('x86_64');
    delete it.ostree!.url;
    assert.throws(() => ostreeDiskGenerator.ostreeSource(request(it)), (e: Error) => e instanceof KilnError && /--ostree-url/.test(e.message) && /iot-raw-xz/.test(e.message));
    assert.throws(
      () => ostreeDiskGenerator.ostreeSource(request(iotRawXz('x86_64'), { ostree: { parent: 'x' } })),
      (e: Error) => e instanceof KilnError && /--ostree-parent/.test(e.message),
    );
  });

  it('serialize without a resolved commit is an error', () => {
    const req = request(iotRawXz('x86_64'));
    assert.throws(() => generate(ostreeDiskGenerator, req), (e: Error) => e instanceof KilnError && /ostree commit/.test(e.message));
  });
});

describe('iot-installer', () => {
  for (const arch of ARCHES) {
    it(`${arch}: anaconda ISO embedding the commit`, () => {
      const req = request(iotInstaller(arch));
      const chains = ostreeInstallerGenerator.packageSets(req);
      const inst = chains['anaconda-tree']![0]!;
      for (const p of ['anaconda', 'kernel', 'shim-' + (arch === 'x86_64' ? 'x64' : 'aa64'), 'efibootmgr']) assert.ok(inst.include.includes(p), p);
      assert.equal(inst.include.includes('biosdevname'), arch === 'x86_64');
      for (const p of ['xorriso', 'isomd5sum', 'squashfs-tools', 'lorax-templates-generic']) assert.ok(chains['build']![0]!.include.includes(p), p);
      const commit = commitFor(arch);
      const m = generate(ostreeInstallerGenerator, req, commit);
      assert.deepEqual(names(m), ['build', 'anaconda-tree', 'efiboot-tree', 'bootiso-tree', 'bootiso']);
      const label = `Fedora-42-IoT-${arch}`;
      const kver = `${KERNEL_VERSION}-${KERNEL_RELEASE}.${arch}`;

      const ana = pipe(m, 'anaconda-tree');
      assert.deepEqual(types(ana).filter((t) => t !== 'org.osbuild.rpm'), [
        'org.osbuild.buildstamp',
        'org.osbuild.locale',
        'org.osbuild.users',
        'org.osbuild.anaconda',
        'org.osbuild.lorax-script',
        'org.osbuild.dracut',
        'org.osbuild.lorax-script',
        'org.osbuild.selinux.config',
      ]);
      assert.deepEqual(opts(stage(ana, 'org.osbuild.rpm'))['exclude'], { docs: true });
      assert.deepEqual(opts(stage(ana, 'org.osbuild.buildstamp')), { arch, product: 'Fedora', version: '42', final: true, variant: 'IoT' });
      assert.equal(opts(stage(ana, 'org.osbuild.users'))['users'].install.shell, '/usr/libexec/anaconda/run-anaconda');
      const dracut = opts(stage(ana, 'org.osbuild.dracut'));
      assert.deepEqual(dracut['kernel'], [kver]);
      assert.ok(dracut['add_modules'].includes('anaconda'));
      assert.equal(dracut['add_modules'].includes('biosdevname'), arch === 'x86_64');
      assert.equal(opts(stage(ana, 'org.osbuild.lorax-script', 1))['path'], '99-generic/runtime-cleanup.tmpl');
      assert.deepEqual(opts(stage(ana, 'org.osbuild.selinux.config')), { state: 'permissive' });

      const efi = opts(stage(pipe(m, 'efiboot-tree'), 'org.osbuild.grub2.iso'));
      assert.equal(efi['isolabel'], label);
      assert.deepEqual(efi['architectures'], arch === 'x86_64' ? ['X64', 'IA32'] : ['AA64']);
      assert.deepEqual(efi['kernel'], { dir: '/images/pxeboot', opts: [`inst.ks=hd:LABEL=${label}:/osbuild.ks`] });

      const tree = pipe(m, 'bootiso-tree');
      const expected = [
        'org.osbuild.mkdir',
        'org.osbuild.copy',
        'org.osbuild.squashfs',
        ...(arch === 'x86_64' ? ['org.osbuild.grub2.iso.legacy', 'org.osbuild.grub2.inst'] : []),
        'org.osbuild.truncate',
        'org.osbuild.mkfs.fat',
        'org.osbuild.copy',
        'org.osbuild.copy',
        'org.osbuild.ostree.init',
        'org.osbuild.ostree.pull',
        'org.osbuild.kickstart',
        'org.osbuild.discinfo',
      ];
      assert.deepEqual(types(tree), expected);
      assert.deepEqual(opts(tree.stages[1]!)['paths'], [
        { from: `input://tree/boot/vmlinuz-${kver}`, to: 'tree:///images/pxeboot/vmlinuz' },
        { from: `input://tree/boot/initramfs-${kver}.img`, to: 'tree:///images/pxeboot/initrd.img' },
      ]);
      assert.equal(opts(stage(tree, 'org.osbuild.squashfs'))['compression'].method, 'xz');
      assert.deepEqual(opts(stage(tree, 'org.osbuild.kickstart')), {
        path: '/osbuild.ks',
        ostree: { osname: 'fedora-iot', url: 'file:///run/install/repo/ostree/repo', ref: commit.ref, remote: 'fedora-iot', gpg: false },
      });
      assert.deepEqual(opts(stage(tree, 'org.osbuild.discinfo')), { basearch: arch, release: 'Fedora 42' });
      assert.deepEqual(stage(tree, 'org.osbuild.ostree.pull').inputs!['commits']!.references, { [commit.checksum]: { ref: commit.ref } });

      const iso = pipe(m, 'bootiso');
      assert.deepEqual(types(iso), ['org.osbuild.xorrisofs', 'org.osbuild.implantisomd5']);
      const x = opts(iso.stages[0]!);
      assert.equal(x['volid'], label);
      assert.equal(x['filename'], 'installer.iso');
      assert.equal(x['efi'], 'images/efiboot.img');
      assert.equal(x['isolevel'], 3);
      if (arch === 'x86_64') {
        assert.deepEqual(x['boot'], { image: 'images/eltorito.img', catalog: 'boot.cat' });
        assert.equal(x['grub2mbr'], '/usr/lib/grub/i386-pc/boot_hybrid.img');
      } else {
        assert.equal(x['boot'], undefined);
      }
      assert.deepEqual(opts(iso.stages[1]!), { filename: 'installer.iso' });
      assertValid(m);
    });
  }

  it('blueprint users and groups go into the kickstart', () => {
    const bp = emptyBp();
    bp.customizations = { user: [{ name: 'core', key: 'ssh-ed25519 AAAA', groups: ['wheel'] }], group: [{ name: 'edge' }] };
    const m = generate(ostreeInstallerGenerator, request(iotInstaller('x86_64'), { blueprint: bp }), commitFor('x86_64'));
    const ks = opts(stage(pipe(m, 'bootiso-tree'), 'org.osbuild.kickstart'));
    assert.deepEqual(ks['users'], { core: { key: 'ssh-ed25519 AAAA', groups: ['wheel'] } });
    assert.deepEqual(ks['groups'], { edge: {} });
    assertValid(m);
  });
});

describe('iot-simplified-installer', () => {
  const bpWith = (c: Record<string, unknown>) => {
    const bp = emptyBp();
    bp.customizations = { installation_device: '/dev/vda', ...c };
    return bp;
  };

  for (const arch of ARCHES) {
    it(`${arch}: LUKS2+LVM disk image inside a coreos-installer ISO`, () => {
      const req = request(iotSimplifiedInstaller(arch), { blueprint: bpWith({}) });
      const m = generate(ostreeSimplifiedInstallerGenerator, req, commitFor(arch));
      assert.deepEqual(names(m), ['build', 'ostree-deployment', 'image', 'xz', 'coi-tree', 'efiboot-tree', 'bootiso-tree', 'bootiso']);
      assert.equal(opts(stage(pipe(m, 'ostree-deployment'), 'org.osbuild.ostree.deploy'))['osname'], 'fedora');

      const image = pipe(m, 'image');
      assertSubsequence(types(image), [
        'org.osbuild.truncate',
        'org.osbuild.sfdisk',
        'org.osbuild.mkfs.fat',
        'org.osbuild.mkfs.ext4',
        'org.osbuild.luks2.format',
        'org.osbuild.lvm2.create',
        'org.osbuild.mkfs.ext4',
        'org.osbuild.copy',
        'org.osbuild.lvm2.metadata',
        'org.osbuild.clevis.luks-bind',
        'org.osbuild.luks2.remove-key',
      ]);
      const fmt = stage(image, 'org.osbuild.luks2.format');
      assert.equal(opts(fmt)['label'], 'crypt_root');
      assert.equal(opts(fmt)['cipher'], 'cipher_null');
      assert.deepEqual(opts(fmt)['pbkdf'], { method: 'argon2i', memory: 32, iterations: 4, parallelism: 1 });
      assert.deepEqual(opts(stage(image, 'org.osbuild.lvm2.create'))['volumes'], [{ name: 'rootlv', extents: '100%FREE' }]);
      const luksUuid = opts(fmt)['uuid'];
      assert.ok(opts(stage(pipe(m, 'ostree-deployment'), 'org.osbuild.ostree.deploy'))['kernel_opts'].includes(`luks.uuid=${luksUuid}`));
      assert.equal(opts(stage(image, 'org.osbuild.lvm2.metadata'))['vg_name'], 'rootvg');
      const rootMkfs = stage(image, 'org.osbuild.mkfs.ext4', 1);
      assert.equal(rootMkfs.devices!['device']!.type, 'org.osbuild.lvm2.lv');
      assert.equal(rootMkfs.devices!['device']!.parent, 'lvm');
      assert.equal(rootMkfs.devices!['lvm']!.type, 'org.osbuild.luks2');
      const copy = stage(image, 'org.osbuild.copy');
      const rootMount = copy.mounts!.find((x) => x.target === '/')!;
      assert.equal(copy.devices![rootMount.source!]!.type, 'org.osbuild.lvm2.lv');

      assert.deepEqual(opts(stage(pipe(m, 'xz'), 'org.osbuild.xz')), { filename: 'image.raw.xz' });
      const coi = pipe(m, 'coi-tree');
      assertSubsequence(types(coi), ['org.osbuild.rpm', 'org.osbuild.buildstamp', 'org.osbuild.locale', 'org.osbuild.dracut']);
      assert.ok(opts(stage(coi, 'org.osbuild.dracut'))['add_modules'].includes('coreos-installer'));
      const kopts: string[] = opts(stage(pipe(m, 'efiboot-tree'), 'org.osbuild.grub2.iso'))['kernel'].opts;
      assert.ok(kopts.includes('coreos.inst.install_dev=/dev/vda'));
      assert.ok(kopts.includes('coreos.inst.image_file=/run/media/iso/image.raw.xz'));
      assert.ok(kopts.includes(`coreos.inst.isoroot=Fedora-42-IoT-${arch}`));
      const tree = pipe(m, 'bootiso-tree');
      const payload = tree.stages.find((s) => s.type === 'org.osbuild.copy' && s.inputs?.['file'])!;
      assert.deepEqual(opts(payload)['paths'], [{ from: 'input://file/image.raw.xz', to: 'tree:///image.raw.xz' }]);
      assert.deepEqual(payload.inputs!['file']!.references, { 'name:xz': { file: 'image.raw.xz' } });
      const iso = opts(stage(pipe(m, 'bootiso'), 'org.osbuild.xorrisofs'));
      assert.equal(iso['filename'], 'simplified-installer.iso');
      assert.equal(iso['boot'], undefined);
      assertValid(m);
    });
  }

  it('FDO and ignition customizations', () => {
    const bp = bpWith({
      fdo: { manufacturing_server_url: 'http://fdo.example.com:8080', diun_pub_key_root_certs: '-----BEGIN CERTIFICATE-----\nX\n-----END CERTIFICATE-----\n' },
      ignition: { firstboot: { url: 'http://ign.example.com/config.ign' } },
    });
    const m = generate(ostreeSimplifiedInstallerGenerator, request(iotSimplifiedInstaller('x86_64'), { blueprint: bp }), commitFor('x86_64'));
    const kopts: string[] = opts(stage(pipe(m, 'efiboot-tree'), 'org.osbuild.grub2.iso'))['kernel'].opts;
    assert.ok(kopts.includes('fdo.manufacturing_server_url=http://fdo.example.com:8080'));
    assert.ok(kopts.includes('fdo.diun_pub_key_root_certs=/fdo_diun_pub_key_root_certs.pem'));
    const fdo = stage(pipe(m, 'coi-tree'), 'org.osbuild.fdo');
    assert.equal(fdo.inputs!['rootcerts']!.origin, 'org.osbuild.source');
    assert.ok(opts(stage(pipe(m, 'ostree-deployment'), 'org.osbuild.ostree.deploy'))['kernel_opts'].includes('ignition.config.url=http://ign.example.com/config.ign'));
    assertValid(m);
  });

  it('errors: no installation_device, incomplete FDO', () => {
    const commit = commitFor('x86_64');
    assert.throws(
      () => generate(ostreeSimplifiedInstallerGenerator, request(iotSimplifiedInstaller('x86_64')), commit),
      (e: Error) => e instanceof KilnError && /installation_device/.test(e.message),
    );
    assert.throws(
      () => generate(ostreeSimplifiedInstallerGenerator, request(iotSimplifiedInstaller('x86_64'), { blueprint: bpWith({ fdo: { manufacturing_server_url: 'http://x' } }) }), commit),
      (e: Error) => e instanceof KilnError && /fdo/.test(e.message) && /diun_pub_key/.test(e.message),
    );
  });
});

describe('determinism', () => {
  const cases: [string, ImageGenerator, () => GeneratorRequest, ResolvedCommit | undefined][] = [
    ['iot-commit', ostreeCommitGenerator, () => request(iotCommit('x86_64')), undefined],
    ['iot-raw-xz', ostreeDiskGenerator, () => request(iotRawXz('aarch64')), commitFor('aarch64')],
    ['iot-installer', ostreeInstallerGenerator, () => request(iotInstaller('x86_64')), commitFor('x86_64')],
    [
      'iot-simplified-installer',
      ostreeSimplifiedInstallerGenerator,
      () => {
        const bp = emptyBp();
        bp.customizations = { installation_device: '/dev/sda', user: [{ name: 'u', password: 'pw' }] };
        return request(iotSimplifiedInstaller('x86_64'), { blueprint: bp });
      },
      commitFor('x86_64'),
    ],
  ];
  for (const [name, g, mk, commit] of cases) {
    it(`${name}: same seed => identical JSON; another seed => other UUIDs`, () => {
      const a = JSON.stringify(generate(g, mk(), commit));
      const b = JSON.stringify(generate(g, mk(), commit));
      assert.equal(a, b);
      const c = JSON.stringify(generate(g, { ...mk(), seed: 7n }, commit));
      if (name === 'iot-commit') assert.equal(a, c, 'nothing random in a commit manifest');
      else assert.notEqual(a, c);
    });
  }
});
