// org.osbuild.selinux: label the tree (or a mount) from the tree's file_contexts with setfiles,
// and/or set explicit labels with chcon. Both tools come from the build root.
//
// Without them (e.g. `buildroot: host` on a Debian machine) the stage fails with an error that
// says so; the executor setting `selinuxWithoutTools: 'warn'` instead leaves the tree unlabeled,
// logs a warning and records {"selinux": "unlabeled"} in the stage metadata. It is never skipped
// silently: an unlabeled Fedora image boots into a full relabel, or not at all with enforcing.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KilnError } from '../../util/errors.js';
import type { StageImpl } from './types.js';
import { requireKeys, resolveUrl } from './util.js';

export const selinuxStage: StageImpl = {
  type: 'org.osbuild.selinux',
  validate(stage, what) {
    requireKeys(stage, what, ['target', 'file_contexts', 'exclude_paths', 'labels', 'force_autorelabel']);
    const o = stage.options ?? {};
    if (o.file_contexts === undefined && o.labels === undefined) throw new KilnError(`${what}: needs "file_contexts" or "labels"`);
    if (o.target !== undefined && (typeof o.target !== 'string' || !/^(mount:\/\/[^/]+\/|tree:\/\/\/)/.test(o.target))) throw new KilnError(`${what}: option "target" must be a tree:/// or mount:// URL`);
  },
  async run(ctx) {
    const o = ctx.options as { target?: string; file_contexts?: string; exclude_paths?: string[]; labels?: Record<string, string>; force_autorelabel?: boolean };
    const target = resolveUrl(ctx, o.target ?? 'tree:///', ['tree', 'mount']);
    const need = [...(o.file_contexts ? ['setfiles'] : []), ...(o.labels && Object.keys(o.labels).length ? ['chcon'] : [])];
    const missing = need.filter((t) => !ctx.buildroot.hasTool(t));
    if (missing.length) {
      const msg = `${ctx.what}: ${missing.join(' and ')} not found in the ${ctx.buildroot.mode === 'host' ? 'host' : 'build root'}; cannot apply SELinux labels`;
      if (ctx.settings.selinuxWithoutTools !== 'warn') throw new KilnError(`${msg} (install policycoreutils, or run with the distribution's build root)`);
      ctx.log(`WARNING: ${msg}; the tree is left UNLABELED`);
      ctx.setMetadata({ selinux: 'unlabeled', reason: `${missing.join(', ')} not found` });
    } else {
      if (o.file_contexts) {
        const fc = resolveUrl(ctx, o.file_contexts, ['tree', 'mount', 'input']);
        if (!existsSync(fc)) throw new KilnError(`${ctx.what}: file_contexts "${o.file_contexts}" does not exist`);
        const args = ['setfiles', '-F', '-r', ctx.toSandbox(target)];
        for (const e of o.exclude_paths ?? []) args.push('-e', ctx.toSandbox(join(target, e)));
        await ctx.run([...args, ctx.toSandbox(fc), ctx.toSandbox(target)], { what: ctx.what });
      }
      for (const [path, label] of Object.entries(o.labels ?? {})) {
        await ctx.run(['chcon', '-h', label, ctx.toSandbox(join(target, path))], { what: `${ctx.what}: labelling ${path}` });
      }
    }
    if (o.force_autorelabel) writeFileSync(join(target, '.autorelabel'), '');
  },
};
