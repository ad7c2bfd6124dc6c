// productmd 1.2 metadata: images.json and composeinfo.json. Pure builders that enforce the rules
// productmd's own parser enforces (so a file we write is a file it reads), plus a serializer that
// writes what productmd writes (keys sorted, 4-space indent, ASCII-escaped) and an atomic writer.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { KilnError } from '../util/errors.js';
import { COMPOSE_ID_RE, COMPOSE_TYPES, RELEASE_TYPES, RELEASE_VERSION_RE, isValidLabel, type ComposeIdentity, type ReleaseInfo } from './compose-id.js';
import type { VariantConfig } from './config.js';
import { RPM_ARCHES, SUPPORTED_IMAGE_FORMATS, SUPPORTED_IMAGE_TYPES } from './image-types.js';

export const PRODUCTMD_VERSION = '1.2';

export interface ProductmdImage {
  /** relative to the compose/ directory, e.g. IoT/x86_64/images/Fedora-IoT-42-1.x86_64.raw.xz */
  path: string;
  mtime: number;
  size: number;
  volume_id: string | null;
  type: string;
  format: string;
  arch: string;
  disc_number: number;
  disc_count: number;
  checksums: Record<string, string>;
  implant_md5: string | null;
  bootable: boolean;
  subvariant: string;
  /** only written when true */
  unified?: boolean;
  additional_variants?: string[];
}

/** variant uid -> arch -> images */
export type ImagesByVariant = Record<string, Record<string, ProductmdImage[]>>;

export interface ComposeHeader {
  id: string;
  date: string;
  type: string;
  respin: number;
  label?: string;
  final?: boolean;
}

export function composeHeader(c: ComposeIdentity, final = false): ComposeHeader {
  return { id: c.id, date: c.date, type: c.type, respin: c.respin, ...(c.label ? { label: c.label, final } : {}) };
}

/** productmd Compose._validate_*: problems with the compose section, each naming the field. */
export function composeProblems(c: ComposeHeader): string[] {
  const p: string[] = [];
  if (typeof c.id !== 'string' || !c.id || !COMPOSE_ID_RE.test(c.id)) p.push(`compose.id "${c.id}" does not look like a compose id (<...>YYYYMMDD[.n|.t|.ci][.respin])`);
  if (!/^\d{8}$/.test(c.date)) p.push(`compose.date "${c.date}" is not YYYYMMDD`);
  if (!(COMPOSE_TYPES as readonly string[]).includes(c.type)) p.push(`compose.type "${c.type}" is not one of ${COMPOSE_TYPES.join(', ')}`);
  if (!Number.isInteger(c.respin)) p.push(`compose.respin ${c.respin} is not an integer`);
  if (c.label !== undefined && !isValidLabel(c.label)) p.push(`compose.label "${c.label}" is not <Milestone>-<major>.<minor>`);
  if (c.label !== undefined && typeof c.final !== 'boolean') p.push('compose.final must be true or false when a label is set');
  return p;
}

/** productmd Image._validate_*: problems with one image, each naming the field. */
export function imageProblems(img: ProductmdImage): string[] {
  const p: string[] = [];
  const isInt = (v: unknown) => typeof v === 'number' && Number.isInteger(v);
  if (typeof img.path !== 'string' || !img.path) p.push('path must be a non-empty string');
  if (!isInt(img.mtime)) p.push(`mtime ${img.mtime} is not an integer`);
  if (!isInt(img.size) || img.size === 0) p.push(`size ${img.size} must be a non-zero integer`);
  if (img.volume_id !== null && (typeof img.volume_id !== 'string' || !img.volume_id)) p.push('volume_id must be null or a non-empty string');
  if (!SUPPORTED_IMAGE_TYPES.includes(img.type)) p.push(`type "${img.type}" is not a productmd image type`);
  if (!SUPPORTED_IMAGE_FORMATS.includes(img.format)) p.push(`format "${img.format}" is not a productmd image format`);
  if (typeof img.arch !== 'string' || !img.arch) p.push('arch must be a non-empty string');
  if (!isInt(img.disc_number)) p.push(`disc_number ${img.disc_number} is not an integer`);
  if (!isInt(img.disc_count)) p.push(`disc_count ${img.disc_count} is not an integer`);
  if (typeof img.checksums !== 'object' || img.checksums === null || Object.keys(img.checksums).length === 0) p.push('checksums must not be empty');
  if (img.implant_md5 !== null && !/^[a-z0-9]{32}$/.test(img.implant_md5)) p.push(`implant_md5 "${img.implant_md5}" is not 32 lower-case hex digits`);
  if (typeof img.bootable !== 'boolean') p.push('bootable must be true or false');
  if (typeof img.subvariant !== 'string') p.push('subvariant must be a string');
  if (img.additional_variants?.length && !img.unified) p.push('only unified images can list additional_variants');
  return p;
}

