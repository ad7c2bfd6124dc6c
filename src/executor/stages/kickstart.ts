// org.osbuild.kickstart: write an anaconda kickstart file at `path` in the tree: ostreesetup /
// ostreecontainer / bootc / liveimg payload, groups, users (+ sshkey), rootpw, lang, keyboard,
// timezone, zerombr, clearpart, display mode, autopart, reboot, network, bootloader --append and
// %post sections, in the order osbuild writes them. User passwords are taken as crypted hashes
// ("" stays an empty crypted password), as in osbuild.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { KilnError } from '../../util/errors.js';
import { checkKeys, checkOpt, checkValue } from './ostree-util.js';
import type { StageImpl } from './types.js';
import { requireString, treePath } from './util.js';
import type { Stage } from '../../manifest/types.js';

type Obj = Record<string, unknown>;

const TOP = ['path', 'ostree', 'ostreecontainer', 'bootc', 'liveimg', 'groups', 'users', 'rootpw', 'lang', 'keyboard', 'timezone', 'zerombr', 'clearpart', 'reboot', 'display_mode', 'autopart', 'network', 'bootloader', '%post'];
const AUTOPART = ['type', 'fstype', 'nolvm', 'encrypted', 'passphrase', 'escrowcert', 'backuppassphrase', 'cipher', 'luks-version', 'pbkdf', 'pbkdf-memory', 'pbkdf-time', 'pbkdf-iterations', 'nohome', 'noswap'];
const NET_STR = ['device', 'bootproto', 'onboot', 'ip', 'ipv6', 'gateway', 'ipv6gateway', 'netmask', 'hostname', 'essid', 'wpakey'];

function obj(stage: Stage, key: string, what: string, keys?: string[]): Obj | undefined {
  const o = checkOpt<Obj>(stage, key, 'object', what);
  if (o && keys) checkKeys(o, keys, what, key);
  return o;
}

