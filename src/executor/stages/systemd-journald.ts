// org.osbuild.systemd-journald: a journald drop-in in /usr/lib/systemd/journald.conf.d. Like
// osbuild, an existing drop-in of the same name is an error rather than silently replaced.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KilnError } from '../../util/errors.js';
import type { StageImpl } from './types.js';
import { allowKeys, checkObject, checkString, iniText, optionsOf } from './os-util.js';

const JOURNAL: Record<string, string[] | undefined> = {
  Storage: ['volatile', 'persistent', 'auto', 'none'],
  Compress: undefined,
  SplitMode: ['uid', 'none'],
  MaxFileSec: undefined,
  MaxRetentionSec: undefined,
  SyncIntervalSec: undefined,
  Audit: ['yes', 'no', ''],
};

export const systemdJournaldStage: StageImpl = {
  type: 'org.osbuild.systemd-journald',
  validate(stage, what) {
    const o = optionsOf(stage);
    allowKeys(o, ['filename', 'config'], what);
    checkString(o.filename, 'filename', what, { required: true, re: /^[a-zA-Z0-9_.-]{1,250}\.conf$/ });
    checkObject(o.config, 'config', what, { required: true });
    const c = o.config as Record<string, unknown>;
    if (Object.keys(c).length === 0) throw new KilnError(`${what}: option "config" must have a section`);
    allowKeys(c, ['Journal'], what, 'section config.');
    if (checkObject(c.Journal, 'config.Journal', what)) {
      const j = c.Journal;
      if (Object.keys(j).length === 0) throw new KilnError(`${what}: option "config.Journal" must set at least one key`);
      allowKeys(j, Object.keys(JOURNAL), what, 'option config.Journal.');
      for (const [k, oneOf] of Object.entries(JOURNAL)) checkString(j[k], `config.Journal.${k}`, what, { oneOf, re: /^[^\n]*$/ });
    }
  },
  async run(ctx) {
    const dir = join(ctx.tree, 'usr/lib/systemd/journald.conf.d');
    mkdirSync(dir, { recursive: true });
    const f = join(dir, ctx.options.filename as string);
    if (existsSync(f)) throw new KilnError(`${ctx.what}: /usr/lib/systemd/journald.conf.d/${String(ctx.options.filename)} already exists`);
    writeFileSync(f, iniText(ctx.options.config as Record<string, Record<string, unknown>>), { mode: 0o644, flag: 'wx' });
  },
};
