// org.osbuild.timezone: /etc/localtime -> ../usr/share/zoneinfo/<zone> (as systemd-firstboot).
import { existsSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { KilnError } from '../../util/errors.js';
import type { StageImpl } from './types.js';
import { requireKeys, requireString, treePath } from './util.js';

export const timezoneStage: StageImpl = {
  type: 'org.osbuild.timezone',
  validate(stage, what) {
    requireKeys(stage, what, ['zone']);
    const z = requireString(stage, 'zone', what);
    if (!/^[A-Za-z0-9_+-]+(\/[A-Za-z0-9_+-]+)*$/.test(z)) throw new KilnError(`${what}: "${z}" is not a time zone name`);
  },
  async run(ctx) {
    const zone = ctx.options.zone as string;
    if (!existsSync(treePath(ctx, `usr/share/zoneinfo/${zone}`))) {
      // systemd-firstboot would refuse; a tree without tzdata (a demo tree) still gets the link
      ctx.log(`warning: time zone "${zone}" is not in the tree's /usr/share/zoneinfo; linking anyway`);
    }
    mkdirSync(treePath(ctx, 'etc'), { recursive: true });
    const f = treePath(ctx, 'etc/localtime');
    rmSync(f, { force: true });
    symlinkSync(`../usr/share/zoneinfo/${zone}`, f);
  },
};
