// The Koji "database" of the hub double: users, sessions, hosts, channels, tags, targets, builds,
// archives, repos and tasks, with the hub-internal operations that act on them (make_task,
// the scheduler, archive-type matching, release increments). Everything is in memory; files
// live under topdir like on a real hub. Numbers and rules follow Koji 1.35.3
// (kojihub/kojihub.py, kojihub/scheduler.py, schemas/schema.sql).

import { encodeCall, type XmlRpcStruct, type XmlRpcValue } from '../../../src/koji/xmlrpc.js';
import { SCHEMA_ARCHIVE_TYPES } from './archivetypes.js';

export const TASK_STATES = { FREE: 0, OPEN: 1, CLOSED: 2, CANCELED: 3, ASSIGNED: 4, FAILED: 5 } as const;
export const TASK_STATE_NAMES = ['FREE', 'OPEN', 'CLOSED', 'CANCELED', 'ASSIGNED', 'FAILED'];
export const BUILD_STATES = { BUILDING: 0, COMPLETE: 1, DELETED: 2, FAILED: 3, CANCELED: 4 } as const;
export const BUILD_STATE_NAMES = ['BUILDING', 'COMPLETE', 'DELETED', 'FAILED', 'CANCELED'];
export const REPO_STATES = { INIT: 0, READY: 1, EXPIRED: 2, DELETED: 3, PROBLEM: 4 } as const;
export const PRIO_DEFAULT = 20;
/** schemas/schema.sql channel rows, in id order. */
export const SCHEMA_CHANNELS = ['default', 'createrepo', 'maven', 'livecd', 'appliance', 'vm', 'image', 'livemedia'];
/** schemas/schema.sql btype rows, in id order. */
export const BTYPES = ['rpm', 'maven', 'win', 'image'];

/** A fault the hub raises: Koji class name + message (code from src/koji/faults.ts). */
export class HubError extends Error {
  constructor(readonly kojiName: string, message: string) {
    super(message);
  }
}
export const hubError = (name: string, msg: string) => new HubError(name, msg);

export interface User {
  id: number;
  name: string;
  password: string | null;
  perms: Set<string>;
  status: number; // 0 NORMAL, 1 BLOCKED
  usertype: number; // 0 NORMAL, 1 HOST
}

export interface Session {
  id: number;
  key: string;
  userId: number;
  authtype: number;
  callnum: number | null;
  exclusive: boolean;
  expired: boolean;
  closed: boolean;
  startTs: number;
  renewTs: number | null;
}

export interface Host {
  id: number;
  userId: number;
  name: string;
  arches: string;
  capacity: number;
  enabled: boolean;
  channels: number[];
  ready: boolean;
  taskLoad: number;
  updateTs: number | null;
  data: XmlRpcValue;
  description: string | null;
  comment: string | null;
}

export interface Task {
  id: number;
  state: number;
  createTs: number;
  startTs: number | null;
  completionTs: number | null;
  channelId: number;
  hostId: number | null;
  parent: number | null;
  label: string | null;
  waiting: boolean | null;
  awaited: boolean | null;
  owner: number;
  method: string;
  arch: string;
  priority: number;
  weight: number;
  /** the methodCall XML, as the hub stores it */
  request: string;
  /** serialized methodResponse / fault handed to closeTask / failTask */
  result: string | null;
}

export interface Tag {
  id: number;
  name: string;
  arches: string | null;
  locked: boolean;
  perm: string | null;
  extra: XmlRpcStruct;
  /** package name -> blocked */
  packages: Map<string, { blocked: boolean; ownerId: number }>;
  tagged: { buildId: number; event: number; ts: number; by: number }[];
  /**
   * events that changed the tag other than tagging (creation, untagging, package list): with
   * the tagging events they give tag_last_change_event / tag_first_change_event
   */
  changes?: number[];
}

export interface Target {
  id: number;
  name: string;
  buildTag: number;
  destTag: number;
}

