// org.osbuild.dracut.conf: a drop-in in /usr/lib/dracut/dracut.conf.d. Lists are appended to
// dracut's defaults (`key+=" a b "`), strings quoted, booleans "yes"/"no".
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KilnError } from '../../util/errors.js';
import type { StageImpl } from './types.js';
import { allowKeys, checkBool, checkObject, checkString, checkStringArray, optionsOf } from './os-util.js';

const LISTS = ['dracutmodules', 'add_dracutmodules', 'omit_dracutmodules', 'drivers', 'add_drivers', 'omit_drivers', 'force_drivers', 'filesystems', 'install_items', 'remove_items'];
const BOOLS = ['early_microcode', 'reproducible'];
const STRINGS = ['compress'];
// a value ends up inside double quotes in a shell-sourced file
const SAFE_RE = /^[^"\\$`\n]*$/;

/** The drop-in text for a config (exported for tests). */
export function dracutConfText(config: Record<string, unknown>): string {
  let out = '';
  for (const [k, v] of Object.entries(config)) {
    if (LISTS.includes(k)) out += `${k}+=" ${(v as string[]).join(' ')} "\n`;
    else if (BOOLS.includes(k)) out += `${k}="${v ? 'yes' : 'no'}"\n`;
    else out += `${k}="${String(v)}"\n`;
  }
  return out;
}

export const dracutConfStage: StageImpl = {
  type: 'org.osbuild.dracut.conf',
  validate(stage, what) {
    const o = optionsOf(stage);
    allowKeys(o, ['filename', 'config'], what);
    checkString(o.filename, 'filename', what, { required: true, re: /^[\w.-]{1,250}\.conf$/ });
    checkObject(o.config, 'config', what, { required: true });
    const c = o.config as Record<string, unknown>;
    if (Object.keys(c).length === 0) throw new KilnError(`${what}: option "config" must set at least one option`);
    allowKeys(c, [...STRINGS, ...LISTS, ...BOOLS], what, 'option config.');
    for (const k of LISTS) checkStringArray(c[k], `config.${k}`, what, { re: /^[^"\\$`\s]+$/ });
    for (const k of BOOLS) checkBool(c[k], `config.${k}`, what);
    for (const k of STRINGS) checkString(c[k], `config.${k}`, what, { re: SAFE_RE });
  },
  async run(ctx) {
    const dir = join(ctx.tree, 'usr/lib/dracut/dracut.conf.d');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, ctx.options.filename as string), dracutConfText(ctx.options.config as Record<string, unknown>), { mode: 0o644 });
  },
};
