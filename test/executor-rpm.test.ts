// org.osbuild.rpm with real RPMs (rpmbuild) and a real signature (gpg + rpmsign).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import type { Manifest } from '../src/manifest/types.js';
import { runManifest } from '../src/executor/run.js';
import { assertNoLeaks, collect, mkTmp, sha256, sh, tmpEntries } from './executor-helpers.js';

function spec(name: string, requires: string[] = []): string {
  return `Name: ${name}
Version: 1.0
Release: 1
Summary: test package ${name}
License: MIT
BuildArch: noarch
${requires.map((r) => `Requires: ${r}`).join('\n')}
%description
test
%install
mkdir -p %{buildroot}/usr/share/${name} %{buildroot}/usr/share/doc/${name}
echo ${name} > %{buildroot}/usr/share/${name}/data
echo doc > %{buildroot}/usr/share/doc/${name}/README
%files
/usr/share/${name}/data
%doc /usr/share/doc/${name}/README
`;
}

describe('executor: org.osbuild.rpm', () => {
  const dir = mkTmp('rpm');
  const tmpBefore = tmpEntries(dir);
  const rpms: Record<string, string> = {};
  let pubkey = '';
  before(() => {
    const top = path.join(dir, 'top');
    for (const [n, req] of [['kilnapp', ['kilnlib']], ['kilnlib', []], ['kilnsigned', []]] as const) {
      const sp = path.join(dir, `${n}.spec`);
      fs.writeFileSync(sp, spec(n, [...req]));
      execFileSync('rpmbuild', ['-bb', '--define', `_topdir ${top}`, sp], { stdio: 'ignore' });
      rpms[n] = path.join(top, 'RPMS', 'noarch', `${n}-1.0-1.noarch.rpm`);
    }
    // sign one package with a throwaway key
    const gnupg = path.join(dir, 'gnupg');
    fs.mkdirSync(gnupg, { mode: 0o700 });
    const env = { ...process.env, GNUPGHOME: gnupg };
    execFileSync('gpg', ['--batch', '--passphrase', '', '--quick-gen-key', 'Kiln Test <kiln@example.org>', 'rsa2048', 'sign', 'never'], { env, stdio: 'ignore' });
    pubkey = execFileSync('gpg', ['--armor', '--export', 'kiln@example.org'], { env, encoding: 'utf8' });
    execFileSync('rpmsign', ['--define', '__gpg /usr/bin/gpg', '--define', `_gpg_path ${gnupg}`, '--define', '_gpg_name kiln@example.org', '--addsign', rpms.kilnsigned!], { env, stdio: 'ignore' });
  });
  after(() => {
    // gpg-agent started for the throwaway keyring
    execFileSync('gpgconf', ['--kill', 'gpg-agent'], { env: { ...process.env, GNUPGHOME: path.join(dir, 'gnupg') }, stdio: 'ignore' });
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function manifest(pkgs: string[], options: Record<string, unknown>, checkGpg: string[] = []): Manifest {
    const items: Record<string, string> = {};
    const refs: Record<string, unknown> = {};
    for (const n of pkgs) {
      const sum = sha256(fs.readFileSync(rpms[n]!));
      items[sum] = pathToFileURL(rpms[n]!).href;
      refs[sum] = checkGpg.includes(n) ? { metadata: { 'rpm.check_gpg': true } } : {};
    }
    return {
      version: '2',
      sources: { 'org.osbuild.curl': { items } },
      pipelines: [{ name: 'os', stages: [{ type: 'org.osbuild.rpm', options, inputs: { packages: { type: 'org.osbuild.files', origin: 'org.osbuild.source', references: refs } } }] }],
    };
  }

  it('installs RPMs into the tree; --excludedocs; packages recorded as stage metadata', async () => {
    const store = path.join(dir, 's1');
    const out = path.join(dir, 'o1');
    const r = await runManifest(manifest(['kilnapp', 'kilnlib'], { exclude: { docs: true } }), { store, outputDir: out, exports: ['os'], buildroot: 'host', handleSignals: false });
    const tree = path.join(out, 'os');
    const qa = sh('rpm', ['--root', tree, '--dbpath', '/usr/lib/sysimage/rpm', '-qa', '--qf', '%{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}\n']).trim().split('\n').sort();
    assert.deepEqual(qa, ['kilnapp-1.0-1.noarch', 'kilnlib-1.0-1.noarch']);
    assert.equal(fs.readFileSync(path.join(tree, 'usr/share/kilnapp/data'), 'utf8'), 'kilnapp\n');
    assert.equal(fs.existsSync(path.join(tree, 'usr/share/doc/kilnapp/README')), false, 'docs excluded');
    // the rpmdb is where Fedora keeps it, not in the (Debian) host rpm's ~/.rpmdb
    assert.ok(fs.readdirSync(path.join(tree, 'usr/lib/sysimage/rpm')).some((f) => /^(rpmdb\.sqlite|Packages)/.test(f)));
    assert.equal(fs.existsSync(path.join(tree, 'root/.rpmdb')), false);
    const md = r.pipelines.os!.stages[0]!.metadata as { packages: Record<string, string | null>[] };
    const sigmd5 = sh('rpm', ['-qp', '--qf', '%{SIGMD5}', rpms.kilnapp!]);
    assert.deepEqual(md.packages[0], { name: 'kilnapp', version: '1.0', release: '1', epoch: null, arch: 'noarch', sigmd5, sigpgp: null, siggpg: null });
    assert.deepEqual(md.packages.map((p) => p.name), ['kilnapp', 'kilnlib']);
    // an empty machine-id is left for first boot
    assert.equal(fs.readFileSync(path.join(tree, 'etc/machine-id'), 'utf8'), '');
    assert.equal(fs.statSync(path.join(tree, 'etc/machine-id')).mode & 0o777, 0o444);
    // nothing of the host's /dev, /proc, /sys is left bound in the tree
    assert.deepEqual(fs.readdirSync(path.join(tree, 'dev')), []);
    assert.deepEqual(fs.readdirSync(path.join(tree, 'proc')), []);
    assertNoLeaks(dir, store, tmpBefore);
  });

  it('docs are installed without exclude.docs; a missing dependency fails naming it', async () => {
    const out = path.join(dir, 'o2');
    await runManifest(manifest(['kilnlib'], {}), { store: path.join(dir, 's2'), outputDir: out, exports: ['os'], buildroot: 'host', handleSignals: false });
    assert.ok(fs.existsSync(path.join(out, 'os', 'usr/share/doc/kilnlib/README')));
    await assert.rejects(
      runManifest(manifest(['kilnapp'], {}), { store: path.join(dir, 's3'), exports: [], buildroot: 'host', handleSignals: false }),
      /pipeline "os", stage 1 \(org\.osbuild\.rpm\).*kilnlib is needed by kilnapp/s,
    );
    assertNoLeaks(dir, path.join(dir, 's3'), tmpBefore);
  });

  it('imports gpgkeys into the tree and checks signatures when rpm.check_gpg is set', async () => {
    const out = path.join(dir, 'o4');
    const ev = collect();
    await runManifest(manifest(['kilnsigned'], { gpgkeys: [pubkey] }, ['kilnsigned']), { store: path.join(dir, 's4'), outputDir: out, exports: ['os'], buildroot: 'host', handleSignals: false, onEvent: ev.on });
    assert.match(sh('rpm', ['--root', path.join(out, 'os'), '--dbpath', '/usr/lib/sysimage/rpm', '-q', 'gpg-pubkey', '--qf', '%{SUMMARY}\n']), /Kiln Test/);
    assert.match(sh('rpm', ['--root', path.join(out, 'os'), '--dbpath', '/usr/lib/sysimage/rpm', '-q', 'kilnsigned']), /kilnsigned-1\.0-1/);
    // an unsigned package with check_gpg fails and is named
    await assert.rejects(
      runManifest(manifest(['kilnlib'], { gpgkeys: [pubkey] }, ['kilnlib']), { store: path.join(dir, 's5'), exports: [], buildroot: 'host', handleSignals: false }),
      /package kilnlib-1\.0-1\.noarch \(sha256:[0-9a-f]{64}\) failed GPG signature verification/,
    );
    // a signed package whose key was not given fails too
    await assert.rejects(
      runManifest(manifest(['kilnsigned'], {}, ['kilnsigned']), { store: path.join(dir, 's6'), exports: [], buildroot: 'host', handleSignals: false }),
      /package kilnsigned-1\.0-1\.noarch .* failed GPG signature verification/,
    );
    assertNoLeaks(dir, path.join(dir, 's6'), tmpBefore);
  });

  it('ostree_booted and disable_dracut markers do not outlive the install; dbpath is honoured', async () => {
    const out = path.join(dir, 'o7');
    await runManifest(manifest(['kilnlib'], { ostree_booted: true, disable_dracut: true, dbpath: '/var/lib/rpm' }), { store: path.join(dir, 's7'), outputDir: out, exports: ['os'], buildroot: 'host', handleSignals: false });
    const tree = path.join(out, 'os');
    assert.equal(fs.existsSync(path.join(tree, 'run/ostree-booted')), false);
    assert.equal(fs.existsSync(path.join(tree, 'etc/kernel')), false, 'masks and the directories made for them are gone');
    // the rpmdb went where dbpath said
    assert.match(sh('rpm', ['--root', tree, '--dbpath', '/var/lib/rpm', '-q', 'kilnlib']), /kilnlib-1\.0-1/);
    assert.equal(fs.existsSync(path.join(tree, 'usr/lib/sysimage/rpm')), false);
    assertNoLeaks(dir, path.join(dir, 's7'), tmpBefore);
  });
});
