// createDemoRepo end to end: build the Fedora-shaped repository for x86_64 and aarch64 with the
// real rpmbuild + createrepo_c, then check it with tools that are not ours: createrepo_c's
// metadata read back, libsolv (system python `solv`) as an independent solver, and real
// `rpm --root` installs with dependency checking on.
//
// rpm notes: installs use `--dbpath /var/lib/rpm` (Debian's rpm defaults to ~/.rpmdb) and the
// aarch64 install adds `--ignorearch` (the host is x86_64). No --nodeps, no --noscripts needed:
// the packages have no scriptlets.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { createDemoRepo, FALLBACK_PACKAGE_NAMES, FALLBACK_SETS } from '../src/demorepo/index.js';
import type { DemoRepoResult } from '../src/demorepo/index.js';
const SOLVE_PY = String.raw`
import solv, sys, json, os
import xml.etree.ElementTree as ET
req = json.load(sys.stdin)
pool = solv.Pool()
pool.setdisttype(solv.Pool.DISTTYPE_RPM)   # Debian's libsolv defaults to deb semantics
pool.setarch(req['arch'])
repo = pool.add_repo('demo')
ns = {'r': 'http://linux.duke.edu/metadata/repo'}
root = ET.parse(os.path.join(req['repo'], 'repodata', 'repomd.xml')).getroot()
for d in root.findall('r:data', ns):
    loc = os.path.join(req['repo'], d.find('r:location', ns).get('href'))
    if d.get('type') == 'primary':
        repo.add_rpmmd(solv.xfopen(loc), None, 0)
for d in root.findall('r:data', ns):
    loc = os.path.join(req['repo'], d.find('r:location', ns).get('href'))
    if d.get('type') == 'filelists':
        repo.add_rpmmd(solv.xfopen(loc), None, solv.Repo.REPO_EXTEND_SOLVABLES)
pool.addfileprovides()
pool.createwhatprovides()
def solve(names, weak):
    jobs = []
    for n in names:
        sel = pool.select(n, solv.Selection.SELECTION_NAME)
        if sel.isempty():
            return {'problems': ['no package named ' + n]}
        jobs += sel.jobs(solv.Job.SOLVER_INSTALL)
    for n in req.get('exclude', []):
        sel = pool.select(n, solv.Selection.SELECTION_NAME)
        if not sel.isempty():
            jobs += sel.jobs(solv.Job.SOLVER_LOCK)
    solver = pool.Solver()
    solver.set_flag(solv.Solver.SOLVER_FLAG_IGNORE_RECOMMENDED, 0 if weak else 1)
    problems = solver.solve(jobs)
    if problems:
        return {'problems': [str(p) for p in problems]}
    return {'install': sorted(s.lookup_location()[0] for s in solver.transaction().newsolvables())}
if req.get('each'):
    bad = []
    for s in repo.solvables:
        r = solve([s.name], False)
        if 'problems' in r:
            bad.append(s.name + ': ' + '; '.join(r['problems']))
    print(json.dumps({'uninstallable': bad, 'count': repo.nsolvables}))
else:
    print(json.dumps(solve(req['names'], req.get('weak', False))))
`;

interface SolveResult {
  install?: string[];
  problems?: string[];
  uninstallable?: string[];
  count?: number;
}

function libsolv(req: { repo: string; arch: string; names?: string[]; exclude?: string[]; weak?: boolean; each?: boolean }): SolveResult {
  const out = execFileSync('/usr/bin/python3', ['-c', SOLVE_PY], { input: JSON.stringify(req), encoding: 'utf8', maxBuffer: 64 << 20 });
  return JSON.parse(out) as SolveResult;
}

/** href of each data type in repomd.xml */
function repomdLocations(repo: string): Record<string, string> {
  const xml = fs.readFileSync(path.join(repo, 'repodata', 'repomd.xml'), 'utf8');
  const out: Record<string, string> = {};
  for (const m of xml.matchAll(/<data type="([^"]+)">[\s\S]*?<location href="([^"]+)"/g)) out[m[1]!] = m[2]!;
  return out;
}

