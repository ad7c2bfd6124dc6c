// Depsolve benchmark: Kiln vs libsolv on a generated 60k-package repository.
//   npm run bench:depsolve [-- --packages 60000 --runs 3 --keep DIR [--reuse-solv]]
// Generates the repository on disk (primary.xml.gz, filelists.xml.gz, repomd.xml as
// createrepo_c lays them out), then runs each side in its own child process:
//   kiln cold    loadRepo (parse metadata, write the metadata cache) + depsolve
//   kiln warm    loadRepo from the metadata cache + depsolve
//   libsolv cold add_rpmmd (primary + filelists, write .solv) + solve
//   libsolv warm add_solv from the .solv cache + solve
// and prints time (median of runs) and peak RSS of each, the kiln/libsolv ratios, and whether
// both sides chose the same packages.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateRepo, mulberry32, writeRepo } from '../test/helpers/genrepo.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const ARCH = 'x86_64';

interface ChildResult {
  mode?: string;
  loadMs: number;
  solveMs: number;
  totalMs: number;
  /** CPU time (user + system, all threads) of the measured part: less sensitive to a busy machine */
  cpuMs: number;
  maxRssKb: number;
  chosen: string[];
  wallMs: number;
  cacheWriteMs?: number;
  error?: string;
}

async function kilnChild(repoDir: string, reqFile: string, cacheDir: string): Promise<void> {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const { loadRepo } = await import('../src/repo/load.js');
  const { depsolve } = await import('../src/depsolve/index.js');
  const { formatNevra } = await import('../src/rpm/nevra.js');
  const req = JSON.parse(fs.readFileSync(reqFile, 'utf8'));
  const repo = await loadRepo({ id: 'bench', baseurl: [`file://${repoDir}`] }, { arch: ARCH, cacheDir, filelists: true });
  const t1 = performance.now();
  const res = depsolve(repo.packages, [{ include: req.include, exclude: [], installWeakDeps: req.installWeakDeps }], { arch: ARCH, groups: repo.groups });
  const t2 = performance.now();
  const cpu = process.cpuUsage(c0);
  process.stdout.write(
    JSON.stringify({
      loadMs: t1 - t0,
      solveMs: t2 - t1,
      totalMs: t2 - t0,
      cpuMs: (cpu.user + cpu.system) / 1000,
      maxRssKb: process.resourceUsage().maxRSS,
      chosen: res.packages.map(formatNevra).sort(),
    }),
  );
}

