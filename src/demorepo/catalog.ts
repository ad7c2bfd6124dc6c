// What each package of the demo repository contains and depends on. A few dozen packages that
// image stages and solvers care about are described by hand (the Fedora-shaped dependency web:
// glibc, filesystem, setup, systemd, kernel, selinux-policy, NetworkManager, the release
// packages, bootloaders...); every other requested name gets a generic package whose shape
// follows its family (firmware and fonts are noarch, NetworkManager-* requires NetworkManager of
// the same EVR, and so on).

import { conf, dir, file, link, placeholderProgram, unit, osRelease, PASSWD, GROUP, SHADOW, GSHADOW, SELINUX_CONFIG, FILE_CONTEXTS } from './content.js';
import type { ArchContext, DemoPackage, FileEntry } from './model.js';
import { KERNEL_VERSION, KERNEL_RELEASE_NUM } from './model.js';

/** Hand-described package; dependency strings may use the EVR helpers below. */
interface Curated {
  /** version-release without dist tag */
  vr: string;
  epoch?: number;
  noarch?: boolean;
  /** release has no dist tag (fedora-release does this) */
  noDist?: boolean;
  summary?: string;
  req?: string[];
  rec?: string[];
  sugg?: string[];
  supp?: string[];
  prov?: string[];
  conf?: string[];
  obs?: string[];
  files?: FileEntry[];
}

/** Families of subpackages that share a version and depend on their base package. */
interface Family {
  prefix: string;
  base: string;
  vr: string;
  epoch?: number;
  noarch?: boolean;
}

const FAMILIES: Family[] = [
  { prefix: 'NetworkManager-', base: 'NetworkManager', vr: '1.52.0-1', epoch: 1 },
  { prefix: 'grub2-', base: 'grub2-common', vr: '2.12-26', epoch: 1 },
  { prefix: 'sssd-', base: 'sssd-common', vr: '2.10.2-3' },
  { prefix: 'fwupd-', base: 'fwupd', vr: '2.0.9-1' },
  { prefix: 'clevis-', base: 'clevis', vr: '21-10' },
  { prefix: 'dracut-', base: 'dracut', vr: '105-4' },
  { prefix: 'openssh-', base: 'openssh', vr: '9.9p1-11' },
  { prefix: 'anaconda-', base: 'anaconda-core', vr: '42.27.12-1' },
  { prefix: 'libreport-', base: 'libreport', vr: '2.17.15-6' },
  { prefix: 'udisks2-', base: 'udisks2', vr: '2.10.90-2' },
  { prefix: 'greenboot-', base: 'greenboot', vr: '0.15.8-1' },
  { prefix: 'ignition-', base: 'ignition', vr: '2.21.0-1' },
  { prefix: 'coreos-installer-', base: 'coreos-installer', vr: '0.24.0-1' },
  { prefix: 'iptables-', base: 'iptables-libs', vr: '1.8.11-5' },
  { prefix: 'policycoreutils-', base: 'policycoreutils', vr: '3.8-1', noarch: true },
  { prefix: 'systemd-', base: 'systemd', vr: '257.7-1' },
  { prefix: 'kbd-', base: 'kbd', vr: '2.7.1-1', noarch: true },
  { prefix: 'syslinux-', base: 'syslinux', vr: '6.04-0.33' },
  { prefix: 'rpm-', base: 'rpm', vr: '4.20.1-1' },
  { prefix: 'util-linux-', base: 'util-linux', vr: '2.40.4-7' },
];

/** Families that must not catch these names (they are separate upstream projects). */
const NOT_IN_FAMILY = new Set(['rpm-ostree', 'systemd-libs', 'util-linux-core', 'grub2-common', 'sssd-common',
  'sssd-client', 'anaconda-core', 'iptables-libs', 'dracut-config-generic']);

const FIRMWARE_VR = '20250509-1';

/** Noarch heuristics for generic packages, following what Fedora builds as noarch. */
function genericNoarch(name: string): boolean {
  return /-(firmware|fonts|fonts-misc|filesystem|data|doc|schemas|dicts-data)$/.test(name) ||
    /^python3-/.test(name) || /^perl-(?!interpreter$|libs$)/.test(name) ||
    /^(fedora-|lorax-templates|anaconda-install-img-deps|wireless-regdb|rootfiles|setup|basesystem|b43-openfwwf|xorg-x11-drivers|initial-setup|kdump-anaconda-addon|ssh-key-dir|arm-image-installer|greenboot|container-selinux|firewalld|cloud-init|cloud-utils|uboot-images|bcm2)/.test(name);
}

/** Programs worth a placeholder in packages that are otherwise generic. */
const PROGRAMS: Record<string, string[]> = {
  tar: ['/usr/bin/tar'], gzip: ['/usr/bin/gzip', '/usr/bin/gunzip'], xz: ['/usr/bin/xz', '/usr/bin/unxz'],
  zstd: ['/usr/bin/zstd'], bzip2: ['/usr/bin/bzip2'], pigz: ['/usr/bin/pigz'],
  curl: ['/usr/bin/curl'], wget: ['/usr/bin/wget'], less: ['/usr/bin/less'], hostname: ['/usr/bin/hostname'],
  'vim-minimal': ['/usr/bin/vi'], nano: ['/usr/bin/nano'], sudo: ['/usr/bin/sudo'], rsync: ['/usr/bin/rsync'],
  'e2fsprogs': ['/usr/sbin/mke2fs', '/usr/sbin/mkfs.ext4', '/usr/sbin/e2fsck'],
  dosfstools: ['/usr/sbin/mkfs.fat', '/usr/sbin/mkfs.vfat', '/usr/sbin/fsck.fat'],
  xfsprogs: ['/usr/sbin/mkfs.xfs', '/usr/sbin/xfs_repair'], 'btrfs-progs': ['/usr/sbin/mkfs.btrfs', '/usr/sbin/btrfs'],
  lvm2: ['/usr/sbin/lvm'], cryptsetup: ['/usr/sbin/cryptsetup'], mdadm: ['/usr/sbin/mdadm'],
  gdisk: ['/usr/sbin/sgdisk', '/usr/sbin/gdisk'], grubby: ['/usr/sbin/grubby'], efibootmgr: ['/usr/sbin/efibootmgr'],
  iproute: ['/usr/sbin/ip'], iputils: ['/usr/bin/ping'], 'procps-ng': ['/usr/bin/ps', '/usr/bin/free'],
  kbd: ['/usr/bin/loadkeys'], openssl: ['/usr/bin/openssl'], gnupg2: ['/usr/bin/gpg'],
  podman: ['/usr/bin/podman'], skopeo: ['/usr/bin/skopeo'], crun: ['/usr/bin/crun'], ostree: ['/usr/bin/ostree'],
  'rpm-ostree': ['/usr/bin/rpm-ostree'], bootc: ['/usr/bin/bootc'], 'qemu-img': ['/usr/bin/qemu-img'],
  'squashfs-tools': ['/usr/sbin/mksquashfs'], 'erofs-utils': ['/usr/bin/mkfs.erofs'], xorriso: ['/usr/bin/xorriso'],
  isomd5sum: ['/usr/bin/implantisomd5', '/usr/bin/checkisomd5'], 'coreos-installer': ['/usr/bin/coreos-installer'],
  attr: ['/usr/bin/getfattr', '/usr/bin/setfattr'], acl: ['/usr/bin/getfacl', '/usr/bin/setfacl'],
  strace: ['/usr/bin/strace'], lsof: ['/usr/bin/lsof'], tmux: ['/usr/bin/tmux'], screen: ['/usr/bin/screen'],
  parted: ['/usr/sbin/parted'], 'man-db': ['/usr/bin/man'], authselect: ['/usr/bin/authselect'],
  'fdo-owner-cli': ['/usr/bin/fdo-owner-tool'], 'setools-console': ['/usr/bin/sesearch', '/usr/bin/seinfo'],
  'bsdtar': ['/usr/bin/bsdtar'], 'cloud-utils-growpart': ['/usr/bin/growpart'], socat: ['/usr/bin/socat'],
  traceroute: ['/usr/bin/traceroute'], 'nmap-ncat': ['/usr/bin/ncat'], 'libkcapi-hmaccalc': ['/usr/bin/sha512hmac'],
  'openscap-utils': ['/usr/bin/oscap-ssh'], 'tpm2-tools': ['/usr/bin/tpm2'], 'uboot-tools': ['/usr/bin/mkimage'],
  'arm-image-installer': ['/usr/bin/arm-image-installer'], biosdevname: ['/usr/sbin/biosdevname'],
  'device-mapper-multipath': ['/usr/sbin/multipath'], nginx: ['/usr/sbin/nginx'],
  'openscap-scanner': ['/usr/bin/oscap'], 'qemu-guest-agent': ['/usr/bin/qemu-ga'], 'nfs-utils': ['/usr/sbin/mount.nfs'],
};

