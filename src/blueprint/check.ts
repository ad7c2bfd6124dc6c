// Checks that relate a blueprint to the rest of the request: the distro given on the command
// line, and the blueprint options an image type supports / requires.
//
// Option paths (what definitions list under `blueprint.supported_options/required_options`) are
// the blueprint's own key paths joined with dots, without array indexes:
//   packages, modules, groups, distro,
//   customizations.hostname, customizations.kernel, customizations.kernel.append,
//   customizations.user, customizations.group, customizations.sshkey, customizations.files,
//   customizations.directories, customizations.filesystem, customizations.installation_device,
//   customizations.fdo, customizations.ignition, customizations.ignition.firstboot, ...
// A listed path covers everything below it (`customizations.user` allows every user key;
// `customizations.kernel.append` allows kernel.append but not kernel.name). Arrays are looked
// into element by element, so `customizations.user.key` is a valid, narrower option.
// As upstream, `name`, `version` and `description` are always allowed. Kiln also always allows
// `distro` since checkDistro() handles it. A value that is absent, "", [] or {} counts as unset.
import { KilnError } from '../util/errors.js';
import { blueprintOptionPaths } from './schema.js';
import type { Blueprint } from './types.js';

const ALWAYS_SUPPORTED = ['name', 'version', 'description', 'distro'];

/**
 * The effective distro: `--distro` when given, else the blueprint's `distro` (else undefined,
 * meaning "detect from host"). Both given and different is an error.
 */
export function checkDistro(bp: Blueprint, cliDistro: string | undefined): string | undefined {
  if (cliDistro && bp.distro && bp.distro !== cliDistro) {
    throw new KilnError(`blueprint distro "${bp.distro}" (key: distro) does not match --distro "${cliDistro}"`);
  }
  return cliDistro || bp.distro || undefined;
}

function isUnset(v: unknown): boolean {
  if (v === undefined || v === null || v === '') return true;
  if (Array.isArray(v)) return v.length === 0;
  if (typeof v === 'object' && !(v instanceof Date)) return Object.values(v as object).every(isUnset);
  return false;
}

/** Split option paths into the ones fully allowed here and the ones narrowed per child key. */
function splitOptions(options: string[]): { here: Set<string>; below: Map<string, string[]> } {
  const here = new Set<string>();
  const below = new Map<string, string[]>();
  for (const o of options) {
    const dot = o.indexOf('.');
    if (dot < 0) here.add(o);
    else {
      const head = o.slice(0, dot);
      const list = below.get(head) ?? [];
      list.push(o.slice(dot + 1));
      below.set(head, list);
    }
  }
  return { here, below };
}

function unsupported(value: unknown, options: string[], path: string, out: string[]): void {
  if (typeof value !== 'object' || value === null) return;
  const { here, below } = splitOptions(options);
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (isUnset(v) || here.has(k)) continue;
    const kp = path ? `${path}.${k}` : k;
    const sub = below.get(k);
    if (!sub) {
      out.push(kp);
      continue;
    }
    if (Array.isArray(v)) v.forEach((item, i) => unsupported(item, sub, `${kp}[${i}]`, out));
    else if (typeof v === 'object' && v !== null) unsupported(v, sub, kp, out);
    else out.push(kp); // a scalar cannot be narrowed further: only a full listing allows it
  }
}

function missing(value: unknown, options: string[], path: string, out: string[]): void {
  const { here, below } = splitOptions(options);
  const obj = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  for (const k of new Set([...here, ...below.keys()])) {
    const kp = path ? `${path}.${k}` : k;
    const v = obj[k];
    if (isUnset(v)) {
      out.push(kp);
      continue;
    }
    const sub = below.get(k);
    if (!sub) continue;
    if (Array.isArray(v)) v.forEach((item, i) => missing(item, sub, `${kp}[${i}]`, out));
    else missing(v, sub, kp, out);
  }
}

/**
 * Problems with `bp` for an image type: options it sets that the type does not support, and
 * options the type requires that it does not set. Empty = fine.
 */
export function supportErrors(bp: Blueprint, supportedOptions: string[], requiredOptions: string[], imageType: string): string[] {
  const errs: string[] = [];
  const bad: string[] = [];
  unsupported(bp, [...supportedOptions, ...ALWAYS_SUPPORTED], '', bad);
  for (const p of bad) errs.push(`blueprint option ${p} is not supported by image type "${imageType}"`);
  const absent: string[] = [];
  missing(bp, requiredOptions, '', absent);
  for (const p of absent) errs.push(`image type "${imageType}" requires blueprint option ${p}, which is not set`);
  return errs;
}

/** supportErrors() as a KilnError (all problems, one per line); returns normally when fine. */
export function checkSupported(bp: Blueprint, supportedOptions: string[], requiredOptions: string[], imageType: string): void {
  const errs = supportErrors(bp, supportedOptions, requiredOptions, imageType);
  if (errs.length) throw new KilnError(errs.join('\n'));
}

/** Entries of a supported/required option list that name no blueprint key (typos in definitions). */
export function unknownOptionPaths(options: string[]): string[] {
  const known = new Set(blueprintOptionPaths());
  return options.filter((o) => !known.has(o));
}
