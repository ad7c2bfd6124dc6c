// org.osbuild.ostree.passwd: before the packages of a new commit are installed, give the tree the
// users and groups of the parent commit (its /usr/etc/{passwd,group} merged with
// /usr/lib/{passwd,group}; /usr/etc wins), so uids and gids stay stable from commit to commit. The
// parent's /usr/etc/sub{u,g}id entries are carried over too.
//
// The `commits` input may be org.osbuild.ostree (files are read with `ostree cat`) or
// org.osbuild.ostree.checkout (files are read from the checkout). One commit only, as osbuild.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KilnError } from '../../util/errors.js';
import { requireInputType } from './ostree-util.js';
import type { StageContext, StageImpl } from './types.js';
import { requireKeys } from './util.js';

type Reader = (path: string) => Promise<string | undefined>;

function commitReader(ctx: StageContext): Reader {
  const inp = ctx.inputs.commits!;
  const entries = Object.entries(inp.refs ?? {});
  if (entries.length !== 1) throw new KilnError(`${ctx.what}: input "commits" must provide exactly one commit, it provides ${entries.length}`);
  const [commit, data] = entries[0]!;
  if (inp.type === 'org.osbuild.ostree.checkout') {
    const root = join(inp.path, (data.path ?? commit).replace(/^\/+/, ''));
    return async (p) => {
      const f = join(root, p);
      return existsSync(f) ? readFileSync(f, 'utf8') : undefined;
    };
  }
  return async (p) => {
    const r = await ctx.run(['ostree', `--repo=${ctx.toSandbox(inp.path)}`, 'cat', commit, `/${p}`], { what: `${ctx.what}: reading /${p} of ${commit}`, okCodes: [0, 1] });
    if (r.code === 0) return r.stdout;
    if (/No such file or directory/.test(r.stderr)) return undefined;
    throw new KilnError(`${ctx.what}: reading /${p} of commit ${commit}: ${r.stderr.trim()}`);
  };
}

/** name -> line, first occurrence wins, order kept. */
function entries(text: string | undefined, into: Map<string, string>): void {
  for (const line of (text ?? '').split('\n')) {
    if (!line.trim()) continue;
    const name = line.split(':')[0]!;
    if (!into.has(name)) into.set(name, line);
  }
}

function subids(text: string | undefined, into: Map<string, string>): void {
  for (const raw of (text ?? '').split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const parts = line.split(':');
    if (parts.length !== 3) continue; // malformed: skipped, as osbuild does
    into.set(parts[0]!, `${parts[1]}:${parts[2]}`);
  }
}

export const ostreePasswdStage: StageImpl = {
  type: 'org.osbuild.ostree.passwd',
  validate(stage, what) {
    requireKeys(stage, what, []);
    requireInputType(stage, 'commits', ['org.osbuild.ostree', 'org.osbuild.ostree.checkout'], what);
  },
  async run(ctx) {
    const read = commitReader(ctx);
    mkdirSync(join(ctx.tree, 'etc'), { recursive: true });
    for (const db of ['passwd', 'group']) {
      const m = new Map<string, string>();
      entries(await read(`usr/etc/${db}`), m);
      const lib = await read(`usr/lib/${db}`);
      if (lib === undefined) throw new KilnError(`${ctx.what}: the commit has no /usr/lib/${db}; is it an ostree OS commit?`);
      entries(lib, m);
      writeFileSync(join(ctx.tree, 'etc', db), [...m.values()].map((l) => l + '\n').join(''));
    }
    for (const db of ['subuid', 'subgid']) {
      const m = new Map<string, string>();
      subids(await read(`usr/etc/${db}`), m);
      if (m.size) writeFileSync(join(ctx.tree, 'etc', db), [...m].map(([n, v]) => `${n}:${v}\n`).join(''));
    }
  },
};
