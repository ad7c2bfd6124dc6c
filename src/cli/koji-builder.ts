// `kiln koji builder --config FILE`: run a Koji build host that executes imageBuilderBuild /
// imageBuilderBuildArch (and tagBuild) tasks with Kiln.
import type { Command } from 'commander';

import { releaseEverything } from '../executor/resources.js';
import { loadBuilderConfig } from '../koji/builder/config.js';
import { KojiBuilder, type KojiBuilderOptions } from '../koji/builder/daemon.js';

export const DEFAULT_BUILDER_CONFIG = '/etc/kiln/koji-builder.toml';

/** Start a builder from a config file and run it until SIGTERM/SIGINT. */
export async function runKojiBuilder(configFile: string, opts: KojiBuilderOptions = {}): Promise<void> {
  const config = loadBuilderConfig(configFile);
  const builder = new KojiBuilder(config, opts);
  let stopping: Promise<void> | undefined;
  const onSignal = (sig: NodeJS.Signals): void => {
    if (stopping) {
      // second signal: do not wait for builds to unwind
      releaseEverything();
      process.exit(sig === 'SIGINT' ? 130 : 143);
    }
    process.stderr.write(`${new Date().toISOString()} ${sig}: stopping (running tasks are aborted and freed)\n`);
    stopping = builder.stop();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  try {
    await builder.start();
    await builder.run();
    await stopping;
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  }
}

export function registerKojiBuilderCommand(kojiCmd: Command): void {
  kojiCmd
    .command('builder')
    .description('run a Koji build host for imageBuilderBuild tasks (the koji-image-builder builder plugin, built with Kiln)')
    .option('--config <file>', 'builder configuration (TOML)', DEFAULT_BUILDER_CONFIG)
    .action(async (o: { config: string }) => {
      await runKojiBuilder(o.config);
    });
}
