// org.osbuild.nginx.conf: a minimal nginx configuration serving `root` on `listen` (used by the
// iot-container image to serve an ostree repository).
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { KilnError } from '../../util/errors.js';
import type { StageImpl } from './types.js';
import { ABS_PATH_RE, allowKeys, checkBool, checkObject, checkString, optionsOf, resolveInRoot } from './os-util.js';

/** nginx.conf text (exported for tests). */
export function nginxConfText(c: { listen?: string; root?: string; pid?: string; daemon?: boolean }): string {
  const listen = c.listen ?? '*:80';
  const root = c.root ?? '/usr/share/nginx/html';
  const pid = c.pid ?? '/run/nginx.pid';
  const daemon = (c.daemon ?? true) ? 'on' : 'off';
  return ['events {}', 'http {', '  server {', `    listen ${listen};`, `    root ${root};`, '  }', '}', '', `pid ${pid};`, `daemon ${daemon};`, ''].join('\n');
}

// a value goes into nginx syntax unquoted: no whitespace, `;`, braces or quotes
const WORD_RE = /^[^\s;{}'"#\\]+$/;

export const nginxConfStage: StageImpl = {
  type: 'org.osbuild.nginx.conf',
  validate(stage, what) {
    const o = optionsOf(stage);
    allowKeys(o, ['path', 'config'], what);
    checkString(o.path, 'path', what, { re: ABS_PATH_RE });
    if (checkObject(o.config, 'config', what)) {
      const c = o.config;
      allowKeys(c, ['listen', 'root', 'pid', 'daemon'], what, 'option config.');
      for (const k of ['listen', 'root', 'pid']) checkString(c[k], `config.${k}`, what, { re: WORD_RE });
      checkBool(c.daemon, 'config.daemon', what);
    }
  },
  async run(ctx) {
    const p = (ctx.options.path as string | undefined) ?? '/etc/nginx/nginx.conf';
    // resolved as a process in the tree would (an /etc/nginx symlink stays inside the tree)
    const f = resolveInRoot(ctx.tree, p, ctx.what);
    if (!f.startsWith(ctx.tree)) throw new KilnError(`${ctx.what}: config file path ${p} is not in the tree`);
    mkdirSync(dirname(f), { recursive: true });
    writeFileSync(f, nginxConfText((ctx.options.config ?? {}) as Record<string, never>), { mode: 0o644 });
  },
};
