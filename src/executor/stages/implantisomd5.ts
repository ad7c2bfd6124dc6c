// org.osbuild.implantisomd5: implant the MD5 of an ISO into its application area
// (`implantisomd5` from isomd5sum, in the build root), so `rd.live.check` can verify the medium.
import { existsSync } from 'node:fs';
import { KilnError } from '../../util/errors.js';
import { needTool } from './ostree-util.js';
import type { StageImpl } from './types.js';
import { requireKeys, requireString, treePath } from './util.js';

export const implantisomd5Stage: StageImpl = {
  type: 'org.osbuild.implantisomd5',
  validate(stage, what) {
    requireKeys(stage, what, ['filename']);
    requireString(stage, 'filename', what);
  },
  async run(ctx) {
    const f = treePath(ctx, ctx.options.filename as string);
    if (!existsSync(f)) throw new KilnError(`${ctx.what}: option "filename": ${String(ctx.options.filename)} does not exist in the tree`);
    needTool(ctx, 'implantisomd5', 'isomd5sum');
    await ctx.run(['implantisomd5', ctx.toSandbox(f)], { what: ctx.what });
  },
};