export interface Build {
  id: number;
  pkgId: number;
  name: string;
  version: string;
  release: string;
  epoch: number | null;
  state: number;
  taskId: number | null;
  ownerId: number;
  createEvent: number;
  createTs: number;
  startTs: number | null;
  completionTs: number | null;
  extra: XmlRpcValue;
  btypes: Set<string>;
}

export interface Archive {
  id: number;
  buildId: number;
  typeId: number;
  btype: string;
  filename: string;
  size: number;
  checksum: string;
  checksumType: number;
  arch: string;
  extra: XmlRpcValue;
}

export interface ArchiveType {
  id: number;
  name: string;
  description: string;
  extensions: string;
  compression_type: string | null;
}

/** repo.opts (the hub stores jsonb, which orders keys by length: this order) */
export interface RepoOpts {
  src: boolean;
  maven: boolean;
  debuginfo: boolean;
  separate_src: boolean;
}

export interface Repo {
  id: number;
  tagId: number;
  state: number;
  createEvent: number;
  /** time of the create event (create_ts) */
  createTs: number;
  /** the last tag change at or before the create event */
  beginEvent: number;
  /** the first tag change after the create event (null while the tag has not changed) */
  endEvent: number | null;
  /** time the row was inserted (creation_time) and last changed state (state_time) */
  creationTs: number;
  stateTs: number;
  taskId: number | null;
  dist: boolean;
  opts: RepoOpts;
  /** the options that differ from the tag's defaults */
  customOpts: Partial<RepoOpts>;
}

/** A repo_queue row (kojihub/repos.py request_repo). */
export interface RepoRequest {
  id: number;
  ownerId: number;
  priority: number;
  tagId: number;
  atEvent: number | null;
  minEvent: number | null;
  opts: Partial<RepoOpts>;
  createTs: number;
  updateTs: number;
  active: boolean;
  taskId: number | null;
  tries: number;
  repoId: number | null;
}

/** Wall-clock seconds with microseconds, as the hub's date_part('epoch', ...) gives. */
export const nowTs = (): number => Math.round(Date.now() * 1000) / 1e6;

/** The hub's timestamp strings: "2026-11-27 03:16:03.652186+00:00". */
export function tsString(ts: number | null): string | null {
  if (ts === null) return null;
  const d = new Date(Math.floor(ts * 1000));
  const micro = Math.round((ts - Math.floor(ts)) * 1e6).toString().padStart(6, '0');
  const p = (n: number, w = 2) => n.toString().padStart(w, '0');
  return (
    `${p(d.getUTCFullYear(), 4)}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())} ` +
    `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}.${micro}+00:00`
  );
}

export interface SchedulerConfig {
  runIntervalMs: number;
  readyTimeoutMs: number;
  assignTimeoutMs: number;
  hostTimeoutMs: number;
  maxJobs: number;
  capacityOvercommit: number;
}

export class HubState {
  users = new Map<number, User>();
  sessions = new Map<number, Session>();
  hosts = new Map<number, Host>();
  channels = SCHEMA_CHANNELS.map((name, i) => ({ id: i + 1, name, enabled: true }));
  tags = new Map<number, Tag>();
  targets = new Map<number, Target>();
  packages = new Map<string, number>();
  builds = new Map<number, Build>();
  archives = new Map<number, Archive>();
  archiveTypes: ArchiveType[] = SCHEMA_ARCHIVE_TYPES.map(([name, description, extensions, compression_type], i) => ({
    id: i + 1, name, description, extensions, compression_type,
  }));
  repos = new Map<number, Repo>();
  repoRequests = new Map<number, RepoRequest>();
  /** event id -> time (the hub's events table) */
  eventTimes = new Map<number, number>();
  tasks = new Map<number, Task>();
  /** builds that were ever tagged (the hub's tag_listing keeps untagged rows: recycle_build refuses them) */
  tagHistory = new Set<number>();
  /** host.tagNotification calls, for tests to look at */
  tagNotifications: XmlRpcValue[][] = [];
  /** scheduler: task id -> host ids that refused it (soft refusals are not timed out here) */
  refusals = new Map<number, Set<number>>();
  /** scheduler_task_runs: task id -> assignment time (absent for admin overrides) */
  taskRuns = new Map<number, number>();
  lastSchedulerRun = 0;
  schedulerRuns = 0;

