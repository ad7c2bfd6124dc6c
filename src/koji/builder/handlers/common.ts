// Small helpers shared by the task handlers.
import { decodeCall, type XmlRpcStruct, type XmlRpcValue } from '../../xmlrpc.js';
import { buildError } from '../task.js';

/** A task's request as the hub hands it out: a decoded list, or (openTask) a methodCall string. */
export function requestParams(v: XmlRpcValue, what: string): XmlRpcValue[] {
  if (Array.isArray(v)) return v;
  if (typeof v === 'string') return decodeCall(v, { source: what }).params;
  throw buildError(`${what}: request is ${v === null ? 'missing' : typeof v}, expected a list or an XML-RPC call`);
}

export function asStruct(v: XmlRpcValue, what: string): XmlRpcStruct {
  if (v === null || v === undefined) return {};
  if (typeof v !== 'object' || Array.isArray(v) || v instanceof Map || v instanceof Date || v instanceof Uint8Array) {
    throw buildError(`${what} must be a struct, got ${JSON.stringify(v)}`);
  }
  return v as XmlRpcStruct;
}

export function asString(v: XmlRpcValue, what: string): string {
  if (typeof v !== 'string' || v === '') throw buildError(`${what} must be a non-empty string, got ${JSON.stringify(v)}`);
  return v;
}

export function asStringList(v: XmlRpcValue, what: string): string[] {
  if (v === null || v === undefined) return [];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw buildError(`${what} must be a list of strings, got ${JSON.stringify(v)}`);
  return v as string[];
}

export function asInt(v: XmlRpcValue, what: string): number {
  const n = typeof v === 'bigint' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n)) throw buildError(`${what} must be an integer, got ${JSON.stringify(v)}`);
  return n;
}

/** koji.canonArch for the arches a build tag may list. */
export function canonArch(arch: string): string {
  if (/^i[3-6]86$/.test(arch) || arch === 'athlon' || arch === 'geode') return 'i386';
  if (arch === 'amd64' || arch === 'ia32e') return 'x86_64';
  if (arch === 'arm64') return 'aarch64';
  if (/^armv7/.test(arch)) return 'arm';
  return arch;
}

/** The naive $arch / $basearch replacement koji-image-builder applies to repo URLs and refs. */
export function substArch(s: string, arch: string): string {
  return s.replaceAll('$basearch', arch).replaceAll('$arch', arch);
}

/** <topdir>/work/tasks/<id % 10000>/<id> */
export function taskWorkDir(topdir: string, id: number): string {
  return `${topdir}/work/tasks/${id % 10000}/${id}`;
}
