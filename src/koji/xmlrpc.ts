// XML-RPC codec for talking to a Koji hub (and for the build host, which must hand the hub a
// serialized methodResponse/fault as a string in host.closeTask / host.failTask).
//
// The encoder writes the same bytes Python's xmlrpc.client Marshaller (as extended by koji's
// xmlrpcplus) writes: same line breaks, `<nil/>` without a trailing newline, `<i8>` for ints
// outside int32, only `& < >` escaped, doubles formatted like Python's repr(). Byte equality is
// not needed by the hub, but it lets tests compare our requests with recorded ones exactly.
//
// The decoder uses saxes, which never fetches external DTDs or entities; we additionally refuse
// any DOCTYPE so no internal entity tricks get through either.

import { SaxesParser } from 'saxes';

/** A value that can be sent or received over XML-RPC. */
export type XmlRpcValue =
  | null
  | undefined
  | boolean
  | number
  | bigint
  | string
  | Date
  | Uint8Array
  | XmlRpcDouble
  | XmlRpcValue[]
  | Map<string, XmlRpcValue>
  | XmlRpcStruct;

export interface XmlRpcStruct {
  [key: string]: XmlRpcValue;
}

/**
 * Forces `<double>` for a number that happens to be integral (JS numbers do not say whether 0
 * is an int or a float; Koji sends e.g. host.updateHost(task_load=0.0)).
 */
export class XmlRpcDouble {
  constructor(readonly value: number) {}
}
export const double = (v: number): XmlRpcDouble => new XmlRpcDouble(v);

/** Error in encoding or decoding XML-RPC; the message names the offending path/element. */
export class XmlRpcCodecError extends Error {
  override name = 'XmlRpcCodecError';
}

/** A decoded `<fault>`: faultCode/faultString plus any extra members (e.g. traceback). */
export interface XmlRpcFault {
  faultCode: number;
  faultString: string;
  extra: XmlRpcStruct;
}

export type XmlRpcResponse = { kind: 'value'; value: XmlRpcValue } | { kind: 'fault'; fault: XmlRpcFault };

// ---------------------------------------------------------------------------------------------
// keyword arguments

/** Koji's encoding of Python keyword arguments: a trailing struct holding `__starstar: true`. */
export function kwargs(opts: Record<string, XmlRpcValue>): XmlRpcStruct {
  const out: XmlRpcStruct = {};
  for (const [k, v] of Object.entries(opts)) if (k !== '__starstar') setMember(out, k, v);
  out.__starstar = true;
  return out;
}

/** Split a decoded parameter list into positional args and keyword args (koji decode_args). */
export function splitKwargs(params: XmlRpcValue[]): { args: XmlRpcValue[]; kwargs: XmlRpcStruct } {
  const last = params[params.length - 1];
  if (isPlainStruct(last) && last.__starstar === true) {
    const kw: XmlRpcStruct = {};
    for (const [k, v] of Object.entries(last)) if (k !== '__starstar') setMember(kw, k, v);
    return { args: params.slice(0, -1), kwargs: kw };
  }
  return { args: params.slice(), kwargs: {} };
}

function isPlainStruct(v: unknown): v is XmlRpcStruct {
  if (v === null || typeof v !== 'object') return false;
  if (Array.isArray(v) || v instanceof Map || v instanceof Date || v instanceof Uint8Array) return false;
  if (v instanceof XmlRpcDouble) return false;
  return true;
}

// Assign without ever touching the prototype, even for a member called "__proto__".
function setMember(obj: XmlRpcStruct, key: string, value: XmlRpcValue): void {
  if (key === '__proto__') Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  else obj[key] = value;
}

// ---------------------------------------------------------------------------------------------
// encoding

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
const I8_MIN = -(2n ** 63n);
const I8_MAX = 2n ** 63n - 1n;

/** Escape text the way Python's xmlrpc does (& < >), plus CR so it survives XML parsing. */
function escapeText(s: string, where: string): string {
  // Characters XML 1.0 cannot carry at all: the hub's parser would reject the whole request.
  // eslint-disable-next-line no-control-regex
  const bad = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/.exec(s);
  if (bad) {
    const cp = bad[0].charCodeAt(0).toString(16).padStart(4, '0');
    throw new XmlRpcCodecError(`${where}: string contains character U+${cp}, which XML-RPC (XML 1.0) cannot carry`);
  }
  // Lone surrogates cannot be encoded as UTF-8.
  if (/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(s)) {
    throw new XmlRpcCodecError(`${where}: string contains an unpaired UTF-16 surrogate`);
  }
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\r/g, '&#13;');
}

