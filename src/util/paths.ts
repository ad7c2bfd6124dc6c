import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | undefined;

/**
 * The directory holding Kiln's package.json (and definitions/, configs/). Found by walking up
 * from this module so it works from dist/src/util as well as from an installed package.
 */
export function packageRoot(): string {
  if (root) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'definitions'))) return (root = dir);
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the Kiln package root (package.json + definitions/)');
    dir = up;
  }
}
