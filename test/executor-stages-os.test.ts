// OS-configuration stages (registry-os.ts) run through the real runner (buildroot 'host'); the
// trees are checked with independent means: a shell sourcing the files, Python's configparser,
// the host's own useradd/groupadd as an oracle for the account files, pwck/grpck/chage.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import type { Manifest, Stage } from '../src/manifest/types.js';
import { runManifest } from '../src/executor/run.js';
import { registerStage } from '../src/executor/stages/index.js';
import { OS_STAGES } from '../src/executor/stages/registry-os.js';
import { assertNoLeaks, collect, mkTmp, sh, tmpEntries } from './executor-helpers.js';

for (const s of OS_STAGES) registerStage(s);

interface Seed {
  [path: string]: string | { data?: string; mode?: number; link?: string; dir?: boolean; uid?: number; gid?: number };
}

// test-only: put files, directories and symlinks into the tree
registerStage({
  type: 'kiln.test.seed',
  async run(ctx) {
    for (const [p, v] of Object.entries(ctx.options.files as Seed)) {
      const f = path.join(ctx.tree, p);
      fs.mkdirSync(path.dirname(f), { recursive: true });
      const e = typeof v === 'string' ? { data: v } : v;
      if (e.link !== undefined) fs.symlinkSync(e.link, f);
      else if (e.dir) fs.mkdirSync(f, { recursive: true, mode: e.mode ?? 0o755 });
      else fs.writeFileSync(f, e.data ?? '', { mode: e.mode ?? 0o644 });
      if (e.mode !== undefined && e.link === undefined) fs.chmodSync(f, e.mode);
      if (e.uid !== undefined) fs.lchownSync(f, e.uid, e.gid ?? 0);
    }
  },
});

const seed = (files: Seed): Stage => ({ type: 'kiln.test.seed', options: { files } });
const PY = '/usr/bin/python3';

