// Installer ISO stages: the installer tree files (buildstamp, discinfo, kickstart, selinux.config,
// anaconda), squashfs, the ISO grub configs (grub2.iso / grub2.iso.legacy with binaries from a
// build root), xorrisofs, checked with unsquashfs and xorriso; tools that may be missing
// (implantisomd5, mkfs.erofs, dracut, lorax) fail naming what is missing.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Input, Manifest, Pipeline, Stage } from '../src/manifest/types.js';
import { runManifest, type RunReport } from '../src/executor/run.js';
import { registerStage } from '../src/executor/stages/index.js';
import { braceExpand, fnmatchRe, runLoraxScript, shellSplit } from '../src/executor/stages/lorax-script.js';
import { OSTREE_STAGES } from '../src/executor/stages/registry-ostree.js';
import type { StageContext } from '../src/executor/stages/types.js';
import { assertNoLeaks, mkTmp, tmpEntries } from './executor-helpers.js';
import { installFakeDracut, installShell } from './executor-stages-ostree-helpers.js';

for (const s of OSTREE_STAGES) registerStage(s);
const BASE_TMP = os.tmpdir();
const onPath = (tool: string): boolean => (process.env.PATH ?? '').split(':').some((d) => fs.existsSync(path.join(d, tool)));

function w(root: string, p: string, data: string | Buffer): void {
  fs.mkdirSync(path.dirname(path.join(root, p)), { recursive: true });
  fs.writeFileSync(path.join(root, p), data);
}

registerStage({
  type: 'kiln.test.installer-root',
  async run(ctx) {
    w(ctx.tree, 'usr/bin/anaconda', '#!/bin/sh\n');
    w(ctx.tree, 'usr/share/doc/anaconda/README', 'excluded\n');
    w(ctx.tree, 'etc/selinux/config', '# This file controls the state of SELinux\nSELINUX=enforcing\n# type\nSELINUXTYPE=targeted\n');
    // checkisomd5 cannot verify images of only a few hundred KiB (its skipped tail is most of
    // such an image), so give the tree a payload the size of a small real one
    w(ctx.tree, 'usr/share/kiln/payload.bin', Buffer.alloc(3 * 1024 * 1024, 0x5a));
  },
});
// a build root holding what grub2.iso and grub2.iso.legacy copy (shim, grub, font, BIOS modules)
registerStage({
  type: 'kiln.test.iso-buildroot',
  async run(ctx) {
    for (const a of ['x64', 'ia32']) for (const b of ['shim', 'mm', 'gcd']) w(ctx.tree, `boot/efi/EFI/kiln/${b}${a}.efi`, `${b} for ${a}\n`);
    w(ctx.tree, 'usr/share/grub/unicode.pf2', 'font');
    w(ctx.tree, 'usr/lib/grub/i386-pc/normal.mod', 'mod');
    w(ctx.tree, 'usr/lib/grub/i386-pc/boot_hybrid.img', Buffer.alloc(512));
  },
});
// El Torito and EFI images as the real pipeline would have them (a FAT EFI image, a BIOS image)
registerStage({
  type: 'kiln.test.boot-images',
  async run(ctx) {
    w(ctx.tree, 'images/eltorito.img', Buffer.alloc(4096));
    execFileSync('mkfs.fat', ['-C', path.join(ctx.tree, 'images/efiboot.img'), '2048'], { stdio: 'ignore' });
  },
});

const tree = (name: string): Input => ({ type: 'org.osbuild.tree', origin: 'org.osbuild.pipeline', references: [`name:${name}`] });
const menu = { product: { name: 'Kiln', version: '42' }, kernel: { dir: '/images/pxeboot', opts: ['inst.stage2=hd:LABEL=KILN-42', 'inst.ks=hd:LABEL=KILN-42:/osbuild.ks'] }, isolabel: 'KILN-42' };

