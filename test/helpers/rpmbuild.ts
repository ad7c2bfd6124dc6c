// Build real binary RPMs for tests from a compact description.
//
//   const rpms = await buildRpms(dir, [{ name: 'foo', version: '1.0', release: '1', arch: 'noarch',
//                                        requires: ['bar >= 2', '(baz if qux)'],
//                                        files: [{ path: '/usr/bin/foo', content: '#!/bin/sh\n' }] }]);
//
// How: packages are grouped so one rpmbuild call builds many of them: one spec per target arch
// whose (never built) main package carries every FakePkg as a `%package -n` subpackage with its
// own Version/Release/Epoch. Packages that share a name with another one of the same arch go
// into further specs. Specs build in parallel. Automatic dependency generation, debuginfo and
// the brp scripts are off, and the payload is gzip level 1, so a build takes ~100 ms.
//
// The result of each spec is cached in os.tmpdir()/kiln-rpm-cache/<sha256 of the spec inputs>,
// so repeated test runs copy RPMs instead of rebuilding. Set KILN_RPM_CACHE=0 to disable.
//
// RPMs land in <outDir>/<arch>/<name>-<version>-<release>.<arch>.rpm; the returned paths are
// absolute, in the order of `pkgs`.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export type FakeArch = 'noarch' | 'x86_64' | 'aarch64' | 'i686';

export interface FakeFile {
  /** absolute path inside the package, e.g. /usr/bin/foo; a path ending in '/' is a directory */
  path: string;
  /** file content (default empty) */
  content?: string;
}

export interface FakePkg {
  name: string;
  version: string;
  release: string;
  epoch?: number;
  arch: FakeArch;
  /** raw rpm dependency strings, e.g. 'foo >= 1.0', '(a if b)'; 'Requires(pre): x' style via requiresPre */
  requires?: string[];
  requiresPre?: string[];
  provides?: string[];
  conflicts?: string[];
  obsoletes?: string[];
  recommends?: string[];
  suggests?: string[];
  supplements?: string[];
  enhances?: string[];
  files?: FakeFile[];
  summary?: string;
  description?: string;
  license?: string;
  url?: string;
  vendor?: string;
}

export interface BuildOptions {
  /** parallel rpmbuild processes (default: number of CPUs) */
  jobs?: number;
  /** use/maintain the build cache (default true unless KILN_RPM_CACHE=0) */
  cache?: boolean;
}

/** Bump when the spec generation changes, so old cache entries are not reused. */
const GENERATOR_VERSION = 3;

const CACHE_ROOT = path.join(os.tmpdir(), 'kiln-rpm-cache');

export function rpmFileName(p: FakePkg): string {
  return `${p.name}-${p.version}-${p.release}.${p.arch}.rpm`;
}