  // id counters; tests seed them so ids match a recording
  nextId = { user: 1, session: 1, host: 1, tag: 1, target: 1, package: 1, build: 1, archive: 1, repo: 1, task: 1, event: 1, repoRequest: 1 };

  constructor(readonly scheduler: SchedulerConfig) {}

  take(kind: keyof HubState['nextId']): number {
    const id = this.nextId[kind]++;
    if (kind === 'event') this.eventTimes.set(id, nowTs());
    return id;
  }

  // ------------------------------------------------------------------------------ lookups

  userByName(name: string): User | undefined {
    return [...this.users.values()].find((u) => u.name === name);
  }

  getUser(info: XmlRpcValue): User | undefined {
    return typeof info === 'number' ? this.users.get(info) : this.userByName(String(info));
  }

  hostByUser(userId: number): Host | undefined {
    return [...this.hosts.values()].find((h) => h.userId === userId);
  }

  getTag(info: XmlRpcValue): Tag | undefined {
    if (typeof info === 'number') return this.tags.get(info);
    if (info !== null && typeof info === 'object' && !Array.isArray(info)) {
      const s = info as XmlRpcStruct;
      return this.getTag((s.id ?? s.name) as XmlRpcValue);
    }
    return [...this.tags.values()].find((t) => t.name === info);
  }

  getTagStrict(info: XmlRpcValue): Tag {
    const t = this.getTag(info);
    if (!t) throw hubError('GenericError', `No such tagInfo: ${pyReprShort(info)}`);
    return t;
  }

  getTarget(info: XmlRpcValue): Target | undefined {
    if (typeof info === 'number') return this.targets.get(info);
    return [...this.targets.values()].find((t) => t.name === info);
  }

  getBuild(info: XmlRpcValue): Build | undefined {
    if (typeof info === 'number') return this.builds.get(info);
    if (typeof info === 'string') {
      if (/^\d+$/.test(info)) return this.builds.get(Number(info));
      return [...this.builds.values()].find((b) => `${b.name}-${b.version}-${b.release}` === info);
    }
    if (info && typeof info === 'object' && !Array.isArray(info)) {
      const s = info as XmlRpcStruct;
      if (typeof s.id === 'number') return this.builds.get(s.id);
      return [...this.builds.values()].find((b) => b.name === s.name && b.version === s.version && b.release === s.release);
    }
    return undefined;
  }

  getBuildStrict(info: XmlRpcValue): Build {
    const b = this.getBuild(info);
    if (!b) throw hubError('GenericError', `No such build: ${typeof info === 'object' ? JSON.stringify(info) : String(info)}`);
    return b;
  }

  channelByName(name: string) {
    return this.channels.find((c) => c.name === name);
  }

  task(id: XmlRpcValue): Task {
    const t = this.tasks.get(Number(id));
    if (!t) throw hubError('GenericError', `No such task: ${id}`);
    return t;
  }

  // ------------------------------------------------------------------------------ seeding helpers

  addUser(name: string, password: string | null, perms: string[] = [], usertype = 0): User {
    const u: User = { id: this.take('user'), name, password, perms: new Set(perms), status: 0, usertype };
    this.users.set(u.id, u);
    return u;
  }

  packageId(name: string): number {
    let id = this.packages.get(name);
    if (id === undefined) {
      id = this.take('package');
      this.packages.set(name, id);
    }
    return id;
  }

  // ------------------------------------------------------------------------------ archive types

