// Upstream-format repository files (`<distro>-<version>.json`) so a distro can ship default
// repositories:
//   {"<arch>": [{name, baseurl (string or list), metalink, mirrorlist, gpgkey, gpgkeys[],
//                check_gpg, check_repo_gpg, ignore_ssl, rhsm, module_hotfixes, metadata_expire,
//                image_type_tags[], package_sets[]}]}
//
// Repo id: the sha256 hex of the concatenation of baseurls + metalink + mirrorlist + gpgkeys,
// followed by the same type markers upstream's RepoConfig.Hash() mixes in (the literal "*bool"
// for check_gpg, which a repository file always sets, "*bool" for check_repo_gpg /
// module_hotfixes when present, the metadata_expire text, and "bool" for rhsm). The boolean
// values themselves are not hashed, as upstream. This keeps ids equal to upstream's for the
// same file, so depsolve results and manifests line up.
import fs from 'node:fs';
import { createHash } from 'node:crypto';
import { KilnError } from '../util/errors.js';
import type { RepoConfig } from './types.js';

const KNOWN = new Set([
  'name',
  'baseurl',
  'metalink',
  'mirrorlist',
  'gpgkey',
  'gpgkeys',
  'check_gpg',
  'check_repo_gpg',
  'ignore_ssl',
  'rhsm',
  'module_hotfixes',
  'metadata_expire',
  'image_type_tags',
  'package_sets',
  'enabled',
  'priority',
  'id',
]);

function strList(v: unknown, where: string): string[] {
  if (v === undefined || v === null) return [];
  if (typeof v === 'string') return v === '' ? [] : [v];
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  throw new KilnError(`${where}: expected a string or a list of strings`);
}

function optStr(v: unknown, where: string): string | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw new KilnError(`${where}: expected a string`);
  return v;
}

function optBool(v: unknown, where: string): boolean | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw new KilnError(`${where}: expected true or false`);
  return v;
}

/** The upstream-compatible id of a repository file entry (see the module comment). */
export function upstreamRepoId(e: { baseurl: string[]; metalink?: string; mirrorlist?: string; gpgkeys: string[]; checkRepoGpg?: boolean; moduleHotfixes?: boolean; metadataExpire?: string }): string {
  const s =
    e.baseurl.join('') +
    (e.metalink ?? '') +
    (e.mirrorlist ?? '') +
    e.gpgkeys.join('') +
    '*bool' +
    (e.checkRepoGpg !== undefined ? '*bool' : '') +
    (e.metadataExpire ?? '') +
    'bool' +
    (e.moduleHotfixes !== undefined ? '*bool' : '');
  return createHash('sha256').update(s).digest('hex');
}

/** Parse repository-file JSON text; `file` names it in errors. */
export function parseRepositoryFile(text: string, file: string, arch: string): RepoConfig[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new KilnError(`${file}: invalid JSON: ${(e as Error).message}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new KilnError(`${file}: expected an object keyed by architecture`);
  const list = (doc as Record<string, unknown>)[arch];
  if (list === undefined) return [];
  if (!Array.isArray(list)) throw new KilnError(`${file}: "${arch}" must be a list of repositories`);
  return list.map((raw, i) => {
    const where = `${file}: ${arch}[${i}]`;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new KilnError(`${where}: expected an object`);
    const r = raw as Record<string, unknown>;
    for (const k of Object.keys(r)) if (!KNOWN.has(k)) throw new KilnError(`${where}: unknown key "${k}"`);
    const baseurl = strList(r.baseurl, `${where}.baseurl`);
    const metalink = optStr(r.metalink, `${where}.metalink`);
    const mirrorlist = optStr(r.mirrorlist, `${where}.mirrorlist`);
    if (baseurl.length === 0 && !metalink && !mirrorlist) throw new KilnError(`${where}: needs baseurl, metalink or mirrorlist`);
    const gpgkeys = [...strList(r.gpgkey, `${where}.gpgkey`), ...strList(r.gpgkeys, `${where}.gpgkeys`)];
    const checkGpg = optBool(r.check_gpg, `${where}.check_gpg`) ?? false;
    const checkRepoGpg = optBool(r.check_repo_gpg, `${where}.check_repo_gpg`);
    const moduleHotfixes = optBool(r.module_hotfixes, `${where}.module_hotfixes`);
    const metadataExpire = optStr(r.metadata_expire, `${where}.metadata_expire`);
    const ignoreSsl = optBool(r.ignore_ssl, `${where}.ignore_ssl`);
    const packageSets = strList(r.package_sets, `${where}.package_sets`);
    const name = optStr(r.name, `${where}.name`);
    const cfg: RepoConfig = {
      id: upstreamRepoId({ baseurl, metalink, mirrorlist, gpgkeys, checkRepoGpg, moduleHotfixes, metadataExpire }),
      checkGpg,
    };
    if (name !== undefined) cfg.name = name;
    if (baseurl.length > 0) cfg.baseurl = baseurl;
    if (metalink) cfg.metalink = metalink;
    if (mirrorlist) cfg.mirrorlist = mirrorlist;
    if (gpgkeys.length > 0) cfg.gpgkeys = gpgkeys;
    if (checkRepoGpg !== undefined) cfg.checkRepoGpg = checkRepoGpg;
    if (ignoreSsl !== undefined) cfg.ignoreSsl = ignoreSsl;
    if (packageSets.length > 0) cfg.packageSets = packageSets;
    return cfg;
  });
}

/** Read the repositories for `arch` from an upstream-format repository JSON file. */
export function readRepositoryFile(file: string, arch: string): RepoConfig[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new KilnError(`cannot read repository file ${file}: ${(e as Error).message}`);
  }
  return parseRepositoryFile(text, file, arch);
}
