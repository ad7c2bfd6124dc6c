// Turn a directory of RPMs into an rpm-md repository with the real createrepo_c, optionally
// with comps groups, in every metadata compression Kiln reads.
//
// createrepo_c 0.17 (the version on Debian/Ubuntu hosts) writes gz, xz and bz2 but not zstd,
// and always compresses. For 'zstd' and 'none' the helper lets createrepo_c write gz and then
// re-encodes primary/filelists/other (and the comps copy) itself, rewriting <location href>,
// <checksum> and <size> in repomd.xml; open-checksum/open-size stay valid because the
// uncompressed content does not change.
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import zlib from 'node:zlib';

const run = promisify(execFile);

export type RepoCompression = 'gz' | 'xz' | 'zstd' | 'none';

export interface CreateRepoOptions {
  compress?: RepoCompression;
  /** path of a comps XML file (see writeComps) */
  groupFile?: string;
  /** checksum type for packages and metadata (createrepo_c --checksum), default sha256 */
  checksum?: 'sha1' | 'sha224' | 'sha256' | 'sha384' | 'sha512';
}

export interface CreatedRepo {
  /** absolute path of repodata/repomd.xml */
  repomd: string;
  /** repomd data type -> location href (relative to the repo dir), e.g. primary -> repodata/...-primary.xml.zst */
  hrefs: Record<string, string>;
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** Run createrepo_c on `dir` (which holds the RPMs, in any subdirectories). */
export async function createRepo(dir: string, opts: CreateRepoOptions = {}): Promise<CreatedRepo> {
  const compress = opts.compress ?? 'gz';
  const args = ['--quiet', '--no-database', '--general-compress-type', compress === 'xz' ? 'xz' : 'gz'];
  if (opts.groupFile) args.push('--groupfile', path.resolve(opts.groupFile));
  if (opts.checksum) args.push('--checksum', opts.checksum);
  args.push(dir);
  try {
    await run('createrepo_c', args);
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`createrepo_c ${args.join(' ')} failed: ${err.stderr || err.message}`);
  }
  const repomd = path.join(dir, 'repodata', 'repomd.xml');
  if (compress === 'zstd' || compress === 'none') recompress(dir, repomd, compress);
  return { repomd, hrefs: readHrefs(repomd) };
}

/** data type -> href of a repomd.xml */
export function readHrefs(repomdPath: string): Record<string, string> {
  const text = fs.readFileSync(repomdPath, 'utf8');
  const out: Record<string, string> = {};
  for (const m of text.matchAll(/<data type="([^"]+)">[\s\S]*?<location href="([^"]+)"/g)) out[m[1]!] = m[2]!;
  return out;
}

function recompress(dir: string, repomdPath: string, to: 'zstd' | 'none'): void {
  let text = fs.readFileSync(repomdPath, 'utf8');
  text = text.replace(/<data type="([^"]+)">([\s\S]*?)<\/data>/g, (block, type: string, body: string) => {
    const href = /<location href="([^"]+)"/.exec(body)![1]!;
    // Only gz-compressed files are re-encoded; the plain comps copy (type "group") stays.
    if (!href.endsWith('.gz')) return block;
    if (to === 'none' && type.startsWith('group_')) return ''; // a plain 'group' record already exists
    const gz = fs.readFileSync(path.join(dir, href));
    const plain = zlib.gunzipSync(gz);
    const data = to === 'zstd' ? execFileSync('zstd', ['-q', '-c', '-3'], { input: plain, maxBuffer: 1 << 30 }) : plain;
    const sum = sha256(data);
    const base = path.basename(href, '.gz').replace(/^[0-9a-f]{64}-/, '');
    const newHref = `repodata/${sum}-${base}${to === 'zstd' ? '.zst' : ''}`;
    fs.writeFileSync(path.join(dir, newHref), data);
    fs.rmSync(path.join(dir, href));
    const newType = to === 'zstd' && type.startsWith('group_') ? 'group_zst' : type;
    return `<data type="${newType}">${body
      .replace(/<checksum type="[^"]+">[^<]*<\/checksum>/, `<checksum type="sha256">${sum}</checksum>`)
      .replace(/<location href="[^"]+"/, `<location href="${newHref}"`)
      .replace(/<size>\d+<\/size>/, `<size>${data.length}</size>`)}</data>`;
  });
  fs.writeFileSync(repomdPath, text);
}

