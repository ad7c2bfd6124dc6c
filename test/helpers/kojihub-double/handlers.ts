// The XML-RPC methods of the hub double. Each follows the kojihub.py (1.35.3) function of the
// same name: same checks in the same order, same fault classes and messages, same result
// fields. Methods that touch files use the layout of koji.pathinfo under topdir.

import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { Adler32 } from '../../../src/koji/upload.js';
import { decodeCall, decodeResponse, double, type XmlRpcStruct, type XmlRpcValue } from '../../../src/koji/xmlrpc.js';
import { assertLogin, assertPerm, def, hasPerm, verifyHost, type Ctx, type Handler } from './dispatch.js';
import {
  BTYPES, BUILD_STATES, BUILD_STATE_NAMES, HubError, hubError, nowTs, TASK_STATES, tsString,
  type Build, type Host, type Tag, type Task,
} from './model.js';
import { getNextBuild } from './builds.js';
import { imageBuilderBuildArgsError } from './schema.js';
import { repoHandlers, type RepoManager } from './repos.js';
import { checkImageRpmlist, getRpm } from './rpms.js';

export interface FileLayout {
  topdir: string;
  /** creation order of files per directory (listTaskOutput answers in this order, like the recorded hub's readdir) */
  order: Map<string, string[]>;
}

// ------------------------------------------------------------------------------ value shapes

const d = (n: number | null) => (n === null ? null : double(n));

export function taskInfo(t: Task): XmlRpcStruct {
  return {
    id: t.id, state: t.state,
    create_time: tsString(t.createTs), create_ts: d(t.createTs),
    start_time: tsString(t.startTs), start_ts: d(t.startTs),
    completion_time: tsString(t.completionTs), completion_ts: d(t.completionTs),
    channel_id: t.channelId, host_id: t.hostId, parent: t.parent, label: t.label,
    waiting: t.waiting, awaited: t.awaited, owner: t.owner, method: t.method, arch: t.arch,
    priority: t.priority, weight: double(t.weight),
  };
}

function schedTask(t: Task): XmlRpcStruct {
  return { id: t.id, state: t.state, channel_id: t.channelId, host_id: t.hostId, arch: t.arch, method: t.method, priority: t.priority, create_ts: double(t.createTs) };
}

function hostInfo(h: Host): XmlRpcStruct {
  return {
    id: h.id, user_id: h.userId, name: h.name, update_ts: d(h.updateTs), ready: h.ready, task_load: double(h.taskLoad),
    arches: h.arches, capacity: double(h.capacity), description: h.description, comment: h.comment, enabled: h.enabled,
  };
}

function buildConfig(t: Tag): XmlRpcStruct {
  return {
    arches: t.arches, id: t.id, locked: t.locked, maven_include_all: false, maven_support: false, name: t.name,
    perm: t.perm, perm_id: t.perm === null ? null : 1, extra: { ...t.extra }, config_inheritance: { extra: {}, arches: null },
  };
}

function tagInfo(t: Tag): XmlRpcStruct {
  return { id: t.id, name: t.name, perm_id: t.perm === null ? null : 1, perm: t.perm, arches: t.arches, locked: t.locked, maven_support: false, maven_include_all: false, extra: { ...t.extra } };
}

function buildInfo(c: Ctx, b: Build): XmlRpcStruct {
  const owner = c.state.users.get(b.ownerId);
  return {
    id: b.id, build_id: b.id, version: b.version, release: b.release, epoch: b.epoch, draft: false, state: b.state,
    completion_time: tsString(b.completionTs), completion_ts: d(b.completionTs),
    start_time: tsString(b.startTs), start_ts: d(b.startTs),
    promotion_time: null, promotion_ts: null, promoter_id: null, promoter_name: null,
    task_id: b.taskId, creation_event_id: b.createEvent, creation_time: tsString(b.createTs), creation_ts: double(b.createTs),
    package_id: b.pkgId, package_name: b.name, name: b.name, volume_id: 0, volume_name: 'DEFAULT',
    nvr: `${b.name}-${b.version}-${b.release}`, owner_id: b.ownerId, owner_name: owner?.name ?? null,
    cg_id: null, cg_name: null, extra: b.extra ?? null, source: null,
  };
}

function isStruct(v: XmlRpcValue): v is XmlRpcStruct {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Uint8Array) && !(v instanceof Date);
}

// ------------------------------------------------------------------------------ paths

export function taskRelDir(id: number): string {
  return `tasks/${id % 10000}/${id}`;
}

function buildDir(l: FileLayout, b: Build): string {
  return path.join(l.topdir, 'packages', b.name, b.version, b.release);
}

function recordFile(l: FileLayout, dir: string, name: string): void {
  const list = l.order.get(dir) ?? [];
  if (!list.includes(name)) list.push(name);
  l.order.set(dir, list);
}

/** koji move_and_symlink: move a file and leave a relative symlink at the old place. */
function moveAndSymlink(src: string, dest: string): void {
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  fs.renameSync(src, dest);
  fs.symlinkSync(path.relative(path.dirname(src), dest), src);
}

