// Host build root fixes for the boot stages, with real tools:
//  * grub2.inst with the host's grub (Debian: grub-mkimage, grub-pc-bin's modules) writes a real
//    core image into a real GPT disk image; `file`, sfdisk and grub's own boot.img/diskboot.img
//    bytes judge the result. grub2 legacy copies the host's real modules and font.
//  * bootupd.gen-metadata's native fallback (the tree's bootupctl cannot run): a tree made with
//    rpmbuild'd packages and the host's rpm; expected versions and timestamps come from the specs
//    written here (SOURCE_DATE_EPOCH as build time), not from the code under test.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Manifest, Stage } from '../src/manifest/types.js';
import { runManifest } from '../src/executor/run.js';
import { registerStage } from '../src/executor/stages/index.js';
import { assertNoLeaks, collect, mkTmp, sh, tmpEntries } from './executor-helpers.js';

type Entry = string | { data?: string; mode?: number; size?: number; host?: string };

// test-only: files (text, zero-filled images, copies of host files) and extra commands into the tree
registerStage({
  type: 'kiln.test.fix.put',
  async run(ctx) {
    for (const [p, v] of Object.entries((ctx.options.files ?? {}) as Record<string, Entry>)) {
      const f = path.join(ctx.tree, p);
      fs.mkdirSync(path.dirname(f), { recursive: true });
      const e = typeof v === 'string' ? { data: v } : v;
      if (e.host) fs.cpSync(e.host, f, { recursive: true });
      else if (e.size !== undefined) fs.writeFileSync(f, Buffer.alloc(e.size));
      else fs.writeFileSync(f, e.data ?? '');
      if (e.mode !== undefined) fs.chmodSync(f, e.mode);
    }
    for (const argv of (ctx.options.cmds ?? []) as string[][]) execFileSync(argv[0]!, argv.slice(1).map((a) => a.replaceAll('@TREE@', ctx.tree)), { stdio: 'pipe' });
  },
});
const put = (files: Record<string, Entry>, cmds: string[][] = []): Stage => ({ type: 'kiln.test.fix.put', options: { files, cmds } });

const hostMkimage = ['grub2-mkimage', 'grub-mkimage'].find((t) => sh('sh', ['-c', `command -v ${t} || true`]).trim());
const I386 = '/usr/lib/grub/i386-pc';
const haveGrub = !!hostMkimage && fs.existsSync(`${I386}/boot.img`) && fs.existsSync(`${I386}/diskboot.img`);

