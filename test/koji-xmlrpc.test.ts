import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';

import {
  ActionNotAllowed,
  AuthError,
  AuthExpired,
  FAULT_CODES,
  GenericError,
  KojiFault,
  ParameterError,
  faultToError,
} from '../src/koji/faults.js';
import {
  XmlRpcCodecError,
  XmlRpcDouble,
  decodeCall,
  decodeResponse,
  double,
  encodeCall,
  encodeFault,
  encodeResponse,
  kwargs,
  pythonFloatRepr,
  splitKwargs,
  type XmlRpcValue,
} from '../src/koji/xmlrpc.js';
import { header, loadTranscripts } from './koji-transcripts.js';

const transcripts = loadTranscripts();

describe('koji xmlrpc codec against recorded Koji 1.35.3 traffic', () => {
  it('finds the transcripts', () => {
    // 90 recorded exchanges, 2 of them raw uploads
    assert.ok(transcripts.length >= 80, `only ${transcripts.length} transcripts found`);
    assert.equal(transcripts.filter((t) => header(t.request, 'Content-Type') === 'application/octet-stream').length, 2);
  });

  it('decodes every response body and re-encodes it to the same bytes', () => {
    let faults = 0;
    for (const t of transcripts) {
      const body = t.response.body.toString('utf8');
      const r = decodeResponse(t.response.body, { keepDoubles: true, source: t.file });
      const again = r.kind === 'value' ? encodeResponse(r.value) : encodeFault(r.fault.faultCode, r.fault.faultString);
      if (r.kind === 'fault') faults++;
      assert.equal(again, body, `${t.file}: re-encoded response differs`);
    }
    assert.ok(faults >= 5, 'the faults folder holds several fault responses');
  });

  it('re-encodes every XML-RPC request to the same bytes (and Content-Length)', () => {
    let n = 0;
    for (const t of transcripts) {
      if (header(t.request, 'Content-Type') !== 'text/xml') continue;
      const { method, params } = decodeCall(t.request.body, { keepDoubles: true, source: t.file });
      assert.ok(t.file.endsWith(`-${method}.txt`), `${t.file}: decoded method ${method}`);
      const again = Buffer.from(encodeCall(method, params), 'utf8');
      assert.equal(again.toString('utf8'), t.request.body.toString('utf8'), `${t.file}: re-encoded request differs`);
      assert.equal(String(again.length), header(t.request, 'Content-Length'));
      n++;
    }
    assert.equal(n, transcripts.length - 2);
  });

  it('decodes requests semantically: kwargs, doubles, nested structs', () => {
    const upd = transcripts.find((t) => t.file === 'task2-scratch/0034-host.updateHost.txt')!;
    const { method, params } = decodeCall(upd.request.body);
    assert.equal(method, 'host.updateHost');
    const { args, kwargs: kw } = splitKwargs(params);
    assert.deepEqual(args, [0, true]);
    assert.deepEqual(kw, { data: { methods: ['imageBuilderBuild', 'imageBuilderBuildArch', 'tagBuild'], maxjobs: 4 } });
    // building the same call by hand gives the recorded bytes
    const built = encodeCall('host.updateHost', [
      double(0),
      true,
      kwargs({ data: { methods: ['imageBuilderBuild', 'imageBuilderBuildArch', 'tagBuild'], maxjobs: 4 } }),
    ]);
    assert.equal(built, upd.request.body.toString('utf8'));

    const login = transcripts.find((t) => t.file === 'cli/0001-login.txt')!;
    assert.equal(encodeCall('login', ['imguser', 'imgpass', kwargs({ opts: null })]), login.request.body.toString('utf8'));
    const submit = transcripts.find((t) => t.file === 'cli/0003-imageBuilderBuild.txt')!;
    assert.equal(
      encodeCall('imageBuilderBuild', ['f42-image-builder', ['x86_64'], ['minimal-raw-xz'], 'Fedora-Minimal', '42', { scratch: true }]),
      submit.request.body.toString('utf8'),
    );
  });

  it('host.closeTask / host.failTask carry methodResponse strings our encoder reproduces', () => {
    let inner = 0;
    for (const t of transcripts) {
      if (!/host\.(closeTask|failTask)/.test(t.file)) continue;
      const { params } = decodeCall(t.request.body);
      const xml = params[1] as string;
      const r = decodeResponse(xml, { keepDoubles: true });
      const again = r.kind === 'value' ? encodeResponse(r.value) : encodeFault(r.fault.faultCode, r.fault.faultString);
      assert.equal(again, xml, `${t.file}: embedded response`);
      inner++;
    }
    assert.ok(inner >= 4);
    const fail = transcripts.find((t) => t.file === 'failtask/0121-host.failTask.txt')!;
    const xml = decodeCall(fail.request.body).params[1] as string;
    assert.equal(encodeFault(FAULT_CODES.get('BuildError')!, 'image-builder failed: exit status 1'), xml);
  });

  it('maps recorded faults to typed errors and keeps faultString', () => {
    const seen = new Map<string, KojiFault>();
    for (const t of transcripts.filter((x) => x.file.startsWith('faults/'))) {
      const r = decodeResponse(t.response.body);
      if (r.kind !== 'fault') continue;
      seen.set(t.file, faultToError(r.fault.faultCode, r.fault.faultString, { method: t.file }));
    }
    const login = seen.get('faults/0107-login.txt')!;
    assert.ok(login instanceof AuthError && login instanceof GenericError);
    assert.equal(login.faultString, 'invalid username or password');
    const perm = seen.get('faults/0109-imageBuilderBuild.txt')!;
    assert.ok(perm instanceof ActionNotAllowed);
    assert.equal(perm.faultCode, 1004);
    const schema = seen.get('faults/0113-imageBuilderBuild.txt')!;
    assert.ok(schema instanceof ParameterError);
    assert.match(schema.faultString, /^Additional properties are not allowed \('bogus' was unexpected\)\n/);
    assert.match(schema.message, /faults\/0113-imageBuilderBuild\.txt.*fault 1019 ParameterError/s);
  });
});