/** kojihub get_upload_path: checks the relative dir and, for task dirs, that the caller runs the task. */
export function uploadPath(c: Ctx, l: FileLayout, reldir: string, name: string, create: boolean): string {
  if (name.includes('/') || name.startsWith('.')) throw hubError('GenericError', `Invalid upload filename: ${name}`);
  const norm = path.posix.normalize(reldir || '.');
  if (!reldir || norm.startsWith('..') || norm.startsWith('/') || norm === '.') throw hubError('GenericError', `Invalid upload directory: ${reldir}`);
  const parts = norm.split('/');
  let checkUser = true;
  if (create && parts[0] === 'tasks') {
    if (parts.length < 3 || !/^\d+$/.test(parts[2])) throw hubError('GenericError', `Invalid task upload directory: ${reldir}`);
    const host = verifyHost(c);
    assertTaskHost(c, Number(parts[2]), host);
    checkUser = false;
  }
  const udir = path.join(l.topdir, 'work', norm);
  if (create) {
    fs.mkdirSync(udir, { recursive: true });
    if (checkUser) {
      const marker = path.join(udir, '.user');
      if (fs.existsSync(marker)) {
        if (Number(fs.readFileSync(marker, 'utf8')) !== c.user?.id) throw hubError('GenericError', `Invalid upload directory, not owner: ${reldir}`);
      } else fs.writeFileSync(marker, String(c.user?.id));
    }
  }
  return path.join(udir, name);
}

function assertTaskHost(c: Ctx, taskId: number, host: Host): Task {
  const t = c.state.task(taskId);
  if (!(t.state === TASK_STATES.OPEN && t.hostId === host.id)) {
    throw hubError('ActionNotAllowed', `host ${host.id} does not own task ${taskId}`);
  }
  return t;
}

function listDir(l: FileLayout, dir: string, rel = ''): string[] {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) return [];
  const names = fs.readdirSync(dir);
  const known = l.order.get(dir) ?? [];
  names.sort((a, b) => {
    const ia = known.indexOf(a);
    const ib = known.indexOf(b);
    if (ia >= 0 && ib >= 0) return ia - ib;
    if (ia >= 0 || ib >= 0) return ia >= 0 ? -1 : 1;
    return a < b ? -1 : a > b ? 1 : 0;
  });
  const out: string[] = [];
  for (const n of names) {
    const full = path.join(dir, n);
    let st: fs.Stats;
    try {
      st = fs.statSync(full);
    } catch {
      continue; // dangling link
    }
    if (st.isDirectory()) out.push(...listDir(l, full, path.join(rel, n)));
    else out.push(path.join(rel, n));
  }
  return out;
}

// ------------------------------------------------------------------------------ results

/** Task.getResult: finished tasks only; a stored fault is raised (or returned as a dict). */
export function taskResult(t: Task, raiseFault: boolean): XmlRpcValue {
  if (t.state === TASK_STATES.CANCELED) throw hubError('GenericError', `Task ${t.id} is canceled`);
  if (t.state !== TASK_STATES.CLOSED && t.state !== TASK_STATES.FAILED) throw hubError('GenericError', `Task ${t.id} is not finished`);
  const r = decodeResponse(t.result ?? '', { source: `stored result of task ${t.id}` });
  if (r.kind === 'fault') {
    if (raiseFault) throw new RaisedFault(r.fault.faultCode, r.fault.faultString);
    return { faultCode: r.fault.faultCode, faultString: r.fault.faultString };
  }
  return r.value;
}

/** A fault carried verbatim by code (from a stored task result). */
export class RaisedFault extends Error {
  constructor(readonly code: number, message: string) {
    super(message);
  }
}

// ------------------------------------------------------------------------------ the methods