describe('executor boot stages on the host build root (fixes)', () => {
  const dir = mkTmp('stages-fix-boot');
  const tmpBefore = tmpEntries(dir);
  let n = 0;
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  async function build(stages: Stage[]): Promise<{ tree: string; ev: ReturnType<typeof collect> }> {
    const out = path.join(dir, `out${++n}`);
    const store = path.join(dir, `store${n}`);
    const m: Manifest = { version: '2', sources: {}, pipelines: [{ name: 'p', stages }] };
    const ev = collect();
    try {
      await runManifest(m, { store, outputDir: out, exports: ['p'], buildroot: 'host', handleSignals: false, onEvent: ev.on });
    } finally {
      assertNoLeaks(dir, store, tmpBefore);
    }
    return { tree: path.join(out, 'p'), ev };
  }
  const logs = (ev: ReturnType<typeof collect>): string[] => ev.of('log').map((e) => (e as { message: string }).message);

  // ------------------------------------------------------------------------------------------
  // grub2.inst / grub2 legacy with the host's real grub

  it('grub2.inst: the host grub (Debian name accepted) writes a real core into a GPT disk; boot.img in the MBR, blocklist patched', { skip: !haveGrub && 'no grub-mkimage/grub2-mkimage and i386-pc modules on this host' }, async () => {
    const sfdiskScript = 'label: gpt\nstart=2048, size=2048, type=21686148-6449-6E6F-744E-656564454649\nstart=4096, size=8192, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4\nstart=12288, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4\n';
    const { tree, ev } = await build([
      put({ '/disk.img': { size: 16 * 1024 * 1024 } }, [['sh', '-c', `printf '%s' '${sfdiskScript}' | sfdisk --no-reread --no-tell-kernel -q @TREE@/disk.img`]]),
      { type: 'org.osbuild.grub2.inst', options: { filename: 'disk.img', platform: 'i386-pc', location: 2048, core: { type: 'mkimage', partlabel: 'gpt', filesystem: 'ext4' }, prefix: { type: 'partition', partlabel: 'gpt', number: 1, path: '/grub2' } } },
    ]);
    const disk = path.join(tree, 'disk.img');
    const img = fs.readFileSync(disk);
    assert.equal(img.length, 16 * 1024 * 1024);
    // `file` sees an MBR boot sector (its magic names only GRUB legacy's stage 1, not GRUB 2's);
    // GRUB 2's boot.img is recognised by bytes: its short jump and its message strings
    assert.match(sh('file', ['-b', disk]), /^DOS\/MBR boot sector/);
    assert.deepEqual([...img.subarray(0, 3)], [0xeb, 0x63, 0x90], 'boot.img starts with jmp 0x65; nop');
    assert.ok(img.subarray(0, 440).includes(Buffer.from('GRUB \0Geom\0Hard Disk\0Read\0 Error')), 'GRUB 2 stage 1 strings in the MBR code');
    // boot.img's code, with the core's sector (2048) at 0x5c; the rest of the sector is the table
    const bootImg = fs.readFileSync(`${I386}/boot.img`);
    const expect = Buffer.from(bootImg.subarray(0, 440));
    expect.writeBigUInt64LE(2048n, 0x5c);
    assert.deepEqual(img.subarray(0, 440), expect);
    assert.equal(img.readUInt16LE(510), 0xaa55, 'MBR signature kept');
    // the partition table survives (protective MBR + GPT read back by sfdisk)
    const table = JSON.parse(sh('sfdisk', ['-J', disk])).partitiontable as { label: string; partitions: { start: number }[] };
    assert.equal(table.label, 'gpt');
    assert.deepEqual(table.partitions.map((p) => p.start), [2048, 4096, 12288]);
    // the core starts with diskboot.img (grub-mkimage fills only its blocklist), whose first
    // blocklist entry now points at the core's second sector
    const diskboot = fs.readFileSync(`${I386}/diskboot.img`);
    const core = img.subarray(2048 * 512);
    assert.deepEqual(core.subarray(0, 500), diskboot.subarray(0, 500), 'core begins with grub diskboot.img');
    assert.equal(core.readBigUInt64LE(500), 2049n, "the core's next sector is patched in");
    assert.ok(core.readUInt16LE(508) > 0, 'grub-mkimage set the number of core sectors to load');
    // the core fits its partition and something real follows the first sector
    const sectors = core.readUInt16LE(508) + 1;
    assert.ok(sectors <= 2048, `core (${sectors} sectors) fits the BIOS boot partition`);
    assert.ok(core.subarray(512, sectors * 512).some((b) => b !== 0), 'compressed core data follows');
    assert.ok(img.subarray(4096 * 512, 4096 * 512 + 1024 * 1024).every((b) => b === 0), 'the next partition is untouched');
    if (hostMkimage === 'grub-mkimage') assert.ok(logs(ev).some((l) => /no grub2-mkimage; using grub-mkimage/.test(l)), `log says grub-mkimage was used: ${logs(ev).join(' | ')}`);
    assert.deepEqual(fs.readdirSync(tree), ['disk.img'], 'no working files left in the tree');
  });

  it('grub2 legacy on the host: the host grub modules and unicode font are copied', { skip: !haveGrub && 'no grub on this host' }, async () => {
    const { tree } = await build([{ type: 'org.osbuild.grub2', options: { root_fs_uuid: 'e6463e7f-89ed-4d83-b76d-ed4773971f85', legacy: 'i386-pc', uefi: { vendor: 'fedora', unified: true }, compat_version: 2 } }]);
    const copied = fs.readdirSync(path.join(tree, 'boot/grub2/i386-pc')).sort();
    const want = fs.readdirSync(I386).filter((f) => /\.(mod|lst)$/.test(f) && f !== 'fdt.lst').sort();
    assert.deepEqual(copied, want);
    assert.deepEqual(fs.readFileSync(path.join(tree, 'boot/grub2/i386-pc/normal.mod')), fs.readFileSync(`${I386}/normal.mod`));
    assert.deepEqual(fs.readFileSync(path.join(tree, 'boot/grub2/fonts/unicode.pf2')), fs.readFileSync(fs.realpathSync('/usr/share/grub/unicode.pf2')));
  });

  it('grub2.inst: a platform without modules is an error naming the directories looked at', async () => {
    await assert.rejects(
      build([put({ '/disk.img': { size: 2 * 1024 * 1024 } }), { type: 'org.osbuild.grub2.inst', options: { filename: 'disk.img', platform: 'kiln-nosuch', location: 2048, core: { type: 'mkimage', partlabel: 'gpt', filesystem: 'ext4' }, prefix: { path: '/grub2' } } }]),
      hostMkimage ? /grub2\.inst\): the build root has no \/usr\/lib\/grub\/kiln-nosuch or \/usr\/lib\/grub2\/kiln-nosuch/ : /grub2\.inst\): grub2-mkimage is not in the build root \(host PATH; nor is grub-mkimage\)/,
    );
  });

  it('grub2.inst on a host without any grub mkimage: the error names both names', async () => {
    // a PATH with every host tool except grub's
    const bin = path.join(dir, 'nogrub-bin');
    fs.mkdirSync(bin);
    for (const d of ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin']) {
      if (!fs.existsSync(d)) continue;
      for (const f of fs.readdirSync(d)) if (!f.startsWith('grub') && !fs.existsSync(path.join(bin, f))) fs.symlinkSync(path.join(d, f), path.join(bin, f));
    }
    const saved = process.env.PATH;
    process.env.PATH = bin;
    try {
      await assert.rejects(
        build([put({ '/disk.img': { size: 2 * 1024 * 1024 } }), { type: 'org.osbuild.grub2.inst', options: { filename: 'disk.img', platform: 'i386-pc', location: 2048, core: { type: 'mkimage', partlabel: 'gpt', filesystem: 'ext4' }, prefix: { path: '/grub2' } } }]),
        /grub2\.inst\): grub2-mkimage is not in the build root \(host PATH; nor is grub-mkimage\); .*grub-pc-bin/,
      );
    } finally {
      process.env.PATH = saved;
    }
  });

  // ------------------------------------------------------------------------------------------
  // bootupd.gen-metadata native fallback

  const EPOCH_EFI = 1700000000;
  const EPOCH_SHIM = 1690000000;
  const EPOCH_GRUB = 1710000000;
  let top = '';
  const rpms: Record<string, string> = {};
  const nevra: Record<string, string> = {};

  function spec(name: string, version: string, files: Record<string, string>, epoch?: number): string {
    const install = Object.entries(files).map(([p, c]) => `mkdir -p %{buildroot}${path.dirname(p)}\nprintf '%s' '${c}' > %{buildroot}${p}\nchmod 0755 %{buildroot}${p}`).join('\n');
    return `Name: ${name}\nVersion: ${version}\nRelease: 1.fc42\n${epoch !== undefined ? `Epoch: ${epoch}\n` : ''}Summary: test ${name}\nLicense: MIT\n%description\ntest\n%install\n${install}\n%files\n${Object.keys(files).join('\n')}\n`;
  }

  before(() => {
    top = path.join(dir, 'rpmbuild');
    // the bootupctl placeholder has no #! line and is no ELF: the kernel refuses to execute it
    const pkgs: [string, string, Record<string, string>, number, number?][] = [
      ['shim-x64', '15.8', { '/boot/efi/EFI/BOOT/BOOTX64.EFI': 'shim', '/boot/efi/EFI/fedora/shimx64.efi': 'shim' }, EPOCH_SHIM],
      ['grub2-efi-x64', '2.12', { '/boot/efi/EFI/fedora/grubx64.efi': 'grub' }, EPOCH_EFI, 1],
      ['grub2-tools', '2.12', { '/usr/sbin/grub2-install': 'grub2-install' }, EPOCH_GRUB, 1],
      ['bootupd', '0.2.27', { '/usr/bin/bootupctl': 'not a program' }, EPOCH_EFI],
      ['stray', '1', { '/boot/efi/EFI/fedora/stray.txt': 'x' }, EPOCH_EFI],
    ];
    for (const [name, version, files, when, epoch] of pkgs) {
      const sp = path.join(dir, `${name}.spec`);
      fs.writeFileSync(sp, spec(name, version, files, epoch));
      execFileSync('rpmbuild', ['-bb', '--target', 'x86_64', '--define', `_topdir ${top}`, '--define', 'use_source_date_epoch_as_buildtime 1', '--define', '_buildhost kiln.test', sp], { stdio: 'ignore', env: { ...process.env, SOURCE_DATE_EPOCH: String(when) } });
      const rel = `${name}-${version}-1.fc42.x86_64.rpm`;
      rpms[name] = path.join(top, 'RPMS', 'x86_64', rel);
      assert.ok(fs.existsSync(rpms[name]!), rel);
      nevra[name] = `${name}-${epoch !== undefined ? `${epoch}:` : ''}${version}-1.fc42.x86_64`;
    }
  });

  /** Stages that install packages into the tree with the host rpm (the tree's db at /usr/lib/sysimage/rpm). */
  function install(names: string[], cmds: string[][] = []): Stage {
    return put({}, [['rpm', '--root', '@TREE@', '--dbpath', '/usr/lib/sysimage/rpm', '-i', '--nodeps', '--noscripts', '--ignorearch', ...names.map((x) => rpms[x]!)], ...cmds]);
  }
  const iso = (s: number): string => new Date(s * 1000).toISOString().replace('.000Z', 'Z');
  const gen: Stage = { type: 'org.osbuild.bootupd.gen-metadata', options: {} };

  it('bootupd fallback (ostree-boot payload): moves efi/EFI to updates/EFI, drops loader/grub2, EFI.json and BIOS.json from the rpm database', async () => {
    const { tree, ev } = await build([
      install(['shim-x64', 'grub2-efi-x64', 'grub2-tools', 'bootupd'], [
        // what ostree.preptree does: /boot's content to /usr/lib/ostree-boot
        ['sh', '-c', 'mkdir -p @TREE@/usr/lib/ostree-boot && mv @TREE@/boot/efi @TREE@/usr/lib/ostree-boot/ && mkdir -p @TREE@/usr/lib/ostree-boot/loader/entries @TREE@/usr/lib/ostree-boot/grub2 && touch @TREE@/usr/lib/ostree-boot/loader/entries/x.conf'],
      ]),
      gen,
    ]);
    const upd = path.join(tree, 'usr/lib/bootupd/updates');
    const efi = JSON.parse(fs.readFileSync(path.join(upd, 'EFI.json'), 'utf8'));
    assert.deepEqual(efi, { timestamp: iso(EPOCH_EFI), version: [nevra['grub2-efi-x64'], nevra['shim-x64']].sort().join(',') });
    const bios = JSON.parse(fs.readFileSync(path.join(upd, 'BIOS.json'), 'utf8'));
    assert.deepEqual(bios, { timestamp: iso(EPOCH_GRUB), version: nevra['grub2-tools'] });
    assert.equal(fs.statSync(path.join(upd, 'EFI.json')).mode & 0o777, 0o644);
    assert.equal(fs.readFileSync(path.join(upd, 'EFI/fedora/grubx64.efi'), 'utf8'), 'grub');
    assert.equal(fs.readFileSync(path.join(upd, 'EFI/BOOT/BOOTX64.EFI'), 'utf8'), 'shim');
    assert.deepEqual(fs.readdirSync(path.join(tree, 'usr/lib/ostree-boot/efi')), [], 'efi/EFI moved away');
    for (const cruft of ['loader', 'grub2']) assert.equal(fs.existsSync(path.join(tree, 'usr/lib/ostree-boot', cruft)), false, `${cruft} removed`);
    assert.ok(logs(ev).some((l) => /native fallback/.test(l)), 'the log says the fallback was used');
    assert.ok(logs(ev).some((l) => l.includes(`generated update layout for EFI: ${efi.version}`)));
  });

  it('bootupd fallback (no ostree-boot): /boot/efi/EFI is copied, not moved; no grub2-install means no BIOS.json', async () => {
    const { tree } = await build([install(['shim-x64', 'grub2-efi-x64', 'bootupd']), gen]);
    const upd = path.join(tree, 'usr/lib/bootupd/updates');
    assert.deepEqual(fs.readdirSync(upd).sort(), ['EFI', 'EFI.json']);
    assert.equal(JSON.parse(fs.readFileSync(path.join(upd, 'EFI.json'), 'utf8')).version, [nevra['grub2-efi-x64'], nevra['shim-x64']].sort().join(','));
    assert.equal(fs.readFileSync(path.join(tree, 'boot/efi/EFI/fedora/shimx64.efi'), 'utf8'), 'shim', 'the ESP content stays');
    assert.equal(fs.readFileSync(path.join(upd, 'EFI/fedora/shimx64.efi'), 'utf8'), 'shim');
  });

  it('bootupd fallback errors name the problem: a payload file no package owns, no EFI payload, no rpm database', async () => {
    await assert.rejects(build([install(['shim-x64', 'bootupd'], [['sh', '-c', 'echo cfg > @TREE@/boot/efi/EFI/fedora/grub.cfg']]), gen]), /bootupd\.gen-metadata\): rpm -qf in the tree's database \(\/usr\/lib\/sysimage\/rpm\) failed: .*\/boot\/efi\/EFI\/fedora\/grub\.cfg(: No such file or directory| is not owned by any package)/);
    await assert.rejects(build([install(['bootupd']), gen]), /bootupd\.gen-metadata\): no EFI payload in the tree: none of \/usr\/lib\/ostree-boot\/efi\/EFI, \/usr\/lib\/bootupd\/updates\/EFI, \/boot\/efi\/EFI exists/);
    await assert.rejects(build([put({ '/usr/bin/bootupctl': { data: 'not a program', mode: 0o755 }, '/boot/efi/EFI/BOOT/BOOTX64.EFI': 'x' }), gen]), /bootupd\.gen-metadata\): the tree has no rpm database/);
    // an unowned stray package file is fine once it is owned: the version lists every owner
    const { tree } = await build([install(['shim-x64', 'grub2-efi-x64', 'bootupd', 'stray']), gen]);
    assert.equal(JSON.parse(fs.readFileSync(path.join(tree, 'usr/lib/bootupd/updates/EFI.json'), 'utf8')).version, [nevra['grub2-efi-x64'], nevra['shim-x64'], nevra.stray].sort().join(','));
  });

  it('bootupd: a bootupctl that runs and fails is an error, not a fallback', async () => {
    // /bin/sh of the host in the tree so the script can run chrooted, and fails with its own code
    const files: Record<string, Entry> = { '/bin/sh': { host: '/bin/dash', mode: 0o755 }, '/usr/bin/bootupctl': { data: '#!/bin/sh\necho broken >&2\nexit 3\n', mode: 0o755 } };
    for (const line of sh('ldd', ['/bin/dash']).split('\n')) {
      const m = /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(line);
      if (m) files[m[1]!] = { host: fs.realpathSync(m[1]!), mode: 0o755 };
    }
    await assert.rejects(build([put(files), gen]), /bootupd\.gen-metadata\): bootupctl: command 'chroot .* backend generate-update-metadata \/' failed with exit code 3: broken/);
  });
});
