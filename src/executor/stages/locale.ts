// org.osbuild.locale: /etc/locale.conf with LANG (what systemd-firstboot --locale writes).
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { KilnError } from '../../util/errors.js';
import type { StageImpl } from './types.js';
import { requireKeys, requireString, treePath } from './util.js';

export const localeStage: StageImpl = {
  type: 'org.osbuild.locale',
  validate(stage, what) {
    requireKeys(stage, what, ['language']);
    const l = requireString(stage, 'language', what);
    if (!/^[A-Za-z0-9_.@-]+$/.test(l)) throw new KilnError(`${what}: "${l}" is not a locale identifier`);
  },
  async run(ctx) {
    const f = treePath(ctx, 'etc/locale.conf');
    mkdirSync(dirname(f), { recursive: true });
    rmSync(f, { force: true });
    writeFileSync(f, `LANG=${ctx.options.language as string}\n`, { mode: 0o644 });
  },
};