  /** kojihub get_archive_type(filename): longest dotted suffix first; >1 match is a misconfiguration. */
  archiveTypeFor(filename: string): ArchiveType | null {
    const parts = filename.toLowerCase().split('.');
    for (let start = 0; start < parts.length; start++) {
      const ext = parts.slice(start).join('.');
      const hits = this.archiveTypes.filter((t) => t.extensions.split(/\s+/).some((e) => e.toLowerCase() === ext));
      if (hits.length === 1) return hits[0];
      if (hits.length > 1) throw hubError('GenericError', `multiple matches for file extension: ${ext}`);
    }
    return null;
  }

  addArchiveType(name: string, description: string, extensions: string, compression: string | null): void {
    if (compression !== null && compression !== 'zip' && compression !== 'tar') {
      throw hubError('GenericError', `Unsupported compression type ${compression}`);
    }
    if (this.archiveTypes.some((t) => t.name === name)) throw hubError('GenericError', `archivetype ${name} already exists`);
    for (const ext of extensions.split(' ')) {
      if (!/^[A-Za-z0-9]+$/.test(ext.replace(/\./g, ''))) throw hubError('GenericError', `No such ${ext} file extension`);
      const re = new RegExp(`(\\s|^)${ext.replace(/\./g, '.')}(\\s|$)`, 'i');
      if (this.archiveTypes.some((t) => re.test(t.extensions))) throw hubError('GenericError', `file extension ${ext} already exists`);
    }
    this.archiveTypes.push({ id: this.archiveTypes.length + 1, name, description, extensions, compression_type: compression });
  }

  // ------------------------------------------------------------------------------ builds

  /** kojihub get_next_release. */
  nextRelease(name: string, version: string, incr = 1): string {
    const latest = [...this.builds.values()]
      .filter((b) => b.name === name && b.version === version && ([BUILD_STATES.COMPLETE, BUILD_STATES.DELETED, BUILD_STATES.BUILDING] as number[]).includes(b.state))
      .sort((a, b) => b.id - a.id)[0];
    const release = latest?.release;
    if (!release) return String(incr);
    if (/^\d+$/.test(release)) return String(Number(release) + incr);
    const parts = release.split('.');
    if (parts.length === 2 && /^\d+$/.test(parts[0])) return [String(Number(parts[0]) + incr), parts[1]].join('.');
    if (parts.length === 3 && /^\d+$/.test(parts[2])) return [parts[0], parts[1], String(Number(parts[2]) + incr)].join('.');
    throw hubError('BuildError', `Unable to increment release value: ${release}`);
  }

  // ------------------------------------------------------------------------------ tasks

  /**
   * kojihub make_task with the default channel policy (requested channel; child task ->
   * parent's channel; otherwise "default") and no priority policy.
   */
  makeTask(method: string, arglist: XmlRpcValue[], opts: { parent?: number; label?: string | null; owner?: number; channel?: string; arch?: string; priority?: number }): number {
    let owner = opts.owner;
    let arch = opts.arch;
    let priority = opts.priority;
    let channelId: number;
    let label: string | null = null;
    if (opts.parent !== undefined && opts.parent !== null) {
      const p = this.tasks.get(opts.parent);
      if (!p) throw hubError('GenericError', `Invalid parent task: ${opts.parent}`);
      if (p.state !== TASK_STATES.OPEN) throw hubError('GenericError', `Parent task (id ${opts.parent}) is not open`);
      priority ??= p.priority - 1;
      owner ??= p.owner;
      arch ??= p.arch;
      label = opts.label ?? null;
      channelId = p.channelId;
    } else {
      priority ??= PRIO_DEFAULT;
      arch ??= 'noarch';
      if (owner === undefined) throw hubError('GenericError', 'task must have an owner');
      channelId = this.channelByName('default')!.id;
    }
    if (opts.channel !== undefined) {
      const c = this.channelByName(opts.channel);
      if (!c) throw hubError('GenericError', `No such channel: ${opts.channel}`);
      if (!c.enabled) throw hubError('GenericError', `Channel ${opts.channel} is disabled.`);
      channelId = c.id;
    }
    const t: Task = {
      id: this.take('task'), state: TASK_STATES.FREE, createTs: nowTs(), startTs: null, completionTs: null,
      channelId, hostId: null, parent: opts.parent ?? null, label, waiting: null, awaited: null, owner: owner!,
      method, arch, priority, weight: 1.0, request: encodeCall(method, arglist), result: null,
    };
    this.tasks.set(t.id, t);
    return t.id;
  }

