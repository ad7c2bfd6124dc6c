// org.osbuild.truncate: create/resize a (sparse) file in the tree; size as truncate(1) reads it.
import { KilnError } from '../../util/errors.js';
import type { StageImpl } from './types.js';
import { requireKeys, requireString, treePath } from './util.js';

export const truncateStage: StageImpl = {
  type: 'org.osbuild.truncate',
  validate(stage, what) {
    requireKeys(stage, what, ['filename', 'size']);
    requireString(stage, 'filename', what);
    const size = requireString(stage, 'size', what);
    if (!/^[0-9]+([KMGTPEZY](iB|B)?|[kK]B?)?$/.test(size)) throw new KilnError(`${what}: option "size" "${size}" is not a size`);
  },
  async run(ctx) {
    const file = treePath(ctx, ctx.options.filename as string);
    await ctx.run(['truncate', '--size', ctx.options.size as string, ctx.toSandbox(file)], { what: ctx.what });
  },
};
