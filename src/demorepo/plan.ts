// Decide the full package list of one architecture: the requested names plus everything their
// dependencies name (closure), then check that every hard requirement is satisfied inside the
// repository and that no two packages ship the same file.

import { KilnError } from '../util/errors.js';
import { curatedPackages, describePackage } from './catalog.js';
import type { ArchContext, DemoPackage } from './model.js';
import { parseEvr, satisfies } from './evr.js';
import type { ParsedEvr } from './evr.js';

const PACKAGE_NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]*$/;
const RICH_WORDS = new Set(['and', 'or', 'if', 'else', 'with', 'without', 'unless']);

/** Names (or /paths) a dependency string refers to; rich deps yield every operand. */
export function depNames(dep: string): string[] {
  const d = dep.trim();
  if (!d.startsWith('(')) return [d.split(/\s+/)[0]!];
  // Drop version comparisons ("= 1.2-3"), then every remaining word that is not an operator.
  const noVersions = d.replace(/\s*(<=|>=|=|<|>)\s*[^\s()]+/g, ' ');
  return noVersions.split(/[\s()]+/).filter((w) => w.length > 0 && !RICH_WORDS.has(w));
}

interface ProvideIndex {
  /** provide name or file path -> package names offering it, in catalog order */
  byName: Map<string, string[]>;
}

function addTo(m: Map<string, string[]>, key: string, pkg: string): void {
  const l = m.get(key);
  if (!l) m.set(key, [pkg]);
  else if (!l.includes(pkg)) l.push(pkg);
}

/** rpmbuild adds `name(isa) = EVR` to every arch package by itself. */
function autoProvides(p: DemoPackage, ctx: ArchContext): string[] {
  return !p.noarch && ctx.isa ? [p.name, p.name + ctx.isa] : [p.name];
}

function indexPackages(pkgs: Iterable<DemoPackage>, ctx: ArchContext): ProvideIndex {
  const byName = new Map<string, string[]>();
  for (const p of pkgs) {
    for (const a of autoProvides(p, ctx)) addTo(byName, a, p.name);
    for (const pr of p.provides) addTo(byName, depNames(pr)[0]!, p.name);
    for (const f of p.files) addTo(byName, f.path, p.name);
  }
  return { byName };
}

export interface ArchPlan {
  ctx: ArchContext;
  packages: Map<string, DemoPackage>;
}

/**
 * Build the package list for one architecture. `requested` are plain package names (groups have
 * already been expanded by the caller). Throws KilnError naming the package and dependency when
 * the catalog cannot satisfy something (a bug in the catalog, or a requested name that is not a
 * valid package name).
 */
export function planArch(requested: readonly string[], ctx: ArchContext): ArchPlan {
  for (const n of requested) {
    if (!PACKAGE_NAME.test(n)) {
      throw new KilnError(`demo repository: package name '${n}' is not a valid RPM package name`);
    }
  }
  const curated = curatedPackages(ctx);
  // Index of what the curated catalog could offer, to map virtual/soname/file deps to packages.
  const catalogIndex = indexPackages(Object.keys(curated).map((n) => describePackage(n, ctx, curated)), ctx);
  const packages = new Map<string, DemoPackage>();
  const queue: string[] = [];
  // Names, provides and files offered by the packages chosen so far.
  const offered = new Set<string>();
  const want = (name: string) => {
    if (!packages.has(name)) {
      const p = describePackage(name, ctx, curated);
      packages.set(name, p);
      for (const a of autoProvides(p, ctx)) offered.add(a);
      for (const pr of p.provides) offered.add(depNames(pr)[0]!);
      for (const f of p.files) offered.add(f.path);
      queue.push(name);
    }
  };
  for (const n of requested) want(n);

  const haveProvider = (name: string): boolean => offered.has(name);

  while (queue.length > 0) {
    const pkg = packages.get(queue.shift()!)!;
    for (const dep of [...pkg.requires, ...pkg.recommends, ...pkg.suggests]) {
      for (const name of depNames(dep)) {
        if (haveProvider(name)) continue;
        if (Object.prototype.hasOwnProperty.call(curated, name)) {
          want(name);
          continue;
        }
        const providers = catalogIndex.byName.get(name);
        if (providers && providers.length > 0) {
          want(providers[0]!);
          continue;
        }
        if (PACKAGE_NAME.test(name) && !name.includes('(')) {
          want(name);
          continue;
        }
        throw new KilnError(`demo repository (${ctx.arch}): package '${pkg.name}' depends on '${dep}', which no package of the catalog provides`);
      }
    }
  }
  checkPlan(packages, ctx);
  return { ctx, packages };
}

