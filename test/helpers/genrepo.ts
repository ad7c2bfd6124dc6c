// Seeded, deterministic generator of synthetic RPM repositories for the depsolver tests and the
// benchmark. It returns the Package[] objects and can write them as rpm-md metadata
// (primary.xml[.gz], filelists.xml[.gz], repomd.xml) the way createrepo_c lays them out, so that
// libsolv (python3-solv) can read the very same repository.
//
// The dependency web has: shared libraries with sonames (+ i686 multilib copies on x86_64 and a
// few 32-bit-only compat libs), several versions of some packages (newest wins), apps with
// versioned requires, file requires (/usr/bin, /etc and /usr/lib64 files, the latter only in
// filelists), virtual capabilities with several providers (choice by libsolv's policy: best arch,
// then name order, preferring recommended ones), versioned virtual provides, conflicts,
// obsoletes, recommends, supplements and rich deps (or/and/if/if-else/unless/with, nested).
//
// Choices are made well defined by construction (documented, and relied upon by the libsolv
// differential test): a greedy solver and libsolv's SAT search agree as long as no choice has to
// be revised later. Therefore: alternative providers ("impl" packages) are reached only through
// their virtual capability or a job; conflicting packages ("guard" packages) only through jobs;
// library requires form a DAG and each soname comes from one version line; a "< version"
// requirement on a pinned package is the only requirement on that package; an if-else condition
// package is never required by anything else.

import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import crypto from 'node:crypto';
import type { CompsGroup, Dep, Package } from '../../src/rpm/types.js';

export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface GenOptions {
  seed: number;
  /** number of application packages; libs, tools etc. scale with it */
  apps: number;
  arch?: 'x86_64' | 'aarch64';
  repoId?: string;
  /** dependencies per app (average) */
  depsPerApp?: number;
  /**
   * extra files per package (docs, man pages, data) and the extra provides real packages carry
   * (`name(x86-64) = evr`, `config(name)`, bundled()): for benchmark-sized repositories
   */
  realistic?: { extraFiles: number };
}

export interface GenRequest {
  name: string;
  transactions: { include: string[]; exclude: string[]; installWeakDeps: boolean; repoIds?: string[] }[];
  /** for error cases: the names the error must mention */
  expectError?: string[];
}

export interface GenRepo {
  packages: Package[];
  groups: CompsGroup[];
  requests: GenRequest[];
}

const SYL = ['ka', 'lo', 'mi', 'nu', 'pe', 'ra', 'si', 'to', 'vu', 'xe', 'zo', 'be', 'da', 'fi', 'go', 'hu', 'je', 'qu', 'wy', 'co'];