/** Units the Fedora definitions enable (or that the packages really ship), by package. */
const UNITS: Record<string, [string, string[]?][]> = {
  NetworkManager: [['NetworkManager.service'], ['NetworkManager-wait-online.service', ['network-online.target']],
    ['NetworkManager-dispatcher.service']],
  'openssh-server': [['sshd.service']],
  firewalld: [['firewalld.service']],
  'initial-setup': [['initial-setup.service', ['graphical.target', 'multi-user.target']]],
  chrony: [['chronyd.service']],
  greenboot: [['greenboot-healthcheck.service'], ['greenboot-task-runner.service'], ['greenboot-status.service'],
    ['greenboot-grub2-set-counter.service'], ['greenboot-grub2-set-success.service'],
    ['greenboot-rpm-ostree-grub2-check-fallback.service'], ['redboot-auto-reboot.service'],
    ['redboot-task-runner.service']],
  bootupd: [['bootloader-update.service']],
  ignition: [['ignition-firstboot-complete.service'], ['coreos-ignition-write-issues.service']],
  'fdo-client': [['fdo-client-linuxapp.service']],
  'rng-tools': [['rngd.service']],
  'systemd-resolved': [['systemd-resolved.service']],
  'systemd-networkd': [['systemd-networkd.service']],
  audit: [['auditd.service']],
  rsyslog: [['rsyslog.service']],
  usbguard: [['usbguard.service']],
  podman: [['podman.service'], ['podman.socket']],
  // Fedora's definitions enable cloud-init.service (the pre-24.3 name), so ship it too
  'cloud-init': [['cloud-init-local.service', ['cloud-init.target']], ['cloud-init.service', ['cloud-init.target']],
    ['cloud-init-network.service', ['cloud-init.target']],
    ['cloud-config.service', ['cloud-init.target']], ['cloud-final.service', ['cloud-init.target']]],
  'spice-vdagent': [['spice-vdagentd.service']],
  rpcbind: [['rpcbind.service'], ['rpcbind.socket']],
  'nfs-utils': [['nfs-server.service']],
  lldpad: [['lldpad.service']],
  'fcoe-utils': [['fcoe.service']],
  'iscsi-initiator-utils': [['iscsid.service']],
  mdadm: [['mdmonitor.service']],
  smartmontools: [['smartd.service']],
  irqbalance: [['irqbalance.service']],
  stalld: [['stalld.service']],
  nftables: [['nftables.service']],
  'iptables-services': [['iptables.service']],
  logrotate: [['logrotate.timer']],
  polkit: [['polkit.service']],
  'dbus-broker': [['dbus-broker.service']],
  'sssd-kcm': [['sssd-kcm.socket']],
  'zram-generator-defaults': [],
  'qemu-guest-agent': [['qemu-guest-agent.service']],
  nginx: [['nginx.service']],
  'WALinuxAgent-udev': [],
  tuned: [['tuned.service']],
};

export interface Evr {
  epoch?: number;
  version: string;
  release: string;
}

export function evrString(e: Evr): string {
  return `${e.epoch ? `${e.epoch}:` : ''}${e.version}-${e.release}`;
}

function splitVr(vr: string): [string, string] {
  const i = vr.lastIndexOf('-');
  return [vr.slice(0, i), vr.slice(i + 1)];
}