function validate(stage: Stage, what: string): void {
  for (const k of Object.keys(stage.options ?? {})) if (!TOP.includes(k)) throw new KilnError(`${what}: unknown option "${k}"`);
  requireString(stage, 'path', what);
  const payloads = ['ostree', 'ostreecontainer', 'bootc'].filter((k) => stage.options?.[k] !== undefined);
  if (payloads.length > 1) throw new KilnError(`${what}: options ${payloads.join(' and ')} exclude each other`);
  const os = obj(stage, 'ostree', what, ['osname', 'url', 'ref', 'remote', 'gpg']);
  if (os) {
    for (const k of ['osname', 'url', 'ref']) checkValue(os, k, 'string', what, `ostree.${k}`, true);
    checkValue(os, 'remote', 'string', what, 'ostree.remote');
    checkValue(os, 'gpg', 'boolean', what, 'ostree.gpg');
  }
  const oc = obj(stage, 'ostreecontainer', what, ['stateroot', 'url', 'transport', 'remote', 'signatureverification']);
  if (oc) {
    checkValue(oc, 'url', 'string', what, 'ostreecontainer.url', true);
    const t = checkValue<string>(oc, 'transport', 'string', what, 'ostreecontainer.transport');
    if (t !== undefined && !['registry', 'oci', 'oci-archive', 'dir', 'containers-storage'].includes(t)) throw new KilnError(`${what}: option "ostreecontainer.transport" "${t}" is not a known transport`);
  }
  const bc = obj(stage, 'bootc', what, ['source-imgref', 'target-imgref']);
  if (bc) checkValue(bc, 'source-imgref', 'string', what, 'bootc.source-imgref', true);
  const li = obj(stage, 'liveimg', what);
  if (li) checkValue(li, 'url', 'string', what, 'liveimg.url', true);
  for (const [name, g] of Object.entries(obj(stage, 'groups', what) ?? {})) {
    if (!/^[A-Za-z0-9_.][A-Za-z0-9_.-]{0,31}$/.test(name)) throw new KilnError(`${what}: option "groups": invalid group name "${name}"`);
    if (!g || typeof g !== 'object') throw new KilnError(`${what}: option "groups.${name}" must be an object`);
    checkValue(g as Obj, 'gid', 'number', what, `groups.${name}.gid`);
  }
  for (const [name, u] of Object.entries(obj(stage, 'users', what) ?? {})) {
    if (!/^[A-Za-z0-9_.][A-Za-z0-9_.-]{0,255}$/.test(name)) throw new KilnError(`${what}: option "users": invalid user name "${name}"`);
    if (!u || typeof u !== 'object') throw new KilnError(`${what}: option "users.${name}" must be an object`);
    const uo = u as Obj;
    for (const k of ['uid', 'gid']) checkValue(uo, k, 'number', what, `users.${name}.${k}`);
    checkValue(uo, 'groups', 'string[]', what, `users.${name}.groups`);
    for (const k of ['description', 'home', 'shell', 'password', 'key']) checkValue(uo, k, 'string', what, `users.${name}.${k}`);
  }
  const rp = obj(stage, 'rootpw', what, ['lock', 'plaintext', 'iscrypted', 'allow_ssh', 'password']);
  if (rp) {
    for (const k of ['lock', 'plaintext', 'iscrypted', 'allow_ssh']) checkValue(rp, k, 'boolean', what, `rootpw.${k}`);
    checkValue(rp, 'password', 'string', what, 'rootpw.password');
    if (rp.plaintext && rp.iscrypted) throw new KilnError(`${what}: option "rootpw": "plaintext" and "iscrypted" exclude each other`);
    if (!rp.lock && rp.password === undefined) throw new KilnError(`${what}: option "rootpw" needs "lock" or a "password"`);
  }
  for (const k of ['lang', 'keyboard', 'timezone']) checkOpt(stage, k, 'string', what);
  checkOpt(stage, 'zerombr', 'boolean', what);
  const cp = obj(stage, 'clearpart', what, ['all', 'drives', 'list', 'disklabel', 'linux', 'initlabel']);
  if (cp) {
    for (const k of ['all', 'linux', 'initlabel']) checkValue(cp, k, 'boolean', what, `clearpart.${k}`);
    for (const k of ['drives', 'list']) checkValue(cp, k, 'string[]', what, `clearpart.${k}`);
    checkValue(cp, 'disklabel', 'string', what, 'clearpart.disklabel');
  }
  const dm = checkOpt<string>(stage, 'display_mode', 'string', what);
  if (dm !== undefined && !['text', 'graphical', 'cmdline'].includes(dm)) throw new KilnError(`${what}: option "display_mode" must be text, graphical or cmdline`);
  const rb = stage.options?.reboot;
  if (rb !== undefined && typeof rb !== 'boolean') {
    const r = obj(stage, 'reboot', what, ['eject', 'kexec'])!;
    checkValue(r, 'eject', 'boolean', what, 'reboot.eject');
    checkValue(r, 'kexec', 'boolean', what, 'reboot.kexec');
  }
  const ap = obj(stage, 'autopart', what, AUTOPART);
  if (ap && ap['pbkdf-iterations'] !== undefined && ap['pbkdf-time'] !== undefined) throw new KilnError(`${what}: option "autopart": "pbkdf-iterations" and "pbkdf-time" exclude each other`);
  const net = stage.options?.network;
  if (net !== undefined) {
    if (!Array.isArray(net) || net.length === 0) throw new KilnError(`${what}: option "network" must be a non-empty array`);
    net.forEach((n: unknown, i) => {
      if (!n || typeof n !== 'object') throw new KilnError(`${what}: option "network[${i}]" must be an object`);
      checkKeys(n as Obj, [...NET_STR, 'nameservers', 'activate'], what, `network[${i}]`);
      checkValue(n as Obj, 'device', 'string', what, `network[${i}].device`, true);
      checkValue(n as Obj, 'nameservers', 'string[]', what, `network[${i}].nameservers`);
      checkValue(n as Obj, 'activate', 'boolean', what, `network[${i}].activate`);
    });
  }
  const bl = obj(stage, 'bootloader', what, ['append']);
  if (bl) checkValue(bl, 'append', 'string', what, 'bootloader.append');
  const post = stage.options?.['%post'];
  if (post !== undefined) {
    if (!Array.isArray(post) || post.length === 0) throw new KilnError(`${what}: option "%post" must be a non-empty array`);
    post.forEach((p: unknown, i) => {
      if (!p || typeof p !== 'object') throw new KilnError(`${what}: option "%post[${i}]" must be an object`);
      checkKeys(p as Obj, ['erroronfail', 'interpreter', 'log', 'nochroot', 'commands'], what, `%post[${i}]`);
      checkValue(p as Obj, 'commands', 'string[]', what, `%post[${i}].commands`, true);
    });
  }
}

