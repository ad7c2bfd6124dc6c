// The account files of a tree (/etc/passwd, shadow, group, gshadow), read and edited directly:
// the users, groups and chown stages must not depend on the build root's shadow-utils (or on
// the tree's, which are placeholders in the demo repository), and must never consult the host's
// accounts. The rules follow shadow-utils' useradd/groupadd (login.defs ranges, next id = highest
// in range + 1, user private groups with gid = uid when free, "!" for no password).
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, statSync, symlinkSync, lchownSync, writeFileSync, copyFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { KilnError } from '../../util/errors.js';
import { resolveInRoot } from './os-util.js';

type Line = { fields: string[] } | { raw: string };

class AccountFile {
  lines: Line[] = [];
  exists = false;
  mode = 0o644;
  dirty = false;

  constructor(
    readonly path: string,
    readonly nfields: number,
  ) {
    if (existsSync(path)) {
      this.exists = true;
      this.mode = statSync(path).mode & 0o7777;
      const text = readFileSync(path, 'utf8');
      for (const l of text.split('\n')) {
        if (l === '') continue;
        if (l.startsWith('#') || l.startsWith('+') || l.startsWith('-') || !l.includes(':')) this.lines.push({ raw: l });
        else {
          const f = l.split(':');
          while (f.length < nfields) f.push('');
          this.lines.push({ fields: f });
        }
      }
    }
  }

  entries(): string[][] {
    return this.lines.filter((l): l is { fields: string[] } => 'fields' in l).map((l) => l.fields);
  }

  find(name: string): string[] | undefined {
    return this.entries().find((f) => f[0] === name);
  }

  add(fields: string[]): void {
    this.lines.push({ fields });
    this.dirty = true;
  }

  /** Write back atomically, keeping the file's mode (shadow files are 0000 on Fedora). */
  save(): void {
    if (!this.dirty) return;
    const text = this.lines.map((l) => ('raw' in l ? l.raw : l.fields.join(':'))).join('\n') + '\n';
    mkdirSync(dirname(this.path), { recursive: true });
    const tmp = `${this.path}+kiln`;
    writeFileSync(tmp, text, { mode: this.mode });
    chmodSync(tmp, this.mode);
    renameSync(tmp, this.path);
    this.dirty = false;
  }
}

export interface LoginDefs {
  uidMin: number;
  uidMax: number;
  gidMin: number;
  gidMax: number;
  createHome: boolean;
  homeMode: number;
  passMinDays: string;
  passMaxDays: string;
  passWarnAge: string;
  userGroups: boolean;
  /** /etc/default/useradd */
  shell: string;
  homeBase: string;
  inactive: string;
  skel: string;
  subUid: { min: number; max: number; count: number };
  subGid: { min: number; max: number; count: number };
}

function readKv(path: string, sep: 'space' | 'equals'): Map<string, string> {
  const m = new Map<string, string>();
  if (!existsSync(path)) return m;
  for (const l of readFileSync(path, 'utf8').split('\n')) {
    const t = l.trim();
    if (!t || t.startsWith('#')) continue;
    const mm = sep === 'space' ? /^(\S+)\s+(.*)$/.exec(t) : /^([^=]+)=(.*)$/.exec(t);
    if (mm) m.set(mm[1]!.trim(), mm[2]!.trim().replace(/^"(.*)"$/, '$1'));
  }
  return m;
}

