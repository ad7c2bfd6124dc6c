// org.osbuild.lorax-script: run one of lorax's Mako templates (from the build root's
// /usr/share/lorax/templates.d, e.g. 99-generic/runtime-postinstall.tmpl) on the tree.
//
// The template is rendered by the build root's python3 with Mako (lorax's own dependency), with
// the variables osbuild passes (root, basearch, configdir, libdir, product.{name,version},
// branding.{release,logos}). The rendered lines are split like a POSIX shell, brace-expanded and
// executed here: append, mkdir, move, install (from the build root), remove, replace, runcmd,
// symlink, systemctl, removepkg, removefrom, removekmod; a leading "-" ignores the command's
// failure. As in osbuild, the rpm database is never removed and runcmd lines touching /boot are
// skipped (the ISO still needs the kernel). Without lorax's templates or Mako in the build root
// the stage fails naming what is missing.
import { copyFileSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, unlinkSync, appendFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { KilnError } from '../../util/errors.js';
import { inside } from '../paths.js';
import { buildrootPath, checkKeys, checkOpt, checkValue } from './ostree-util.js';
import type { StageContext, StageImpl } from './types.js';
import { requireKeys, requireString } from './util.js';

const TEMPLATES = '/usr/share/lorax/templates.d';

// Renders argv[1] with the JSON variables of argv[2]; product/branding become attribute objects.
const RENDER = [
  'import sys, json, collections',
  'try:',
  '    import mako.template',
  'except ImportError:',
  '    sys.stderr.write("python3 module mako is not installed\\n"); sys.exit(3)',
  'a = json.loads(sys.argv[2])',
  'a["product"] = collections.namedtuple("Product", ["name", "version"])(**a["product"])',
  'a["branding"] = collections.namedtuple("Branding", ["release", "logos"])(**a["branding"])',
  'data = open(sys.argv[1], encoding="utf8").read()',
  'sys.stdout.write(mako.template.Template(text=data, filename=sys.argv[1]).render(**a))',
].join('\n');

/** POSIX-shell-like word splitting (quotes and backslashes), as Python's shlex.split. */
export function shellSplit(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inWord = false;
  let q: '"' | "'" | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (q === "'") {
      if (c === "'") q = undefined;
      else cur += c;
    } else if (q === '"') {
      if (c === '"') q = undefined;
      else if (c === '\\' && i + 1 < line.length && '\\"$`\n'.includes(line[i + 1]!)) cur += line[++i];
      else cur += c;
    } else if (c === "'" || c === '"') {
      q = c;
      inWord = true;
    } else if (c === '\\' && i + 1 < line.length) {
      cur += line[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) out.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (q) throw new Error(`unterminated quote in: ${line}`);
  if (inWord) out.push(cur);
  return out;
}

/** a{b,c}d -> abd acd (innermost first, as lorax does); words without braces and a comma are kept. */
export function braceExpand(s: string): string[] {
  if (!(s.includes('{') && s.includes(',') && s.includes('}'))) return [s];
  const right = s.indexOf('}');
  const left = s.slice(0, right).lastIndexOf('{');
  if (left < 0) return [s];
  const [pre, choices, post] = [s.slice(0, left), s.slice(left + 1, right), s.slice(right + 1)];
  return choices.split(',').flatMap((c) => braceExpand(pre + c + post));
}

/** fnmatch pattern -> RegExp over whole strings ("*" also crosses "/", as Python's fnmatch). */
export function fnmatchRe(p: string, slashes = true): RegExp {
  let re = '';
  for (let i = 0; i < p.length; i++) {
    const c = p[i]!;
    if (c === '*') re += slashes ? '.*' : '[^/]*';
    else if (c === '?') re += slashes ? '.' : '[^/]';
    else if (c === '[') {
      const j = p.indexOf(']', i + 2);
      if (j < 0) re += '\\[';
      else {
        let body = p.slice(i + 1, j);
        if (body.startsWith('!')) body = '^' + body.slice(1);
        re += `[${body.replace(/\\/g, '\\\\')}]`;
        i = j;
      }
    } else re += c.replace(/[.+^${}()|\\/]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

const MAGIC = /[*?[]/;

/** Python glob.glob over the host path `pattern` (hidden names only matched by a pattern starting with "."). */
export function glob(pattern: string): string[] {
  const parts = pattern.split('/');
  let found = [parts[0] === '' ? '/' : parts[0]!];
  for (const part of parts.slice(1)) {
    if (part === '') continue;
    const next: string[] = [];
    for (const base of found) {
      if (!MAGIC.test(part)) {
        const p = join(base, part);
        try {
          lstatSync(p);
          next.push(p);
        } catch {
          /* no match */
        }
        continue;
      }
      let names: string[] = [];
      try {
        names = statSync(base).isDirectory() ? readdirSync(base) : [];
      } catch {
        names = [];
      }
      const re = fnmatchRe(part, false);
      for (const n of names.sort()) if ((part.startsWith('.') || !n.startsWith('.')) && re.test(n)) next.push(join(base, n));
    }
    found = next;
  }
  return [...new Set(found)];
}

/** Python's `unicode_escape` decoding of the common escapes lorax templates use. */
function unescape(s: string): string {
  return s.replace(/\\(x[0-9a-fA-F]{2}|[\\'"abfnrtv0])/g, (_m, e: string) => {
    if (e.startsWith('x')) return String.fromCharCode(parseInt(e.slice(1), 16));
    return ({ '\\': '\\', "'": "'", '"': '"', a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '0': '\0' } as Record<string, string>)[e]!;
  });
}

/** Python re.sub replacement (\1, \g<1>, \g<name>) -> JavaScript replacement. */
function pyRepl(r: string): string {
  return r
    .replace(/\$/g, '$$$$')
    .replace(/\\g<(\d+)>/g, '$$$1')
    .replace(/\\g<(\w+)>/g, '$$<$1>')
    .replace(/\\(\d+)/g, '$$$1')
    .replace(/\\n/g, '\n')
    .replace(/\\\\/g, '\\');
}

const RPMDB_SKIP = ['/usr/lib/sysimage/rpm/', '/var/lib/rpm/', '/var/lib/yum', '/var/lib/dnf'];

class Runner {
  private pkgnames?: string[];
  constructor(
    private readonly ctx: StageContext,
    private readonly tree: string,
  ) {}

  private tp(p: string): string {
    return inside(this.tree, p, this.ctx.what);
  }

  private rpmArgs(): string[] {
    for (const cand of ['/usr/lib/sysimage/rpm', '/var/lib/rpm', '/usr/share/rpm']) {
      const d = join(this.tree, cand);
      if (existsSync(join(d, 'rpmdb.sqlite')) || existsSync(join(d, 'Packages'))) return ['--root', this.ctx.toSandbox(this.tree), `--dbpath=${cand}`];
    }
    return ['--root', this.ctx.toSandbox(this.tree)];
  }

  private async allPkgs(): Promise<string[]> {
    if (!this.pkgnames) {
      const r = await this.ctx.run(['rpm', '-qa', ...this.rpmArgs(), '--qf=%{name}\\n'], { what: `${this.ctx.what}: listing packages` });
      this.pkgnames = r.stdout.split('\n').filter(Boolean).sort();
    }
    return this.pkgnames;
  }

  private async filelist(...specs: string[]): Promise<Set<string>> {
    const out = new Set<string>();
    for (const pkg of await this.allPkgs()) {
      if (!specs.some((s) => fnmatchRe(s).test(pkg))) continue;
      const r = await this.ctx.run(['rpm', '-ql', ...this.rpmArgs(), pkg], { what: `${this.ctx.what}: files of ${pkg}` });
      for (const f of r.stdout.split('\n').filter(Boolean)) {
        let dir = false;
        try {
          dir = statSync(this.tp(f)).isDirectory();
        } catch {
          /* missing files count as files */
        }
        if (!dir) out.add(f);
      }
    }
    return out;
  }

  async exec(cmd: string, args: string[]): Promise<void> {
    switch (cmd) {
      case 'append': {
        const [file, data] = args;
        if (file === undefined || data === undefined) throw new Error('append needs FILE and DATA');
        const t = this.tp(file);
        mkdirSync(dirname(t), { recursive: true });
        appendFileSync(t, unescape(data) + '\n');
        return;
      }
      case 'mkdir':
        for (const d of args) mkdirSync(this.tp(d), { recursive: true });
        return;
      case 'move': {
        const [s, d] = args;
        if (!s || !d) throw new Error('move needs SRC and DEST');
        const src = this.tp(s);
        let dst = this.tp(d);
        if (existsSync(dst) && statSync(dst).isDirectory()) dst = join(dst, basename(src));
        renameSync(src, dst);
        return;
      }
      case 'install': {
        const [s, d] = args;
        if (!s || !d) throw new Error('install needs SRC and DEST');
        const dst = this.tp(d);
        const srcs = glob(buildrootPath(this.ctx, s));
        if (srcs.length === 0) throw new Error(`nothing matching ${s} in the build root`);
        for (const f of srcs) {
          const to = existsSync(dst) && statSync(dst).isDirectory() ? join(dst, basename(f)) : dst;
          copyFileSync(f, to);
        }
        return;
      }
      case 'remove':
        return this.remove(args);
      case 'replace': {
        const [pat, repl, ...files] = args;
        if (pat === undefined || repl === undefined || files.length === 0) throw new Error('replace needs PATTERN REPLACEMENT FILE...');
        const re = new RegExp(pat, 'g');
        let found = false;
        for (const g of files) {
          for (const f of glob(this.tp(g))) {
            found = true;
            const text = readFileSync(f, 'utf8');
            const lines = text.split(/(?<=\n)/).map((l) => l.replace(re, pyRepl(repl)));
            writeFileSync(f, lines.join(''));
          }
        }
        if (!found) throw new Error(`no match for ${pat} in ${files.join(' ')}`);
        return;
      }
      case 'runcmd': {
        if (args.some((a) => a.includes('/boot'))) {
          this.ctx.log(`${this.ctx.what}: runcmd: skipping operations on /boot`);
          return;
        }
        await this.ctx.run(['env', '-C', this.ctx.toSandbox(this.tree), ...args], { what: `${this.ctx.what}: runcmd ${args.join(' ')}` });
        return;
      }
      case 'symlink': {
        const [source, dest] = args;
        if (!source || !dest) throw new Error('symlink needs SOURCE and DEST');
        const t = this.tp(dest);
        if (existsSync(t)) await this.remove([dest]);
        symlinkSync(source, t);
        return;
      }
      case 'systemctl': {
        const [verb, ...units] = args;
        if (!['enable', 'disable', 'mask'].includes(verb ?? '')) throw new Error(`systemctl verb must be enable, disable or mask, got ${verb}`);
        mkdirSync(this.tp('/run/systemd/system'), { recursive: true });
        for (const u of units) {
          // failures ignored per unit, as lorax does (units of packages not installed)
          await this.ctx.run(['systemctl', '--root', this.ctx.toSandbox(this.tree), '--no-reload', verb!, u], { what: `${this.ctx.what}: systemctl ${verb} ${u}` }).catch(() => undefined);
        }
        return;
      }
      case 'removepkg':
        for (const p of args) {
          const files = [...(await this.filelist(p))];
          if (files.length) await this.remove(files.map((f) => f.replace(/^\/+/, '')));
          else this.ctx.log(`${this.ctx.what}: removepkg ${p}: no files to remove`);
        }
        return;
      case 'removefrom': {
        let [pkg, ...globs] = args;
        if (!pkg || globs.length === 0) throw new Error('removefrom needs PKGGLOB FILEGLOB...');
        const keep = globs[0] === '--allbut';
        if (keep) globs = globs.slice(1);
        const files = await this.filelist(pkg);
        const matches = new Set<string>();
        for (const g of globs) {
          const re = fnmatchRe(g);
          for (const f of files) if (re.test(f)) matches.add(f);
        }
        const rm = keep ? [...files].filter((f) => !matches.has(f)) : [...matches];
        if (rm.length) await this.remove(rm);
        return;
      }
      case 'removekmod': {
        const i = args.indexOf('--allbut');
        if (i === 0) throw new Error('removekmod needs at least one GLOB before --allbut');
        const globs = i < 0 ? args : args.slice(0, i);
        const keeps = i < 0 ? [] : args.slice(i + 1);
        if (i >= 0 && keeps.length === 0) throw new Error('removekmod needs at least one GLOB after --allbut');
        const files = new Set<string>();
        const walk = (d: string): void => {
          for (const e of readdirSync(d)) {
            const p = join(d, e);
            if (lstatSync(p).isDirectory()) walk(p);
            else files.add(p);
          }
        };
        for (const g of globs) for (const top of glob(this.tp(`/lib/modules/*/kernel/${g}`))) lstatSync(top).isDirectory() ? walk(top) : files.add(top);
        const keepRes = keeps.map((k) => fnmatchRe(`*${k}*`));
        for (const f of files) if (!keepRes.some((re) => re.test(f))) unlinkSync(f);
        return;
      }
      default:
        throw new Error(`unknown command "${cmd}"`);
    }
  }

  private async remove(files: string[]): Promise<void> {
    for (const g of files) {
      // the rpm database must stay for removepkg/removefrom; the image stages can exclude it
      if (RPMDB_SKIP.some((p) => g.startsWith(p))) continue;
      for (const f of glob(this.tp(g))) rmSync(f, { recursive: lstatSync(f).isDirectory(), force: true });
    }
  }
}

/** Run rendered template text on the tree (exported for tests). */
export async function runLoraxScript(ctx: StageContext, text: string, template: string): Promise<number> {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const runner = new Runner(ctx, ctx.tree);
  for (const [i, line] of lines.entries()) {
    let words: string[];
    try {
      words = shellSplit(line).flatMap(braceExpand);
    } catch (err) {
      throw new KilnError(`${ctx.what}: ${template}: ${(err as Error).message}`);
    }
    let [cmd, ...args] = words as [string, ...string[]];
    const ignore = cmd.startsWith('-');
    if (ignore) cmd = cmd.slice(1);
    try {
      await runner.exec(cmd, args);
    } catch (err) {
      if (ignore && !/unknown command/.test((err as Error).message)) continue;
      throw new KilnError(`${ctx.what}: ${template}, command ${i + 1} "${line}": ${(err as Error).message}`);
    }
  }
  return lines.length;
}

export const loraxScriptStage: StageImpl = {
  type: 'org.osbuild.lorax-script',
  validate(stage, what) {
    requireKeys(stage, what, ['path', 'basearch', 'libdir', 'product', 'branding']);
    const p = requireString(stage, 'path', what);
    if (p.split('/').includes('..') || p.startsWith('/')) throw new KilnError(`${what}: option "path" "${p}" must be relative to ${TEMPLATES}`);
    checkOpt(stage, 'basearch', 'string', what);
    checkOpt(stage, 'libdir', 'string', what);
    const prod = checkOpt<Record<string, unknown>>(stage, 'product', 'object', what);
    if (prod) {
      checkKeys(prod, ['name', 'version'], what, 'product');
      for (const k of ['name', 'version']) checkValue(prod, k, 'string', what, `product.${k}`);
    }
    const br = checkOpt<Record<string, unknown>>(stage, 'branding', 'object', what);
    if (br) {
      checkKeys(br, ['release', 'logos'], what, 'branding');
      for (const k of ['release', 'logos']) checkValue(br, k, 'string', what, `branding.${k}`);
    }
  },
  async run(ctx) {
    const o = ctx.options as { path: string; basearch?: string; libdir?: string; product?: { name?: string; version?: string }; branding?: { release?: string; logos?: string } };
    const where = ctx.buildroot.mode === 'host' ? 'host' : 'build root';
    const tmpl = `${TEMPLATES}/${o.path}`;
    if (!existsSync(buildrootPath(ctx, tmpl))) throw new KilnError(`${ctx.what}: option "path": template ${tmpl} is not in the ${where} (needs the lorax package)`);
    if (!ctx.buildroot.hasTool('python3')) throw new KilnError(`${ctx.what}: python3 not found in the ${where} (needed to render lorax templates)`);
    const vars = {
      root: ctx.toSandbox(ctx.tree),
      basearch: o.basearch ?? 'x86_64',
      configdir: `${dirname(tmpl)}/config_files`,
      libdir: o.libdir ?? 'lib64',
      product: { name: o.product?.name ?? '', version: o.product?.version ?? '' },
      branding: { release: o.branding?.release ?? null, logos: o.branding?.logos ?? null },
    };
    const r = await ctx.run(['python3', '-c', RENDER, tmpl, JSON.stringify(vars)], { what: `${ctx.what}: rendering ${tmpl}`, okCodes: [0, 3] });
    if (r.code === 3) throw new KilnError(`${ctx.what}: the ${where}'s python3 has no mako module (needs python3-mako) to render ${tmpl}`);
    const n = await runLoraxScript(ctx, r.stdout, o.path);
    ctx.setMetadata({ template: o.path, commands: n });
  },
};
