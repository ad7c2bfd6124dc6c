// Boot loader and tool-driven OS stages: grub2 (files read back with our own parser of the
// grubenv format and a shell for /etc/default/grub), grub2.inst with a bubblewrap build root
// holding a stand-in grub2-mkimage (the MBR and core bytes checked), and the stages that run the
// tree's own tools chrooted (firewall, bootupd.gen-metadata) with stand-in tools that log.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import type { Manifest, Pipeline, Stage } from '../src/manifest/types.js';
import { runManifest } from '../src/executor/run.js';
import { registerStage } from '../src/executor/stages/index.js';
import { OS_STAGES } from '../src/executor/stages/registry-os.js';
import { assertNoLeaks, collect, mkTmp, sh, tmpEntries } from './executor-helpers.js';

for (const s of OS_STAGES) registerStage(s);

type Entry = string | { data?: string; mode?: number; link?: string; host?: string; size?: number };

// test-only: files (text, symlinks, zero-filled images, copies of host files) into the tree
registerStage({
  type: 'kiln.test.put',
  async run(ctx) {
    for (const [p, v] of Object.entries(ctx.options.files as Record<string, Entry>)) {
      const f = path.join(ctx.tree, p);
      fs.mkdirSync(path.dirname(f), { recursive: true });
      const e = typeof v === 'string' ? { data: v } : v;
      if (e.link !== undefined) fs.symlinkSync(e.link, f);
      else if (e.host) fs.copyFileSync(fs.realpathSync(e.host), f);
      else if (e.size !== undefined) fs.writeFileSync(f, Buffer.alloc(e.size));
      else fs.writeFileSync(f, e.data ?? '');
      if (e.mode !== undefined) fs.chmodSync(f, e.mode);
    }
  },
});
const put = (files: Record<string, Entry>): Stage => ({ type: 'kiln.test.put', options: { files } });

/** /bin/sh (the host's dash) and the libraries it needs, at the same paths, for a chroot or sandbox. */
function shellFiles(): Record<string, Entry> {
  const files: Record<string, Entry> = { '/bin/sh': { host: '/bin/dash', mode: 0o755 }, '/usr/bin/sh': { host: '/bin/dash', mode: 0o755 } };
  for (const line of sh('ldd', ['/bin/dash']).split('\n')) {
    const m = /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(line);
    if (m) files[m[1]!] = { host: m[1]!, mode: 0o755 };
  }
  return files;
}

