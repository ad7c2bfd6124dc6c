// Bodies of the configuration files the image stages read: os-release, the account databases
// from `setup`, SELinux configuration, systemd units and the placeholder programs.

import type { FileEntry } from './model.js';

export function dir(path: string, mode = 0o755): FileEntry {
  return { path, kind: 'dir', mode };
}

export function file(path: string, content: string, mode = 0o644, config = false): FileEntry {
  return { path, kind: 'file', content, mode, config };
}

export function conf(path: string, content: string, mode = 0o644): FileEntry {
  return file(path, content, mode, true);
}

export function link(path: string, target: string): FileEntry {
  return { path, kind: 'symlink', target };
}

/**
 * A stand-in for a program. It is a real shell script so that running it by mistake says what it
 * is instead of failing with an exec format error; it does no work and exits 0.
 */
export function placeholderProgram(path: string, pkg: string): FileEntry {
  const prog = path.slice(path.lastIndexOf('/') + 1);
  return file(
    path,
    `#!/bin/sh\n# ${prog} from package ${pkg}: placeholder written by Kiln's demo repository generator.\n` +
      `echo "${prog}: Kiln demo-repo placeholder (package ${pkg}); it does nothing" >&2\nexit 0\n`,
    0o755,
  );
}

export interface UnitOptions {
  description?: string;
  wantedBy?: string[];
  after?: string[];
  /** also write an Alias= line */
  alias?: string;
  type?: 'service' | 'socket' | 'timer' | 'target';
}

/** A systemd unit under /usr/lib/systemd/system with an [Install] section so it can be enabled. */
export function unit(name: string, pkg: string, opts: UnitOptions = {}): FileEntry {
  const kind = name.slice(name.lastIndexOf('.') + 1);
  const lines = ['[Unit]', `Description=${opts.description ?? `${name} (Kiln demo-repo placeholder from ${pkg})`}`];
  if (opts.after && opts.after.length > 0) lines.push(`After=${opts.after.join(' ')}`);
  lines.push('');
  if (kind === 'service') {
    lines.push('[Service]', 'Type=oneshot', `ExecStart=/usr/bin/true`, 'RemainAfterExit=yes', '');
  } else if (kind === 'timer') {
    lines.push('[Timer]', 'OnCalendar=daily', '');
  } else if (kind === 'socket') {
    lines.push('[Socket]', `ListenStream=/run/${name.replace(/\.socket$/, '')}.sock`, '');
  }
  if (kind !== 'target') {
    lines.push('[Install]', `WantedBy=${(opts.wantedBy ?? [kind === 'timer' ? 'timers.target' : kind === 'socket' ? 'sockets.target' : 'multi-user.target']).join(' ')}`);
    if (opts.alias) lines.push(`Alias=${opts.alias}`);
    lines.push('');
  }
  return file(`/usr/lib/systemd/system/${name}`, lines.join('\n'));
}

export function osRelease(releasever: string, variant?: { name: string; id: string }): string {
  const pretty = `Fedora Linux ${releasever}${variant ? ` (${variant.name})` : ''}`;
  const lines = [
    '# Kiln demo repository: Fedora-shaped placeholder release information.',
    'NAME="Fedora Linux"',
    `VERSION="${releasever}${variant ? ` (${variant.name})` : ''}"`,
    'RELEASE_TYPE=stable',
    'ID=fedora',
    `VERSION_ID=${releasever}`,
    'VERSION_CODENAME=""',
    `PLATFORM_ID="platform:f${releasever}"`,
    `PRETTY_NAME="${pretty}"`,
    'ANSI_COLOR="0;38;2;60;110;180"',
    'LOGO=fedora-logo-icon',
    `CPE_NAME="cpe:/o:fedoraproject:fedora:${releasever}"`,
    'DEFAULT_HOSTNAME="fedora"',
    'HOME_URL="https://fedoraproject.org/"',
    'SUPPORT_URL="https://ask.fedoraproject.org/"',
    'BUG_REPORT_URL="https://bugzilla.redhat.com/"',
    'REDHAT_BUGZILLA_PRODUCT="Fedora"',
    `REDHAT_BUGZILLA_PRODUCT_VERSION=${releasever}`,
    'REDHAT_SUPPORT_PRODUCT="Fedora"',
    `REDHAT_SUPPORT_PRODUCT_VERSION=${releasever}`,
  ];
  if (variant) lines.push(`VARIANT="${variant.name}"`, `VARIANT_ID=${variant.id}`);
  return lines.join('\n') + '\n';
}