describe('executor OS stages', () => {
  const dir = mkTmp('stages-os');
  const tmpBefore = tmpEntries(dir);
  let n = 0;
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  async function build(stages: Stage[], epoch?: number): Promise<string> {
    const out = path.join(dir, `out${++n}`);
    const store = path.join(dir, `store${n}`);
    const ev = collect();
    const m: Manifest = { version: '2', sources: {}, pipelines: [{ name: 'p', stages, ...(epoch !== undefined ? { 'source-epoch': epoch } : {}) }] };
    await runManifest(m, { store, outputDir: out, exports: ['p'], buildroot: 'host', handleSignals: false, onEvent: ev.on });
    assertNoLeaks(dir, store, tmpBefore);
    return path.join(out, 'p');
  }
  const read = (tree: string, p: string): string => fs.readFileSync(path.join(tree, p), 'utf8');
  /** Source a shell-style file with sh and print the variables. */
  const shVars = (file: string, names: string[]): Record<string, string> => {
    const out = sh('sh', ['-c', `. "$1"; ${names.map((v) => `printf '%s\\n' "$${v}"`).join('; ')}`, 'sh', file]).split('\n');
    return Object.fromEntries(names.map((v, i) => [v, out[i]!]));
  };

  it('fix-bls: rewrites /x/boot paths to the prefix; require_boot_prefix false also bare /boot', async () => {
    const entry = 'title Fedora\nlinux /sysroot/boot/vmlinuz-6.1\ninitrd /sysroot/boot/initramfs-6.1.img\noptions root=UUID=1 ro\n';
    const bare = 'linux /boot/vmlinuz-6.1\n';
    const tree = await build([
      seed({ '/boot/loader/entries/a.conf': entry, '/boot/loader/entries/b.conf': bare, '/boot/loader/entries/c.txt': entry }),
      { type: 'org.osbuild.fix-bls', options: { prefix: '' } },
    ]);
    assert.equal(read(tree, 'boot/loader/entries/a.conf'), 'title Fedora\nlinux /vmlinuz-6.1\ninitrd /initramfs-6.1.img\noptions root=UUID=1 ro\n');
    assert.equal(read(tree, 'boot/loader/entries/b.conf'), bare, 'a bare /boot is kept with require_boot_prefix');
    assert.equal(read(tree, 'boot/loader/entries/c.txt'), entry, 'only *.conf files are entries');
    const t2 = await build([seed({ '/boot/loader/entries/b.conf': bare, '/boot/loader/entries/a.conf': entry }), { type: 'org.osbuild.fix-bls', options: { require_boot_prefix: false } }]);
    assert.equal(read(t2, 'boot/loader/entries/b.conf'), 'linux /boot/vmlinuz-6.1\n');
    assert.match(read(t2, 'boot/loader/entries/a.conf'), /^linux \/boot\/vmlinuz-6\.1$/m);
  });

  it('sysconfig: kernel, network and ifcfg files a shell can source', async () => {
    const tree = await build([
      {
        type: 'org.osbuild.sysconfig',
        options: { kernel: { update_default: true, default_kernel: 'kernel-core' }, network: { networking: true, no_zero_conf: false }, 'network-scripts': { ifcfg: { eth0: { device: 'eth0', bootproto: 'dhcp', onboot: true, ipv6init: false } } } },
      },
    ]);
    assert.deepEqual(shVars(path.join(tree, 'etc/sysconfig/kernel'), ['UPDATEDEFAULT', 'DEFAULTKERNEL']), { UPDATEDEFAULT: 'yes', DEFAULTKERNEL: 'kernel-core' });
    assert.deepEqual(shVars(path.join(tree, 'etc/sysconfig/network'), ['NETWORKING', 'NOZEROCONF']), { NETWORKING: 'yes', NOZEROCONF: 'no' });
    assert.deepEqual(shVars(path.join(tree, 'etc/sysconfig/network-scripts/ifcfg-eth0'), ['DEVICE', 'BOOTPROTO', 'ONBOOT', 'IPV6INIT']), { DEVICE: 'eth0', BOOTPROTO: 'dhcp', ONBOOT: 'yes', IPV6INIT: 'no' });
  });

  it('machine-id: yes -> "uninitialized", no -> empty, preserve keeps it and fails without one', async () => {
    const yes = await build([seed({ '/etc/machine-id': { data: '', mode: 0o444 } }), { type: 'org.osbuild.machine-id', options: { 'first-boot': 'yes' } }]);
    assert.equal(read(yes, 'etc/machine-id'), 'uninitialized\n');
    assert.equal(fs.statSync(path.join(yes, 'etc/machine-id')).mode & 0o777, 0o444, 'the mode the rpm stage left is kept');
    const no = await build([seed({ '/etc/machine-id': 'uninitialized\n' }), { type: 'org.osbuild.machine-id', options: { 'first-boot': 'no' } }]);
    assert.equal(read(no, 'etc/machine-id'), '');
    const keep = await build([seed({ '/etc/machine-id': '0123456789abcdef0123456789abcdef\n' }), { type: 'org.osbuild.machine-id', options: { 'first-boot': 'preserve' } }]);
    assert.equal(read(keep, 'etc/machine-id'), '0123456789abcdef0123456789abcdef\n');
    await assert.rejects(build([{ type: 'org.osbuild.mkdir', options: { paths: [{ path: '/etc' }] } }, { type: 'org.osbuild.machine-id', options: { 'first-boot': 'preserve' } }]), /org\.osbuild\.machine-id.*"preserve".*does not exist/);
  });

  it('dracut.conf, systemd-journald, systemd.preset, systemd.unit.create: drop-ins the consumers can parse', async () => {
    const tree = await build([
      { type: 'org.osbuild.dracut.conf', options: { filename: '40-fips.conf', config: { add_dracutmodules: ['fips', 'crypt'], compress: 'zstd', reproducible: true } } },
      { type: 'org.osbuild.systemd-journald', options: { filename: '10-persistent.conf', config: { Journal: { Storage: 'persistent', Compress: 'yes' } } } },
      { type: 'org.osbuild.systemd.preset', options: { presets: [{ name: 'ignition-firstboot-complete.service', state: 'enable' }, { name: 'sshd.service', state: 'disable' }] } },
      {
        type: 'org.osbuild.systemd.unit.create',
        options: {
          filename: 'kiln-test.service',
          'unit-path': 'etc',
          config: { Unit: { Description: 'Kiln test', After: ['network.target', 'x.target'], DefaultDependencies: false }, Service: { Type: 'oneshot', ExecStart: ['/usr/bin/true', '/usr/bin/echo hi'], Environment: [{ key: 'A', value: 'b c' }] }, Install: { WantedBy: ['multi-user.target'] } },
        },
      },
    ]);
    // dracut sources its drop-ins with bash; `+=` appends to the default (empty here)
    const d = sh('bash', ['-c', '. "$1"; printf "%s|%s|%s" "$add_dracutmodules" "$compress" "$reproducible"', 'bash', path.join(tree, 'usr/lib/dracut/dracut.conf.d/40-fips.conf')]);
    assert.equal(d, ' fips crypt |zstd|yes');
    const ini = (f: string, py: string): string => sh(PY, ['-c', `import configparser,sys\nc=configparser.ConfigParser(strict=False,interpolation=None)\nc.optionxform=str\nc.read(sys.argv[1])\n${py}`, f]);
    assert.equal(ini(path.join(tree, 'usr/lib/systemd/journald.conf.d/10-persistent.conf'), 'print(dict(c["Journal"]))'), "{'Storage': 'persistent', 'Compress': 'yes'}\n");
    assert.equal(read(tree, 'usr/lib/systemd/system-preset/50-osbuild.preset'), 'enable ignition-firstboot-complete.service\ndisable sshd.service\n');
    const unit = read(tree, 'etc/systemd/system/kiln-test.service');
    // systemd's own parser: systemd-analyze cat-config style check is not offline-safe, so read
    // the directives back as systemd would (each list item is its own line)
    const lines = unit.split('\n');
    assert.deepEqual(lines.filter((l) => l.startsWith('ExecStart=')), ['ExecStart=/usr/bin/true', 'ExecStart=/usr/bin/echo hi']);
    assert.deepEqual(lines.filter((l) => l.startsWith('After=')), ['After=network.target', 'After=x.target']);
    assert.ok(lines.includes('Environment="A=b c"'));
    assert.ok(lines.includes('DefaultDependencies=false'));
    assert.deepEqual(lines.filter((l) => l.startsWith('[')), ['[Unit]', '[Service]', '[Install]']);
    // a second journald drop-in of the same name is refused, as osbuild does
    await assert.rejects(
      build([
        { type: 'org.osbuild.systemd-journald', options: { filename: 'a.conf', config: { Journal: { Storage: 'auto' } } } },
        { type: 'org.osbuild.systemd-journald', options: { filename: 'a.conf', config: { Journal: { Storage: 'none' } } } },
      ]),
      /org\.osbuild\.systemd-journald.*a\.conf already exists/,
    );
  });

  it('keymap, chrony, nginx.conf, ignition: the files their consumers read', async () => {
    const chronyConf = 'pool 2.fedora.pool.ntp.org iburst\nserver old.example.com\ndriftfile /var/lib/chrony/drift\nleapsectz right/UTC\n';
    const tree = await build([
      seed({ '/etc/chrony.conf': chronyConf, '/boot/.keep': '' }),
      { type: 'org.osbuild.keymap', options: { keymap: 'uk', font: 'eurlatgr', 'x11-keymap': { layouts: ['gb', 'cz'] } } },
      { type: 'org.osbuild.chrony', options: { timeservers: ['ntp1.example.com', 'ntp2.example.com'], servers: [{ hostname: 'pps.example.com', prefer: true, minpoll: 4 }], leapsectz: '' } },
      { type: 'org.osbuild.nginx.conf', options: { path: '/etc/nginx.conf', config: { listen: '8080', root: '/usr/share/nginx/html', pid: '/tmp/nginx.pid', daemon: false } } },
      { type: 'org.osbuild.ignition', options: { network: ['ip=dhcp', 'rd.neednet=1'] } },
    ]);
    assert.deepEqual(shVars(path.join(tree, 'etc/vconsole.conf'), ['KEYMAP', 'FONT']), { KEYMAP: 'uk', FONT: 'eurlatgr' });
    assert.match(read(tree, 'etc/X11/xorg.conf.d/00-keyboard.conf'), /Option "XkbLayout" "gb,cz"/);
    const chrony = read(tree, 'etc/chrony.conf').split('\n');
    assert.deepEqual(chrony.filter((l) => /^(server|pool|peer) /.test(l)), ['server pps.example.com prefer iburst minpoll 4', 'server ntp1.example.com iburst', 'server ntp2.example.com iburst']);
    assert.ok(chrony.includes('driftfile /var/lib/chrony/drift'), 'other directives are kept');
    assert.ok(!chrony.some((l) => l.startsWith('leapsectz')), 'an empty leapsectz removes the directive');
    const nginx = read(tree, 'etc/nginx.conf');
    assert.match(nginx, /^\s*listen 8080;$/m);
    assert.match(nginx, /^daemon off;$/m);
    assert.match(nginx, /^pid \/tmp\/nginx\.pid;$/m);
    // braces balance (nginx would refuse the file otherwise)
    assert.equal((nginx.match(/{/g) ?? []).length, (nginx.match(/}/g) ?? []).length);
    assert.equal(read(tree, 'boot/ignition.firstboot'), "set ignition_network_kcmdline='ip=dhcp rd.neednet=1'");
    await assert.rejects(build([{ type: 'org.osbuild.mkdir', options: { paths: [{ path: '/etc' }] } }, { type: 'org.osbuild.chrony', options: { timeservers: ['a'] } }]), /org\.osbuild\.chrony.*\/etc\/chrony\.conf does not exist/);
  });

  // ----------------------------------------------------------------------------------------
  // accounts: compared with what the host's real useradd/groupadd --root write from the same seed

  const ACCOUNT_SEED: Seed = {
    '/etc/passwd': 'root:x:0:0:root:/root:/bin/bash\nbin:x:1:1:bin:/bin:/sbin/nologin\n',
    '/etc/shadow': { data: 'root:*:19000:0:99999:7:::\nbin:*:19000:0:99999:7:::\n', mode: 0o600 },
    '/etc/group': 'root:x:0:\nbin:x:1:\nwheel:x:10:\nusers:x:100:\n',
    '/etc/gshadow': { data: 'root:::\nbin:::\nwheel:::\nusers:::\n', mode: 0o600 },
    '/etc/login.defs': 'UID_MIN 1000\nUID_MAX 60000\nGID_MIN 1000\nGID_MAX 60000\nCREATE_HOME yes\nHOME_MODE 0700\nUMASK 022\nUSERGROUPS_ENAB yes\nPASS_MAX_DAYS 99999\nPASS_MIN_DAYS 0\nPASS_WARN_AGE 7\n',
    '/etc/default/useradd': 'SHELL=/bin/bash\nHOME=/home\n',
    '/etc/skel/.bashrc': 'alias ll="ls -l"\n',
    '/etc/subuid': 'old:100000:65536\n',
    '/etc/subgid': '',
    '/home': { dir: true },
    '/root': { dir: true, mode: 0o550 },
  };

  function seedDir(files: Seed): string {
    const d = fs.mkdtempSync(path.join(dir, 'oracle-'));
    for (const [p, v] of Object.entries(files)) {
      const f = path.join(d, p);
      fs.mkdirSync(path.dirname(f), { recursive: true });
      const e = typeof v === 'string' ? { data: v } : v;
      if (e.dir) fs.mkdirSync(f, { recursive: true });
      else fs.writeFileSync(f, e.data ?? '');
      if (e.mode !== undefined) fs.chmodSync(f, e.mode);
    }
    return d;
  }

  const EPOCH = 1_700_000_000;

  it('groups + users: the same account files as shadow-utils useradd/groupadd --root', async () => {
    const tree = await build(
      [
        seed(ACCOUNT_SEED),
        { type: 'org.osbuild.groups', options: { groups: { builders: { gid: 1100 }, g2: {} } } },
        {
          type: 'org.osbuild.users',
          options: {
            users: {
              builder: { uid: 1042, groups: ['wheel', 'builders'], password: '$6$salt$hash', expiredate: 20000, description: 'B U', key: 'ssh-ed25519 AAAA kiln@test', keys: ['ssh-rsa BBBB other@test'] },
              other: {},
              svc: { home: '/var/lib/svc', shell: '/sbin/nologin', gid: 100 },
              root: { password: '$6$root$hash', shell: '/bin/zsh' },
            },
          },
        },
      ],
      EPOCH,
    );
    // the oracle: real shadow-utils on a copy of the seed, with the arguments osbuild passes
    const o = seedDir(ACCOUNT_SEED);
    const env = { ...process.env, SOURCE_DATE_EPOCH: String(EPOCH) };
    const x = (cmd: string, args: string[]) => execFileSync(cmd, ['--root', o, ...args], { env, stdio: 'pipe' });
    x('groupadd', ['--gid', '1100', 'builders']);
    x('groupadd', ['g2']);
    x('useradd', ['--uid', '1042', '-o', '--groups', 'wheel,builders', '--comment', 'B U', '--password', '$6$salt$hash', '--expiredate', '20000', 'builder']);
    x('useradd', ['other']);
    x('useradd', ['--gid', '100', '--home-dir', '/var/lib/svc', '--create-home', '--shell', '/sbin/nologin', 'svc']);
    x('usermod', ['--shell', '/bin/zsh', '--password', '$6$root$hash', 'root']);
    for (const f of ['etc/passwd', 'etc/shadow', 'etc/group', 'etc/gshadow', 'etc/subuid', 'etc/subgid']) assert.equal(read(tree, f), fs.readFileSync(path.join(o, f), 'utf8'), `${f} differs from shadow-utils'`);
    for (const f of ['etc/shadow', 'etc/gshadow']) assert.equal(fs.statSync(path.join(tree, f)).mode & 0o777, 0o600, `${f} keeps its mode`);
    // homes: created with HOME_MODE and the skeleton, owned by the user, like useradd's
    for (const [home, uid, gid] of [['home/builder', 1042, 1042], ['home/other', 1043, 1043], ['var/lib/svc', 1044, 100]] as const) {
      const st = fs.statSync(path.join(tree, home));
      const ost = fs.statSync(path.join(o, home));
      assert.deepEqual([st.mode & 0o7777, st.uid, st.gid], [ost.mode & 0o7777, uid, gid], home);
      assert.equal(read(tree, `${home}/.bashrc`), 'alias ll="ls -l"\n');
      assert.equal(fs.statSync(path.join(tree, home, '.bashrc')).uid, uid);
    }
    // ssh keys: ~/.ssh 0700 and authorized_keys 0600, owned by the user
    const ssh = path.join(tree, 'home/builder/.ssh');
    assert.deepEqual([fs.statSync(ssh).mode & 0o777, fs.statSync(ssh).uid, fs.statSync(ssh).gid], [0o700, 1042, 1042]);
    const ak = path.join(ssh, 'authorized_keys');
    assert.deepEqual([fs.statSync(ak).mode & 0o777, fs.statSync(ak).uid], [0o600, 1042]);
    assert.equal(fs.readFileSync(ak, 'utf8'), 'ssh-rsa BBBB other@test\nssh-ed25519 AAAA kiln@test\n');
    // shadow-utils' own checkers accept the result; chage reads the expiry date back
    sh('pwck', ['-r', '-q', '-R', tree]);
    sh('grpck', ['-r', '-R', tree]);
    assert.match(sh('chage', ['-R', tree, '-l', 'builder']), /Account expires\s*:\s*Oct 04, 2024/);
    fs.rmSync(o, { recursive: true, force: true });
  });

  it('users/groups: errors name the stage, the user or group and the problem; force tolerates', async () => {
    await assert.rejects(build([seed(ACCOUNT_SEED), { type: 'org.osbuild.users', options: { users: { u1: { groups: ['nosuch'] } } } }]), /org\.osbuild\.users.*user "u1": group "nosuch" does not exist/);
    await assert.rejects(build([seed(ACCOUNT_SEED), { type: 'org.osbuild.users', options: { users: { root: { uid: 5 } } } }]), /org\.osbuild\.users.*user "root".*uid 0.*cannot be changed to 5/);
    await assert.rejects(build([seed(ACCOUNT_SEED), { type: 'org.osbuild.groups', options: { groups: { wheel: {} } } }]), /org\.osbuild\.groups.*group "wheel" already exists/);
    await assert.rejects(build([seed(ACCOUNT_SEED), { type: 'org.osbuild.groups', options: { groups: { newg: { gid: 10 } } } }]), /org\.osbuild\.groups.*group "newg": gid 10 is already used by group "wheel"/);
    const t = await build([seed(ACCOUNT_SEED), { type: 'org.osbuild.groups', options: { force: true, groups: { wheel: {}, newg: { gid: 10 } } } }]);
    const g = read(t, 'etc/group').split('\n');
    assert.ok(g.includes('wheel:x:10:'), 'an existing group is kept with force');
    assert.ok(g.includes('newg:x:1000:'), 'a taken gid is replaced by a free one with force');
  });

  it('chown: names from the tree (not the host), recursive without following links, symlinks resolved inside the tree', async () => {
    const tree = await build([
      seed({
        ...ACCOUNT_SEED,
        '/etc/passwd': 'root:x:0:0:root:/root:/bin/bash\nkilnonly:x:4321:4321::/home/k:/bin/sh\n',
        '/etc/group': 'root:x:0:\nkilngrp:x:4322:\n',
        '/srv/d/f': 'x',
        '/srv/d/sub/g': 'y',
        '/srv/d/link': { link: '/etc/passwd' },
        '/target': 'z',
        '/abs': { link: '/target' },
      }),
      { type: 'org.osbuild.chown', options: { items: { '/srv/d': { user: 'kilnonly', group: 'kilngrp', recursive: true }, '/abs': { user: 4321 }, '/target': { group: 'kilngrp' } } } },
    ]);
    for (const p of ['srv/d', 'srv/d/f', 'srv/d/sub', 'srv/d/sub/g']) assert.deepEqual([fs.statSync(path.join(tree, p)).uid, fs.statSync(path.join(tree, p)).gid], [4321, 4322], p);
    assert.equal(fs.lstatSync(path.join(tree, 'srv/d/link')).uid, 4321, 'the link itself is changed');
    assert.equal(fs.statSync(path.join(tree, 'etc/passwd')).uid, 0, 'recursive chown does not follow links');
    // /abs -> /target resolves to the tree's /target, never the host's
    assert.deepEqual([fs.statSync(path.join(tree, 'target')).uid, fs.statSync(path.join(tree, 'target')).gid], [4321, 4322]);
    assert.equal(fs.existsSync('/target'), false);
    await assert.rejects(build([seed({ '/etc/passwd': 'root:x:0:0::/root:/bin/sh\n', '/f': '' }), { type: 'org.osbuild.chown', options: { items: { '/f': { user: 'nobody-here' } } } }]), /org\.osbuild\.chown.*user "nobody-here" does not exist in the tree's \/etc\/passwd/);
  });
});
