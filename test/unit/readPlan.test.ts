/**
 * The plan of a format 4 read (src/repository/readPlan.ts): batches of consecutive chunks of one
 * pack, each knowing where its pack is needed next, and the packs kept between them chosen so that
 * a pack is read again only when more are in use at once than can be kept.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Batch, PackCache, planBatches } from '../../src/repository/readPlan.js';

/** The list `packs` (one letter a chunk) of chunks of `length` bytes each, planned. */
function plan(packs: string, length = 1, maxBytes = 100): Batch[] {
  return [...planBatches([...packs], () => length, maxBytes)];
}

/** The packs read, in order, when the batches of `packs` take their packs from a cache of `capacity`. */
function reads(packs: string, capacity: number): string {
  let read = '';
  const cache = new PackCache(capacity, (name) => Promise.resolve((read += name)));
  for (const batch of plan(packs)) void cache.get(batch);
  return read;
}

test('a batch is a run of consecutive chunks of one pack, cut at the byte bound', () => {
  assert.deepEqual(
    plan('AABBBA', 10, 25).map(({ pack, first, end, plainBytes }) => [pack, first, end, plainBytes]),
    [
      ['A', 0, 2, 20],
      ['B', 2, 4, 20],
      ['B', 4, 5, 10],
      ['A', 5, 6, 10],
    ],
  );
});

test('a chunk larger than the bound is a batch of its own', () => {
  assert.deepEqual(
    plan('AA', 50, 25).map(({ first, end }) => [first, end]),
    [
      [0, 1],
      [1, 2],
    ],
  );
});

test("each batch knows where its pack is needed next, Infinity after the pack's last use", () => {
  assert.deepEqual(
    plan('AABAB').map(({ pack, nextUse }) => [pack, nextUse]),
    [
      ['A', 3],
      ['B', 4],
      ['A', Infinity],
      ['B', Infinity],
    ],
  );
});

test('interleaved packs are read once each when they fit in the cache', () => {
  assert.equal(reads('ABCABCACB', 3), 'ABC');
});

test('when they do not fit, the pack needed latest leaves first', () => {
  // After A B, C comes in: A is needed again before B, so B leaves, and is read again at the end.
  assert.equal(reads('ABCACAB', 2), 'ABCB');
  // With room for one: B is needed last, so A stays; keeping the last used (B) would read A again.
  assert.equal(reads('ABACAB', 1), 'ABCB');
});
