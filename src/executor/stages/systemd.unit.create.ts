// org.osbuild.systemd.unit.create: write a .service/.mount/.socket/.swap unit into
// /usr/lib/systemd/{system,user} or /etc/systemd/{system,user}. Lists repeat the key
// (ExecStart=…, WantedBy=…); Environment items become "KEY=value" quoted words.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KilnError } from '../../util/errors.js';
import type { StageImpl } from './types.js';
import { allowKeys, checkString, iniText, isObj, optionsOf } from './os-util.js';

const FILENAME_RE = /^[\w:.\\-]+[@]?[\w:.\\-]*\.(service|mount|socket|swap)$/;
const SECTIONS: Record<string, Record<string, 'string' | 'bool' | 'int' | 'list' | 'env'>> = {
  Unit: { Description: 'string', Wants: 'list', After: 'list', Before: 'list', Requires: 'list', ConditionPathExists: 'list', ConditionPathIsDirectory: 'list', DefaultDependencies: 'bool' },
  Service: { Type: 'string', RemainAfterExit: 'bool', ExecStartPre: 'list', ExecStopPost: 'list', ExecStart: 'list', Environment: 'env', EnvironmentFile: 'list', StandardOutput: 'string' },
  Mount: { What: 'string', Where: 'string', Type: 'string', Options: 'string' },
  Socket: { Service: 'string', ListenStream: 'string', ListenDatagram: 'string', ListenSequentialPacket: 'string', ListenFifo: 'string', SocketUser: 'string', SocketGroup: 'string', SocketMode: 'string', DirectoryMode: 'string', Accept: 'bool', RuntimeDirectory: 'string', RemoveOnStop: 'bool' },
  Swap: { What: 'string', Priority: 'int', Options: 'string', TimeoutSec: 'string' },
  Install: { WantedBy: 'list', RequiredBy: 'list' },
};
// the section a unit of each suffix must have; the others of these four are not allowed
const KIND: Record<string, string> = { service: 'Service', mount: 'Mount', socket: 'Socket', swap: 'Swap' };

function render(_section: string, key: string, v: unknown): string[] {
  if (typeof v === 'boolean') return [`${key}=${v ? 'true' : 'false'}`];
  if (!Array.isArray(v)) return [`${key}=${String(v)}`];
  if (key === 'Environment') return (v as { key: string; value: string }[]).map((e) => `${key}="${e.key}=${e.value}"`);
  return v.map((x) => `${key}=${String(x)}`);
}

export const systemdUnitCreateStage: StageImpl = {
  type: 'org.osbuild.systemd.unit.create',
  validate(stage, what) {
    const o = optionsOf(stage);
    allowKeys(o, ['filename', 'unit-type', 'unit-path', 'config'], what);
    checkString(o.filename, 'filename', what, { required: true, re: FILENAME_RE });
    if ((o.filename as string).length > 255) throw new KilnError(`${what}: option "filename" is longer than 255 characters`);
    checkString(o['unit-type'], 'unit-type', what, { oneOf: ['system', 'global'] });
    checkString(o['unit-path'], 'unit-path', what, { oneOf: ['usr', 'etc'] });
    if (!isObj(o.config)) throw new KilnError(`${what}: option "config" is required (an object of sections)`);
    const cfg = o.config;
    allowKeys(cfg, Object.keys(SECTIONS), what, 'section config.');
    const kind = KIND[/\.(\w+)$/.exec(o.filename as string)![1]!]!;
    if (!cfg[kind]) throw new KilnError(`${what}: option "config": a ${kind.toLowerCase()} unit needs a [${kind}] section`);
    for (const other of Object.values(KIND)) if (other !== kind && cfg[other]) throw new KilnError(`${what}: option "config": a ${kind.toLowerCase()} unit cannot have a [${other}] section`);
    if (kind === 'Service' && (!cfg.Unit || !cfg.Install)) throw new KilnError(`${what}: option "config": a service unit needs [Unit], [Service] and [Install] sections`);
    for (const [section, body] of Object.entries(cfg)) {
      if (!isObj(body)) throw new KilnError(`${what}: option "config.${section}" must be an object`);
      allowKeys(body, Object.keys(SECTIONS[section]!), what, `key in config.${section}:`);
      for (const [k, v] of Object.entries(body)) {
        const t = SECTIONS[section]![k]!;
        const at = `config.${section}.${k}`;
        const bad = (want: string): never => {
          throw new KilnError(`${what}: option "${at}" must be ${want}`);
        };
        if (t === 'string' && (typeof v !== 'string' || v.includes('\n'))) bad('a single-line string');
        if (t === 'bool' && typeof v !== 'boolean') bad('true or false');
        if (t === 'int' && !Number.isInteger(v)) bad('an integer');
        if (t === 'list' && (!Array.isArray(v) || v.some((x) => typeof x !== 'string' || x.includes('\n')))) bad('an array of single-line strings');
        if (t === 'env') {
          if (!Array.isArray(v)) bad('an array of {key, value}');
          for (const e of v as unknown[]) if (!isObj(e) || typeof e.key !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(e.key) || typeof e.value !== 'string' || /["\n\\]/.test(e.value)) bad('an array of {key, value} (key a variable name, value without quotes or newlines)');
        }
      }
      if (section === 'Mount' && (body.What === undefined || body.Where === undefined)) throw new KilnError(`${what}: option "config.Mount" needs What and Where`);
      if (section === 'Swap' && body.What === undefined) throw new KilnError(`${what}: option "config.Swap" needs What`);
    }
  },
  async run(ctx) {
    const o = ctx.options as { filename: string; 'unit-type'?: string; 'unit-path'?: string; config: Record<string, Record<string, unknown>> };
    const base = (o['unit-path'] ?? 'usr') === 'usr' ? 'usr/lib/systemd' : 'etc/systemd';
    const dir = join(ctx.tree, base, (o['unit-type'] ?? 'system') === 'system' ? 'system' : 'user');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, o.filename), iniText(o.config, render), { mode: 0o644 });
  },
};
