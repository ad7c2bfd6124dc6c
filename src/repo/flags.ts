// Repositories given on the command line: `--force-repo URL` (replaces all base repositories)
// and `--extra-repo URL` (added to them). Ids, names and gpg settings follow upstream
// image-builder: `forced-repo-N` / `extra-repo-N`, name "<forced|extra> repo#N <host><path>",
// no gpg checking.
import { KilnError } from '../util/errors.js';
import type { RepoConfig } from './types.js';

function fromUrl(url: string, what: 'forced' | 'extra', n: number): RepoConfig {
  // Go's url.Parse accepts anything; the upstream check is only "has a scheme".
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(url);
  if (!m) throw new KilnError(`scheme missing in ${url}`);
  let hostPath: string;
  try {
    const u = new URL(url);
    hostPath = u.host + u.pathname;
  } catch {
    throw new KilnError(`invalid repository URL ${url}`);
  }
  return {
    id: `${what}-repo-${n}`,
    name: `${what} repo#${n} ${hostPath}`,
    baseurl: [url],
    checkGpg: false,
    checkRepoGpg: false,
  };
}

/** RepoConfigs for `--force-repo` and `--extra-repo` values, forced ones first. */
export function repoConfigsFromFlags(flags: { forceRepos?: string[]; extraRepos?: string[] }): RepoConfig[] {
  return [...(flags.forceRepos ?? []).map((u, i) => fromUrl(u, 'forced', i)), ...(flags.extraRepos ?? []).map((u, i) => fromUrl(u, 'extra', i))];
}
