// Load and validate a definitions directory:
//   <dir>/distros.yaml                 distros (per-release facts, default image config)
//   <dir>/<defs_path>/imagetypes.yaml  image types shared by the distros naming that defs_path
// Every problem found is reported at once, each as `<file>:<line>: <key path>: <problem>`.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KilnError } from '../util/errors.js';
import { parseYamlFile, joinKey, lineOf, type SourceFile } from './yaml-source.js';
import { renderTemplate } from './template.js';
import { Checker, distrosFileSpec, imageTypesFileSpec, isPlainObject } from './schema.js';

/** A validated image type as written in YAML (conditions not yet evaluated). */
export interface ImageTypeDef {
  name: string;
  raw: Record<string, unknown>;
  /** where it came from, for errors found later (at resolve time) */
  src: SourceFile;
  keyPath: string;
}

export interface DistroDef {
  name: string;
  aliases: string[];
  raw: Record<string, unknown>;
  src: SourceFile;
  keyPath: string;
}

export interface ImageTypeFamily {
  defsPath: string;
  file: SourceFile;
  imageTypes: Map<string, ImageTypeDef>;
  /** alias or canonical name -> canonical name */
  names: Map<string, string>;
  pipelineBuildPackages: Record<string, string[]>;
}

export interface Definitions {
  /** absolute directory the definitions were loaded from */
  path: string;
  /** sha256 over every YAML file in the directory: sorted relative paths + contents */
  sha256: string;
  /** relative paths of the YAML files included in the hash */
  files: string[];
  distros: DistroDef[];
  families: Map<string, ImageTypeFamily>;
}

export const DISTROS_FILE = 'distros.yaml';
export const IMAGE_TYPES_FILE = 'imagetypes.yaml';

/** The definitions shipped with Kiln (dist/src/defs -> ../../../definitions; src/defs -> ../../definitions). */
export function defaultDefinitionsDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const up of ['../../../definitions', '../../definitions']) {
    const cand = resolve(here, up);
    if (existsSync(join(cand, DISTROS_FILE))) return cand;
  }
  return resolve(here, '../../../definitions');
}

function listYamlFiles(root: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const ent of readdirSync(d, { withFileTypes: true })) {
      if (ent.name.startsWith('.')) continue;
      const p = join(d, ent.name);
      if (ent.isDirectory()) walk(p);
      else if (/\.ya?ml$/.test(ent.name)) out.push(relative(root, p).split(sep).join('/'));
    }
  };
  walk(root);
  return out.sort();
}

function hashFiles(root: string, files: string[]): string {
  const h = createHash('sha256');
  for (const f of files) {
    h.update(f);
    h.update('\0');
    h.update(readFileSync(join(root, f)));
    h.update('\0');
  }
  return h.digest('hex');
}