/** Format a finite double exactly like Python's repr(float). */
export function pythonFloatRepr(n: number): string {
  if (!Number.isFinite(n)) throw new XmlRpcCodecError(`double ${n} cannot be sent over XML-RPC`);
  if (n === 0) return Object.is(n, -0) ? '-0.0' : '0.0';
  const sign = n < 0 ? '-' : '';
  // toExponential() without an argument yields the shortest digits that round-trip, which is
  // also what Python's repr picks; only the layout rules differ.
  const m = /^(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(Math.abs(n).toExponential());
  if (!m) throw new XmlRpcCodecError(`cannot format double ${n}`);
  const digits = m[1] + (m[2] ?? '');
  const exp = Number(m[3]);
  const decpt = exp + 1; // position of the decimal point relative to the digit string
  if (decpt > -4 && decpt <= 16) {
    if (decpt <= 0) return `${sign}0.${'0'.repeat(-decpt)}${digits}`;
    if (decpt < digits.length) return `${sign}${digits.slice(0, decpt)}.${digits.slice(decpt)}`;
    return `${sign}${digits}${'0'.repeat(decpt - digits.length)}.0`;
  }
  const mant = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
  const e = Math.abs(exp).toString().padStart(2, '0');
  return `${sign}${mant}e${exp < 0 ? '-' : '+'}${e}`;
}

function encodeInt(v: bigint, where: string): string {
  if (v < I8_MIN || v > I8_MAX) throw new XmlRpcCodecError(`${where}: integer ${v} exceeds the 64-bit range of <i8>`);
  const tag = v < BigInt(INT32_MIN) || v > BigInt(INT32_MAX) ? 'i8' : 'int';
  return `<value><${tag}>${v.toString()}</${tag}></value>\n`;
}

function pad(n: number, w = 2): string {
  return n.toString().padStart(w, '0');
}

function base64Lines(buf: Uint8Array): string {
  // Python's base64.encodebytes: 76-character lines, each ending in "\n".
  const b64 = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).toString('base64');
  let out = '';
  for (let i = 0; i < b64.length; i += 76) out += b64.slice(i, i + 76) + '\n';
  return out;
}

function encodeValue(v: XmlRpcValue, where: string, seen: Set<object>): string {
  if (v === null || v === undefined) return '<value><nil/></value>';
  switch (typeof v) {
    case 'boolean':
      return `<value><boolean>${v ? '1' : '0'}</boolean></value>\n`;
    case 'bigint':
      return encodeInt(v, where);
    case 'number':
      if (Number.isSafeInteger(v) && !Object.is(v, -0)) return encodeInt(BigInt(v), where);
      return `<value><double>${pythonFloatRepr(v)}</double></value>\n`;
    case 'string':
      return `<value><string>${escapeText(v, where)}</string></value>\n`;
    case 'object':
      break;
    default:
      throw new XmlRpcCodecError(`${where}: cannot encode a value of type ${typeof v}`);
  }
  if (v instanceof XmlRpcDouble) return `<value><double>${pythonFloatRepr(v.value)}</double></value>\n`;
  if (v instanceof Date) {
    if (Number.isNaN(v.getTime())) throw new XmlRpcCodecError(`${where}: invalid Date`);
    const s =
      `${pad(v.getUTCFullYear(), 4)}${pad(v.getUTCMonth() + 1)}${pad(v.getUTCDate())}` +
      `T${pad(v.getUTCHours())}:${pad(v.getUTCMinutes())}:${pad(v.getUTCSeconds())}`;
    return `<value><dateTime.iso8601>${s}</dateTime.iso8601></value>\n`;
  }
  if (v instanceof Uint8Array) return `<value><base64>\n${base64Lines(v)}</base64></value>\n`;
  if (seen.has(v)) throw new XmlRpcCodecError(`${where}: recursive value cannot be encoded`);
  seen.add(v);
  try {
    if (Array.isArray(v)) {
      let out = '<value><array><data>\n';
      v.forEach((item, i) => (out += encodeValue(item, `${where}[${i}]`, seen)));
      return out + '</data></array></value>\n';
    }
    const entries: [string, XmlRpcValue][] = v instanceof Map ? [...v.entries()] : Object.entries(v);
    let out = '<value><struct>\n';
    for (const [k, item] of entries) {
      if (typeof k !== 'string') throw new XmlRpcCodecError(`${where}: struct keys must be strings`);
      out += `<member>\n<name>${escapeText(k, `${where} key`)}</name>\n`;
      out += encodeValue(item, `${where}.${k}`, seen);
      out += '</member>\n';
    }
    return out + '</struct></value>\n';
  } finally {
    seen.delete(v);
  }
}

