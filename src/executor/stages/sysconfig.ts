// org.osbuild.sysconfig: /etc/sysconfig/{kernel,network,network-scripts/ifcfg-*,livesys,desktop}
// as shell-style KEY=value files (booleans as yes/no), in the order the options give them.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KilnError } from '../../util/errors.js';
import type { StageImpl } from './types.js';
import { allowKeys, checkBool, checkObject, checkString, isObj, optionsOf } from './os-util.js';

const yesNo = (v: unknown): string => (v ? 'yes' : 'no');
const IFNAME_RE = /^[^/:.\s]{1,2}[^/:\s]{0,13}$/;
const IFCFG_KEYS: Record<string, { key: string; bool?: boolean; oneOf?: string[] }> = {
  device: { key: 'DEVICE' },
  bootproto: { key: 'BOOTPROTO', oneOf: ['none', 'bootp', 'dhcp', 'static', 'ibft', 'autoip', 'shared'] },
  onboot: { key: 'ONBOOT', bool: true },
  type: { key: 'TYPE', oneOf: ['Ethernet', 'Wireless', 'InfiniBand', 'Bridge', 'Bond', 'Vlan'] },
  userctl: { key: 'USERCTL', bool: true },
  peerdns: { key: 'PEERDNS', bool: true },
  ipv6init: { key: 'IPV6INIT', bool: true },
};

export const sysconfigStage: StageImpl = {
  type: 'org.osbuild.sysconfig',
  validate(stage, what) {
    const o = optionsOf(stage);
    allowKeys(o, ['kernel', 'network', 'network-scripts', 'livesys', 'desktop'], what);
    if (checkObject(o.kernel, 'kernel', what)) {
      allowKeys(o.kernel, ['update_default', 'default_kernel'], what, 'option kernel.');
      checkBool(o.kernel.update_default, 'kernel.update_default', what);
      checkString(o.kernel.default_kernel, 'kernel.default_kernel', what, { re: /^[^\s"'$`\\]+$/ });
    }
    if (checkObject(o.network, 'network', what)) {
      allowKeys(o.network, ['networking', 'no_zero_conf'], what, 'option network.');
      checkBool(o.network.networking, 'network.networking', what);
      checkBool(o.network.no_zero_conf, 'network.no_zero_conf', what);
    }
    if (checkObject(o['network-scripts'], 'network-scripts', what)) {
      const ns = o['network-scripts'];
      allowKeys(ns, ['ifcfg'], what, 'option network-scripts.');
      if (checkObject(ns.ifcfg, 'network-scripts.ifcfg', what)) {
        for (const [ifname, cfg] of Object.entries(ns.ifcfg)) {
          const at = `network-scripts.ifcfg.${ifname}`;
          if (!IFNAME_RE.test(ifname)) throw new KilnError(`${what}: option "network-scripts.ifcfg": "${ifname}" is not a valid interface name`);
          if (!isObj(cfg)) throw new KilnError(`${what}: option "${at}" must be an object`);
          allowKeys(cfg, Object.keys(IFCFG_KEYS), what, `option ${at}.`);
          for (const [k, spec] of Object.entries(IFCFG_KEYS)) {
            if (spec.bool) checkBool(cfg[k], `${at}.${k}`, what);
            else checkString(cfg[k], `${at}.${k}`, what, { oneOf: spec.oneOf, re: /^[^"\\\n]*$/ });
          }
        }
      }
    }
    if (checkObject(o.livesys, 'livesys', what)) {
      allowKeys(o.livesys, ['session'], what, 'option livesys.');
      checkString(o.livesys.session, 'livesys.session', what, { required: true, re: /^[^"\\\n]*$/ });
    }
    if (checkObject(o.desktop, 'desktop', what)) {
      allowKeys(o.desktop, ['preferred', 'displaymanager'], what, 'option desktop.');
      if (o.desktop.preferred === undefined && o.desktop.displaymanager === undefined) throw new KilnError(`${what}: option "desktop" needs "preferred" or "displaymanager"`);
      checkString(o.desktop.preferred, 'desktop.preferred', what, { re: /^\S+$/ });
      checkString(o.desktop.displaymanager, 'desktop.displaymanager', what, { re: /^\S+$/ });
    }
  },
  async run(ctx) {
    const o = ctx.options as Record<string, Record<string, unknown> | undefined>;
    const dir = join(ctx.tree, 'etc/sysconfig');
    mkdirSync(dir, { recursive: true });
    const write = (name: string, lines: string[]): void => {
      if (lines.length) writeFileSync(join(dir, name), lines.join(''), { mode: 0o644 });
    };
    if (o.kernel && Object.keys(o.kernel).length) {
      const lines: string[] = [];
      for (const [k, v] of Object.entries(o.kernel)) lines.push(k === 'update_default' ? `UPDATEDEFAULT=${yesNo(v)}\n` : `DEFAULTKERNEL=${String(v)}\n`);
      write('kernel', lines);
    }
    if (o.network && Object.keys(o.network).length) {
      const lines: string[] = [];
      for (const [k, v] of Object.entries(o.network)) lines.push(k === 'networking' ? `NETWORKING=${yesNo(v)}\n` : `NOZEROCONF=${yesNo(v)}\n`);
      write('network', lines);
    }
    const ns = o['network-scripts'];
    if (ns && Object.keys(ns).length) {
      mkdirSync(join(dir, 'network-scripts'), { recursive: true });
      for (const [ifname, cfg] of Object.entries((ns.ifcfg ?? {}) as Record<string, Record<string, unknown>>)) {
        const lines = Object.entries(cfg).map(([k, v]) => {
          const spec = IFCFG_KEYS[k]!;
          return `${spec.key}="${spec.bool ? yesNo(v) : String(v)}"\n`;
        });
        write(`network-scripts/ifcfg-${ifname}`, lines);
      }
    }
    // osbuild's own stage writes these two with unexpanded placeholders (a bug); we write values
    if (o.livesys?.session) write('livesys', [`livesys_session="${String(o.livesys.session)}"\n`]);
    if (o.desktop) {
      const lines: string[] = [];
      if (o.desktop.preferred) lines.push(`PREFERRED=${String(o.desktop.preferred)}\n`);
      if (o.desktop.displaymanager) lines.push(`DISPLAYMANAGER=${String(o.desktop.displaymanager)}\n`);
      write('desktop', lines);
    }
  },
};
