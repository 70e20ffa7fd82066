/**
 * The reliability suite's short form, in part, as a test: kill -9 at random points of backup,
 * retention, prune and restore, and access and secrets. Nothing committed may be lost and nothing
 * may leak; `npm run reliability` runs every scenario and prints the table.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runSuite } from '../../scripts/reliability/suite.js';

test('reliability (short form): kill -9 anywhere, access and secrets lose and leak nothing', async (t) => {
  const tallies = await runSuite({
    short: true,
    only: ['crash', 'access'],
    log: (text) => t.diagnostic(text),
  });
  for (const tally of tallies) {
    for (const problem of [...tally.problems, ...tally.notes]) t.diagnostic(`${tally.scenario}: ${problem}`);
    assert.equal(tally.lost, 0, `${tally.scenario}: ${tally.problems.join('; ')}`);
    assert.equal(tally.leaked, 0, `${tally.scenario}: ${tally.problems.join('; ')}`);
    assert.ok(tally.runs > 0, `${tally.scenario} ran nothing`);
  }
  const crash = tallies.find((tally) => tally.scenario.includes('kill -9'))!;
  assert.ok(
    crash.injected > 0 && crash.committed > 0 && crash.verified >= crash.committed,
    JSON.stringify(crash),
  );
});