function encodeParams(params: XmlRpcValue[], where: string): string {
  let out = '<params>\n';
  params.forEach((p, i) => {
    out += '<param>\n' + encodeValue(p, `${where} param ${i}`, new Set()) + '</param>\n';
  });
  return out + '</params>\n';
}

const XML_HEADER = "<?xml version='1.0'?>\n";

/** Encode a methodCall. Use `kwargs({...})` as the last param for keyword arguments. */
export function encodeCall(method: string, params: XmlRpcValue[]): string {
  if (!/^[A-Za-z0-9_.:/]+$/.test(method)) throw new XmlRpcCodecError(`invalid XML-RPC method name ${JSON.stringify(method)}`);
  return `${XML_HEADER}<methodCall>\n<methodName>${method}</methodName>\n${encodeParams(params, method)}</methodCall>\n`;
}

/** Encode a successful methodResponse holding one value (what host.closeTask takes). */
export function encodeResponse(value: XmlRpcValue): string {
  return `${XML_HEADER}<methodResponse>\n${encodeParams([value], 'response')}</methodResponse>\n`;
}

/** Encode a fault methodResponse (what host.failTask takes). */
export function encodeFault(faultCode: number, faultString: string): string {
  if (!Number.isSafeInteger(faultCode)) throw new XmlRpcCodecError(`faultCode must be an integer, got ${faultCode}`);
  const body = encodeValue({ faultCode, faultString }, 'fault', new Set());
  return `${XML_HEADER}<methodResponse>\n<fault>\n${body}</fault>\n</methodResponse>\n`;
}

// ---------------------------------------------------------------------------------------------
// decoding

export interface DecodeOptions {
  /** Return every `<double>` as an XmlRpcDouble (lets a decoded value re-encode to identical bytes). */
  keepDoubles?: boolean;
  /** Name used in error messages (e.g. "response to getTaskInfo from https://hub"). */
  source?: string;
}

// Containers being built while parsing.
type Frame =
  | { kind: 'value'; typed: boolean; text: string; result?: XmlRpcValue }
  | { kind: 'scalar'; tag: string; text: string }
  | { kind: 'array'; items: XmlRpcValue[] }
  | { kind: 'struct'; obj: XmlRpcStruct }
  | { kind: 'member'; name?: string; value?: XmlRpcValue; hasValue: boolean }
  | { kind: 'name'; text: string }
  | { kind: 'other'; tag: string; text: string; count?: number };

const SCALARS = new Set([
  'int', 'i1', 'i2', 'i4', 'i8', 'biginteger', 'boolean', 'string', 'double', 'float',
  'dateTime.iso8601', 'base64', 'nil',
]);

function decodeScalar(tag: string, text: string, opts: DecodeOptions, where: () => string): XmlRpcValue {
  switch (tag) {
    case 'int': case 'i1': case 'i2': case 'i4': case 'i8': case 'biginteger': {
      const t = text.trim();
      if (!/^[+-]?\d+$/.test(t)) throw new XmlRpcCodecError(`${where()}: bad <${tag}> value ${JSON.stringify(text)}`);
      const b = BigInt(t);
      return b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b;
    }
    case 'boolean': {
      const t = text.trim();
      if (t !== '0' && t !== '1') throw new XmlRpcCodecError(`${where()}: bad <boolean> value ${JSON.stringify(text)}`);
      return t === '1';
    }
    case 'string':
      return text;
    case 'double': case 'float': {
      const t = text.trim();
      if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(t) && !/^[+-]?(inf|nan)$/i.test(t)) {
        throw new XmlRpcCodecError(`${where()}: bad <${tag}> value ${JSON.stringify(text)}`);
      }
      const n = /inf/i.test(t) ? (t.startsWith('-') ? -Infinity : Infinity) : /nan/i.test(t) ? NaN : Number(t);
      return opts.keepDoubles ? new XmlRpcDouble(n) : n;
    }
    case 'dateTime.iso8601': {
      const m = /^\s*(\d{4})-?(\d{2})-?(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:?\d{2})?\s*$/.exec(text);
      if (!m) throw new XmlRpcCodecError(`${where()}: bad <dateTime.iso8601> value ${JSON.stringify(text)}`);
      const ms = m[7] ? Math.round(Number(m[7]) * 1000) : 0;
      let t = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6], ms);
      if (m[8] && m[8] !== 'Z') {
        const sign = m[8][0] === '-' ? -1 : 1;
        const hh = Number(m[8].slice(1, 3));
        const mm = Number(m[8].slice(-2));
        t -= sign * (hh * 60 + mm) * 60000;
      }
      return new Date(t);
    }
    case 'base64': {
      if (!/^[A-Za-z0-9+/=\s]*$/.test(text)) throw new XmlRpcCodecError(`${where()}: bad <base64> data`);
      return Buffer.from(text.replace(/\s+/g, ''), 'base64');
    }
    case 'nil':
      return null;
  }
  throw new XmlRpcCodecError(`${where()}: unknown type <${tag}>`);
}