/** login.defs and /etc/default/useradd of the tree, with shadow-utils'/Fedora's defaults. */
export function loginDefs(tree: string): LoginDefs {
  const d = readKv(join(tree, 'etc/login.defs'), 'space');
  const u = readKv(join(tree, 'etc/default/useradd'), 'equals');
  const num = (k: string, def: number): number => (d.has(k) && /^\d+$/.test(d.get(k)!) ? Number(d.get(k)) : def);
  const umask = d.has('UMASK') ? parseInt(d.get('UMASK')!, 8) : 0o022;
  return {
    uidMin: num('UID_MIN', 1000),
    uidMax: num('UID_MAX', 60000),
    gidMin: num('GID_MIN', 1000),
    gidMax: num('GID_MAX', 60000),
    createHome: (d.get('CREATE_HOME') ?? 'yes').toLowerCase() === 'yes',
    homeMode: d.has('HOME_MODE') ? parseInt(d.get('HOME_MODE')!, 8) : 0o777 & ~umask,
    passMinDays: d.get('PASS_MIN_DAYS') ?? '0',
    passMaxDays: d.get('PASS_MAX_DAYS') ?? '99999',
    passWarnAge: d.get('PASS_WARN_AGE') ?? '7',
    userGroups: (d.get('USERGROUPS_ENAB') ?? 'yes').toLowerCase() === 'yes',
    shell: u.get('SHELL') || '/bin/bash',
    homeBase: u.get('HOME') || '/home',
    inactive: u.has('INACTIVE') && u.get('INACTIVE') !== '-1' ? u.get('INACTIVE')! : '',
    skel: u.get('SKEL') || '/etc/skel',
    subUid: { min: num('SUB_UID_MIN', 100000), max: num('SUB_UID_MAX', 600100000), count: num('SUB_UID_COUNT', 65536) },
    subGid: { min: num('SUB_GID_MIN', 100000), max: num('SUB_GID_MAX', 600100000), count: num('SUB_GID_COUNT', 65536) },
  };
}

export class AccountDb {
  readonly passwd: AccountFile;
  readonly shadow: AccountFile;
  readonly group: AccountFile;
  readonly gshadow: AccountFile;
  readonly subuid: AccountFile;
  readonly subgid: AccountFile;
  readonly defs: LoginDefs;

  constructor(
    readonly tree: string,
    readonly what: string,
  ) {
    this.passwd = new AccountFile(join(tree, 'etc/passwd'), 7);
    this.shadow = new AccountFile(join(tree, 'etc/shadow'), 9);
    this.group = new AccountFile(join(tree, 'etc/group'), 4);
    this.gshadow = new AccountFile(join(tree, 'etc/gshadow'), 4);
    this.subuid = new AccountFile(join(tree, 'etc/subuid'), 3);
    this.subgid = new AccountFile(join(tree, 'etc/subgid'), 3);
    if (!this.shadow.exists) this.shadow.mode = 0o000;
    if (!this.gshadow.exists) this.gshadow.mode = 0o000;
    this.defs = loginDefs(tree);
  }

  save(): void {
    this.passwd.save();
    this.shadow.save();
    this.group.save();
    // a tree without gshadow does not get one (shadow-utils only writes it when present)
    if (this.gshadow.exists) this.gshadow.save();
    if (this.subuid.exists) this.subuid.save();
    if (this.subgid.exists) this.subgid.save();
  }

  /**
   * Subordinate uid/gid ranges for a new regular user, as useradd gives them when /etc/subuid
   * (/etc/subgid) exists: SUB_UID_COUNT ids at the lowest free place in [SUB_UID_MIN, SUB_UID_MAX].
   */
  allocSubIds(name: string, uid: number): void {
    if (uid < this.defs.uidMin || uid > this.defs.uidMax) return;
    for (const [file, r] of [[this.subuid, this.defs.subUid], [this.subgid, this.defs.subGid]] as const) {
      if (!file.exists || file.find(name) || r.count <= 0) continue;
      const ranges = file.entries().map((f) => [Number(f[1]), Number(f[2])] as const).sort((a, b) => a[0] - b[0]);
      let start = r.min;
      for (const [s0, c0] of ranges) {
        if (start + r.count <= s0) break;
        start = Math.max(start, s0 + c0);
      }
      if (start + r.count - 1 > r.max) throw new KilnError(`${this.what}: user "${name}": no free subordinate id range of ${r.count} in ${r.min}-${r.max}`);
      file.add([name, String(start), String(r.count)]);
    }
  }

  user(name: string): string[] | undefined {
    return this.passwd.find(name);
  }

  groupEntry(name: string): string[] | undefined {
    return this.group.find(name);
  }

  /** A uid from a name or number (numbers need no entry, as chown accepts any id). */
  uidOf(u: string | number): number {
    if (typeof u === 'number') return u;
    const e = this.user(u);
    if (e) return Number(e[2]);
    if (/^\d+$/.test(u)) return Number(u);
    throw new KilnError(`${this.what}: user "${u}" does not exist in the tree's /etc/passwd`);
  }