/** productmd UNIQUE_IMAGE_ATTRIBUTES as one comparable key. */
export function imageIdentity(img: ProductmdImage): string {
  return JSON.stringify([img.subvariant, img.type, img.format, img.arch, img.disc_number, img.unified ?? false, img.additional_variants ?? []]);
}

function sameChecksums(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && a[k] === b[k]);
}

/** Collects images the way productmd Images.add does, refusing what it refuses. */
export class ImageManifest {
  readonly images: ImagesByVariant = {};

  add(variant: string, arch: string, img: ProductmdImage): void {
    const where = `images.json: ${variant}/${arch}: ${img.path}`;
    if (!RPM_ARCHES.includes(arch)) throw new KilnError(`${where}: arch "${arch}" is not an RPM arch`);
    if (arch === 'src' || arch === 'nosrc') throw new KilnError(`${where}: source arches cannot carry images`);
    const problems = imageProblems(img);
    if (problems.length > 0) throw new KilnError(`${where}: ${problems.join('; ')}`);
    const id = imageIdentity(img);
    for (const [v, arches] of Object.entries(this.images)) {
      for (const [a, list] of Object.entries(arches)) {
        for (const other of list) {
          if (other.path === img.path && v === variant && a === arch) {
            if (!sameChecksums(other.checksums, img.checksums)) throw new KilnError(`${where}: added twice with different checksums`);
            return;
          }
          if (imageIdentity(other) === id && !sameChecksums(other.checksums, img.checksums)) {
            throw new KilnError(
              `${where}: has the same subvariant/type/format/arch/disc as ${v}/${a}: ${other.path} ` +
                `(${img.subvariant}, ${img.type}, ${img.format}, ${img.arch}); productmd forbids that - give one a different subvariant or manifest_type`,
            );
          }
        }
      }
    }
    ((this.images[variant] ??= {})[arch] ??= []).push(img);
  }

  count(): number {
    return Object.values(this.images).reduce((n, a) => n + Object.values(a).reduce((m, l) => m + l.length, 0), 0);
  }
}

/** The images.json document. */
export function imagesDocument(compose: ComposeHeader, images: ImagesByVariant): unknown {
  const problems = composeProblems(compose);
  if (problems.length > 0) throw new KilnError(`images.json: ${problems.join('; ')}`);
  const out: Record<string, Record<string, ProductmdImage[]>> = {};
  for (const [variant, arches] of Object.entries(images)) {
    for (const [arch, list] of Object.entries(arches)) {
      if (list.length === 0) continue;
      (out[variant] ??= {})[arch] = [...list]
        .map((i) => serializeImage(i))
        .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    }
  }
  return { header: { type: 'productmd.images', version: PRODUCTMD_VERSION }, payload: { compose: compose, images: out } };
}

function serializeImage(i: ProductmdImage): ProductmdImage {
  const base: ProductmdImage = {
    path: i.path,
    mtime: i.mtime,
    size: i.size,
    volume_id: i.volume_id,
    type: i.type,
    format: i.format,
    arch: i.arch,
    disc_number: i.disc_number,
    disc_count: i.disc_count,
    checksums: { ...i.checksums },
    implant_md5: i.implant_md5,
    bootable: i.bootable,
    subvariant: i.subvariant,
  };
  if (i.unified) {
    base.unified = true;
    base.additional_variants = [...(i.additional_variants ?? [])];
  }
  return base;
}

