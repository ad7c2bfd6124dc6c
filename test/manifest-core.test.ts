// Core manifest helpers: Python-compatible JSON, osbuild ids (checked against real Python), the
// seeded RNG, sources, rpm stage, build package set, password hashing (checked against openssl).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import type { ResolvedImageType } from '../src/defs/types.js';
import type { LoadedRepo } from '../src/repo/types.js';
import type { Package } from '../src/rpm/types.js';
import { buildPackageSet, buildPipeline } from '../src/manifest/build-pipeline.js';
import { hashParts, pipelineIds, pyJsonDumps, stageId, stageIds } from '../src/manifest/ids.js';
import { hashPassword, sha512Crypt } from '../src/manifest/password.js';
import { Rng, dosDiskId, uuid4, vfatVolid, vfatVolumeId } from '../src/manifest/rng.js';
import { SourceCollector, packageChecksum } from '../src/manifest/sources.js';
import { rpmStage } from '../src/manifest/stages.js';
import type { Manifest } from '../src/manifest/types.js';

const PY = '/usr/bin/python3';

function python(script: string, stdin: string): string {
  return execFileSync(PY, ['-c', script], { input: stdin, encoding: 'utf8' });
}

function pkg(name: string, repoId: string, hex: string, extra: Partial<Package> = {}): Package {
  return {
    name, arch: 'x86_64', epoch: 0, version: '1.0', release: '1.fc42', location: `Packages/${name[0]}/${name}-1.0-1.fc42.x86_64.rpm`,
    checksum: { type: 'sha256', value: hex.repeat(64).slice(0, 64) }, provides: [], requires: [], conflicts: [], obsoletes: [],
    recommends: [], suggests: [], supplements: [], enhances: [], files: [], repoId, ...extra,
  };
}

function repo(id: string, o: { keys?: string[]; check?: boolean; metalink?: string; baseurl?: string } = {}): LoadedRepo {
  return {
    config: { id, metalink: o.metalink, baseurl: o.baseurl ? [o.baseurl] : undefined, checkGpg: o.check },
    baseurl: o.baseurl ?? `https://mirror.example/${id}/`,
    revision: 'r', packages: [], groups: [], environments: [], gpgkeyTexts: o.keys ?? [],
  };
}

describe('pyJsonDumps matches Python json.dumps(sort_keys=True)', () => {
  it('for strings, unicode, control characters, key order, numbers', () => {
    const values: unknown[] = [
      { b: 1, a: [true, false, null], 'Z': 'x', 'é': 'ü€😀', '': {} },
      'quote " backslash \\ slash / tab \t nl \n cr \r bs \b ff \f nul \u0000 del \u007f',
      [0.1, 1e-7, 123.456, -2.5, 1e-5, 0.0001, 1.5e300, 12345678.9, 1e100, -0.5],
      [0, -1, 2 ** 53, 1234567890123, 1e16, 1e21, 2.5e-300, 123e20],
      { nested: { z: [1, { y: 'q', x: 'p' }], 'a\u00e9': 1, A: 2, _: 3 } },
      { '😀': 1, '\uffff': 2, 'é': 3 },
    ];
    const input = JSON.stringify(values);
    const out = python('import json,sys\nfor v in json.load(sys.stdin): print(json.dumps(v, sort_keys=True))', input).split('\n').slice(0, -1);
    assert.deepEqual(values.map(pyJsonDumps), out);
  });
});

