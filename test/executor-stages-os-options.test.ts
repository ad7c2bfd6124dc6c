// The OS stages against what Kiln's own generators emit (every emitted stage of these types must
// pass validation, and the generic-qcow2 OS configuration must run on a seeded tree), and bad
// options: each is refused before anything runs, naming the stage and the option.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generateManifest } from '../src/build/manifest.js';
import type { Blueprint } from '../src/blueprint/types.js';
import type { Manifest, Stage } from '../src/manifest/types.js';
import { runManifest } from '../src/executor/run.js';
import { registerStage } from '../src/executor/stages/index.js';
import { OS_STAGES } from '../src/executor/stages/registry-os.js';
import { KilnError } from '../src/util/errors.js';
import { demoRepoUrls, ostreeRepoUrl } from './helpers/demo.js';
import { assertNoLeaks, mkTmp, sh, tmpEntries } from './executor-helpers.js';

for (const s of OS_STAGES) registerStage(s);
const byType = new Map(OS_STAGES.map((s) => [s.type, s]));

const TYPES = ['minimal-raw-xz', 'generic-qcow2', 'generic-container', 'iot-commit', 'iot-container'];

function fullBlueprint(): Blueprint {
  return {
    name: 'kiln-os-stages',
    packages: [],
    modules: [],
    groups: [],
    customizations: {
      hostname: 'kiln-host',
      kernel: { append: 'kiln.test=1' },
      user: [{ name: 'builder', password: '$6$salt$hash', key: 'ssh-ed25519 AAAA kiln@test', groups: ['wheel'], uid: 1042 }],
      group: [{ name: 'builders', gid: 1100 }],
      timezone: { timezone: 'Europe/Prague', ntpservers: ['ntp.example.com'] },
      locale: { languages: ['en_GB.UTF-8'], keyboard: 'uk' },
      firewall: { ports: ['22:tcp'], services: { enabled: ['ssh'], disabled: ['telnet'] } },
      files: [{ path: '/etc/kiln-test.conf', data: 'hello\n', mode: '0644', user: 'root' }],
      directories: [{ path: '/var/lib/kiln-test', mode: '0755', user: 'builder' }],
    },
  } as unknown as Blueprint;
}