interface Parsed {
  root: string;
  methodName?: string;
  params: XmlRpcValue[];
  fault?: XmlRpcValue;
}

// One pass over a methodCall or methodResponse document.
function parseDocument(xml: string | Uint8Array, opts: DecodeOptions): Parsed {
  const text = typeof xml === 'string' ? xml : Buffer.from(xml.buffer, xml.byteOffset, xml.byteLength).toString('utf8');
  const parser = new SaxesParser({ position: true });
  const src = opts.source ?? 'XML-RPC document';
  const where = () => `${src} (line ${parser.line}, column ${parser.column})`;
  const stack: Frame[] = [];
  const path: string[] = [];
  const out: Parsed = { root: '', params: [] };
  let error: Error | undefined;

  const fail = (msg: string): never => {
    throw new XmlRpcCodecError(`${where()}: ${msg}`);
  };
  // A finished value goes to whatever contains it.
  const deliver = (v: XmlRpcValue) => {
    const parent = stack[stack.length - 1];
    if (!parent) return fail('value outside any container');
    if (parent.kind === 'array') parent.items.push(v);
    else if (parent.kind === 'member') {
      if (parent.hasValue) fail('struct member has more than one <value>');
      parent.value = v;
      parent.hasValue = true;
    } else if (parent.kind === 'other' && parent.tag === 'param') out.params.push(v);
    else if (parent.kind === 'other' && parent.tag === 'fault') {
      if (out.fault !== undefined) fail('<fault> has more than one <value>');
      out.fault = v;
    } else fail(`<value> not allowed inside <${path[path.length - 2] ?? '?'}>`);
  };

  parser.on('error', (e) => {
    // saxes prefixes its own position; we add the source name.
    error ??= new XmlRpcCodecError(`${src}: malformed XML: ${e.message}`);
    throw error;
  });
  parser.on('doctype', () => fail('DOCTYPE declarations are not accepted'));
  parser.on('opentag', (tag) => {
    const name = tag.name;
    const parentTag = path[path.length - 1];
    path.push(name);
    const top = stack[stack.length - 1];
    if (path.length === 1) {
      if (name !== 'methodCall' && name !== 'methodResponse') fail(`unexpected root element <${name}>`);
      out.root = name;
      stack.push({ kind: 'other', tag: name, text: '' });
      return;
    }
    if (name === 'value') {
      if (top?.kind === 'value') fail('<value> directly inside <value>');
      stack.push({ kind: 'value', typed: false, text: '' });
      return;
    }
    if (top?.kind === 'value') {
      if (top.typed) fail(`<value> holds more than one typed element (<${name}>)`);
      top.typed = true;
      if (top.text.trim() !== '') fail('<value> mixes text and a typed element');
      if (name === 'array') stack.push({ kind: 'array', items: [] });
      else if (name === 'struct') stack.push({ kind: 'struct', obj: {} });
      else if (SCALARS.has(name) || /^ex:(nil|i8)$/.test(name)) stack.push({ kind: 'scalar', tag: name.replace(/^ex:/, ''), text: '' });
      else fail(`unknown XML-RPC type <${name}>`);
      return;
    }
    if (name === 'data') {
      if (top?.kind !== 'array') fail('<data> outside <array>');
      return; // the array frame collects items directly
    }
    if (name === 'member') {
      if (top?.kind !== 'struct') fail('<member> outside <struct>');
      stack.push({ kind: 'member', hasValue: false });
      return;
    }
    if (name === 'name') {
      if (top?.kind !== 'member') fail('<name> outside <member>');
      stack.push({ kind: 'name', text: '' });
      return;
    }
    const allowed: Record<string, string[]> = {
      methodName: ['methodCall'],
      params: ['methodCall', 'methodResponse'],
      param: ['params'],
      fault: ['methodResponse'],
    };
    if (!allowed[name]?.includes(parentTag ?? '')) fail(`unexpected element <${name}> inside <${parentTag}>`);
    stack.push({ kind: 'other', tag: name, text: '', count: out.params.length });
  });
  const onText = (t: string) => {
    const top = stack[stack.length - 1];
    if (!top) return;
    if (top.kind === 'value' || top.kind === 'scalar' || top.kind === 'name') top.text += t;
    else if (top.kind === 'other' && top.tag === 'methodName') top.text += t;
    else if (t.trim() !== '') fail(`unexpected text ${JSON.stringify(t.trim().slice(0, 40))}`);
  };
  parser.on('text', onText);
  parser.on('cdata', onText);
  parser.on('closetag', (tag) => {
    const name = tag.name;
    path.pop();
    if (name === 'data') return;
    const top = stack.pop();
    if (!top) return fail(`stray </${name}>`);
    switch (top.kind) {
      case 'scalar': {
        const v = decodeScalar(top.tag, top.text, opts, where);
        const val = stack[stack.length - 1];
        if (val?.kind === 'value') val.result = v;
        return;
      }
      case 'array': case 'struct': {
        const val = stack[stack.length - 1];
        if (val?.kind === 'value') val.result = top.kind === 'array' ? top.items : top.obj;
        return;
      }
      case 'value':
        if (top.typed && top.text.trim() !== '') fail('<value> mixes text and a typed element');
        // An untyped <value>text</value> is a string (XML-RPC spec); whitespace is kept.
        return deliver(top.typed ? top.result : top.text);
      case 'name': {
        const m = stack[stack.length - 1];
        if (m?.kind === 'member') {
          if (m.name !== undefined) fail('struct member has more than one <name>');
          m.name = top.text;
        }
        return;
      }
      case 'member': {
        if (top.name === undefined) fail('struct member without <name>');
        if (!top.hasValue) fail(`struct member ${JSON.stringify(top.name)} without <value>`);
        const s = stack[stack.length - 1];
        if (s?.kind === 'struct') setMember(s.obj, top.name!, top.value);
        return;
      }
      case 'other':
        if (top.tag === 'methodName') out.methodName = top.text.trim();
        if (top.tag === 'param' && out.params.length !== (top.count ?? 0) + 1) fail('<param> must hold exactly one <value>');
        if (top.tag === 'fault' && out.fault === undefined) fail('<fault> without a <value>');
        return;
    }
  });
  try {
    parser.write(text);
    parser.close();
  } catch (e) {
    if (e instanceof XmlRpcCodecError) throw e;
    throw new XmlRpcCodecError(`${src}: malformed XML: ${(e as Error).message}`);
  }
  if (!out.root) throw new XmlRpcCodecError(`${src}: empty document`);
  return out;
}

