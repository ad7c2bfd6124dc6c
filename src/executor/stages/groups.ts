// org.osbuild.groups: add groups (groupadd semantics) to the tree's /etc/group and gshadow.
// An existing name or a taken gid is an error unless `force`: then an existing group is kept
// and a taken gid is replaced by a free one (groupadd --force).
import { KilnError } from '../../util/errors.js';
import type { StageImpl } from './types.js';
import { AccountDb } from './accounts.js';
import { allowKeys, checkBool, checkInt, isObj, optionsOf } from './os-util.js';

const NAME_RE = /^[A-Za-z0-9_.][A-Za-z0-9_.-]{0,31}$/;

export const groupsStage: StageImpl = {
  type: 'org.osbuild.groups',
  validate(stage, what) {
    const o = optionsOf(stage);
    allowKeys(o, ['groups', 'force'], what);
    checkBool(o.force, 'force', what);
    if (o.groups === undefined) return;
    if (!isObj(o.groups)) throw new KilnError(`${what}: option "groups" must be an object (group name -> {gid})`);
    for (const [name, g] of Object.entries(o.groups)) {
      if (!NAME_RE.test(name)) throw new KilnError(`${what}: option "groups": "${name}" is not a valid group name`);
      if (!isObj(g)) throw new KilnError(`${what}: option "groups.${name}" must be an object`);
      allowKeys(g, ['gid'], what, `option groups.${name}.`);
      checkInt(g.gid, `groups.${name}.gid`, what, { min: 0, max: 2 ** 32 - 2 });
    }
  },
  async run(ctx) {
    const groups = (ctx.options.groups ?? {}) as Record<string, { gid?: number }>;
    const force = ctx.options.force === true;
    const db = new AccountDb(ctx.tree, ctx.what);
    if (!db.group.exists) throw new KilnError(`${ctx.what}: the tree has no /etc/group (is the setup package installed?)`);
    for (const [name, g] of Object.entries(groups)) {
      if (db.groupEntry(name)) {
        if (force) continue;
        throw new KilnError(`${ctx.what}: group "${name}" already exists in the tree`);
      }
      let gid = g.gid;
      if (gid !== undefined && db.gidTaken(gid)) {
        if (!force) throw new KilnError(`${ctx.what}: group "${name}": gid ${gid} is already used by group "${db.group.entries().find((f) => Number(f[2]) === gid)![0]}"`);
        gid = undefined;
      }
      db.addGroup(name, gid ?? db.newGid());
    }
    db.save();
  },
};
