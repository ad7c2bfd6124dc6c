// org.osbuild.ostree.remotes: add remotes to a repository of the tree (`ostree remote add
// --if-not-exists`), with branches, contenturl, and GPG verification: keys given inline are
// imported with `remote gpg-import --stdin`, key paths (in the booted system) set gpgkeypath;
// a remote with neither is added with --no-gpg-verify.
import { KilnError } from '../../util/errors.js';
import { checkKeys, checkValue } from './ostree-util.js';
import type { StageImpl } from './types.js';
import { requireKeys, requireString, treePath } from './util.js';

interface Remote {
  name: string;
  url: string;
  contenturl?: string;
  branches?: string[];
  gpgkeys?: string[];
  gpgkeypaths?: string[];
}

export const ostreeRemotesStage: StageImpl = {
  type: 'org.osbuild.ostree.remotes',
  validate(stage, what) {
    requireKeys(stage, what, ['repo', 'remotes']);
    requireString(stage, 'repo', what);
    const remotes = stage.options?.remotes;
    if (remotes === undefined) return;
    if (!Array.isArray(remotes)) throw new KilnError(`${what}: option "remotes" must be an array`);
    remotes.forEach((r: unknown, i) => {
      const l = `remotes[${i}]`;
      if (!r || typeof r !== 'object') throw new KilnError(`${what}: option "${l}" must be an object`);
      const o = r as Record<string, unknown>;
      checkKeys(o, ['name', 'url', 'contenturl', 'branches', 'gpgkeys', 'gpgkeypaths'], what, l);
      const name = checkValue<string>(o, 'name', 'string', what, `${l}.name`, true)!;
      if (!/^[A-Za-z0-9_.-]+$/.test(name)) throw new KilnError(`${what}: option "${l}.name" "${name}" is not a valid remote name`);
      checkValue(o, 'url', 'string', what, `${l}.url`, true);
      checkValue(o, 'contenturl', 'string', what, `${l}.contenturl`);
      for (const k of ['branches', 'gpgkeys', 'gpgkeypaths']) checkValue(o, k, 'string[]', what, `${l}.${k}`);
    });
  },
  async run(ctx) {
    const o = ctx.options as { repo: string; remotes?: Remote[] };
    const repo = `--repo=${ctx.toSandbox(treePath(ctx, o.repo))}`;
    for (const r of o.remotes ?? []) {
      const extra: string[] = [];
      if (r.gpgkeypaths?.length) extra.push(`--set=gpgkeypath=${r.gpgkeypaths.join(',')}`, '--set=gpg-verify=true');
      else if (!r.gpgkeys?.length) extra.push('--no-gpg-verify');
      if (r.contenturl) extra.push(`--set=contenturl=${r.contenturl}`);
      await ctx.run(['ostree', 'remote', 'add', '--if-not-exists', ...extra, r.name, r.url, ...(r.branches ?? []), repo], { what: `${ctx.what}: adding remote ${r.name}` });
      for (const [i, key] of (r.gpgkeys ?? []).entries()) {
        await ctx.run(['ostree', 'remote', 'gpg-import', '--stdin', r.name, repo], { what: `${ctx.what}: importing gpgkeys[${i}] of remote ${r.name}`, input: key });
      }
    }
  },
};
