import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dueSlot, firstSchedule, nextSlot } from '../../src/engine/schedule.js';

const enabled = new Date('2026-11-26T00:00:00Z');
const hours = (count: number) => new Date(enabled.getTime() + count * 3600_000);

test('the first slot comes one full period after enabling', () => {
  const schedule = firstSchedule(enabled);
  assert.equal(nextSlot(schedule, 12).toISOString(), hours(12).toISOString());
  assert.equal(dueSlot(schedule, 12, hours(11.99)), null);
  assert.equal(dueSlot(schedule, 12, hours(12))?.slot.toISOString(), hours(12).toISOString());
});

test('slots follow every period from the last slot, not from when they ran', () => {
  let schedule = firstSchedule(enabled);
  const fired: string[] = [];
  for (const at of [12.5, 13, 24.2, 30, 36.01]) {
    const due = dueSlot(schedule, 12, hours(at));
    if (!due) continue;
    fired.push(due.slot.toISOString());
    schedule = due.next;
  }
  assert.deepEqual(
    fired,
    [hours(12), hours(24), hours(36)].map((date) => date.toISOString()),
  );
});

test('after 30 h of downtime exactly one catch-up slot is due', () => {
  const schedule = { lastSlot: hours(12).toISOString() };
  const due = dueSlot(schedule, 12, hours(42));
  assert.equal(due?.slot.toISOString(), hours(36).toISOString());
  assert.equal(dueSlot(due!.next, 12, hours(42)), null);
  assert.equal(nextSlot(due!.next, 12).toISOString(), hours(48).toISOString());
});

test('a frequency change counts from the last slot', () => {
  assert.equal(nextSlot({ lastSlot: hours(12).toISOString() }, 4).toISOString(), hours(16).toISOString());
});
