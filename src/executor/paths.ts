// Resolving manifest paths against a tree without letting `..` or absolute paths escape it.
import { isAbsolute, join, normalize, relative } from 'node:path';
import { KilnError } from '../util/errors.js';

/** `root` joined with the manifest path `p` (leading slashes ignored); refuses escapes. */
export function inside(root: string, p: string, what: string): string {
  const rel = normalize(p.replace(/^\/+/, ''));
  const full = join(root, rel);
  const back = relative(root, full);
  if (back.startsWith('..') || isAbsolute(back)) throw new KilnError(`${what}: path "${p}" escapes its root`);
  return full;
}
