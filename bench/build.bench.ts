// Image-build benchmark: `kiln build minimal-raw-xz` against the same work done directly with
// the same tools (bench/direct-build.sh), plus the warm-store cases.
//   npm run bench:build [-- --runs 1 --keep DIR]
// Needs root (loop devices, mounts), rpm, sfdisk, mkfs.fat, mkfs.ext4, mtools, xz, zstd and
// GNU time (/usr/bin/time, for peak RSS of a process and its children).
//
// Per run, in one fresh work directory with the built-in demo repository:
//   kiln cold xz     fresh store: kiln build minimal-raw-xz --buildroot host --seed 1
//   direct           bench/direct-build.sh with the package sets, table, file systems and xz
//                    flags taken from the manifest Kiln saved (download = copy + sha256 check,
//                    rpm -i of the build-root and OS sets, truncate/sfdisk/mkfs on loop devices,
//                    mount + cp -a (+ mtools for FAT), xz)
//   kiln warm zst    the same store: kiln build minimal-raw-zst (which pipelines were skipped?)
//   kiln cold zst    a second fresh store: the same, to show what the warm store saved
//   kiln rebuild     the first store: kiln build --manifest <the saved manifest>
// Prints a table (median of runs): seconds, peak RSS, ratio, target, PASS/MISS.
// A benchmark, not a test: it asserts only that every side ran.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sfdiskScript } from '../src/executor/stages/sfdisk.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..'); // dist/bench -> repo root
const KILN = path.join(root, 'bin', 'kiln.js');
const DIRECT = path.join(root, 'bench', 'direct-build.sh');
const ARCH = 'x86_64';
const DISTRO = 'fedora-42';

interface Timed {
  wallS: number;
  maxRssMb: number;
  /** user + system CPU seconds of the process and its children: a busy machine disturbs it less */
  cpuS: number;
  stdout: string;
  stderr: string;
}

/** Run under GNU time: wall time measured here, peak RSS = largest of the process and its
 *  waited-for descendants (getrusage RUSAGE_CHILDREN semantics, as /usr/bin/time -v reports). */
function timed(what: string, argv: string[], cwd?: string): Timed {
  const rssFile = path.join(os.tmpdir(), `kiln-bench-rss-${process.pid}`);
  const t0 = performance.now();
  const r = spawnSync('/usr/bin/time', ['-f', '%M %U %S', '-o', rssFile, ...argv], { encoding: 'utf8', maxBuffer: 1 << 28, cwd });
  const wallS = (performance.now() - t0) / 1000;
  const [rss, user, sys] = (fs.existsSync(rssFile) ? fs.readFileSync(rssFile, 'utf8').trim().split('\n').pop()! : 'NaN NaN NaN').split(' ').map(Number) as [number, number, number];
  fs.rmSync(rssFile, { force: true });
  if (r.status !== 0) throw new Error(`${what} failed (exit ${r.status}): ${argv.join(' ')}\n${r.stderr.slice(-4000)}\n${r.stdout.slice(-2000)}`);
  return { wallS, maxRssMb: rss / 1024, cpuS: user + sys, stdout: r.stdout, stderr: r.stderr };
}

interface PipelineInfo {
  name: string;
  status: string;
  duration_ms?: number;
  stages?: { type: string; status: string; duration_ms?: number }[];
}

function kilnBuild(what: string, args: string[], out: string): Timed & { pipelines: PipelineInfo[] } {
  const t = timed(what, ['node', KILN, 'build', '--buildroot', 'host', '--progress', 'verbose', '--output-dir', out, ...args]);
  const meta = fs.readdirSync(out).find((f) => f.endsWith('.metadata.json'));
  const pipelines = meta ? (JSON.parse(fs.readFileSync(path.join(out, meta), 'utf8')).pipelines as PipelineInfo[]) : [];
  return { ...t, pipelines };
}

interface Src {
  path: string;
}

