// Build tag repos in the hub double, as Koji 1.35.3 has them (kojihub/repos.py, kojihub.py
// repo_init / repo_set_state / tag_last_change_event): repo rows with their events and options,
// the repo request queue (repo.request / repo.checkRequest / repo.get), the legacy getRepo
// query, and a simulated repo manager that plays kojira + a createrepo host's newRepo task.
//
// Shapes were checked against a real 1.35.3 hub: query rows (RepoQuery / RepoQueueQuery with
// fields '**') come back with their keys in alphabetical order, repo opts in the jsonb order
// src, maven, debuginfo, separate_src; a request struct has `tries` 0 (not nil) until kojira
// makes a task; request_repo returns {repo, request, duplicate}, check_repo_request
// {repo, request} plus `task` (the newRepo task's info) while a task is working on it.

import { double, type XmlRpcStruct, type XmlRpcValue } from '../../../src/koji/xmlrpc.js';
import { assertLogin, assertPerm, def, hasPerm, type Handler } from './dispatch.js';
import { taskInfo } from './handlers.js';
import {
  hubError, nowTs, PRIO_DEFAULT, REPO_STATES, TASK_STATES, tsString,
  type HubState, type Repo, type RepoOpts, type RepoRequest, type Tag,
} from './model.js';

const REPO_STATE_NAMES = ['INIT', 'READY', 'EXPIRED', 'DELETED', 'PROBLEM'];
const OPT_KEYS: (keyof RepoOpts)[] = ['src', 'maven', 'debuginfo', 'separate_src'];
/** hub.conf defaults of 1.35.3 (kojixmlrpc.py) */
export const REPO_DEFAULTS = { RepoLag: 3600, RepoLagWindow: 600, RepoRetries: 3, MaxRepoTasks: 10 };

const d = (n: number | null | undefined) => (n === null || n === undefined ? null : double(n));

// ------------------------------------------------------------------------------ tag events

function tagEvents(t: Tag): number[] {
  return [...(t.changes ?? []), ...t.tagged.map((x) => x.event)];
}

/** tag_last_change_event (no inheritance in the double): the newest change before `before`. */
export function tagLastChangeEvent(state: HubState, t: Tag, before: number | null = null): number | null {
  const evs = tagEvents(t).filter((e) => before === null || e < before);
  return evs.length ? Math.max(...evs) : null;
}

/** tag_first_change_event: the oldest change after `after` (all changes when null). */
export function tagFirstChangeEvent(state: HubState, t: Tag, after: number | null = null): number | null {
  const evs = tagEvents(t).filter((e) => after === null || e > after);
  return evs.length ? Math.min(...evs) : null;
}

/** getLastEvent(before): the newest event strictly before a time. */
function lastEventBefore(state: HubState, before: number | null): { id: number; ts: number } | null {
  let best: { id: number; ts: number } | null = null;
  for (const [id, ts] of state.eventTimes) {
    if (before !== null && !(ts < before)) continue;
    if (!best || id > best.id) best = { id, ts };
  }
  return best;
}

// ------------------------------------------------------------------------------ shapes

/** A repo row as RepoQuery(fields='**') returns it (getRepo, repo.get, repoInfo, checkRequest). */
export function repoStruct(state: HubState, r: Repo): XmlRpcStruct {
  const t = state.tags.get(r.tagId)!;
  const task = r.taskId === null ? undefined : state.tasks.get(r.taskId);
  return {
    begin_event: r.beginEvent, begin_ts: d(state.eventTimes.get(r.beginEvent)),
    create_event: r.createEvent, create_ts: double(r.createTs),
    creation_time: tsString(r.creationTs), creation_ts: double(r.creationTs),
    custom_opts: { ...r.customOpts }, dist: r.dist,
    end_event: r.endEvent, end_ts: r.endEvent === null ? null : d(state.eventTimes.get(r.endEvent)),
    id: r.id, opts: { src: r.opts.src, maven: r.opts.maven, debuginfo: r.opts.debuginfo, separate_src: r.opts.separate_src },
    state: r.state, state_time: tsString(r.stateTs), state_ts: double(r.stateTs),
    tag_id: t.id, tag_name: t.name, task_id: r.taskId, task_state: task ? task.state : null,
  };
}

