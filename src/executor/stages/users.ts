// org.osbuild.users: add users (useradd semantics) or change existing ones (usermod), then
// install their SSH keys. Edits the tree's /etc/passwd, shadow, group and gshadow directly
// (accounts.ts): no shadow-utils needed in the build root, and password hashes go in verbatim.
import { appendFileSync, chmodSync, chownSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { KilnError } from '../../util/errors.js';
import type { UserOptions } from '../../manifest/stages.js';
import type { StageImpl } from './types.js';
import { AccountDb, createHome } from './accounts.js';
import { allowKeys, checkBool, checkInt, checkString, checkStringArray, isObj, optionsOf, resolveInRoot, sourceEpoch } from './os-util.js';

/** What the generators emit (manifest/stages.ts), plus the schema's options they never set. */
interface UserOpts extends UserOptions {
  keys?: string[];
  force_password_reset?: boolean;
}

const NAME_RE = /^[A-Za-z0-9_.][A-Za-z0-9_.-]{0,255}$/;
// a field of a colon-separated account file
const FIELD_RE = /^[^:\n]*$/;

export const usersStage: StageImpl = {
  type: 'org.osbuild.users',
  validate(stage, what) {
    const o = optionsOf(stage);
    allowKeys(o, ['users'], what);
    if (o.users === undefined) return;
    if (!isObj(o.users)) throw new KilnError(`${what}: option "users" must be an object (user name -> settings)`);
    for (const [name, u] of Object.entries(o.users)) {
      const at = `users.${name}`;
      if (!NAME_RE.test(name)) throw new KilnError(`${what}: option "users": "${name}" is not a valid user name`);
      if (!isObj(u)) throw new KilnError(`${what}: option "${at}" must be an object`);
      allowKeys(u, ['uid', 'gid', 'groups', 'description', 'home', 'shell', 'password', 'key', 'keys', 'expiredate', 'force_password_reset'], what, `option ${at}.`);
      checkInt(u.uid, `${at}.uid`, what, { min: 0, max: 2 ** 32 - 2 });
      checkInt(u.gid, `${at}.gid`, what, { min: 0, max: 2 ** 32 - 2 });
      checkStringArray(u.groups, `${at}.groups`, what, { re: /^[A-Za-z0-9_.][A-Za-z0-9_.-]*$/ });
      checkString(u.description, `${at}.description`, what, { re: FIELD_RE });
      checkString(u.home, `${at}.home`, what, { re: /^(\/[^:\n]*)?$/ });
      checkString(u.shell, `${at}.shell`, what, { re: /^(\/[^:\n]*)?$/ });
      checkString(u.password, `${at}.password`, what, { re: FIELD_RE });
      checkString(u.key, `${at}.key`, what, { re: /^[^\n]*$/ });
      checkStringArray(u.keys, `${at}.keys`, what, { re: /^[^\n]*$/ });
      checkInt(u.expiredate, `${at}.expiredate`, what, { min: -1 });
      checkBool(u.force_password_reset, `${at}.force_password_reset`, what);
    }
  },
  async run(ctx) {
    const users = (ctx.options.users ?? {}) as Record<string, UserOpts>;
    const db = new AccountDb(ctx.tree, ctx.what);
    if (!db.passwd.exists) throw new KilnError(`${ctx.what}: the tree has no /etc/passwd (is the setup package installed?)`);
    const epoch = (await sourceEpoch(ctx)) ?? Math.floor(Date.now() / 1000);
    const today = String(Math.floor(epoch / 86400));
    for (const [name, u] of Object.entries(users)) {
      const what = `${ctx.what}: user "${name}"`;
      const existing = db.user(name);
      if (existing) modifyUser(db, name, existing, u, today, what);
      else addUser(db, name, u, today, what);
      const pw = db.user(name)!;
      const uid = Number(pw[2]);
      const gid = Number(pw[3]);
      if (u.force_password_reset) {
        const sp = db.shadow.find(name);
        if (sp) {
          sp[2] = '0';
          db.shadow.dirty = true;
        }
      }
      // write the files before touching the home, so ids on disk and in the tree agree
      db.save();
      if (existing && pw[5]) createHome(ctx.tree, pw[5], uid, gid, db.defs, what);
      const keys = [...(u.keys ?? []), ...(u.key ? [u.key] : [])];
      if (keys.length) addSshKeys(ctx.tree, pw[5]!, uid, gid, keys, what);
    }
  },
};

function addUser(db: AccountDb, name: string, u: UserOpts, today: string, what: string): void {
  const uid = u.uid ?? db.newUid();
  // (-o: a given uid may be shared, as osbuild passes --non-unique)
  let gid: number;
  if (u.gid !== undefined) {
    if (!db.gidTaken(u.gid)) throw new KilnError(`${what}: gid ${u.gid} does not exist in the tree's /etc/group`);
    gid = u.gid;
  } else if (db.defs.userGroups) {
    if (db.groupEntry(name)) throw new KilnError(`${what}: a group named "${name}" already exists; give "gid" to add the user to it`);
    gid = db.newGid(uid);
    db.addGroup(name, gid);
  } else {
    gid = 100;
  }
  const home = u.home || `${db.defs.homeBase.replace(/\/+$/, '')}/${name}`;
  db.passwd.add([name, 'x', String(uid), String(gid), u.description ?? '', home, u.shell || db.defs.shell]);
  db.shadow.add([name, u.password ?? '!', today, db.defs.passMinDays, db.defs.passMaxDays, db.defs.passWarnAge, db.defs.inactive, u.expiredate !== undefined ? String(u.expiredate) : '', '']);
  if (u.groups?.length) db.setMemberships(name, u.groups, false);
  db.allocSubIds(name, uid);
  // useradd creates the home with --home-dir (osbuild passes --create-home then), not with
  // home "" (--no-create-home), else as login.defs CREATE_HOME says
  const create = u.home ? true : u.home === '' ? false : db.defs.createHome;
  if (create) {
    db.save();
    createHome(db.tree, home, uid, gid, db.defs, what);
  }
}

function modifyUser(db: AccountDb, name: string, pw: string[], u: UserOpts, today: string, what: string): void {
  if (u.uid !== undefined && Number(pw[2]) !== u.uid) throw new KilnError(`${what}: the user exists with uid ${pw[2]}; its uid cannot be changed to ${u.uid}`);
  if (u.gid !== undefined) {
    if (!db.gidTaken(u.gid)) throw new KilnError(`${what}: gid ${u.gid} does not exist in the tree's /etc/group`);
    pw[3] = String(u.gid);
  }
  if (u.description !== undefined) pw[4] = u.description;
  if (u.home) pw[5] = u.home;
  if (u.shell) pw[6] = u.shell;
  db.passwd.dirty = true;
  if (u.groups?.length) db.setMemberships(name, u.groups, true);
  if (u.password !== undefined || u.expiredate !== undefined) {
    let sp = db.shadow.find(name);
    if (!sp) {
      sp = [name, '!', today, db.defs.passMinDays, db.defs.passMaxDays, db.defs.passWarnAge, db.defs.inactive, '', ''];
      db.shadow.add(sp);
    }
    if (u.password !== undefined) {
      sp[1] = u.password;
      sp[2] = today;
    }
    if (u.expiredate !== undefined) sp[7] = u.expiredate === -1 ? '' : String(u.expiredate);
    db.shadow.dirty = true;
  }
}

/** ~/.ssh (0700) and authorized_keys (0600, keys appended), owned by the user. */
function addSshKeys(tree: string, home: string, uid: number, gid: number, keys: string[], what: string): void {
  if (!home) throw new KilnError(`${what}: the user has no home directory for its SSH keys`);
  const dir = resolveInRoot(tree, join(home, '.ssh'), what);
  if (!existsSync(dir)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
    chownSync(dir, uid, gid);
  }
  const f = join(dir, 'authorized_keys');
  appendFileSync(f, keys.join('\n') + '\n', { mode: 0o600 });
  chownSync(f, uid, gid);
  chmodSync(f, 0o600);
}
