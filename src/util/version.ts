import { readFileSync } from 'node:fs';
import { packageRoot } from './paths.js';
import { join } from 'node:path';

let cached: string | undefined;

/** Kiln's version from package.json (recorded in manifests and build metadata). */
export function kilnVersion(): string {
  cached ??= (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
  return cached;
}