/** A repo_queue row as RepoQueueQuery(fields='**') returns it. */
export function requestStruct(state: HubState, q: RepoRequest): XmlRpcStruct {
  const t = state.tags.get(q.tagId)!;
  const task = q.taskId === null ? undefined : state.tasks.get(q.taskId);
  return {
    active: q.active, at_event: q.atEvent, create_time: tsString(q.createTs), create_ts: double(q.createTs),
    id: q.id, min_event: q.minEvent, opts: { ...q.opts }, owner: q.ownerId, owner_name: state.users.get(q.ownerId)?.name ?? null,
    priority: q.priority, repo_id: q.repoId, tag_id: t.id, tag_name: t.name, task_id: q.taskId, task_state: task ? task.state : null,
    tries: q.tries, update_time: tsString(q.updateTs), update_ts: double(q.updateTs),
  };
}

// ------------------------------------------------------------------------------ conversions

function toInt(v: XmlRpcValue, noneAllowed: boolean): number | null {
  if (v === null || v === undefined) {
    if (noneAllowed) return null;
    throw hubError('ParameterError', "Invalid type, expected type <class 'int'>");
  }
  const n = typeof v === 'string' && /^-?\d+$/.test(v.trim()) ? Number(v) : typeof v === 'number' ? Math.trunc(v) : typeof v === 'bigint' ? Number(v) : NaN;
  if (!Number.isFinite(n)) {
    throw hubError('ParameterError', `Invalid type for value '${String(v)}': <class '${typeof v === 'string' ? 'str' : typeof v}'>, expected type <class 'int'>`);
  }
  return n;
}

/** repos.convert_repo_opts */
export function convertRepoOpts(opts: XmlRpcValue, strict: boolean): Partial<RepoOpts> {
  if (opts === null || opts === undefined) return {};
  if (typeof opts !== 'object' || Array.isArray(opts) || opts instanceof Date || opts instanceof Uint8Array) {
    if (strict) throw hubError('ParameterError', 'Repo opts must be a dictionary');
    return {};
  }
  const out: Partial<RepoOpts> = {};
  for (const [k, v] of Object.entries(opts as XmlRpcStruct)) {
    if (!(OPT_KEYS as string[]).includes(k)) {
      if (strict) throw hubError('ParameterError', `Invalid repo option: ${k}`);
      continue;
    }
    if (v === null) continue;
    out[k as keyof RepoOpts] = Boolean(v);
  }
  return out;
}

/** repos.get_repo_opts (no EnableMaven, no DebuginfoTags/SourceTags patterns): opts and custom. */
function repoOptsFor(t: Tag, override: Partial<RepoOpts> | null): { opts: RepoOpts; custom: Partial<RepoOpts> } {
  const opts: RepoOpts = { src: false, maven: false, debuginfo: false, separate_src: false };
  const tagOpts = convertRepoOpts((t.extra['repo.opts'] ?? {}) as XmlRpcValue, false);
  if ('with_debuginfo' in t.extra && !('repo.opts' in t.extra)) tagOpts.debuginfo = Boolean(t.extra.with_debuginfo);
  Object.assign(opts, tagOpts);
  opts.maven = false;
  const custom: Partial<RepoOpts> = {};
  if (override) {
    for (const k of OPT_KEYS) if (k in override && override[k] !== opts[k]) custom[k] = override[k];
    Object.assign(opts, custom);
  }
  return { opts, custom };
}

const sameOpts = (a: Partial<RepoOpts>, b: Partial<RepoOpts>) =>
  Object.keys(a).length === Object.keys(b).length && Object.entries(a).every(([k, v]) => b[k as keyof RepoOpts] === v);
/** jsonb `a @> b`: a holds every key of b with the same value */
const contains = (a: Partial<RepoOpts>, b: Partial<RepoOpts>) => Object.entries(b).every(([k, v]) => a[k as keyof RepoOpts] === v);

// ------------------------------------------------------------------------------ repo rows

/** kojihub repo_init: a new INIT repo of the tag at a new event (no files are written by the double). */
export function repoInit(state: HubState, t: Tag, taskId: number | null, override: Partial<RepoOpts> | null = null): Repo {
  const { opts, custom } = repoOptsFor(t, override);
  const id = state.take('repo');
  const ev = state.take('event');
  const now = nowTs();
  const r: Repo = {
    id, tagId: t.id, state: REPO_STATES.INIT, createEvent: ev, createTs: state.eventTimes.get(ev) ?? now,
    beginEvent: tagLastChangeEvent(state, t, ev) ?? ev, endEvent: tagFirstChangeEvent(state, t, ev),
    creationTs: now, stateTs: now, taskId, dist: false, opts, customOpts: custom,
  };
  state.repos.set(id, r);
  return r;
}