/** Path categories of a variant (productmd VariantPaths); arch -> path relative to compose/. */
export type VariantPathsByCategory = Partial<Record<'os_tree' | 'packages' | 'repository' | 'isos' | 'images' | 'jigdos', Record<string, string>>>;

export interface ComposeInfoOptions {
  compose: ComposeHeader;
  release: ReleaseInfo;
  variants: VariantConfig[];
  /** variant uid -> category -> arch -> relative path (only existing content should be listed) */
  paths?: Record<string, VariantPathsByCategory>;
}

function releaseProblems(r: ReleaseInfo, where: string): string[] {
  const p: string[] = [];
  if (typeof r.name !== 'string') p.push(`${where}.name must be a string`);
  if (typeof r.short !== 'string') p.push(`${where}.short must be a string`);
  if (!RELEASE_VERSION_RE.test(r.version)) p.push(`${where}.version "${r.version}" is not a release version`);
  if (!(RELEASE_TYPES as readonly string[]).includes(r.type)) p.push(`${where}.type "${r.type}" is not one of ${RELEASE_TYPES.join(', ')}`);
  return p;
}

function releaseSection(r: ReleaseInfo, layered: boolean): Record<string, unknown> {
  return {
    name: r.name,
    version: r.version,
    short: r.short,
    type: r.type,
    ...(layered ? { is_layered: true } : {}),
    internal: r.internal ?? false,
  };
}

/** The composeinfo.json document. */
export function composeInfoDocument(o: ComposeInfoOptions): unknown {
  const problems = [...composeProblems(o.compose), ...releaseProblems(o.release, 'release')];
  const variants: Record<string, unknown> = {};
  const children = new Map<string, string[]>();
  for (const v of o.variants) if (v.parent) (children.get(v.parent) ?? children.set(v.parent, []).get(v.parent)!).push(v.id);
  for (const v of o.variants) {
    if (!/^[a-zA-Z0-9]+$/.test(v.id)) problems.push(`variant ${v.uid}: id "${v.id}" is not alphanumeric`);
    if (v.arches.length === 0) problems.push(`variant ${v.uid}: arches must not be empty`);
    if (v.release) problems.push(...releaseProblems(v.release, `variant ${v.uid}.release`));
    const arches = [...v.arches].sort();
    const paths: Record<string, Record<string, string>> = {};
    for (const [cat, byArch] of Object.entries(o.paths?.[v.uid] ?? {})) {
      for (const arch of arches) {
        const rel = byArch?.[arch];
        if (rel) (paths[cat] ??= {})[arch] = rel;
      }
    }
    const kids = children.get(v.uid);
    variants[v.uid] = {
      id: v.id,
      uid: v.uid,
      name: v.name,
      type: v.type,
      arches,
      ...(v.type === 'layered-product' && v.release ? { release: releaseSection(v.release, true) } : {}),
      paths,
      ...(kids ? { variants: [...kids].sort() } : {}),
    };
  }
  if (problems.length > 0) throw new KilnError(`composeinfo.json: ${problems.join('; ')}`);
  return {
    header: { type: 'productmd.composeinfo', version: PRODUCTMD_VERSION },
    payload: { compose: o.compose, release: releaseSection(o.release, false), variants },
  };
}

/** Serialize like productmd (json.dump, indent 4, sort_keys, ensure_ascii). */
export function serializeMetadata(doc: unknown): string {
  const sorted = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sorted);
    if (v && typeof v === 'object') {
      return Object.fromEntries(
        Object.keys(v as object)
          .sort()
          .map((k) => [k, sorted((v as Record<string, unknown>)[k])]),
      );
    }
    return v;
  };
  const text = JSON.stringify(sorted(doc), null, 4);
  return text.replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Write via a temporary file in the same directory and rename, so readers never see half a file. */
export function writeFileAtomic(file: string, data: string | Buffer): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${Date.now()}.tmp`);
  try {
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

export function writeMetadata(file: string, doc: unknown): void {
  writeFileAtomic(file, serializeMetadata(doc));
}