describe('executor: installer ISO stages', () => {
  const dir = mkTmp('iso');
  const tmpBefore = tmpEntries(dir);
  const out = path.join(dir, 'out');
  let report: RunReport;
  const grub2mbr = path.join(dir, 'grub2-mbr.img');

  before(async () => {
    fs.writeFileSync(grub2mbr, Buffer.alloc(512));
    process.env.SOURCE_DATE_EPOCH = '1700000000';
    const pipelines: Pipeline[] = [
      { name: 'buildroot', stages: [{ type: 'kiln.test.iso-buildroot' }] },
      {
        name: 'installer',
        stages: [
          { type: 'kiln.test.installer-root' },
          { type: 'org.osbuild.selinux.config', options: { state: 'permissive' } },
          { type: 'org.osbuild.anaconda', options: { 'activatable-modules': ['org.fedoraproject.Anaconda.Modules.Network', 'org.fedoraproject.Anaconda.Modules.Users'] } },
          { type: 'org.osbuild.buildstamp', options: { arch: 'x86_64', product: 'Kiln', version: '42', final: true, variant: 'IoT', bugurl: 'https://example.com/bugs' } },
        ],
      },
      // grub2.iso* copy from the build root: run "in" it (bwrap mode; they run no tool)
      { name: 'efiboot', build: 'name:buildroot', stages: [{ type: 'org.osbuild.grub2.iso', options: { ...menu, architectures: ['X64', 'IA32'], vendor: 'kiln', config: { timeout: 5, default: 0 } } }] },
      { name: 'bios', build: 'name:buildroot', stages: [{ type: 'org.osbuild.grub2.iso.legacy', options: { ...menu, fips: true, test: false, custom: [{ name: 'Custom ${product}', linux: '${kernelpath} custom=1', initrd: '${initrdpath}' }] } }] },
      {
        name: 'iso-tree',
        stages: [
          { type: 'org.osbuild.squashfs', options: { filename: 'images/install.img', compression: { method: 'xz', options: { bcj: 'x86' } }, exclude_paths: ['usr/share/doc/.*'] }, inputs: { tree: tree('installer') } },
          {
            type: 'org.osbuild.kickstart',
            options: {
              path: '/osbuild.ks',
              ostree: { osname: 'kiln', url: 'file:///run/install/repo/ostree/repo', ref: 'kiln/x86_64/iot', gpg: false },
              users: { core: { password: '$6$salt$hash', groups: ['wheel'], key: 'ssh-ed25519 AAAA core@kiln' }, svc: { uid: 1500, shell: '/bin/false' } },
              groups: { g1: { gid: 1234 } },
              timezone: 'UTC',
              reboot: { eject: true },
              network: [{ device: 'eth0', bootproto: 'dhcp', activate: true }],
              '%post': [{ erroronfail: true, commands: ['echo done'] }],
            },
          },
          { type: 'org.osbuild.discinfo', options: { basearch: 'x86_64', release: '42' } },
          { type: 'org.osbuild.copy', options: { paths: [{ from: 'input://efi/EFI', to: 'tree:///' }] }, inputs: { efi: tree('efiboot') } },
          { type: 'org.osbuild.copy', options: { paths: [{ from: 'input://bios/boot', to: 'tree:///' }] }, inputs: { bios: tree('bios') } },
          { type: 'kiln.test.boot-images' },
        ],
      },
      {
        name: 'iso',
        stages: [
          {
            type: 'org.osbuild.xorrisofs',
            options: { filename: 'kiln.iso', volid: 'KILN-42', sysid: 'LINUX', pub: 'Kiln', boot: { image: 'images/eltorito.img', catalog: 'boot.cat' }, efi: 'images/efiboot.img', grub2mbr, isolevel: 3 },
            inputs: { tree: tree('iso-tree') },
          },
        ],
      },
    ];
    const store = path.join(dir, 'store');
    try {
      report = await runManifest({ version: '2', sources: {}, pipelines } as Manifest, { store, outputDir: out, exports: ['installer', 'efiboot', 'bios', 'iso-tree', 'iso'], buildroot: 'bwrap', handleSignals: false });
    } finally {
      delete process.env.SOURCE_DATE_EPOCH;
    }
    assertNoLeaks(dir, store, tmpBefore);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('installer tree files: selinux config, anaconda drop-in, buildstamp', () => {
    const t = path.join(out, 'installer');
    assert.equal(fs.readFileSync(path.join(t, 'etc/selinux/config'), 'utf8'), '# This file controls the state of SELinux\nSELINUX=permissive\n# type\nSELINUXTYPE=targeted\n');
    const conf = fs.readFileSync(path.join(t, 'etc/anaconda/conf.d/90-osbuild.conf'), 'utf8');
    assert.match(conf, /^\[Anaconda\]\nactivatable_modules=\n {4}org\.fedoraproject\.Anaconda\.Modules\.Network\n {4}org\.fedoraproject\.Anaconda\.Modules\.Users\n$/m);
    const stamp = fs.readFileSync(path.join(t, '.buildstamp'), 'utf8');
    // SOURCE_DATE_EPOCH 1700000000 = 2023-11-14 22:13 UTC
    assert.match(stamp, /^\[Main\]\nproduct = Kiln\nversion = 42\nisfinal = True\nuuid = 202311142213\.x86_64\nbugurl = https:\/\/example\.com\/bugs\nvariant = IoT\n/);
  });

  it('squashfs: xz with the x86 BCJ filter, exclusions applied (unsquashfs)', () => {
    const img = path.join(out, 'iso-tree/images/install.img');
    const list = execFileSync('unsquashfs', ['-l', img], { encoding: 'utf8' });
    assert.match(list, /squashfs-root\/usr\/bin\/anaconda$/m);
    assert.match(list, /squashfs-root\/etc\/selinux\/config$/m);
    // mksquashfs -regex -e: what matches below usr/share/doc goes, the directory itself stays
    assert.doesNotMatch(list, /usr\/share\/doc\/anaconda/);
    assert.match(list, /squashfs-root\/usr\/share\/doc$/m);
    const sb = execFileSync('unsquashfs', ['-s', img], { encoding: 'utf8' });
    assert.match(sb, /Compression xz/);
    assert.match(sb, /Filters selected: x86/);
  });

  it('kickstart and discinfo', () => {
    const ks = fs.readFileSync(path.join(out, 'iso-tree/osbuild.ks'), 'utf8');
    assert.equal(
      ks,
      [
        'ostreesetup --osname=kiln --url=file:///run/install/repo/ostree/repo --ref=kiln/x86_64/iot --nogpg',
        'group --name g1 --gid 1234',
        'user --name core --password $6$salt$hash --iscrypted --groups wheel',
        'sshkey --username core "ssh-ed25519 AAAA core@kiln"',
        'user --name svc --shell /bin/false --uid 1500',
        'timezone UTC',
        'reboot --eject',
        'network --device=eth0 --bootproto=dhcp --activate',
        '%post --erroronfail',
        'echo done',
        '%end',
        '',
      ].join('\n'),
    );
    assert.equal(fs.readFileSync(path.join(out, 'iso-tree/.discinfo'), 'utf8').split('\n').slice(1).join('\n'), '42\nx86_64\n');
  });

  it('grub2.iso: shim/MokManager/grub per architecture from the build root, grub.cfg and BOOT.cfg', () => {
    const b = path.join(out, 'efiboot/EFI/BOOT');
    assert.deepEqual(fs.readdirSync(b).sort(), ['BOOT.cfg', 'BOOTIA32.EFI', 'BOOTX64.EFI', 'fonts', 'grub.cfg', 'grubia32.efi', 'grubx64.efi', 'mmia32.efi', 'mmx64.efi']);
    assert.equal(fs.readFileSync(path.join(b, 'BOOTX64.EFI'), 'utf8'), 'shim for x64\n');
    assert.equal(fs.readFileSync(path.join(b, 'grubia32.efi'), 'utf8'), 'gcd for ia32\n');
    assert.equal(fs.readFileSync(path.join(b, 'fonts/unicode.pf2'), 'utf8'), 'font');
    const cfg = fs.readFileSync(path.join(b, 'grub.cfg'), 'utf8');
    assert.equal(fs.readFileSync(path.join(b, 'BOOT.cfg'), 'utf8'), cfg);
    assert.match(cfg, /^set default="0"$/m);
    assert.match(cfg, /^set timeout=5$/m);
    assert.match(cfg, /^search --no-floppy --set=root -l 'KILN-42'$/m);
    assert.match(cfg, /^ {2}insmod efi_gop$/m);
    assert.match(cfg, /^menuentry 'Install Kiln 42' --class fedora --class gnu-linux --class gnu --class os \{\n\tlinux \/images\/pxeboot\/vmlinuz inst\.stage2=hd:LABEL=KILN-42 inst\.ks=hd:LABEL=KILN-42:\/osbuild\.ks quiet\n\tinitrd \/images\/pxeboot\/initrd\.img\n\}$/m);
    assert.match(cfg, /^menuentry 'Test this media & install Kiln 42'.*\n\tlinux .* rd\.live\.check quiet$/m);
    assert.match(cfg, /^submenu 'Troubleshooting -->' \{$/m);
    assert.match(cfg, /\tmenuentry 'Rescue a Kiln system'.*\n\t\tlinux .* inst\.rescue quiet/);
    assert.doesNotMatch(cfg, /fips=1|chainloader/);
  });

  it('grub2.iso.legacy: BIOS modules from the build root and the BIOS menu', () => {
    const g = path.join(out, 'bios/boot/grub2');
    assert.equal(fs.readFileSync(path.join(g, 'i386-pc/normal.mod'), 'utf8'), 'mod');
    const cfg = fs.readFileSync(path.join(g, 'grub.cfg'), 'utf8');
    assert.match(cfg, /^set timeout=60$/m);
    assert.match(cfg, /^insmod chain$/m);
    assert.doesNotMatch(cfg, /set default|Test this media|efi_gop/);
    assert.match(cfg, /menuentry 'Install Kiln 42 in FIPS mode'.*\n\tlinux .* quiet fips=1\n/);
    assert.match(cfg, /menuentry 'Custom Kiln' .*\{\n\tlinux \/images\/pxeboot\/vmlinuz custom=1\n\tinitrd \/images\/pxeboot\/initrd\.img\n\}/);
    assert.match(cfg, /\tmenuentry 'Boot first drive'.*\n\t\tchainloader \(hd0\)\+1/);
  });

  it('xorrisofs: the ISO holds the tree, volume id, BIOS and UEFI El Torito entries (xorriso)', () => {
    const iso = path.join(out, 'iso/kiln.iso');
    const files = execFileSync('xorriso', ['-indev', iso, '-find', '/', '-type', 'f'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    for (const f of ['/images/install.img', '/osbuild.ks', '/.discinfo', '/EFI/BOOT/grub.cfg', '/EFI/BOOT/BOOTX64.EFI', '/boot/grub2/grub.cfg', '/images/eltorito.img']) assert.match(files, new RegExp(`^'${f.replace(/\./g, '\\.')}'$`, 'm'), f);
    const pvd = execFileSync('xorriso', ['-indev', iso, '-pvd_info'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    assert.match(pvd, /^Volume Id\s*:\s*KILN-42$/m);
    assert.match(pvd, /^System Id\s*:\s*LINUX$/m);
    const et = execFileSync('xorriso', ['-indev', iso, '-report_el_torito', 'plain'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    assert.match(et, /El Torito boot img :\s+1\s+BIOS/);
    assert.match(et, /El Torito boot img :\s+2\s+UEFI/);
    // the EFI image is also GPT partition 2 (appended), as osbuild's grub2 layout makes it
    const parts = execFileSync('sfdisk', ['--dump', iso], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    assert.match(parts, /type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B/i);
    assert.equal(report.pipelines.iso!.stages[0]!.metadata?.layout, 'grub2');
  });
});

describe('executor: installer stages that need tools or files', () => {
  let dir = '';
  before(() => {
    dir = fs.mkdtempSync(`${BASE_TMP}/kiln-exec-iso-tools-`);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  let n = 0;

  async function build(stages: Stage[], buildStages?: Stage[]): Promise<string> {
    const store = path.join(dir, `store${++n}`);
    const out = path.join(dir, `out${n}`);
    const pipelines: Pipeline[] = [{ name: 'src', stages: [{ type: 'kiln.test.installer-root' }] }];
    if (buildStages) pipelines.push({ name: 'br', stages: buildStages });
    pipelines.push({ name: 'p', ...(buildStages ? { build: 'name:br' } : {}), stages });
    try {
      await runManifest({ version: '2', sources: {}, pipelines } as Manifest, { store, outputDir: out, exports: ['p'], buildroot: buildStages ? 'bwrap' : 'host', handleSignals: false });
    } finally {
      // failed or not: no mount (dracut's /dev, /proc, /sys binds) and no temp dir left behind
      assertNoLeaks(dir, store);
    }
    return path.join(out, 'p');
  }

  it('implantisomd5: implants a checksum checkisomd5 accepts, or fails naming isomd5sum', async () => {
    const stages: Stage[] = [
      { type: 'org.osbuild.xorrisofs', options: { filename: 'a.iso', volid: 'A' }, inputs: { tree: tree('src') } },
      { type: 'org.osbuild.implantisomd5', options: { filename: 'a.iso' } },
    ];
    if (!onPath('implantisomd5')) {
      await assert.rejects(build(stages), /stage 2 \(org\.osbuild\.implantisomd5\).*"implantisomd5" not found in the host \(install isomd5sum\)/);
      return;
    }
    const t = await build(stages);
    execFileSync('checkisomd5', ['--verbose', path.join(t, 'a.iso')], { stdio: 'ignore' });
  });

  it('erofs: an image mkfs.erofs made, or a failure naming erofs-utils', async () => {
    const stages: Stage[] = [{ type: 'org.osbuild.erofs', options: { filename: 'images/install.img', compression: { method: 'lz4hc', level: 9 }, exclude_paths: ['usr/share/doc/.*'] }, inputs: { tree: tree('src') } }];
    if (!onPath('mkfs.erofs')) {
      await assert.rejects(build(stages), /org\.osbuild\.erofs\).*"mkfs\.erofs" not found in the host \(install erofs-utils\)/);
      return;
    }
    const t = await build(stages);
    const img = fs.readFileSync(path.join(t, 'images/install.img'));
    // EROFS superblock magic 0xE0F5E1E2 at offset 1024 (little endian)
    assert.equal(img.readUInt32LE(1024), 0xe0f5e1e2);
  });

  it("dracut runs the tree's dracut chrooted, with osbuild's flags, and releases its mounts", async (t) => {
    if (!fs.existsSync('/lib64/ld-linux-x86-64.so.2')) return t.skip('no x86_64 loader to build a chroot shell');
    const tr = await build([
      { type: 'kiln.test.dracut-tree' },
      { type: 'org.osbuild.dracut', options: { kernel: ['6.1.0'], add_modules: ['anaconda', 'dmsquash-live'], install: ['/.buildstamp'], extra: ['--xz'] } },
    ]);
    assert.equal(
      fs.readFileSync(path.join(tr, 'boot/initramfs-6.1.0.img'), 'utf8'),
      'fake dracut --no-hostonly --kver 6.1.0 --force -v --show-modules --no-early-microcode --reproducible --add anaconda dmsquash-live --install /.buildstamp --xz\n',
    );
    assert.deepEqual(fs.readdirSync(path.join(tr, 'proc')), [], 'the /proc bind is gone');
    assert.equal(fs.readFileSync(path.join(tr, 'usr/bin/logger'), 'utf8'), 'logger', 'logger is bound over only while dracut runs');
  });

  it('dracut without dracut in the tree fails naming /usr/bin/dracut', async () => {
    await assert.rejects(build([{ type: 'kiln.test.installer-root' }, { type: 'org.osbuild.dracut', options: { kernel: ['6.1.0'], add_modules: ['anaconda'] } }]), /org\.osbuild\.dracut\).*\/usr\/bin\/dracut not found in the tree/);
  });

  it('lorax-script without lorax templates in the build root fails naming the template', async () => {
    await assert.rejects(build([{ type: 'org.osbuild.lorax-script', options: { path: '99-generic/runtime-postinstall.tmpl', basearch: 'x86_64' } }]), /org\.osbuild\.lorax-script\).*template \/usr\/share\/lorax\/templates\.d\/99-generic\/runtime-postinstall\.tmpl is not in the host \(needs the lorax package\)/);
  });

  it('lorax-script with the template but no python3 in the build root says so', async () => {
    await assert.rejects(
      build([{ type: 'org.osbuild.lorax-script', options: { path: 'x/post.tmpl' } }], [{ type: 'kiln.test.lorax-root' }]),
      /org\.osbuild\.lorax-script\).*python3 not found in the build root/,
    );
  });

  it('grub2.iso on a host without shim fails naming the missing file', async () => {
    if (fs.existsSync('/boot/efi/EFI/nosuchvendor')) return;
    await assert.rejects(build([{ type: 'org.osbuild.grub2.iso', options: { ...menu, architectures: ['X64'], vendor: 'nosuchvendor' } }]), /org\.osbuild\.grub2\.iso\).*\/boot\/efi\/EFI\/nosuchvendor\/shimx64\.efi is missing from the host/);
  });

  it('selinux.config without /etc/selinux/config fails', async () => {
    await assert.rejects(build([{ type: 'org.osbuild.selinux.config', options: { state: 'disabled' } }]), /selinux\.config\).*no \/etc\/selinux\/config/);
  });

  const bad: [string, Stage, RegExp][] = [
    ['squashfs with an unknown method', { type: 'org.osbuild.squashfs', options: { filename: 'a', compression: { method: 'brotli' } }, inputs: { tree: tree('src') } }, /squashfs\).*"compression\.method" must be one of gzip, lz4, xz, zstd/],
    ['squashfs with a bad source', { type: 'org.osbuild.squashfs', options: { filename: 'a', source: 'tree:///x' }, inputs: { tree: tree('src') } }, /squashfs\).*option "source" must be a mount:\/\/ or input:\/\//],
    ['erofs with an unknown extended option', { type: 'org.osbuild.erofs', options: { filename: 'a', options: ['turbo'] }, inputs: { tree: tree('src') } }, /erofs\).*unknown extended option "turbo"/],
    ['xorrisofs with isolevel 7', { type: 'org.osbuild.xorrisofs', options: { filename: 'a.iso', volid: 'A', isolevel: 7 }, inputs: { tree: tree('src') } }, /xorrisofs\).*option "isolevel" must be 1 to 4/],
    ['xorrisofs without volid', { type: 'org.osbuild.xorrisofs', options: { filename: 'a.iso' }, inputs: { tree: tree('src') } }, /xorrisofs\).*option "volid" is required/],
    ['kickstart with an unknown key', { type: 'org.osbuild.kickstart', options: { path: 'a.ks', firewall: true } }, /kickstart\).*unknown option "firewall"/],
    ['kickstart ostree without ref', { type: 'org.osbuild.kickstart', options: { path: 'a.ks', ostree: { osname: 'a', url: 'u' } } }, /kickstart\).*option "ostree\.ref" is required/],
    ['kickstart with a bad user name', { type: 'org.osbuild.kickstart', options: { path: 'a.ks', users: { 'a b': {} } } }, /kickstart\).*invalid user name "a b"/],
    ['buildstamp without final', { type: 'org.osbuild.buildstamp', options: { arch: 'x', product: 'p', version: '1' } }, /buildstamp\).*option "final" is required/],
    ['grub2.iso without vendor', { type: 'org.osbuild.grub2.iso', options: { ...menu, architectures: ['X64'] } }, /grub2\.iso\).*option "vendor" is required/],
    ['grub2.iso.legacy with an unknown platform', { type: 'org.osbuild.grub2.iso.legacy', options: { ...menu, platform: 'arm-uboot' } }, /grub2\.iso\.legacy\).*option "platform" must be one of/],
    ['selinux.config with a bad state', { type: 'org.osbuild.selinux.config', options: { state: 'on' } }, /selinux\.config\).*option "state" must be one of/],
    ['anaconda with an empty module list', { type: 'org.osbuild.anaconda', options: { 'kickstart-modules': [] } }, /anaconda\).*option "kickstart-modules" must be a non-empty array/],
    ['dracut without kernel', { type: 'org.osbuild.dracut', options: {} }, /dracut\).*option "kernel" is required/],
    ['lorax-script with an absolute path', { type: 'org.osbuild.lorax-script', options: { path: '/etc/passwd' } }, /lorax-script\).*option "path" "\/etc\/passwd" must be relative/],
    ['implantisomd5 without filename', { type: 'org.osbuild.implantisomd5', options: {} }, /implantisomd5\).*option "filename" is required/],
  ];
  for (const [name, stage, re] of bad) {
    it(`rejects ${name} before running anything`, async () => {
      await assert.rejects(build([stage]), re);
    });
  }
});