export function generateRepo(o: GenOptions): GenRepo {
  const rnd = mulberry32(o.seed);
  const arch = o.arch ?? 'x86_64';
  const repoId = o.repoId ?? 'gen';
  const multilib = arch === 'x86_64';
  const pick = <T>(a: T[]): T => a[Math.floor(rnd() * a.length)]!;
  const chance = (p: number) => rnd() < p;
  const used = new Set<string>();
  const word = (): string => {
    for (;;) {
      let w = '';
      const n = 2 + Math.floor(rnd() * 3);
      for (let i = 0; i < n; i++) w += pick(SYL);
      if (used.size > 4000) w += String(Math.floor(rnd() * 1e6));
      if (!used.has(w)) {
        used.add(w);
        return w;
      }
    }
  };
  const pkgs: Package[] = [];
  const mk = (name: string, a: string, version: string, release = '1.fc42', epoch = 0): Package => {
    const p: Package = {
      name,
      arch: a,
      epoch,
      version,
      release,
      summary: `${name} package`,
      location: `Packages/${name[0]}/${name}-${version}-${release}.${a}.rpm`,
      checksum: { type: 'sha256', value: crypto.createHash('sha256').update(`${repoId}/${name}-${epoch}:${version}-${release}.${a}`).digest('hex') },
      provides: [{ name, flags: 'EQ', epoch, version, release }],
      requires: [],
      conflicts: [],
      obsoletes: [],
      recommends: [],
      suggests: [],
      supplements: [],
      enhances: [],
      files: [],
      sourceRpm: `${name}-${version}-${release}.src.rpm`,
      repoId,
      license: 'MIT',
    };
    pkgs.push(p);
    return p;
  };
  const so64 = (s: string) => (arch === 'x86_64' || arch === 'aarch64' ? `${s}()(64bit)` : s);
  const ver = () => `${1 + Math.floor(rnd() * 4)}.${Math.floor(rnd() * 12)}${chance(0.1) ? '~rc1' : ''}${chance(0.05) ? '^git2' : ''}`;
  const bump = (v: string) => v.replace(/^(\d+)\.(\d+)/, (_, a, b) => `${a}.${Number(b) + 1}`);

  // --- base: glibc-like lib everyone needs (multilib)
  const glibcFiles = ['/usr/lib64/libc.so.6', '/usr/sbin/ldconfig', '/etc/ld.so.conf'];
  const glibc = mk('glibc', arch, '2.41', '3.fc42');
  glibc.provides.push({ name: so64('libc.so.6') }, { name: 'rtld(GNU_HASH)' });
  glibc.files.push(...glibcFiles);
  if (multilib) {
    const g32 = mk('glibc', 'i686', '2.41', '3.fc42');
    g32.provides.push({ name: 'libc.so.6' }, { name: 'rtld(GNU_HASH)' });
    g32.files.push('/usr/lib/libc.so.6', '/etc/ld.so.conf');
  }

  // --- libraries: DAG, some multilib, some with several versions
  interface Lib { name: string; soname: string; multilib: boolean; deps: number[] }
  const nLib = Math.max(8, Math.floor(o.apps * 0.8));
  const libs: Lib[] = [];
  for (let i = 0; i < nLib; i++) {
    const w = word();
    const ml = multilib && chance(0.2);
    const deps: number[] = [];
    const nd = i ? Math.floor(rnd() * 3) : 0;
    for (let k = 0; k < nd; k++) {
      const j = Math.floor(rnd() * i);
      // a multilib lib may only need multilib libs (its i686 copy needs their i686 copies)
      if (!ml || libs[j]!.multilib) if (!deps.includes(j)) deps.push(j);
    }
    const lib: Lib = { name: `lib${w}`, soname: `lib${w}.so.${1 + Math.floor(rnd() * 3)}`, multilib: ml, deps };
    libs.push(lib);
    const versions = chance(0.3) ? 2 + Math.floor(rnd() * 2) : 1;
    let v = ver();
    for (let k = 0; k < versions; k++, v = bump(v)) {
      for (const a of ml ? [arch, 'i686'] : [arch]) {
        const p = mk(lib.name, a, v, `${1 + k}.fc42`);
        const is32 = a === 'i686';
        p.provides.push({ name: is32 ? lib.soname : so64(lib.soname) });
        p.files.push(`${is32 ? '/usr/lib' : '/usr/lib64'}/${lib.soname}`, `/usr/share/doc/${lib.name}/README`);
        p.requires.push({ name: is32 ? 'libc.so.6' : so64('libc.so.6') });
        for (const d of deps) p.requires.push({ name: is32 ? libs[d]!.soname : so64(libs[d]!.soname) });
        if (chance(0.05)) p.requires.push({ name: '/sbin/ldconfig'.replace('/sbin', '/usr/sbin'), pre: true });
      }
    }
  }
  // 32-bit-only compat libs (multilib chosen because nothing else provides them)
  const compat: string[] = [];
  if (multilib) {
    for (let i = 0; i < Math.max(2, o.apps / 50); i++) {
      const w = word();
      const p = mk(`compat-lib${w}`, 'i686', '1.0', '1.fc42');
      const so = `lib${w}32.so.1`;
      p.provides.push({ name: so });
      p.files.push(`/usr/lib/${so}`);
      p.requires.push({ name: 'libc.so.6' });
      compat.push(so);
    }
  }

  // --- tools: file providers in /usr/bin (primary) and data files (filelists only)
  const tools: string[] = [];
  const dataFiles: string[] = [];
  for (let i = 0; i < Math.max(4, o.apps / 10); i++) {
    const w = word();
    const p = mk(`${w}-tools`, chance(0.5) ? 'noarch' : arch, ver());
    p.files.push(`/usr/bin/${w}`, `/usr/share/${w}/data.txt`);
    if (p.arch !== 'noarch') p.requires.push({ name: so64('libc.so.6') });
    tools.push(`/usr/bin/${w}`);
    dataFiles.push(`/usr/share/${w}/data.txt`);
  }

  // --- virtual capabilities with alternative providers
  interface Virt { cap: string; impls: string[] }
  const virts: Virt[] = [];
  for (let i = 0; i < Math.max(3, o.apps / 12); i++) {
    const w = word();
    const cap = `${w}-engine`;
    const impls: string[] = [];
    const n = 2 + Math.floor(rnd() * 2);
    for (let k = 0; k < n; k++) {
      const iname = `${word()}-${w}`;
      impls.push(iname);
      // mixed arches: an i686-only impl loses against any x86_64 one (best arch class)
      const a = k === 2 && multilib ? 'i686' : chance(0.5) ? 'noarch' : arch;
      const p = mk(iname, a, ver());
      p.provides.push({ name: cap });
      p.files.push(`/usr/lib/${iname}/engine.conf`);
      if (a !== 'noarch') p.requires.push({ name: a === 'i686' ? 'libc.so.6' : so64('libc.so.6') });
      if (chance(0.5) && a === arch) p.requires.push({ name: so64(pick(libs.filter((l) => true)).soname) });
    }
    virts.push({ cap, impls });
  }
  // versioned virtual provides: only the provider with a new enough version matches
  const vvers: { cap: string; need: string; winner: string }[] = [];
  for (let i = 0; i < Math.max(2, o.apps / 25); i++) {
    const w = word();
    const cap = `${w}-api`;
    const names = ['a', 'b', 'c'].map((s) => `${w}${s}-provider`);
    const vs = ['1.0', '2.0', '3.1'];
    // shuffle which name gets which version so that name order does not decide
    const order = [0, 1, 2].sort(() => rnd() - 0.5);
    names.forEach((n, k) => {
      const p = mk(n, 'noarch', '1.0');
      p.provides.push({ name: cap, flags: 'EQ', epoch: 0, version: vs[order[k]!]! });
    });
    const need = chance(0.5) ? '3' : '2.5';
    vvers.push({ cap, need, winner: names[order.indexOf(2)]! });
  }

  // --- pinned packages (several versions; one app requires an older one)
  const pins: string[] = [];
  for (let i = 0; i < Math.max(2, o.apps / 30); i++) {
    const n = `${word()}-pinned`;
    for (const v of ['1.0', '2.0', '3.0']) mk(n, 'noarch', v);
    pins.push(n);
  }

  // --- obsoletes: new name replacing an old one; requirement on the old name picks the new one
  const renamed: string[] = [];
  for (let i = 0; i < Math.max(2, o.apps / 40); i++) {
    const w = word();
    const old = mk(`${w}-old`, 'noarch', '1.0');
    old.files.push(`/usr/share/${w}-old/x`);
    const ng = mk(`${w}-ng`, 'noarch', '2.0');
    ng.provides.push({ name: `${w}-old`, flags: 'EQ', epoch: 0, version: '2.0' });
    ng.obsoletes.push({ name: `${w}-old`, flags: 'LT', epoch: 0, version: '2.0' });
    renamed.push(`${w}-old`);
  }

  // --- if-else/unless condition packages: a fresh one per rich dep, required by nothing else
  const cond = (): string => mk(`${chance(0.5) ? 'aa' : 'zz'}${word()}-cond`, 'noarch', '1.0').name;

  // dedicated targets of rich deps: noarch, random names, some with a library requirement
  const richTarget = (): string => {
    const p = mk(`${word()}-rt`, 'noarch', ver());
    if (chance(0.5)) p.requires.push({ name: so64(pick(libs).soname) });
    return p.name;
  };

  // --- apps
  const apps: string[] = [];
  const appVersion = new Map<string, string>();
  const extras: string[] = [];
  const dpa = o.depsPerApp ?? 4;
  for (let i = 0; i < o.apps; i++) {
    const w = word();
    apps.push(w);
    const a = chance(0.2) ? 'noarch' : arch;
    const versions = chance(0.25) ? 2 : 1;
    let v = ver();
    const reqs: Dep[] = [];
    const recs: Dep[] = [];
    if (a !== 'noarch') reqs.push({ name: so64('libc.so.6') });
    const nd = Math.floor(rnd() * dpa * 2);
    for (let k = 0; k < nd; k++) {
      const r = rnd();
      if (r < 0.45 && a !== 'noarch') reqs.push({ name: so64(pick(libs).soname) });
      else if (r < 0.55) reqs.push({ name: pick(tools) });
      else if (r < 0.6) reqs.push({ name: pick(dataFiles) });
      else if (r < 0.68 && i > 0) {
        // versioned require on an earlier app, satisfied by its newest version
        const t = apps[Math.floor(rnd() * i)]!;
        reqs.push({ name: t, flags: 'GE', epoch: 0, version: appVersion.get(t)! });
      } else if (r < 0.74) reqs.push({ name: pick(virts).cap });
      else if (r < 0.77) {
        const vv = pick(vvers);
        reqs.push({ name: vv.cap, flags: 'GE', epoch: 0, version: vv.need });
      } else if (r < 0.8) reqs.push({ name: pick(renamed) });
      else if (r < 0.83 && compat.length) reqs.push({ name: pick(compat) });
      else if (r < 0.86) {
        // rich deps of the kinds real distributions use; their terms are dedicated packages
        // (required by nothing else), so that the choice cannot depend on solving order
        const kind = Math.floor(rnd() * 7);
        const t = () => richTarget();
        if (kind === 0) reqs.push({ name: `(${t()} or ${t()})` });
        else if (kind === 1 && i > 0) reqs.push({ name: `(${t()} if ${apps[Math.floor(rnd() * i)]})` });
        else if (kind === 2) reqs.push({ name: `(${t()} if ${cond()} else ${t()})` });
        else if (kind === 3) {
          // (cap with feature): only the provider that has both qualifies
          const cap = `${word()}-wcap`;
          const a1 = mk(`${word()}-wimpl`, 'noarch', '1.0');
          const a2 = mk(`${word()}-wimpl`, 'noarch', '1.0');
          a1.provides.push({ name: cap });
          a2.provides.push({ name: cap }, { name: `${cap}-feature` });
          reqs.push({ name: `(${cap} with ${cap}-feature)` });
        }
        else if (kind === 4) reqs.push({ name: `(${t()} unless ${cond()})` });
        else if (kind === 5) reqs.push({ name: `(${t()} and (${t()} or ${t()} >= 1.0))` });
        else reqs.push({ name: `(${t()} or (${t()} and ${t()}))` });
      } else recs.push({ name: chance(0.5) ? pick(virts).cap : `${pick(apps)}-extras` });
    }
    if (chance(0.1)) reqs.push({ name: pick(pins), flags: 'LT', epoch: 0, version: '3.0' });
    for (let k = 0; k < versions; k++, v = bump(v)) {
      const p = mk(w, a, v, `${k + 1}.fc42`);
      p.requires.push(...reqs);
      p.recommends.push(...recs);
      p.files.push(`/usr/bin/${w}`, `/usr/share/${w}/${w}.conf`);
      appVersion.set(w, v);
    }
    // extras (recommended, noarch) and langpacks (supplements)
    if (chance(0.4)) {
      const e = mk(`${w}-extras`, 'noarch', v);
      e.requires.push({ name: w, flags: 'EQ', epoch: 0, version: appVersion.get(w)! });
      if (chance(0.5)) e.requires.push({ name: pick(tools) });
      extras.push(e.name);
    }
    if (chance(0.15)) {
      const l = mk(`${w}-langpack`, 'noarch', '1.0');
      l.supplements.push(chance(0.5) ? { name: w } : { name: `(${w} and glibc)` });
    }
  }
  // guards: conflict with the name-order winner among a virtual capability's providers
  const guards: { name: string; virt: Virt }[] = [];
  for (let i = 0; i < Math.max(2, o.apps / 40); i++) {
    const vt = pick(virts);
    const g = mk(`${word()}-guard`, 'noarch', '1.0');
    const first = [...vt.impls].sort()[0]!;
    g.conflicts.push({ name: first });
    guards.push({ name: g.name, virt: vt });
  }
  // broken packages for error messages
  const broken = mk('broken-app', arch, '1.0');
  broken.requires.push({ name: 'libmissing', flags: 'GE', epoch: 0, version: '2' });
  const clashA = mk('clash-one', 'noarch', '1.0');
  clashA.conflicts.push({ name: 'clash-two' });
  mk('clash-two', 'noarch', '2.0', '1');

  if (o.realistic) {
    const isa = arch === 'x86_64' ? 'x86-64' : arch;
    for (const p of pkgs) {
      const evr = { flags: 'EQ' as const, epoch: p.epoch, version: p.version, release: p.release };
      if (p.arch === arch) p.provides.push({ name: `${p.name}(${isa})`, ...evr });
      if (p.arch === 'i686') p.provides.push({ name: `${p.name}(x86-32)`, ...evr });
      if (chance(0.2)) {
        p.files.push(`/etc/${p.name}.conf`);
        p.provides.push({ name: `config(${p.name})`, ...evr });
      }
      if (chance(0.05)) p.provides.push({ name: `bundled(${word()})`, flags: 'EQ', epoch: 0, version: '1.0' });
      if (p.arch !== 'noarch' && chance(0.3)) p.requires.push({ name: 'rtld(GNU_HASH)' });
      for (let k = 0; k < o.realistic.extraFiles; k++) {
        p.files.push(k % 3 === 0 ? `/usr/share/man/man1/${p.name}-${k}.1.gz` : `/usr/share/doc/${p.name}/file${k}.txt`);
      }
    }
  }

  const groups: CompsGroup[] = [
    {
      id: 'core',
      name: 'Core',
      default: true,
      uservisible: false,
      packages: [
        { name: 'glibc', type: 'mandatory' },
        ...apps.slice(0, 3).map((n) => ({ name: n, type: 'default' as const })),
        { name: apps[3]!, type: 'optional' as const },
        { name: 'not-in-any-repo', type: 'default' as const },
      ],
    },
  ];

  // --- requests
  const requests: GenRequest[] = [];
  const tx = (include: string[], installWeakDeps: boolean, exclude: string[] = []) => ({ include, exclude, installWeakDeps });
  const nreq = 24;
  for (let r = 0; r < nreq; r++) {
    const specs = new Set<string>();
    const n = 1 + Math.floor(rnd() * 8);
    for (let k = 0; k < n; k++) specs.add(pick(apps));
    const kind = r % 8;
    if (kind === 1) specs.add(pick(virts).cap);
    if (kind === 2) specs.add(pick(tools));
    if (kind === 3) specs.add(`${pick(apps).slice(0, 3)}*`);
    if (kind === 4) specs.add('@core');
    if (kind === 5) {
      const g = pick(guards);
      specs.add(g.name);
      specs.add(g.virt.cap);
    }
    if (kind === 6 && compat.length) specs.add(pick(compat));
    if (kind === 7) specs.add(so64(pick(libs).soname));
    const weak = r % 3 !== 0;
    const exclude = r % 5 === 4 ? [pick(virts).impls.sort()[0]!] : [];
    if (exclude.length) specs.add(virts.find((v) => v.impls.includes(exclude[0]!))!.cap);
    if (r % 6 === 5) {
      const second = new Set<string>();
      for (let k = 0; k < 4; k++) second.add(pick(apps));
      requests.push({ name: `req${r}-chain`, transactions: [tx([...specs], false, exclude), tx([...second], weak)] });
    } else requests.push({ name: `req${r}`, transactions: [tx([...specs], weak, exclude)] });
  }
  requests.push({ name: 'err-missing', transactions: [tx(['broken-app'], false)], expectError: ['libmissing >= 2', 'needed by broken-app-1.0-'] });
  requests.push({ name: 'err-clash', transactions: [tx(['clash-one', 'clash-two'], false)], expectError: ['clash-one', 'clash-two'] });
  requests.push({ name: 'err-nomatch', transactions: [tx(['nonexistent'], false)], expectError: ["'nonexistent'"] });
  return { packages: pkgs, groups, requests };
}