  gidOf(g: string | number): number {
    if (typeof g === 'number') return g;
    const e = this.groupEntry(g);
    if (e) return Number(e[2]);
    if (/^\d+$/.test(g)) return Number(g);
    throw new KilnError(`${this.what}: group "${g}" does not exist in the tree's /etc/group`);
  }

  uidTaken(uid: number): boolean {
    return this.passwd.entries().some((f) => Number(f[2]) === uid);
  }

  gidTaken(gid: number): boolean {
    return this.group.entries().some((f) => Number(f[2]) === gid);
  }

  /** shadow-utils' choice: one above the highest id in [min, max], else the lowest free one. */
  private nextId(used: number[], min: number, max: number, preferred: number | undefined, kind: string): number {
    const set = new Set(used);
    if (preferred !== undefined && preferred >= min && preferred <= max && !set.has(preferred)) return preferred;
    const inRange = used.filter((i) => i >= min && i <= max);
    const hi = inRange.length ? Math.max(...inRange) + 1 : min;
    if (hi <= max) return hi;
    for (let i = min; i <= max; i++) if (!set.has(i)) return i;
    throw new KilnError(`${this.what}: no free ${kind} left in ${min}-${max}`);
  }

  newUid(): number {
    return this.nextId(this.passwd.entries().map((f) => Number(f[2])), this.defs.uidMin, this.defs.uidMax, undefined, 'uid');
  }

  newGid(preferred?: number): number {
    return this.nextId(this.group.entries().map((f) => Number(f[2])), this.defs.gidMin, this.defs.gidMax, preferred, 'gid');
  }

  addGroup(name: string, gid: number): void {
    this.group.add([name, 'x', String(gid), '']);
    if (this.gshadow.exists) this.gshadow.add([name, '!', '', '']);
  }

  /** Put `user` in exactly the supplementary groups `groups` (usermod -G without -a). */
  setMemberships(user: string, groups: string[], replace: boolean): void {
    for (const g of groups) if (!this.groupEntry(g)) throw new KilnError(`${this.what}: user "${user}": group "${g}" does not exist`);
    for (const file of [this.group, ...(this.gshadow.exists ? [this.gshadow] : [])]) {
      for (const f of file.entries()) {
        const members = f[3] ? f[3].split(',').filter(Boolean) : [];
        const want = groups.includes(f[0]!);
        const has = members.includes(user);
        if (want && !has) members.push(user);
        else if (!want && has && replace) members.splice(members.indexOf(user), 1);
        else continue;
        f[3] = members.join(',');
        file.dirty = true;
      }
    }
  }
}

/**
 * Create a home directory the way useradd --create-home / mkhomedir_helper do: mode from
 * login.defs, the skeleton copied in, everything owned by the user. An existing one is left alone.
 */
export function createHome(tree: string, home: string, uid: number, gid: number, defs: LoginDefs, what: string): void {
  const dir = resolveInRoot(tree, home, what);
  if (existsSync(dir)) return;
  mkdirSync(dirname(dir), { recursive: true });
  mkdirSync(dir, { mode: defs.homeMode });
  chmodSync(dir, defs.homeMode);
  chownSync(dir, uid, gid);
  const skel = resolveInRoot(tree, defs.skel, what);
  if (existsSync(skel) && statSync(skel).isDirectory()) copySkel(skel, dir, uid, gid);
}

function copySkel(from: string, to: string, uid: number, gid: number): void {
  for (const e of readdirSync(from, { withFileTypes: true })) {
    const s = join(from, e.name);
    const d = join(to, e.name);
    if (e.isSymbolicLink()) {
      symlinkSync(readlinkSync(s), d);
      lchownSync(d, uid, gid);
    } else if (e.isDirectory()) {
      mkdirSync(d, { mode: lstatSync(s).mode & 0o7777 });
      chownSync(d, uid, gid);
      copySkel(s, d, uid, gid);
    } else if (e.isFile()) {
      copyFileSync(s, d);
      chmodSync(d, lstatSync(s).mode & 0o7777);
      chownSync(d, uid, gid);
    }
  }
}
