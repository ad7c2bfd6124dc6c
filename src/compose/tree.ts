// The compose tree on disk, laid out as Pungi lays it out:
//
//   <topdir>/<compose id>/
//     STATUS                         STARTED | FINISHED | FINISHED_INCOMPLETE | DOOMED | TERMINATED
//     COMPOSE_ID                     the id, no newline
//     compose/<Variant>/<arch>/images/   non-ISO images (+ CHECKSUM)
//     compose/<Variant>/<arch>/iso/      ISOs (+ CHECKSUM)
//     compose/metadata/{images,composeinfo}.json
//     logs/<arch>/imagebuilder/<job>.log  one log per image build
//     logs/global/                        compose-wide logs
//     work/global/composeinfo-base.json   identity written at creation
//     work/<arch>/imagebuilder/<job>/     where a backend puts its outputs
//   <topdir>/latest-<short>-<version>  -> <compose id>   (after a finished compose)
//
// The compose id's respin is bumped until the directory can be created (Pungi get_compose_dir).
// STATUS follows Pungi write_status: a FINISHED compose is never modified, and FINISHED becomes
// FINISHED_INCOMPLETE when a failable deliverable failed. pungi-koji writes DOOMED when the run
// raises and TERMINATED from its SIGINT/SIGTERM handler (after cancelling its Koji tasks).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { KilnError } from '../util/errors.js';
import { composeIdentity, composeTypeSuffix, type ComposeIdentity, type ComposeType, type ReleaseInfo } from './compose-id.js';
import type { LinkType } from './config.js';
import { isIsoFormat } from './image-types.js';
import { composeHeader, composeInfoDocument, writeFileAtomic, writeMetadata } from './productmd.js';

export const COMPOSE_STATUSES = ['STARTED', 'FINISHED', 'FINISHED_INCOMPLETE', 'DOOMED', 'TERMINATED'] as const;
export type ComposeStatus = (typeof COMPOSE_STATUSES)[number];

export interface CreateTreeOptions {
  type: ComposeType;
  label?: string;
  /** YYYYMMDD */
  date: string;
  /** first respin to try (default 0) */
  respin?: number;
}

/** Create `<topdir>/<compose id>` with the first free respin; writes COMPOSE_ID and composeinfo-base. */
export function createComposeTree(topdir: string, release: ReleaseInfo, o: CreateTreeOptions): ComposeTree {
  const top = path.resolve(topdir);
  fs.mkdirSync(top, { recursive: true });
  for (let respin = o.respin ?? 0; respin < 100000; respin++) {
    const identity = composeIdentity(release, { type: o.type, date: o.date, respin, ...(o.label ? { label: o.label } : {}) });
    const dir = path.join(top, identity.id);
    try {
      fs.mkdirSync(dir); // not recursive: EEXIST is how we learn the respin is taken
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw new KilnError(`compose directory ${dir}: cannot create: ${(e as Error).message}`);
    }
    const tree = new ComposeTree(top, identity);
    writeFileAtomic(path.join(dir, 'COMPOSE_ID'), identity.id);
    writeMetadata(
      path.join(dir, 'work', 'global', 'composeinfo-base.json'),
      composeInfoDocument({ compose: composeHeader(identity), release, variants: [] }),
    );
    return tree;
  }
  throw new KilnError(`compose directory under ${top}: no free respin`);
}

export class ComposeTree {
  readonly dir: string;
  constructor(
    readonly topdir: string,
    readonly identity: ComposeIdentity,
  ) {
    this.dir = path.join(topdir, identity.id);
  }

  get composeDir(): string {
    return path.join(this.dir, 'compose');
  }
  get metadataDir(): string {
    return path.join(this.composeDir, 'metadata');
  }
  get statusFile(): string {
    return path.join(this.dir, 'STATUS');
  }

  /** `<Variant>/<arch>/images` or `.../iso`, relative to compose/ (what productmd paths use). */
  relImageDir(variant: string, arch: string, format: string): string {
    return path.posix.join(variant, arch, isIsoFormat(format) ? 'iso' : 'images');
  }

  imageDir(variant: string, arch: string, format: string): string {
    return path.join(this.composeDir, this.relImageDir(variant, arch, format));
  }

  /** One log per image build. */
  jobLog(arch: string, jobId: string): string {
    return path.join(this.dir, 'logs', arch, 'imagebuilder', `${safeName(jobId)}.log`);
  }

