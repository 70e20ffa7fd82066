/**
 * The Webhook channel against a real HTTP receiver on 127.0.0.1 that verifies signatures with the
 * `standardwebhooks` package: signing, the outbox's order, retries under the same webhook-id, the
 * drop of a refused message and of one older than the time limit (an injected clock), a restart.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { EngineEvent } from '../../src/protocol/events.js';
import type { DeliveryOutcomes } from '../../src/notify/channel.js';
import { DEFAULT_TIMING, WebhookChannel, type WebhookTiming } from '../../src/notify/webhook.js';
import { isWellFormedSecret, webhookHeaders } from '../../src/notify/webhookSignature.js';
import type { TargetWithSecret } from '../../src/state/notificationTargets.js';
import type { Logger } from '../../src/util/log.js';
import { removeDir, tempDir } from '../helpers/daemon.js';
import { waitUntil } from '../helpers/waitUntil.js';
import { closedPort, verifierFor, WebhookReceiver } from '../helpers/webhookReceiver.js';

const SECRET = `whsec_${Buffer.from('a key of thirty-two bytes, really').toString('base64')}`;
const HOUR = 3600_000;

const event = (title: string): EngineEvent => ({
  type: 'alert.opened',
  timestamp: '2026-12-05T03:00:00.000Z',
  data: {
    AlertId: title,
    Title: title,
    Severity: 'Critical',
    State: 'Active',
    CreatedTime: '2026-12-05T03:00:00.000Z',
    ClosedTime: null,
    Description: `${title} happened`,
    Remediation: `fix ${title}`,
    BackupId: null,
    DeploymentId: 'dep-1',
    Location: 'east',
  },
});

/** A channel on its own outbox folder with a target, a movable clock, and what it reported and logged. */
function channelFor(uri: string, folder = tempDir('outbox'), timing: Partial<WebhookTiming> = {}) {
  const target: TargetWithSecret = {
    Name: 'Ops',
    Kind: 'Webhook',
    Uri: uri,
    CreatedTime: '2026-12-05T00:00:00.000Z',
    secret: SECRET,
  };
  const reported: string[] = [];
  const warnings: Record<string, unknown>[] = [];
  const clock = { nowMs: Date.parse('2026-12-05T03:00:00.000Z'), now: () => new Date(clock.nowMs) };
  const outcomes: DeliveryOutcomes = {
    accepted: (name) => reported.push(`accepted ${name}`),
    rejected: (name, detail) => reported.push(`rejected ${name} ${detail}`),
    undelivered: (name, detail) => reported.push(`undelivered ${name} ${detail}`),
  };
  const log = {
    info: () => undefined,
    debug: () => undefined,
    error: () => undefined,
    warn: (message: string, meta: Record<string, unknown>) => warnings.push({ message, ...meta }),
  } as unknown as Logger;
  const channel = new WebhookChannel(
    { folder, log, clock, outcomes, targets: async () => [target] },
    { ...DEFAULT_TIMING, retryDelayMs: () => 30, timeoutMs: 2000, ...timing },
  );
  return { channel, target, reported, warnings, clock, folder };
}

test('a signature verifies with standardwebhooks for a whsec_ secret and for plain UTF-8 text, and not for another body', () => {
  for (const secret of [SECRET, 'pläin sécret ✓']) {
    const timestamp = Math.floor(Date.now() / 1000);
    const body = '{"type":"alert.opened"}';
    const headers = webhookHeaders('msg_1', timestamp, body, secret);
    assert.deepEqual(verifierFor(secret).verify(body, headers), { type: 'alert.opened' });
    assert.throws(() => verifierFor(secret).verify('{"type":"alert.closed"}', headers), /signature/);
  }
  assert.equal(webhookHeaders('msg_1', 1, '{}', null)['webhook-signature'], undefined);
  assert.ok(isWellFormedSecret(SECRET));
  assert.ok(isWellFormedSecret('plain text'));
  assert.ok(!isWellFormedSecret('whsec_not base64!'));
  assert.ok(!isWellFormedSecret('whsec_'));
});

test('only alert changes and job ends are sent; the backoff doubles from 1 s up to 5 minutes', () => {
  const { channel, folder } = channelFor('http://127.0.0.1:9/');
  const typed = (type: EngineEvent['type']) => ({ ...event('x'), type }) as EngineEvent;
  assert.deepEqual(
    (
      [
        'alert.opened',
        'alert.closed',
        'backup.started',
        'backup.completed',
        'restore.completed',
        'prune.completed',
        'notification.test',
      ] as const
    ).filter((type) => channel.wants(typed(type))),
    ['alert.opened', 'alert.closed', 'backup.completed', 'restore.completed', 'prune.completed'],
  );
  assert.deepEqual([1, 2, 3, 4, 20].map(DEFAULT_TIMING.retryDelayMs), [1000, 2000, 4000, 8000, 300_000]);
  removeDir(folder);
});

