// `list` and `describe`: what can be built, and what one image type is made of.
import type { Command } from 'commander';
import { Option } from 'commander';
import { stringify } from 'yaml';
import { describeImage, hostArch, hostDistro, listImages, loadDefinitions, resolveImageType } from '../defs/index.js';
import { stripPrefix } from '../build/manifest.js';
import { KilnError } from '../util/errors.js';
import { globalOpts } from './main.js';

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

type Entry = { distro: string; type: string; arch: string };

export function formatList(entries: Entry[], format: string): string {
  switch (format) {
    case 'text':
      return entries.map((e) => `${e.distro} type:${e.type} arch:${e.arch}\n`).join('');
    case 'json':
      return (
        JSON.stringify(entries.map((e) => ({ distro: { name: e.distro }, arch: { name: e.arch }, image_type: { name: e.type } }))) +
        '\n'
      );
    case 'shell':
      return entries.map((e) => `${e.type} --distro ${e.distro} --arch ${e.arch}\n`).join('');
    case 'short': {
      // one block per distro, one line per type listing its arches
      const byDistro = new Map<string, Map<string, string[]>>();
      for (const e of entries) {
        const types = byDistro.get(e.distro) ?? new Map<string, string[]>();
        byDistro.set(e.distro, types);
        types.set(e.type, [...(types.get(e.type) ?? []), e.arch]);
      }
      let out = '';
      for (const [distro, types] of byDistro) {
        out += `${distro}\n`;
        for (const [type, arches] of types) out += `  ${type}: ${arches.join(', ')}\n`;
      }
      return out;
    }
    default:
      throw new KilnError(`--format: unsupported format "${format}" (use text, json, shell or short)`);
  }
}

export function registerListCommands(program: Command): void {
  program
    .command('list')
    .alias('list-images')
    .description('list the buildable distro, image type and arch combinations')
    .addOption(new Option('--filter <expr>', 'filter like distro:fedora-42, arch:x86_64, type:iot*, bootmode:uefi, or a bare word (repeatable, AND-ed)').argParser(collect).default([]))
    .addOption(new Option('--format <fmt>', 'output format').choices(['text', 'json', 'shell', 'short']).default('text'))
    .action((o: { filter: string[]; format: string }, cmd: Command) => {
      const defs = loadDefinitions(globalOpts(cmd).definitions);
      process.stdout.write(formatList(listImages(defs, o.filter), o.format));
    });

  program
    .command('describe')
    .alias('describe-image')
    .description('describe an image type: packages, partition table, pipelines (YAML)')
    .argument('<image-type>', 'image type or alias, e.g. minimal-raw-xz')
    .option('--distro <name>', 'distribution, e.g. fedora-42 (default: the host)')
    .option('--arch <arch>', 'architecture (default: the host)')
    .action((type: string, o: { distro?: string; arch?: string }, cmd: Command) => {
      const defs = loadDefinitions(globalOpts(cmd).definitions);
      const distro = stripPrefix(o.distro, 'distro') ?? hostDistro();
      const arch = stripPrefix(o.arch, 'arch') ?? hostArch();
      const resolved = resolveImageType(defs, distro, stripPrefix(type, 'type')!, arch);
      process.stdout.write('@WARNING - the output format is not stable yet and may change\n');
      process.stdout.write(stringify(describeImage(resolved), { indent: 2 }));
    });
}
