// Koji end to end with a real image: a user submits imageBuilderBuild with `kiln koji build`
// (the CLI, as a child process) to the hub double; a Kiln build host (KojiBuilder with its
// default runner, i.e. `kiln build`) takes the tasks, builds minimal-raw-xz from the built-in
// demo repository, uploads it and imports it; the build ends COMPLETE, tagged into the
// destination tag, and the imported image is a valid xz of a GPT disk.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseBuilderConfig } from '../src/koji/builder/config.js';
import { KojiBuilder } from '../src/koji/builder/daemon.js';
import { BUILD_STATES, startKojiHubDouble } from './helpers/kojihub-double.js';
import { demoRepoUrls } from './helpers/demo.js';

const root = path.resolve(fileURLToPath(import.meta.url), '../../..');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-koji-e2e-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function kiln(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((res) => {
    const child = spawn(process.execPath, [path.join(root, 'bin', 'kiln.js'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => res({ code, stdout, stderr }));
  });
}

test('kiln koji build -> Kiln build host -> COMPLETE build of a real image, tagged', { timeout: 900_000 }, async () => {
  const repos = await demoRepoUrls();
  const dbl = await startKojiHubDouble({
    topdir: path.join(dir, 'koji'),
    users: [{ name: 'imguser', password: 'imgpass', perms: ['image'] }],
    hosts: [{ name: 'kiln1', password: 'hostpass', arches: 'x86_64', capacity: 4, channels: ['default', 'image'] }],
    tags: [{ name: 'f42-build', arches: 'x86_64' }, { name: 'f42', packages: ['Fedora-Minimal'] }],
    targets: [{ name: 'f42-image-builder', buildTag: 'f42-build', destTag: 'f42' }],
    schedulerIntervalMs: 0,
  });
  const cfgFile = path.join(dir, 'builder.toml');
  fs.writeFileSync(
    cfgFile,
    `[hub]\nurl = "${dbl.url}"\ntopurl = "${dbl.topurl}"\n\n[auth]\ntype = "password"\nuser = "kiln1"\npassword = "hostpass"\n\n` +
      `[host]\nname = "kiln1"\narches = ["x86_64"]\nmax_jobs = 2\ncapacity = 4.0\npoll_interval = 0.1\nlog_interval = 0.5\n\n` +
      `[build]\nwork_dir = "${dir}/work"\ncache_dir = "${dir}/cache"\nbuildroot = "host"\n`,
  );
  const logs: string[] = [];
  const builder = new KojiBuilder(parseBuilderConfig(fs.readFileSync(cfgFile, 'utf8'), cfgFile), { log: (m) => logs.push(m) });
  await builder.start();
  const loop = builder.run();
  try {
    const r = await kiln([
      'koji', 'build', 'f42-image-builder', 'Fedora-Minimal', '42', 'minimal-raw-xz',
      '--arch', 'x86_64', '--repo', repos.x86_64, '--release', '1', '--distro', 'fedora-42', '--seed', '5',
      '--hub', dbl.url, '--topurl', dbl.topurl, '--user', 'imguser', '--password-file', writePassword('imgpass'),
    ]);
    assert.equal(r.code, 0, `kiln koji build failed:\n${r.stderr.slice(-3000)}\nbuilder log:\n${logs.slice(-40).join('\n')}`);

    const builds = [...dbl.state.builds.values()];
    assert.equal(builds.length, 1);
    const build = builds[0]!;
    assert.equal(build.state, BUILD_STATES.COMPLETE);
    assert.equal(`${build.name}-${build.version}-${build.release}`, 'Fedora-Minimal-42-1');
    const f42 = [...dbl.state.tags.values()].find((t) => t.name === 'f42')!;
    assert.deepEqual(f42.tagged.map((x) => x.buildId), [build.id], 'tagged into the destination tag');

    const images = path.join(dir, 'koji', 'packages', 'Fedora-Minimal', '42', '1', 'images');
    const img = path.join(images, 'Fedora-Minimal-42-1.x86_64.raw.xz');
    execFileSync('xz', ['-t', img]);
    // the archive record carries the checksum of the file the hub holds
    const archive = [...dbl.state.archives.values()].find((a) => a.filename === path.basename(img))!;
    assert.ok(archive, 'raw.xz archive imported');
    const data = fs.readFileSync(img);
    assert.equal(archive.size, data.length);
    // Koji checksum types: 0 md5, 1 sha1, 2 sha256
    const algo = ({ 0: 'md5', 1: 'sha1', 2: 'sha256' } as Record<number, string>)[archive.checksumType]!;
    assert.equal(archive.checksum, createHash(algo).update(data).digest('hex'));
    // the disk inside is a GPT image with the three minimal-raw partitions
    const raw = path.join(dir, 'disk.raw');
    execFileSync('sh', ['-c', `xz -dc '${img}' > '${raw}'`]);
    const table = JSON.parse(execFileSync('sfdisk', ['-J', raw], { encoding: 'utf8' })).partitiontable as { label: string; partitions: unknown[] };
    assert.equal(table.label, 'gpt');
    assert.equal(table.partitions.length, 3);
    // the manifest and SBOM went along with the image
    const names = fs.readdirSync(images);
    assert.ok(names.includes('Fedora-Minimal-42-1.x86_64.osbuild-manifest.json'), names.join(','));
    assert.ok(names.some((n) => n.endsWith('.spdx.json')), names.join(','));
  } finally {
    await builder.stop();
    await loop;
    await dbl.stop();
  }
});

function writePassword(pw: string): string {
  const f = path.join(dir, 'password');
  fs.writeFileSync(f, pw + '\n', { mode: 0o600 });
  return f;
}
