import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { EngineEvent } from '../../src/protocol/events.js';
import type { Job } from '../../src/protocol/objects.js';
import { heartbeatUrl, pingFor } from '../../src/notify/heartbeat.js';

test('a ping suffix goes at the end of the path; the query string stays', () => {
  const uri = 'https://hc-ping.com/5f2c-uuid?rid=1&x=a%2Fb';
  assert.equal(heartbeatUrl(uri, 'start'), 'https://hc-ping.com/5f2c-uuid/start?rid=1&x=a%2Fb');
  assert.equal(heartbeatUrl(uri, 'success'), uri);
  assert.equal(heartbeatUrl(uri, 'fail'), 'https://hc-ping.com/5f2c-uuid/fail?rid=1&x=a%2Fb');
  assert.equal(heartbeatUrl(uri, 'log'), 'https://hc-ping.com/5f2c-uuid/log?rid=1&x=a%2Fb');
  assert.equal(
    heartbeatUrl('http://127.0.0.1:8000/ping/key/slug/', 'fail'),
    'http://127.0.0.1:8000/ping/key/slug/fail',
  );
  assert.equal(heartbeatUrl('http://127.0.0.1:8000', 'start'), 'http://127.0.0.1:8000/start');
  assert.equal(heartbeatUrl('http://127.0.0.1:8000/', 'success'), 'http://127.0.0.1:8000/');
});

function backupEvent(type: 'backup.started' | 'backup.completed', Outcome: Job['Outcome']): EngineEvent {
  return { type, timestamp: '2026-12-05T00:00:00.000Z', data: { Outcome, Kind: 'Backup' } } as EngineEvent;
}

test('pings: start, success, fail for every unsuccessful end, none for a skipped slot or other jobs', () => {
  assert.equal(pingFor(backupEvent('backup.started', 'Running')), 'start');
  assert.equal(pingFor(backupEvent('backup.completed', 'Succeeded')), 'success');
  for (const outcome of ['Failed', 'PartialSucceeded', 'Cancelled'] as const)
    assert.equal(pingFor(backupEvent('backup.completed', outcome)), 'fail', outcome);
  assert.equal(pingFor(backupEvent('backup.completed', 'Skipped')), null);
  const restore = { ...backupEvent('backup.completed', 'Failed'), type: 'restore.completed' } as EngineEvent;
  assert.equal(pingFor(restore), null);
  const alert = { type: 'alert.opened', timestamp: '2026-12-05T00:00:00.000Z', data: {} } as EngineEvent;
  assert.equal(pingFor(alert), null);
});