function run(cmd: string, args: string[]): ChildResult {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 30 });
  const wallMs = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}\n${r.stdout}`);
  return { ...(JSON.parse(r.stdout) as ChildResult), wallMs };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === '--child-kiln') return kilnChild(argv[1]!, argv[2]!, argv[3]!);
  const opt = (k: string, d: string) => {
    const i = argv.indexOf(k);
    return i >= 0 ? argv[i + 1]! : d;
  };
  const target = Number(opt('--packages', '60000'));
  const runs = Number(opt('--runs', '3'));
  const keep = argv.includes('--keep') ? opt('--keep', '') : '';
  const work = keep || fs.mkdtempSync(os.tmpdir() + '/kiln-bench-');
  try {
    // ~4.1 packages per app with the generator's defaults
    let t = performance.now();
    const g = generateRepo({ seed: 2026, apps: Math.ceil(target / 4.1), arch: ARCH, depsPerApp: 6, realistic: { extraFiles: 12 } });
    const genMs = performance.now() - t;
    const repoDir = path.join(work, 'repo');
    t = performance.now();
    fs.rmSync(repoDir, { recursive: true, force: true });
    writeRepo(repoDir, g.packages, { gzip: true });
    const writeMs = performance.now() - t;
    const pk = g.packages;
    const nDeps = pk.reduce((a, p) => a + p.requires.length, 0);
    const nProv = pk.reduce((a, p) => a + p.provides.length, 0);
    const nFiles = pk.reduce((a, p) => a + p.files.length, 0);
    const nRich = pk.reduce((a, p) => a + p.requires.filter((d) => d.name.startsWith('(')).length, 0);
    console.log(
      `repository: ${pk.length} packages, ${nProv} provides, ${nDeps} requires (${nRich} rich), ${nFiles} files; generated in ${Math.round(genMs)} ms, written in ${Math.round(writeMs)} ms`,
    );

    // a realistic request: ~300 top-level specs (names, a few file paths and provides)
    const rnd = mulberry32(7);
    const names = [...new Set(pk.filter((p) => p.arch !== 'i686' && !/-(guard|cond|rt|wimpl|pinned|old)$|^clash|^broken/.test(p.name)).map((p) => p.name))];
    const specs = new Set<string>();
    while (specs.size < 285) specs.add(names[Math.floor(rnd() * names.length)]!);
    const tools = pk.flatMap((p) => p.files.filter((f) => f.startsWith('/usr/bin/'))).slice(0, 2000);
    while (specs.size < 295) specs.add(tools[Math.floor(rnd() * tools.length)]!);
    const sonames = pk.flatMap((p) => p.provides.filter((d) => d.name.endsWith('()(64bit)')).map((d) => d.name));
    while (specs.size < 300) specs.add(sonames[Math.floor(rnd() * sonames.length)]!);
    const reqFile = path.join(work, 'request.json');
    fs.writeFileSync(reqFile, JSON.stringify({ include: [...specs], installWeakDeps: true }));
    // free the generator's objects before measuring (children are separate processes anyway)
    g.packages.length = 0;

    const self = fileURLToPath(import.meta.url);
    const peer = path.resolve(here, '../../bench/libsolv_peer.py');
    const res: Record<string, ChildResult[]> = { 'kiln cold': [], 'kiln warm': [], 'libsolv cold': [], 'libsolv warm': [] };
    // the .solv cache is written once, untimed (see libsolv_peer.py)
    const scache = path.join(work, 'bench.solv');
    // --reuse-solv: with --keep, keep a .solv from an earlier run (the generator is seeded, so
    // the repository is the same) instead of spending a minute or two writing it again
    const reuse = argv.includes('--reuse-solv') && keep !== '' && fs.existsSync(scache) && fs.statSync(scache).size > 0;
    if (!reuse) {
      fs.rmSync(scache, { force: true });
      t = performance.now();
      const prep = run('/usr/bin/python3', [peer, repoDir, reqFile, ARCH, '--write', scache]);
      console.log(`libsolv .solv cache written in ${Math.round(prep.cacheWriteMs ?? 0)} ms (not counted)`);
    } else console.log(`libsolv .solv cache reused from ${scache}`);
    for (let r = 0; r < runs; r++) {
      const kcache = path.join(work, `kcache-${r}`);
      fs.rmSync(kcache, { recursive: true, force: true });
      res['kiln cold']!.push(run(process.execPath, [self, '--child-kiln', repoDir, reqFile, kcache]));
      res['kiln warm']!.push(run(process.execPath, [self, '--child-kiln', repoDir, reqFile, kcache]));
      res['libsolv cold']!.push(run('/usr/bin/python3', [peer, repoDir, reqFile, ARCH]));
      res['libsolv warm']!.push(run('/usr/bin/python3', [peer, repoDir, reqFile, ARCH, '--read', scache]));
      if (res['libsolv cold']![r]!.mode !== 'cold' || res['libsolv warm']![r]!.mode !== 'warm') throw new Error('libsolv peer did not run cold then warm');
    }
    const kChosen = res['kiln cold']![0]!.chosen;
    const sChosen = res['libsolv cold']![0]!.chosen;
    const onlyK = kChosen.filter((x) => !sChosen.includes(x));
    const onlyS = sChosen.filter((x) => !kChosen.includes(x));

    const row = (name: string) => {
      const rs = res[name]!;
      return {
        name,
        load: median(rs.map((r) => r.loadMs)),
        solve: median(rs.map((r) => r.solveMs)),
        total: median(rs.map((r) => r.totalMs)),
        wall: median(rs.map((r) => r.wallMs)),
        cpu: median(rs.map((r) => r.cpuMs)),
        rss: Math.max(...rs.map((r) => r.maxRssKb)) / 1024,
      };
    };
    const rows = Object.keys(res).map(row);
    const f = (x: number) => x.toFixed(0).padStart(9);
    console.log(`\nmedian of ${runs} run(s); load = metadata (parse or cache), total = in-process, wall = incl. interpreter start`);
    console.log(`${'side'.padEnd(14)}${'load ms'.padStart(9)}${'solve ms'.padStart(9)}${'total ms'.padStart(9)}${'wall ms'.padStart(9)}${'cpu ms'.padStart(9)}${'peak RSS MB'.padStart(13)}`);
    for (const r of rows) console.log(`${r.name.padEnd(14)}${f(r.load)}${f(r.solve)}${f(r.total)}${f(r.wall)}${f(r.cpu)}${r.rss.toFixed(0).padStart(13)}`);
    console.log('\nratios kiln/libsolv:');
    for (const m of ['cold', 'warm']) {
      const k = rows.find((r) => r.name === `kiln ${m}`)!;
      const s = rows.find((r) => r.name === `libsolv ${m}`)!;
      console.log(
        `  ${m}: total ${(k.total / s.total).toFixed(2)}x, wall ${(k.wall / s.wall).toFixed(2)}x, solve ${(k.solve / s.solve).toFixed(2)}x, cpu ${(k.cpu / s.cpu).toFixed(2)}x, peak RSS ${(k.rss / s.rss).toFixed(2)}x`,
      );
    }
    console.log(
      `\nchosen packages: kiln ${kChosen.length}, libsolv ${sChosen.length}; ${onlyK.length || onlyS.length ? `DIFFER (kiln only: ${onlyK.slice(0, 5).join(', ')}; libsolv only: ${onlyS.slice(0, 5).join(', ')})` : 'identical'}`,
    );
  } finally {
    if (!keep) fs.rmSync(work, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