function readMaybeGz(file: string): string {
  const buf = fs.readFileSync(file);
  return (file.endsWith('.gz') ? zlib.gunzipSync(buf) : buf).toString('utf8');
}

/** name -> arch list from primary.xml */
function primaryPackages(repo: string): Map<string, string[]> {
  const xml = readMaybeGz(path.join(repo, repomdLocations(repo)['primary']!));
  const out = new Map<string, string[]>();
  for (const m of xml.matchAll(/<package type="rpm">\s*<name>([^<]+)<\/name>\s*<arch>([^<]+)<\/arch>/g)) {
    out.set(m[1]!, [...(out.get(m[1]!) ?? []), m[2]!]);
  }
  return out;
}

/** group id -> member names by type, from the repo's comps file */
function compsGroups(repo: string): Map<string, { type: string; name: string }[]> {
  const loc = repomdLocations(repo);
  const xml = readMaybeGz(path.join(repo, loc['group'] ?? loc['group_gz']!));
  const out = new Map<string, { type: string; name: string }[]>();
  for (const g of xml.matchAll(/<group>([\s\S]*?)<\/group>/g)) {
    const id = /<id>([^<]+)<\/id>/.exec(g[1]!)![1]!;
    out.set(id, [...g[1]!.matchAll(/<packagereq type="([^"]+)"[^>]*>([^<]+)<\/packagereq>/g)].map((m) => ({ type: m[1]!, name: m[2]! })));
  }
  return out;
}

/** Install RPM files into a fresh root with real rpm, dependency checks on. */
function rpmInstall(root: string, files: string[], extra: string[] = []): void {
  execFileSync('rpm', ['--root', root, '--dbpath', '/var/lib/rpm', '-i', ...extra, ...files], { stdio: ['ignore', 'pipe', 'pipe'] });
}

function rpmQuery(root: string, args: string[]): string {
  return execFileSync('rpm', ['--root', root, '--dbpath', '/var/lib/rpm', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function withRoot<T>(fn: (root: string) => T): T {
  const root = fs.mkdtempSync(os.tmpdir() + '/kiln-demorepo-root-');
  try {
    return fn(root);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

const ARCHES = ['x86_64', 'aarch64'];

describe('createDemoRepo (x86_64 + aarch64, fallback names)', () => {
  let outDir = '';
  let result: DemoRepoResult;
  let seconds = 0;
  const requested = FALLBACK_PACKAGE_NAMES.filter((n) => !n.startsWith('@'));

  before(async () => {
    outDir = fs.mkdtempSync(os.tmpdir() + '/kiln-demorepo-');
    const t0 = Date.now();
    result = await createDemoRepo({ outDir, arches: ARCHES, packageNames: [...FALLBACK_PACKAGE_NAMES], releasever: '42' });
    seconds = (Date.now() - t0) / 1000;
  });
  after(() => {
    if (outDir) fs.rmSync(outDir, { recursive: true, force: true });
  });

  it('builds one repository per arch in <outDir>/<arch>', () => {
    assert.equal(result.reused, false);
    assert.deepEqual(Object.keys(result.repos).sort(), [...ARCHES].sort());
    for (const a of ARCHES) {
      assert.equal(result.repos[a], path.join(outDir, a));
      assert.ok(fs.existsSync(path.join(outDir, a, 'repodata', 'repomd.xml')), `${a} repomd.xml`);
    }
    // Generous bound: the target is < 60 s on 2 idle cores; shared CI boxes are noisier.
    assert.ok(seconds < 180, `generation took ${seconds} s`);
  });

  it('lists every requested name in each arch primary.xml, with the right arch', () => {
    for (const a of ARCHES) {
      const pkgs = primaryPackages(result.repos[a]!);
      const missing = requested.filter((n) => !pkgs.has(n));
      assert.deepEqual(missing, [], `${a}: missing names`);
      for (const [name, archs] of pkgs) {
        assert.equal(archs.length, 1, `${a}: ${name} listed ${archs.length} times`);
        assert.ok(archs[0] === a || archs[0] === 'noarch', `${a}: ${name} has arch ${archs[0]}`);
      }
      // The same noarch packages land in every arch repository.
      assert.ok([...pkgs.values()].some((v) => v[0] === 'noarch'), `${a}: no noarch packages`);
      assert.equal(pkgs.size, result.packageCounts[a]);
    }
  });

  it('has a comps file with @core (Fedora-like mandatory members, all present)', () => {
    for (const a of ARCHES) {
      const groups = compsGroups(result.repos[a]!);
      const core = groups.get('core');
      assert.ok(core, `${a}: no core group`);
      const mandatory = core.filter((p) => p.type === 'mandatory').map((p) => p.name);
      for (const n of ['bash', 'coreutils', 'filesystem', 'glibc', 'setup', 'systemd', 'rpm', 'selinux-policy-targeted', 'openssh-server']) {
        assert.ok(mandatory.includes(n), `core lacks mandatory ${n}`);
      }
      const pkgs = primaryPackages(result.repos[a]!);
      for (const p of core) assert.ok(pkgs.has(p.name), `${a}: core member ${p.name} not in repo`);
    }
  });

  it('has no scriptlets and Fedora-like versions', () => {
    const dir = path.join(result.repos['x86_64']!, 'Packages');
    const files = fs.readdirSync(dir, { recursive: true }).map(String).filter((f) => f.endsWith('.rpm')).map((f) => path.join(dir, f));
    const scripts = execFileSync('rpm', ['-qp', '--scripts', ...files], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 64 << 20 });
    assert.equal(scripts.trim(), '');
    const kernel = files.find((f) => path.basename(f).startsWith('kernel-core-'))!;
    const q = execFileSync('rpm', ['-qp', '--qf', '%{RELEASE}\\n[%{PROVIDES} %{PROVIDEVERSION}\\n]', kernel], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    assert.match(q.split('\n')[0]!, /^\d+\.fc42$/);
    assert.match(q, /^kernel-core-uname-r \d+\.\d+\.\d+-\d+\.fc42\.x86_64$/m);
  });

  it('every package is installable on its own (libsolv), on both arches', () => {
    for (const a of ARCHES) {
      const r = libsolv({ repo: result.repos[a]!, arch: a, each: true });
      assert.deepEqual(r.uninstallable, [], `${a}: uninstallable packages`);
      assert.equal(r.count, result.packageCounts[a]);
    }
  });

  // Image sets from the reference lists; each must depsolve as a whole.
  function minimalSet(a: string): { names: string[]; exclude: string[] } {
    const core = compsGroups(result.repos[a]!).get('core')!.filter((p) => p.type !== 'optional').map((p) => p.name);
    const platform = (FALLBACK_SETS.minimalPlatform as Record<string, string[]>)[a]!;
    const names = [...core, ...FALLBACK_SETS.minimal.filter((n) => !n.startsWith('@')), ...platform, 'kernel', 'dosfstools', 'e2fsprogs', 'selinux-policy-targeted'];
    const exclude = ['dracut-config-rescue'];
    return { names: [...new Set(names)].filter((n) => !exclude.includes(n)), exclude };
  }

  it('the image-type package sets depsolve (libsolv)', () => {
    for (const a of ARCHES) {
      const repo = result.repos[a]!;
      const sets: Record<string, { names: string[]; exclude?: string[]; weak?: boolean }> = {
        minimal: { ...minimalSet(a), weak: true },
        iot: { names: [...FALLBACK_SETS.iotOs, ...FALLBACK_SETS.installerPlatforms, 'kernel'] },
        anaconda: { names: [...FALLBACK_SETS.anaconda, ...FALLBACK_SETS.installerPlatforms], weak: true },
        simplified: { names: FALLBACK_SETS.simplifiedInstaller },
        bootableContainer: { names: FALLBACK_SETS.bootableContainer.filter((n) => !['cowsay', 'grubby', 'initscripts', 'NetworkManager-initscripts-ifcfg-rh', 'nodejs', 'plymouth', 'systemd-networkd'].includes(n)) },
        build: { names: FALLBACK_SETS.buildRoot, weak: true },
      };
      for (const [label, s] of Object.entries(sets)) {
        const r = libsolv({ repo, arch: a, names: s.names, exclude: s.exclude, weak: s.weak });
        assert.equal(r.problems, undefined, `${a} ${label}: ${JSON.stringify(r.problems)}`);
        assert.ok(r.install!.length >= new Set(s.names).size, `${a} ${label}: transaction too small`);
      }
    }
  });

  it('installs the minimal x86_64 image set with real rpm --root (deps checked) and lays out the files stages need', () => {
    const repo = result.repos['x86_64']!;
    const { names, exclude } = minimalSet('x86_64');
    const r = libsolv({ repo, arch: 'x86_64', names, exclude, weak: true });
    assert.ok(r.install, JSON.stringify(r.problems));
    withRoot((root) => {
      rpmInstall(root, r.install!.map((l) => path.join(repo, l)));
      const installed = rpmQuery(root, ['-qa', '--qf', '%{NAME}\\n']).trim().split('\n');
      assert.equal(installed.length, r.install!.length);
      assert.ok(!installed.includes('dracut-config-rescue'));
      assert.ok(installed.includes('fedora-release') && !installed.includes('fedora-release-iot'));

      const osr = fs.readFileSync(path.join(root, 'etc/os-release'), 'utf8');
      assert.match(osr, /^ID=fedora$/m);
      assert.match(osr, /^VERSION_ID=42$/m);
      assert.ok(fs.lstatSync(path.join(root, 'usr/lib/os-release')).isFile());
      assert.match(fs.readFileSync(path.join(root, 'etc/passwd'), 'utf8'), /^root:x:0:0:/m);
      assert.match(fs.readFileSync(path.join(root, 'etc/group'), 'utf8'), /^wheel:x:10:/m);
      assert.equal(fs.statSync(path.join(root, 'etc/shadow')).mode & 0o777, 0);
      assert.equal(fs.readlinkSync(path.join(root, 'bin')), 'usr/bin');
      assert.equal(fs.readlinkSync(path.join(root, 'lib64')), 'usr/lib64');
      assert.equal(fs.statSync(path.join(root, 'tmp')).mode & 0o7777, 0o1777);

      // Kernel files named after the installed kernel-core's own EVRA, as rpm reports it.
      const kver = rpmQuery(root, ['-q', '--qf', '%{VERSION}-%{RELEASE}.%{ARCH}', 'kernel-core']).trim();
      assert.match(kver, /\.fc42\.x86_64$/);
      assert.ok(fs.statSync(path.join(root, 'usr/lib/modules', kver, 'vmlinuz')).size > 0);
      assert.ok(fs.existsSync(path.join(root, 'lib/modules', kver, 'modules.dep')));
      assert.ok(fs.existsSync(path.join(root, 'boot', `vmlinuz-${kver}`)));
      const bls = fs.readFileSync(path.join(root, 'boot/loader/entries', `ffffffffffffffffffffffffffffffff-${kver}.conf`), 'utf8');
      assert.match(bls, new RegExp(`^linux /vmlinuz-${kver.replace(/\./g, '\\.')}$`, 'm'));
      for (const f of ['shimx64.efi', 'grubx64.efi']) assert.ok(fs.existsSync(path.join(root, 'boot/efi/EFI/fedora', f)), f);

      for (const u of ['NetworkManager.service', 'sshd.service', 'firewalld.service', 'initial-setup.service', 'chronyd.service']) {
        const body = fs.readFileSync(path.join(root, 'usr/lib/systemd/system', u), 'utf8');
        assert.match(body, /^\[Install\]$/m, u);
        assert.match(body, /^WantedBy=.*multi-user\.target/m, u);
      }
      assert.match(fs.readFileSync(path.join(root, 'etc/selinux/config'), 'utf8'), /^SELINUXTYPE=targeted$/m);
      const fc = fs.readFileSync(path.join(root, 'etc/selinux/targeted/contexts/files/file_contexts'), 'utf8');
      for (const line of fc.trim().split('\n')) {
        // setfiles syntax: regex, optional file type (-- -d -l ...), context or <<none>>
        assert.match(line, /^\/\S*\s+(-[-dlbcsp]\s+)?(<<none>>|\w+:\w+:\w+:s0)$/, line);
      }
      // rpm itself agrees the installed set is consistent.
      assert.equal(rpmQuery(root, ['-q', '--whatprovides', '/bin/sh', '--qf', '%{NAME}']), 'bash');
      assert.equal(rpmQuery(root, ['-q', '--whatprovides', 'system-release', '--qf', '%{NAME}']), 'fedora-release');
    });
  });

  it('installs the minimal aarch64 set (rpm --ignorearch on this host) with an aarch64 kernel and EFI files', () => {
    const repo = result.repos['aarch64']!;
    const { names, exclude } = minimalSet('aarch64');
    const r = libsolv({ repo, arch: 'aarch64', names, exclude, weak: false });
    assert.ok(r.install, JSON.stringify(r.problems));
    withRoot((root) => {
      rpmInstall(root, r.install!.map((l) => path.join(repo, l)), ['--ignorearch']);
      const kver = rpmQuery(root, ['-q', '--qf', '%{VERSION}-%{RELEASE}.%{ARCH}', 'kernel-core']).trim();
      assert.match(kver, /\.aarch64$/);
      assert.ok(fs.existsSync(path.join(root, 'usr/lib/modules', kver, 'vmlinuz')));
      for (const f of ['shimaa64.efi', 'grubaa64.efi']) assert.ok(fs.existsSync(path.join(root, 'boot/efi/EFI/fedora', f)), f);
      // minimal-raw aarch64 copies this into the ESP (boot_files).
      assert.ok(fs.existsSync(path.join(root, 'usr/share/uboot/rpi_arm64/u-boot.bin')));
    });
  });

  it('installs the IoT set: fedora-release-iot gives the IoT os-release and the greenboot/ignition units', () => {
    const repo = result.repos['x86_64']!;
    const r = libsolv({ repo, arch: 'x86_64', names: [...FALLBACK_SETS.iotOs, 'kernel', 'grub2-efi-x64', 'shim-x64'] });
    assert.ok(r.install, JSON.stringify(r.problems));
    withRoot((root) => {
      rpmInstall(root, r.install!.map((l) => path.join(repo, l)));
      const osr = fs.readFileSync(path.join(root, 'etc/os-release'), 'utf8');
      assert.match(osr, /^VARIANT_ID=iot$/m);
      assert.equal(rpmQuery(root, ['-q', '--whatprovides', 'system-release', '--qf', '%{NAME}']), 'fedora-release-iot');
      for (const u of ['greenboot-healthcheck.service', 'bootloader-update.service', 'ignition-firstboot-complete.service',
        'coreos-ignition-write-issues.service', 'fdo-client-linuxapp.service']) {
        assert.ok(fs.existsSync(path.join(root, 'usr/lib/systemd/system', u)), u);
      }
    });
  });

  it('fedora-release and fedora-release-iot cannot be installed together (identity conflict)', () => {
    const r = libsolv({ repo: result.repos['x86_64']!, arch: 'x86_64', names: ['fedora-release', 'fedora-release-iot'] });
    assert.ok(r.problems && r.problems.length > 0);
  });

  it('a second run with the same inputs is a no-op (stamp)', async () => {
    const repomd = path.join(result.repos['x86_64']!, 'repodata', 'repomd.xml');
    const before = fs.statSync(repomd);
    const again = await createDemoRepo({ outDir, arches: ARCHES, packageNames: [...FALLBACK_PACKAGE_NAMES], releasever: '42' });
    assert.equal(again.reused, true);
    assert.deepEqual(again.repos, result.repos);
    const afterStat = fs.statSync(repomd);
    assert.equal(afterStat.mtimeMs, before.mtimeMs);
    assert.equal(afterStat.ino, before.ino);
  });
});