/** The hand-described part of the repository for one architecture. */
export function curatedPackages(ctx: ArchContext): Record<string, Curated> {
  const { dist, isa, bits, libdir, kver, releasever: rv } = ctx;
  const so = (lib: string) => `${lib}()${bits}`;
  const evr = (vr: string, epoch?: number) => {
    const [v, r] = splitVr(vr);
    return `${epoch ? `${epoch}:` : ''}${v}-${r}${dist}`;
  };
  const GLIBC = '2.41-5';
  const SYSTEMD = '257.7-1';
  const KERNEL = `${KERNEL_VERSION}-${KERNEL_RELEASE_NUM}`;
  const SELINUX = '41.41-1';
  const NM = '1.52.0-1';
  const PY = '3.13.3-1';
  const RELEASE = `${rv}-26`;
  const releaseEvr = `${rv}-26`;
  const GRUB = '2.12-26';
  const SHIM = '15.8-3';
  const OPENSSH = '9.9p1-11';
  const libc = [so('libc.so.6'), `libc.so.6(GLIBC_2.34)${bits}`];
  const mods = `/usr/lib/modules/${kver}`;
  const prog = (pkg: string, ...paths: string[]) => paths.map((p) => placeholderProgram(p, pkg));
  const lib64Dirs: FileEntry[] = libdir === '/usr/lib64' ? [dir('/usr/lib64'), link('/lib64', 'usr/lib64')] : [];

  const efi = (pkgArch: string, shimName: string, grubName: string): Record<string, Curated> => {
    const up = pkgArch.toUpperCase();
    return {
      [`shim-${pkgArch}`]: {
        vr: SHIM, summary: `First-stage UEFI bootloader (${pkgArch})`,
        req: ['efi-filesystem', 'mokutil'],
        prov: [`shim = ${SHIM}`],
        files: [
          file(`/boot/efi/EFI/fedora/${shimName}`, `Kiln demo-repo placeholder for ${shimName}\n`, 0o700),
          file(`/boot/efi/EFI/fedora/mm${pkgArch}.efi`, `Kiln demo-repo placeholder for mm${pkgArch}.efi\n`, 0o700),
          file(`/boot/efi/EFI/fedora/BOOT${up}.CSV`, `${shimName},Fedora,,This is the boot entry for Fedora\n`, 0o700),
          file(`/boot/efi/EFI/BOOT/BOOT${up}.EFI`, `Kiln demo-repo placeholder for BOOT${up}.EFI\n`, 0o700),
          file(`/boot/efi/EFI/BOOT/fb${pkgArch}.efi`, `Kiln demo-repo placeholder for fb${pkgArch}.efi\n`, 0o700),
        ],
      },
      [`grub2-efi-${pkgArch}`]: {
        vr: GRUB, epoch: 1, summary: `GRUB for EFI systems (${pkgArch})`,
        req: ['efi-filesystem', `grub2-common = ${evr(GRUB, 1)}`, `grub2-tools-minimal >= ${evr(GRUB, 1)}`],
        prov: ['efi(bootloader)', `grub2-efi = ${evr(GRUB, 1)}`],
        files: [file(`/boot/efi/EFI/fedora/${grubName}`, `Kiln demo-repo placeholder for ${grubName}\n`, 0o700)],
      },
      [`grub2-efi-${pkgArch}-cdboot`]: {
        vr: GRUB, epoch: 1, summary: `GRUB EFI image for CD boot (${pkgArch})`,
        req: [`grub2-efi-${pkgArch} = ${evr(GRUB, 1)}`],
        files: [file(`/boot/efi/EFI/fedora/gcd${pkgArch}.efi`, `Kiln demo-repo placeholder for gcd${pkgArch}.efi\n`, 0o700)],
      },
    };
  };

  const identity = (id: string, name?: string): Curated => ({
    vr: RELEASE, noarch: true, noDist: true, summary: `Fedora release identity (${id})`,
    req: [`fedora-release-common = ${releaseEvr}`],
    prov: [`fedora-release-identity = ${releaseEvr}`],
    conf: ['fedora-release-identity'],
    files: [file('/usr/lib/os-release', osRelease(rv, name ? { name, id } : undefined))],
  });

  // Another edition: fedora-release-<id> provides system-release and pulls its own identity.
  const releaseVariant = (id: string, name: string): Record<string, Curated> => ({
    [`fedora-release-${id}`]: { vr: RELEASE, noarch: true, noDist: true, summary: `Base package for Fedora ${name} specific default configurations`,
      req: [`fedora-release-common = ${releaseEvr}`, `fedora-release-identity-${id} = ${releaseEvr}`],
      prov: ['system-release', `system-release(${rv})`, `system-release(releasever) = ${rv}`, `base-module(platform:f${rv})`, 'fedora-release-variant = ' + releaseEvr],
      conf: ['fedora-release-variant'] },
    [`fedora-release-identity-${id}`]: identity(id, name),
  });

  const c: Record<string, Curated> = {
    setup: {
      vr: '2.15.0-13', noarch: true, summary: 'System configuration and setup files',
      files: [
        conf('/etc/passwd', PASSWD), conf('/etc/group', GROUP), conf('/etc/shadow', SHADOW, 0o000),
        conf('/etc/gshadow', GSHADOW, 0o000), conf('/etc/fstab', ''), conf('/etc/hosts', '127.0.0.1   localhost localhost.localdomain\n::1         localhost localhost.localdomain\n'),
        conf('/etc/shells', '/bin/sh\n/bin/bash\n/usr/bin/sh\n/usr/bin/bash\n'),
        conf('/etc/profile', '# /etc/profile (Kiln demo repository)\n'), conf('/etc/bashrc', '# /etc/bashrc (Kiln demo repository)\n'),
        conf('/etc/environment', ''), conf('/etc/subuid', ''), conf('/etc/subgid', ''), conf('/etc/motd', ''),
        conf('/etc/services', 'ssh             22/tcp\nntp             123/udp\n'),
        conf('/etc/protocols', 'ip\t0\tIP\ntcp\t6\tTCP\nudp\t17\tUDP\n'),
        conf('/etc/host.conf', 'multi on\n'), conf('/etc/networks', 'default 0.0.0.0\nloopback 127.0.0.0\n'),
      ],
    },
    filesystem: {
      vr: '3.18-36', summary: 'The basic directory layout for a Linux system', req: ['setup'],
      files: [
        dir('/', 0o555), dir('/boot', 0o555), dir('/dev'), dir('/etc'), dir('/etc/skel'), dir('/etc/sysconfig'),
        dir('/etc/systemd'), dir('/etc/pki'), dir('/etc/X11'), dir('/etc/opt'),
        dir('/home'), dir('/media'), dir('/mnt'), dir('/opt'), dir('/proc', 0o555), dir('/root', 0o550),
        dir('/run'), dir('/srv'), dir('/sys', 0o555), dir('/tmp', 0o1777), dir('/afs'),
        dir('/usr'), dir('/usr/bin'), dir('/usr/lib'), dir('/usr/sbin'), dir('/usr/libexec'), dir('/usr/include'),
        dir('/usr/share'), dir('/usr/share/doc'), dir('/usr/share/licenses'), dir('/usr/share/man'),
        dir('/usr/local'), dir('/usr/local/bin'), dir('/usr/local/lib'), dir('/usr/local/sbin'), dir('/usr/local/share'),
        dir('/usr/lib/sysimage'), dir('/usr/lib/modules'), dir('/usr/lib/systemd'), dir('/usr/lib/debug'),
        dir('/var'), dir('/var/lib'), dir('/var/log'), dir('/var/cache'), dir('/var/tmp', 0o1777), dir('/var/spool'),
        dir('/var/opt'), dir('/var/empty'), dir('/var/adm'), dir('/var/local'), dir('/var/lib/misc'),
        link('/bin', 'usr/bin'), link('/sbin', 'usr/sbin'), link('/lib', 'usr/lib'),
        link('/var/run', '../run'), link('/var/lock', '../run/lock'), link('/usr/tmp', '../var/tmp'),
        ...lib64Dirs,
      ],
    },
    basesystem: { vr: '11-22', noarch: true, summary: 'The skeleton package which defines a simple Fedora system',
      req: ['setup', 'filesystem', 'system-release'] },
    'efi-filesystem': { vr: '6-2', noarch: true, summary: 'The basic directory layout for EFI machines',
      req: ['filesystem'], files: [dir('/boot/efi', 0o700), dir('/boot/efi/EFI', 0o700), dir('/boot/efi/EFI/BOOT', 0o700), dir('/boot/efi/EFI/fedora', 0o700)] },
    rootfiles: { vr: '9.0-1', noarch: true, summary: 'The basic required files for the root user\'s directory',
      files: [conf('/root/.bashrc', '# .bashrc\n'), conf('/root/.bash_profile', '# .bash_profile\n'),
        conf('/root/.bash_logout', '# ~/.bash_logout\n'), conf('/root/.cshrc', '# .cshrc\n'), conf('/root/.tcshrc', '# .tcshrc\n')] },

    glibc: {
      vr: GLIBC, summary: 'The GNU libc libraries',
      req: [`glibc-common = ${evr(GLIBC)}`, 'basesystem',
        `(glibc-langpack-en = ${evr(GLIBC)} or glibc-minimal-langpack = ${evr(GLIBC)})`],
      rec: ['glibc-langpack-en'],
      prov: [...libc, `libc.so.6(GLIBC_2.2.5)${bits}`, so('libm.so.6'), so('libresolv.so.2'),
        ctx.arch === 'aarch64' ? so('ld-linux-aarch64.so.1') : ctx.arch === 'x86_64' ? so('ld-linux-x86-64.so.2') : so('ld.so.1'), 'rtld(GNU_HASH)'],
      files: [file(`${libdir}/libc.so.6`, 'Kiln demo-repo placeholder for libc.so.6\n', 0o755), conf('/etc/ld.so.conf', 'include ld.so.conf.d/*.conf\n'), dir('/etc/ld.so.conf.d')],
    },
    'glibc-common': { vr: GLIBC, summary: 'Common binaries and locale data for glibc', req: [`glibc = ${evr(GLIBC)}`],
      files: [...prog('glibc-common', '/usr/bin/locale', '/usr/bin/localedef', '/usr/bin/getent', '/usr/sbin/ldconfig')] },
    'glibc-minimal-langpack': { vr: GLIBC, summary: 'Minimal language packs for glibc', req: [`glibc = ${evr(GLIBC)}`, `glibc-common = ${evr(GLIBC)}`] },
    'glibc-langpack-en': { vr: GLIBC, summary: 'Locale data for English', req: [`glibc = ${evr(GLIBC)}`, `glibc-common = ${evr(GLIBC)}`],
      prov: [`glibc-langpack = ${evr(GLIBC)}`] },
    'glibc-all-langpacks': { vr: GLIBC, summary: 'All language packs for glibc', req: [`glibc = ${evr(GLIBC)}`, `glibc-common = ${evr(GLIBC)}`],
      prov: [`glibc-langpack = ${evr(GLIBC)}`] },
    'ncurses-libs': { vr: '6.5-5.20250125', summary: 'Ncurses libraries', req: [...libc, 'ncurses-base'], prov: [so('libtinfo.so.6'), so('libncursesw.so.6')] },
    'ncurses-base': { vr: '6.5-5.20250125', noarch: true, summary: 'Descriptions of common terminals', files: [dir('/usr/share/terminfo')] },
    ncurses: { vr: '6.5-5.20250125', summary: 'Ncurses support utilities', req: [...libc, so('libtinfo.so.6'), `ncurses-libs = ${evr('6.5-5.20250125')}`],
      files: prog('ncurses', '/usr/bin/clear', '/usr/bin/tput') },
    bash: {
      vr: '5.2.37-1', summary: 'The GNU Bourne Again shell',
      req: ['filesystem >= 3', so('libtinfo.so.6'), ...libc],
      prov: ['/bin/sh', '/bin/bash', 'config(bash) = ' + evr('5.2.37-1')],
      // Not a script: /usr/bin/sh points here, so a #!/bin/sh placeholder would run itself.
      files: [file('/usr/bin/bash', 'Kiln demo-repo placeholder for bash\n', 0o755), link('/usr/bin/sh', 'bash'),
        conf('/etc/skel/.bashrc', '# .bashrc\n'), conf('/etc/skel/.bash_profile', '# .bash_profile\n'), conf('/etc/skel/.bash_logout', '# ~/.bash_logout\n')],
    },
    coreutils: {
      vr: '9.6-2', summary: 'A set of basic GNU tools commonly used in shell scripts',
      req: [`coreutils-common = ${evr('9.6-2')}`, so('libselinux.so.1'), so('libacl.so.1'), ...libc],
      files: prog('coreutils', ...['cp', 'mv', 'rm', 'ln', 'ls', 'cat', 'mkdir', 'chmod', 'chown', 'echo', 'true', 'false', 'env', 'install', 'touch', 'sha256sum', 'uname', 'stat'].map((p) => `/usr/bin/${p}`)),
    },
    'coreutils-common': { vr: '9.6-2', summary: 'coreutils common optional components', files: [dir('/usr/share/doc/coreutils')] },
    libselinux: { vr: '3.8-1', summary: 'SELinux library and simple utilities', req: [...libc, so('libpcre2-8.so.0')], prov: [so('libselinux.so.1')] },
    'libselinux-utils': { vr: '3.8-1', summary: 'SELinux libselinux utilities', req: [`libselinux = ${evr('3.8-1')}`, ...libc],
      files: prog('libselinux-utils', '/usr/sbin/getenforce', '/usr/sbin/setenforce', '/usr/sbin/selinuxenabled', '/usr/sbin/matchpathcon') },
    libacl: { vr: '2.3.2-3', summary: 'Dynamic library for access control list support', req: [...libc, so('libattr.so.1')], prov: [so('libacl.so.1')] },
    libattr: { vr: '2.5.2-5', summary: 'Dynamic library for extended attribute support', req: [...libc], prov: [so('libattr.so.1')] },
    pcre2: { vr: '10.45-1', summary: 'Perl-compatible regular expression library', req: [...libc], prov: [so('libpcre2-8.so.0')] },
    libffi: { vr: '3.4.6-5', summary: 'A portable foreign function interface library', req: [...libc], prov: [so('libffi.so.8')] },
    'zlib-ng-compat': { vr: '2.2.4-3', summary: 'Zlib replacement with optimizations', req: [...libc], prov: [so('libz.so.1'), `zlib = 1.3.1.zlib-ng`] },
    'openssl-libs': { vr: '3.2.4-3', epoch: 1, summary: 'A general purpose cryptography library with TLS implementation',
      req: [...libc, so('libz.so.1'), 'crypto-policies'], prov: [so('libssl.so.3'), so('libcrypto.so.3'), `libcrypto.so.3(OPENSSL_3.0.0)${bits}`] },
    openssl: { vr: '3.2.4-3', epoch: 1, summary: 'Utilities from the general purpose cryptography library with TLS implementation',
      req: [`openssl-libs${isa} = ${evr('3.2.4-3', 1)}`, so('libcrypto.so.3')], files: prog('openssl', '/usr/bin/openssl') },
    'crypto-policies': { vr: '20250214-1.gitff7551b', noarch: true, summary: 'System-wide crypto policies', files: [dir('/etc/crypto-policies'), conf('/etc/crypto-policies/config', 'DEFAULT\n')] },
    glib2: {
      vr: '2.84.1-1', summary: 'A library of handy utility functions',
      req: [...libc, so('libffi.so.8'), so('libpcre2-8.so.0'), so('libz.so.1'), so('libselinux.so.1')],
      prov: [so('libglib-2.0.so.0'), so('libgio-2.0.so.0'), so('libgobject-2.0.so.0')],
    },
    'dbus-broker': { vr: '36-5', summary: 'Linux D-Bus Message Broker', req: [...libc, so('libsystemd.so.0')],
      prov: ['dbus = 1:1.16.0', 'dbus-daemon'] },
    'dbus-common': { vr: '1.16.0-3', epoch: 1, noarch: true, summary: 'D-BUS message bus configuration', files: [dir('/usr/share/dbus-1')] },

    systemd: {
      vr: SYSTEMD, summary: 'System and Service Manager',
      req: [`systemd-libs = ${evr(SYSTEMD)}`, `systemd-pam = ${evr(SYSTEMD)}`, so('libsystemd.so.0'), ...libc,
        'dbus >= 1.9.18', 'util-linux-core', '/bin/sh', 'setup'],
      rec: ['systemd-udev'],
      prov: ['/bin/systemctl', 'systemd-sysv = 257', 'init'],
      conf: ['initscripts < 9.56.1'],
      files: [
        dir('/usr/lib/systemd/system'), dir('/usr/lib/systemd/system-preset'), dir('/usr/lib/systemd/system-generators'),
        dir('/etc/systemd/system'), dir('/etc/systemd/system/multi-user.target.wants'), dir('/usr/lib/systemd/system/multi-user.target.wants'),
        ...['basic.target', 'sysinit.target', 'multi-user.target', 'graphical.target', 'network.target', 'network-online.target',
          'timers.target', 'sockets.target', 'cloud-init.target', 'rescue.target', 'emergency.target']
          .map((t) => unit(t, 'systemd', { description: t.replace('.target', '') })),
        link('/usr/lib/systemd/system/default.target', 'graphical.target'),
        unit('getty@.service', 'systemd', { wantedBy: ['getty.target'] }),
        unit('systemd-journald.service', 'systemd', { wantedBy: ['sysinit.target'] }),
        unit('systemd-firstboot.service', 'systemd', { wantedBy: ['sysinit.target'] }),
        unit('remote-fs.target', 'systemd'),
        file('/usr/lib/systemd/system-preset/99-default.preset', 'disable *\n'),
        conf('/etc/systemd/journald.conf', '[Journal]\n'), conf('/etc/systemd/system.conf', '[Manager]\n'),
        dir('/etc/systemd/journald.conf.d'), dir('/usr/lib/sysusers.d'), dir('/usr/lib/tmpfiles.d'),
        file('/usr/lib/systemd/systemd', 'Kiln demo-repo placeholder for systemd\n', 0o755),
        ...prog('systemd', '/usr/bin/systemctl', '/usr/bin/journalctl', '/usr/bin/systemd-firstboot', '/usr/bin/systemd-sysusers',
          '/usr/bin/systemd-tmpfiles', '/usr/bin/hostnamectl', '/usr/bin/localectl', '/usr/bin/timedatectl', '/usr/bin/systemd-machine-id-setup'),
      ],
    },
    'systemd-libs': { vr: SYSTEMD, summary: 'systemd libraries', req: [...libc],
      prov: [so('libsystemd.so.0'), so('libudev.so.1'), `libsystemd.so.0(LIBSYSTEMD_209)${bits}`, 'nss-myhostname = 0.4'] },
    'systemd-pam': { vr: SYSTEMD, summary: 'systemd PAM module', req: [`systemd = ${evr(SYSTEMD)}`] },
    'systemd-udev': { vr: SYSTEMD, summary: 'Rule-based device node and kernel event manager',
      req: [`systemd = ${evr(SYSTEMD)}`, `systemd-libs = ${evr(SYSTEMD)}`, 'kmod'],
      prov: ['udev = 257'],
      files: [dir('/usr/lib/udev'), dir('/usr/lib/udev/rules.d'), dir('/usr/lib/kernel'), dir('/usr/lib/kernel/install.d'),
        ...prog('systemd-udev', '/usr/bin/kernel-install', '/usr/bin/udevadm')] },
    kmod: { vr: '34.2-1', summary: 'Linux kernel module management utilities', req: [...libc], prov: [so('libkmod.so.2')],
      files: prog('kmod', '/usr/bin/kmod', '/usr/sbin/depmod', '/usr/sbin/modprobe') },
    'util-linux-core': { vr: '2.40.4-7', summary: 'The most essential utilities from the util-linux suite', req: [...libc],
      files: prog('util-linux-core', '/usr/bin/mount', '/usr/bin/umount', '/usr/bin/lsblk', '/usr/sbin/blkid', '/usr/sbin/losetup', '/usr/sbin/sfdisk') },
    'util-linux': { vr: '2.40.4-7', summary: 'A collection of basic system utilities',
      req: [`util-linux-core = ${evr('2.40.4-7')}`, ...libc, 'pam >= 1.1.3-7'], files: prog('util-linux', '/usr/sbin/fdisk', '/usr/bin/findmnt') },
    pam: { vr: '1.7.0-4', summary: 'An extensible library which provides authentication for applications', req: [...libc, 'setup'],
      prov: [so('libpam.so.0')], files: [dir('/etc/pam.d'), dir('/etc/security')] },
    'shadow-utils': { vr: '4.17.4-1', epoch: 2, summary: 'Utilities for managing accounts and shadow password files',
      req: ['setup', so('libselinux.so.1'), ...libc],
      files: [conf('/etc/login.defs', 'UID_MIN 1000\nGID_MIN 1000\nENCRYPT_METHOD YESCRYPT\n'), conf('/etc/default/useradd', 'GROUP=100\nHOME=/home\nSHELL=/bin/bash\n'),
        ...prog('shadow-utils', ...['useradd', 'usermod', 'userdel', 'groupadd', 'groupmod', 'groupdel', 'chpasswd', 'pwconv', 'grpconv'].map((p) => `/usr/sbin/${p}`))] },
    initscripts: { vr: '10.26-2', summary: 'Basic support for legacy System V init scripts', req: ['bash', 'coreutils', 'systemd', ...libc] },
    passwd: { vr: '0.80-20', summary: 'An utility for setting or changing passwords using PAM', req: ['pam', ...libc], files: prog('passwd', '/usr/bin/passwd') },
    'kernel': {
      vr: KERNEL, summary: 'The Linux kernel (meta package)',
      req: [`kernel-core-uname-r = ${kver}`, `kernel-modules-uname-r = ${kver}`, `kernel-modules-core-uname-r = ${kver}`],
      prov: ['installonlypkg(kernel)'],
    },
    'kernel-core': {
      vr: KERNEL, summary: 'The Linux kernel',
      req: [`kernel-modules-core-uname-r = ${kver}`, '/usr/bin/kernel-install', 'dracut >= 027', 'systemd >= 203-2',
        `(linux-firmware >= 20150904-56.git6ebf5d57 if linux-firmware)`],
      rec: ['linux-firmware'],
      prov: [`kernel-core-uname-r = ${kver}`, `kernel-uname-r = ${kver}`, 'installonlypkg(kernel)', `kernel${isa} = ${evr(KERNEL)}`],
      files: [dir(mods), file(`${mods}/vmlinuz`, `Kiln demo-repo placeholder kernel image ${kver}\n` + 'x'.repeat(4096) + '\n', 0o755),
        file(`${mods}/config`, `# Kiln demo-repo placeholder kernel config ${kver}\nCONFIG_64BIT=y\n`),
        file(`${mods}/System.map`, '0000000000000000 T _text\n'), file(`${mods}/symvers.xz`, ''),
        // What kernel-install would leave in /boot during an image build (no scriptlets here, and
        // osbuild builds run with an uninitialized machine-id, hence the all-f entry token).
        file(`/boot/vmlinuz-${kver}`, `Kiln demo-repo placeholder kernel image ${kver}\n` + 'x'.repeat(4096) + '\n', 0o755),
        file(`/boot/initramfs-${kver}.img`, `Kiln demo-repo placeholder initramfs ${kver}\n`, 0o600),
        dir('/boot/loader'), dir('/boot/loader/entries'),
        file(`/boot/loader/entries/ffffffffffffffffffffffffffffffff-${kver}.conf`, blsEntry(kver, rv))],
    },
    'kernel-modules-core': {
      vr: KERNEL, summary: 'Core kernel modules to match the core kernel',
      req: [`kernel-core-uname-r = ${kver}`], prov: [`kernel-modules-core-uname-r = ${kver}`, 'installonlypkg(kernel-module)'],
      files: [dir(`${mods}/kernel`), file(`${mods}/modules.dep`, ''), file(`${mods}/modules.alias`, '# Aliases extracted from modules themselves.\n'),
        file(`${mods}/modules.builtin`, ''), file(`${mods}/modules.order`, '')],
    },
    'kernel-modules': {
      vr: KERNEL, summary: 'Kernel modules to match the core kernel',
      req: [`kernel-modules-core-uname-r = ${kver}`, `kernel-core-uname-r = ${kver}`],
      prov: [`kernel-modules-uname-r = ${kver}`, 'installonlypkg(kernel-module)'],
      files: [dir(`${mods}/kernel/drivers`), file(`${mods}/modules.networking`, '')],
    },
    'linux-firmware-whence': { vr: FIRMWARE_VR, noarch: true, summary: 'WHENCE file for all firmwares', files: [dir('/usr/lib/firmware'), file('/usr/share/licenses/linux-firmware/WHENCE', 'Kiln demo repository firmware placeholder\n')] },
    'linux-firmware': { vr: FIRMWARE_VR, noarch: true, summary: 'Firmware files used by the Linux kernel',
      req: [`linux-firmware-whence = ${evr(FIRMWARE_VR)}`], rec: ['amd-ucode-firmware'] },
    dracut: { vr: '105-4', summary: 'Initramfs generator using udev', req: ['bash >= 4', 'coreutils', 'util-linux', 'systemd >= 219', 'kmod', 'xz', 'gzip', 'procps-ng'],
      files: [dir('/usr/lib/dracut'), dir('/usr/lib/dracut/modules.d'), dir('/etc/dracut.conf.d'), conf('/etc/dracut.conf', '# dracut.conf\n'), ...prog('dracut', '/usr/bin/dracut', '/usr/bin/lsinitrd')] },
    'dracut-config-generic': { vr: '105-4', summary: 'dracut configuration to turn off hostonly image generation', req: [`dracut = ${evr('105-4')}`],
      files: [file('/usr/lib/dracut/dracut.conf.d/02-generic-image.conf', 'hostonly="no"\n')] },
    'dracut-config-rescue': { vr: '105-4', summary: 'dracut configuration to turn on rescue image generation', req: [`dracut = ${evr('105-4')}`],
      files: [file('/usr/lib/dracut/dracut.conf.d/02-rescue.conf', 'dracut_rescue_image="yes"\n')] },

    'selinux-policy': { vr: SELINUX, noarch: true, summary: 'SELinux policy configuration',
      req: ['rpm-plugin-selinux'],
      files: [dir('/etc/selinux'), conf('/etc/selinux/config', SELINUX_CONFIG), dir('/usr/share/selinux')] },
    'selinux-policy-targeted': { vr: SELINUX, noarch: true, summary: 'SELinux targeted policy',
      req: [`selinux-policy = ${evr(SELINUX)}`, 'policycoreutils >= 3.8', 'coreutils'],
      prov: ['selinux-policy-any = ' + evr(SELINUX)], conf: ['selinux-policy-any < ' + evr(SELINUX)],
      files: [dir('/etc/selinux/targeted'), dir('/etc/selinux/targeted/contexts'), dir('/etc/selinux/targeted/contexts/files'),
        dir('/etc/selinux/targeted/policy'), conf('/etc/selinux/targeted/contexts/files/file_contexts', FILE_CONTEXTS),
        conf('/etc/selinux/targeted/contexts/files/file_contexts.local', ''), conf('/etc/selinux/targeted/seusers', '__default__:unconfined_u:s0-s0:c0.c1023\nroot:unconfined_u:s0-s0:c0.c1023\n'),
        // the binary policy (Fedora's is policy.33): `ostree admin deploy` checksums it (not parses
        // it) when /etc/selinux/config enables SELinux, and fails without one
        file('/etc/selinux/targeted/policy/policy.33', 'Kiln demo-repo placeholder for the compiled targeted policy (not a real policy)\n'),
        dir('/usr/share/selinux/targeted')] },
    policycoreutils: { vr: '3.8-1', summary: 'SELinux policy core utilities',
      req: [`libselinux-utils >= ${evr('3.8-1')}`, so('libselinux.so.1'), ...libc, 'util-linux', 'grep', 'diffutils'],
      files: prog('policycoreutils', '/usr/sbin/setfiles', '/usr/sbin/restorecon', '/usr/sbin/load_policy', '/usr/sbin/fixfiles', '/usr/sbin/semodule') },
    'rpm-plugin-selinux': { vr: '4.20.1-1', summary: 'Rpm plugin for SELinux functionality', req: [`rpm-libs${isa} = ${evr('4.20.1-1')}`, so('libselinux.so.1')] },
    'policycoreutils-python-utils': { vr: '3.8-1', noarch: true, summary: 'SELinux policy core python utilities',
      req: ['/usr/bin/python3', `policycoreutils = ${evr('3.8-1')}`], files: prog('policycoreutils-python-utils', '/usr/sbin/semanage') },
    grep: { vr: '3.11-10', summary: 'Pattern matching utilities', req: [...libc, so('libpcre2-8.so.0')], files: prog('grep', '/usr/bin/grep') },
    diffutils: { vr: '3.10-9', summary: 'GNU collection of diff utilities', req: [...libc], files: prog('diffutils', '/usr/bin/diff', '/usr/bin/cmp') },

    rpm: { vr: '4.20.1-1', summary: 'The RPM package management system',
      req: [`rpm-libs${isa} = ${evr('4.20.1-1')}`, so('librpm.so.10'), '/usr/bin/sh', 'curl', 'coreutils'],
      rec: ['rpm-plugin-selinux'],
      files: [dir('/usr/lib/rpm'), dir('/usr/lib/rpm/macros.d'), dir('/usr/lib/sysimage/rpm'), dir('/etc/rpm'),
        file('/usr/lib/rpm/macros', '# Kiln demo-repo placeholder rpm macros\n'),
        ...prog('rpm', '/usr/bin/rpm', '/usr/bin/rpmkeys', '/usr/bin/rpmdb', '/usr/bin/rpm2cpio')] },
    'rpm-libs': { vr: '4.20.1-1', summary: 'Libraries for manipulating RPM packages', req: [...libc, so('libz.so.1'), so('libselinux.so.1'), 'rpm-sequoia'],
      prov: [so('librpm.so.10'), so('librpmio.so.10')] },
    'rpm-sequoia': { vr: '1.7.0-5', summary: 'Implementation of the RPM PGP interface using Sequoia', req: [...libc, so('libcrypto.so.3')] },
    python3: { vr: PY, summary: 'Python 3.13 interpreter', req: [`python3-libs${isa} = ${evr(PY)}`, so('libpython3.13.so.1.0'), ...libc],
      prov: ['python(abi) = 3.13', 'python3.13', `python3${isa} = ${evr(PY)}`, '/usr/bin/python3'],
      files: [link('/usr/bin/python3', 'python3.13'), ...prog('python3', '/usr/bin/python3.13')] },
    'python3-libs': { vr: PY, summary: 'Python runtime libraries', req: [...libc, so('libffi.so.8'), so('libz.so.1'), so('libcrypto.so.3'), 'python-pip-wheel'],
      prov: [so('libpython3.13.so.1.0')], files: [dir(`${libdir}/python3.13`), dir('/usr/lib/python3.13'), dir('/usr/lib/python3.13/site-packages')] },
    'python-pip-wheel': { vr: '24.3.1-2', noarch: true, summary: 'The pip wheel', files: [dir('/usr/share/python-wheels')] },

    NetworkManager: { vr: NM, epoch: 1, summary: 'Network connection manager and user applications',
      req: [`NetworkManager-libnm${isa} = ${evr(NM, 1)}`, so('libglib-2.0.so.0'), so('libgio-2.0.so.0'), so('libsystemd.so.0'), 'dbus', ...libc],
      rec: ['iputils', 'iproute'], sugg: ['NetworkManager-wifi'],
      files: [dir('/etc/NetworkManager'), dir('/etc/NetworkManager/system-connections', 0o700), dir('/etc/NetworkManager/conf.d'),
        conf('/etc/NetworkManager/NetworkManager.conf', '[main]\n'), ...prog('NetworkManager', '/usr/sbin/NetworkManager', '/usr/bin/nmcli')] },
    'NetworkManager-libnm': { vr: NM, epoch: 1, summary: 'Libraries for adding NetworkManager support to applications',
      req: [so('libglib-2.0.so.0'), ...libc], prov: [so('libnm.so.0')] },
    'NetworkManager-wifi': { vr: NM, epoch: 1, summary: 'Wifi plugin for NetworkManager',
      req: [`NetworkManager${isa} = ${evr(NM, 1)}`, '(wpa_supplicant or iwd)'], rec: ['wpa_supplicant'] },

    // Release packages: fedora-release and fedora-release-iot both provide system-release but pull
    // different identity packages, and identities conflict with each other, so exactly one
    // edition's os-release ends up in an image.
    'fedora-release-common': { vr: RELEASE, noarch: true, noDist: true, summary: 'Fedora release files',
      req: [`fedora-release-identity = ${releaseEvr}`, `fedora-repos(${rv}) >= 1`],
      files: [link('/etc/os-release', '../usr/lib/os-release'), file('/etc/fedora-release', `Fedora release ${rv}\n`),
        link('/etc/redhat-release', 'fedora-release'), link('/etc/system-release', 'fedora-release'),
        file('/etc/system-release-cpe', `cpe:/o:fedoraproject:fedora:${rv}\n`), conf('/etc/issue', '\\S\nKernel \\r on \\m (\\l)\n\n'),
        conf('/etc/issue.net', '\\S\nKernel \\r on \\m\n'), dir('/etc/os-release.d'),
        file('/usr/lib/systemd/system-preset/90-default.preset', ['NetworkManager.service', 'sshd.service', 'chronyd.service',
          'firewalld.service', 'initial-setup.service', 'systemd-resolved.service', 'auditd.service'].map((s) => `enable ${s}`).join('\n') + '\n'),
        file('/usr/lib/systemd/system-preset/85-display-manager.preset', '# display managers\n')] },
    'fedora-release': { vr: RELEASE, noarch: true, noDist: true, summary: 'Fedora release files',
      req: [`fedora-release-common = ${releaseEvr}`, `fedora-release-identity-basic = ${releaseEvr}`],
      prov: ['system-release', `system-release(${rv})`, `system-release(releasever) = ${rv}`, `base-module(platform:f${rv})`, 'fedora-release-variant = ' + releaseEvr],
      conf: ['fedora-release-variant'] },
    'fedora-release-identity-basic': identity('basic'),
    'fedora-release-iot': { vr: RELEASE, noarch: true, noDist: true, summary: 'Base package for Fedora IoT specific default configurations',
      req: [`fedora-release-common = ${releaseEvr}`, `fedora-release-identity-iot = ${releaseEvr}`],
      prov: ['system-release', `system-release(${rv})`, `system-release(releasever) = ${rv}`, `base-module(platform:f${rv})`, 'fedora-release-variant = ' + releaseEvr],
      conf: ['fedora-release-variant'],
      files: [file('/usr/lib/systemd/system-preset/80-iot.preset', ['greenboot-healthcheck.service', 'bootloader-update.service', 'zezere_ignition.timer']
        .map((s) => `enable ${s}`).join('\n') + '\n')] },
    ...releaseVariant('container', 'Container Image'),
    ...releaseVariant('cloud', 'Cloud Edition'),
    ...releaseVariant('server', 'Server Edition'),
    // Raspberry Pi boot bits the aarch64 images copy (boot_files, ostree-boot/efi).
    'uboot-images-armv8': { vr: '2025.04-1', noarch: true, summary: 'u-boot bootloader images for aarch64 boards',
      files: [dir('/usr/share/uboot'), dir('/usr/share/uboot/rpi_arm64'), file('/usr/share/uboot/rpi_arm64/u-boot.bin', 'Kiln demo-repo placeholder u-boot.bin\n')] },
    'bcm283x-firmware': { vr: '20250430-1.1d12e5c', noarch: true, summary: 'Firmware for the Broadcom bcm283x/bcm2711 used in the Raspberry Pi',
      req: ['efi-filesystem'], files: ['bootcode.bin', 'start.elf', 'fixup.dat', 'config.txt', 'bcm2710-rpi-3-b.dtb', 'bcm2837-rpi-3-b.dtb']
        .map((f) => file(`/boot/efi/${f}`, `Kiln demo-repo placeholder ${f}\n`, 0o700)) },
    'bcm2711-firmware': { vr: '20250430-1.1d12e5c', noarch: true, summary: 'Firmware for the Broadcom bcm2711 used in the Raspberry Pi 4',
      req: ['bcm283x-firmware'], files: ['start4.elf', 'fixup4.dat', 'bcm2711-rpi-4-b.dtb']
        .map((f) => file(`/boot/efi/${f}`, `Kiln demo-repo placeholder ${f}\n`, 0o700)) },
    'langpacks-en': { vr: '4.2-3', noarch: true, summary: 'Langpacks meta-package for English', req: ['glibc-langpack-en', 'langpacks-core-en'] },
    'langpacks-core-en': { vr: '4.2-3', noarch: true, summary: 'English langpacks core meta-package', req: ['glibc-langpack-en'] },
    'fedora-release-identity-iot': identity('iot', 'IoT Edition'),
    'fedora-repos': { vr: `${rv}-1`, noarch: true, noDist: true, summary: 'Fedora package repositories',
      req: ['system-release(releasever) = ' + rv, 'fedora-gpg-keys'], prov: [`fedora-repos(${rv}) = 1`],
      files: [dir('/etc/yum.repos.d'), conf('/etc/yum.repos.d/fedora.repo',
        '[fedora]\nname=Fedora $releasever - $basearch\nmetalink=https://mirrors.fedoraproject.org/metalink?repo=fedora-$releasever&arch=$basearch\nenabled=1\ngpgcheck=1\n')] },
    'fedora-gpg-keys': { vr: `${rv}-1`, noarch: true, noDist: true, summary: 'Fedora RPM keys', files: [dir('/etc/pki/rpm-gpg')] },

    'efibootmgr': { vr: '18-8', summary: 'EFI Boot Manager', req: [...libc, 'efivar-libs'], files: prog('efibootmgr', '/usr/sbin/efibootmgr') },
    'efivar-libs': { vr: '39-7', summary: 'Library to manage UEFI variables', req: [...libc], prov: [so('libefivar.so.1')] },
    mokutil: { vr: '0.7.1-2', epoch: 2, summary: 'Tool to manage UEFI Secure Boot MoK Keys', req: [...libc, 'efivar-libs'], files: prog('mokutil', '/usr/bin/mokutil') },
    'grub2-common': { vr: GRUB, epoch: 1, noarch: true, summary: 'grub2 common layout', files: [dir('/boot/grub2', 0o700), dir('/usr/share/grub'), conf('/etc/default/grub', 'GRUB_TIMEOUT=5\nGRUB_ENABLE_BLSCFG=true\n')] },
    'grub2-tools-minimal': { vr: GRUB, epoch: 1, summary: 'Support tools for GRUB', req: [`grub2-common = ${evr(GRUB, 1)}`, ...libc],
      files: prog('grub2-tools-minimal', '/usr/bin/grub2-editenv', '/usr/bin/grub2-mkrelpath') },
    'grub2-tools': { vr: GRUB, epoch: 1, summary: 'Support tools for GRUB', req: [`grub2-common = ${evr(GRUB, 1)}`, `grub2-tools-minimal = ${evr(GRUB, 1)}`, 'gettext-runtime', 'file', ...libc],
      files: [dir('/etc/grub.d'), ...prog('grub2-tools', '/usr/sbin/grub2-mkconfig', '/usr/sbin/grub2-install', '/usr/sbin/grub2-probe', '/usr/bin/grub2-mkimage', '/usr/sbin/grub2-switch-to-blscfg')] },
    'gettext-runtime': { vr: '0.23.1-2', summary: 'GNU runtime libraries and programs for producing multi-lingual messages', req: [...libc] },
    file: { vr: '5.46-3', summary: 'Utility for determining file types', req: [...libc, 'file-libs'], files: prog('file', '/usr/bin/file') },
    'file-libs': { vr: '5.46-3', summary: 'Libraries for applications using libmagic', req: [...libc], prov: [so('libmagic.so.1')] },
    'grub2-pc': { vr: GRUB, epoch: 1, summary: 'Bootloader with support for Linux, Multiboot, and more (BIOS)',
      req: [`grub2-common = ${evr(GRUB, 1)}`, `grub2-pc-modules = ${evr(GRUB, 1)}`, `grub2-tools = ${evr(GRUB, 1)}`, 'gettext-runtime', 'which'] },
    'grub2-pc-modules': { vr: GRUB, epoch: 1, noarch: true, summary: 'Modules used to build custom grub images (BIOS)', req: [`grub2-common = ${evr(GRUB, 1)}`],
      files: [dir('/usr/lib/grub'), dir('/usr/lib/grub/i386-pc'), file('/usr/lib/grub/i386-pc/boot.img', 'Kiln demo-repo placeholder boot.img\n'),
        file('/usr/lib/grub/i386-pc/boot_hybrid.img', 'Kiln demo-repo placeholder boot_hybrid.img\n'), file('/usr/lib/grub/i386-pc/normal.mod', ''),
        file('/usr/lib/grub/i386-pc/moddep.lst', '')] },
    which: { vr: '2.23-2', summary: 'Displays where a particular program in your path is located', req: [...libc], files: prog('which', '/usr/bin/which') },
    ...efi('x64', 'shimx64.efi', 'grubx64.efi'),
    ...efi('aa64', 'shimaa64.efi', 'grubaa64.efi'),
    ...efi('ia32', 'shimia32.efi', 'grubia32.efi'),

    'openssh': { vr: OPENSSH, summary: 'An open source implementation of SSH protocol version 2', req: [so('libcrypto.so.3'), ...libc, 'crypto-policies >= 20220824'],
      files: [dir('/etc/ssh'), ...prog('openssh', '/usr/bin/ssh-keygen')] },
    'openssh-server': { vr: OPENSSH, summary: 'An open source SSH server daemon',
      req: [`openssh = ${evr(OPENSSH)}`, so('libcrypto.so.3'), 'pam >= 1.0.1-3', ...libc],
      files: [conf('/etc/ssh/sshd_config', 'Include /etc/ssh/sshd_config.d/*.conf\n', 0o600), dir('/etc/ssh/sshd_config.d', 0o700), ...prog('openssh-server', '/usr/sbin/sshd')] },
    'openssh-clients': { vr: OPENSSH, summary: 'An open source SSH client applications', req: [`openssh = ${evr(OPENSSH)}`, so('libcrypto.so.3'), ...libc],
      files: [conf('/etc/ssh/ssh_config', 'Include /etc/ssh/ssh_config.d/*.conf\n'), dir('/etc/ssh/ssh_config.d'), ...prog('openssh-clients', '/usr/bin/ssh', '/usr/bin/scp')] },
    chrony: { vr: '4.6.1-2', summary: 'An NTP client/server', req: [...libc, 'timedatex'],
      files: [conf('/etc/chrony.conf', 'pool 2.fedora.pool.ntp.org iburst\n'), ...prog('chrony', '/usr/sbin/chronyd', '/usr/bin/chronyc')] },
    timedatex: { vr: '0.6-17', summary: 'D-Bus service for system clock and RTC settings', req: [...libc, so('libglib-2.0.so.0')] },
    firewalld: { vr: '2.3.0-1', noarch: true, summary: 'A firewall daemon with D-Bus interface providing a dynamic firewall',
      req: [`firewalld-filesystem = ${evr('2.3.0-1')}`, `python3-firewall = ${evr('2.3.0-1')}`, 'nftables', 'iptables'],
      files: [dir('/etc/firewalld'), conf('/etc/firewalld/firewalld.conf', 'DefaultZone=public\n'), ...prog('firewalld', '/usr/sbin/firewalld', '/usr/bin/firewall-cmd')] },
    'firewalld-filesystem': { vr: '2.3.0-1', noarch: true, summary: 'Firewalld directory layout and rpm macros', files: [dir('/usr/lib/firewalld'), dir('/usr/lib/firewalld/services')] },
    'python3-firewall': { vr: '2.3.0-1', noarch: true, summary: 'Python3 bindings for firewalld', req: ['python(abi) = 3.13', 'python3-gobject-base', 'python3-nftables'] },
    nftables: { vr: '1.1.1-3', epoch: 1, summary: 'Netfilter Tables userspace utilities', req: [...libc], prov: [so('libnftables.so.1')], files: prog('nftables', '/usr/sbin/nft') },
    'python3-nftables': { vr: '1.1.1-3', epoch: 1, noarch: true, summary: 'Python module providing an interface to libnftables', req: ['python(abi) = 3.13', `nftables = ${evr('1.1.1-3', 1)}`] },
    'initial-setup': { vr: '0.3.99-4', noarch: true, summary: 'Initial system configuration utility',
      req: ['/usr/bin/python3', 'python3-libreport', 'systemd >= 219'], files: prog('initial-setup', '/usr/libexec/initial-setup/run-initial-setup') },
    dnf5: { vr: '5.2.13.1-1', summary: 'Command-line package manager', req: [`libdnf5${isa} = ${evr('5.2.13.1-1')}`, ...libc, 'dnf-data'],
      prov: ['dnf5-command(install)'], rec: ['dnf5-plugins'],
      files: [link('/usr/bin/dnf', 'dnf5'), ...prog('dnf5', '/usr/bin/dnf5')] },
    libdnf5: { vr: '5.2.13.1-1', summary: 'Package management library', req: [...libc, so('librpm.so.10'), 'libsolv >= 0.7.25'] },
    libsolv: { vr: '0.7.31-5', summary: 'Package dependency solver', req: [...libc], prov: [so('libsolv.so.1')] },
    'dnf-data': { vr: '4.23.0-1', noarch: true, summary: 'Common data and configuration files for DNF', files: [dir('/etc/dnf'), conf('/etc/dnf/dnf.conf', '[main]\n')] },
    dnf: { vr: '4.23.0-1', noarch: true, summary: 'Package manager (dnf4)', req: [`python3-dnf = ${evr('4.23.0-1')}`],
      files: prog('dnf', '/usr/bin/dnf-3') },
    'python3-dnf': { vr: '4.23.0-1', noarch: true, summary: 'Python 3 interface to DNF', req: ['python(abi) = 3.13', `dnf-data = ${evr('4.23.0-1')}`, 'python3-libdnf', 'python3-rpm'] },
    'python3-libdnf': { vr: '0.74.0-1', summary: 'Python 3 bindings for libdnf', req: ['python(abi) = 3.13', so('libpython3.13.so.1.0'), ...libc, 'libsolv'] },
    'python3-rpm': { vr: '4.20.1-1', summary: 'Python 3 bindings for RPM', req: ['python(abi) = 3.13', so('librpm.so.10'), ...libc] },
    'cloud-init': { vr: '24.2-4', noarch: true, summary: 'Cloud instance init scripts', req: ['/usr/bin/python3', 'python3-pyyaml', 'e2fsprogs', 'iproute', 'shadow-utils'],
      files: [dir('/etc/cloud'), conf('/etc/cloud/cloud.cfg', 'users:\n  - default\n'), ...prog('cloud-init', '/usr/bin/cloud-init')] },
    podman: { vr: '5.5.0-1', epoch: 5, summary: 'Manage Pods, Containers and Container Images',
      req: [...libc, 'containers-common', '(crun or runc)', 'conmon', 'netavark >= 1.0', 'catatonit'],
      rec: ['container-selinux', 'slirp4netns', 'passt'], files: prog('podman', '/usr/bin/podman') },
    'containers-common': { vr: '0.63.0-1', epoch: 5, noarch: true, summary: 'Common configuration and documentation for containers',
      files: [dir('/etc/containers'), conf('/etc/containers/policy.json', '{"default":[{"type":"insecureAcceptAnything"}]}\n'), conf('/etc/containers/registries.conf', 'unqualified-search-registries = ["registry.fedoraproject.org"]\n')] },
    greenboot: { vr: '0.15.8-1', noarch: true, summary: 'Generic Health Check Framework for systemd', req: ['systemd >= 240', 'bash', 'grub2-tools-minimal'],
      files: [dir('/etc/greenboot'), dir('/etc/greenboot/check'), dir('/etc/greenboot/check/required.d'), dir('/etc/greenboot/check/wanted.d'),
        ...prog('greenboot', '/usr/libexec/greenboot/greenboot')] },
    ignition: { vr: '2.21.0-1', summary: 'First boot installer and configuration tool', req: [...libc, 'dracut', 'dracut-network'],
      files: [dir('/usr/lib/dracut/modules.d/30ignition'), ...prog('ignition', '/usr/lib/dracut/modules.d/30ignition/ignition')] },
    bootupd: { vr: '0.2.27-3', summary: 'Bootloader updater', req: [...libc], files: [dir('/usr/lib/bootupd'), ...prog('bootupd', '/usr/bin/bootupctl', '/usr/libexec/bootupd')] },
    'zram-generator': { vr: '1.2.1-2', summary: 'Systemd unit generator for zram swap devices', req: [...libc, 'systemd'],
      rec: ['zram-generator-defaults'], files: prog('zram-generator', '/usr/lib/systemd/system-generators/zram-generator') },
    'zram-generator-defaults': { vr: '1.2.1-2', noarch: true, summary: 'Default configuration for zram-generator', req: ['zram-generator'],
      files: [file('/usr/lib/systemd/zram-generator.conf', '[zram0]\nzram-size = min(ram, 8192)\n')] },
    anaconda: { vr: '42.27.12-1', summary: 'Graphical system installer', req: [`anaconda-core = ${evr('42.27.12-1')}`, `anaconda-gui = ${evr('42.27.12-1')}`, `anaconda-tui = ${evr('42.27.12-1')}`] },
    'anaconda-core': { vr: '42.27.12-1', summary: 'Core of the Anaconda installer', req: ['/usr/bin/python3', 'python3-dnf', 'python3-blivet', 'systemd'],
      files: [dir('/usr/libexec/anaconda'), ...prog('anaconda-core', '/usr/sbin/anaconda', '/usr/libexec/anaconda/run-anaconda')] },
    'python3-libreport': { vr: '2.17.15-6', summary: 'Python 3 bindings for libreport', req: ['python(abi) = 3.13', so('libpython3.13.so.1.0'), 'libreport'] },
    libreport: { vr: '2.17.15-6', summary: 'Generic library for reporting various problems', req: [...libc, so('libglib-2.0.so.0')] },
    iptables: { vr: '1.8.11-5', summary: 'Tools for managing Linux kernel packet filtering capabilities (legacy)', req: [`iptables-libs${isa} = ${evr('1.8.11-5')}`, ...libc],
      files: prog('iptables', '/usr/sbin/iptables-legacy') },
    'iptables-libs': { vr: '1.8.11-5', summary: 'libraries for iptables', req: [...libc], prov: [so('libxtables.so.12')] },
    'iptables-nft': { vr: '1.8.11-5', summary: 'nftables compatibility for iptables, arptables and ebtables', req: [`iptables-libs${isa} = ${evr('1.8.11-5')}`, ...libc],
      files: prog('iptables-nft', '/usr/sbin/iptables-nft') },
  };
  return c;
}

