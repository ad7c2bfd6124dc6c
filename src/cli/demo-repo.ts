// `demo-repo`: build the built-in Fedora-shaped repository (rpmbuild + createrepo_c) so Kiln's
// main job runs on a fresh machine without a Fedora mirror.
import type { Command } from 'commander';
import { Option } from 'commander';
import { allPackageGroups, allPackageNames, loadDefinitions } from '../defs/index.js';
import { createDemoRepo, defaultDemoRepoDir } from '../demorepo/index.js';
import { globalOpts } from './main.js';

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

export function registerDemoRepoCommand(program: Command): void {
  program
    .command('demo-repo')
    .description('build the built-in Fedora-shaped RPM repository and print its file:// URL per arch')
    .option('--dir <dir>', 'where to build it', defaultDemoRepoDir())
    .addOption(new Option('--arch <arch>', 'architecture (repeatable; default x86_64 and aarch64)').argParser(collect))
    .option('--releasever <ver>', 'Fedora release the packages claim to be', '42')
    .action(async (o: { dir: string; arch?: string[]; releasever: string }, cmd: Command) => {
      const defs = loadDefinitions(globalOpts(cmd).definitions);
      const arches = o.arch && o.arch.length > 0 ? o.arch : ['x86_64', 'aarch64'];
      const { repos } = await createDemoRepo({
        outDir: o.dir,
        arches,
        packageNames: [...allPackageNames(defs), ...allPackageGroups(defs).map((g) => '@' + g)],
        releasever: o.releasever,
        onProgress: (msg) => process.stderr.write(`${msg}\n`),
      });
      for (const arch of arches) process.stdout.write(`${arch} file://${repos[arch]}\n`);
    });
}
