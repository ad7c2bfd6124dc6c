// org.osbuild.machine-id: first-boot "yes" writes "uninitialized" (systemd >= 247 then runs
// first-boot units and commits a fresh id), "no" leaves an empty file (id generated at boot, no
// first-boot semantics), "preserve" keeps the existing file and fails when there is none.
import { existsSync, lstatSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { KilnError } from '../../util/errors.js';
import type { StageImpl } from './types.js';
import { allowKeys, checkString, optionsOf } from './os-util.js';
import { treePath } from './util.js';

export const machineIdStage: StageImpl = {
  type: 'org.osbuild.machine-id',
  validate(stage, what) {
    const o = optionsOf(stage);
    allowKeys(o, ['first-boot'], what);
    checkString(o['first-boot'], 'first-boot', what, { required: true, oneOf: ['yes', 'no', 'preserve'] });
  },
  async run(ctx) {
    const f = treePath(ctx, 'etc/machine-id');
    const mode = ctx.options['first-boot'] as 'yes' | 'no' | 'preserve';
    if (mode === 'preserve') {
      if (!existsSync(f) || !lstatSync(f).isFile()) throw new KilnError(`${ctx.what}: first-boot "preserve": /etc/machine-id does not exist in the tree`);
      return;
    }
    mkdirSync(dirname(f), { recursive: true });
    // the rpm stage leaves it read-only (0444); replace rather than write through the mode
    const mode0 = existsSync(f) ? lstatSync(f).mode & 0o777 : 0o644;
    rmSync(f, { force: true });
    writeFileSync(f, mode === 'yes' ? 'uninitialized\n' : '', { mode: mode0 });
  },
};