/** The direct peer's inputs, all taken from Kiln's saved manifest. */
function writePlan(manifestFile: string, repoDir: string, planDir: string): void {
  const m = JSON.parse(fs.readFileSync(manifestFile, 'utf8'));
  const items: Record<string, Src> = { ...(m.sources['org.osbuild.librepo']?.items ?? {}) };
  for (const [k, v] of Object.entries(m.sources['org.osbuild.curl']?.items ?? {})) {
    const url = typeof v === 'string' ? v : (v as { url: string }).url;
    items[k] = { path: url.replace(/^file:\/\/[^]*?\/Packages\//, 'Packages/') };
  }
  const pipe = (name: string) => m.pipelines.find((p: { name: string }) => p.name === name);
  const rpmList = (name: string) =>
    pipe(name)
      .stages.filter((s: { type: string }) => s.type === 'org.osbuild.rpm')
      .flatMap((s: { inputs: { packages: { references: { id: string }[] } } }) => s.inputs.packages.references.map((r) => r.id))
      .map((id: string) => `${id.replace(/^sha256:/, '')} ${path.join(repoDir, items[id]!.path)}\n`)
      .join('');
  fs.mkdirSync(planDir, { recursive: true });
  fs.writeFileSync(path.join(planDir, 'build.list'), rpmList('build'));
  fs.writeFileSync(path.join(planDir, 'os.list'), rpmList('os'));
  const img = pipe('image').stages as { type: string; options: Record<string, unknown>; devices?: Record<string, { options: { start?: number; size?: number } }>; mounts?: { source: string; target: string }[] }[];
  const trunc = img.find((s) => s.type === 'org.osbuild.truncate')!;
  const sfd = img.find((s) => s.type === 'org.osbuild.sfdisk')!;
  fs.writeFileSync(path.join(planDir, 'sfdisk.txt'), sfdiskScript(sfd.options as never, '/dev/loopX'));
  const copy = img.find((s) => s.type === 'org.osbuild.copy')!;
  const fsLines: { depth: number; line: string }[] = [];
  for (const s of img.filter((x) => x.type === 'org.osbuild.mkfs.fat' || x.type === 'org.osbuild.mkfs.ext4')) {
    const d = s.devices!.device!.options;
    const mnt = copy.mounts!.find((mm) => {
      const o = copy.devices![mm.source]!.options;
      return o.start === d.start && o.size === d.size;
    })!;
    const fat = s.type === 'org.osbuild.mkfs.fat';
    const id = String(fat ? s.options.volid : s.options.uuid);
    const label = String(s.options.label ?? (fat ? 'NO_LABEL' : ''));
    fsLines.push({ depth: mnt.target.split('/').filter(Boolean).length, line: `${fat ? 'vfat' : 'ext4'} ${d.start} ${d.size} ${id} ${label} ${mnt.target}\n` });
  }
  fs.writeFileSync(path.join(planDir, 'fs.list'), fsLines.sort((a, b) => a.depth - b.depth).map((x) => x.line).join(''));
  // Kiln's org.osbuild.xz stage: xz --keep --stdout -0 --threads=0 <file> (src/executor/stages/xz.ts)
  fs.writeFileSync(path.join(planDir, 'plan.env'), `IMAGE_SIZE=${trunc.options.size}\nXZ_ARGS="--keep --stdout -0 --threads=0"\n`);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

interface RunResult {
  [step: string]: { s: number; rss: number; cpu?: number };
}

function pipelineSummary(p: PipelineInfo[]): string {
  return p.map((x) => `${x.name}:${x.status}${x.duration_ms !== undefined && x.status !== 'skipped' ? `(${(x.duration_ms / 1000).toFixed(1)}s)` : ''}`).join(' ');
}

function oneRun(work: string, repoUrl: string, repoDir: string, runNo: number): RunResult {
  const res: RunResult = {};
  const storeA = path.join(work, 'store-a');
  const storeB = path.join(work, 'store-b');
  const common = ['--distro', DISTRO, '--arch', ARCH, '--force-repo', repoUrl, '--seed', '1'];

  const cold = kilnBuild('kiln cold minimal-raw-xz', ['minimal-raw-xz', ...common, '--cache', storeA, '--with-manifest'], path.join(work, 'out-cold-xz'));
  res['kiln cold xz'] = { s: cold.wallS, rss: cold.maxRssMb, cpu: cold.cpuS };
  console.log(`[run ${runNo}] kiln cold xz: ${cold.wallS.toFixed(1)} s; ${pipelineSummary(cold.pipelines)}`);
  const inPipelines = cold.pipelines.reduce((a, p) => a + (p.duration_ms ?? 0), 0) / 1000;
  res['kiln outside pipelines'] = { s: cold.wallS - inPipelines, rss: NaN };
  console.log(`           outside pipelines (node start, definitions, depsolve, manifest, sources, commits, export): ${(cold.wallS - inPipelines).toFixed(1)} s`);
  for (const p of cold.pipelines) for (const s of p.stages ?? []) if ((s.duration_ms ?? 0) >= 200) console.log(`           ${p.name}/${s.type}: ${((s.duration_ms ?? 0) / 1000).toFixed(1)} s`);
  const manifest = path.join(work, 'out-cold-xz', `${DISTRO}-minimal-raw-xz-${ARCH}.osbuild-manifest.json`);

  const plan = path.join(work, 'plan');
  writePlan(manifest, repoDir, plan);
  const dwork = path.join(work, 'direct');
  fs.mkdirSync(dwork);
  const direct = timed('direct build', ['bash', DIRECT, plan, dwork, path.join(work, 'direct.raw.xz')]);
  res['direct'] = { s: direct.wallS, rss: direct.maxRssMb, cpu: direct.cpuS };
  // paired per run (same moment, same machine load): wall and CPU ratios, and the extra seconds
  res['ratio wall'] = { s: cold.wallS / direct.wallS, rss: NaN };
  res['ratio cpu'] = { s: cold.cpuS / direct.cpuS, rss: NaN };
  console.log(`[run ${runNo}] kiln/direct: wall ${(cold.wallS / direct.wallS).toFixed(3)}, CPU ${cold.cpuS.toFixed(1)}/${direct.cpuS.toFixed(1)} s = ${(cold.cpuS / direct.cpuS).toFixed(3)}`);
  const steps = direct.stdout.split('\n').filter((l) => l.startsWith('STEP ')).map((l) => l.split(' '));
  console.log(`[run ${runNo}] direct: ${direct.wallS.toFixed(1)} s; ${steps.map(([, n, ms]) => `${n} ${(Number(ms) / 1000).toFixed(1)}s`).join(', ')}`);
  for (const [, n, ms] of steps) res[`direct/${n}`] = { s: Number(ms) / 1000, rss: NaN };
  fs.rmSync(dwork, { recursive: true, force: true });
  fs.rmSync(path.join(work, 'direct.raw.xz'), { force: true });

  const warm = kilnBuild('kiln warm minimal-raw-zst', ['minimal-raw-zst', ...common, '--cache', storeA], path.join(work, 'out-warm-zst'));
  res['kiln warm zst'] = { s: warm.wallS, rss: warm.maxRssMb, cpu: warm.cpuS };
  // 1 when the OS tree came from the store (the os pipeline was not run)
  res['warm zst reused os'] = { s: warm.pipelines.some((p) => p.name === 'os' && p.status !== 'built') ? 1 : 0, rss: NaN };
  const srcLine = warm.stderr.split('\n').find((l) => /sources: \d+ downloaded/.test(l)) ?? '';
  console.log(`[run ${runNo}] kiln warm zst (store of the xz build): ${warm.wallS.toFixed(1)} s; ${pipelineSummary(warm.pipelines)}; ${srcLine.replace(/^\S+ /, '')}`);

  const coldZst = kilnBuild('kiln cold minimal-raw-zst', ['minimal-raw-zst', ...common, '--cache', storeB], path.join(work, 'out-cold-zst'));
  res['kiln cold zst'] = { s: coldZst.wallS, rss: coldZst.maxRssMb, cpu: coldZst.cpuS };
  console.log(`[run ${runNo}] kiln cold zst (fresh store): ${coldZst.wallS.toFixed(1)} s; ${pipelineSummary(coldZst.pipelines)}`);
  fs.rmSync(storeB, { recursive: true, force: true });

  const rebuild = kilnBuild('kiln rebuild --manifest', ['--manifest', manifest, '--cache', storeA], path.join(work, 'out-rebuild'));
  res['kiln rebuild'] = { s: rebuild.wallS, rss: rebuild.maxRssMb, cpu: rebuild.cpuS };
  console.log(`[run ${runNo}] kiln rebuild (saved manifest, warm store): ${rebuild.wallS.toFixed(2)} s; ${pipelineSummary(rebuild.pipelines)}`);
  const same = fs.readFileSync(path.join(work, 'out-rebuild', `${DISTRO}-minimal-raw-xz-${ARCH}.raw.xz`)).equals(fs.readFileSync(path.join(work, 'out-cold-xz', `${DISTRO}-minimal-raw-xz-${ARCH}.raw.xz`)));
  console.log(`[run ${runNo}] rebuilt image identical to the first: ${same}`);
  return res;
}

function main(): void {
  const argv = process.argv.slice(2);
  const opt = (k: string, d: string) => {
    const i = argv.indexOf(k);
    return i >= 0 ? argv[i + 1]! : d;
  };
  const runs = Number(opt('--runs', '1'));
  const keep = argv.includes('--keep') ? path.resolve(opt('--keep', '')) : undefined;
  if (process.getuid?.() !== 0) throw new Error('bench:build needs root (loop devices and mounts)');
  // not /tmp-on-tmpfs: the stores hold 5.6 GB sparse images
  const base = keep ?? fs.mkdtempSync(path.join(fs.existsSync('/var/tmp') ? '/var/tmp' : os.tmpdir(), 'kiln-bench-build-'));
  fs.mkdirSync(base, { recursive: true });
  const cleanupDirs = () => {
    // direct-build.sh cleans its own mounts; Kiln's stores are plain directories after a build
    for (const d of fs.readdirSync(base)) if (d !== 'repo' || !keep) fs.rmSync(path.join(base, d), { recursive: true, force: true });
    if (!keep) fs.rmSync(base, { recursive: true, force: true });
  };
  const results: RunResult[] = [];
  try {
    const repoDir = path.join(base, 'repo');
    if (!fs.existsSync(path.join(repoDir, ARCH, 'repodata'))) {
      const r = spawnSync('node', [KILN, 'demo-repo', '--dir', repoDir, '--arch', ARCH], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`demo-repo failed: ${r.stderr}`);
    }
    const repoUrl = `file://${path.join(repoDir, ARCH)}`;
    console.log(`demo repository: ${repoUrl}; work dir ${base}; ${os.cpus().length} CPUs; load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
    for (let i = 1; i <= runs; i++) {
      const work = path.join(base, `run-${i}`);
      fs.mkdirSync(work);
      try {
        results.push(oneRun(work, repoUrl, path.join(repoDir, ARCH), i));
      } finally {
        fs.rmSync(work, { recursive: true, force: true });
      }
    }
  } finally {
    cleanupDirs();
  }

  const med = (k: string) => ({ s: median(results.map((r) => r[k]!.s)), rss: median(results.map((r) => r[k]!.rss)), cpu: median(results.map((r) => r[k]!.cpu ?? NaN)) });
  const cold = med('kiln cold xz');
  const direct = med('direct');
  const warm = med('kiln warm zst');
  const coldZst = med('kiln cold zst');
  const rebuild = med('kiln rebuild');
  const rows: [string, { s: number; rss: number; cpu?: number }, string, string, boolean | undefined][] = [
    ['kiln build minimal-raw-xz (cold)', cold, `${med('ratio wall').s.toFixed(3)} (CPU ${med('ratio cpu').s.toFixed(3)})`, '< 1.15', med('ratio wall').s < 1.15],
    ['direct (same tools, same inputs)', direct, '', '', undefined],
    ...Object.keys(results[0]!)
      .filter((k) => k.startsWith('direct/'))
      .map((k) => [`  ${k}`, med(k), '', '', undefined] as [string, { s: number; rss: number; cpu?: number }, string, string, undefined]),
    ['  of which outside pipelines', med('kiln outside pipelines'), '', '', undefined],
    ['kiln build minimal-raw-zst (warm store)', warm, (warm.s / coldZst.s).toFixed(3) + ' vs cold zst', `os reused; saved ${(coldZst.s - warm.s).toFixed(1)} s`, med('warm zst reused os').s === 1],
    ['kiln build minimal-raw-zst (fresh store)', coldZst, '', '', undefined],
    ['kiln build --manifest (rebuild, warm)', rebuild, (rebuild.s / cold.s).toFixed(4) + ' vs cold xz', '< 0.1', rebuild.s / cold.s < 0.1],
  ];
  console.log(`\nmedian of ${results.length} run(s)`);
  const pad = (s: string, n: number) => s.padEnd(n);
  console.log('(ratios kiln/direct are medians of the per-run ratios; CPU = user + system of the process tree)');
  console.log(`${pad('step', 44)}${pad('seconds', 9)}${pad('CPU s', 8)}${pad('peak RSS MB', 13)}${pad('ratio', 24)}${pad('target', 30)}result`);
  for (const [name, v, ratio, target, ok] of rows) {
    const cpu = v.cpu === undefined || Number.isNaN(v.cpu) ? '' : v.cpu.toFixed(1);
    console.log(`${pad(name, 44)}${pad(v.s.toFixed(2), 9)}${pad(cpu, 8)}${pad(Number.isNaN(v.rss) ? '' : v.rss.toFixed(0), 13)}${pad(ratio, 24)}${pad(target, 30)}${ok === undefined ? '' : ok ? 'PASS' : 'MISS'}`);
  }
}

main();
