// The `kiln` / `image-builder` command line. Commands and flags follow the upstream image-builder
// CLI so that scripts written for it run unchanged; Kiln-only commands (depsolve, demo-repo) sit
// beside them. This file only parses arguments and formats output; the work lives in src/.
import { Command, CommanderError, Option } from 'commander';
import { KilnError } from '../util/errors.js';
import { kilnVersion } from '../util/version.js';
import { registerListCommands } from './list.js';
import { registerManifestCommand } from './manifest.js';
import { registerDepsolveCommand } from './depsolve.js';
import { registerDemoRepoCommand } from './demo-repo.js';
import { registerBuildCommand } from './build.js';
import { registerKojiCommands } from './koji.js';
import { registerKojiBuilderCommand } from './koji-builder.js';
import { registerComposeCommand } from './compose.js';

/** Flags every command accepts (upstream's persistent flags plus Kiln's --definitions). */
export interface GlobalOptions {
  forceRepo: string[];
  extraRepo: string[];
  definitions?: string;
  outputDir?: string;
  verbose?: boolean;
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

export function buildProgram(name: string): Command {
  const program = new Command(name)
    .description(
      'Build OS images locally from Image Builder definitions: depsolve against RPM repositories, ' +
        'generate osbuild manifests, build images.',
    )
    .version(kilnVersion(), '--version', 'print the version')
    .addOption(new Option('--force-repo <url>', 'use only this repository (repeatable; replaces the distro repositories)').argParser(collect).default([]))
    .addOption(new Option('--extra-repo <url>', 'add a repository to the distro repositories (repeatable)').argParser(collect).default([]))
    .option('--definitions <dir>', "use a site's own image definitions directory instead of Kiln's")
    .addOption(new Option('--force-defs-dir <dir>', 'alias of --definitions (upstream spelling)').hideHelp())
    .option('--output-dir <dir>', 'output directory')
    .option('-v, --verbose', 'more output on stderr')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({ outputError: (str, write) => write(str) });
  // upstream's hidden `--force-defs-dir` maps onto --definitions
  program.hook('preAction', (cmd) => {
    const o = cmd.opts();
    if (o.forceDefsDir && !o.definitions) cmd.setOptionValue('definitions', o.forceDefsDir);
  });
  registerListCommands(program);
  registerManifestCommand(program);
  registerBuildCommand(program);
  registerDepsolveCommand(program);
  registerDemoRepoCommand(program);
  registerComposeCommand(program);
  registerKojiBuilderCommand(registerKojiCommands(program));
  program
    .command('version')
    .description('print the Kiln version')
    .option('--format <fmt>', 'yaml or json', 'yaml')
    .action((o: { format: string }) => {
      const info = { 'kiln-version': kilnVersion(), 'compatible-with': 'image-builder' };
      process.stdout.write(o.format === 'json' ? JSON.stringify(info) + '\n' : `kiln-version: ${info['kiln-version']}\n`);
    });
  return program;
}

/** Runs the CLI; returns the exit code instead of exiting so tests can call it in-process. */
export async function main(argv: string[], name = 'kiln'): Promise<number> {
  const program = buildProgram(name);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // help and version exit through here with code 0
      return e.exitCode;
    }
    if (e instanceof KilnError) {
      process.stderr.write(`error: ${e.message}\n`);
      return e.exitCode;
    }
    const err = e as Error;
    process.stderr.write(`error: ${err.message}\n`);
    if (process.env.KILN_DEBUG) process.stderr.write(`${err.stack}\n`);
    return 1;
  }
}

export function globalOpts(cmd: Command): GlobalOptions {
  return cmd.optsWithGlobals() as GlobalOptions;
}
