// org.osbuild.fix-bls: rewrite the kernel/initrd paths of /boot/loader/entries/*.conf. Inside a
// build sandbox grub2-mkrelpath and kernel-install cannot see that /boot will be its own mount,
// so entries name `/<something>/boot/vmlinuz-…`; the part up to and including `/boot` becomes
// `prefix` (default `/boot`; `""` when /boot is a separate partition).
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { StageImpl } from './types.js';
import { allowKeys, checkBool, checkString, optionsOf } from './os-util.js';

/** The entry text with every `…/boot` path head replaced by `prefix` (exported for tests). */
export function fixBlsText(text: string, prefix: string, requireBootPrefix: boolean): string {
  // with the requirement, only a path with something before /boot is rewritten ("/x/boot");
  // without it a bare "/boot" is rewritten too. Greedy: up to the last "/boot" on the line.
  const re = requireBootPrefix ? /\/.*\/boot/g : /(?:\/.*)?\/boot/g;
  return text.replace(re, () => prefix);
}

export const fixBlsStage: StageImpl = {
  type: 'org.osbuild.fix-bls',
  validate(stage, what) {
    const o = optionsOf(stage);
    allowKeys(o, ['prefix', 'require_boot_prefix'], what);
    checkString(o.prefix, 'prefix', what);
    checkBool(o.require_boot_prefix, 'require_boot_prefix', what);
  },
  async run(ctx) {
    const prefix = (ctx.options.prefix as string | undefined) ?? '/boot';
    const require = (ctx.options.require_boot_prefix as boolean | undefined) ?? true;
    const dir = join(ctx.tree, 'boot/loader/entries');
    if (!existsSync(dir)) {
      ctx.log('no /boot/loader/entries in the tree; nothing to fix');
      return;
    }
    for (const name of readdirSync(dir).filter((n) => n.endsWith('.conf')).sort()) {
      const f = join(dir, name);
      const before = readFileSync(f, 'utf8');
      const after = fixBlsText(before, prefix, require);
      if (after !== before) writeFileSync(f, after);
    }
  },
};