function checkPkg(p: FakePkg): void {
  const bad = (what: string) => {
    throw new Error(`buildRpms: package "${p.name}": invalid ${what}`);
  };
  if (!/^[A-Za-z0-9_+.-]+$/.test(p.name)) bad('name');
  if (!/^[A-Za-z0-9_.+~^]+$/.test(p.version)) bad('version');
  if (!/^[A-Za-z0-9_.+~^]+$/.test(p.release)) bad('release');
  if (p.epoch !== undefined && (!Number.isInteger(p.epoch) || p.epoch < 0)) bad('epoch');
  for (const f of p.files ?? []) if (!f.path.startsWith('/') || /[\n"]/.test(f.path)) bad(`file path ${JSON.stringify(f.path)}`);
  const all = [p.requires, p.requiresPre, p.provides, p.conflicts, p.obsoletes, p.recommends, p.suggests, p.supplements, p.enhances, [p.summary ?? '', p.license ?? '', p.url ?? '', p.vendor ?? '']];
  for (const list of all) for (const d of list ?? []) if (/[\n%]/.test(d)) bad(`dependency/tag ${JSON.stringify(d)} (no newlines or %)`);
}

/** One spec: the subpackages, and a staging tree copied into the buildroot. */
function makeSpec(group: FakePkg[], specName: string): { spec: string; files: { rel: string; content: string; dir: boolean }[] } {
  const lines: string[] = [
    `Name: ${specName}`,
    'Version: 1',
    'Release: 1',
    'Summary: kiln test packages',
    'License: MIT',
    ...(group[0]!.arch === 'noarch' ? ['BuildArch: noarch'] : []),
    '%description',
    'Container spec for kiln test packages; the main package has no %files and is not built.',
    '',
  ];
  const staged: { rel: string; content: string; dir: boolean }[] = [];
  const tag = (t: string, vals: string[] | undefined) => (vals ?? []).map((v) => `${t}: ${v}`);
  for (const p of group) {
    lines.push(
      `%package -n ${p.name}`,
      `Version: ${p.version}`,
      `Release: ${p.release}`,
      ...(p.epoch !== undefined ? [`Epoch: ${p.epoch}`] : []),
      `Summary: ${p.summary ?? `${p.name} test package`}`,
      `License: ${p.license ?? 'MIT'}`,
      ...(p.url ? [`URL: ${p.url}`] : []),
      ...(p.vendor ? [`Vendor: ${p.vendor}`] : []),
      'AutoReqProv: no',
      ...tag('Requires', p.requires),
      ...tag('Requires(pre)', p.requiresPre),
      ...tag('Provides', p.provides),
      ...tag('Conflicts', p.conflicts),
      ...tag('Obsoletes', p.obsoletes),
      ...tag('Recommends', p.recommends),
      ...tag('Suggests', p.suggests),
      ...tag('Supplements', p.supplements),
      ...tag('Enhances', p.enhances),
      `%description -n ${p.name}`,
      (p.description ?? `${p.name} is a package built for kiln tests.`).replace(/%/g, '%%'),
      '',
    );
  }
  lines.push('%install', 'cp -a "%{_kiln_stage}/." "%{buildroot}/"', '');
  for (const p of group) {
    lines.push(`%files -n ${p.name}`);
    for (const f of p.files ?? []) {
      const dir = f.path.endsWith('/');
      const clean = dir ? f.path.replace(/\/+$/, '') : f.path;
      staged.push({ rel: clean, content: f.content ?? '', dir });
      lines.push(dir ? `%dir "${clean}"` : `"${clean}"`);
    }
    lines.push('');
  }
  return { spec: lines.join('\n') + '\n', files: staged };
}

async function buildSpec(group: FakePkg[], useCache: boolean): Promise<string> {
  const key = createHash('sha256')
    .update(JSON.stringify({ v: GENERATOR_VERSION, group }))
    .digest('hex')
    .slice(0, 32);
  const cached = path.join(CACHE_ROOT, key);
  if (useCache && fs.existsSync(path.join(cached, '.complete'))) return cached;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-rpmbuild-'));
  try {
    const specName = `kiln-fake-${key.slice(0, 12)}`;
    const { spec, files } = makeSpec(group, specName);
    const stage = path.join(work, 'stage');
    fs.mkdirSync(stage);
    for (const f of files) {
      const abs = path.join(stage, f.rel);
      if (f.dir) fs.mkdirSync(abs, { recursive: true });
      else {
        fs.mkdirSync(path.dirname(abs), { recursive: true });
        fs.writeFileSync(abs, f.content);
      }
    }
    const specFile = path.join(work, `${specName}.spec`);
    fs.writeFileSync(specFile, spec);
    const out = path.join(work, 'rpms');
    const arch = group[0]!.arch;
    const args = [
      '-bb',
      '--quiet',
      ...(arch === 'noarch' ? [] : ['--target', arch]),
      '--define', `_topdir ${path.join(work, 'top')}`,
      '--define', `_rpmdir ${out}`,
      '--define', `_kiln_stage ${stage}`,
      '--define', 'debug_package %{nil}',
      '--define', '__os_install_post %{nil}',
      '--define', '_build_id_links none',
      '--define', '_binary_payload w1.gzdio',
      '--define', '_buildhost kiln-test',
      specFile,
    ];
    try {
      await run('rpmbuild', args, { maxBuffer: 16 << 20 });
    } catch (e) {
      const err = e as { stderr?: string; message: string };
      throw new Error(`rpmbuild failed for ${group.map((p) => p.name).join(', ')}: ${err.stderr || err.message}\n--- spec ---\n${spec}`);
    }
    if (!useCache) return out;
    // Publish atomically: a concurrent builder of the same key just loses the rename race.
    const tmp = `${cached}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
    fs.mkdirSync(path.dirname(cached), { recursive: true });
    fs.cpSync(out, tmp, { recursive: true });
    fs.writeFileSync(path.join(tmp, '.complete'), '');
    try {
      fs.renameSync(tmp, cached);
    } catch {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
    return cached;
  } catch (e) {
    fs.rmSync(work, { recursive: true, force: true });
    throw e;
  } finally {
    // Without the cache the caller copies out of <work>/rpms and then removes <work>.
    if (useCache) fs.rmSync(work, { recursive: true, force: true });
  }
}

async function pool<T, R>(items: T[], n: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!);
      }
    }),
  );
  return out;
}

/** Build `pkgs` into `outDir` (see the module comment). Returns the absolute RPM paths. */
export async function buildRpms(outDir: string, pkgs: FakePkg[], opts: BuildOptions = {}): Promise<string[]> {
  for (const p of pkgs) checkPkg(p);
  const useCache = opts.cache ?? process.env.KILN_RPM_CACHE !== '0';
  // Group by arch; a second package with the same name (and arch) goes into another spec.
  const groups: FakePkg[][] = [];
  const byArch = new Map<string, FakePkg[][]>();
  for (const p of pkgs) {
    let specs = byArch.get(p.arch);
    if (!specs) byArch.set(p.arch, (specs = []));
    let g = specs.find((s) => !s.some((q) => q.name === p.name));
    if (!g) {
      g = [];
      specs.push(g);
      groups.push(g);
    }
    g.push(p);
  }
  const dirs = await pool(groups, opts.jobs ?? os.cpus().length, (g) => buildSpec(g, useCache));
  const result: string[] = [];
  groups.forEach((g, i) => {
    for (const p of g) {
      const src = path.join(dirs[i]!, p.arch, rpmFileName(p));
      if (!fs.existsSync(src)) throw new Error(`buildRpms: rpmbuild did not produce ${src}`);
      const dst = path.join(outDir, p.arch, rpmFileName(p));
      fs.mkdirSync(path.dirname(dst), { recursive: true });
      fs.copyFileSync(src, dst);
    }
    if (!useCache) fs.rmSync(path.dirname(dirs[i]!), { recursive: true, force: true });
  });
  for (const p of pkgs) result.push(path.join(outDir, p.arch, rpmFileName(p)));
  return result;
}
