// Build creation in the hub double, with the rules of Koji 1.35.3's kojihub.py get_next_build,
// new_build and recycle_build (checked against the koji-1.35.3 tag): a build whose NVR already
// exists is not a second row. The existing build is
//   - BUILDING: reused as is when the same task asks again (a restarted parent task), otherwise
//     refused with "Build already in progress (task N)";
//   - COMPLETE or DELETED: refused with "Build already exists (id=N, state=S): <data repr>";
//   - FAILED or CANCELED: recycled unless it has tag history, rpms or archives (each refused
//     with its own "Unable to recycle" message). Recycling keeps the build id and NVR, sets the
//     state, task, owner, start/completion time, epoch, source, extra and volume from the new
//     request, takes a new create event, clears the build's type rows (the caller adds its own
//     type back) and deletes whatever is left on disk at the build's directory.
// All of these are GenericError faults (code 1000).

import { BUILD_STATE_NAMES, BUILD_STATES, hubError, nowTs, type Build, type HubState } from './model.js';
import type { XmlRpcStruct, XmlRpcValue } from '../../../src/koji/xmlrpc.js';
import { pyStr } from './schema.js';

export interface NewBuildHooks {
  /** remove a stray directory (or symlink) where the build's files go */
  removeBuildDir(b: Build): void;
}

/**
 * kojihub get_next_build: with a release, new_build as is; without one, the next release
 * (get_next_release) first. The hub retries further increments only on a database unique-key
 * race, which a single-threaded double never has.
 */
export function getNextBuild(state: HubState, data: XmlRpcStruct, hooks: NewBuildHooks): number {
  if (data.release === null || data.release === undefined) data.release = state.nextRelease(String(data.name), String(data.version));
  return newBuild(state, data, hooks);
}

/** kojihub new_build (strict=False, not a draft): returns the id of the new or recycled build. */
export function newBuild(state: HubState, input: XmlRpcStruct, hooks: NewBuildHooks): number {
  // a copy, keys in the caller's order: fault texts print this dict
  const data: XmlRpcStruct = { ...input };
  const name = data.name;
  if (!name) throw hubError('GenericError', 'No name or package id provided for build');
  data.pkg_id = state.packageId(String(name));
  for (const f of ['version', 'release', 'epoch']) if (!(f in data)) throw hubError('GenericError', `No ${f} value for build`);
  // the hub stores extra as JSON text, and the dict it prints carries that text
  data.extra = 'extra' in data ? pyJsonDumps(data.extra) : null;
  const defaults: [string, XmlRpcValue][] = [
    ['state', BUILD_STATES.COMPLETE], ['start_time', 'NOW'], ['completion_time', 'NOW'], ['source', null],
    ['owner', null], ['task_id', null], ['volume_id', 0], ['draft', false],
  ];
  for (const [k, v] of defaults) if (!(k in data)) data[k] = v;

  const old = state.getBuild({ name: String(name), version: String(data.version), release: String(data.release) });
  if (old) {
    recycleBuild(state, old, data, hooks);
    return old.id;
  }
  const now = nowTs();
  const b: Build = {
    id: state.take('build'), pkgId: Number(data.pkg_id), name: String(name), version: String(data.version), release: String(data.release),
    epoch: (data.epoch as number | null) ?? null, state: Number(data.state), taskId: (data.task_id as number | null) ?? null,
    ownerId: Number(data.owner), createEvent: state.take('event'), createTs: now, startTs: now,
    completionTs: data.completion_time === null ? null : now, extra: (input.extra as XmlRpcValue) ?? null, btypes: new Set(),
  };
  state.builds.set(b.id, b);
  return b.id;
}

/** kojihub recycle_build: refuses (GenericError) or reuses `old` for the request `data`. */
export function recycleBuild(state: HubState, old: Build, data: XmlRpcStruct, hooks: NewBuildHooks): void {
  const st = BUILD_STATE_NAMES[old.state];
  if (old.state === BUILD_STATES.BUILDING) {
    // the controlling task restarted and asks again: same build, nothing changes
    if (data.state === old.state && ('task_id' in data ? data.task_id : '') === old.taskId) return;
    // the hub formats the old task id with %d; with no task that is Python's TypeError, which
    // reaches the client as a non-Koji fault (code 1)
    if (old.taskId === null) throw new Error("<class 'TypeError'>: %d format: a real number is required, not NoneType");
    throw hubError('GenericError', `Build already in progress (task ${old.taskId})`);
  }
  if (old.state !== BUILD_STATES.FAILED && old.state !== BUILD_STATES.CANCELED) {
    throw hubError('GenericError', `Build already exists (id=${old.id}, state=${st}): ${pyReprInOrder(data)}`);
  }
  if (state.tagHistory.has(old.id)) throw hubError('GenericError', 'Build already exists. Unable to recycle, has tag history');
  // the double has no rpms; archives are the image files a completed import made
  if ([...state.archives.values()].some((a) => a.buildId === old.id)) {
    throw hubError('GenericError', 'Build already exists. Unable to recycle, has archive data');
  }
  const now = nowTs();
  old.btypes.clear();
  old.state = Number(data.state);
  old.taskId = (data.task_id as number | null) ?? null;
  old.ownerId = Number(data.owner);
  old.startTs = now; // start_time 'NOW'
  old.completionTs = data.completion_time === null ? null : now;
  old.epoch = (data.epoch as number | null) ?? null;
  old.extra = data.extra === null ? null : (JSON.parse(String(data.extra)) as XmlRpcValue);
  old.createEvent = state.take('event');
  old.createTs = now;
  hooks.removeBuildDir(old);
}

/** Python repr of a dict of XML-RPC values, keys in insertion order (as `%r` prints a dict). */
export function pyReprInOrder(v: XmlRpcValue | undefined): string {
  if (v === null || v === undefined) return 'None';
  if (v === true) return 'True';
  if (v === false) return 'False';
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string') return pyStr(v);
  if (Array.isArray(v)) return `[${v.map((x) => pyReprInOrder(x)).join(', ')}]`;
  if (typeof v === 'object' && !(v instanceof Uint8Array) && !(v instanceof Date)) {
    return `{${Object.entries(v as XmlRpcStruct).map(([k, x]) => `${pyStr(k)}: ${pyReprInOrder(x)}`).join(', ')}}`;
  }
  return String(v);
}

/** Python json.dumps with its defaults (", " and ": " separators, ASCII only). */
function pyJsonDumps(v: XmlRpcValue | undefined): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'string') return JSON.stringify(v).replace(/[\u0080-\uffff]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
  if (typeof v === 'number' || typeof v === 'boolean') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map((x) => pyJsonDumps(x)).join(', ')}]`;
  if (typeof v === 'object' && !(v instanceof Uint8Array) && !(v instanceof Date)) {
    return `{${Object.entries(v as XmlRpcStruct).map(([k, x]) => `${pyJsonDumps(k)}: ${pyJsonDumps(x)}`).join(', ')}}`;
  }
  return JSON.stringify(String(v));
}