// An independent Python implementation of osbuild's id rules (pipeline.py/inputs.py/devices.py/
// mounts.py, reference §6.2), fed the same manifest.
const PY_IDS = String.raw`
import json, sys, hashlib
def h(*parts):
    m = hashlib.sha256()
    for p in parts: m.update(json.dumps(p, sort_keys=True).encode())
    return m.hexdigest()
man = json.load(sys.stdin)
pids = {}
out = {}
for p in man["pipelines"]:
    build = pids[p["build"][5:]] if p.get("build") else None
    base = None
    ids = []
    for s in p["stages"]:
        devs = s.get("devices", {})
        def dev_id(n):
            d = devs[n]
            parts = [d["type"]]
            if d.get("parent"): parts.append(dev_id(d["parent"]))
            parts.append(d.get("options", {}))
            return h(*parts)
        m = hashlib.sha256()
        for x in [s["type"], build, base, s.get("options") or {}]:
            m.update(json.dumps(x, sort_keys=True).encode())
        if p.get("source-epoch") is not None: m.update(json.dumps(p["source-epoch"], sort_keys=True).encode())
        if s.get("inputs"):
            d = {}
            for name, i in s["inputs"].items():
                refs = i["references"]
                if isinstance(refs, list):
                    refs = dict((r, {}) if isinstance(r, str) else (r["id"], r.get("options", {})) for r in refs)
                if i["origin"] == "org.osbuild.pipeline":
                    refs = {pids[k[5:]]: v for k, v in refs.items() if k.startswith("name:")}
                refs = {k: (v or {}) for k, v in refs.items()}
                d[name] = h(i["type"], i["origin"], refs, i.get("options", {}))
            m.update(json.dumps(d, sort_keys=True).encode())
        if s.get("mounts"):
            ms = []
            for mt in s["mounts"]:
                parts = [mt["type"]]
                if mt.get("source"): parts.append(dev_id(mt["source"]))
                if mt.get("partition"): parts.append(mt["partition"])
                if mt.get("target"): parts.append(mt["target"])
                parts.append(mt.get("options", {}))
                ms.append(h(*parts))
            m.update(json.dumps(ms).encode())
        base = m.hexdigest()
        ids.append(base)
    pids[p["name"]] = base
    out[p["name"]] = ids
print(json.dumps(out))
`;