  /** Task.lock(host, newstate): the transition rules of kojihub, false when not possible. */
  lockTask(t: Task, hostId: number, newState: 'OPEN' | 'ASSIGNED'): boolean {
    if (t.state === TASK_STATES.FREE) {
      if (t.hostId !== null) return false;
    } else if (t.state === TASK_STATES.ASSIGNED) {
      if (t.hostId === null || t.hostId !== hostId) return false;
      if (newState === 'ASSIGNED') return true;
    } else return false;
    t.state = TASK_STATES[newState];
    t.hostId = hostId;
    if (newState === 'OPEN') t.startTs = nowTs();
    return true;
  }

  freeTask(t: Task): void {
    if (([TASK_STATES.CLOSED, TASK_STATES.CANCELED, TASK_STATES.FAILED] as number[]).includes(t.state)) {
      throw hubError('GenericError', `Cannot free task ${t.id}, state is ${TASK_STATE_NAMES[t.state]}`);
    }
    t.state = TASK_STATES.FREE;
    t.hostId = null;
  }

  /** Task.cancel: true if canceled (or already), false if it had finished. Cancels BUILDING builds of the task. */
  cancelTask(t: Task, recurse: boolean): boolean {
    if (t.state === TASK_STATES.CANCELED) return true;
    if (t.state === TASK_STATES.CLOSED || t.state === TASK_STATES.FAILED) return false;
    t.state = TASK_STATES.CANCELED;
    t.completionTs = nowTs();
    for (const b of this.builds.values()) {
      if (b.taskId === t.id && b.state === BUILD_STATES.BUILDING) {
        b.state = BUILD_STATES.CANCELED;
        b.completionTs = nowTs();
      }
    }
    if (recurse) for (const c of this.tasks.values()) if (c.parent === t.id) this.cancelTask(c, true);
    return true;
  }

  isFinished(t: Task): boolean {
    return ([TASK_STATES.CLOSED, TASK_STATES.CANCELED, TASK_STATES.FAILED] as number[]).includes(t.state);
  }

  /** ASSIGNED tasks of a host, ordered like scheduler.get_tasks_for_host. */
  assignedTasks(hostId: number): Task[] {
    return [...this.tasks.values()]
      .filter((t) => t.hostId === hostId && t.state === TASK_STATES.ASSIGNED)
      .sort((a, b) => a.priority - b.priority || a.createTs - b.createTs);
  }

  // ------------------------------------------------------------------------------ scheduler