/** kojihub repo_set_state with its transition checks; READY runs the request queue's done hook. */
export function repoSetState(state: HubState, repoId: number, newState: number): void {
  const r = state.repos.get(repoId);
  if (!r) throw hubError('GenericError', `query returned no rows`);
  const name = REPO_STATE_NAMES[newState];
  if (name === undefined) throw hubError('ParameterError', `Unknown repo state: ${newState}`);
  if (r.state > newState && newState !== REPO_STATES.DELETED) {
    throw hubError('GenericError', `Invalid repo state transition for repo ${repoId}: ${REPO_STATE_NAMES[r.state]} -> ${name}`);
  }
  if (r.state === newState) return;
  if (r.state === REPO_STATES.DELETED) throw hubError('GenericError', `Repo ${repoId} is deleted`);
  r.state = newState;
  r.stateTs = nowTs();
  if (newState === REPO_STATES.READY) repoDoneHook(state, r);
}

/** repos.repo_done_hook: active requests this repo satisfies get it and go inactive. */
function repoDoneHook(state: HubState, r: Repo): void {
  if (r.dist) return;
  for (const q of [...state.repoRequests.values()].sort((a, b) => a.id - b.id)) {
    if (q.tagId !== r.tagId || !q.active || q.repoId !== null) continue;
    if (!contains(r.opts, q.opts) || !contains(q.opts, r.customOpts)) continue;
    const eventOk = (q.minEvent !== null && q.minEvent <= r.createEvent) || (q.atEvent !== null && q.atEvent === r.createEvent);
    if (!eventOk) continue;
    q.repoId = r.id;
    q.active = false;
    q.updateTs = nowTs();
  }
}

/** A READY repo of the tag now (what kojira + newRepo, or make_repo.py, leave behind). */
export function makeReadyRepo(state: HubState, t: Tag, taskId: number | null = null): Repo {
  const r = repoInit(state, t, taskId);
  repoSetState(state, r.id, REPO_STATES.READY);
  return r;
}

/** repos.get_repo: the best READY repo for the conditions. */
function getRepo(state: HubState, t: Tag, minEvent: number | null, atEvent: number | null, opts: Partial<RepoOpts>): Repo | undefined {
  return [...state.repos.values()]
    .filter((r) => r.tagId === t.id && !r.dist && r.state === REPO_STATES.READY && contains(r.opts, opts) && contains(opts, r.customOpts))
    .filter((r) => (atEvent !== null ? r.createEvent === atEvent : minEvent === null || r.createEvent >= minEvent))
    .sort((a, b) => b.createEvent - a.createEvent)[0];
}

/** repos.default_min_event: the tag's last change, allowing RepoLag of lag for busy tags. */
function defaultMinEvent(state: HubState, t: Tag): number {
  const last = tagLastChangeEvent(state, t) ?? 0;
  let lag = t.extra['repo.lag'];
  if (typeof lag !== 'number' || !Number.isInteger(lag)) lag = REPO_DEFAULTS.RepoLag;
  const window = REPO_DEFAULTS.RepoLagWindow;
  const baseTs = Math.floor((Date.now() / 1000 - lag) / window) * window;
  const baseEv = lastEventBefore(state, baseTs);
  const base = baseEv ? baseEv.id : tagFirstChangeEvent(state, t) ?? last;
  return Math.min(base, last);
}

function checkEvent(state: HubState, ev: number): void {
  if (!state.eventTimes.has(ev)) throw hubError('ParameterError', `Invalid event: ${ev}`);
}

// ------------------------------------------------------------------------------ the manager

export interface RepoManagerOptions {
  /**
   * How the simulated kojira + createrepo host treat requests: "make" (default) makes the repo,
   * "fail" fails every newRepo task (after RepoRetries retries the request goes inactive, as on
   * the hub), "off" leaves requests alone (a test drives them with tick() or makeRepo()).
   */
  mode?: 'make' | 'fail' | 'off';
  /** time between manager passes (default 5 ms); a request is fulfilled in two passes */
  delayMs?: number;
}

/**
 * kojira's queue check (repos.check_repo_queue) and the newRepo task of a createrepo host,
 * folded into passes: a pass gives waiting requests a newRepo task (OPEN, channel createrepo,
 * priority 15, like repo_queue_task), and finishes the tasks the previous pass started (repo
 * made READY and handed to the requests by the done hook, or the task failed and retried).
 */
