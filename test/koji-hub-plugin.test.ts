// Runs the Python unit tests of the Koji hub plugin (koji-plugins/) so `npm test`
// covers them. Koji loads only Python hub plugins, hence the one Python module in Kiln.
// Uses Debian's /usr/bin/python3 (the pyenv python3 on PATH lacks the system packages).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

// dist/test/<file>.js -> repository root is two levels up
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const PYTHON = '/usr/bin/python3';
const TEST_DIR = 'koji-plugins/tests';

describe('koji hub plugin (python)', () => {
  it('passes its unittest suite', () => {
    assert.ok(fs.existsSync(PYTHON), `${PYTHON} not found: the hub plugin tests need the system python3`);
    assert.ok(
      fs.existsSync(path.join(repoRoot, TEST_DIR, 'test_hub_plugin.py')),
      `${TEST_DIR}/test_hub_plugin.py missing under ${repoRoot}`,
    );
    const run = spawnSync(PYTHON, ['-m', 'unittest', 'discover', '-s', TEST_DIR, '-v'], {
      cwd: repoRoot,
      encoding: 'utf8',
      timeout: 120_000,
      // no __pycache__ in the source tree
      env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
    });
    const output = `${run.stdout ?? ''}${run.stderr ?? ''}`;
    assert.equal(run.error, undefined, `could not run ${PYTHON}: ${run.error?.message}`);
    assert.equal(run.status, 0, `python unittest failed (exit ${run.status}):\n${output}`);
    const ran = /^Ran (\d+) tests? in /m.exec(output);
    assert.ok(ran, `no "Ran N tests" line in unittest output:\n${output}`);
    const count = Number(ran[1]);
    assert.ok(count > 0, `unittest discovered no tests:\n${output}`);
    assert.match(output, /^OK\b/m, `unittest did not report OK:\n${output}`);
    // every test that ran is listed with a verdict; none errored or failed
    assert.doesNotMatch(output, /\.\.\. (FAIL|ERROR)$/m, output);
  });
});