/** Parse a grubenv block our own way: 1024 bytes, header line, name=value lines, '#' padding. */
function parseGrubenv(buf: Buffer): Record<string, string> {
  assert.equal(buf.length, 1024, 'grubenv is a 1024-byte block');
  const text = buf.toString('utf8');
  const lines = text.split('\n');
  assert.equal(lines[0], '# GRUB Environment Block');
  const vars: Record<string, string> = {};
  for (const l of lines.slice(1, -1)) {
    const eq = l.indexOf('=');
    assert.ok(eq > 0, `grubenv line "${l}" is name=value`);
    vars[l.slice(0, eq)] = l.slice(eq + 1);
  }
  assert.match(lines[lines.length - 1]!, /^#*$/, 'the rest is # padding');
  return vars;
}

const ROOT = 'e6463e7f-89ed-4d83-b76d-ed4773971f85';
const BOOT = 'd57d3d0b-77b8-4557-ae77-7f2938d7549e';

describe('executor OS stages: boot loader and tools', () => {
  const dir = mkTmp('stages-os-boot');
  const tmpBefore = tmpEntries(dir);
  let n = 0;
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  async function runPipes(pipelines: Pipeline[], exportName: string, buildroot: 'host' | 'bwrap' = 'host'): Promise<string> {
    const out = path.join(dir, `out${++n}`);
    const store = path.join(dir, `store${n}`);
    const m: Manifest = { version: '2', sources: {}, pipelines };
    const ev = collect();
    try {
      await runManifest(m, { store, outputDir: out, exports: [exportName], buildroot, handleSignals: false, onEvent: ev.on });
    } finally {
      assertNoLeaks(dir, store, tmpBefore);
    }
    return path.join(out, exportName);
  }
  const build = (stages: Stage[]): Promise<string> => runPipes([{ name: 'p', stages }], 'p');
  const read = (tree: string, p: string): string => fs.readFileSync(path.join(tree, p), 'utf8');

  it('grub2 (as minimal-raw emits it): defaults, grubenv, main config on /boot, ESP redirect', async () => {
    const savedEntry = 'ffffffffffffffffffffffffffffffff-6.14.0-63.fc42.x86_64';
    const tree = await build([
      put({ '/boot/efi/EFI/fedora/.keep': '' }),
      { type: 'org.osbuild.grub2', options: { root_fs_uuid: ROOT, boot_fs_uuid: BOOT, kernel_opts: 'ro kiln.test=1', uefi: { vendor: 'fedora', unified: true }, saved_entry: savedEntry, write_cmdline: false, config: { default: 'saved', timeout: 5, serial: 'serial --unit=0 --speed=115200', terminal_input: ['serial'] }, compat_version: 2 } },
    ]);
    const defaults = sh('sh', ['-c', '. "$1"; printf "%s|%s|%s|%s" "$GRUB_CMDLINE_LINUX" "$GRUB_TIMEOUT" "$GRUB_ENABLE_BLSCFG" "$GRUB_DEFAULT"', 'sh', path.join(tree, 'etc/default/grub')]);
    assert.equal(defaults, 'ro kiln.test=1|5|true|saved');
    assert.deepEqual(parseGrubenv(fs.readFileSync(path.join(tree, 'boot/grub2/grubenv'))), { saved_entry: savedEntry });
    const cfg = read(tree, 'boot/grub2/grub.cfg');
    // grub finds its file system (the separate /boot) by UUID, then reads the BLS entries
    assert.match(cfg, new RegExp(`^search --no-floppy --set=root --fs-uuid ${BOOT}$`, 'm'));
    assert.match(cfg, /^set timeout=5$/m);
    assert.match(cfg, /^load_env$/m);
    assert.match(cfg, /set default="\$\{saved_entry\}"/);
    assert.match(cfg, /^blscfg$/m);
    assert.doesNotMatch(cfg, /\$\{(serial|terminal_input|terminal_output)\}/, 'compat_version 2 leaves no template variables');
    assert.match(cfg, /^serial --unit=0 --speed=115200$/m);
    assert.match(cfg, /^terminal_input serial$/m);
    const esp = read(tree, 'boot/efi/EFI/fedora/grub.cfg');
    // /boot is its own file system, so grub's paths there start at /grub2
    assert.match(esp, /^search --no-floppy --set prefix --file \/grub2\/grub\.cfg$/m);
    assert.match(esp, /^set prefix=\(\$prefix\)\/grub2$/m);
    assert.match(esp, /^configfile \$prefix\/grub\.cfg$/m);
  });

  it('grub2: UEFI-only config in the ESP, kernelopts in grubenv, greenboot, ignition, terminals; grubenv link written through inside the tree', async () => {
    const tree = await build([
      // grub2-efi's link from /boot/grub2/grubenv into the ESP, absolute: must resolve in the tree
      put({ '/boot/efi/EFI/fedora/.keep': '', '/boot/grub2/grubenv': { link: '/boot/efi/EFI/fedora/grubenv' } }),
      { type: 'org.osbuild.grub2', options: { rootfs: { label: 'root' }, kernel_opts: 'console=ttyS0', uefi: { vendor: 'fedora' }, greenboot: true, ignition: true, config: { terminal_output: ['console', 'serial'], serial: 'serial --speed=115200' } } },
    ]);
    assert.equal(fs.existsSync(path.join(tree, 'boot/grub2/grub.cfg')), false, 'without unified/hybrid the main config is in the ESP only');
    assert.equal(fs.lstatSync(path.join(tree, 'boot/grub2/grubenv')).isSymbolicLink(), true, 'the link is kept');
    assert.deepEqual(parseGrubenv(fs.readFileSync(path.join(tree, 'boot/efi/EFI/fedora/grubenv'))), { kernelopts: 'root=LABEL=root console=ttyS0' });
    const cfg = read(tree, 'boot/efi/EFI/fedora/grub.cfg');
    assert.match(cfg, /^search --no-floppy --set=root --label root$/m);
    assert.match(cfg, /^insmod increment$/m);
    assert.match(cfg, /save_env boot_success/);
    // no separate /boot: the ignition flag file is under /boot/ on the root file system
    assert.match(cfg, /^if \[ -f "\/boot\/ignition\.firstboot" \]; then$/m);
    assert.match(cfg, /^terminal_output console serial$/m);
    // compat_version 1 (the default) keeps osbuild's old output: unset variables stay verbatim
    assert.match(cfg, /^serial --speed=115200\$\{terminal_input\}$/m);
    assert.match(read(tree, 'etc/default/grub'), /^GRUB_TERMINAL_OUTPUT="console serial"$/m);
  });

  it('grub2 legacy on the host without grub modules is an error naming the missing directory', async () => {
    if (fs.existsSync('/usr/lib/grub/i386-pc')) return; // this host has grub: covered by the bwrap test below
    await assert.rejects(
      build([{ type: 'org.osbuild.grub2', options: { root_fs_uuid: ROOT, legacy: 'i386-pc', uefi: { vendor: 'fedora', unified: true } } }]),
      /stage 1 \(org\.osbuild\.grub2\).*"legacy".*\/usr\/lib\/grub\/i386-pc.*does not exist/,
    );
  });

  it('grub2.inst without grub2-mkimage in the build root is an error naming the tool', async () => {
    if (sh('sh', ['-c', 'command -v grub2-mkimage || command -v grub-mkimage || true']).trim()) return; // host has the tool
    await assert.rejects(
      build([put({ '/disk.img': { size: 2 * 1024 * 1024 } }), { type: 'org.osbuild.grub2.inst', options: { filename: 'disk.img', platform: 'i386-pc', location: 2048, core: { type: 'mkimage', partlabel: 'gpt', filesystem: 'ext4' }, prefix: { type: 'partition', partlabel: 'gpt', number: 2, path: '/grub2' } } }]),
      /org\.osbuild\.grub2\.inst\): grub2-mkimage is not in the build root/,
    );
  });

  // a build root with a shell, a stand-in grub2-mkimage that writes its arguments as the core,
  // and grub's i386-pc files
  const MKIMAGE = '#!/bin/sh\nout=\nprev=\nfor a in "$@"; do [ "$prev" = "--output" ] && out="$a"; prev="$a"; done\nprintf "CORE %s\\n" "$*" > "$out"\n';
  const bootImg = Buffer.alloc(512, 0xb0);
  bootImg.write('BOOTIMG', 0);
  const buildRoot = (): Pipeline => ({
    name: 'broot',
    stages: [
      put({
        ...shellFiles(),
        '/usr/bin/grub2-mkimage': { data: MKIMAGE, mode: 0o755 },
        '/usr/lib/grub/i386-pc/normal.mod': 'normal module',
        '/usr/lib/grub/i386-pc/moddep.lst': 'normal: ',
        '/usr/lib/grub/i386-pc/fdt.lst': '',
        '/usr/lib/grub/i386-pc/kernel.img': 'not a module',
        '/usr/share/grub/unicode.pf2': 'font',
      }),
      { type: 'kiln.test.latin1-fix', options: {} },
    ],
  });
  // boot.img needs its exact (binary) bytes
  registerStage({
    type: 'kiln.test.latin1-fix',
    async run(ctx) {
      fs.writeFileSync(path.join(ctx.tree, 'usr/lib/grub/i386-pc/boot.img'), bootImg);
    },
  });

  it('grub2.inst in a bwrap build root: core at the BIOS boot partition, boot.img in the MBR, sectors patched; grub2 legacy copies modules and font', async () => {
    const tree = await runPipes(
      [
        buildRoot(),
        {
          name: 'img',
          build: 'name:broot',
          stages: [
            put({ '/disk.img': { size: 4 * 1024 * 1024 } }),
            { type: 'org.osbuild.grub2.inst', options: { filename: 'disk.img', platform: 'i386-pc', location: 2048, core: { type: 'mkimage', partlabel: 'gpt', filesystem: 'ext4' }, prefix: { type: 'partition', partlabel: 'gpt', number: 2, path: '/grub2' } } },
            { type: 'org.osbuild.grub2', options: { root_fs_uuid: ROOT, boot_fs_uuid: BOOT, legacy: 'i386-pc', uefi: { vendor: 'fedora', unified: true }, compat_version: 2 } },
          ],
        },
      ],
      'img',
      'bwrap',
    );
    const img = fs.readFileSync(path.join(tree, 'disk.img'));
    assert.equal(img.length, 4 * 1024 * 1024, 'the image keeps its size');
    // stage 1 in the first 440 bytes, with the core's sector patched in at 0x5c
    const stage1 = Buffer.from(bootImg.subarray(0, 440));
    stage1.writeBigUInt64LE(2048n, 0x5c);
    assert.deepEqual(img.subarray(0, 440), stage1);
    assert.equal(img.readBigUInt64LE(0x5c), 2048n, 'stage 1 knows the core sector');
    assert.deepEqual(img.subarray(440, 512), Buffer.alloc(72), 'the partition table area is untouched');
    const core = img.subarray(2048 * 512, 2048 * 512 + 500).toString('latin1').replace(/\0+$/, '');
    assert.match(core, /^CORE --verbose --directory \/usr\/lib\/grub\/i386-pc --prefix \(,gpt3\)\/grub2 --format i386-pc --compression auto --output \/run\/osbuild\/tree\/\.kiln-grub2-core-\w+\/core\.img biosdisk part_gpt ext2\n$/);
    assert.equal(img.readBigUInt64LE(2048 * 512 + 500), 2049n, "the core's next sector is patched in");
    assert.deepEqual(fs.readdirSync(tree).sort(), ['boot', 'disk.img', 'etc'], 'no working files are left in the tree');
    // grub2 legacy: modules and lists copied from the build root, not fdt.lst or images
    assert.deepEqual(fs.readdirSync(path.join(tree, 'boot/grub2/i386-pc')).sort(), ['moddep.lst', 'normal.mod']);
    assert.equal(read(tree, 'boot/grub2/fonts/unicode.pf2'), 'font');
    // hybrid: the ESP has the redirect, /boot/grub2 the main config and the only grubenv
    assert.match(read(tree, 'boot/efi/EFI/fedora/grub.cfg'), /configfile \$prefix\/grub\.cfg/);
    assert.match(read(tree, 'boot/grub2/grub.cfg'), /^blscfg$/m);
    assert.equal(fs.lstatSync(path.join(tree, 'boot/grub2/grubenv')).isFile(), true);
  });

  // ----------------------------------------------------------------------------------------
  // tools of the tree, run chrooted

  const FW = '#!/bin/sh\n[ -r /proc/self/stat ] || exit 5\nprintf "%s\\n" "$*" >> /fw.log\ncase "$1" in --info-zone=newzone) exit 112;; esac\nexit 0\n';

  it('firewall: runs the tree\'s firewall-offline-cmd chrooted with osbuild\'s arguments; a missing tool is an error', async () => {
    const tree = await build([
      put({ ...shellFiles(), '/usr/bin/firewall-offline-cmd': { data: FW, mode: 0o755 } }),
      { type: 'org.osbuild.firewall', options: { default_zone: 'public', ports: ['22:tcp', '8000-8010:udp'], enabled_services: ['ssh'], disabled_services: ['telnet'], zones: [{ name: 'trusted', sources: ['10.0.0.0/8'] }, { name: 'newzone', sources: ['192.168.1.0/24'] }] } },
    ]);
    assert.deepEqual(read(tree, 'fw.log').trim().split('\n'), [
      '--set-default-zone=public',
      '--port=22:tcp --port=8000-8010:udp --service=ssh --remove-service=telnet',
      '--info-zone=trusted',
      '--zone=trusted --add-source=10.0.0.0/8',
      '--info-zone=newzone',
      '--new-zone=newzone',
      '--zone=newzone --add-source=192.168.1.0/24',
    ]);
    await assert.rejects(build([put({ '/etc/firewalld/firewalld.conf': 'DefaultZone=public\n' }), { type: 'org.osbuild.firewall', options: { ports: ['22:tcp'] } }]), /org\.osbuild\.firewall\): firewall-offline-cmd is not in the tree/);
  });

  it('bootupd.gen-metadata: runs the tree\'s bootupctl chrooted with /proc bound (and unbound after); no tool or no metadata is an error', async () => {
    const real = '#!/bin/sh\n[ "$*" = "backend generate-update-metadata /" ] || exit 3\n[ -r /proc/self/stat ] || exit 4\nprintf \'{"version":"x"}\' > /usr/lib/bootupd/updates/EFI.json\n';
    const tree = await build([put({ ...shellFiles(), '/usr/bin/bootupctl': { data: real, mode: 0o755 }, '/usr/lib/bootupd/updates/.keep': '' }), { type: 'org.osbuild.bootupd.gen-metadata', options: {} }]);
    assert.equal(read(tree, 'usr/lib/bootupd/updates/EFI.json'), '{"version":"x"}');
    assert.equal(fs.readdirSync(path.join(tree, 'proc')).length, 0, '/proc is unmounted again');
    // a placeholder that does nothing must not pass for bootupd
    const placeholder = '#!/bin/sh\necho "bootupctl: placeholder" >&2\nexit 0\n';
    await assert.rejects(build([put({ ...shellFiles(), '/usr/bin/bootupctl': { data: placeholder, mode: 0o755 } }), { type: 'org.osbuild.bootupd.gen-metadata', options: {} }]), /bootupd\.gen-metadata\): bootupctl .* wrote no \/usr\/lib\/bootupd\/updates\/\*\.json/);
    await assert.rejects(build([put({ '/etc/os-release': '' }), { type: 'org.osbuild.bootupd.gen-metadata', options: {} }]), /bootupd\.gen-metadata\): \/usr\/bin\/bootupctl is not in the tree/);
  });
});
