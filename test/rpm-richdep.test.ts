import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRichDep, RichDepError } from '../src/rpm/richdep.js';

test('parses nested rich dependencies', () => {
  assert.deepEqual(parseRichDep('(foo >= 1.0-2 or (bar if baz else qux))'), {
    op: 'or',
    args: [
      { op: 'dep', dep: { name: 'foo', flags: 'GE', epoch: 0, version: '1.0', release: '2' } },
      { op: 'if', then: { op: 'dep', dep: { name: 'bar' } }, cond: { op: 'dep', dep: { name: 'baz' } }, else: { op: 'dep', dep: { name: 'qux' } } },
    ],
  });
  assert.deepEqual(parseRichDep('(a and b and c)'), {
    op: 'and',
    args: ['a', 'b', 'c'].map((name) => ({ op: 'dep', dep: { name } })),
  });
  const w = parseRichDep('(perl(Foo::Bar) with perl(Foo::Bar) < 2:3)');
  assert.equal(w.op, 'with');
  assert.deepEqual(w.op === 'with' && w.args[1], { op: 'dep', dep: { name: 'perl(Foo::Bar)', flags: 'LT', epoch: 2, version: '3' } });
  assert.equal(parseRichDep('(a unless b else c)').op, 'unless');
  assert.equal(parseRichDep('(a without b)').op, 'without');
});

test('malformed rich dependencies give a clear error naming the input', () => {
  for (const [bad, why] of [
    ['(a and b or c)', /cannot mix 'and' with 'or'/],
    ['(a and)', /missing operand/],
    ['(a and b', /missing '\)'/],
    ['(a foo b)', /unknown operator 'foo'/],
    ['(a >= )', /missing version/],
    ['(a if b else c else d)', /unexpected 'else'/],
    ['(a) b', /trailing text/],
    ['(and b)', /operator 'and' where a dependency was expected/],
  ] as const) {
    assert.throws(
      () => parseRichDep(bad),
      (e: unknown) => e instanceof RichDepError && e.message.includes(`'${bad}'`) && why.test(e.message),
      bad,
    );
  }
});