function blsEntry(kver: string, rv: string): string {
  return [`title Fedora Linux (${kver}) ${rv}`, `version ${kver}`, `linux /vmlinuz-${kver}`, `initrd /initramfs-${kver}.img`,
    'options $kernelopts', 'grub_users $grub_users', 'grub_arg --unrestricted', 'grub_class fedora', ''].join('\n');
}

/** The family a name belongs to, if any (longest prefix wins). */
function familyOf(name: string): Family | undefined {
  if (NOT_IN_FAMILY.has(name)) return undefined;
  let best: Family | undefined;
  for (const f of FAMILIES) {
    if (name.startsWith(f.prefix) && name !== f.base && (!best || f.prefix.length > best.prefix.length)) best = f;
  }
  return best;
}

function emptyPackage(name: string): DemoPackage {
  return { name, version: '', release: '', noarch: false, summary: name, license: 'MIT', requires: [], recommends: [],
    suggests: [], supplements: [], provides: [], conflicts: [], obsoletes: [], files: [] };
}

/**
 * Shape one package for an architecture: the curated description when there is one, else a
 * generic package shaped by its family and name.
 */
export function describePackage(name: string, ctx: ArchContext, curated: Record<string, Curated>): DemoPackage {
  const p = emptyPackage(name);
  const cur = Object.prototype.hasOwnProperty.call(curated, name) ? curated[name] : undefined;
  const libc = [`libc.so.6()${ctx.bits}`, `libc.so.6(GLIBC_2.34)${ctx.bits}`];
  if (cur) {
    const [v, r] = splitVr(cur.vr);
    p.version = v;
    p.release = cur.noDist ? r : r + ctx.dist;
    p.epoch = cur.epoch;
    p.noarch = cur.noarch ?? false;
    p.summary = cur.summary ?? name;
    p.requires = [...(cur.req ?? [])];
    p.recommends = [...(cur.rec ?? [])];
    p.suggests = [...(cur.sugg ?? [])];
    p.supplements = [...(cur.supp ?? [])];
    p.provides = [...(cur.prov ?? [])];
    p.conflicts = [...(cur.conf ?? [])];
    p.obsoletes = [...(cur.obs ?? [])];
    p.files = [...(cur.files ?? [])];
  } else {
    // A family's base package that nothing curated describes still carries the family EVR, so its
    // subpackages' `base(isa) = EVR` requires hold.
    const baseOf = FAMILIES.find((f) => f.base === name);
    if (baseOf) {
      const [v, r] = splitVr(baseOf.vr);
      p.version = v;
      p.release = r + ctx.dist;
      p.epoch = baseOf.epoch;
      p.noarch = baseOf.noarch ?? false;
      p.summary = `${name} (Kiln demo repository package)`;
      if (!p.noarch) p.requires.push(...libc);
      return finish(p);
    }
    const fam = familyOf(name);
    const firmware = /-firmware$/.test(name) || name === 'b43-openfwwf';
    const fonts = /-fonts(-misc)?$/.test(name);
    const vr = fam ? fam.vr : firmware ? FIRMWARE_VR : '1.0-1';
    const [v, r] = splitVr(vr);
    p.version = v;
    p.release = r + ctx.dist;
    p.epoch = fam?.epoch;
    p.noarch = fam?.noarch ?? (firmware || fonts || genericNoarch(name));
    p.summary = `${name} (Kiln demo repository package)`;
    if (fam) {
      const baseCur = curated[fam.base];
      const baseNoarch = baseCur ? baseCur.noarch ?? false : fam.noarch ?? false;
      const [bv, br] = splitVr(baseCur?.vr ?? fam.vr);
      const baseEvr = `${baseCur?.epoch ?? fam.epoch ? `${baseCur?.epoch ?? fam.epoch}:` : ''}${bv}-${br}${ctx.dist}`;
      // Arch subpackages pin their arch base with an ISA dep, like Fedora's %{?_isa} requires.
      const isa = !p.noarch && !baseNoarch ? ctx.isa : '';
      p.requires.push(`${fam.base}${isa} = ${baseEvr}`);
    } else if (firmware && name !== 'linux-firmware-whence') {
      p.requires.push(`linux-firmware-whence`);
    } else if (fonts) {
      p.requires.push('fontpackages-filesystem');
    } else if (/^python3-/.test(name)) {
      p.requires.push('python(abi) = 3.13');
    }
    if (!p.noarch) p.requires.push(...libc);
    if (name === 'fontpackages-filesystem') p.requires = [];
  }
  return finish(p);
}

/** Placeholder programs and units every package gets by name, curated or not. */
function finish(p: DemoPackage): DemoPackage {
  const name = p.name;
  for (const path of PROGRAMS[name] ?? []) {
    if (!p.files.some((f) => f.path === path)) p.files.push(placeholderProgram(path, name));
  }
  for (const [u, wantedBy] of UNITS[name] ?? []) p.files.push(unit(u, name, wantedBy ? { wantedBy } : {}));
  return p;
}
