// org.osbuild.systemd: enable/disable/mask units, mask generators, set the default target.
// Uses `systemctl --root` from the build root when it has one; otherwise does what systemctl
// does offline: follow [Install] (WantedBy, RequiredBy, Alias, Also) and write the symlinks.
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync } from 'node:fs';
import { basename, join } from 'node:path';
import { KilnError } from '../../util/errors.js';
import type { StageImpl } from './types.js';
import { requireKeys } from './util.js';

const UNIT_DIRS = ['etc/systemd/system', 'usr/lib/systemd/system', 'lib/systemd/system'];
// a unit name; without a known suffix systemctl means `.service`, and so do we
const UNIT_RE = /^[A-Za-z0-9:_.\\@-]+$/;
const SUFFIX_RE = /\.(service|socket|target|timer|path|mount|automount|swap|slice|scope|device)$/;

function withSuffix(unit: string): string {
  return SUFFIX_RE.test(unit) ? unit : `${unit}.service`;
}

function findUnit(tree: string, unit: string): { file: string; name: string; instance?: string } | undefined {
  const m = /^([^@]+@)([^.]*)(\..+)$/.exec(unit);
  const names = m && m[2] ? [unit, `${m[1]}${m[3]}`] : [unit];
  for (const n of names) {
    for (const d of UNIT_DIRS) {
      const f = join(tree, d, n);
      if (existsSync(f) && !lstatSync(f).isSymbolicLink()) return { file: f, name: n, instance: m && m[2] ? m[2] : undefined };
    }
  }
  return undefined;
}

function installSection(text: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  let inInstall = false;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('[')) {
      inInstall = line === '[Install]';
      continue;
    }
    if (!inInstall || !line || line.startsWith('#') || line.startsWith(';')) continue;
    const eq = line.indexOf('=');
    if (eq < 0) continue;
    const k = line.slice(0, eq).trim();
    const v = line.slice(eq + 1).trim();
    if (v === '') out[k] = [];
    else out[k] = [...(out[k] ?? []), ...v.split(/\s+/)];
  }
  return out;
}

function link(target: string, at: string): void {
  mkdirSync(join(at, '..'), { recursive: true });
  rmSync(at, { force: true });
  symlinkSync(target, at);
}

/** Enable units the way `systemctl --root enable` does, without systemctl. */
export function enableUnitsOffline(tree: string, units: string[], what: string, seen = new Set<string>()): void {
  for (const u of units) {
    const unit = withSuffix(u);
    if (seen.has(unit)) continue;
    seen.add(unit);
    const found = findUnit(tree, unit);
    if (!found) throw new KilnError(`${what}: unit "${unit}" does not exist in the tree`);
    const inst = installSection(readFileSync(found.file, 'utf8'));
    const instance = found.instance ?? inst.DefaultInstance?.[0];
    const enabledName = found.name.includes('@.') && instance ? found.name.replace('@.', `@${instance}.`) : found.name;
    const target = '/' + join(UNIT_DIRS.find((d) => found.file.includes(`/${d}/`)) ?? 'usr/lib/systemd/system', found.name);
    const etc = join(tree, 'etc/systemd/system');
    for (const t of inst.WantedBy ?? []) link(target, join(etc, `${t}.wants`, enabledName));
    for (const t of inst.RequiredBy ?? []) link(target, join(etc, `${t}.requires`, enabledName));
    for (const t of inst.UpheldBy ?? []) link(target, join(etc, `${t}.upholds`, enabledName));
    for (const a of inst.Alias ?? []) link(target, join(etc, a));
    enableUnitsOffline(tree, inst.Also ?? [], what, seen);
  }
}

function walkLinks(dir: string, fn: (path: string) => void): void {
  if (!existsSync(dir)) return;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isSymbolicLink()) fn(p);
    else if (e.isDirectory()) walkLinks(p, fn);
  }
}

/** Remove every symlink under /etc/systemd/system naming the unit (what `disable` does). */
export function disableUnitsOffline(tree: string, units: string[]): void {
  const want = new Set(units.map(withSuffix));
  walkLinks(join(tree, 'etc/systemd/system'), (p) => {
    const t = readlinkSync(p);
    if (t === '/dev/null') return; // masks are not enablement
    if (want.has(basename(p)) || want.has(basename(t))) rmSync(p);
  });
}

export const systemdStage: StageImpl = {
  type: 'org.osbuild.systemd',
  validate(stage, what) {
    requireKeys(stage, what, ['enabled_services', 'disabled_services', 'masked_services', 'masked_generators', 'default_target']);
    for (const k of ['enabled_services', 'disabled_services', 'masked_services']) {
      const v = stage.options?.[k];
      if (v === undefined) continue;
      if (!Array.isArray(v)) throw new KilnError(`${what}: option "${k}" must be an array of unit names`);
      for (const u of v) if (typeof u !== 'string' || !UNIT_RE.test(u)) throw new KilnError(`${what}: ${k}: "${String(u)}" is not a unit name`);
    }
    const t = stage.options?.default_target;
    if (t !== undefined && (typeof t !== 'string' || !t.endsWith('.target'))) throw new KilnError(`${what}: option "default_target" must be a .target unit`);
  },
  async run(ctx) {
    const o = ctx.options as { enabled_services?: string[]; disabled_services?: string[]; masked_services?: string[]; masked_generators?: string[]; default_target?: string };
    const useSystemctl = ctx.buildroot.hasTool('systemctl');
    const root = `--root=${ctx.toSandbox(ctx.tree)}`;
    const sc = (args: string[]): Promise<unknown> => ctx.run(['systemctl', root, ...args], { what: ctx.what });
    if (!useSystemctl) ctx.log('systemctl is not in the build root; writing unit symlinks from [Install] sections');
    if (o.enabled_services?.length) {
      if (useSystemctl) await sc(['enable', ...o.enabled_services]);
      else enableUnitsOffline(ctx.tree, o.enabled_services, ctx.what);
    }
    if (o.disabled_services?.length) {
      if (useSystemctl) await sc(['disable', ...o.disabled_services]);
      else disableUnitsOffline(ctx.tree, o.disabled_services);
    }
    if (o.masked_services?.length) {
      if (useSystemctl) await sc(['mask', ...o.masked_services]);
      else for (const u of o.masked_services) link('/dev/null', join(ctx.tree, 'etc/systemd/system', withSuffix(u)));
    }
    for (const g of o.masked_generators ?? []) link('/dev/null', join(ctx.tree, 'etc/systemd/system-generators', g));
    if (o.default_target) {
      if (useSystemctl) await sc(['set-default', o.default_target]);
      else {
        const found = findUnit(ctx.tree, o.default_target);
        if (!found) throw new KilnError(`${ctx.what}: default target "${o.default_target}" does not exist in the tree`);
        link('/' + join('usr/lib/systemd/system', found.name), join(ctx.tree, 'etc/systemd/system/default.target'));
      }
    }
  },
};
