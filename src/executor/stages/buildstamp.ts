// org.osbuild.buildstamp: /.buildstamp, the INI file anaconda and dracut's anaconda module read to
// learn the product ([Main] product, version, isfinal, uuid=<YYYYmmddHHMM>.<arch>, bugurl,
// variant; keys lower-case as Python's configparser writes them). The time comes from
// SOURCE_DATE_EPOCH when set, so reproducible builds get a reproducible stamp.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildTime, checkOpt } from './ostree-util.js';
import type { StageImpl } from './types.js';
import { requireString } from './util.js';

const pad = (n: number): string => String(n).padStart(2, '0');

export const buildstampStage: StageImpl = {
  type: 'org.osbuild.buildstamp',
  validate(stage, what) {
    // the schema allows additional properties; the known ones are checked
    requireString(stage, 'arch', what);
    requireString(stage, 'product', what);
    checkOpt(stage, 'version', 'string', what, true);
    checkOpt(stage, 'final', 'boolean', what, true);
    checkOpt(stage, 'variant', 'string', what);
    checkOpt(stage, 'bugurl', 'string', what);
  },
  async run(ctx) {
    const o = ctx.options as { arch: string; product: string; version: string; final: boolean; variant?: string; bugurl?: string };
    const t = buildTime(ctx);
    const stamp = `${t.getUTCFullYear()}${pad(t.getUTCMonth() + 1)}${pad(t.getUTCDate())}${pad(t.getUTCHours())}${pad(t.getUTCMinutes())}`;
    const main = [`product = ${o.product}`, `version = ${o.version}`, `isfinal = ${o.final ? 'True' : 'False'}`, `uuid = ${stamp}.${o.arch}`];
    if (o.bugurl) main.push(`bugurl = ${o.bugurl}`);
    if (o.variant) main.push(`variant = ${o.variant}`);
    const text = ['[Main]', ...main, '', '[Compose]', 'kiln = devel', '', ''].join('\n');
    writeFileSync(join(ctx.tree, '.buildstamp'), text);
  },
};
