// org.osbuild.systemd.preset: /usr/lib/systemd/system-preset/50-osbuild.preset, one
// `enable|disable <unit>` line per preset in the given order (systemctl preset-all applies it).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KilnError } from '../../util/errors.js';
import type { StageImpl } from './types.js';
import { allowKeys, checkString, isObj, optionsOf } from './os-util.js';

export const systemdPresetStage: StageImpl = {
  type: 'org.osbuild.systemd.preset',
  validate(stage, what) {
    const o = optionsOf(stage);
    allowKeys(o, ['presets'], what);
    if (o.presets === undefined) return;
    if (!Array.isArray(o.presets) || o.presets.length === 0) throw new KilnError(`${what}: option "presets" must be a non-empty array of {name, state}`);
    const seen = new Set<string>();
    o.presets.forEach((p: unknown, i) => {
      if (!isObj(p)) throw new KilnError(`${what}: option "presets"[${i}] must be an object`);
      allowKeys(p, ['name', 'state'], what, `key in presets[${i}]:`);
      checkString(p.name, `presets[${i}].name`, what, { required: true, re: /^[A-Za-z0-9:_.\\@*-]+$/ });
      checkString(p.state, `presets[${i}].state`, what, { required: true, oneOf: ['enable', 'disable'] });
      if (seen.has(p.name as string)) throw new KilnError(`${what}: option "presets": "${String(p.name)}" has more than one state`);
      seen.add(p.name as string);
    });
  },
  async run(ctx) {
    const presets = (ctx.options.presets ?? []) as { name: string; state: string }[];
    if (presets.length === 0) return;
    const dir = join(ctx.tree, 'usr/lib/systemd/system-preset');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, '50-osbuild.preset'), presets.map((p) => `${p.state} ${p.name}\n`).join(''), { mode: 0o644 });
  },
};
