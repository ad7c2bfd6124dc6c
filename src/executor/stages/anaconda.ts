// org.osbuild.anaconda: anaconda's configuration drop-in /etc/anaconda/conf.d/90-osbuild.conf with
// the [Anaconda] module lists (kickstart-modules -> kickstart_modules = one module a line, ...).
// Only a file is written; anaconda itself reads it when the installer boots.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KilnError } from '../../util/errors.js';
import type { StageImpl } from './types.js';

export const anacondaStage: StageImpl = {
  type: 'org.osbuild.anaconda',
  validate(stage, what) {
    for (const [k, v] of Object.entries(stage.options ?? {})) {
      if (!Array.isArray(v) || v.length === 0 || !v.every((m) => typeof m === 'string' && /^[A-Za-z0-9_.*-]+$/.test(m))) {
        throw new KilnError(`${what}: option "${k}" must be a non-empty array of module names`);
      }
    }
  },
  async run(ctx) {
    const dir = join(ctx.tree, 'etc/anaconda/conf.d');
    mkdirSync(dir, { recursive: true });
    let text = '\n# Kiln customizations\n[Anaconda]\n';
    for (const [k, mods] of Object.entries(ctx.options as Record<string, string[]>)) {
      text += `${k.replace(/-/g, '_')}=\n` + mods.map((m) => `    ${m}\n`).join('');
    }
    writeFileSync(join(dir, '90-osbuild.conf'), text);
  },
};