export class RepoManager {
  mode: 'make' | 'fail' | 'off';
  delayMs: number;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly state: HubState, o: RepoManagerOptions = {}) {
    this.mode = o.mode ?? 'make';
    this.delayMs = o.delayMs ?? 5;
  }

  /** schedule passes while there are active requests */
  poke(): void {
    if (this.stopped || this.mode === 'off' || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.tick();
      if ([...this.state.repoRequests.values()].some((q) => q.active)) this.poke();
    }, this.delayMs);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** One pass (see the class comment). */
  tick(): void {
    const s = this.state;
    const waiting = [...s.repoRequests.values()].filter((q) => q.active && q.repoId === null).sort((a, b) => a.priority - b.priority || a.id - b.id);
    // finish the tasks started by the previous pass
    for (const q of waiting) {
      if (q.taskId === null) continue;
      const task = s.tasks.get(q.taskId);
      if (!task) continue;
      if (task.state === TASK_STATES.OPEN) {
        task.completionTs = nowTs();
        if (this.mode === 'fail') {
          task.state = TASK_STATES.FAILED;
          task.result = `<?xml version='1.0'?>\n<methodResponse>\n<fault>\n<value><struct>\n<member>\n<name>faultCode</name>\n<value><int>1</int></value>\n</member>\n<member>\n<name>faultString</name>\n<value><string>createrepo_c failed (simulated)</string></value>\n</member>\n</struct></value>\n</fault>\n</methodResponse>\n`;
        } else {
          const t = s.tags.get(q.tagId)!;
          const r = repoInit(s, t, task.id, q.opts);
          task.state = TASK_STATES.CLOSED;
          repoSetState(s, r.id, REPO_STATES.READY);
          task.result = `<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n<value><array><data>\n<value><int>${r.id}</int></value>\n<value><int>${r.createEvent}</int></value>\n</data></array></value>\n</param>\n</params>\n</methodResponse>\n`;
        }
      }
      if (task.state === TASK_STATES.FAILED || task.state === TASK_STATES.CANCELED) {
        q.updateTs = nowTs();
        if (q.tries > REPO_DEFAULTS.RepoRetries) q.active = false;
        else q.taskId = null;
      }
    }
    // give waiting requests a newRepo task
    let running = waiting.filter((q) => q.active && q.repoId === null && q.taskId !== null).length;
    for (const q of waiting) {
      if (!q.active || q.repoId !== null || q.taskId !== null) continue;
      if (running >= REPO_DEFAULTS.MaxRepoTasks) break;
      const t = s.tags.get(q.tagId)!;
      const id = s.makeTask('newRepo', [{ id: t.id, name: t.name }, { __starstar: true, opts: { ...q.opts } }], {
        owner: s.userByName('kojira')?.id ?? q.ownerId, channel: 'createrepo', priority: 15,
      });
      const task = s.tasks.get(id)!;
      task.state = TASK_STATES.OPEN;
      task.startTs = nowTs();
      q.taskId = id;
      q.tries += 1;
      q.updateTs = nowTs();
      running++;
    }
  }
}

// ------------------------------------------------------------------------------ XML-RPC