function conflicting(a: DemoPackage, b: DemoPackage, ctx: ArchContext): boolean {
  const offers = (p: DemoPackage) => new Set([...autoProvides(p, ctx), ...p.provides.map((d) => depNames(d)[0]!)]);
  const hits = (x: DemoPackage, y: DemoPackage) => {
    const o = offers(y);
    return x.conflicts.some((c) => o.has(depNames(c)[0]!));
  };
  return hits(a, b) || hits(b, a);
}

/** name -> EVRs it is provided at (undefined = unversioned provide, matches any version). */
function versionIndex(packages: Map<string, DemoPackage>, ctx: ArchContext): Map<string, (ParsedEvr | undefined)[]> {
  const out = new Map<string, (ParsedEvr | undefined)[]>();
  const add = (k: string, v: ParsedEvr | undefined) => out.set(k, [...(out.get(k) ?? []), v]);
  for (const p of packages.values()) {
    const own: ParsedEvr = { epoch: p.epoch ?? 0, version: p.version, release: p.release };
    for (const a of autoProvides(p, ctx)) add(a, own);
    for (const pr of p.provides) {
      const m = /^(\S+)\s*(=)\s*(\S+)$/.exec(pr.trim());
      if (m) add(m[1]!, parseEvr(m[3]!));
      else add(pr.trim().split(/\s+/)[0]!, undefined);
    }
    for (const f of p.files) add(f.path, undefined);
  }
  return out;
}

/** Every hard requirement satisfied (name, version) by name, provide or file; no file shipped twice. */
function checkPlan(packages: Map<string, DemoPackage>, ctx: ArchContext): void {
  const versions = versionIndex(packages, ctx);
  for (const p of packages.values()) {
    for (const dep of p.requires) {
      if (dep.trim().startsWith('(')) {
        // Rich deps: at least the named packages must exist (any operand may be chosen).
        if (!depNames(dep).some((n) => versions.has(n))) {
          throw new KilnError(`demo repository (${ctx.arch}): package '${p.name}' requires '${dep}', but nothing in the repository provides any of it`);
        }
        continue;
      }
      const m = /^(\S+)(?:\s*(<=|>=|=|<|>)\s*(\S+))?$/.exec(dep.trim());
      const name = m ? m[1]! : dep;
      const provided = versions.get(name);
      if (!provided) {
        throw new KilnError(`demo repository (${ctx.arch}): package '${p.name}' requires '${dep}', but nothing in the repository provides '${name}'`);
      }
      if (m && m[2] && !provided.some((v) => v === undefined || satisfies(v, m[2]!, parseEvr(m[3]!)))) {
        throw new KilnError(`demo repository (${ctx.arch}): package '${p.name}' requires '${dep}', but '${name}' is only provided at other versions`);
      }
    }
  }
  const owner = new Map<string, { pkg: string; kind: string; mode?: number }>();
  for (const p of packages.values()) {
    for (const f of p.files) {
      if (!/^\/[A-Za-z0-9_.@+\/-]*$/.test(f.path)) {
        throw new KilnError(`demo repository: package '${p.name}' has a file path rpm would misread: '${f.path}'`);
      }
      const prev = owner.get(f.path);
      const sameDir = prev && prev.kind === 'dir' && f.kind === 'dir' && prev.mode === f.mode;
      // Packages that conflict with each other never share a root, so they may ship the same path.
      if (prev && !sameDir && !conflicting(packages.get(prev.pkg)!, p, ctx)) {
        throw new KilnError(`demo repository (${ctx.arch}): packages '${prev.pkg}' and '${p.name}' both ship '${f.path}'`);
      }
      owner.set(f.path, { pkg: p.name, kind: f.kind, mode: f.mode });
    }
  }
}