describe('executor OS stages: generator output and bad options', () => {
  const dir = mkTmp('stages-os-opts');
  const cache = path.join(dir, 'rpmmd');
  const manifests = new Map<string, Manifest>();
  let tmpBefore = '';
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  before(async () => {
    // the shared fixtures live in the real TMPDIR (built once per machine); only then switch
    // TMPDIR to this file's private directory for the leak checks
    const repos = await demoRepoUrls();
    const refs: string[] = [];
    for (const a of ['x86_64', 'aarch64']) for (const v of ['42', '43']) refs.push(`fedora/${v}/${a}/iot`);
    const ostreeUrl = await ostreeRepoUrl(refs);
    tmpBefore = tmpEntries(dir);
    for (const arch of ['x86_64', 'aarch64']) {
      for (const type of TYPES) {
        for (const withBp of [false, true]) {
          let bp = withBp ? fullBlueprint() : undefined;
          // drop the customizations an image type does not support, as a user would have to
          for (let attempt = 0; ; attempt++) {
            try {
              const { manifest } = await generateManifest({ imageType: type, distro: 'fedora-42', arch, blueprint: bp, forceRepos: [repos[arch]!], seed: 7n, ostree: { url: ostreeUrl }, rpmmdCache: cache, log: () => undefined });
              manifests.set(`${type}/${arch}/${withBp ? 'bp' : 'plain'}`, manifest);
              break;
            } catch (e) {
              const msg = (e as Error).message;
              const bad = [...msg.matchAll(/customizations\.(\w+) is not supported/g)].map((m) => m[1]!);
              if (!bp || attempt > 3 || (bad.length === 0 && !/option customizations is not supported/.test(msg))) throw e;
              const c = bp.customizations as Record<string, unknown>;
              if (bad.length === 0) bp = { ...bp, customizations: {} } as Blueprint;
              for (const k of bad) delete c[k];
            }
          }
        }
      }
    }
  });

  it('every stage of these types the generators emit passes validation (and all types are covered)', () => {
    const seen = new Set<string>();
    for (const [name, m] of manifests) {
      m.pipelines.forEach((p) =>
        p.stages.forEach((s, i) => {
          const impl = byType.get(s.type);
          if (!impl) return;
          seen.add(s.type);
          assert.doesNotThrow(() => impl.validate?.(s, `${name} pipeline ${p.name} stage ${i + 1}`), `${name}: ${s.type} ${JSON.stringify(s.options)}`);
        }),
      );
    }
    // what the five image types use; the rest (ignition, systemd.unit.create) come from others
    for (const t of ['org.osbuild.fix-bls', 'org.osbuild.sysconfig', 'org.osbuild.grub2', 'org.osbuild.grub2.inst', 'org.osbuild.chown', 'org.osbuild.machine-id', 'org.osbuild.dracut.conf', 'org.osbuild.systemd-journald', 'org.osbuild.systemd.preset', 'org.osbuild.users', 'org.osbuild.groups', 'org.osbuild.keymap', 'org.osbuild.chrony', 'org.osbuild.firewall', 'org.osbuild.bootupd.gen-metadata', 'org.osbuild.oci-archive', 'org.osbuild.nginx.conf']) {
      assert.ok(seen.has(t), `no generated manifest has ${t}`);
    }
  });

  it("generic-qcow2's OS configuration (minus rpm, selinux, firewall, systemd) runs on a seeded tree", async () => {
    const m = manifests.get('generic-qcow2/aarch64/bp')!;
    const osp = m.pipelines.find((p) => p.name === 'os')!;
    const skip = new Set(['org.osbuild.rpm', 'org.osbuild.selinux', 'org.osbuild.firewall', 'org.osbuild.systemd']);
    const stages: Stage[] = [
      {
        type: 'org.osbuild.mkdir',
        options: { paths: ['/etc', '/etc/default', '/home', '/boot', '/boot/efi', '/boot/efi/EFI', '/boot/efi/EFI/fedora', '/boot/loader', '/boot/loader/entries', '/var', '/var/lib', '/root'].map((p) => ({ path: p })) },
      },
      { type: 'kiln.test.accounts', options: {} },
      ...osp.stages.filter((s) => !skip.has(s.type)),
    ];
    registerStage({
      type: 'kiln.test.accounts',
      async run(ctx) {
        const w = (p: string, d: string, mode = 0o644) => fs.writeFileSync(path.join(ctx.tree, p), d, { mode });
        w('etc/passwd', 'root:x:0:0:root:/root:/bin/bash\n');
        w('etc/shadow', 'root:!:19000:0:99999:7:::\n', 0o000);
        w('etc/group', 'root:x:0:\nwheel:x:10:\n');
        w('etc/gshadow', 'root:::\nwheel:::\n', 0o000);
        w('etc/chrony.conf', 'pool 2.fedora.pool.ntp.org iburst\n');
        w('boot/loader/entries/ffffffffffffffffffffffffffffffff-6.14.0-63.fc42.aarch64.conf', 'linux /sysroot/boot/vmlinuz-6.14.0-63.fc42.aarch64\n');
      },
    });
    const out = path.join(dir, 'out-qcow2');
    const store = path.join(dir, 'store-qcow2');
    const inline = m.sources['org.osbuild.inline'];
    await runManifest({ version: '2', sources: inline ? { 'org.osbuild.inline': inline } : {}, pipelines: [{ name: 'os', stages }] }, { store, outputDir: out, exports: ['os'], buildroot: 'host', handleSignals: false });
    assertNoLeaks(dir, store, tmpBefore);
    const tree = path.join(out, 'os');
    const passwd = fs.readFileSync(path.join(tree, 'etc/passwd'), 'utf8');
    assert.match(passwd, /^builder:x:1042:1042::\/home\/builder:\/bin\/bash$/m);
    assert.match(fs.readFileSync(path.join(tree, 'etc/group'), 'utf8'), /^wheel:x:10:builder$/m);
    assert.match(fs.readFileSync(path.join(tree, 'etc/group'), 'utf8'), /^builders:x:1100:$/m);
    assert.equal(fs.statSync(path.join(tree, 'var/lib/kiln-test')).uid, 1042, 'chown resolved "builder" from the tree');
    assert.equal(fs.readFileSync(path.join(tree, 'home/builder/.ssh/authorized_keys'), 'utf8'), 'ssh-ed25519 AAAA kiln@test\n');
    assert.match(fs.readFileSync(path.join(tree, 'etc/chrony.conf'), 'utf8'), /^server ntp\.example\.com iburst$/m);
    assert.equal(fs.readFileSync(path.join(tree, 'etc/vconsole.conf'), 'utf8'), 'KEYMAP=uk\n');
    assert.equal(fs.readFileSync(path.join(tree, 'etc/machine-id'), 'utf8'), 'uninitialized\n');
    assert.match(fs.readFileSync(path.join(tree, 'boot/grub2/grubenv'), 'utf8'), /^saved_entry=ffffffffffffffffffffffffffffffff-6\.14\.0-63\.fc42\.aarch64$/m);
    assert.ok(fs.existsSync(path.join(tree, 'boot/efi/EFI/fedora/grub.cfg')));
    assert.equal(fs.readFileSync(path.join(tree, 'boot/loader/entries/ffffffffffffffffffffffffffffffff-6.14.0-63.fc42.aarch64.conf'), 'utf8'), 'linux /vmlinuz-6.14.0-63.fc42.aarch64\n', 'fix-bls with prefix ""');
    sh('pwck', ['-r', '-q', '-R', tree]);
  });

  // stage type, options (and inputs), the option the error must name
  const BAD: [string, Record<string, unknown>, RegExp][] = [
    ['org.osbuild.fix-bls', { prefix: 3 }, /option "prefix" must be a string/],
    ['org.osbuild.fix-bls', { prefx: '' }, /unknown option "prefx"/],
    ['org.osbuild.sysconfig', { kernel: { update_default: 'yes' } }, /option "kernel\.update_default" must be true or false/],
    ['org.osbuild.sysconfig', { 'network-scripts': { ifcfg: { 'bad/name': {} } } }, /"bad\/name" is not a valid interface name/],
    ['org.osbuild.grub2', { kernel_opts: 'ro' }, /exactly one of options "root_fs_uuid" and "rootfs" is required/],
    ['org.osbuild.grub2', { root_fs_uuid: 'not-a-uuid' }, /option "root_fs_uuid": "not-a-uuid" is not valid/],
    ['org.osbuild.grub2', { root_fs_uuid: '6699-AFB5', uefi: {} }, /option "uefi\.vendor" is required/],
    ['org.osbuild.grub2', { root_fs_uuid: '6699-AFB5', config: { timeout: -1 } }, /option "config\.timeout" must be at least 0/],
    ['org.osbuild.grub2', { root_fs_uuid: '6699-AFB5', config: { timeout_style: 'loud' } }, /option "config\.timeout_style": "loud" is not one of hidden, menu, countdown/],
    ['org.osbuild.grub2.inst', { filename: 'd.img', platform: 'i386-pc', core: { type: 'mkimage', partlabel: 'gpt', filesystem: 'zfs' }, prefix: { path: '/boot/grub2' } }, /option "core\.filesystem": "zfs" is not one of/],
    ['org.osbuild.grub2.inst', { filename: 'd.img', platform: 'i386-pc', core: { type: 'mkimage', partlabel: 'gpt', filesystem: 'ext4' } }, /option "prefix" is required/],
    ['org.osbuild.chown', { items: { 'relative/path': { user: 'root' } } }, /"relative\/path" is not an absolute path/],
    ['org.osbuild.chown', { items: { '/x': {} } }, /option "items\.\/x" needs "user" or "group"/],
    ['org.osbuild.machine-id', { 'first-boot': 'maybe' }, /option "first-boot": "maybe" is not one of yes, no, preserve/],
    ['org.osbuild.machine-id', {}, /option "first-boot" is required/],
    ['org.osbuild.dracut.conf', { filename: 'x.txt', config: { compress: 'xz' } }, /option "filename": "x\.txt" is not valid/],
    ['org.osbuild.dracut.conf', { filename: 'x.conf', config: { add_modules: ['a'] } }, /unknown option config\. "add_modules"/],
    ['org.osbuild.systemd-journald', { filename: 'j.conf', config: { Journal: { Storage: 'disk' } } }, /option "config\.Journal\.Storage": "disk" is not one of/],
    ['org.osbuild.systemd.preset', { presets: [{ name: 'a.service', state: 'enable' }, { name: 'a.service', state: 'disable' }] }, /"a\.service" has more than one state/],
    ['org.osbuild.systemd.unit.create', { filename: 'x.service', config: { Unit: {}, Install: {} } }, /a service unit needs a \[Service\] section/],
    ['org.osbuild.systemd.unit.create', { filename: 'x.mount', config: { Mount: { What: '/dev/sda1' } } }, /option "config\.Mount" needs What and Where/],
    ['org.osbuild.users', { users: { 'bad:name': {} } }, /"bad:name" is not a valid user name/],
    ['org.osbuild.users', { users: { u: { password: 'a:b' } } }, /option "users\.u\.password": "a:b" is not valid/],
    ['org.osbuild.users', { users: { u: { uid: 'x' } } }, /option "users\.u\.uid" must be an integer/],
    ['org.osbuild.groups', { groups: { g: { gid: 1.5 } } }, /option "groups\.g\.gid" must be an integer/],
    ['org.osbuild.keymap', { keymap: '../x' }, /option "keymap": "\.\.\/x" is not valid/],
    ['org.osbuild.keymap', { keymap: 'us', 'x11-keymap': { layouts: [] } }, /option "x11-keymap\.layouts" needs at least 1 item/],
    ['org.osbuild.chrony', {}, /needs at least one option/],
    ['org.osbuild.chrony', { servers: [{ hostname: 'a', minpoll: 30 }] }, /option "servers\[0\]\.minpoll" must be at most 24/],
    ['org.osbuild.firewall', { ports: ['22'] }, /option "ports"\[0\]: "22" is not valid/],
    ['org.osbuild.ignition', { network: ["ip='x'"] }, /option "network"\[0\]/],
    ['org.osbuild.bootupd.gen-metadata', { verbose: true }, /unknown option "verbose"/],
    ['org.osbuild.nginx.conf', { config: { listen: '80; evil' } }, /option "config\.listen": "80; evil" is not valid/],
    ['org.osbuild.nginx.conf', { path: 'etc/nginx.conf' }, /option "path": "etc\/nginx\.conf" is not valid/],
  ];

  it('bad options are refused, naming the stage and the option', () => {
    for (const [type, options, re] of BAD) {
      const what = `pipeline "os", stage 3 (${type})`;
      assert.throws(
        () => byType.get(type)!.validate!({ type, options }, what),
        (e: unknown) => e instanceof KilnError && e.message.startsWith(what + ':') && re.test(e.message),
        `${type} ${JSON.stringify(options)} should fail with ${re}`,
      );
    }
  });

  it('the runner reports a bad option up front with the pipeline and stage, before running anything', async () => {
    const store = path.join(dir, 'store-bad');
    const out = path.join(dir, 'out-bad');
    await assert.rejects(
      runManifest(
        { version: '2', sources: {}, pipelines: [{ name: 'os', stages: [{ type: 'org.osbuild.mkdir', options: { paths: [{ path: '/made' }] } }, { type: 'org.osbuild.users', options: { users: { u: { shell: 'bash' } } } }] }] },
        { store, outputDir: out, exports: ['os'], buildroot: 'host', handleSignals: false },
      ),
      /pipeline "os", stage 2 \(org\.osbuild\.users\): option "users\.u\.shell": "bash" is not valid/,
    );
    assert.equal(fs.existsSync(path.join(out, 'os')), false, 'nothing was built');
  });
});