test('messages go in order; a 503 is retried under the same webhook-id before the next message', async () => {
  const receiver = await WebhookReceiver.start({ secret: SECRET });
  const { channel, target, reported, folder } = channelFor(receiver.url);
  try {
    receiver.answers.push(503, 503);
    for (const title of ['first', 'second', 'third']) await channel.deliver(target, event(title));
    await waitUntil(() => receiver.messages.length === 5, 'five requests', 10_000);
    assert.deepEqual(
      receiver.messages.map((message) => (message.event.data as { Title: string }).Title),
      ['first', 'first', 'first', 'second', 'third'],
    );
    assert.equal(new Set(receiver.messages.slice(0, 3).map((message) => message.id)).size, 1);
    assert.equal(new Set(receiver.messages.map((message) => message.id)).size, 3);
    assert.deepEqual(
      receiver.messages.map((message) => message.signatureError),
      [null, null, null, null, null],
    );
    await waitUntil(() => reported.length === 5, 'five outcomes', 10_000);
    assert.deepEqual(reported, [
      'undelivered Ops HTTP 503 Service Unavailable: no',
      'undelivered Ops HTTP 503 Service Unavailable: no',
      'accepted Ops',
      'accepted Ops',
      'accepted Ops',
    ]);
    assert.equal(await channel.pending('Ops'), 0);
  } finally {
    await channel.stop();
    await receiver.close();
    removeDir(folder);
  }
});

test('a 400 drops the message, logged and reported as rejected; the next one is still sent', async () => {
  const receiver = await WebhookReceiver.start({ secret: SECRET });
  const { channel, target, reported, warnings, folder } = channelFor(receiver.url);
  try {
    receiver.answers.push(400);
    await channel.deliver(target, event('refused'));
    await channel.deliver(target, event('taken'));
    await waitUntil(() => reported.length === 2, 'two outcomes', 10_000);
    assert.deepEqual(reported, ['rejected Ops HTTP 400 Bad Request: no', 'accepted Ops']);
    assert.equal(receiver.messages.length, 2, 'a refused message is not sent again');
    assert.deepEqual(warnings, [
      {
        message: 'webhook message dropped: refused by the target',
        name: 'Ops',
        id: receiver.received(0).id,
        type: 'alert.opened',
        detail: 'HTTP 400 Bad Request: no',
      },
    ]);
    assert.equal(await channel.pending('Ops'), 0);
  } finally {
    await channel.stop();
    await receiver.close();
    removeDir(folder);
  }
});

test('a message is on disk before its first try, survives a stop, and a new channel on the folder sends it', async () => {
  const port = await closedPort();
  const first = channelFor(`http://127.0.0.1:${port}/hook`);
  await first.channel.deliver(first.target, event('kept'));
  assert.equal(await first.channel.pending('Ops'), 1, 'saved before any try');
  await waitUntil(() => first.reported.length >= 2, 'two failed tries', 10_000);
  assert.match(first.reported[0] ?? 'no report', /^undelivered Ops connection failed \(ECONNREFUSED\)$/);
  await first.channel.stop();
  const triesAfterStop = first.reported.length;
  const receiver = await WebhookReceiver.start({ secret: SECRET, port });
  const second = channelFor(receiver.url, first.folder);
  try {
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(first.reported.length, triesAfterStop, 'a stopped channel tries no more');
    assert.equal(await second.channel.pending('ops'), 1);
    second.channel.start();
    await waitUntil(() => receiver.messages.length === 1, 'the kept message sent', 10_000);
    assert.equal((receiver.received(0).event.data as { Title: string }).Title, 'kept');
    assert.equal(receiver.received(0).signatureError, null);
    await waitUntil(() => second.reported.includes('accepted Ops'), 'accepted', 10_000);
    assert.equal(await second.channel.pending('Ops'), 0);
  } finally {
    await second.channel.stop();
    await receiver.close();
    removeDir(first.folder);
  }
});

test('an undeliverable message is kept 24 h, then dropped with a warning naming the target, id and type', async () => {
  const { channel, target, reported, warnings, clock, folder } = channelFor(
    `http://127.0.0.1:${await closedPort()}/`,
  );
  try {
    await channel.deliver(target, event('late'));
    clock.nowMs += 24 * HOUR - 60_000;
    const triesBefore = reported.length;
    await waitUntil(() => reported.length >= triesBefore + 2, 'tries just before the limit', 10_000);
    assert.equal(await channel.pending('Ops'), 1, 'still kept just before 24 h');
    assert.equal(warnings.length, 0, 'nothing dropped yet');
    clock.nowMs += 60_000;
    await waitUntil(() => warnings.length === 1, 'the drop logged', 10_000);
    assert.equal(await channel.pending('Ops'), 0);
    assert.deepEqual(
      { ...warnings[0], id: typeof warnings[0]?.id },
      {
        message: 'webhook message dropped: not delivered within its time limit',
        name: 'Ops',
        id: 'string',
        type: 'alert.opened',
        hours: 24,
        detail: 'connection failed (ECONNREFUSED)',
      },
    );
  } finally {
    await channel.stop();
    removeDir(folder);
  }
});

test('forget deletes what waits for a removed target', async () => {
  const { channel, target, folder } = channelFor(`http://127.0.0.1:${await closedPort()}/`);
  try {
    await channel.deliver(target, event('a'));
    await channel.deliver(target, event('b'));
    assert.equal(await channel.pending('Ops'), 2);
    await channel.forget('OPS');
    assert.equal(await channel.pending('Ops'), 0);
  } finally {
    await channel.stop();
    removeDir(folder);
  }
});