export function hubHandlers(l: FileLayout, repo: { manager: () => RepoManager | undefined; legacy: boolean } = { manager: () => undefined, legacy: false }): Handler[] {
  const H: Handler[] = [];
  // build tag repos and the repo request queue live in repos.ts
  H.push(...repoHandlers(repo.manager, repo.legacy));
  const add = (sig: string, fn: Handler['fn']) => H.push(def(sig, fn));

  // ---- misc / users
  add('getAPIVersion()', () => 1);
  add('getKojiVersion()', () => '1.35.3');
  add('getLoggedInUser()', (c) => {
    if (!c.user) return null;
    return { id: c.user.id, name: c.user.name, status: c.user.status, usertype: c.user.usertype, krb_principals: [], authtype: c.session!.authtype, krb_principal: null };
  });
  add('getUser(userInfo=None, strict=False, krb_princs=True, groups=False)', (c, a) => {
    const u = a.userInfo === null ? c.user : c.state.getUser(a.userInfo);
    if (!u) {
      if (a.strict) throw hubError('GenericError', `No such user: ${a.userInfo}`);
      return null;
    }
    return { id: u.id, name: u.name, status: u.status, usertype: u.usertype, krb_principals: [] };
  });
  add('getPerms(userID=None)', (c, a) => {
    const u = a.userID === null ? c.user : c.state.getUser(a.userID);
    return u ? [...u.perms] : [];
  });
  add('hasPerm(perm, strict=False)', (c, a) => hasPerm(c, String(a.perm)));

  // ---- rpms (see rpms.ts)
  add('getRPM(rpminfo, strict=False, multi=False)', (c, a) => getRpm(c.state, a.rpminfo, !!a.strict, !!a.multi));

  // ---- tasks (read side)
  add('getTaskInfo(task_id, request=False, strict=False)', (c, a) => {
    const one = (id: XmlRpcValue) => {
      const t = c.state.tasks.get(Number(id));
      if (!t) {
        if (a.strict) throw hubError('GenericError', `No such task: ${id}`);
        return null;
      }
      const info = taskInfo(t);
      if (a.request) info.request = decodeCall(t.request).params;
      return info;
    };
    return Array.isArray(a.task_id) ? a.task_id.map(one) : one(a.task_id);
  });
  add('getTaskRequest(taskId)', (c, a) => decodeCall(c.state.task(a.taskId).request).params);
  add('getTaskResult(taskId, raise_fault=True)', (c, a) => taskResult(c.state.task(a.taskId), a.raise_fault !== false));
  add('getTaskChildren(task_id, request=False, strict=False)', (c, a) => {
    if (a.strict) c.state.task(a.task_id);
    return [...c.state.tasks.values()]
      .filter((t) => t.parent === Number(a.task_id))
      .sort((x, y) => x.id - y.id)
      .map((t) => {
        const info = taskInfo(t);
        if (a.request) info.request = decodeCall(t.request).params;
        return info;
      });
  });
  add('listTaskOutput(taskID, stat=False, all_volumes=False, strict=False)', (c, a) => {
    const id = Number(a.taskID);
    if (a.strict && !c.state.tasks.has(id)) throw hubError('GenericError', "Task doesn't exist");
    const dir = path.join(l.topdir, 'work', taskRelDir(id));
    const files = listDir(l, dir);
    if (!a.stat && !a.all_volumes) return files;
    const out: XmlRpcStruct = {};
    for (const f of files) {
      const st = fs.statSync(path.join(dir, f));
      const info: XmlRpcStruct = { st_size: String(st.size), st_atime: double(st.atimeMs / 1000), st_mtime: double(st.mtimeMs / 1000), st_ctime: double(st.ctimeMs / 1000) };
      out[f] = a.all_volumes ? (a.stat ? { DEFAULT: info } : ['DEFAULT']) : info;
    }
    return out;
  });
  add('downloadTaskOutput(taskID, fileName, offset=0, size=-1, volume=None)', (c, a) => {
    const name = String(a.fileName);
    if (name.includes('..')) throw hubError('GenericError', `Invalid file name: ${name}`);
    const full = path.join(l.topdir, 'work', taskRelDir(Number(a.taskID)), name);
    if (!fs.existsSync(full) || !fs.statSync(full).isFile()) throw hubError('GenericError', `no file "${name}" output by task ${a.taskID}`);
    let data = fs.readFileSync(full);
    const off = Number(a.offset ?? 0);
    if (off > 0) data = data.subarray(off);
    else if (off < 0) data = data.subarray(Math.max(0, data.length + off));
    const size = Number(a.size);
    if (size >= 0) data = data.subarray(0, size);
    return data.toString('base64');
  });
  add('cancelTask(task_id, recurse=True)', (c, a) => {
    const t = c.state.task(a.task_id);
    const host = c.user ? c.state.hostByUser(c.user.id) : undefined;
    const ownsAsHost = !!host && t.state === TASK_STATES.OPEN && t.hostId === host.id;
    if (!(c.user && t.owner === c.user.id) && !ownsAsHost && !hasPerm(c, 'admin')) throw hubError('ActionNotAllowed', 'Cannot cancel task, not owner');
    c.dirty = true;
    c.state.cancelTask(t, a.recurse !== false);
    return null;
  });

  // ---- image builds (plugins)
  add('imageBuilderBuild(target, arches, types, name, version, opts=None, priority=None)', (c, a) => {
    assertPerm(c, 'image');
    const args = [a.target, a.arches, a.types, a.name, a.version, a.opts ?? {}];
    const err = imageBuilderBuildArgsError(args);
    if (err) throw hubError('ParameterError', err);
    if (typeof a.priority === 'number' && a.priority < 0 && !hasPerm(c, 'admin')) throw hubError('ActionNotAllowed', 'only admins may create high-priority tasks');
    c.dirty = true;
    // (the plugin checks priority but never passes it on: the task always gets the default)
    return c.state.makeTask('imageBuilderBuild', args, { owner: c.user!.id, channel: 'image' });
  });
  // koji-osbuild's hub call (remote-service path): task args [name, version, distro,
  // image_types, target, arches, opts] in channel image, priority not applied (as the plugin).
  // Its jsonschema check is reduced to the shape; the fault text is not jsonschema's.
  add('osbuildImage(name, version, distro, image_types, target, arches, opts=None, priority=None)', (c, a) => {
    assertPerm(c, 'image');
    const opts = a.opts ?? {};
    const strs = ['name', 'version', 'distro', 'target'].filter((k) => typeof a[k] !== 'string');
    const arr = (v: XmlRpcValue) => Array.isArray(v) && v.length > 0;
    if (strs.length || !arr(a.image_types) || !arr(a.arches) || !isStruct(opts)) {
      throw hubError('ParameterError', `osbuildImage arguments do not match the plugin schema (${[...strs, 'image_types', 'arches', 'opts'].join(', ')})`);
    }
    if (typeof a.priority === 'number' && a.priority < 0 && !hasPerm(c, 'admin')) throw hubError('ActionNotAllowed', 'only admins may create high-priority tasks');
    c.dirty = true;
    const args = [a.name, a.version, a.distro, a.image_types, a.target, a.arches, opts];
    return c.state.makeTask('osbuildImage', args, { owner: c.user!.id, channel: 'image' });
  });

  // ---- targets, tags, repos, builds
  add('getBuildTarget(info, event=None, strict=False)', (c, a) => {
    const t = c.state.getTarget(a.info);
    if (!t) {
      if (a.strict) throw hubError('GenericError', `No such build target: ${a.info}`);
      return null;
    }
    const bt = c.state.tags.get(t.buildTag)!;
    const dt = c.state.tags.get(t.destTag)!;
    return { build_tag: bt.id, build_tag_name: bt.name, dest_tag: dt.id, dest_tag_name: dt.name, id: t.id, name: t.name };
  });
  add('getBuildTargets(info=None, event=None, buildTagID=None, destTagID=None, queryOpts=None)', (c) =>
    [...c.state.targets.values()].map((t) => {
      const bt = c.state.tags.get(t.buildTag)!;
      const dt = c.state.tags.get(t.destTag)!;
      return { build_tag: bt.id, build_tag_name: bt.name, dest_tag: dt.id, dest_tag_name: dt.name, id: t.id, name: t.name };
    }),
  );
  add('getBuildConfig(tag, event=None)', (c, a) => buildConfig(c.state.getTagStrict(a.tag)));
  add('getTag(tagInfo, strict=False, event=None, blocked=False)', (c, a) => {
    const t = c.state.getTag(a.tagInfo);
    if (!t) {
      if (a.strict) throw hubError('GenericError', `No such tagInfo: '${a.tagInfo}'`);
      return null;
    }
    return tagInfo(t);
  });
  add('getNextRelease(build_info, incr=1)', (c, a) => {
    const bi = a.build_info as XmlRpcStruct;
    return c.state.nextRelease(String(bi.name), String(bi.version), Number(a.incr));
  });
  add('getPackageConfig(tag, pkg, event=None)', (c, a) => {
    const t = c.state.getTagStrict(a.tag);
    const name = typeof a.pkg === 'number' ? [...c.state.packages].find(([, id]) => id === a.pkg)?.[0] : String(a.pkg);
    const p = name === undefined ? undefined : t.packages.get(name);
    if (!p) return null;
    return { package_id: c.state.packages.get(name!) ?? null, package_name: name!, tag_id: t.id, tag_name: t.name, blocked: p.blocked, owner_id: p.ownerId, owner_name: c.state.users.get(p.ownerId)?.name ?? null, extra_arches: null };
  });
  add('getBuild(buildInfo, strict=False)', (c, a) => {
    const b = c.state.getBuild(a.buildInfo);
    if (!b) {
      if (a.strict) throw hubError('GenericError', `No such build: ${a.buildInfo}`);
      return null;
    }
    return buildInfo(c, b);
  });
  add('getImageBuild(buildInfo, strict=False)', (c, a) => {
    const b = c.state.getBuild(a.buildInfo);
    if (!b || !b.btypes.has('image')) {
      if (a.strict) throw hubError('GenericError', `no such image build: ${a.buildInfo}`);
      return null;
    }
    return { build_id: b.id };
  });
  add(
    'listArchives(buildID=None, buildrootID=None, componentBuildrootID=None, hostID=None, type=None, filename=None, size=None, checksum=None, checksum_type=None, typeInfo=None, queryOpts=None, imageID=None, archiveID=None, strict=False)',
    (c, a) => {
      let list = [...c.state.archives.values()].sort((x, y) => x.id - y.id);
      if (a.buildID !== null) list = list.filter((x) => x.buildId === Number(a.buildID));
      if (a.filename !== null) list = list.filter((x) => x.filename === a.filename);
      if (a.archiveID !== null) list = list.filter((x) => x.id === Number(a.archiveID));
      if (a.type !== null) list = list.filter((x) => x.btype === a.type);
      return list.map((x) => {
        const t = c.state.archiveTypes.find((y) => y.id === x.typeId)!;
        const out: XmlRpcStruct = {
          id: x.id, type_id: x.typeId, btype_id: BTYPES.indexOf(x.btype) + 1, btype: x.btype, build_id: x.buildId, buildroot_id: null,
          filename: x.filename, size: x.size, checksum: x.checksum, checksum_type: x.checksumType, metadata_only: false, extra: x.extra ?? null,
          type_name: t.name, type_description: t.description, type_extensions: t.extensions, compression_type: t.compression_type,
        };
        if (a.type === 'image') out.arch = x.arch;
        return out;
      });
    },
  );
  add('getArchiveTypes()', (c) => c.state.archiveTypes.map((t) => ({ ...t })));
  add('getArchiveType(filename=None, type_name=None, type_id=None, strict=False)', (c, a) => {
    let t = null;
    if (a.type_id !== null) t = c.state.archiveTypes.find((x) => x.id === a.type_id) ?? null;
    else if (a.type_name !== null) t = c.state.archiveTypes.find((x) => x.name === a.type_name) ?? null;
    else if (a.filename !== null) t = c.state.archiveTypeFor(String(a.filename));
    else throw hubError('GenericError', 'one of filename, type_name, or type_id must be specified');
    if (!t && a.strict) throw hubError('GenericError', `unsupported file extension: ${a.filename}`);
    return t ? { ...t } : null;
  });
  add('addArchiveType(name, description, extensions, compression_type=None)', (c, a) => {
    assertPerm(c, 'admin');
    c.dirty = true;
    c.state.addArchiveType(String(a.name), String(a.description), String(a.extensions), a.compression_type as string | null);
    return null;
  });
  add('listTagged(tag, event=None, inherit=False, prefix=None, latest=False, package=None, owner=None, type=None, strict=True, extra=False, draft=None)', (c, a) => {
    const t = c.state.getTagStrict(a.tag);
    let out = t.tagged.map((x) => ({ x, b: c.state.builds.get(x.buildId)! }));
    if (a.package !== null) out = out.filter(({ b }) => b.name === a.package);
    if (a.type !== null) out = out.filter(({ b }) => b.btypes.has(String(a.type)));
    out.sort((p, q) => q.x.event - p.x.event);
    if (a.latest) {
      const seen = new Set<string>();
      out = out.filter(({ b }) => (seen.has(b.name) ? false : (seen.add(b.name), true)));
    }
    return out.map(({ x, b }) => ({ ...buildInfo(c, b), tag_id: t.id, tag_name: t.name, create_event: x.event }));
  });
  add('tagBuild(tag, build, force=False, fromtag=None)', (c, a) => {
    assertLogin(c);
    const b = c.state.getBuildStrict(a.build);
    const t = c.state.getTagStrict(a.tag);
    const from = a.fromtag ? c.state.getTagStrict(a.fromtag) : null;
    if (b.state !== BUILD_STATES.COMPLETE) throw hubError('TagError', `build ${b.name}-${b.version}-${b.release} not complete: state ${BUILD_STATE_NAMES[b.state]}`);
    checkTagAccess(c, t, !!a.force);
    packageListCheck(c, t, b, !!a.force);
    c.dirty = true;
    return c.state.makeTask('tagBuild', [t.id, b.id, a.force, from?.id ?? null], { owner: c.user!.id, priority: 10 });
  });

  // ---- uploads
  add('uploadFile(path, name, size, md5sum, offset, data, volume=None, checksum=None)', (c, a) => {
    assertLogin(c);
    const contents = Buffer.from(String(a.data), 'base64');
    const offset = Number(a.offset);
    const size = a.size === null ? null : Number(a.size);
    const checksum = a.checksum ?? a.md5sum;
    let verify: string | null = null;
    let digest = '';
    if (typeof checksum === 'string') [verify, digest] = ['md5', checksum];
    else if (Array.isArray(checksum)) [verify, digest] = [String(checksum[0]), String(checksum[1])];
    const sum = (buf: Buffer) => (verify === 'adler32' ? new Adler32().update(buf).hexdigest() : createHash(verify === 'sha256' ? 'sha256' : 'md5').update(buf).digest('hex'));
    if (offset !== -1) {
      if (size !== null && size !== contents.length) return false;
      if (verify !== null && digest !== sum(contents)) return false;
    }
    const fn = uploadPath(c, l, String(a.path), String(a.name), true);
    if (fs.existsSync(fn)) {
      if (!fs.lstatSync(fn).isFile()) throw hubError('GenericError', `destination not a file: ${fn}`);
      if (offset === 0 && !fn.endsWith('.log')) throw hubError('GenericError', `file already exists: ${fn}`);
    }
    let cur = fs.existsSync(fn) ? fs.readFileSync(fn) : Buffer.alloc(0);
    if (offset === 0 || (offset === -1 && size === contents.length)) cur = Buffer.alloc(0);
    const at = offset === -1 ? cur.length : offset;
    let next = Buffer.alloc(Math.max(cur.length, at + contents.length));
    cur.copy(next);
    contents.copy(next, at);
    if (offset === -1 && size !== null) next = Buffer.concat([next, Buffer.alloc(Math.max(0, size - next.length))]).subarray(0, size);
    fs.writeFileSync(fn, next);
    recordFile(l, path.dirname(fn), path.basename(fn));
    if (offset === -1 && verify !== null && digest !== sum(next)) return false;
    return true;
  });
  add('checkUpload(path, name, verify=None, tail=None, volume=None)', (c, a) => {
    const fn = uploadPath(c, l, String(a.path), String(a.name), false);
    if (!fs.existsSync(fn)) return null;
    const st = fs.statSync(fn);
    if (!st.isFile()) throw hubError('GenericError', `Not a regular file: ${fn}`);
    const out: XmlRpcStruct = { size: st.size, mtime: double(st.mtimeMs / 1000) };
    if (a.verify) {
      let data = fs.readFileSync(fn);
      if (a.tail !== null) {
        if (Number(a.tail) < 0) throw hubError('GenericError', `Invalid tail value: ${a.tail}`);
        data = data.subarray(Math.max(st.size - Number(a.tail), 0));
      }
      out.sumlength = data.length;
      out.hexdigest = a.verify === 'adler32' ? new Adler32().update(data).hexdigest() : createHash(String(a.verify)).update(data).digest('hex');
    }
    return out;
  });

  // ---- host API
  const host = (sig: string, fn: (c: Ctx, a: Record<string, XmlRpcValue>, h: Host, extra: XmlRpcStruct) => XmlRpcValue) =>
    add(`host.${sig}`, (c, a, extra) => fn(c, a, verifyHost(c), extra));

  host('getID()', (c, a, h) => h.id);
  host('getHost()', (c, a, h) => hostInfo(h));
  host('updateHost(task_load, ready, data=None)', (c, a, h) => {
    c.dirty = true;
    h.taskLoad = Number(a.task_load);
    h.ready = !!a.ready;
    h.updateTs = nowTs();
    if (a.data !== null) h.data = a.data;
    return null;
  });
  host('setHostData(hostdata)', (c, a, h) => {
    c.dirty = true;
    h.data = typeof a.hostdata === 'string' ? (JSON.parse(a.hostdata) as XmlRpcValue) : a.hostdata;
    return null;
  });
  const tasksForHost = (c: Ctx, h: Host) => {
    let tasks = c.state.assignedTasks(h.id);
    if (!tasks.length) {
      // no assigned task: run the scheduler (at most once per interval) and look again
      if (c.state.runScheduler()) c.dirty = true;
      tasks = c.state.assignedTasks(h.id);
    }
    return tasks.map(schedTask);
  };
  host('getTasks()', (c, a, h) => tasksForHost(c, h));
  host('getLoadData()', (c, a, h) => {
    const info = hostInfo(h);
    info.channels = [...h.channels];
    return [[info], tasksForHost(c, h)];
  });
  host('openTask(task_id)', (c, a, h) => {
    const t = c.state.task(a.task_id);
    if (!c.state.lockTask(t, h.id, 'OPEN')) return null;
    c.dirty = true;
    return { ...taskInfo(t), request: t.request };
  });
  host('closeTask(task_id, response)', (c, a, h) => finish(c, a, h, TASK_STATES.CLOSED));
  host('failTask(task_id, response)', (c, a, h) => finish(c, a, h, TASK_STATES.FAILED));
  host('freeTasks(tasks)', (c, a, h) => {
    for (const id of a.tasks as number[]) {
      const t = c.state.tasks.get(id);
      if (!t || !(t.state === TASK_STATES.OPEN && t.hostId === h.id)) continue;
      c.dirty = true;
      c.state.freeTask(t);
    }
    return null;
  });
  host('refuseTask(task_id, soft=True, msg=\'\')', (c, a, h) => {
    const t = c.state.task(a.task_id);
    if (t.hostId !== h.id) return null;
    c.dirty = true;
    if (!c.state.refusals.has(t.id)) c.state.refusals.set(t.id, new Set());
    c.state.refusals.get(t.id)!.add(h.id);
    c.state.freeTask(t);
    return null;
  });
  host('setTaskWeight(task_id, weight)', (c, a, h) => {
    const t = assertTaskHost(c, Number(a.task_id), h);
    c.dirty = true;
    t.weight = Number(a.weight);
    return null;
  });
  host('getHostTasks()', (c, a, h) =>
    [...c.state.tasks.values()]
      .filter((t) => t.hostId === h.id && t.state === TASK_STATES.OPEN)
      .map((t) => {
        const out: XmlRpcStruct = { id: t.id, waiting: t.waiting, weight: double(t.weight) };
        if (t.waiting && waitCheck(c, t.id)[0].length) out.alert = true;
        return out;
      }),
  );
  host('taskSetWait(parent, tasks)', (c, a) => {
    const parent = c.state.task(a.parent);
    c.dirty = true;
    parent.waiting = true;
    const children = [...c.state.tasks.values()].filter((t) => t.parent === parent.id);
    if (a.tasks === null) for (const t of children) t.awaited = true;
    else if (Array.isArray(a.tasks) && a.tasks.length) {
      const ids = new Set(a.tasks.map(Number));
      for (const t of children) {
        if (ids.has(t.id)) t.awaited = true;
        else if (t.awaited === true) t.awaited = false;
      }
    }
    return null;
  });
  host('taskWait(parent)', (c, a) => {
    const [finished, unfinished] = waitCheck(c, Number(a.parent));
    finished.sort((x, y) => x - y);
    if (finished.length) c.dirty = true;
    for (const id of finished) c.state.tasks.get(id)!.awaited = false;
    return [finished, unfinished];
  });
  host('taskUnwait(parent)', (c, a) => {
    unwait(c, Number(a.parent));
    return null;
  });
  host('taskWaitResults(parent, tasks, canfail=None)', (c, a) => {
    const parent = Number(a.parent);
    const canfail = new Set(((a.canfail ?? []) as number[]).map(Number));
    unwait(c, parent);
    let ids = a.tasks as number[] | null;
    if (ids === null) {
      ids = [...c.state.tasks.values()].filter((t) => t.parent === parent && c.state.isFinished(t)).map((t) => t.id);
    }
    return ids.map((id) => {
      const t = c.state.task(id);
      const raise = !canfail.has(t.id);
      try {
        return [t.id, taskResult(t, raise)];
      } catch (e) {
        if (!raise && t.state === TASK_STATES.CANCELED && e instanceof HubError) return [t.id, { faultCode: 1000, faultString: e.message }];
        throw e;
      }
    });
  });
  host('subtask(method, arglist, parent, **opts)', (c, a, h, opts) => {
    assertTaskHost(c, Number(a.parent), h);
    if ('owner' in opts) throw hubError('ActionNotAllowed', 'The owner option is not allowed here');
    if ('label' in opts && opts.label !== null) {
      // an existing child with this label is returned instead (restarted parents stay idempotent)
      const dup = [...c.state.tasks.values()].find((t) => t.parent === Number(a.parent) && t.label === opts.label);
      if (dup) return dup.id;
    }
    let arglist = a.arglist as XmlRpcValue[];
    if (isStruct(opts.kwargs)) arglist = [...arglist, { ...opts.kwargs, __starstar: true }];
    c.dirty = true;
    return c.state.makeTask(String(a.method), arglist, {
      parent: Number(a.parent),
      label: (opts.label as string | undefined) ?? null,
      arch: opts.arch as string | undefined,
      priority: opts.priority as number | undefined,
      channel: opts.channel as string | undefined,
    });
  });

  // buildroots: the double only hands out ids (no buildroot bookkeeping)
  let nextBr = 1;
  host('newBuildRoot(repo, arch, task_id=None)', (c) => ((c.dirty = true), nextBr++));
  host('setBuildRootState(brootid, state, task_id=None)', () => null);
  host('setBuildRootList(brootid, rpmlist, task_id=None)', () => null);
  host('updateBuildRootList(brootid, rpmlist, task_id=None)', () => null);

  host('initImageBuild(task_id, build_info)', (c, a, h) => {
    const t = assertTaskHost(c, Number(a.task_id), h);
    // the hub's dict: the request, then these four (in this order; faults print it)
    const data: XmlRpcStruct = { ...(a.build_info as XmlRpcStruct), task_id: t.id, owner: t.owner, state: BUILD_STATES.BUILDING, completion_time: null };
    // an existing NVR is reused (restart, FAILED/CANCELED recycle) or refused: see builds.ts.
    // A refusal changes nothing (all checks come before any change).
    const id = getNextBuild(c.state, data, { removeBuildDir: (b) => fs.rmSync(buildDir(l, b), { recursive: true, force: true }) });
    c.dirty = true;
    data.id = id;
    // new_image_build: the image type row (recycling cleared the old one)
    c.state.builds.get(id)!.btypes.add('image');
    return data;
  });
  host('completeImageBuild(task_id, build_id, results)', (c, a, h) => {
    const t = assertTaskHost(c, Number(a.task_id), h);
    const b = c.state.getBuildStrict(a.build_id);
    const results = Object.values(a.results as XmlRpcStruct).filter((r): r is XmlRpcStruct => isStruct(r) && 'task_id' in r);
    // all checks first, so a refused import leaves the task's files where they were
    const bdir = buildDir(l, b);
    const applyRpms: (() => void)[] = [];
    for (const r of results) {
      const work = path.join(l.topdir, 'work', taskRelDir(Number(r.task_id)));
      for (const f of r.files as string[]) {
        if (!c.state.archiveTypeFor(f)) throw hubError('BuildError', `Unsupported file type: ${f}`);
        const src = path.join(work, f);
        if (!fs.existsSync(src) || fs.lstatSync(src).isSymbolicLink()) throw hubError('GenericError', `Error importing archive file, ${src} is not a regular file`);
        if (fs.existsSync(path.join(bdir, 'images', f))) throw hubError('GenericError', `Error importing archive file, ${path.join(bdir, 'images', f)} already exists`);
      }
      // importImageInternal then looks up every rpmlist entry (get_rpm strict / add_external_rpm);
      // the real hub does this after moving the files, so its failure leaves them in packages/
      applyRpms.push(checkImageRpmlist(c.state, r.rpmlist ?? []));
    }
    c.dirty = true;
    for (const apply of applyRpms) apply();
    for (const r of results) {
      const work = path.join(l.topdir, 'work', taskRelDir(Number(r.task_id)));
      for (const f of r.files as string[]) {
        const type = c.state.archiveTypeFor(f)!;
        const src = path.join(work, f);
        const data = fs.readFileSync(src);
        const id = c.state.take('archive');
        c.state.archives.set(id, {
          id, buildId: b.id, typeId: type.id, btype: 'image', filename: f, size: data.length,
          checksum: createHash('sha256').update(data).digest('hex'), checksumType: 2, arch: String(r.arch), extra: null,
        });
        moveAndSymlink(src, path.join(bdir, 'images', f));
      }
      // logs go to data/logs/image/<arch>/ (arch subdir: the method is not a legacy image one)
      for (const f of fs.existsSync(work) ? fs.readdirSync(work) : []) {
        const src = path.join(work, f);
        if (!f.endsWith('.log') || fs.lstatSync(src).isSymbolicLink()) continue;
        moveAndSymlink(src, path.join(bdir, 'data', 'logs', 'image', String(r.arch), f));
      }
    }
    b.state = BUILD_STATES.COMPLETE;
    b.completionTs = nowTs();
    return null;
  });
  host('moveImageBuildToScratch(task_id, results)', (c, a, h) => {
    const t = assertTaskHost(c, Number(a.task_id), h);
    if (!isStruct(a.results)) throw hubError('ParameterError', `Invalid type for value '${a.results}': ${typeof a.results}`);
    const owner = c.state.users.get(t.owner)!.name;
    c.dirty = true;
    for (const r of Object.values(a.results)) {
      if (!isStruct(r) || !('task_id' in r)) continue;
      const work = path.join(l.topdir, 'work', taskRelDir(Number(r.task_id)));
      const dest = path.join(l.topdir, 'scratch', owner, `task_${r.task_id}`);
      for (const f of [...(r.files as string[]), ...(r.logs as string[])]) moveAndSymlink(path.join(work, f), path.join(dest, f));
    }
    return null;
  });
  host('failBuild(task_id, build_id)', (c, a, h) => {
    assertTaskHost(c, Number(a.task_id), h);
    const b = c.state.getBuildStrict(a.build_id);
    if (b.state !== BUILD_STATES.BUILDING) throw hubError('GenericError', `cannot update build ${b.id}, state: ${BUILD_STATE_NAMES[b.state]}`);
    if (b.completionTs !== null) throw hubError('GenericError', `cannot update build ${b.id}, completed at ${tsString(b.completionTs)}`);
    c.dirty = true;
    b.state = BUILD_STATES.FAILED;
    b.completionTs = nowTs();
    return null;
  });
  host('tagBuild(task_id, tag, build, force=False, fromtag=None)', (c, a, h) => {
    const t = assertTaskHost(c, Number(a.task_id), h);
    const b = c.state.getBuildStrict(a.build);
    const tag = c.state.getTagStrict(a.tag);
    const owner = c.state.users.get(t.owner)!;
    // tag policy (hub default): admins, and the build's owner, may tag
    if (!owner.perms.has('admin') && owner.id !== b.ownerId && !a.force) throw hubError('ActionNotAllowed', `policy violation (tag)`);
    const pkg = tag.packages.get(b.name);
    const err = !pkg ? `Package ${b.name} not in list for ${a.tag}` : pkg.blocked ? `Package ${b.name} blocked in ${a.tag}` : null;
    if (err) {
      if (a.force && owner.perms.has('admin')) tag.packages.set(b.name, { blocked: false, ownerId: owner.id });
      else throw hubError('TagError', err);
    }
    c.dirty = true;
    if (a.fromtag) {
      const from = c.state.getTagStrict(a.fromtag);
      if (from.tagged.some((x) => x.buildId === b.id)) (from.changes ??= []).push(c.state.take('event'));
      from.tagged = from.tagged.filter((x) => x.buildId !== b.id);
    }
    if (tag.tagged.some((x) => x.buildId === b.id)) {
      if (!a.force) throw hubError('TagError', `build ${b.name}-${b.version}-${b.release} already tagged (${tag.name})`);
    } else tag.tagged.push({ buildId: b.id, event: c.state.take('event'), ts: nowTs(), by: owner.id });
    c.state.tagHistory.add(b.id);
    return null;
  });
  host("tagNotification(is_successful, tag_id, from_id, build_id, user_id, ignore_success=False, failure_msg='')", (c, a) => {
    c.state.tagNotifications.push([a.is_successful, a.tag_id, a.from_id, a.build_id, a.user_id, a.ignore_success, a.failure_msg]);
    return null;
  });

  return H;
}