export interface CompsGroupSpec {
  id: string;
  name?: string;
  description?: string;
  default?: boolean;
  uservisible?: boolean;
  packages: (string | { name: string; type?: 'mandatory' | 'default' | 'optional' | 'conditional'; requires?: string })[];
}

export interface CompsEnvironmentSpec {
  id: string;
  name?: string;
  groups: string[];
  options?: string[];
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** Write a comps.xml (with the DOCTYPE line real comps files carry). */
export function writeComps(file: string, groups: CompsGroupSpec[], environments: CompsEnvironmentSpec[] = []): void {
  const out: string[] = ['<?xml version="1.0" encoding="UTF-8"?>', '<!DOCTYPE comps PUBLIC "-//Red Hat, Inc.//DTD Comps info//EN" "comps.dtd">', '<comps>'];
  for (const g of groups) {
    out.push('  <group>', `    <id>${esc(g.id)}</id>`, `    <name>${esc(g.name ?? g.id)}</name>`, `    <name xml:lang="de">${esc(g.name ?? g.id)} (de)</name>`);
    out.push(`    <description>${esc(g.description ?? '')}</description>`, `    <description xml:lang="de">Beschreibung</description>`);
    out.push(`    <default>${g.default ?? false}</default>`, `    <uservisible>${g.uservisible ?? true}</uservisible>`, '    <packagelist>');
    for (const p of g.packages) {
      const q = typeof p === 'string' ? { name: p } : p;
      const req = q.requires ? ` requires="${esc(q.requires)}"` : '';
      out.push(`      <packagereq type="${q.type ?? 'mandatory'}"${req}>${esc(q.name)}</packagereq>`);
    }
    out.push('    </packagelist>', '  </group>');
  }
  for (const e of environments) {
    out.push('  <environment>', `    <id>${esc(e.id)}</id>`, `    <name>${esc(e.name ?? e.id)}</name>`, '    <display_order>10</display_order>', '    <grouplist>');
    for (const g of e.groups) out.push(`      <groupid>${esc(g)}</groupid>`);
    out.push('    </grouplist>', '    <optionlist>');
    for (const g of e.options ?? []) out.push(`      <groupid default="false">${esc(g)}</groupid>`);
    out.push('    </optionlist>', '  </environment>');
  }
  out.push('</comps>', '');
  fs.writeFileSync(file, out.join('\n'));
}

/**
 * Build `pkgs` with rpmbuild into `dir` and index them: the one-call way to get a real repo.
 * Returns the repo description plus the RPM paths (in the order of `pkgs`).
 */
export async function buildTestRepo(dir: string, pkgs: import('./rpmbuild.js').FakePkg[], opts: CreateRepoOptions = {}): Promise<CreatedRepo & { rpms: string[] }> {
  const { buildRpms } = await import('./rpmbuild.js');
  const rpms = await buildRpms(dir, pkgs);
  return { ...(await createRepo(dir, opts)), rpms };
}

/**
 * Replace the metadata file of `type` (e.g. 'primary') in the repo at `dir` with `content`,
 * stored uncompressed, and fix repomd.xml (href, checksum, size, open-*) so only the content
 * is "wrong". For tests of malformed metadata.
 */
export function replaceRepoFile(dir: string, type: string, content: string | Buffer): string {
  const repomdPath = path.join(dir, 'repodata', 'repomd.xml');
  const data = Buffer.isBuffer(content) ? content : Buffer.from(content);
  const sum = sha256(data);
  const href = `repodata/${sum}-${type}.xml`;
  fs.writeFileSync(path.join(dir, href), data);
  let found = false;
  const text = fs.readFileSync(repomdPath, 'utf8').replace(new RegExp(`<data type="${type}">([\\s\\S]*?)</data>`), (_m, body: string) => {
    found = true;
    return `<data type="${type}">${body
      .replace(/<checksum type="[^"]+">[^<]*<\/checksum>/, `<checksum type="sha256">${sum}</checksum>`)
      .replace(/<open-checksum type="[^"]+">[^<]*<\/open-checksum>/, `<open-checksum type="sha256">${sum}</open-checksum>`)
      .replace(/<location href="[^"]+"/, `<location href="${href}"`)
      .replace(/<size>\d+<\/size>/, `<size>${data.length}</size>`)
      .replace(/<open-size>\d+<\/open-size>/, `<open-size>${data.length}</open-size>`)}</data>`;
  });
  if (!found) throw new Error(`replaceRepoFile: ${repomdPath} has no <data type="${type}">`);
  fs.writeFileSync(repomdPath, text);
  return href;
}