function readSource(root: string, rel: string): SourceFile {
  const abs = join(root, rel);
  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch (e) {
    throw new KilnError(`${abs}: cannot read definitions file: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return parseYamlFile(abs, text);
}

/** Top-level keys beginning with "." only carry YAML anchors. */
function withoutAnchorHolders(v: unknown): unknown {
  if (!isPlainObject(v)) return v;
  return Object.fromEntries(Object.entries(v).filter(([k]) => !k.startsWith('.')));
}

export function loadDefinitions(dir?: string): Definitions {
  const root = resolve(dir ?? defaultDefinitionsDir());
  if (!existsSync(root) || !statSync(root).isDirectory()) {
    throw new KilnError(`definitions directory ${root} does not exist or is not a directory`);
  }
  if (!existsSync(join(root, DISTROS_FILE))) {
    throw new KilnError(`definitions directory ${root} has no ${DISTROS_FILE}`);
  }
  const errors: string[] = [];
  const distroSrc = readSource(root, DISTROS_FILE);
  const distroDoc = withoutAnchorHolders(distroSrc.value);
  const dc = new Checker(distroSrc);
  dc.check(distroDoc, distrosFileSpec, '');
  errors.push(...dc.errors);
  if (errors.length) throw new KilnError(summarize(errors));

  const distros: DistroDef[] = [];
  const seen = new Map<string, string>();
  const list = (distroDoc as { distros: Record<string, unknown>[] }).distros;
  list.forEach((raw, i) => {
    const keyPath = joinKey('distros', i);
    let name: string;
    try {
      name = renderTemplate(String(raw.name), { MajorVersion: Number(raw.major_version), Product: String(raw.product) });
    } catch (e) {
      errors.push(`${distroSrc.file}:${lineOf(distroSrc, joinKey(keyPath, 'name'))}: ${joinKey(keyPath, 'name')}: ${(e as Error).message}`);
      return;
    }
    const aliases = (raw.aliases as string[] | undefined) ?? [];
    for (const n of [name, ...aliases]) {
      const prev = seen.get(n);
      if (prev) errors.push(`${distroSrc.file}:${lineOf(distroSrc, keyPath)}: ${keyPath}: distro name "${n}" already used by ${prev}`);
      seen.set(n, keyPath);
    }
    distros.push({ name, aliases, raw, src: distroSrc, keyPath });
  });

  const families = new Map<string, ImageTypeFamily>();
  const attempted = new Set<string>(); // each family is loaded (and its errors reported) once
  for (const d of distros) {
    const defsPath = String(d.raw.defs_path);
    if (attempted.has(defsPath)) continue;
    attempted.add(defsPath);
    const rel = `${defsPath}/${IMAGE_TYPES_FILE}`;
    if (!existsSync(join(root, rel))) {
      errors.push(`${distroSrc.file}:${lineOf(distroSrc, joinKey(d.keyPath, 'defs_path'))}: ${joinKey(d.keyPath, 'defs_path')}: ${join(root, rel)} does not exist`);
      continue;
    }
    const fam = loadFamily(root, rel, defsPath, errors);
    if (fam) families.set(defsPath, fam);
  }
  if (errors.length) throw new KilnError(summarize(errors));

  const files = listYamlFiles(root);
  return { path: root, sha256: hashFiles(root, files), files, distros, families };
}

/** All errors, but not thousands: a broken anchor is reported once per place that uses it. */
function summarize(errors: string[], max = 50): string {
  const unique = [...new Set(errors)];
  if (unique.length <= max) return unique.join('\n');
  return [...unique.slice(0, max), `(${unique.length - max} more errors)`].join('\n');
}

function loadFamily(root: string, rel: string, defsPath: string, errors: string[]): ImageTypeFamily | undefined {
  const src = readSource(root, rel);
  const doc = withoutAnchorHolders(src.value);
  const c = new Checker(src);
  c.check(doc, imageTypesFileSpec, '');
  if (c.errors.length) {
    errors.push(...c.errors);
    return undefined;
  }
  const err = (path: string, problem: string): void => {
    errors.push(`${src.file}:${lineOf(src, path)}: ${path}: ${problem}`);
  };
  const { image_types, pipeline_build_packages } = doc as {
    image_types: Record<string, Record<string, unknown>>;
    pipeline_build_packages: Record<string, string[]>;
  };
  const imageTypes = new Map<string, ImageTypeDef>();
  const names = new Map<string, string>();
  for (const [name, raw] of Object.entries(image_types)) {
    const keyPath = joinKey('image_types', name);
    imageTypes.set(name, { name, raw, src, keyPath });
    crossCheckImageType(raw, keyPath, pipeline_build_packages, err);
  }
  // names and aliases must be unambiguous across the family
  for (const [name] of imageTypes) names.set(name, name);
  for (const [name, def] of imageTypes) {
    ((def.raw.name_aliases as string[] | undefined) ?? []).forEach((alias, i) => {
      const other = names.get(alias);
      if (other !== undefined) err(joinKey(joinKey(def.keyPath, 'name_aliases'), i), `alias "${alias}" is already the name or alias of image type "${other}"`);
      else names.set(alias, name);
    });
  }
  return { defsPath, file: src, imageTypes, names, pipelineBuildPackages: pipeline_build_packages };
}

/** Checks that need more than one key: exports vs pipelines, arches vs partition tables, ... */
function crossCheckImageType(
  raw: Record<string, unknown>,
  keyPath: string,
  pipelineBuild: Record<string, string[]>,
  err: (path: string, problem: string) => void,
): void {
  const k = (s: string): string => joinKey(keyPath, s);
  const payload = raw.payload_pipelines as string[];
  payload.forEach((p, i) => {
    if (!(p in pipelineBuild)) err(joinKey(k('payload_pipelines'), i), `pipeline "${p}" has no entry in pipeline_build_packages (add one, possibly empty)`);
  });
  (raw.exports as string[]).forEach((e, i) => {
    if (!payload.includes(e)) err(joinKey(k('exports'), i), `export "${e}" is not one of payload_pipelines (${payload.join(', ')})`);
  });
  const platformLists: [string, Record<string, unknown>[]][] = [[k('platforms'), raw.platforms as Record<string, unknown>[]]];
  const po = raw.platforms_override as { conditions?: Record<string, { override: Record<string, unknown>[] }> } | undefined;
  for (const [cname, cond] of Object.entries(po?.conditions ?? {})) {
    platformLists.push([joinKey(joinKey(joinKey(k('platforms_override'), 'conditions'), cname), 'override'), cond.override]);
  }
  const arches = new Set<string>();
  for (const [path, list] of platformLists) {
    const here = new Set<string>();
    list.forEach((p, i) => {
      const a = String(p.arch);
      if (here.has(a)) err(joinKey(joinKey(path, i), 'arch'), `arch "${a}" listed twice`);
      here.add(a);
      arches.add(a);
    });
  }
  const needsPT = ['disk', 'ostree_disk', 'ostree_simplified_installer'].includes(String(raw.image_func));
  const pt = raw.partition_table as Record<string, unknown> | undefined;
  if (needsPT) {
    if (!pt) err(keyPath, `missing required key "partition_table" (image_func "${String(raw.image_func)}" writes a disk)`);
    else for (const a of arches) if (!(a in pt)) err(k('partition_table'), `no partition table for arch "${a}" (platforms list it)`);
  }
  const isOstreeFunc = String(raw.image_func).startsWith('ostree_') || raw.image_func === 'bootable_container';
  if (isOstreeFunc && !raw.ostree) err(keyPath, `missing required key "ostree" (image_func "${String(raw.image_func)}" is ostree based)`);
}