export function repoHandlers(manager: () => RepoManager | undefined, legacyOnly: boolean): Handler[] {
  const H: Handler[] = [];
  const add = (sig: string, fn: Handler['fn']) => H.push(def(sig, fn));

  add('getRepo(tag, state=None, event=None, dist=False, min_event=None)', (c, a) => {
    // repos.old_get_repo
    const t = c.state.getTagStrict(a.tag);
    let st = toInt(a.state, true);
    const event = toInt(a.event, true);
    const minEvent = toInt(a.min_event, true);
    const dist = Boolean(a.dist);
    let rows = [...c.state.repos.values()].filter((r) => r.tagId === t.id && r.dist === dist);
    if (event) rows = rows.filter((r) => r.createEvent <= event);
    else {
      st ??= REPO_STATES.READY;
      rows = rows.filter((r) => r.state === st);
    }
    if (minEvent !== null) rows = rows.filter((r) => r.createEvent >= minEvent);
    const r = rows.sort((x, y) => y.creationTs - x.creationTs || y.id - x.id)[0];
    return r ? repoStruct(c.state, r) : null;
  });
  add('repoInfo(repo_id, strict=False)', (c, a) => {
    const r = c.state.repos.get(Number(a.repo_id));
    if (!r) {
      if (a.strict) throw hubError('GenericError', 'query returned no rows');
      return null;
    }
    return repoStruct(c.state, r);
  });
  add('tagLastChangeEvent(tag, before=None, inherit=True)', (c, a) => tagLastChangeEvent(c.state, c.state.getTagStrict(a.tag), toInt(a.before, true)));
  add('tagFirstChangeEvent(tag, after=None, inherit=True)', (c, a) => tagFirstChangeEvent(c.state, c.state.getTagStrict(a.tag), toInt(a.after, true)));
  add('getLastEvent(before=None, strict=True)', (c, a) => {
    if (a.before !== null && typeof a.before !== 'number') throw hubError('GenericError', `Invalid type for before: <class '${typeof a.before === 'string' ? 'str' : typeof a.before}'>`);
    const ev = lastEventBefore(c.state, a.before as number | null);
    if (!ev) {
      if (a.strict) throw hubError('GenericError', 'query returned no rows');
      return null;
    }
    return { id: ev.id, ts: double(ev.ts) };
  });
  add('repoExpire(repo_id)', (c, a) => {
    assertPerm(c, 'repo');
    c.dirty = true;
    repoSetState(c.state, Number(toInt(a.repo_id, false)), REPO_STATES.EXPIRED);
    return null;
  });
  if (legacyOnly) return H;

  add('repo.get(tag, min_event=None, at_event=None, opts=None)', (c, a) => {
    const t = c.state.getTagStrict(a.tag);
    const minEvent = toInt(a.min_event, true);
    const atEvent = toInt(a.at_event, true);
    const r = getRepo(c.state, t, minEvent, atEvent, convertRepoOpts(a.opts, true));
    return r ? repoStruct(c.state, r) : null;
  });
  add('repo.request(tag, min_event=None, at_event=None, opts=None, priority=None, force=False)', (c, a) => {
    const user = assertLogin(c);
    const t = c.state.getTagStrict(a.tag);
    const opts = convertRepoOpts(a.opts, true);
    if (opts.maven) throw hubError('GenericError', 'Maven support not enabled');
    let minEvent: number | null = null;
    let atEvent: number | null = null;
    if (a.at_event !== null) {
      if (a.min_event !== null) throw hubError('ParameterError', 'The min_event and at_event options conflict');
      atEvent = toInt(a.at_event, false)!;
      checkEvent(c.state, atEvent);
    } else if (a.min_event === 'last') {
      minEvent = tagLastChangeEvent(c.state, t);
    } else if (a.min_event === null) {
      minEvent = defaultMinEvent(c.state, t);
    } else {
      minEvent = toInt(a.min_event, false)!;
      checkEvent(c.state, minEvent);
    }
    let priority = PRIO_DEFAULT;
    if (a.priority !== null) {
      const p = toInt(a.priority, false)!;
      if (p < 0 && !hasPerm(c, 'admin')) throw hubError('ActionNotAllowed', 'only admins may create high-priority requests');
      priority = PRIO_DEFAULT + p;
    }
    const ret: XmlRpcStruct = { repo: null, request: null, duplicate: false };
    if (!a.force) {
      const r = getRepo(c.state, t, minEvent, atEvent, opts);
      if (r) {
        ret.repo = repoStruct(c.state, r);
        return ret;
      }
    }
    const match = [...c.state.repoRequests.values()]
      .filter((q) => q.tagId === t.id && q.active && sameOpts(q.opts, opts))
      .filter((q) => (atEvent !== null ? q.atEvent === atEvent : q.minEvent !== null && minEvent !== null && q.minEvent >= minEvent))
      .sort((x, y) => x.priority - y.priority || x.id - y.id)[0];
    if (match) {
      if (match.priority > priority) {
        match.priority = priority;
        c.dirty = true;
      }
      ret.request = requestStruct(c.state, match);
      ret.duplicate = true;
      return ret;
    }
    c.dirty = true;
    const now = nowTs();
    const q: RepoRequest = {
      id: c.state.take('repoRequest'), ownerId: user.id, priority, tagId: t.id, atEvent, minEvent, opts,
      createTs: now, updateTs: now, active: true, taskId: null, tries: 0, repoId: null,
    };
    c.state.repoRequests.set(q.id, q);
    manager()?.poke();
    ret.request = requestStruct(c.state, q);
    return ret;
  });
  add('repo.checkRequest(req_id)', (c, a) => {
    const id = toInt(a.req_id, false)!;
    const q = c.state.repoRequests.get(id);
    if (!q) throw hubError('GenericError', 'No such request');
    const ret: XmlRpcStruct = { repo: null, request: requestStruct(c.state, q) };
    if (q.repoId !== null) {
      const r = c.state.repos.get(q.repoId);
      ret.repo = r ? repoStruct(c.state, r) : null;
    } else if (q.taskId !== null) {
      const task = c.state.tasks.get(q.taskId);
      if (task) ret.task = taskInfo(task);
    }
    return ret;
  });
  return H;
}