describe('koji xmlrpc codec against Python xmlrpc.client', () => {
  // Python builds the same values and writes them with the stdlib marshaller plus koji's <i8>
  // rule (xmlrpcplus: ints outside int32 -> <i8>); our bytes must match.
  const py = String.raw`
import json, datetime, xmlrpc.client as x
class M(x.Marshaller):
    dispatch = x.Marshaller.dispatch.copy()
    def dump_int(self, v, write):
        if v > x.MAXINT or v < x.MININT:
            write("<value><i8>%d</i8></value>\n" % v)
        else:
            x.Marshaller.dump_long(self, v, write)
    dispatch[int] = dump_int
def dumps(p, **kw):
    m = M("utf-8", allow_none=True)
    d = m.dumps(p)
    if kw.get("name"):
        return "<?xml version='1.0'?>\n<methodCall>\n<methodName>%s</methodName>\n%s</methodCall>\n" % (kw["name"], d)
    return "<?xml version='1.0'?>\n<methodResponse>\n%s</methodResponse>\n" % d
vals = (0, 1, -1, 2147483647, -2147483648, 2147483648, -2147483649, 2**53 + 1, 2**63 - 1, -2**63,
        0.0, 1.0, -0.0, 0.1, 1e16, 1e-5, 1.5e-7, 123456789.125, 1795749363.652186, 1e300, 5e-324, 0.0001, 1e15, -2.5e-300,
        True, False, None, "", "a&b<c>d", "quote ' \" ", "\u017elu\u0165ou\u010dk\u00fd \U0001f434", "tab\tnl\n",
        b"", b"\x00\x01binary", bytes(range(100)), datetime.datetime(2026, 11, 27, 3, 16, 3),
        {"a": [1, {"b": None}], "c": {}}, [], {"opts": None, "__starstar": True})
print(json.dumps({"call": dumps(vals, name="some.method"), "response": dumps(({"k": [1.5, "x"]},)),
                  "fault": dumps(x.Fault(1007, 'session "5" has expired'))}))
`;
  const vals: XmlRpcValue[] = [
    0, 1, -1, 2147483647, -2147483648, 2147483648, -2147483649, 2n ** 53n + 1n, 2n ** 63n - 1n, -(2n ** 63n),
    double(0), double(1), -0, 0.1, 1e16, 1e-5, 1.5e-7, 123456789.125, 1795749363.652186, 1e300, 5e-324, 0.0001, double(1e15), -2.5e-300,
    true, false, null, '', 'a&b<c>d', `quote ' " `, 'žluťoučký 🐴', 'tab\tnl\n',
    Buffer.alloc(0), Buffer.from('\x00\x01binary', 'latin1'), Buffer.from(Array.from({ length: 100 }, (_, i) => i)),
    new Date(Date.UTC(2026, 10, 27, 3, 16, 3)),
    { a: [1, { b: undefined }], c: {} }, [], kwargs({ opts: null }),
  ];
  const expected = JSON.parse(execFileSync('/usr/bin/python3', ['-c', py], { encoding: 'utf8' })) as Record<string, string>;

  it('encodes a call byte-for-byte like Python', () => {
    assert.equal(encodeCall('some.method', vals), expected.call);
  });

  it('encodes a response and a fault byte-for-byte like Python', () => {
    assert.equal(encodeResponse({ k: [1.5, 'x'] }), expected.response);
    assert.equal(encodeFault(1007, 'session "5" has expired'), expected.fault);
  });

  it('decodes Python output back to the values (numbers safe -> number, else bigint)', () => {
    const { method, params } = decodeCall(expected.call, { keepDoubles: true });
    assert.equal(method, 'some.method');
    assert.equal(encodeCall(method, params), expected.call);
    const plain = decodeCall(expected.call).params;
    assert.equal(plain[5], 2147483648);
    assert.equal(typeof plain[5], 'number');
    assert.equal(plain[7], 2n ** 53n + 1n);
    assert.equal(plain[9], -(2n ** 63n));
    assert.equal(plain[10], 0);
    assert.ok(Object.is(plain[12], -0));
    assert.deepEqual(plain[33], Buffer.from('\x00\x01binary', 'latin1'));
    assert.deepEqual(plain[35], new Date(Date.UTC(2026, 10, 27, 3, 16, 3)));
    assert.deepEqual(plain[36], { a: [1, { b: null }], c: {} });
    assert.ok((decodeCall(expected.call, { keepDoubles: true }).params[10] as XmlRpcDouble) instanceof XmlRpcDouble);
  });

  it('formats random doubles exactly like Python repr', () => {
    const nums: number[] = [];
    for (let i = 0; i < 400; i++) {
      const mag = Math.floor(Math.random() * 80) - 40; // 1e-40 .. 1e40, all layout regimes
      nums.push((Math.random() - 0.5) * 10 ** mag);
    }
    nums.push(1 / 3, 2 / 3, 0.1 + 0.2, 1e21, 1e22, 123456789012345678, 5e-7, 1e-7);
    const out = execFileSync('/usr/bin/python3', ['-c', 'import sys, json; print(json.dumps([repr(float(x)) for x in json.loads(sys.stdin.read())]))'], {
      input: JSON.stringify(nums),
      encoding: 'utf8',
    });
    assert.deepEqual(nums.map(pythonFloatRepr), JSON.parse(out));
  });

  it('produces XML that Python parses to the same values', () => {
    const ours = encodeCall('m', [{ s: 'a\r\nb', big: 2n ** 40n, d: 2.5, n: null, arr: [true, 'x'] }]);
    const out = execFileSync('/usr/bin/python3', ['-c', 'import sys, json, xmlrpc.client as x; p, m = x.loads(sys.stdin.read()); print(json.dumps([m, p]))'], {
      input: ours,
      encoding: 'utf8',
    });
    assert.deepEqual(JSON.parse(out), ['m', [{ s: 'a\r\nb', big: 2 ** 40, d: 2.5, n: null, arr: [true, 'x'] }]]);
  });
});