// ---------------------------------------------------------------- rpm-md writer

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function entries(tag: string, deps: Dep[]): string {
  if (!deps.length) return '';
  const e = deps
    .map((d) => {
      let s = `<rpm:entry name="${esc(d.name)}"`;
      if (d.flags) {
        s += ` flags="${d.flags}" epoch="${d.epoch ?? 0}" ver="${esc(d.version ?? '')}"`;
        if (d.release) s += ` rel="${esc(d.release)}"`;
      }
      if (d.pre) s += ' pre="1"';
      return s + '/>';
    })
    .join('');
  return `<rpm:${tag}>${e}</rpm:${tag}>`;
}

/** createrepo_c's primary file filter */
const inPrimary = (f: string) => f.startsWith('/etc/') || f.includes('bin/') || f === '/usr/lib/sendmail';

function primaryPkg(p: Package): string {
  const files = p.files.filter(inPrimary).map((f) => `<file>${esc(f)}</file>`).join('');
  return (
    `<package type="rpm"><name>${esc(p.name)}</name><arch>${p.arch}</arch>` +
    `<version epoch="${p.epoch}" ver="${esc(p.version)}" rel="${esc(p.release)}"/>` +
    `<checksum type="sha256" pkgid="YES">${p.checksum.value}</checksum>` +
    `<summary>${esc(p.summary ?? '')}</summary><description>${esc(p.description ?? '')}</description>` +
    `<packager/><url/><time file="1700000000" build="1700000000"/><size package="1000" installed="2000" archive="2100"/>` +
    `<location href="${esc(p.location)}"/><format><rpm:license>${esc(p.license ?? '')}</rpm:license><rpm:vendor/>` +
    `<rpm:group>Unspecified</rpm:group><rpm:buildhost>gen</rpm:buildhost><rpm:sourcerpm>${esc(p.sourceRpm ?? '')}</rpm:sourcerpm>` +
    `<rpm:header-range start="4504" end="5000"/>` +
    entries('provides', p.provides) +
    entries('requires', p.requires) +
    entries('conflicts', p.conflicts) +
    entries('obsoletes', p.obsoletes) +
    entries('suggests', p.suggests) +
    entries('recommends', p.recommends) +
    entries('supplements', p.supplements) +
    entries('enhances', p.enhances) +
    `${files}</format></package>\n`
  );
}

