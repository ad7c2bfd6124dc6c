// Compose identity: ids like `Fedora-IoT-42-20251127.n.0`, labels like `RC-1.2`, and the values
// Pungi derives from them for image builds (image release/version and the `!MAGIC` generators).
// Formats follow productmd 1.2 (composeinfo.py create_compose_id / get_date_type_respin /
// LABEL_NAMES) and Pungi (compose.py image_release/image_version, util.py version_generator).
import { KilnError } from '../util/errors.js';

export const COMPOSE_TYPES = ['production', 'nightly', 'test', 'ci', 'development'] as const;
export type ComposeType = (typeof COMPOSE_TYPES)[number];

/** productmd RELEASE_TYPES */
export const RELEASE_TYPES = ['fast', 'ga', 'updates', 'updates-testing', 'eus', 'aus', 'els', 'tus', 'e4s'] as const;

/** productmd LABEL_NAMES, in milestone order */
export const LABEL_NAMES = [
  'EA', 'DevelPhaseExit', 'InternalAlpha', 'Alpha', 'InternalSnapshot', 'Beta', 'Snapshot', 'RC', 'Update', 'SecurityFix',
] as const;

/** productmd: compose id must match this (search, not anchored at the end). */
export const COMPOSE_ID_RE = /^.*\d{8}(\.nightly|\.n|\.ci|\.test|\.t)?(\.\d+)?/;
/** productmd RELEASE_VERSION_RE: `Rawhide` or `42` / `9.4` */
export const RELEASE_VERSION_RE = /^([^0-9].*|([0-9]+(\.?[0-9]+)*))$/;

export function composeTypeSuffix(type: ComposeType): string {
  switch (type) {
    case 'production':
      return '';
    case 'nightly':
      return '.n';
    case 'test':
      return '.t';
    case 'ci':
      return '.ci';
    case 'development':
      return '.d';
  }
}

/** `<Name>-<major>.<minor>` with Name one of productmd's LABEL_NAMES. */
export function isValidLabel(label: string): boolean {
  const m = /^([A-Za-z]+)-\d+\.\d+$/.exec(label);
  return m !== null && (LABEL_NAMES as readonly string[]).includes(m[1]);
}

export interface ReleaseInfo {
  name: string;
  short: string;
  version: string;
  /** productmd release type (ga, updates, eus, ...) */
  type: string;
  internal?: boolean;
}

/** What identifies one compose run. */
export interface ComposeIdentity {
  id: string;
  /** YYYYMMDD */
  date: string;
  respin: number;
  type: ComposeType;
  label?: string;
  release: ReleaseInfo;
}

/** `<short>-<version>[-<release type> unless ga]-<date><type suffix>.<respin>` */
export function buildComposeId(release: ReleaseInfo, date: string, type: ComposeType, respin: number): string {
  if (!/^\d{8}$/.test(date)) throw new KilnError(`compose date "${date}" is not YYYYMMDD`);
  if (!Number.isInteger(respin) || respin < 0) throw new KilnError(`compose respin ${respin} is not a non-negative integer`);
  const relSuffix = !release.type || release.type.toLowerCase() === 'ga' ? '' : `-${release.type.toLowerCase()}`;
  return `${release.short}-${release.version}${relSuffix}-${date}${composeTypeSuffix(type)}.${respin}`;
}

const SUFFIX_TYPES: Record<string, ComposeType> = { t: 'test', test: 'test', ci: 'ci', n: 'nightly', nightly: 'nightly', d: 'development' };

/** productmd get_date_type_respin: pull date, type and respin out of any compose id. */
export function parseComposeId(id: string): { date: string; type: ComposeType; respin: number } | undefined {
  const m = /^.*(\d{8})(\.[a-z]+)?(\.(\d+))?.*$/.exec(id);
  if (!m) return undefined;
  let type: ComposeType = 'production';
  if (m[2]) {
    const t = SUFFIX_TYPES[m[2].slice(1)];
    if (!t) throw new KilnError(`compose id "${id}": unknown compose type suffix "${m[2]}"`);
    type = t;
  }
  return { date: m[1], type, respin: m[4] === undefined ? 0 : Number(m[4]) };
}

/** Date as YYYYMMDD in local time (what Pungi uses: time.localtime). */
export function composeDate(now: Date = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${now.getFullYear()}${p(now.getMonth() + 1)}${p(now.getDate())}`;
}

/**
 * Pungi compose.image_release: the label's version part (`RC-1.2` -> `1.2`), else
 * `<date><type suffix>.<respin>` (`20251127.n.0`; production `20251127.0`).
 */
export function imageRelease(c: ComposeIdentity): string {
  if (c.label) return c.label.split('-').slice(1).join('-');
  return `${c.date}${composeTypeSuffix(c.type)}.${c.respin}`;
}

/** Pungi compose.image_version: release version, plus `_<Milestone>` when labelled but not RC. */
export function imageVersion(c: ComposeIdentity): string {
  if (c.label && !c.label.startsWith('RC-')) return `${c.release.version}_${c.label.split('-')[0]}`;
  return c.release.version;
}

/** The magic values Pungi's version_generator understands. */
export const MAGIC_VALUES = [
  '!RELEASE_FROM_LABEL_DATE_TYPE_RESPIN',
  '!RELEASE_FROM_DATE_RESPIN',
  '!VERSION_FROM_VERSION_DATE_RESPIN',
  '!VERSION_FROM_VERSION',
  '!OSTREE_VERSION_FROM_LABEL_DATE_TYPE_RESPIN',
] as const;

export function isMagicValue(v: string): boolean {
  return (MAGIC_VALUES as readonly string[]).includes(v);
}

/**
 * Expand a magic value (Pungi util.version_generator); other strings come back unchanged.
 * An unknown `!X` is an error: `where` names the config key it came from.
 */
export function expandMagic(value: string, c: ComposeIdentity, where: string): string {
  switch (value) {
    case '!OSTREE_VERSION_FROM_LABEL_DATE_TYPE_RESPIN':
      return `${imageVersion(c)}.${imageRelease(c)}`;
    case '!RELEASE_FROM_LABEL_DATE_TYPE_RESPIN':
      return imageRelease(c);
    case '!RELEASE_FROM_DATE_RESPIN':
      return `${c.date}.${c.respin}`;
    case '!VERSION_FROM_VERSION_DATE_RESPIN':
      return `${c.release.version}.${c.date}.${c.respin}`;
    case '!VERSION_FROM_VERSION':
      return c.release.version;
  }
  if (value.startsWith('!')) {
    throw new KilnError(`${where}: unknown version generator "${value}" (known: ${MAGIC_VALUES.join(', ')})`);
  }
  return value;
}

/** A ComposeIdentity for the given release/type/date/respin (id computed). */
export function composeIdentity(
  release: ReleaseInfo,
  opts: { type: ComposeType; date: string; respin: number; label?: string },
): ComposeIdentity {
  return {
    id: buildComposeId(release, opts.date, opts.type, opts.respin),
    date: opts.date,
    respin: opts.respin,
    type: opts.type,
    ...(opts.label ? { label: opts.label } : {}),
    release,
  };
}