describe('koji xmlrpc codec edge cases', () => {
  const resp = (inner: string) => `<?xml version='1.0'?>\n<methodResponse><params><param>${inner}</param></params></methodResponse>`;

  it('treats an untyped value as a string and keeps its whitespace', () => {
    assert.deepEqual(decodeResponse(resp('<value>  two words </value>')), { kind: 'value', value: '  two words ' });
    assert.deepEqual(decodeResponse(resp('<value></value>')), { kind: 'value', value: '' });
    assert.deepEqual(decodeResponse(resp('<value><string><![CDATA[<x>]]></string></value>')), { kind: 'value', value: '<x>' });
  });

  it('keeps CR in strings across a round trip', () => {
    const r = decodeResponse(encodeResponse('a\r\nb\rc'));
    assert.deepEqual(r, { kind: 'value', value: 'a\r\nb\rc' });
  });

  it('accepts i4/i8/ex:nil spellings and rejects bad scalars, naming the problem', () => {
    assert.deepEqual(decodeResponse(resp('<value><i4>-7</i4></value>')), { kind: 'value', value: -7 });
    assert.deepEqual(decodeResponse(resp('<value><i8>9223372036854775807</i8></value>')), { kind: 'value', value: 2n ** 63n - 1n });
    assert.deepEqual(decodeResponse(resp('<value><ex:nil/></value>')), { kind: 'value', value: null });
    assert.throws(() => decodeResponse(resp('<value><boolean>true</boolean></value>')), /bad <boolean> value "true"/);
    assert.throws(() => decodeResponse(resp('<value><int>1.5</int></value>')), /bad <int> value "1.5"/);
    assert.throws(() => decodeResponse(resp('<value><double>abc</double></value>')), /bad <double> value/);
    assert.throws(() => decodeResponse(resp('<value><blob>x</blob></value>')), /unknown XML-RPC type <blob>/);
    assert.throws(() => decodeResponse(resp('<value><base64>!!!</base64></value>')), /bad <base64> data/);
  });

  it('rejects structural problems with the source named', () => {
    assert.throws(() => decodeResponse('<methodResponse><params>', { source: 'reply from hub' }), (e: Error) => e instanceof XmlRpcCodecError && /reply from hub/.test(e.message));
    assert.throws(() => decodeResponse('not xml at all'), XmlRpcCodecError);
    assert.throws(() => decodeResponse('<methodCall><methodName>x</methodName><params/></methodCall>'), /expected <methodResponse>/);
    assert.throws(() => decodeResponse(resp('<value><struct><member><name>a</name></member></struct></value>')), /member "a" without <value>/);
    assert.throws(() => decodeResponse('<methodResponse><params></params></methodResponse>'), /exactly one param/);
    assert.throws(() => decodeResponse('<methodResponse><fault><value><struct></struct></value></fault></methodResponse>'), /integer faultCode/);
    assert.throws(() => decodeResponse(resp('<value>text<int>1</int></value>')), /mixes text/);
  });

  it('refuses DOCTYPEs and entity definitions (no XXE, no entity expansion)', () => {
    const xxe = `<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><methodResponse><params><param><value>&x;</value></param></params></methodResponse>`;
    assert.throws(() => decodeResponse(xxe), /DOCTYPE/);
    assert.throws(() => decodeResponse(resp('<value>&undefinedentity;</value>')), XmlRpcCodecError);
  });

  it('does not let a "__proto__" member touch the prototype', () => {
    const r = decodeResponse(resp('<value><struct><member><name>__proto__</name><value><struct><member><name>polluted</name><value><boolean>1</boolean></value></member></struct></value></member></struct></value>'));
    assert.equal(r.kind, 'value');
    const v = (r as { value: Record<string, unknown> }).value;
    assert.equal(Object.getPrototypeOf(v), Object.prototype);
    assert.equal((v as { polluted?: boolean }).polluted, undefined);
    assert.deepEqual(Object.keys(v), ['__proto__']);
  });

  it('decodes a fault with extra members', () => {
    const xml = encodeResponse(null).replace(
      /<params>[\s\S]*<\/params>\n/,
      '<fault>\n<value><struct><member><name>faultCode</name><value><int>1014</int></value></member><member><name>faultString</name><value>offline</value></member><member><name>traceback</name><value>tb</value></member></struct></value></fault>\n',
    );
    const r = decodeResponse(xml);
    assert.deepEqual(r, { kind: 'fault', fault: { faultCode: 1014, faultString: 'offline', extra: { traceback: 'tb' } } });
  });

  it('refuses values XML-RPC cannot carry, naming where they are', () => {
    assert.throws(() => encodeCall('m', [{ a: ['ok', 'bad\u0001'] }]), /m param 0\.a\[1\]: string contains character U\+0001/);
    assert.throws(() => encodeCall('m', [2n ** 63n]), /exceeds the 64-bit range/);
    assert.throws(() => encodeCall('m', [NaN]), /double NaN/);
    assert.throws(() => encodeCall('m', [Infinity]), /double Infinity/);
    const loop: Record<string, XmlRpcValue> = {};
    loop.self = loop;
    assert.throws(() => encodeCall('m', [loop]), /recursive/);
    assert.throws(() => encodeCall('bad name<', []), /invalid XML-RPC method name/);
    assert.throws(() => encodeCall('m', [(() => 1) as unknown as XmlRpcValue]), /cannot encode a value of type function/);
  });

  it('encodes Maps in insertion order (numeric-looking keys too)', () => {
    const m = new Map<string, XmlRpcValue>([['1003', 1], ['1002', 2]]);
    const xml = encodeResponse(m);
    assert.ok(xml.indexOf('1003') < xml.indexOf('1002'));
    assert.deepEqual((decodeResponse(xml) as { value: unknown }).value, { 1003: 1, 1002: 2 });
  });

  it('formats doubles like Python repr at the layout boundaries', () => {
    const cases: [number, string][] = [
      [1e16, '1e+16'], [9999999999999998, '9999999999999998.0'], [0.0001, '0.0001'], [0.00001, '1e-05'],
      [123.456, '123.456'], [-1.5, '-1.5'], [1.5e300, '1.5e+300'], [2 ** -1074, '5e-324'],
    ];
    for (const [n, s] of cases) assert.equal(pythonFloatRepr(n), s, String(n));
  });

  it('kwargs puts __starstar last and splitKwargs reverses it', () => {
    const kw = kwargs({ force: true, __starstar: false });
    assert.deepEqual(Object.keys(kw), ['force', '__starstar']);
    assert.deepEqual(splitKwargs(['a', kw]), { args: ['a'], kwargs: { force: true } });
    assert.deepEqual(splitKwargs(['a', { force: true }]), { args: ['a', { force: true }], kwargs: {} });
  });
});

