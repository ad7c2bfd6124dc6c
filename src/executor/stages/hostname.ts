// org.osbuild.hostname: /etc/hostname (the file systemd-firstboot --hostname writes).
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { KilnError } from '../../util/errors.js';
import type { StageImpl } from './types.js';
import { requireKeys, requireString, treePath } from './util.js';

// RFC 1123 labels, as systemd's hostname_is_valid accepts (trailing dot not allowed)
const HOSTNAME_RE = /^(?=.{1,64}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

export const hostnameStage: StageImpl = {
  type: 'org.osbuild.hostname',
  validate(stage, what) {
    requireKeys(stage, what, ['hostname']);
    const h = requireString(stage, 'hostname', what);
    if (!HOSTNAME_RE.test(h)) throw new KilnError(`${what}: "${h}" is not a valid hostname`);
  },
  async run(ctx) {
    const f = treePath(ctx, 'etc/hostname');
    mkdirSync(dirname(f), { recursive: true });
    rmSync(f, { force: true });
    writeFileSync(f, `${ctx.options.hostname as string}\n`, { mode: 0o644 });
  },
};