describe('osbuild ids', () => {
  const manifest: Manifest = {
    version: '2',
    pipelines: [
      {
        name: 'build',
        runner: 'org.osbuild.fedora42',
        stages: [
          { type: 'org.osbuild.rpm', inputs: { packages: { type: 'org.osbuild.files', origin: 'org.osbuild.source', references: [{ id: 'sha256:' + 'a'.repeat(64), options: { metadata: { 'rpm.check_gpg': true } } }, { id: 'sha256:' + 'b'.repeat(64) }] } }, options: { gpgkeys: ['KEY é'] } },
          { type: 'org.osbuild.selinux', options: { file_contexts: 'etc/selinux/targeted/contexts/files/file_contexts', labels: { '/usr/bin/cp': 'system_u:object_r:install_exec_t:s0' } } },
        ],
      },
      { name: 'os', build: 'name:build', 'source-epoch': 1700000000, stages: [{ type: 'org.osbuild.locale', options: { language: 'C.UTF-8' } }, { type: 'org.osbuild.fix-bls' }] },
      {
        name: 'image',
        build: 'name:build',
        stages: [
          { type: 'org.osbuild.truncate', options: { filename: 'disk.img', size: '5580521472' } },
          {
            type: 'org.osbuild.copy',
            inputs: { 'root-tree': { type: 'org.osbuild.tree', origin: 'org.osbuild.pipeline', references: ['name:os'] } },
            options: { paths: [{ from: 'input://root-tree/', to: 'mount://-/' }] },
            devices: { '-': { type: 'org.osbuild.loopback', options: { filename: 'disk.img', start: 4605952, size: 6293471 } }, luks: { type: 'org.osbuild.luks2', parent: '-', options: { passphrase: 'x' } } },
            mounts: [{ name: '-', type: 'org.osbuild.ext4', source: '-', target: '/' }, { name: 'l', type: 'org.osbuild.xfs', source: 'luks', target: '/srv', options: { norecovery: true } }],
          },
        ],
      },
      { name: 'xz', build: 'name:build', stages: [{ type: 'org.osbuild.xz', inputs: { file: { type: 'org.osbuild.files', origin: 'org.osbuild.pipeline', references: { 'name:image': { file: 'disk.img' } } } }, options: { filename: 'disk.raw.xz' } }] },
    ],
    sources: {},
  };

  it('stage and pipeline ids equal the Python computation', () => {
    const expected = JSON.parse(python(PY_IDS, JSON.stringify(manifest))) as Record<string, string[]>;
    const got = Object.fromEntries(stageIds(manifest));
    assert.deepEqual(got, expected);
    const pids = pipelineIds(manifest);
    assert.equal(pids.get('xz'), expected['xz']![0]);
    assert.equal(pids.get('os'), expected['os']![1]);
  });

  it('a known single-stage id (first stage, no build)', () => {
    const want = python(
      'import json,hashlib\nm=hashlib.sha256()\nfor x in ["org.osbuild.locale", None, None, {"language": "C.UTF-8"}]: m.update(json.dumps(x, sort_keys=True).encode())\nprint(m.hexdigest())',
      '',
    ).trim();
    assert.equal(stageId({ type: 'org.osbuild.locale', options: { language: 'C.UTF-8' } }, { build: null, base: null, pipelineIds: new Map() }), want);
    assert.equal(hashParts(['org.osbuild.locale', null, null, { language: 'C.UTF-8' }]), want);
  });

  it('changing an option changes the id of that stage and every later one', () => {
    const m2 = structuredClone(manifest);
    m2.pipelines[1]!.stages[0]!.options = { language: 'en_US.UTF-8' };
    const a = stageIds(manifest);
    const b = stageIds(m2);
    assert.deepEqual(a.get('build'), b.get('build'));
    assert.notEqual(a.get('os')![0], b.get('os')![0]);
    assert.notEqual(a.get('image')![1], b.get('image')![1], 'copy of name:os depends on os');
    assert.equal(a.get('image')![0], b.get('image')![0]);
  });

  it('errors name the bad reference', () => {
    const m2 = structuredClone(manifest);
    m2.pipelines[3]!.stages[0]!.inputs!['file']!.references = { 'name:nope': { file: 'x' } };
    assert.throws(() => stageIds(m2), /name:nope/);
    const m3 = structuredClone(manifest);
    m3.pipelines[1]!.build = 'name:later';
    assert.throws(() => stageIds(m3), /pipeline "os": build pipeline "later"/);
  });
});