function finish(c: Ctx, a: Record<string, XmlRpcValue>, h: Host, state: number): XmlRpcValue {
  const t = assertTaskHost(c, Number(a.task_id), h);
  c.dirty = true;
  t.result = String(a.response);
  t.state = state;
  t.completionTs = nowTs();
  return null;
}

function waitCheck(c: Ctx, parent: number): [number[], number[]] {
  const finished: number[] = [];
  const unfinished: number[] = [];
  for (const t of c.state.tasks.values()) {
    if (t.parent !== parent || t.awaited !== true) continue;
    (c.state.isFinished(t) ? finished : unfinished).push(t.id);
  }
  return [finished, unfinished];
}

function unwait(c: Ctx, parent: number): void {
  c.dirty = true;
  c.state.task(parent).waiting = false;
  for (const t of c.state.tasks.values()) if (t.parent === parent) t.awaited = false;
}

function checkTagAccess(c: Ctx, t: Tag, force: boolean): void {
  if (t.locked && !(force && hasPerm(c, 'admin'))) throw hubError('ActionNotAllowed', `tag ${t.name} is locked`);
  if (t.perm && !hasPerm(c, t.perm) && !hasPerm(c, 'admin')) throw hubError('ActionNotAllowed', `${t.perm} permission required`);
}

function packageListCheck(c: Ctx, t: Tag, b: Build, force: boolean): void {
  const p = t.packages.get(b.name);
  const err = !p ? `Package ${b.name} not in list for ${t.name}` : p.blocked ? `Package ${b.name} blocked in ${t.name}` : null;
  if (!err) return;
  if (force && hasPerm(c, 'admin')) t.packages.set(b.name, { blocked: false, ownerId: c.user!.id });
  else throw hubError('TagError', err);
}
