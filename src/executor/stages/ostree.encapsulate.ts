// org.osbuild.ostree.encapsulate: wrap a commit into an OCI archive ("ostree-native container").
// osbuild does it with `rpm-ostree container-encapsulate` (ostree-rs-ext), whose chunked layer
// layout and container metadata are not reimplemented here. The stage validates its options and
// then runs rpm-ostree from the build root, so it works with a distribution build root and fails
// clearly without one.
import { KilnError } from '../../util/errors.js';
import { checkOpt, ostreeInput, requireInputType } from './ostree-util.js';
import type { StageImpl } from './types.js';
import { requireKeys, requireString, treePath } from './util.js';

export const ostreeEncapsulateStage: StageImpl = {
  type: 'org.osbuild.ostree.encapsulate',
  validate(stage, what) {
    requireKeys(stage, what, ['filename', 'cmd', 'copymeta', 'format_version', 'labels', 'max_layers']);
    requireString(stage, 'filename', what);
    checkOpt(stage, 'cmd', 'string[]', what);
    checkOpt(stage, 'copymeta', 'string[]', what);
    checkOpt(stage, 'labels', 'string[]', what);
    checkOpt(stage, 'format_version', 'integer', what);
    checkOpt(stage, 'max_layers', 'integer', what);
    requireInputType(stage, 'commit', ['org.osbuild.ostree'], what);
  },
  async run(ctx) {
    if (!ctx.buildroot.hasTool('rpm-ostree')) {
      throw new KilnError(`${ctx.what}: needs rpm-ostree (container-encapsulate) in the ${ctx.buildroot.mode === 'host' ? 'host' : 'build root'}, which is not there; Kiln does not reimplement the ostree container format`);
    }
    const o = ctx.options as { filename: string; cmd?: string[]; copymeta?: string[]; labels?: string[]; format_version?: number; max_layers?: number };
    const { repo, commits } = ostreeInput(ctx, 'commit');
    if (commits.length !== 1) throw new KilnError(`${ctx.what}: input "commit" must provide exactly one commit`);
    // `rpm-ostree compose container-encapsulate` (the older top-level command was removed in 2023.2)
    const out = ctx.toSandbox(treePath(ctx, o.filename));
    const args = ['rpm-ostree', 'compose', 'container-encapsulate', commits[0]!.commit, `oci-archive:${out}`];
    args.push('--format-version', String(o.format_version ?? 1), '--repo', ctx.toSandbox(repo));
    if (o.cmd?.length) args.push('--cmd', o.cmd.join(' '));
    for (const m of o.copymeta ?? []) args.push('--copymeta', m);
    for (const l of o.labels ?? []) args.push('--label', l);
    if (o.max_layers) args.push('--max-layers', String(o.max_layers));
    await ctx.run(args, { what: ctx.what });
  },
};
