// CHECKSUM files: Pungi's format, order and naming, re-checked with coreutils sha256sum/md5sum.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checksumBaseName, checksumFileText, fileDigests, writeDirChecksums } from '../src/compose/checksums.js';
import { KilnError } from '../src/util/errors.js';

const tmp = mkdtempSync(join(tmpdir(), 'kiln-compose-sums-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function cli(tool: string, file: string): string {
  return execFileSync(tool, [file], { encoding: 'utf8' }).split(/\s+/)[0];
}

async function images(dir: string, names: string[]) {
  return Promise.all(
    names.map(async (n, i) => {
      const f = join(dir, n);
      writeFileSync(f, Buffer.alloc(1000 + i * 37, i + 1));
      return { filename: n, size: statSync(f).size, digests: await fileDigests(f, ['sha256', 'md5']) };
    }),
  );
}

test('digests match coreutils', async () => {
  const f = join(tmp, 'blob');
  writeFileSync(f, Buffer.from('kiln compose checksum test\n'.repeat(5000)));
  const d = await fileDigests(f, ['sha256', 'sha1', 'md5']);
  assert.equal(d.sha256, cli('sha256sum', f));
  assert.equal(d.sha1, cli('sha1sum', f));
  assert.equal(d.md5, cli('md5sum', f));
});

test('one CHECKSUM per directory: "# name: size bytes" then BSD lines, sorted by name; sha256sum -c accepts it', async () => {
  const dir = mkdtempSync(join(tmp, 'one-'));
  const imgs = await images(dir, ['b.raw.xz', 'a.qcow2', 'C.iso']);
  const written = writeDirChecksums(dir, imgs, { algs: ['sha256'], oneFile: true, baseName: '' });
  assert.deepEqual(written, [join(dir, 'CHECKSUM')]);
  const text = readFileSync(join(dir, 'CHECKSUM'), 'utf8');
  const lines = text.trimEnd().split('\n');
  // code-point order: "C.iso" < "a.qcow2" < "b.raw.xz"
  const names = ['C.iso', 'a.qcow2', 'b.raw.xz'];
  assert.equal(lines.length, 6);
  names.forEach((n, i) => {
    assert.equal(lines[2 * i], `# ${n}: ${statSync(join(dir, n)).size} bytes`);
    assert.equal(lines[2 * i + 1], `SHA256 (${n}) = ${cli('sha256sum', join(dir, n))}`);
  });
  const out = execFileSync('sha256sum', ['-c', 'CHECKSUM'], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  assert.deepEqual(out.trim().split('\n').sort(), names.map((n) => `${n}: OK`).sort());
});

test('without one_file: <ALG>SUM per directory and <file>.<ALG>SUM per image', async () => {
  const dir = mkdtempSync(join(tmp, 'many-'));
  const imgs = await images(dir, ['x.raw.xz', 'y.iso']);
  writeDirChecksums(dir, imgs, { algs: ['sha256', 'md5'], oneFile: false, baseName: 'Fedora-IoT-42-x86_64-' });
  const sums = readdirSync(dir).filter((f) => f.endsWith('SUM')).sort();
  assert.deepEqual(sums, ['Fedora-IoT-42-x86_64-MD5SUM', 'Fedora-IoT-42-x86_64-SHA256SUM', 'x.raw.xz.MD5SUM', 'x.raw.xz.SHA256SUM', 'y.iso.MD5SUM', 'y.iso.SHA256SUM']);
  assert.equal(readFileSync(join(dir, 'y.iso.MD5SUM'), 'utf8'), `# y.iso: ${statSync(join(dir, 'y.iso')).size} bytes\nMD5 (y.iso) = ${cli('md5sum', join(dir, 'y.iso'))}\n`);
  const md5 = execFileSync('md5sum', ['-c', 'Fedora-IoT-42-x86_64-MD5SUM'], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  assert.match(md5, /x\.raw\.xz: OK/);
  assert.throws(() => writeDirChecksums(dir, imgs, { algs: ['sha512'], oneFile: true, baseName: '' }), /no sha512 digest computed/);
});

test('entries sort like Python tuples and duplicates collapse', () => {
  const text = checksumFileText([
    { filename: 'b', size: 2, alg: 'sha256', digest: 'ff' },
    { filename: 'a', size: 9, alg: 'sha256', digest: '01' },
    { filename: 'a', size: 9, alg: 'md5', digest: '02' },
    { filename: 'b', size: 2, alg: 'sha256', digest: 'ff' },
  ]);
  assert.equal(text, '# a: 9 bytes\nMD5 (a) = 02\n# a: 9 bytes\nSHA256 (a) = 01\n# b: 2 bytes\nSHA256 (b) = ff\n');
});

test('media_checksum_base_filename: %(name)s and {name} substitutions, "-" appended', () => {
  const s = { release_short: 'Fedora-IoT', version: '42', date: '20251127', respin: 0, arch: 'x86_64', variant: 'IoT', type_suffix: '.n' };
  assert.equal(checksumBaseName('%(release_short)s-%(version)s-%(date)s.%(respin)s-%(arch)s', s), 'Fedora-IoT-42-20251127.0-x86_64-');
  assert.equal(checksumBaseName('{release_short}-{variant}-{date}{type_suffix}.{respin}', s), 'Fedora-IoT-IoT-20251127.n.0-');
  assert.equal(checksumBaseName('', s), '');
  assert.throws(() => checksumBaseName('%(nope)s', s), (e: unknown) => e instanceof KilnError && /unknown substitution "nope"/.test((e as Error).message));
});
