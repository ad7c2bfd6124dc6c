// `kiln demo-repo`: build a small Fedora-shaped RPM repository (one per architecture) with
// rpmbuild and createrepo_c, so Kiln's main job can run without a Fedora mirror.
//
// Layout of outDir:
//   <arch>/Packages/<first letter>/<n-v-r.a>.rpm   (noarch packages hard-linked into every arch)
//   <arch>/repodata/...                             (createrepo_c, with the comps groups file)
//   <arch>/.kiln-demo-repo                          (marker: this directory is ours to replace)
//   .kiln-demo-repo.stamp                           (input hash, written last)

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { CompsGroup } from '../rpm/types.js';
import { KilnError } from '../util/errors.js';
import { builtinGroups, compsXml, defaultCoreGroup } from './comps.js';
import { archContext } from './model.js';
import type { DemoPackage } from './model.js';
import { planArch } from './plan.js';
import { specText, stageFiles } from './spec.js';

export { FALLBACK_PACKAGE_NAMES, FALLBACK_SETS } from './fallback-names.js';

export interface DemoRepoOptions {
  outDir: string;
  /** e.g. ['x86_64', 'aarch64'] */
  arches: string[];
  /** package names to provide; '@id' entries ask for comps groups */
  packageNames: string[];
  /** extra or replacement comps groups (same id as a built-in replaces it) */
  groups?: CompsGroup[];
  /** Fedora release number, default '42' */
  releasever?: string;
  onProgress?: (msg: string) => void;
}

export interface DemoRepoResult {
  /** arch -> repository directory (use as file://<dir>) */
  repos: Record<string, string>;
  /** true when an existing complete repository with the same inputs was kept */
  reused: boolean;
  /** number of distinct packages (name.arch) per arch repository */
  packageCounts: Record<string, number>;
}

export const SUPPORTED_ARCHES = ['x86_64', 'aarch64', 'ppc64le', 's390x', 'riscv64'] as const;

const STAMP = '.kiln-demo-repo.stamp';
const MARKER = '.kiln-demo-repo';
/** Bump when the output layout changes in a way the input hash cannot see. */
const FORMAT = 1;
/** Fixed build time so the same inputs give byte-identical packages. */
const SOURCE_DATE_EPOCH = '1735689600';

/** Where `kiln demo-repo` puts the repository by default. */
export function defaultDemoRepoDir(): string {
  if (typeof process.geteuid === 'function' && process.geteuid() === 0) return '/var/cache/kiln/demo-repo';
  const base = process.env['XDG_CACHE_HOME'] || path.join(os.homedir(), '.cache');
  return path.join(base, 'kiln', 'demo-repo');
}

function slug(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'group';
}

/** Resolve '@group' requests against the known groups; unknown groups become empty groups. */
function resolveGroups(names: readonly string[], extra: readonly CompsGroup[] | undefined, progress: (m: string) => void) {
  const groups = new Map<string, CompsGroup>();
  groups.set('core', defaultCoreGroup());
  const builtin = builtinGroups();
  const matches = (g: CompsGroup, want: string) => g.id.toLowerCase() === want.toLowerCase() || g.name.toLowerCase() === want.toLowerCase();
  for (const g of extra ?? []) {
    if (!g || typeof g.id !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(g.id)) {
      throw new KilnError(`demo repository: groups entry ${JSON.stringify(g?.id)} has no valid id`);
    }
    groups.set(g.id, g);
  }
  const plain: string[] = [];
  for (const n of names) {
    if (typeof n !== 'string') throw new KilnError(`demo repository: packageNames holds a non-string entry: ${JSON.stringify(n)}`);
    const name = n.trim();
    if (!name.startsWith('@')) {
      plain.push(name);
      continue;
    }
    const want = name.slice(1).trim();
    if (want === '') throw new KilnError(`demo repository: package name '${n}' names no group`);
    if ([...groups.values()].some((g) => matches(g, want))) continue;
    const known = builtin.find((g) => matches(g, want));
    if (known) {
      groups.set(known.id, known);
    } else {
      const id = slug(want);
      progress(`warning: no built-in comps group '${want}'; creating it empty as '${id}'`);
      groups.set(id, { id, name: want, default: false, uservisible: true, packages: [] });
    }
  }
  for (const g of groups.values()) for (const p of g.packages) plain.push(p.name);
  return { plain: [...new Set(plain)].sort(), groups: [...groups.values()].sort((a, b) => a.id.localeCompare(b.id)) };
}