// Accounts as Fedora's `setup` package ships them (uid/gid numbers match Fedora's uidgid list).
export const PASSWD = `root:x:0:0:Super User:/root:/bin/bash
bin:x:1:1:bin:/bin:/usr/sbin/nologin
daemon:x:2:2:daemon:/sbin:/usr/sbin/nologin
adm:x:3:4:adm:/var/adm:/usr/sbin/nologin
lp:x:4:7:lp:/var/spool/lpd:/usr/sbin/nologin
sync:x:5:0:sync:/sbin:/bin/sync
shutdown:x:6:0:shutdown:/sbin:/sbin/shutdown
halt:x:7:0:halt:/sbin:/sbin/halt
mail:x:8:12:mail:/var/spool/mail:/usr/sbin/nologin
operator:x:11:0:operator:/root:/usr/sbin/nologin
games:x:12:100:games:/usr/games:/usr/sbin/nologin
ftp:x:14:50:FTP User:/var/ftp:/usr/sbin/nologin
nobody:x:65534:65534:Kernel Overflow User:/:/usr/sbin/nologin
`;

export const GROUP = `root:x:0:
bin:x:1:
daemon:x:2:
sys:x:3:
adm:x:4:
tty:x:5:
disk:x:6:
lp:x:7:
mem:x:8:
kmem:x:9:
wheel:x:10:
cdrom:x:11:
mail:x:12:
man:x:15:
dialout:x:18:
floppy:x:19:
games:x:20:
tape:x:33:
video:x:39:
ftp:x:50:
lock:x:54:
audio:x:63:
users:x:100:
nobody:x:65534:
`;

function shadowOf(db: string, locked: string): string {
  return db
    .trim()
    .split('\n')
    .map((l) => l.split(':')[0] + locked)
    .join('\n') + '\n';
}

export const SHADOW = shadowOf(PASSWD, ':*:20000:0:99999:7:::');
export const GSHADOW = shadowOf(GROUP, ':!::');

export const SELINUX_CONFIG = `# Kiln demo repository: SELinux configuration in Fedora's format.
SELINUX=enforcing
SELINUXTYPE=targeted
`;

/** A small file_contexts in the syntax setfiles/matchpathcon read: regex [type] context. */
export const FILE_CONTEXTS = `/.*\tsystem_u:object_r:default_t:s0
/[^/]+\t--\tsystem_u:object_r:etc_runtime_t:s0
/bin\tsystem_u:object_r:bin_t:s0
/boot(/.*)?\tsystem_u:object_r:boot_t:s0
/dev(/.*)?\tsystem_u:object_r:device_t:s0
/etc(/.*)?\tsystem_u:object_r:etc_t:s0
/etc/shadow.*\t--\tsystem_u:object_r:shadow_t:s0
/etc/gshadow.*\t--\tsystem_u:object_r:shadow_t:s0
/etc/selinux(/.*)?\tsystem_u:object_r:selinux_config_t:s0
/home\t-d\tsystem_u:object_r:home_root_t:s0
/lib\tsystem_u:object_r:lib_t:s0
/lib64\tsystem_u:object_r:lib_t:s0
/proc\t-d\t<<none>>
/root(/.*)?\tsystem_u:object_r:admin_home_t:s0
/run(/.*)?\tsystem_u:object_r:var_run_t:s0
/sys\t-d\t<<none>>
/tmp\t-d\tsystem_u:object_r:tmp_t:s0
/usr(/.*)?\tsystem_u:object_r:usr_t:s0
/usr/bin(/.*)?\tsystem_u:object_r:bin_t:s0
/usr/sbin(/.*)?\tsystem_u:object_r:bin_t:s0
/usr/lib(/.*)?\tsystem_u:object_r:lib_t:s0
/usr/lib64(/.*)?\tsystem_u:object_r:lib_t:s0
/usr/lib/modules(/.*)?\tsystem_u:object_r:modules_object_t:s0
/usr/lib/systemd/system(/.*)?\tsystem_u:object_r:systemd_unit_file_t:s0
/var(/.*)?\tsystem_u:object_r:var_t:s0
/var/log(/.*)?\tsystem_u:object_r:var_log_t:s0
/var/lib/rpm(/.*)?\tsystem_u:object_r:rpm_var_lib_t:s0
`;