registerStage({
  type: 'kiln.test.dracut-tree',
  async run(ctx) {
    installShell(ctx.tree);
    installFakeDracut(ctx.tree);
    w(ctx.tree, 'usr/lib/modules/6.1.0/modules.dep', '');
    w(ctx.tree, 'usr/bin/logger', 'logger');
    w(ctx.tree, 'usr/bin/true', 'true');
    fs.mkdirSync(path.join(ctx.tree, 'boot'), { recursive: true });
  },
});
registerStage({
  type: 'kiln.test.lorax-root',
  async run(ctx) {
    w(ctx.tree, 'usr/share/lorax/templates.d/x/post.tmpl', 'mkdir /x\n');
    fs.mkdirSync(path.join(ctx.tree, 'usr/bin'), { recursive: true });
  },
});

describe('lorax template commands', () => {
  let dir = '';
  before(() => {
    dir = fs.mkdtempSync(`${BASE_TMP}/kiln-exec-lorax-`);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('shell splitting, brace expansion and fnmatch follow lorax (shlex, its brace_expand, fnmatch)', () => {
    assert.deepEqual(shellSplit(`append "/etc/a b" 'x y\\n' c\\ d`), ['append', '/etc/a b', 'x y\\n', 'c d']);
    assert.deepEqual(braceExpand('/usr/{bin,sbin}/x{1,2}'), ['/usr/bin/x1', '/usr/bin/x2', '/usr/sbin/x1', '/usr/sbin/x2']);
    assert.deepEqual(braceExpand('{a}'), ['{a}']);
    assert.ok(fnmatchRe('/usr/bin/*').test('/usr/bin/sub/x'));
    assert.ok(!fnmatchRe('kernel-[!m]*').test('kernel-modules'));
  });

  it('runs mkdir, append, replace, symlink, move, install, remove (rpmdb kept) and ignores "-" failures', async () => {
    const t = path.join(dir, 'tree');
    const src = path.join(dir, 'src');
    w(src, 'share/a.conf', 'A\n');
    w(t, 'etc/motd', 'Welcome to @PRODUCT@ @VERSION@\n');
    w(t, 'var/lib/rpm/rpmdb.sqlite', 'db');
    w(t, 'usr/share/doc/x/README', 'r');
    w(t, 'usr/share/doc/y/README', 'r');
    const logs: string[] = [];
    const ctx = {
      what: 'pipeline "p", stage 1 (org.osbuild.lorax-script)',
      tree: t,
      buildroot: { mode: 'host', hasTool: () => false },
      toSandbox: (p: string) => p,
      log: (m: string) => logs.push(m),
      run: async () => {
        throw new Error('no tools in this test');
      },
    } as unknown as StageContext;
    const script = [
      '# a comment',
      'mkdir /a/{b,c}',
      'append /etc/issue "line1\\nline2"',
      'replace @PRODUCT@ Kiln /etc/motd',
      'replace "(\\d+)?@VERSION@" "v42" /etc/motd',
      'symlink ../a/b /etc/blink',
      'move /etc/issue /a/c',
      `install ${src}/share/*.conf /a/b`,
      'remove /usr/share/doc/* /var/lib/rpm/rpmdb.sqlite',
      '-removepkg nosuchpkg',
      'runcmd cp /boot/vmlinuz /x',
    ].join('\n');
    const n = await runLoraxScript(ctx, script, 'test.tmpl');
    assert.equal(n, 10);
    assert.ok(fs.statSync(path.join(t, 'a/b')).isDirectory());
    assert.equal(fs.readFileSync(path.join(t, 'a/c/issue'), 'utf8'), 'line1\nline2\n');
    assert.equal(fs.readFileSync(path.join(t, 'etc/motd'), 'utf8'), 'Welcome to Kiln v42\n');
    assert.equal(fs.readlinkSync(path.join(t, 'etc/blink')), '../a/b');
    assert.equal(fs.readFileSync(path.join(t, 'a/b/a.conf'), 'utf8'), 'A\n');
    assert.deepEqual(fs.readdirSync(path.join(t, 'usr/share/doc')), []);
    assert.ok(fs.existsSync(path.join(t, 'var/lib/rpm/rpmdb.sqlite')), 'the rpm database is never removed');
    assert.ok(logs.some((l) => /skipping operations on \/boot/.test(l)));
    await assert.rejects(runLoraxScript(ctx, 'replace X Y /nothing/*', 'test.tmpl'), /test\.tmpl, command 1 "replace X Y \/nothing\/\*": no match for X/);
    await assert.rejects(runLoraxScript(ctx, 'frobnicate /x', 'test.tmpl'), /command 1 "frobnicate \/x": unknown command "frobnicate"/);
  });
});
