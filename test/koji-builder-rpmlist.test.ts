// build.rpmlist: the default "none" (as upstream koji-image-builder) and the opt-in "image",
// checked against the hub before the import. The hub double's host.completeImageBuild looks up
// rpmlist entries as kojihub 1.35.3 importImageInternal does (get_rpm strict, epoch not
// compared; add_external_rpm for entries with a `location`; drafts refused), so the failure a
// real hub gave ("No such rpm: {...}") is reproduced here first.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';

import type { ImageBuildOutput, ImageBuildRequest } from '../src/koji/builder/runner.js';
import type { XmlRpcStruct, XmlRpcValue } from '../src/koji/xmlrpc.js';
import { BUILD_STATES, HubError, startKojiHubDouble, TASK_STATES, taskRelDir, type KojiHubDouble } from './helpers/kojihub-double.js';
import { seedExternalRepo, seedRpms } from './helpers/kojihub-double/rpms.js';
import { children, makeTmp, result, SmallRunner, startHarness, submit, waitTask } from './koji-builder-harness.js';

const { tmp, cleanup } = makeTmp('kiln-kojibuilder-rpmlist-');
after(cleanup);

const NM = { name: 'NetworkManager', version: '1.52.0', release: '1.fc42', epoch: 1, arch: 'x86_64' };
const BASH = { name: 'bash', version: '5.2.37', release: '1.fc42', epoch: 0, arch: 'x86_64' };

/** SmallRunner that reports these packages as installed in the image. */
class PkgRunner extends SmallRunner {
  constructor(private readonly pkgs: (typeof NM)[]) {
    super();
  }
  override async build(req: ImageBuildRequest): Promise<ImageBuildOutput> {
    const out = await super.build(req);
    return { ...out, packages: this.pkgs.map((p) => ({ ...p, arch: req.arch })) };
  }
}

function hubFault(re: RegExp, kojiName = 'GenericError') {
  return (e: unknown) => e instanceof HubError && e.kojiName === kojiName && re.test(e.message);
}

describe('hub double: completeImageBuild checks the rpmlist like importImageInternal', () => {
  let dbl: KojiHubDouble;
  after(async () => dbl?.stop());

  /** An open image build with one child whose files are in its task dir; returns the completeImageBuild call. */
  async function importOf(release: string): Promise<(rpmlist: XmlRpcValue[]) => XmlRpcValue> {
    const as = (m: string, p: XmlRpcValue[]) => dbl.callAs('kiln1', m, p, { exclusive: true });
    const parent = Number(dbl.callAs('imguser', 'imageBuilderBuild', ['f42-image-builder', ['x86_64'], ['minimal-raw-xz'], 'Fedora-Minimal', '42', { release }]));
    as('host.updateHost', [0, true]);
    as('host.getTasks', []);
    as('host.openTask', [parent]);
    const build = as('host.initImageBuild', [parent, { name: 'Fedora-Minimal', version: '42', release, epoch: null }]) as XmlRpcStruct;
    const child = Number(as('host.subtask', [{ method: 'imageBuilderBuildArch', arglist: [], parent, label: 'x86_64', arch: 'x86_64', __starstar: true }]));
    const work = path.join(topdir, 'work', taskRelDir(child));
    fs.mkdirSync(work, { recursive: true });
    const file = `Fedora-Minimal-42-${release}.x86_64.raw.xz`;
    fs.writeFileSync(path.join(work, file), 'image');
    return (rpmlist) => as('host.completeImageBuild', [parent, Number(build.id), { [String(child)]: { task_id: child, arch: 'x86_64', files: [file], logs: [], rpmlist } }]);
  }

  let topdir = '';
  test('an rpm the hub does not know fails the import with kojihub\'s message; known ones (any epoch) pass', async () => {
    topdir = path.join(tmp(), 'koji');
    dbl = await startKojiHubDouble({
      topdir,
      users: [{ name: 'imguser', password: 'p', perms: ['image'] }],
      hosts: [{ name: 'kiln1', password: 'h', arches: 'x86_64', capacity: 10, channels: ['default', 'image'] }],
      tags: [{ name: 'f42-build', arches: 'x86_64' }, { name: 'f42', packages: ['Fedora-Minimal'] }],
      targets: [{ name: 'f42-image-builder', buildTag: 'f42-build', destTag: 'f42' }],
      schedulerIntervalMs: 0,
    });
    const complete = await importOf('1');
    seedRpms(dbl.state, [{ ...BASH }]);
    // the exact text of the real hub's fault (Koji 1.35.3, host.completeImageBuild)
    assert.throws(
      () => complete([{ ...BASH }, { ...NM }]),
      hubFault(/^No such rpm: \{'name': 'NetworkManager', 'version': '1\.52\.0', 'release': '1\.fc42', 'epoch': 1, 'arch': 'x86_64'\}$/),
    );
    const b = [...dbl.state.builds.values()][0]!;
    assert.equal(b.state, BUILD_STATES.BUILDING);
    // get_rpm matches name, version, release and arch: the epoch is not compared
    seedRpms(dbl.state, [{ ...NM, epoch: 2 }]);
    assert.equal(complete([{ ...BASH }, { ...NM }]), null);
    assert.equal(b.state, BUILD_STATES.COMPLETE);
  });

  test('draft rpms are refused; entries with a location are external rpms (fields checked, repo must exist)', async () => {
    const draft = await importOf('2');
    seedRpms(dbl.state, [{ name: 'drafty', version: '1', release: '1', arch: 'x86_64', draft: true }]);
    assert.throws(() => draft([{ name: 'drafty', version: '1', release: '1', epoch: null, arch: 'x86_64' }]), hubFault(/^Draft rpm not supported$/));

    const ext = await importOf('3');
    const base = { name: 'zsh', version: '5.9', release: '1.fc42', epoch: null, arch: 'x86_64', location: 'fedora-updates' };
    assert.throws(() => ext([base]), hubFault(/^payloadhash field missing: \{'name': 'zsh', .*'location': 'fedora-updates'\}$/));
    const full = { ...base, payloadhash: 'ab'.repeat(16), size: 100, buildtime: 1700000000 };
    assert.throws(() => ext([{ ...full, size: 'big' }]), hubFault(/^Invalid value for size: 'big'$/));
    assert.throws(() => ext([full]), hubFault(/^No such entry in table external_repo: fedora-updates$/));
    seedExternalRepo(dbl.state, 'fedora-updates');
    assert.equal(ext([full]), null);
    const got = dbl.callAs(null, 'getRPM', ['zsh-5.9-1.fc42.x86_64@fedora-updates']) as XmlRpcStruct;
    assert.equal(got.external_repo_name, 'fedora-updates');
    assert.equal(dbl.callAs(null, 'getRPM', ['zsh-5.9-1.fc42.x86_64']) !== null, true);
    assert.equal(dbl.callAs(null, 'getRPM', [{ name: 'nope', version: '1', release: '1', arch: 'x86_64' }]), null);
    assert.throws(() => dbl.callAs(null, 'getRPM', [{ name: 'nope', version: '1', release: '1', arch: 'x86_64' }, { strict: true, __starstar: true }]), hubFault(/^No such rpm: /));
  });
});

