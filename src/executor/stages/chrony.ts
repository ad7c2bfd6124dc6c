// org.osbuild.chrony: edit the tree's /etc/chrony.conf: drop its `server`/`pool`/`peer` lines,
// then put the given servers (and leapsectz, refclocks) at the top; everything else is kept.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { KilnError } from '../../util/errors.js';
import type { StageImpl } from './types.js';
import { allowKeys, checkBool, checkInt, checkString, checkStringArray, isObj, optionsOf, resolveInRoot } from './os-util.js';

interface Server {
  hostname: string;
  minpoll?: number;
  maxpoll?: number;
  iburst?: boolean;
  prefer?: boolean;
}
interface Refclock {
  driver: Record<string, unknown> & { name: string };
  poll?: number;
  dpoll?: number;
  offset?: number;
}

const HOST_RE = /^[^\s#]+$/;
const DRIVERS: Record<string, { required: string[]; optional: string[] }> = {
  PPS: { required: ['name', 'device'], optional: ['clear'] },
  SHM: { required: ['name', 'segment'], optional: ['perm'] },
  SOCK: { required: ['name', 'path'], optional: [] },
  PHC: { required: ['name', 'path'], optional: ['nocrossts', 'extpps', 'pin', 'channel', 'clear'] },
};

function driverText(d: Record<string, unknown>): string {
  const opts: string[] = [];
  switch (d.name) {
    case 'PPS':
      if (d.clear) opts.push('clear');
      return `PPS ${String(d.device)}${opts.length ? ':' + opts.join(',') : ''}`;
    case 'SHM':
      if (d.perm !== undefined) opts.push(`perm=${String(d.perm)}`);
      return `SHM ${String(d.segment)}${opts.length ? ':' + opts.join(',') : ''}`;
    case 'SOCK':
      return `SOCK ${String(d.path)}`;
    default:
      if (d.nocrossts) opts.push('nocrossts');
      if (d.extpps) opts.push('extpps');
      if (d.pin !== undefined) opts.push(`pin=${String(d.pin)}`);
      if (d.channel !== undefined) opts.push(`channel=${String(d.channel)}`);
      if (d.clear) opts.push('clear');
      return `PHC ${String(d.path)}${opts.length ? ':' + opts.join(',') : ''}`;
  }
}

/** The edited chrony.conf (exported for tests). */
export function chronyConfText(conf: string, o: { timeservers?: string[]; servers?: Server[]; leapsectz?: string; refclocks?: Refclock[] }): string {
  let lines = conf.split('\n').filter((l) => !/^(server|pool|peer) /.test(l));
  if (o.timeservers?.length) lines = [...o.timeservers.map((s) => `server ${s} iburst`), ...lines];
  if (o.servers?.length) {
    const add = o.servers.map((s) => {
      let l = `server ${s.hostname}`;
      if (s.prefer) l += ' prefer';
      if (s.iburst ?? true) l += ' iburst';
      if (s.minpoll !== undefined) l += ` minpoll ${s.minpoll}`;
      if (s.maxpoll !== undefined) l += ` maxpoll ${s.maxpoll}`;
      return l;
    });
    lines = [...add, ...lines];
  }
  if (o.leapsectz !== undefined) {
    lines = lines.filter((l) => !l.startsWith('leapsectz '));
    if (o.leapsectz) lines = [`leapsectz ${o.leapsectz}`, ...lines];
  }
  if (o.refclocks?.length) {
    const add = o.refclocks.map((r) => {
      const extra: string[] = [];
      if (r.poll !== undefined) extra.push(`poll ${r.poll}`);
      if (r.dpoll !== undefined) extra.push(`dpoll ${r.dpoll}`);
      if (r.offset !== undefined) extra.push(`offset ${r.offset}`);
      return ['refclock', driverText(r.driver), ...extra].join(' ');
    });
    lines = [...add, ...lines];
  }
  return lines.join('\n');
}

export const chronyStage: StageImpl = {
  type: 'org.osbuild.chrony',
  validate(stage, what) {
    const o = optionsOf(stage);
    allowKeys(o, ['timeservers', 'servers', 'leapsectz', 'refclocks'], what);
    if (Object.keys(o).length === 0) throw new KilnError(`${what}: needs at least one option (timeservers, servers, leapsectz, refclocks)`);
    checkStringArray(o.timeservers, 'timeservers', what, { re: HOST_RE });
    checkString(o.leapsectz, 'leapsectz', what, { re: /^[^\s#]*$/ });
    if (o.servers !== undefined) {
      if (!Array.isArray(o.servers)) throw new KilnError(`${what}: option "servers" must be an array`);
      o.servers.forEach((s: unknown, i) => {
        if (!isObj(s)) throw new KilnError(`${what}: option "servers"[${i}] must be an object`);
        allowKeys(s, ['hostname', 'minpoll', 'maxpoll', 'iburst', 'prefer'], what, `key in servers[${i}]:`);
        checkString(s.hostname, `servers[${i}].hostname`, what, { required: true, re: HOST_RE });
        checkInt(s.minpoll, `servers[${i}].minpoll`, what, { min: -6, max: 24 });
        checkInt(s.maxpoll, `servers[${i}].maxpoll`, what, { min: -6, max: 24 });
        checkBool(s.iburst, `servers[${i}].iburst`, what);
        checkBool(s.prefer, `servers[${i}].prefer`, what);
      });
    }
    if (o.refclocks !== undefined) {
      if (!Array.isArray(o.refclocks)) throw new KilnError(`${what}: option "refclocks" must be an array`);
      o.refclocks.forEach((r: unknown, i) => {
        if (!isObj(r)) throw new KilnError(`${what}: option "refclocks"[${i}] must be an object`);
        allowKeys(r, ['driver', 'poll', 'dpoll', 'offset'], what, `key in refclocks[${i}]:`);
        const d = r.driver;
        if (!isObj(d) || typeof d.name !== 'string' || !DRIVERS[d.name]) throw new KilnError(`${what}: option "refclocks"[${i}].driver needs a name (one of ${Object.keys(DRIVERS).join(', ')})`);
        const spec = DRIVERS[d.name]!;
        allowKeys(d, [...spec.required, ...spec.optional], what, `key in refclocks[${i}].driver:`);
        for (const k of spec.required) if (d[k] === undefined) throw new KilnError(`${what}: option "refclocks"[${i}].driver.${k} is required for ${d.name}`);
        for (const k of ['device', 'path']) checkString(d[k], `refclocks[${i}].driver.${k}`, what, { re: /^\/\S+$/ });
        checkInt(d.segment, `refclocks[${i}].driver.segment`, what);
        checkString(d.perm, `refclocks[${i}].driver.perm`, what, { re: /^[0-7]{4}$/ });
        checkInt(r.poll, `refclocks[${i}].poll`, what);
        checkInt(r.dpoll, `refclocks[${i}].dpoll`, what);
        if (r.offset !== undefined && typeof r.offset !== 'number') throw new KilnError(`${what}: option "refclocks"[${i}].offset must be a number`);
      });
    }
  },
  async run(ctx) {
    const f = resolveInRoot(ctx.tree, '/etc/chrony.conf', ctx.what);
    if (!existsSync(f)) throw new KilnError(`${ctx.what}: /etc/chrony.conf does not exist in the tree (is chrony installed?)`);
    writeFileSync(f, chronyConfText(readFileSync(f, 'utf8'), ctx.options as never));
  },
};