/** Decode a methodResponse: either a value or a fault. */
export function decodeResponse(xml: string | Uint8Array, opts: DecodeOptions = {}): XmlRpcResponse {
  const src = opts.source ?? 'XML-RPC response';
  const doc = parseDocument(xml, { ...opts, source: src });
  if (doc.root !== 'methodResponse') throw new XmlRpcCodecError(`${src}: expected <methodResponse>, got <${doc.root}>`);
  if (doc.fault !== undefined) {
    const f = doc.fault;
    if (!isPlainStruct(f)) throw new XmlRpcCodecError(`${src}: <fault> does not hold a struct`);
    const code = f.faultCode instanceof XmlRpcDouble ? f.faultCode.value : f.faultCode;
    if (typeof code !== 'number' || !Number.isInteger(code)) throw new XmlRpcCodecError(`${src}: fault without an integer faultCode`);
    const str = f.faultString;
    if (typeof str !== 'string') throw new XmlRpcCodecError(`${src}: fault without a faultString`);
    const extra: XmlRpcStruct = {};
    for (const [k, v] of Object.entries(f)) if (k !== 'faultCode' && k !== 'faultString') setMember(extra, k, v);
    return { kind: 'fault', fault: { faultCode: code, faultString: str, extra } };
  }
  if (doc.params.length !== 1) throw new XmlRpcCodecError(`${src}: a response must hold exactly one param, found ${doc.params.length}`);
  return { kind: 'value', value: doc.params[0] };
}

/** Decode a methodCall (used by hub doubles and to check recorded requests). */
export function decodeCall(xml: string | Uint8Array, opts: DecodeOptions = {}): { method: string; params: XmlRpcValue[] } {
  const src = opts.source ?? 'XML-RPC call';
  const doc = parseDocument(xml, { ...opts, source: src });
  if (doc.root !== 'methodCall') throw new XmlRpcCodecError(`${src}: expected <methodCall>, got <${doc.root}>`);
  if (!doc.methodName) throw new XmlRpcCodecError(`${src}: <methodCall> without <methodName>`);
  return { method: doc.methodName, params: doc.params };
}