describe('koji faults', () => {
  it('maps every Koji code to its class, keeping Koji inheritance', () => {
    // codes from koji/__init__.py 1.35.3
    const expected: Record<string, number> = {
      GenericError: 1000, LockError: 1001, AuthError: 1002, TagError: 1003, ActionNotAllowed: 1004, BuildError: 1005,
      AuthLockError: 1006, AuthExpired: 1007, SequenceError: 1008, RetryError: 1009, PreBuildError: 1010,
      PostBuildError: 1011, BuildrootError: 1012, FunctionDeprecated: 1013, ServerOffline: 1014, LiveCDError: 1015,
      PluginError: 1016, CallbackError: 1017, ApplianceError: 1018, ParameterError: 1019, ImportError: 1020,
      ConfigurationError: 1021, LiveMediaError: 1022, GSSAPIAuthError: 1023, NameValidationError: 1024,
    };
    assert.deepEqual(Object.fromEntries(FAULT_CODES), expected);
    for (const [name, code] of Object.entries(expected)) {
      const e = faultToError(code, `msg ${name}`);
      assert.equal(e.kojiName, name);
      assert.equal(e.constructor.name, name);
      assert.ok(e instanceof GenericError);
      assert.equal(e.faultString, `msg ${name}`);
    }
    assert.ok(faultToError(1007, 'x') instanceof AuthError);
    assert.ok(faultToError(1007, 'x') instanceof AuthExpired);
    const unknown = faultToError(1, 'KeyError: boom', { hub: 'http://h/kojihub', method: 'getBuild' });
    assert.ok(unknown instanceof KojiFault && !(unknown instanceof GenericError));
    assert.equal(unknown.message, 'Koji hub http://h/kojihub call getBuild: KeyError: boom (fault 1 Fault)');
  });
});
