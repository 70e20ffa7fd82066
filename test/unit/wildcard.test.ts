import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hasWildcard, wildcardToRegExp } from '../../src/util/wildcard.js';

/** The obvious translation: right answers, exponential time on some patterns. */
function naive(pattern: string): RegExp {
  const source = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${source}$`, 'i');
}

test('wildcards match what the plain translation matches', () => {
  const names = ['local/0b4bcd7e-5b3f-4a8e', 'CA', 'ca', 'Domain.Controller', 'a(b)[c]', 'aaa', ''];
  const patterns = [
    '*',
    '?',
    'CA',
    'c?',
    '*-*',
    'local/*',
    '*e',
    '0b4*',
    '*.*',
    'a(b)*',
    '*a*a*',
    '?a*',
    'a**a',
    '',
  ];
  for (const pattern of patterns)
    for (const name of names)
      assert.equal(
        wildcardToRegExp(pattern).test(name),
        naive(pattern).test(name),
        `'${pattern}' on '${name}'`,
      );
});

test('a pattern with many stars is matched without backtracking (it took minutes before)', () => {
  const name = `local/${'0b4bcd7e-5b3f-4a8e-9a7e-3f1c2d4e5f60'}`;
  assert.equal(wildcardToRegExp(`${'*?'.repeat(120)}z`).test(name), false);
  assert.equal(wildcardToRegExp(`${'*0'.repeat(100)}*z`).test('0'.repeat(256)), false);
});

test('hasWildcard', () => {
  assert.equal(hasWildcard('CA*'), true);
  assert.equal(hasWildcard('C?'), true);
  assert.equal(hasWildcard('CA'), false);
});
