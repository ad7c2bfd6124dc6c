import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { tryLock } from '../src/executor/lock.js';
import { Store } from '../src/executor/store.js';
import { assertNoLeaks, mkTmp, tmpEntries } from './executor-helpers.js';

const ID = (c: string): string => c.repeat(64);

function treeWith(store: Store, bytes: number): string {
  const d = store.mkdtemp('t');
  fs.writeFileSync(path.join(d, 'data'), Buffer.alloc(bytes, 7));
  return d;
}

describe('executor store', () => {
  const dir = mkTmp('store');
  const tmpBefore = tmpEntries(dir);
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('lays out objects, sources, tmp and a CACHEDIR.TAG; commits by rename or copy', async () => {
    const store = new Store(path.join(dir, 's1'));
    for (const d of ['objects', 'sources', 'tmp']) assert.ok(fs.statSync(path.join(store.root, d)).isDirectory());
    assert.match(fs.readFileSync(path.join(store.root, 'CACHEDIR.TAG'), 'utf8'), /^Signature: 8a477f597d28d172789f06886806bc55/);
    const t = treeWith(store, 1000);
    assert.equal(store.hasObject(ID('a')), false);
    assert.equal(await store.commit(ID('a'), t, { move: true }), true);
    assert.equal(fs.existsSync(t), false, 'moved, not copied');
    assert.equal(store.hasObject(ID('a')), true);
    assert.equal(fs.readFileSync(path.join(store.objectTree(ID('a')), 'data')).length, 1000);
    // copy mode leaves the source alone
    const t2 = treeWith(store, 10);
    await store.commit(ID('b'), t2, { move: false, metadata: { x: 1 } });
    assert.ok(fs.existsSync(path.join(t2, 'data')));
    assert.deepEqual(store.objectInfo(ID('b'))?.metadata, { x: 1 });
    fs.rmSync(t2, { recursive: true });
    // committing an id that exists keeps the stored one and drops the new tree
    const t3 = treeWith(store, 5);
    await store.commit(ID('a'), t3, { move: true });
    assert.equal(fs.readFileSync(path.join(store.objectTree(ID('a')), 'data')).length, 1000);
    assert.equal(fs.existsSync(t3), false);
    assert.throws(() => store.objectTree('../x'), /invalid object id/);
    assertNoLeaks(dir, store.root, tmpBefore);
  });

  it('prunes objects least-recently-used first to the size limit, never sources or objects in use', async () => {
    const store = new Store(path.join(dir, 's2'), { maxSize: 3 * 1024 * 1024 });
    const src = store.tmpName('src');
    fs.writeFileSync(src, Buffer.alloc(4 * 1024 * 1024, 1)); // bigger than the limit on its own
    store.admitSource('org.osbuild.files', 'sha256:' + 'f'.repeat(64), src);
    const MiB = 1024 * 1024;
    await store.commit(ID('1'), treeWith(store, MiB), { move: true });
    await store.commit(ID('2'), treeWith(store, MiB), { move: true });
    // make 1 recently used, 2 the oldest
    const old = new Date(Date.now() - 60_000);
    fs.utimesSync(path.join(store.objectsDir, ID('2'), 'info.json'), old, old);
    const use1 = await store.useObject(ID('1'));
    assert.ok(use1);
    await store.commit(ID('3'), treeWith(store, MiB), { move: true }); // now over 3 MiB with fs overhead
    assert.equal(store.hasObject(ID('2')), false, 'least recently used object pruned');
    assert.equal(store.hasObject(ID('1')), true);
    assert.equal(store.hasObject(ID('3')), true, 'the object just committed stays');
    assert.ok(store.hasSource('org.osbuild.files', 'sha256:' + 'f'.repeat(64)), 'sources are never pruned');
    // an object in use survives even when it is the oldest
    fs.utimesSync(path.join(store.objectsDir, ID('1'), 'info.json'), old, old);
    await store.commit(ID('4'), treeWith(store, MiB), { move: true });
    assert.equal(store.hasObject(ID('1')), true, 'in-use object kept');
    assert.equal(store.hasObject(ID('3')), false);
    use1.release();
    // a tree larger than the whole limit is not stored
    assert.equal(await store.commit(ID('5'), treeWith(store, 4 * MiB), { move: false }), false);
    assert.equal(store.hasObject(ID('5')), false);
    for (const f of fs.readdirSync(store.tmpDir)) fs.rmSync(path.join(store.tmpDir, f), { recursive: true });
    assertNoLeaks(dir, store.root, tmpBefore);
  });

  it('locks are exclusive and a lock left by a dead process is taken over', async () => {
    const store = new Store(path.join(dir, 's3'));
    const f = path.join(store.locksDir, 'x.lock');
    const r1 = tryLock(f);
    assert.ok(r1);
    assert.equal(tryLock(f), undefined, 'second taker refused while the owner lives');
    r1();
    // a lock file from a process that no longer exists
    const dead = spawnSync('true').pid!;
    fs.writeFileSync(f, `${dead}\n${(await import('node:os')).hostname()}\n`);
    const r2 = tryLock(f);
    assert.ok(r2, 'stale lock taken over');
    r2();
    // waiting lockers get it in turn
    const order: number[] = [];
    const a = await store.lock('k');
    const b = store.lock('k').then((rel) => {
      order.push(2);
      rel();
    });
    await new Promise((r) => setTimeout(r, 120));
    order.push(1);
    a();
    await b;
    assert.deepEqual(order, [1, 2]);
    assertNoLeaks(dir, store.root, tmpBefore);
  });
});
