// org.osbuild.discinfo: /.discinfo as lorax writes it: a timestamp line, the release, the base
// architecture. The timestamp is SOURCE_DATE_EPOCH when set.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildTime } from './ostree-util.js';
import type { StageImpl } from './types.js';
import { requireString } from './util.js';

export const discinfoStage: StageImpl = {
  type: 'org.osbuild.discinfo',
  validate(stage, what) {
    requireString(stage, 'basearch', what);
    requireString(stage, 'release', what);
  },
  async run(ctx) {
    const o = ctx.options as { basearch: string; release: string };
    const ts = (buildTime(ctx).getTime() / 1000).toFixed(6);
    writeFileSync(join(ctx.tree, '.discinfo'), `${ts}\n${o.release}\n${o.basearch}\n`);
  },
};