describe('build.rpmlist through the builder', () => {
  test('default "none": the result lists no rpms and the build imports', async () => {
    const h = await startHarness(tmp(), new PkgRunner([BASH, NM]));
    try {
      const id = submit(h.dbl, ['x86_64'], {});
      assert.equal(await waitTask(h.dbl, id), TASK_STATES.CLOSED, JSON.stringify(result(h.dbl, id)));
      const kid = children(h.dbl, id).find((k) => k.method === 'imageBuilderBuildArch')!;
      assert.deepEqual((result(h.dbl, kid.id).value as XmlRpcStruct).rpmlist, []);
    } finally {
      await h.stop();
    }
  });

  test('"image" with an rpm the hub does not know: the child fails before uploading, naming it and the setting', async () => {
    const dir = tmp();
    const h = await startHarness(dir, new PkgRunner([BASH, NM]), undefined, { build: 'default_distro = "fedora-42"\nrpmlist = "image"' });
    try {
      seedRpms(h.dbl.state, [{ ...BASH }]);
      const id = submit(h.dbl, ['x86_64'], {});
      assert.equal(await waitTask(h.dbl, id), TASK_STATES.FAILED);
      const kid = children(h.dbl, id).find((k) => k.method === 'imageBuilderBuildArch')!;
      const f = result(h.dbl, kid.id).fault!;
      assert.equal(f.faultCode, 1005);
      assert.match(f.faultString, /build\.rpmlist = "image" in .*builder\.toml: 1 of the image's 2 RPMs are not known to the Koji hub: NetworkManager-1:1\.52\.0-1\.fc42\.x86_64\./);
      assert.match(f.faultString, /build\.rpmlist = "none"/);
      // the hub was never asked to import, and the image was not uploaded
      assert.equal(h.dbl.calls.filter((c) => c.method === 'host.completeImageBuild').length, 0);
      assert.ok(!fs.existsSync(path.join(dir, 'koji', 'work', taskRelDir(kid.id), 'Fedora-Minimal-42-1.x86_64.raw.xz')));
      assert.equal([...h.dbl.state.builds.values()][0]!.state, BUILD_STATES.FAILED);
    } finally {
      await h.stop();
    }
  });

  test('"image" with rpms the hub knows: the list is imported; scratch builds are not checked', async () => {
    const h = await startHarness(tmp(), new PkgRunner([BASH, NM]), undefined, { build: 'default_distro = "fedora-42"\nrpmlist = "image"' });
    try {
      const scratch = submit(h.dbl, ['x86_64'], { scratch: true });
      assert.equal(await waitTask(h.dbl, scratch), TASK_STATES.CLOSED, JSON.stringify(result(h.dbl, scratch)));
      seedRpms(h.dbl.state, [{ ...BASH }, { ...NM }]);
      const id = submit(h.dbl, ['x86_64'], {});
      assert.equal(await waitTask(h.dbl, id), TASK_STATES.CLOSED, JSON.stringify(result(h.dbl, id)));
      const call = h.dbl.calls.find((c) => c.method === 'host.completeImageBuild')!;
      const results = Object.values(call.params[2] as XmlRpcStruct) as XmlRpcStruct[];
      assert.deepEqual(
        (results[0]!.rpmlist as XmlRpcStruct[]).map((r) => `${r.name}-${r.epoch}:${r.version}-${r.release}.${r.arch}`).sort(),
        ['NetworkManager-1:1.52.0-1.fc42.x86_64', 'bash-0:5.2.37-1.fc42.x86_64'],
      );
      assert.equal([...h.dbl.state.builds.values()][0]!.state, BUILD_STATES.COMPLETE);
    } finally {
      await h.stop();
    }
  });
});