  globalLogDir(): string {
    return path.join(this.dir, 'logs', 'global');
  }

  /** Scratch/output directory a backend may use for one job. */
  jobWorkDir(arch: string, jobId: string): string {
    return path.join(this.dir, 'work', arch, 'imagebuilder', safeName(jobId));
  }

  readStatus(): ComposeStatus | undefined {
    try {
      return fs.readFileSync(this.statusFile, 'utf8').trim() as ComposeStatus;
    } catch {
      return undefined;
    }
  }

  /**
   * Write STATUS (with a newline, as Pungi). `incomplete` turns FINISHED into FINISHED_INCOMPLETE.
   * A FINISHED compose cannot be changed.
   */
  writeStatus(status: ComposeStatus, incomplete = false): ComposeStatus {
    const final = status === 'FINISHED' && incomplete ? 'FINISHED_INCOMPLETE' : status;
    const old = this.readStatus();
    if (old === final) return final;
    if (old === 'FINISHED' || old === 'FINISHED_INCOMPLETE') {
      throw new KilnError(`compose ${this.dir}: could not modify a finished compose (STATUS ${old})`);
    }
    writeFileAtomic(this.statusFile, `${final}\n`);
    return final;
  }

  /**
   * Put a produced file into compose/<Variant>/<arch>/{images,iso}/ keeping its name. Returns the
   * path relative to compose/.
   */
  placeImage(src: string, variant: string, arch: string, format: string, linkType: LinkType): string {
    const rel = path.posix.join(this.relImageDir(variant, arch, format), path.basename(src));
    const dest = path.join(this.composeDir, rel);
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    linkFile(src, dest, linkType);
    return rel;
  }

  /**
   * `latest-<short>-<version>` next to the compose, pointing at it (relative). `components` as
   * Pungi's latest_link_components: 0 drops the version, N>0 keeps the first N dot-separated
   * parts, N<0 drops the last -N parts (keeping at least one).
   */
  updateLatestLink(components = -1): string {
    const r = this.identity.release;
    let name: string;
    if (components === 0) name = `latest-${r.short}`;
    else {
      const hunks = r.version.split('.');
      const n = components > 0 ? Math.min(hunks.length, components) : Math.max(1, hunks.length + components);
      name = `latest-${r.short}-${hunks.slice(0, n).join('.')}`;
    }
    const link = path.join(this.topdir, name);
    const tmp = path.join(this.topdir, `.${name}.${process.pid}.tmp`);
    fs.rmSync(tmp, { force: true });
    fs.symlinkSync(this.identity.id, tmp);
    fs.renameSync(tmp, link); // atomic replace of an older link
    return link;
  }

  /** Substitutions for media_checksum_base_filename (a subset of Pungi's get_format_substs). */
  checksumSubsts(variant: string, arch: string, dirname: string): Record<string, string | number | undefined> {
    const c = this.identity;
    return {
      compose_id: c.id,
      release_short: c.release.short,
      version: c.release.version,
      date: c.date,
      respin: c.respin,
      type: c.type,
      type_suffix: composeTypeSuffix(c.type),
      label: c.label ?? '',
      label_major_version: c.label ? c.label.replace(/\.[^.]*$/, '') : '',
      variant,
      arch,
      dirname,
    };
  }
}

/** File names from job ids: keep them readable but never let them climb out of a directory. */
export function safeName(s: string): string {
  return s.replace(/[^A-Za-z0-9._+-]/g, '_').replace(/^\.+/, '_');
}

/** Pungi link_type semantics. */
export function linkFile(src: string, dest: string, how: LinkType): void {
  fs.rmSync(dest, { force: true });
  switch (how) {
    case 'hardlink':
      fs.linkSync(src, dest);
      return;
    case 'copy':
      fs.copyFileSync(src, dest);
      return;
    case 'hardlink-or-copy':
      try {
        fs.linkSync(src, dest);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'EMLINK') throw e;
        fs.copyFileSync(src, dest);
      }
      return;
    case 'symlink':
      fs.symlinkSync(path.relative(path.dirname(dest), path.resolve(src)), dest);
      return;
    case 'abspath-symlink':
      fs.symlinkSync(path.resolve(src), dest);
      return;
  }
}
