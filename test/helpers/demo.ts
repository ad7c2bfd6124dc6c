// Shared fixtures for integration tests: the built-in demo repository and an ostree repository,
// built once per machine into os.tmpdir() and published with an atomic rename, so test files
// running in parallel never see (or build into) a half-made fixture.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { allPackageGroups, allPackageNames, loadDefinitions } from '../../src/defs/index.js';
import { createDemoRepo } from '../../src/demorepo/index.js';

async function publishOnce(finalDir: string, make: (dir: string) => Promise<void>): Promise<string> {
  if (existsSync(join(finalDir, '.complete'))) return finalDir;
  const work = mkdtempSync(`${finalDir}.tmp-`);
  try {
    await make(work);
    writeFileSync(join(work, '.complete'), '');
    try {
      renameSync(work, finalDir);
    } catch {
      // another test process published first; theirs is as good as ours
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  if (!existsSync(join(finalDir, '.complete'))) throw new Error(`fixture ${finalDir} was not published`);
  return finalDir;
}

function fixtureKey(defsHash: string): string {
  const h = createHash('sha256').update(defsHash);
  const gen = fileURLToPath(new URL('../../src/demorepo/', import.meta.url));
  for (const f of readdirSync(gen).filter((n) => n.endsWith('.js')).sort()) h.update(f).update(readFileSync(join(gen, f)));
  return h.digest('hex').slice(0, 12);
}

/** file:// URLs of the demo repository per arch (x86_64, aarch64). */
export async function demoRepoUrls(): Promise<Record<string, string>> {
  const defs = loadDefinitions();
  const names = [...allPackageNames(defs), ...allPackageGroups(defs).map((g) => '@' + g)];
  // keyed by the definitions and the generator's own code, so a change of either rebuilds it
  const dir = join(tmpdir(), `kiln-fixture-demo-${fixtureKey(defs.sha256)}`);
  await publishOnce(dir, async (work) => {
    await createDemoRepo({ outDir: work, arches: ['x86_64', 'aarch64'], packageNames: names, releasever: '42' });
  });
  return { x86_64: `file://${dir}/x86_64`, aarch64: `file://${dir}/aarch64` };
}

/** A real ostree (archive) repository with one commit per ref; returns its file:// URL. */
export async function ostreeRepoUrl(refs: string[]): Promise<string> {
  const key = Buffer.from(refs.join(',')).toString('base64url').slice(0, 40);
  const dir = join(tmpdir(), `kiln-fixture-ostree-${key}`);
  await publishOnce(dir, async (work) => {
    const repo = join(work, 'repo');
    const tree = join(work, 'tree');
    mkdirSync(join(tree, 'usr', 'lib'), { recursive: true });
    writeFileSync(join(tree, 'usr', 'lib', 'os-release'), 'ID=fedora\nVERSION_ID=42\n');
    execFileSync('ostree', ['init', '--mode=archive', `--repo=${repo}`]);
    for (const ref of refs) {
      execFileSync('ostree', ['commit', `--repo=${repo}`, `--branch=${ref}`, `--tree=dir=${tree}`, '--subject=fixture', '--timestamp=2025-01-01T00:00:00Z']);
    }
    rmSync(tree, { recursive: true });
  });
  return `file://${dir}/repo`;
}