function filelistsPkg(p: Package): string {
  return (
    `<package pkgid="${p.checksum.value}" name="${esc(p.name)}" arch="${p.arch}">` +
    `<version epoch="${p.epoch}" ver="${esc(p.version)}" rel="${esc(p.release)}"/>` +
    p.files.map((f) => `<file>${esc(f)}</file>`).join('') +
    '</package>\n'
  );
}

function chunks(head: string, body: (p: Package) => string, tail: string, pkgs: Package[]): Buffer {
  const parts: Buffer[] = [Buffer.from(head)];
  let cur: string[] = [];
  for (const p of pkgs) {
    cur.push(body(p));
    if (cur.length >= 2000) {
      parts.push(Buffer.from(cur.join('')));
      cur = [];
    }
  }
  parts.push(Buffer.from(cur.join('') + tail));
  return Buffer.concat(parts);
}

export interface WrittenRepo {
  dir: string;
  primary: string;
  filelists: string;
  repomd: string;
}

/**
 * Write rpm-md metadata into dir/repodata: primary and filelists (gzip when `gzip`, the
 * createrepo_c default), and repomd.xml with checksums and sizes.
 */
export function writeRepo(dir: string, pkgs: Package[], opts: { gzip?: boolean } = {}): WrittenRepo {
  const rd = path.join(dir, 'repodata');
  fs.mkdirSync(rd, { recursive: true });
  const n = pkgs.length;
  const primary = chunks(
    `<?xml version="1.0" encoding="UTF-8"?>\n<metadata xmlns="http://linux.duke.edu/metadata/common" xmlns:rpm="http://linux.duke.edu/metadata/rpm" packages="${n}">\n`,
    primaryPkg,
    '</metadata>\n',
    pkgs,
  );
  const filelists = chunks(
    `<?xml version="1.0" encoding="UTF-8"?>\n<filelists xmlns="http://linux.duke.edu/metadata/filelists" packages="${n}">\n`,
    filelistsPkg,
    '</filelists>\n',
    pkgs,
  );
  const sha = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');
  const data: string[] = [];
  const out: Record<string, string> = {};
  for (const [type, raw] of [
    ['primary', primary],
    ['filelists', filelists],
  ] as const) {
    const buf = opts.gzip ? zlib.gzipSync(raw, { level: 1 }) : raw;
    const name = `${sha(buf)}-${type}.xml${opts.gzip ? '.gz' : ''}`;
    fs.writeFileSync(path.join(rd, name), buf);
    out[type] = path.join(rd, name);
    data.push(
      `<data type="${type}"><checksum type="sha256">${sha(buf)}</checksum><open-checksum type="sha256">${sha(raw)}</open-checksum>` +
        `<location href="repodata/${name}"/><timestamp>1700000000</timestamp><size>${buf.length}</size><open-size>${raw.length}</open-size></data>`,
    );
  }
  const repomd = path.join(rd, 'repomd.xml');
  fs.writeFileSync(
    repomd,
    `<?xml version="1.0" encoding="UTF-8"?>\n<repomd xmlns="http://linux.duke.edu/metadata/repo" xmlns:rpm="http://linux.duke.edu/metadata/rpm"><revision>1700000000</revision>${data.join('')}</repomd>\n`,
  );
  return { dir, primary: out.primary!, filelists: out.filelists!, repomd };
}