  /**
   * One run of kojihub's TaskScheduler (scheduler.py): skipped when the last run was less
   * than runIntervalMs ago (unless forced). Returns whether it ran (a run writes the
   * last-run timestamp, so it counts as a database change).
   */
  runScheduler(force = false): boolean {
    const now = Date.now();
    if (!force && now - this.lastSchedulerRun < this.scheduler.runIntervalMs) return false;
    this.lastSchedulerRun = now;
    this.schedulerRuns++;
    const cfg = this.scheduler;
    const nowS = now / 1000;

    // hosts: enabled ones, binned by channel:arch (+noarch); stale ready flags dropped
    interface HInfo { host: Host; load: number; ntasks: number; maxjobs: number; demand: number; rank: number }
    const hinfo = new Map<number, HInfo>();
    const bins = new Map<string, HInfo[]>();
    for (const h of this.hosts.values()) {
      if (!h.enabled) continue;
      if (h.ready && (h.updateTs === null || nowS - h.updateTs > cfg.readyTimeoutMs / 1000)) h.ready = false;
      const data = (h.data ?? {}) as XmlRpcStruct;
      const info: HInfo = { host: h, load: 0, ntasks: 0, maxjobs: (data.maxjobs as number) || cfg.maxJobs, demand: 0, rank: 0 };
      hinfo.set(h.id, info);
      for (const ch of h.channels) {
        for (const arch of [...h.arches.split(/\s+/).filter(Boolean), 'noarch']) {
          const key = `${ch}:${arch}`;
          if (!bins.has(key)) bins.set(key, []);
          bins.get(key)!.push(info);
        }
      }
    }
    const active = [...this.tasks.values()].filter((t) => (t.state === TASK_STATES.ASSIGNED || t.state === TASK_STATES.OPEN) && t.hostId !== null);
    for (const t of active) {
      const h = hinfo.get(t.hostId!);
      if (!h) continue;
      if (!t.waiting) h.load += t.weight;
      h.ntasks++;
    }
    const free = [...this.tasks.values()]
      .filter((t) => t.state === TASK_STATES.FREE)
      .sort((a, b) => a.priority - b.priority || a.createTs - b.createTs)
      .slice(0, 1000);
    const candidates = new Map<number, HInfo[]>();
    for (const t of free) {
      const minAvail = Math.max(0, t.weight - cfg.capacityOvercommit);
      const refused = this.refusals.get(t.id) ?? new Set<number>();
      const hs = (bins.get(`${t.channelId}:${t.arch}`) ?? []).filter(
        (h) => h.host.ready && h.ntasks < h.maxjobs && h.host.capacity - h.load > minAvail && !refused.has(h.host.id),
      );
      candidates.set(t.id, hs);
      for (const h of hs) h.demand += t.weight / hs.length;
    }
    const total = [...hinfo.values()].reduce((s, h) => s + h.demand, 0);
    for (const h of hinfo.values()) {
      if (total > 0) h.demand /= total;
      h.rank = h.load + h.ntasks + h.demand;
    }
    for (const t of free) {
      const minAvail = Math.max(0, t.weight - cfg.capacityOvercommit);
      const hs = candidates.get(t.id)!.sort((a, b) => a.rank - b.rank);
      for (const h of hs) {
        if (h.host.capacity - h.load > minAvail && h.ntasks < h.maxjobs) {
          if (this.lockTask(t, h.host.id, 'ASSIGNED')) this.taskRuns.set(t.id, now);
          h.load += t.weight;
          h.ntasks++;
          h.rank = h.load + h.ntasks + h.demand;
          break;
        }
      }
    }
    // stale assignments and silent hosts give their tasks back
    for (const t of active) {
      const h = this.hosts.get(t.hostId!);
      const run = this.taskRuns.get(t.id);
      if (!h || run === undefined) continue; // override assignments are left alone
      if (t.state === TASK_STATES.ASSIGNED && now - run > cfg.assignTimeoutMs) {
        if (h.updateTs !== null && h.updateTs * 1000 > run) {
          if (!this.refusals.has(t.id)) this.refusals.set(t.id, new Set());
          this.refusals.get(t.id)!.add(h.id);
        }
        this.freeTask(t);
      } else if (t.state === TASK_STATES.OPEN) {
        const age = h.updateTs === null ? now - run : now - h.updateTs * 1000;
        if (age > cfg.hostTimeoutMs) this.freeTask(t);
      }
    }
    for (const id of [...this.taskRuns.keys()]) {
      const t = this.tasks.get(id);
      if (!t || (t.state !== TASK_STATES.OPEN && t.state !== TASK_STATES.ASSIGNED)) this.taskRuns.delete(id);
    }
    return true;
  }
}

function pyReprShort(v: XmlRpcValue): string {
  return typeof v === 'string' ? `'${v}'` : String(v);
}