function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; log: string }): Promise<void> {
  return new Promise((resolve, reject) => {
    const out = fs.openSync(opts.log, 'a');
    let child;
    try {
      child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', out, out] });
    } finally {
      fs.closeSync(out);
    }
    child.on('error', (e: NodeJS.ErrnoException) => {
      reject(new KilnError(e.code === 'ENOENT'
        ? `demo repository: '${cmd}' is not installed (install rpm-build/rpm and createrepo-c)`
        : `demo repository: cannot run '${cmd}': ${e.message}`));
    });
    child.on('close', (code) => {
      if (code === 0) return resolve();
      let tail = '';
      try {
        tail = fs.readFileSync(opts.log, 'utf8').split('\n').slice(-25).join('\n');
      } catch { /* log unreadable: report without it */ }
      reject(new KilnError(`demo repository: '${cmd} ${args.slice(0, 3).join(' ')} ...' failed with exit code ${code}; log ${opts.log}:\n${tail}`));
    });
  });
}

function rpmbuildArgs(topdir: string, specFile: string, target: string | undefined): string[] {
  // Macro bodies expand '%': keep a literal '%' in the output path literal.
  const lit = (s: string) => s.replace(/%/g, '%%');
  const defs: [string, string][] = [
    ['_topdir', lit(topdir)],
    ['_tmppath', lit(path.join(topdir, 'tmp'))],
    ['_buildhost', 'kiln-demo-repo'],
    ['_binary_payload', 'w6.gzdio'],
    ['_binary_filedigest_algorithm', '8'],
    ['debug_package', '%{nil}'],
    ['__os_install_post', '%{nil}'],
    ['_build_id_links', 'none'],
    ['use_source_date_epoch_as_buildtime', '1'],
    ['clamp_mtime_to_source_date_epoch', '1'],
    ['_unpackaged_files_terminate_build', '1'],
  ];
  const args = ['-bb', '--quiet'];
  if (target) args.push('--target', target);
  for (const [k, v] of defs) args.push('--define', `${k} ${v}`);
  args.push(specFile);
  return args;
}

/**
 * Split packages into groups that can share one buildroot: packages that conflict with each other
 * may ship the same path with different content (the release identities' os-release), and one
 * buildroot holds only one version of a path.
 */
export function buildLayers(pkgs: readonly DemoPackage[]): DemoPackage[][] {
  const layers: { pkgs: DemoPackage[]; paths: Map<string, string> }[] = [];
  for (const p of pkgs) {
    const mine = p.files.filter((f) => f.kind !== 'dir');
    let layer = layers.find((l) => mine.every((f) => !l.paths.has(f.path)));
    if (!layer) {
      layer = { pkgs: [], paths: new Map() };
      layers.push(layer);
    }
    layer.pkgs.push(p);
    for (const f of mine) layer.paths.set(f.path, p.name);
  }
  return layers.map((l) => l.pkgs);
}

function listRpms(dir: string): string[] {
  const out: string[] = [];
  if (!fs.existsSync(dir)) return out;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...listRpms(p));
    else if (e.name.endsWith('.rpm')) out.push(p);
  }
  return out;
}

function hashInputs(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex');
}

function isComplete(outDir: string, arches: readonly string[], hash: string): boolean {
  try {
    const stamp = JSON.parse(fs.readFileSync(path.join(outDir, STAMP), 'utf8')) as { hash?: string };
    if (stamp.hash !== hash) return false;
    return arches.every((a) => fs.existsSync(path.join(outDir, a, 'repodata', 'repomd.xml')) && fs.existsSync(path.join(outDir, a, MARKER)));
  } catch {
    return false;
  }
}

