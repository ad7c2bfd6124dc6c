// Unit tests for the pure parts of the Koji build host: the configuration file, archive-type
// matching (against the archive types of Koji's schema.sql, as the hub double carries them),
// repo/arch helpers and the streamed log.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';

import { Command } from 'commander';

import { registerKojiBuilderCommand, runKojiBuilder } from '../src/cli/koji-builder.js';
import { matchArchiveType, type ArchiveType } from '../src/koji/builder/archive-types.js';
import { parseBuilderConfig } from '../src/koji/builder/config.js';
import { canonArch, requestParams, substArch } from '../src/koji/builder/handlers/common.js';
import { faultFor } from '../src/koji/builder/task.js';
import { BuildError } from '../src/koji/faults.js';
import { encodeCall } from '../src/koji/xmlrpc.js';
import { KilnError } from '../src/util/errors.js';
import { SCHEMA_ARCHIVE_TYPES } from './helpers/kojihub-double/archivetypes.js';

const dirs: string[] = [];
after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

const GOOD = `
[hub]
url = "https://koji.example.org/kojihub/"
topurl = "https://kojipkgs.example.org"

[auth]
type = "password"
password = "secret"

[host]
name = "kiln-x86-01"
arches = ["x86_64"]

[build]
work_dir = "work"
cache_dir = "/var/cache/kiln"
`;

describe('builder config', () => {
  test('defaults and relative paths', () => {
    const c = parseBuilderConfig(GOOD, '/etc/kiln/koji-builder.toml');
    assert.equal(c.hub, 'https://koji.example.org/kojihub');
    assert.deepEqual(c.auth, { type: 'password', user: 'kiln-x86-01', password: 'secret' });
    assert.equal(c.workDir, '/etc/kiln/work');
    assert.equal(c.cacheDir, '/var/cache/kiln');
    assert.equal(c.topdir, '/mnt/koji');
    assert.equal(c.buildroot, 'bwrap');
    assert.equal(c.maxJobs, 4);
    assert.equal(c.pollIntervalMs, 15000);
    assert.equal(c.repoWaitPauseMs, 60_000);
    assert.equal(c.repoWaitTimeoutMs, 120 * 60_000);
    assert.equal(c.rpmlist, 'none');
    assert.equal(c.defaultDistro, undefined);
    assert.equal(c.forceLock, false);
  });

  test('repo wait settings are read in seconds and minutes', () => {
    const c = parseBuilderConfig(GOOD.replace('[host]', '[host]\nrepo_wait_pause = 0.5\nrepo_wait_timeout = 3'), 'x.toml');
    assert.equal(c.repoWaitPauseMs, 500);
    assert.equal(c.repoWaitTimeoutMs, 180_000);
  });

  test('the example config in configs/ parses', () => {
    const file = new URL('../../configs/koji-builder.example.toml', import.meta.url).pathname;
    const c = parseBuilderConfig(fs.readFileSync(file, 'utf8'), file);
    assert.equal(c.auth.type, 'ssl');
    assert.ok(c.arches.length > 0);
  });

  const bad: [string, string, RegExp][] = [
    ['missing table', GOOD.replace('[build]\nwork_dir = "work"\ncache_dir = "/var/cache/kiln"', ''), /x\.toml: \[build\]: missing table/],
    ['unknown key', GOOD.replace('[host]', '[host]\nmaxjobs = 3'), /x\.toml: host\.maxjobs: unknown key/],
    ['bad url', GOOD.replace('https://kojipkgs.example.org', 'kojipkgs'), /x\.toml: hub\.topurl: not a valid URL/],
    ['bad auth type', GOOD.replace('type = "password"', 'type = "kerberos"'), /x\.toml: auth\.type: must be "password" or "ssl"/],
    ['no password', GOOD.replace('password = "secret"', ''), /x\.toml: auth\.password: missing/],
    ['bad arches', GOOD.replace('arches = ["x86_64"]', 'arches = "x86_64"'), /x\.toml: host\.arches: must be a non-empty list/],
    ['bad max_jobs', GOOD.replace('[host]', '[host]\nmax_jobs = 0'), /x\.toml: host\.max_jobs: must be an integer >= 1, got 0/],
    ['bad repo_wait_pause', GOOD.replace('[host]', '[host]\nrepo_wait_pause = "1m"'), /x\.toml: host\.repo_wait_pause: /],
    ['bad buildroot', GOOD.replace('cache_dir', 'buildroot = "mock"\ncache_dir'), /x\.toml: build\.buildroot: must be "bwrap" or "host", got "mock"/],
    ['ssl needs https', GOOD.replace('https://koji.example.org', 'http://koji.example.org').replace('type = "password"\npassword = "secret"', 'type = "ssl"\ncert = "/etc/kiln/host.pem"'), /x\.toml: hub\.url: auth\.type "ssl" needs an https hub URL/],
    ['not toml', '[hub', /x\.toml: not valid TOML/],
    ['empty default_distro', GOOD.replace('cache_dir', 'default_distro = ""\ncache_dir'), /x\.toml: build\.default_distro: must be a non-empty string/],
    ['bad rpmlist', GOOD.replace('cache_dir', 'rpmlist = "all"\ncache_dir'), /x\.toml: build\.rpmlist: must be "image" or "none", got "all"/],
  ];
  for (const [name, text, re] of bad) {
    test(`rejects ${name}, naming file and key`, () => {
      assert.throws(() => parseBuilderConfig(text, 'x.toml'), (e: Error) => e instanceof KilnError && re.test(e.message));
    });
  }

  test('password_file is read, relative to the config file', () => {
    const d = fs.mkdtempSync(os.tmpdir() + '/kiln-kojibuildercfg-');
    dirs.push(d);
    fs.writeFileSync(path.join(d, 'pw'), 'from-file\n');
    const c = parseBuilderConfig(GOOD.replace('password = "secret"', 'password_file = "pw"'), path.join(d, 'b.toml'));
    assert.deepEqual(c.auth, { type: 'password', user: 'kiln-x86-01', password: 'from-file' });
    assert.throws(() => parseBuilderConfig(GOOD.replace('password = "secret"', 'password_file = "nope"'), path.join(d, 'b.toml')), /b\.toml: auth\.password_file: cannot read .*nope: ENOENT/);
  });
});

