// org.osbuild.ostree.commit: commit the `tree` input (a tree prepared by ostree.preptree) to the
// repository /repo of this tree under `ref`, and record the result in /compose.json, which the
// org.osbuild.ostree pipeline input reads ("ostree-commit").
//
// osbuild uses `rpm-ostree compose commit`; rpm-ostree is not available everywhere (not on
// Debian), so this is plain `ostree commit`, with the metadata rpm-ostree would add that we can
// add: version=<os_version>, rpmostree.inputhash=<stage id>, --bootable when the tree carries a
// kernel in /usr/lib/modules. Differences: no rpmostree.rpmdb.pkglist / package diff metadata; the
// file labels are the tree's own xattrs (the org.osbuild.selinux stage before preptree labels
// them) instead of a relabel from the tree's policy; "selinux-label-version" is accepted and
// recorded but changes nothing.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KilnError } from '../../util/errors.js';
import { checkOpt, requireInputType } from './ostree-util.js';
import type { StageImpl } from './types.js';
import { requireKeys, requireString } from './util.js';

function hasKernel(tree: string): boolean {
  const mods = join(tree, 'usr/lib/modules');
  return existsSync(mods) && readdirSync(mods).some((k) => existsSync(join(mods, k, 'vmlinuz')));
}

export const ostreeCommitStage: StageImpl = {
  type: 'org.osbuild.ostree.commit',
  validate(stage, what) {
    requireKeys(stage, what, ['ref', 'os_version', 'parent', 'selinux-label-version']);
    const ref = requireString(stage, 'ref', what);
    if (!/^[A-Za-z0-9._\-/]+$/.test(ref) || ref.startsWith('/') || ref.endsWith('/') || ref.includes('//')) throw new KilnError(`${what}: option "ref" "${ref}" is not a valid ostree ref`);
    checkOpt(stage, 'os_version', 'string', what);
    const parent = checkOpt<string>(stage, 'parent', 'string', what);
    if (parent !== undefined && !/^[0-9a-f]{64}$/.test(parent)) throw new KilnError(`${what}: option "parent" must be a commit checksum (64 hex digits), got "${parent}"`);
    checkOpt(stage, 'selinux-label-version', 'integer', what);
    requireInputType(stage, 'tree', ['org.osbuild.tree'], what);
  },
  async run(ctx) {
    const o = ctx.options as { ref: string; os_version?: string; parent?: string; 'selinux-label-version'?: number };
    const src = ctx.inputs.tree!.path;
    if (!existsSync(join(src, 'usr'))) throw new KilnError(`${ctx.what}: input "tree" has no /usr; is it an OS tree?`);
    if (existsSync(join(src, 'etc'))) throw new KilnError(`${ctx.what}: input "tree" still has /etc; run org.osbuild.ostree.preptree on it first`);
    const repo = join(ctx.tree, 'repo');
    if (!existsSync(join(repo, 'config'))) throw new KilnError(`${ctx.what}: no repository at /repo in the tree (org.osbuild.ostree.init must come first)`);
    const R = `--repo=${ctx.toSandbox(repo)}`;
    const args = ['ostree', R, 'commit', `--branch=${o.ref}`, `--tree=dir=${ctx.toSandbox(src)}`];
    if (o.parent) args.push(`--parent=${o.parent}`);
    if (o.os_version) args.push(`--add-metadata-string=version=${o.os_version}`);
    args.push(`--add-metadata-string=rpmostree.inputhash=${ctx.id}`);
    if (hasKernel(src)) args.push('--bootable');
    const r = await ctx.run(args, { what: `${ctx.what}: committing to ${o.ref}` });
    const commit = r.stdout.trim();
    if (!/^[0-9a-f]{64}$/.test(commit)) throw new KilnError(`${ctx.what}: ostree commit printed no checksum (${JSON.stringify(r.stdout.slice(0, 200))})`);
    const compose: Record<string, unknown> = { ref: o.ref, 'ostree-commit': commit };
    if (o.os_version) compose['ostree-version'] = o.os_version;
    compose['rpm-ostree-inputhash'] = ctx.id;
    if (o['selinux-label-version']) compose['selinux-label-version'] = o['selinux-label-version'];
    // content checksum and timestamp of the commit object, as `ostree log` prints them
    const log = await ctx.run(['ostree', R, 'log', commit]);
    const content = /^ContentChecksum:\s+([0-9a-f]{64})$/m.exec(log.stdout)?.[1];
    if (content) compose['ostree-content-checksum'] = content;
    const date = /^Date:\s+(.+)$/m.exec(log.stdout)?.[1];
    if (date) {
      const t = Date.parse(date.replace(/ \+0000$/, 'Z').replace(' ', 'T'));
      if (!Number.isNaN(t)) compose['ostree-timestamp'] = new Date(t).toISOString().replace(/\.\d+Z$/, 'Z');
    }
    writeFileSync(join(ctx.tree, 'compose.json'), JSON.stringify(compose, null, 2) + '\n');
    ctx.setMetadata({ compose: JSON.parse(readFileSync(join(ctx.tree, 'compose.json'), 'utf8')) });
  },
};