/**
 * Build (or reuse) the demo repositories. Needs rpmbuild and createrepo_c on PATH. Everything,
 * including rpmbuild's work tree, stays under opts.outDir.
 */
export async function createDemoRepo(opts: DemoRepoOptions): Promise<DemoRepoResult> {
  const progress = opts.onProgress ?? (() => {});
  if (!opts || typeof opts.outDir !== 'string' || opts.outDir.trim() === '') {
    throw new KilnError('demo repository: outDir must be a non-empty path');
  }
  const outDir = path.resolve(opts.outDir);
  // rpmbuild runs its scriptlets by unquoted path and expands '%' in paths: keep the work tree
  // (which lives under outDir) to characters it handles.
  if (!/^[A-Za-z0-9_.\/+@:,=~-]+$/.test(outDir)) {
    throw new KilnError(`demo repository: outDir '${outDir}' contains characters rpmbuild cannot handle (spaces, %, quotes...); choose a plainer path`);
  }
  if (!Array.isArray(opts.arches) || opts.arches.length === 0) {
    throw new KilnError('demo repository: arches must list at least one architecture');
  }
  const arches = [...new Set(opts.arches)];
  for (const a of arches) {
    if (!(SUPPORTED_ARCHES as readonly string[]).includes(a)) {
      throw new KilnError(`demo repository: unsupported architecture '${a}' (supported: ${SUPPORTED_ARCHES.join(', ')})`);
    }
  }
  const releasever = opts.releasever ?? '42';
  if (!/^[0-9]{1,4}$/.test(releasever)) {
    throw new KilnError(`demo repository: releasever '${releasever}' must be a Fedora release number such as 42`);
  }
  if (!Array.isArray(opts.packageNames) || opts.packageNames.length === 0) {
    throw new KilnError('demo repository: packageNames is empty; nothing to build');
  }

  const { plain, groups } = resolveGroups(opts.packageNames, opts.groups, progress);
  // Plan every arch; noarch packages are built once, so they must come out the same everywhere.
  const plans = arches.map((a) => planArch(plain, archContext(a, releasever)));
  const noarch = new Map<string, DemoPackage>();
  for (const plan of plans) {
    for (const p of plan.packages.values()) {
      if (!p.noarch) continue;
      const prev = noarch.get(p.name);
      if (prev && JSON.stringify(prev) !== JSON.stringify(p)) {
        throw new KilnError(`demo repository: noarch package '${p.name}' differs between architectures (catalog bug)`);
      }
      noarch.set(p.name, p);
    }
  }
  const noarchList = [...noarch.values()].sort((a, b) => a.name.localeCompare(b.name));
  const archLists = plans.map((plan) => [...plan.packages.values()].filter((p) => !p.noarch).sort((a, b) => a.name.localeCompare(b.name)));
  const comps = compsXml(groups);
  const hash = hashInputs({ FORMAT, releasever, arches, noarchList, archLists, comps });
  const repos = Object.fromEntries(arches.map((a) => [a, path.join(outDir, a)]));
  const packageCounts = Object.fromEntries(arches.map((a, i) => [a, archLists[i]!.length + noarchList.length]));

  if (isComplete(outDir, arches, hash)) {
    progress(`demo repository in ${outDir} is up to date`);
    return { repos, reused: true, packageCounts };
  }
  for (const a of arches) {
    const d = repos[a]!;
    if (fs.existsSync(d) && !fs.existsSync(path.join(d, MARKER))) {
      throw new KilnError(`demo repository: refusing to replace ${d}: it exists and was not made by kiln demo-repo`);
    }
  }

  fs.mkdirSync(outDir, { recursive: true });
  fs.rmSync(path.join(outDir, STAMP), { force: true });
  const work = fs.mkdtempSync(path.join(outDir, '.work-'));
  try {
    const env = { ...process.env, SOURCE_DATE_EPOCH, HOME: work, LC_ALL: 'C' };
    const builds: { label: string; target?: string; pkgs: DemoPackage[]; noarch: boolean }[] = [];
    buildLayers(noarchList).forEach((pkgs, j) => builds.push({ label: `noarch-${j}`, pkgs, noarch: true }));
    arches.forEach((a, i) => buildLayers(archLists[i]!).forEach((pkgs, j) => builds.push({ label: `${a}-${j}`, target: a, pkgs, noarch: false })));
    const started = Date.now();
    await Promise.all(builds.map(async (b) => {
      const top = path.join(work, `rpmbuild-${b.label}`);
      const stage = path.join(work, `stage-${b.label}`);
      fs.mkdirSync(path.join(top, 'tmp'), { recursive: true });
      stageFiles(stage, b.pkgs);
      const specFile = path.join(work, `demo-${b.label}.spec`);
      fs.writeFileSync(specFile, specText(b.pkgs, stage, b.noarch));
      progress(`building ${b.pkgs.length} ${b.label} packages with rpmbuild`);
      const t0 = Date.now();
      await run('rpmbuild', rpmbuildArgs(top, specFile, b.target), { env, log: path.join(work, `rpmbuild-${b.label}.log`) });
      progress(`built ${b.label} packages in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    }));
    progress(`rpmbuild finished in ${((Date.now() - started) / 1000).toFixed(1)} s`);

    const rpmsOf = (prefix: string) => builds.filter((b) => b.label.startsWith(prefix + '-'))
      .flatMap((b) => listRpms(path.join(work, `rpmbuild-${b.label}`, 'RPMS')));
    const noarchRpms = rpmsOf('noarch');
    const compsFile = path.join(work, 'comps.xml');
    fs.writeFileSync(compsFile, comps);
    await Promise.all(arches.map(async (a, i) => {
      const staging = path.join(work, `repo-${a}`);
      const rpms = [...noarchRpms, ...rpmsOf(a)];
      if (rpms.length !== noarchList.length + archLists[i]!.length) {
        throw new KilnError(`demo repository (${a}): rpmbuild produced ${rpms.length} packages, expected ${noarchList.length + archLists[i]!.length}`);
      }
      for (const rpm of rpms) {
        const base = path.basename(rpm);
        const dest = path.join(staging, 'Packages', base[0]!.toLowerCase(), base);
        fs.mkdirSync(path.dirname(dest), { recursive: true });
        try {
          fs.linkSync(rpm, dest);
        } catch {
          fs.copyFileSync(rpm, dest);
        }
      }
      fs.writeFileSync(path.join(staging, MARKER), `Made by kiln demo-repo; safe to delete.\n`);
      progress(`indexing ${a} repository with createrepo_c`);
      await run('createrepo_c', ['--quiet', '--no-database', '--workers', '2', '--groupfile', compsFile,
        '--general-compress-type', 'gz', staging], { env, log: path.join(work, `createrepo-${a}.log`) });
    }));
    // Swap the new repositories in, then write the stamp last so a crash leaves no stamp.
    for (const a of arches) {
      fs.rmSync(repos[a]!, { recursive: true, force: true });
      try {
        fs.renameSync(path.join(work, `repo-${a}`), repos[a]!);
      } catch (e) {
        // Another run finished the same directory in between: replace its copy once more.
        if ((e as NodeJS.ErrnoException).code !== 'ENOTEMPTY' && (e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        fs.rmSync(repos[a]!, { recursive: true, force: true });
        fs.renameSync(path.join(work, `repo-${a}`), repos[a]!);
      }
    }
    fs.writeFileSync(path.join(outDir, STAMP), JSON.stringify({ hash, arches, releasever, created: new Date().toISOString() }, null, 2) + '\n');
    progress(`demo repository ready in ${outDir}`);
    return { repos, reused: false, packageCounts };
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}
