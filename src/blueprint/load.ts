// Read a blueprint file (TOML or JSON, chosen by extension like upstream image-builder; `-` is
// JSON on stdin), check it against the blueprint shape and return the normalised model.
import fs from 'node:fs';
import path from 'node:path';
import { parse as parseToml, TomlError } from 'smol-toml';
import { KilnError } from '../util/errors.js';
import { findJsonError } from './jsonpos.js';
import { BLUEPRINT_SPEC, checkValue } from './schema.js';
import type { Blueprint } from './types.js';

/** Load `file` (`.toml`, `.json`, or `-` for JSON on stdin). Throws KilnError naming the file. */
export function loadBlueprint(file: string): Blueprint {
  if (file === '-') {
    let text: string;
    try {
      text = fs.readFileSync(0, 'utf8');
    } catch (e) {
      throw new KilnError(`blueprint <stdin>: cannot read: ${(e as Error).message}`);
    }
    return parseBlueprint(text, 'json', '<stdin>');
  }
  const ext = path.extname(file).toLowerCase();
  if (ext !== '.toml' && ext !== '.json') {
    throw new KilnError(`blueprint ${file}: unsupported file extension "${ext || '(none)'}" (use .toml or .json, or - for JSON on stdin)`);
  }
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new KilnError(`blueprint ${file}: cannot read: ${err.code === 'ENOENT' ? 'no such file' : err.message}`);
  }
  return parseBlueprint(text, ext === '.toml' ? 'toml' : 'json', file);
}

/** 1-based line and column of a character offset. */
function lineCol(text: string, pos: number): [number, number] {
  const before = text.slice(0, pos);
  const line = before.split('\n').length;
  const col = pos - before.lastIndexOf('\n');
  return [line, col];
}

function syntaxError(text: string, format: 'toml' | 'json', source: string, e: unknown): KilnError {
  if (format === 'toml' && e instanceof TomlError) {
    const first = e.message.split('\n')[0]!.replace(/^Invalid TOML document:\s*/, '');
    return new KilnError(`blueprint ${source}: TOML syntax error at line ${e.line}, column ${e.column}: ${first}`);
  }
  const msg = (e as Error).message ?? String(e);
  if (format === 'json') {
    const found = findJsonError(text);
    if (found) {
      const [l, c] = lineCol(text, found.offset);
      return new KilnError(`blueprint ${source}: JSON syntax error at line ${l}, column ${c}: ${found.message}`);
    }
    return new KilnError(`blueprint ${source}: JSON syntax error: ${msg}`);
  }
  return new KilnError(`blueprint ${source}: ${msg}`);
}

/**
 * Parse and validate blueprint text. `source` names the input in errors (a path or "<stdin>").
 * All problems are reported at once, one per line, each with its key path.
 */
export function parseBlueprint(text: string, format: 'toml' | 'json', source: string): Blueprint {
  // Editors on some platforms write a byte-order mark; neither parser accepts one.
  if (text.startsWith('\uFEFF')) text = text.slice(1);
  let raw: unknown;
  try {
    raw = format === 'toml' ? parseToml(text) : JSON.parse(text);
  } catch (e) {
    throw syntaxError(text, format, source, e);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new KilnError(`blueprint ${source}: expected a table/object at the top level`);
  }
  const errors: string[] = [];
  const v = checkValue(BLUEPRINT_SPEC, raw, '', errors) as Partial<Blueprint> | undefined;
  if (errors.length > 0 || !v) {
    throw new KilnError(errors.map((e) => `blueprint ${source}: ${e}`).join('\n'));
  }
  return {
    ...v,
    packages: v.packages ?? [],
    modules: v.modules ?? [],
    groups: v.groups ?? [],
    customizations: v.customizations ?? {},
  };
}
