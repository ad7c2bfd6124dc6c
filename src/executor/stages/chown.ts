// org.osbuild.chown: change owner/group of tree paths. Names are looked up in the tree's own
// /etc/passwd and /etc/group (as `chroot <tree> chown` would), never the host's. Paths resolve
// as inside the tree; recursive changes never follow symlinks (chown -R's default).
import { chownSync, existsSync, lchownSync, lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { KilnError } from '../../util/errors.js';
import type { StageImpl } from './types.js';
import { AccountDb } from './accounts.js';
import { ABS_PATH_RE, allowKeys, checkBool, isObj, optionsOf, resolveInRoot } from './os-util.js';

interface Item {
  user?: string | number;
  group?: string | number;
  recursive?: boolean;
}

function walk(p: string, uid: number, gid: number): void {
  lchownSync(p, uid, gid);
  const st = lstatSync(p);
  if (st.isDirectory()) for (const e of readdirSync(p)) walk(join(p, e), uid, gid);
}

export const chownStage: StageImpl = {
  type: 'org.osbuild.chown',
  validate(stage, what) {
    const o = optionsOf(stage);
    allowKeys(o, ['items'], what);
    if (o.items === undefined) return;
    if (!isObj(o.items)) throw new KilnError(`${what}: option "items" must be an object (path -> {user, group, recursive})`);
    for (const [p, it] of Object.entries(o.items)) {
      if (!ABS_PATH_RE.test(p)) throw new KilnError(`${what}: option "items": "${p}" is not an absolute path without ".."`);
      if (!isObj(it)) throw new KilnError(`${what}: option "items.${p}" must be an object`);
      allowKeys(it, ['user', 'group', 'recursive'], what, `option items.${p}.`);
      if (it.user === undefined && it.group === undefined) throw new KilnError(`${what}: option "items.${p}" needs "user" or "group"`);
      const idOk = (v: unknown, re: RegExp): boolean => v === undefined || (typeof v === 'number' && Number.isInteger(v) && v >= 0) || (typeof v === 'string' && re.test(v));
      if (!idOk(it.user, /^[A-Za-z0-9_.][A-Za-z0-9_.-]{0,31}$/)) throw new KilnError(`${what}: option "items.${p}.user": ${JSON.stringify(it.user)} is not a user name or uid`);
      if (!idOk(it.group, /^[A-Za-z0-9_][A-Za-z0-9_-]{0,31}$/)) throw new KilnError(`${what}: option "items.${p}.group": ${JSON.stringify(it.group)} is not a group name or gid`);
      checkBool(it.recursive, `items.${p}.recursive`, what);
    }
  },
  async run(ctx) {
    const db = new AccountDb(ctx.tree, ctx.what);
    for (const [p, it] of Object.entries((ctx.options.items ?? {}) as Record<string, Item>)) {
      const what = `${ctx.what}: ${p}`;
      const host = resolveInRoot(ctx.tree, p, what, !it.recursive);
      if (!existsSync(host) && !(it.recursive && lstatSync(host, { throwIfNoEntry: false }))) throw new KilnError(`${what}: does not exist in the tree`);
      const uid = it.user !== undefined ? db.uidOf(it.user) : -1;
      const gid = it.group !== undefined ? db.gidOf(it.group) : -1;
      if (it.recursive) walk(host, uid, gid);
      // -1 keeps that id, as chown(2) does
      else chownSync(host, uid, gid);
    }
  },
};
