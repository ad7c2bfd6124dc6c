// org.osbuild.keymap: /etc/vconsole.conf (KEYMAP=, what `systemd-firstboot --keymap` writes, plus
// FONT= when asked) and, for x11-keymap, /etc/X11/xorg.conf.d/00-keyboard.conf (the file
// localectl writes). Written directly, like the locale and hostname stages.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KilnError } from '../../util/errors.js';
import type { StageImpl } from './types.js';
import { allowKeys, checkObject, checkString, checkStringArray, optionsOf } from './os-util.js';

// systemd's keymap_is_valid: printable, no slash, not starting with a dot, < 128 chars
const KEYMAP_RE = /^(?!\.)[A-Za-z0-9_.+-]{1,127}$/;

export function xorgKeyboardText(layouts: string[]): string {
  return [
    '# Written by Kiln (org.osbuild.keymap); change it with localectl(1).',
    'Section "InputClass"',
    '        Identifier "system-keyboard"',
    '        MatchIsKeyboard "on"',
    `        Option "XkbLayout" "${layouts.join(',')}"`,
    'EndSection',
    '',
  ].join('\n');
}

export const keymapStage: StageImpl = {
  type: 'org.osbuild.keymap',
  validate(stage, what) {
    const o = optionsOf(stage);
    allowKeys(o, ['keymap', 'x11-keymap', 'font'], what);
    checkString(o.keymap, 'keymap', what, { required: true, re: KEYMAP_RE });
    checkString(o.font, 'font', what, { re: /^[A-Za-z0-9_.+-]+$/ });
    if (checkObject(o['x11-keymap'], 'x11-keymap', what)) {
      const x = o['x11-keymap'];
      allowKeys(x, ['layouts'], what, 'option x11-keymap.');
      if (x.layouts === undefined) throw new KilnError(`${what}: option "x11-keymap.layouts" is required`);
      checkStringArray(x.layouts, 'x11-keymap.layouts', what, { minItems: 1, re: /^[A-Za-z0-9_()+-]{2,}$/ });
    }
  },
  async run(ctx) {
    const o = ctx.options as { keymap: string; font?: string; 'x11-keymap'?: { layouts: string[] } };
    const etc = join(ctx.tree, 'etc');
    mkdirSync(etc, { recursive: true });
    const vconsole = join(etc, 'vconsole.conf');
    rmSync(vconsole, { force: true });
    writeFileSync(vconsole, `KEYMAP=${o.keymap}\n${o.font ? `FONT=${o.font}\n` : ''}`, { mode: 0o644 });
    if (o['x11-keymap']) {
      const dir = join(etc, 'X11/xorg.conf.d');
      mkdirSync(dir, { recursive: true, mode: 0o755 });
      writeFileSync(join(dir, '00-keyboard.conf'), xorgKeyboardText(o['x11-keymap'].layouts), { mode: 0o644 });
    }
  },
};
