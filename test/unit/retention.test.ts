import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyRetention, type RetentionCandidate } from '../../src/engine/retention.js';

const now = new Date('2026-11-26T12:00:00Z');
const daysAgo = (days: number, id: string, ready = true): RetentionCandidate => ({
  BackupId: id,
  CreatedDateTime: new Date(now.getTime() - days * 86400_000).toISOString(),
  IsCloudRecoveryReady: ready,
});
const ids = (items: Array<{ backup: RetentionCandidate }>) =>
  items.map((item) => item.backup.BackupId).sort();

const cases: Array<{
  name: string;
  backups: RetentionCandidate[];
  days: number;
  keep: string[];
  remove: string[];
}> = [
  {
    name: 'nothing expired',
    backups: [daysAgo(1, 'a'), daysAgo(6, 'b')],
    days: 7,
    keep: ['a', 'b'],
    remove: [],
  },
  {
    name: 'older than the period go',
    backups: [daysAgo(1, 'a'), daysAgo(8, 'b'), daysAgo(30, 'c')],
    days: 7,
    keep: ['a'],
    remove: ['b', 'c'],
  },
  {
    name: 'all expired: the newest recovery-ready one is kept',
    backups: [daysAgo(10, 'a'), daysAgo(20, 'b'), daysAgo(30, 'c')],
    days: 7,
    keep: ['a'],
    remove: ['b', 'c'],
  },
  {
    name: 'PartialSucceeded newest + Succeeded older: the Succeeded one is kept',
    backups: [daysAgo(9, 'partial', false), daysAgo(10, 'good'), daysAgo(11, 'older')],
    days: 7,
    keep: ['good'],
    remove: ['older', 'partial'],
  },
  {
    name: 'retention lowered from 7 to 2 deletes everything older',
    backups: [daysAgo(0.5, 'a'), daysAgo(1.5, 'b'), daysAgo(3, 'c'), daysAgo(6, 'd')],
    days: 2,
    keep: ['a', 'b'],
    remove: ['c', 'd'],
  },
  { name: 'no backups', backups: [], days: 7, keep: [], remove: [] },
];

for (const entry of cases) {
  test(`retention: ${entry.name}`, () => {
    const decision = applyRetention(entry.backups, entry.days, now);
    assert.deepEqual(ids(decision.keep), entry.keep.sort());
    assert.deepEqual(ids(decision.remove), entry.remove.sort());
    for (const item of [...decision.keep, ...decision.remove]) assert.ok(item.reason.length > 0);
  });
}