/** The kickstart text for validated options. */
export function kickstartText(o: Obj): string {
  const out: string[] = [];
  const os = o.ostree as Obj | undefined;
  if (os) {
    let c = `ostreesetup --osname=${os.osname} --url=${os.url} --ref=${os.ref}`;
    if (os.remote) c += ` --remote=${os.remote}`;
    if (os.gpg === false) c += ' --nogpg';
    out.push(c);
  }
  const oc = o.ostreecontainer as Obj | undefined;
  if (oc) {
    let c = `ostreecontainer --url=${oc.url}`;
    for (const k of ['stateroot', 'transport', 'remote']) if (oc[k]) c += ` --${k}=${oc[k]}`;
    out.push(c);
  }
  const bc = o.bootc as Obj | undefined;
  if (bc) out.push(`bootc --source-imgref ${bc['source-imgref']}` + (bc['target-imgref'] ? ` --target-imgref ${bc['target-imgref']}` : ''));
  const li = o.liveimg as Obj | undefined;
  if (li) out.push(`liveimg --url ${li.url}`);
  for (const [name, g] of Object.entries((o.groups ?? {}) as Record<string, Obj>)) out.push(`group --name ${name}` + (g.gid ? ` --gid ${g.gid}` : ''));
  for (const [name, u] of Object.entries((o.users ?? {}) as Record<string, Obj>)) {
    const a = [`user --name ${name}`];
    if (u.password !== undefined && u.password !== null) a.push('--password', (u.password as string) || '""', '--iscrypted');
    if (u.shell) a.push('--shell', String(u.shell));
    if (u.uid !== undefined) a.push('--uid', String(u.uid));
    if (u.gid !== undefined) a.push('--gid', String(u.gid));
    if ((u.groups as string[] | undefined)?.length) a.push('--groups', (u.groups as string[]).join(','));
    if (u.home) a.push('--homedir', String(u.home));
    out.push(a.join(' '));
    if (u.key) out.push(`sshkey --username ${name} "${u.key}"`);
  }
  const rp = o.rootpw as Obj | undefined;
  if (rp) {
    const a: string[] = [];
    for (const k of ['lock', 'plaintext', 'iscrypted', 'allow_ssh', 'password']) {
      if (rp[k] === true) a.push(`--${k.replace('_', '-')}`);
      else if (typeof rp[k] === 'string' && rp[k]) a.push(rp[k] as string);
    }
    if (a.length) out.push(`rootpw ${a.join(' ')}`);
  }
  if (o.lang) out.push(`lang ${o.lang}`);
  if (o.keyboard) out.push(`keyboard ${o.keyboard}`);
  if (o.timezone) out.push(`timezone ${o.timezone}`);
  if (o.zerombr) out.push('zerombr');
  const cp = o.clearpart as Obj | undefined;
  if (cp) {
    let c = 'clearpart';
    if (cp.all) c += ' --all';
    if ((cp.drives as string[] | undefined)?.length) c += ` --drives=${(cp.drives as string[]).join(',')}`;
    if ((cp.list as string[] | undefined)?.length) c += ` --list=${(cp.list as string[]).join(',')}`;
    if (cp.disklabel) c += ` --disklabel=${cp.disklabel}`;
    if (cp.linux) c += ' --linux';
    if (cp.initlabel) c += ' --initlabel';
    out.push(c);
  }
  if (o.display_mode) out.push(String(o.display_mode));
  const ap = o.autopart as Obj | undefined;
  if (ap) {
    let c = 'autopart';
    for (const k of AUTOPART) {
      if (!(k in ap)) continue;
      c += typeof ap[k] === 'boolean' ? ` --${k}` : ` --${k}=${ap[k]}`;
    }
    out.push(c);
  }
  if (o.reboot) {
    let c = 'reboot';
    if (typeof o.reboot === 'object') {
      if ((o.reboot as Obj).eject) c += ' --eject';
      if ((o.reboot as Obj).kexec) c += ' --kexec';
    }
    out.push(c);
  }
  for (const n of (o.network ?? []) as Obj[]) {
    let c = 'network';
    for (const k of NET_STR) if (k in n) c += ` --${k}=${n[k]}`;
    for (const ns of (n.nameservers ?? []) as string[]) c += ` --nameserver=${ns}`;
    if (n.activate === true) c += ' --activate';
    else if (n.activate === false) c += ' --no-activate';
    out.push(c);
  }
  const append = (o.bootloader as Obj | undefined)?.append;
  if (append) out.push(`bootloader --append='${append}'`);
  for (const p of (o['%post'] ?? []) as Obj[]) {
    const start = ['%post'];
    if (p.erroronfail) start.push('--erroronfail');
    if (p.nochroot) start.push('--nochroot');
    if (p.log) start.push('--log', `"${p.log}"`);
    if (p.interpreter) start.push('--interpreter', `"${p.interpreter}"`);
    out.push(start.join(' '), ...(p.commands as string[]), '%end');
  }
  return out.join('\n') + '\n';
}

export const kickstartStage: StageImpl = {
  type: 'org.osbuild.kickstart',
  validate,
  async run(ctx) {
    const target = treePath(ctx, ctx.options.path as string);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, kickstartText(ctx.options));
  },
};