describe('rng', () => {
  it('same seed, same sequence; different seeds differ', () => {
    const a = new Rng(123n);
    const b = new Rng(123n);
    const c = new Rng(124n);
    const sa = [uuid4(a), uuid4(a), uuid4(a)];
    assert.deepEqual(sa, [uuid4(b), uuid4(b), uuid4(b)]);
    assert.notDeepEqual(sa, [uuid4(c), uuid4(c), uuid4(c)]);
    assert.equal(new Set(sa).size, 3);
    for (const u of sa) assert.match(u, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('accepts negative and huge seeds deterministically', () => {
    assert.equal(uuid4(new Rng(-1n)), uuid4(new Rng((1n << 64n) - 1n)));
  });

  it('vfat and dos ids', () => {
    assert.equal(vfatVolumeId('7b7795e7-0000-4000-8000-000000000000'), '7B77-95E7');
    assert.equal(vfatVolid('7B77-95E7'), '7B7795E7');
    assert.equal(dosDiskId('C1748067-aaaa-4aaa-8aaa-aaaaaaaaaaaa'), '0xc1748067');
    assert.throws(() => vfatVolumeId('xyz'), /"xyz"/);
  });
});

describe('sources', () => {
  const fedora = repo('fedora', { metalink: 'https://mirrors.example/metalink?repo=fedora-42', keys: ['KEY-B', 'KEY-A'], check: true });
  const local = repo('local', { baseurl: 'file:///srv/repo/' });

  it('librepo: items path+mirror, mirrors by type, keys sorted', () => {
    const s = new SourceCollector(true);
    s.addPackages([pkg('zsh', 'fedora', 'c'), pkg('bash', 'local', 'a')], [fedora, local]);
    const j = s.toJSON();
    assert.deepEqual(Object.keys(j['org.osbuild.librepo']!.items), ['sha256:' + 'a'.repeat(64), 'sha256:' + 'c'.repeat(64)]);
    assert.deepEqual(j['org.osbuild.librepo']!.items['sha256:' + 'c'.repeat(64)], { path: 'Packages/z/zsh-1.0-1.fc42.x86_64.rpm', mirror: 'fedora' });
    assert.deepEqual(j['org.osbuild.librepo']!.options, {
      mirrors: { fedora: { url: 'https://mirrors.example/metalink?repo=fedora-42', type: 'metalink' }, local: { url: 'file:///srv/repo/', type: 'baseurl' } },
    });
  });

  it('curl: url = base + location; inline: base64 with sha256 of the data', () => {
    const s = new SourceCollector(false);
    s.addPackages([pkg('bash', 'local', 'a')], [local]);
    const id = s.addInline('hello\n');
    const j = s.toJSON();
    assert.deepEqual(j['org.osbuild.curl']!.items, { ['sha256:' + 'a'.repeat(64)]: { url: 'file:///srv/repo/Packages/b/bash-1.0-1.fc42.x86_64.rpm' } });
    const sha = python('import hashlib,sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())', 'hello\n').trim();
    assert.equal(id, `sha256:${sha}`);
    assert.deepEqual(j['org.osbuild.inline']!.items[id], { encoding: 'base64', data: Buffer.from('hello\n').toString('base64') });
    assert.deepEqual(Object.keys(j), ['org.osbuild.curl', 'org.osbuild.inline']);
  });

  it('bad checksum and unknown repo are errors naming the package', () => {
    assert.throws(() => packageChecksum(pkg('vim', 'local', 'a', { checksum: { type: 'sha256', value: 'zz' } })), /vim-1\.0-1\.fc42\.x86_64 from repo "local"/);
    assert.throws(() => new SourceCollector(true).addPackages([pkg('vim', 'gone', 'a')], [local]), /vim comes from repo "gone"/);
  });
});

describe('rpm stage', () => {
  it('check_gpg metadata per package, gpgkeys of supplying repos sorted and deduped', () => {
    const fedora = repo('fedora', { keys: ['KEY-B', 'KEY-A'], check: true });
    const updates = repo('updates', { keys: ['KEY-A'], check: true });
    const local = repo('local', { keys: ['KEY-UNUSED'] });
    const s = new SourceCollector(true);
    const st = rpmStage([pkg('a', 'fedora', '1'), pkg('b', 'updates', '2'), pkg('c', 'fedora', '1')], [fedora, updates, local], s, { ostreeBooted: true, dbpath: '/usr/share/rpm', disableDracut: true });
    assert.deepEqual(st.options, { gpgkeys: ['KEY-A', 'KEY-B'], dbpath: '/usr/share/rpm', ostree_booted: true, disable_dracut: true });
    assert.deepEqual(st.inputs!['packages']!.references, [
      { id: 'sha256:' + '1'.repeat(64), options: { metadata: { 'rpm.check_gpg': true } } },
      { id: 'sha256:' + '2'.repeat(64), options: { metadata: { 'rpm.check_gpg': true } } },
    ]);
    const plain = rpmStage([pkg('x', 'local', '3')], [local], s);
    assert.deepEqual(plain.inputs!['packages']!.references, [{ id: 'sha256:' + '3'.repeat(64) }]);
  });

  it('a check_gpg repo without keys is an error naming repo and package', () => {
    assert.throws(() => rpmStage([pkg('a', 'r', '1')], [repo('r', { check: true })], new SourceCollector(true)), /repo "r" has check_gpg set but no gpg keys.*package a/);
  });
});

function imageType(extra: Partial<ResolvedImageType> = {}): ResolvedImageType {
  return {
    name: 'minimal-raw-xz', aliases: [], arch: 'x86_64', filename: 'disk.raw.xz', mime_type: 'application/xz', compression: 'xz',
    bootable: true, boot_iso: false, default_size: 2 * 1024 ** 3, image_func: 'disk', exports: ['xz'], required_partition_sizes: {},
    distro: { name: 'fedora-42', distro_like: 'fedora', product: 'Fedora', major_version: 42, os_version: '42', release_version: '42', module_platform_id: 'platform:f42', preview: false, runner: 'org.osbuild.fedora42', runner_build_packages: ['glibc', 'systemd', 'python3'], iso_label_tmpl: '', default_fs_type: 'ext4' },
    platform: { arch: 'x86_64', uefi_vendor: 'fedora', packages: {}, build_packages: {} },
    boot_mode: 'uefi', package_sets: {}, image_config: {}, blueprint: { supported_options: [], required_options: [] }, source: { path: '', sha256: '' },
    partition_table: { type: 'gpt', partitions: [{ size: 1, type: 'x', payload: { type: 'vfat', mountpoint: '/boot/efi' } }, { size: 1, type: 'x', payload: { type: 'ext4', mountpoint: '/' } }] },
    ...extra,
  };
}

describe('build pipeline', () => {
  it('minimal-raw-xz build set matches the reference list (§4.6)', () => {
    const t = buildPackageSet(imageType(), ['os', 'image', 'xz']);
    assert.deepEqual(t.include, ['coreutils', 'dosfstools', 'e2fsprogs', 'glibc', 'policycoreutils', 'python3', 'rpm', 'selinux-policy-targeted', 'systemd', 'xz']);
    assert.equal(t.installWeakDeps, true);
    const z = buildPackageSet(imageType(), ['os', 'image', 'zstd']);
    assert.deepEqual(z.include.filter((p) => !t.include.includes(p)), ['zstd']);
  });

  it('merges platform build packages and a build set from the definitions', () => {
    const it2 = imageType({ platform: { arch: 'x86_64', packages: {}, build_packages: { bios: ['grub2-pc'] } }, package_sets: { build: { include: ['extra-tool'], exclude: ['bad'] } } });
    const t = buildPackageSet(it2, ['os', 'qcow2'], ['shadow-utils']);
    for (const p of ['grub2-pc', 'extra-tool', 'qemu-img', 'shadow-utils']) assert.ok(t.include.includes(p), p);
    assert.deepEqual(t.exclude, ['bad']);
  });

  it('selinux labels cp always, tar only when tar is installed', () => {
    const r = repo('r');
    const s = new SourceCollector(true);
    const p1 = buildPipeline(imageType(), { transactions: [[pkg('coreutils', 'r', '1')]], repos: [r] }, s);
    assert.equal(p1.runner, 'org.osbuild.fedora42');
    assert.deepEqual(p1.stages.map((x) => x.type), ['org.osbuild.rpm', 'org.osbuild.selinux']);
    assert.deepEqual(Object.keys(p1.stages[1]!.options!['labels'] as object), ['/usr/bin/cp']);
    const p2 = buildPipeline(imageType(), { transactions: [[pkg('coreutils', 'r', '1'), pkg('tar', 'r', '2')]], repos: [r] }, s);
    assert.deepEqual(Object.keys(p2.stages[1]!.options!['labels'] as object), ['/usr/bin/cp', '/usr/bin/tar']);
    assert.throws(() => buildPipeline(imageType(), undefined, s), /"minimal-raw-xz": no depsolved packages for the build pipeline/);
  });
});

describe('passwords', () => {
  it('sha512-crypt equals openssl passwd -6', () => {
    for (const [pw, salt] of [['hello world', 'saltstring'], ['p', 'ab'], ['x'.repeat(130), '0123456789abcdef']] as const) {
      const want = execFileSync('openssl', ['passwd', '-6', '-salt', salt, pw], { encoding: 'utf8' }).trim();
      assert.equal(sha512Crypt(pw, salt), want);
    }
  });

  it('keeps existing hashes, salts plaintext from the seed', () => {
    assert.equal(hashPassword('$6$abc$def', new Rng(1n)), '$6$abc$def');
    assert.equal(hashPassword('secret', new Rng(1n)), hashPassword('secret', new Rng(1n)));
    assert.notEqual(hashPassword('secret', new Rng(1n)), hashPassword('secret', new Rng(2n)));
    assert.match(hashPassword('secret', new Rng(1n)), /^\$6\$[./0-9A-Za-z]{16}\$[./0-9A-Za-z]{86}$/);
  });
});

describe('every stage builder validates against its osbuild schema', () => {
  it('builders not exercised by the disk tests', async () => {
    const st = await import('../src/manifest/stages.js');
    const { layoutPartitionTable, MiB: M, GiB: Gi, mountUnits } = await import('../src/manifest/layout.js');
    const { validateManifest } = await import('../src/manifest/validate.js');
    const pt = layoutPartitionTable(
      {
        type: 'dos',
        partitions: [
          { size: 4 * M, type: '41', bootable: true },
          { size: Gi, type: '83', payload: { type: 'xfs', mountpoint: '/boot', label: 'boot' } },
          { size: Gi, type: '82', payload: { type: 'swap', label: 'swap' } },
          { size: 2 * Gi, type: '83', payload: { type: 'btrfs', mountpoint: '/', label: 'root' } },
        ],
      },
      { size: 0, rng: new Rng(9n) },
    );
    const stages = [
      st.mkfsStage(pt, pt.partitions[1]!, 'disk.img'),
      st.mkfsStage(pt, pt.partitions[2]!, 'disk.img'),
      st.mkfsStage(pt, pt.partitions[3]!, 'disk.img'),
      st.grub2InstStage(pt, 'disk.img', 'powerpc-ieee1275'),
      st.sfdiskStage(pt, 'disk.img'),
      st.systemdPresetStage([{ name: 'foo.service', state: 'enable' }]),
      st.dracutConfStage('40-fips.conf', { add_dracutmodules: ['fips'] }),
      st.systemdJournaldStage('10-persistent.conf', { Journal: { Storage: 'persistent' } }),
      st.keymapStage('us', ['us']),
      st.fixBlsStage(),
      st.mkdirStage([{ path: '/boot/efi', mode: 0o700 }]),
      ...mountUnits(pt).map((u) => st.systemdUnitCreateStage(u)),
      st.systemdUnitCreateStage({ filename: 'hello.service', 'unit-path': 'usr', config: { Unit: { Description: 'x' }, Service: { Type: 'oneshot', ExecStart: ['/bin/true'] }, Install: { WantedBy: ['multi-user.target'] } } }),
      st.selinuxStage({ forceAutorelabel: true, labels: { '/usr/bin/tar': st.INSTALL_EXEC_LABEL } }),
    ];
    const tail = [
      st.gzipStage('disk.raw.gz', 'image', 'disk.img'),
      st.qemuStage('disk.vmdk', 'vmdk', 'image', 'disk.img'),
      st.qemuStage('disk.vhd', 'vpc', 'image', 'disk.img'),
      st.tarStage('root.tar', 'image', { rootNode: 'omit' }),
      st.ociArchiveStage('container.tar', st.ociArch('x86_64'), 'image', { Cmd: ['/bin/bash'] }),
    ];
    assert.equal(mountUnits(pt).length, 2, '/boot mount unit and a swap unit');
    const m: Manifest = {
      version: '2',
      pipelines: [
        { name: 'build', runner: 'org.osbuild.fedora42', stages: [] },
        { name: 'image', build: 'name:build', stages },
        { name: 'out', build: 'name:build', stages: tail },
      ],
      sources: {},
    };
    assert.deepEqual(validateManifest(JSON.parse(JSON.stringify(m))), []);
    assert.throws(() => st.ociArch('mips'), /"mips"/);
    assert.throws(() => st.parseMode('999', '/x'), /"\/x": mode "999"/);
  });
});
