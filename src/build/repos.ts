// Default repositories of a distro: `<definitions>/repositories/<distro>.json` in upstream's
// repository-file format. Used only when neither --force-repo nor explicit repos are given.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Definitions } from '../defs/index.js';
import { readRepositoryFile } from '../repo/repofile.js';
import type { RepoConfig } from '../repo/types.js';
import { KilnError } from '../util/errors.js';

export function defaultReposFor(definitions: Definitions, distro: string, arch: string): RepoConfig[] {
  const file = join(definitions.path, 'repositories', `${distro}.json`);
  if (!existsSync(file)) {
    throw new KilnError(
      `no default repositories for ${distro}: ${file} does not exist; pass --force-repo URL (for example the built-in demo repository from \`kiln demo-repo\`)`,
    );
  }
  const repos = readRepositoryFile(file, arch);
  if (repos.length === 0) throw new KilnError(`${file} lists no repositories for arch ${arch}`);
  return repos;
}
