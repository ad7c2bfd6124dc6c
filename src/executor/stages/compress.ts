// Shared by org.osbuild.xz and org.osbuild.zstd: compress the `file` input into `filename`.
import type { Stage } from '../../manifest/types.js';
import type { StageContext, StageImpl } from './types.js';
import { requireInput, requireKeys, requireString, singleFile, treePath } from './util.js';

export function compressor(type: string, argv: (src: string) => string[]): StageImpl {
  return {
    type,
    validate(stage: Stage, what: string) {
      requireKeys(stage, what, ['filename']);
      requireString(stage, 'filename', what);
      requireInput(stage, 'file', what);
    },
    async run(ctx: StageContext) {
      const src = singleFile(ctx, 'file');
      const out = treePath(ctx, ctx.options.filename as string);
      // the compressed stream goes straight to the output file (images are large)
      await ctx.run(argv(ctx.toSandbox(src)), { what: ctx.what, stdoutFile: out });
    },
  };
}