describe('koji builder command', () => {
  test('registers `builder` under the koji command with a --config option', () => {
    const koji = new Command('koji');
    registerKojiBuilderCommand(koji);
    const b = koji.commands.find((c) => c.name() === 'builder');
    assert.ok(b);
    assert.ok(b.options.some((o) => o.long === '--config'));
  });
  test('a missing config file is named in the error', async () => {
    await assert.rejects(runKojiBuilder('/nonexistent/kiln-builder.toml'), /\/nonexistent\/kiln-builder\.toml: cannot read builder configuration: ENOENT/);
  });
});

describe('archive type matching', () => {
  const types: ArchiveType[] = SCHEMA_ARCHIVE_TYPES.map(([name, , ext]) => ({ name, extensions: ext.split(/\s+/) }));
  test('longest suffix wins, as kojihub get_archive_type', () => {
    assert.equal(matchArchiveType('Fedora-Minimal-42-1.x86_64.raw.xz', types), 'raw-xz');
    assert.equal(matchArchiveType('Fedora-Minimal-42-1.x86_64.RAW', types), 'raw');
    assert.equal(matchArchiveType('F-42-1.x86_64.osbuild-manifest.json', types), 'json');
    assert.equal(matchArchiveType('F-42-1.x86_64.image-os.spdx.json', types), 'json');
    assert.equal(matchArchiveType('F-42-1.x86_64.qcow2', types), 'qcow2');
    assert.equal(matchArchiveType('F-42-1.x86_64.iso', types), 'iso');
    assert.equal(matchArchiveType('F-42-1.x86_64.tar.gz', types), 'tar');
  });
  test('unregistered extensions have no type', () => {
    assert.equal(matchArchiveType('F-42-1.x86_64.raw.zst', types), undefined);
    assert.equal(matchArchiveType('F-42-1.x86_64.ociarchive', types), undefined);
    assert.equal(matchArchiveType('F-42-1.x86_64.vhdfixed.xz', types), undefined);
  });
});

describe('helpers', () => {
  test('$arch and $basearch are replaced everywhere', () => {
    assert.equal(substArch('https://x/$basearch/os/$arch/', 'aarch64'), 'https://x/aarch64/os/aarch64/');
    assert.equal(substArch('fedora/rawhide/$arch/iot', 'x86_64'), 'fedora/rawhide/x86_64/iot');
  });
  test('canonArch', () => {
    assert.equal(canonArch('i686'), 'i386');
    assert.equal(canonArch('x86_64'), 'x86_64');
    assert.equal(canonArch('armv7hl'), 'arm');
  });
  test('a request given as a methodCall string (openTask) is decoded', () => {
    const xml = encodeCall('imageBuilderBuild', ['t', ['x86_64'], ['minimal-raw-xz'], 'N', '42', { scratch: true }]);
    assert.deepEqual(requestParams(xml, 'task 3'), ['t', ['x86_64'], ['minimal-raw-xz'], 'N', '42', { scratch: true }]);
    assert.throws(() => requestParams(7, 'task 3'), /task 3: request is number/);
  });
  test('faults for failTask: hub faults pass through, Kiln errors are BuildErrors, others code 1', () => {
    assert.deepEqual(faultFor(new BuildError(1005, 'Unsupported architecture(s): ppc64le')), { faultCode: 1005, faultString: 'Unsupported architecture(s): ppc64le' });
    assert.deepEqual(faultFor(new KilnError('stage failed')), { faultCode: 1005, faultString: 'stage failed' });
    const f = faultFor(new TypeError('boom'));
    assert.equal(f.faultCode, 1);
    assert.match(f.faultString, /TypeError: boom/);
  });
});
