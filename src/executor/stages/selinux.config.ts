// org.osbuild.selinux.config: set SELINUX= (state) and SELINUXTYPE= (type) in the tree's
// /etc/selinux/config, rewriting only the existing assignments (comments and other lines kept).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KilnError } from '../../util/errors.js';
import { checkEnum } from './ostree-util.js';
import type { StageImpl } from './types.js';
import { requireKeys } from './util.js';

export const selinuxConfigStage: StageImpl = {
  type: 'org.osbuild.selinux.config',
  validate(stage, what) {
    requireKeys(stage, what, ['state', 'type']);
    checkEnum(stage, 'state', ['enforcing', 'permissive', 'disabled'], what);
    checkEnum(stage, 'type', ['targeted', 'minimum', 'mls'], what);
  },
  async run(ctx) {
    const o = ctx.options as { state?: string; type?: string };
    const f = join(ctx.tree, 'etc/selinux/config');
    if (!existsSync(f)) throw new KilnError(`${ctx.what}: the tree has no /etc/selinux/config (is selinux-policy installed?)`);
    const out = readFileSync(f, 'utf8')
      .split('\n')
      .map((line) => {
        if (line.startsWith('#') || !line.trim() || !line.includes('=')) return line;
        const key = line.trim().split('=', 1)[0];
        if (key === 'SELINUX' && o.state) return `SELINUX=${o.state}`;
        if (key === 'SELINUXTYPE' && o.type) return `SELINUXTYPE=${o.type}`;
        return line;
      });
    writeFileSync(f, out.join('\n'));
  },
};
