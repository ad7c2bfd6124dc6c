// `depsolve SPEC...`: resolve package specs against repositories and print the chosen set.
import type { Command } from 'commander';
import { Option } from 'commander';
import { hostArch } from '../defs/index.js';
import { depsolve } from '../depsolve/index.js';
import { loadRepos } from '../repo/load.js';
import type { RepoConfig } from '../repo/types.js';
import type { Package } from '../rpm/types.js';
import { KilnError } from '../util/errors.js';
import { globalOpts } from './main.js';
import { defaultRpmmdCache } from './manifest.js';

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

interface DepsolveFlags {
  repo: string[];
  arch?: string;
  weakDeps: boolean;
  exclude: string[];
  releasever?: string;
  rpmmdCache?: string;
}

/** `--repo URL` configs; ids are positional so output is stable for the same command line. */
export function repoConfigsFromUrls(urls: string[]): RepoConfig[] {
  return urls.map((url, i) => {
    if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) throw new KilnError(`--repo: scheme missing in ${url}`);
    return { id: `repo-${i}`, name: `repo#${i} ${url}`, baseurl: [url], checkGpg: false };
  });
}

export function depsolveJson(packages: Package[]): string {
  const rows = [...packages]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.arch < b.arch ? -1 : a.arch > b.arch ? 1 : 0))
    .map((p) => ({
      name: p.name,
      epoch: p.epoch,
      version: p.version,
      release: p.release,
      arch: p.arch,
      repo: p.repoId,
      location: p.location,
      checksum: `${p.checksum.type}:${p.checksum.value}`,
    }));
  return JSON.stringify({ packages: rows }, null, 2) + '\n';
}

export function registerDepsolveCommand(program: Command): void {
  program
    .command('depsolve')
    .description('resolve package specs (names, provides, /file/paths, globs, @groups) against repositories and print the package set as JSON')
    .argument('<spec...>', 'package specs')
    .addOption(new Option('--repo <url>', 'repository base URL (repeatable; file://, http://, https://)').argParser(collect).default([]))
    .option('--arch <arch>', 'architecture (default: the host)')
    .option('--weak-deps', 'install weak dependencies (Recommends, Supplements) (default)', true)
    .option('--no-weak-deps', 'do not install weak dependencies')
    .addOption(new Option('--exclude <name>', 'exclude packages by name or glob (repeatable)').argParser(collect).default([]))
    .option('--releasever <ver>', 'value for $releasever in repository URLs')
    .option('--rpmmd-cache <dir>', 'repository metadata cache directory')
    .action(async (specs: string[], o: DepsolveFlags, cmd: Command) => {
      const g = globalOpts(cmd);
      const urls = [...o.repo, ...g.forceRepo, ...g.extraRepo];
      if (urls.length === 0) throw new KilnError('depsolve: no repositories given (use --repo URL)');
      const arch = o.arch ?? hostArch();
      const repos = await loadRepos(repoConfigsFromUrls(urls), {
        arch,
        releasever: o.releasever,
        cacheDir: o.rpmmdCache ?? defaultRpmmdCache(),
      });
      const result = await depsolve(
        repos.flatMap((r) => r.packages),
        [{ include: specs, exclude: o.exclude, installWeakDeps: o.weakDeps }],
        { arch, groups: repos.flatMap((r) => r.groups) },
      );
      process.stdout.write(depsolveJson(result.packages));
    });
}
