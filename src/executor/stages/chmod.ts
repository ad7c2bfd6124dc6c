// org.osbuild.chmod: change modes of paths in the tree with chmod(1) (symbolic or octal modes).
import { KilnError } from '../../util/errors.js';
import type { StageImpl } from './types.js';
import { requireKeys, treePath } from './util.js';

export const chmodStage: StageImpl = {
  type: 'org.osbuild.chmod',
  validate(stage, what) {
    requireKeys(stage, what, ['items']);
    for (const [p, v] of Object.entries((stage.options?.items ?? {}) as Record<string, { mode?: unknown }>)) {
      if (!p.startsWith('/') || /(^|\/)\.\.(\/|$)/.test(p)) throw new KilnError(`${what}: item "${p}" must be an absolute path without ".."`);
      if (typeof v?.mode !== 'string' || !/^([0-7]{1,4}|[ugoa]*[-+=][rwxXst]*(,[ugoa]*[-+=][rwxXst]*)*)$/.test(v.mode)) throw new KilnError(`${what}: item "${p}": mode "${String(v?.mode)}" is not a chmod mode`);
    }
  },
  async run(ctx) {
    for (const [p, v] of Object.entries(ctx.options.items as Record<string, { mode: string; recursive?: boolean }>)) {
      await ctx.run(['chmod', ...(v.recursive ? ['-R'] : []), v.mode, ctx.toSandbox(treePath(ctx, p))], { what: `${ctx.what}: ${p}` });
    }
  },
};
