import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nextTimings, startOrder } from '../../src/engine/roleOrder.js';
import type { Role } from '../../src/protocol/objects.js';

const role = (Name: string): Role => ({
  Name,
  Provider: 'Directory',
  Path: `/data/${Name}`,
  BackupScript: null,
  RestoreScript: null,
  RegisteredTime: '2026-11-26T12:00:00.000Z',
});
const roles = ['Domain', 'WAS', 'KeyVault', 'ECE', 'Images'].map(role);
const names = (order: number[]) => order.map((index) => roles[index]!.Name);

test('with no timings the roles start as registered', () => {
  assert.deepEqual(names(startOrder(roles, {})), ['Domain', 'WAS', 'KeyVault', 'ECE', 'Images']);
});

test('the roles that took longest last time start first', () => {
  const order = startOrder(roles, { Domain: 1.1, WAS: 0.4, KeyVault: 0.9, ECE: 1.3, Images: 2.2 });
  assert.deepEqual(names(order), ['Images', 'ECE', 'Domain', 'KeyVault', 'WAS']);
});

test('roles never timed start before timed ones, in registration order; equal times keep theirs', () => {
  const order = startOrder(roles, { Domain: 1, KeyVault: 1, Images: 5 });
  assert.deepEqual(names(order), ['WAS', 'ECE', 'Images', 'Domain', 'KeyVault']);
});

test("the next timings take this backup's, keep the last ones of failed roles and drop unregistered roles", () => {
  const timings = nextTimings(roles.slice(0, 3), { Domain: 1, WAS: 2, Retired: 9 }, [1.5, null, null]);
  assert.deepEqual(timings, { Domain: 1.5, WAS: 2 });
});
