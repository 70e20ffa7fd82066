/**
 * Notification targets: checkTarget refuses bad input naming the parameter at fault, and the store
 * (notifications.json) keeps names unique whatever their case, seals secrets, and saves nothing when
 * a change is refused.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { AzsError } from '../../src/protocol/errors.js';
import type { NotificationKind } from '../../src/protocol/objects.js';
import { checkTarget } from '../../src/engine/notifications.js';
import { NotificationTargets, type TargetWithSecret } from '../../src/state/notificationTargets.js';
import { StateDir } from '../../src/state/stateDir.js';
import { removeDir, tempDir } from '../helpers/daemon.js';

/** The parameter checkTarget names for this input, or null when it accepts it. */
function faultOf(Kind: NotificationKind, Uri: string, Secret?: string, Name = 'ops'): string | null {
  try {
    checkTarget({ Name, Kind, Uri, Secret });
    return null;
  } catch (error) {
    assert.ok(error instanceof AzsError, String(error));
    assert.equal(error.reason, 'InvalidParameter');
    return error.parameter ?? '(none)';
  }
}

test('checkTarget accepts http(s) for Webhook and Heartbeat, udp:// or tcp:// host:port for Syslog', () => {
  assert.equal(faultOf('Webhook', 'https://hooks.example.com/azsbackup'), null);
  assert.equal(faultOf('Webhook', 'http://127.0.0.1:8080/hook?token=abc'), null);
  assert.equal(faultOf('Heartbeat', 'https://hc-ping.com/0f6a1c1e-uuid'), null);
  assert.equal(faultOf('Syslog', 'udp://127.0.0.1:514'), null);
  assert.equal(faultOf('Syslog', 'tcp://logs.example.com:6514/'), null);
});

test('checkTarget refuses a Uri that does not fit the kind, naming Uri', () => {
  for (const [kind, uri] of [
    ['Webhook', 'ftp://hooks.example.com/x'],
    ['Webhook', 'udp://127.0.0.1:514'],
    ['Webhook', 'hooks.example.com/x'],
    ['Webhook', 'https://user:pass@hooks.example.com/x'],
    ['Heartbeat', 'tcp://127.0.0.1:80'],
    ['Syslog', 'http://127.0.0.1:514'],
    ['Syslog', 'udp://127.0.0.1'],
    ['Syslog', 'tcp://127.0.0.1:514/path'],
    ['Syslog', '127.0.0.1:514'],
  ] as const) {
    assert.equal(faultOf(kind, uri), 'Uri', `${kind} ${uri}`);
  }
});

test('checkTarget never repeats user information or a query string of a refused Uri', () => {
  assert.throws(
    () => checkTarget({ Name: 'ops', Kind: 'Syslog', Uri: 'http://admin:hunter2@host/x?token=t0ps3cret' }),
    (error: Error) => !/hunter2|t0ps3cret/.test(error.message),
  );
});

test('checkTarget refuses a bad Name, naming Name', () => {
  for (const name of ['', '-ops', 'ops team', 'ops/1', 'x'.repeat(65)]) {
    assert.equal(faultOf('Webhook', 'https://example.com/', undefined, name), 'Name', JSON.stringify(name));
  }
  assert.equal(faultOf('Webhook', 'https://example.com/', undefined, 'Ops_1.primary-2'), null);
});

test('checkTarget takes a Secret only for a Webhook, and a whsec_ secret only when it is base64', () => {
  assert.equal(faultOf('Webhook', 'https://example.com/', 'plain text secret'), null);
  assert.equal(
    faultOf('Webhook', 'https://example.com/', `whsec_${Buffer.alloc(24, 7).toString('base64')}`),
    null,
  );
  assert.equal(faultOf('Heartbeat', 'https://example.com/', 'secret'), 'Secret');
  assert.equal(faultOf('Syslog', 'udp://127.0.0.1:514', 'secret'), 'Secret');
  for (const malformed of ['whsec_', 'whsec_not base64!', 'whsec_abc', 'whsec_A===', 'whsec_QUJD*']) {
    assert.equal(faultOf('Webhook', 'https://example.com/', malformed), 'Secret', malformed);
  }
});

const target = (Name: string, secret: string | null = null): TargetWithSecret => ({
  Name,
  Kind: 'Webhook',
  Uri: 'https://hooks.example.com/azsbackup',
  CreatedTime: '2026-12-05T01:00:00.000Z',
  secret,
});

const exists = () => new Error('exists');
const missing = () => new Error('missing');

async function withStore(run: (store: NotificationTargets, file: string) => Promise<void>): Promise<void> {
  const folder = tempDir('targets');
  try {
    const state = await StateDir.open(folder);
    await run(new NotificationTargets(state), state.notificationTargetsFile);
  } finally {
    removeDir(folder);
  }
}

test('the store refuses a second target whose name differs only in case, and leaves the file as it was', () =>
  withStore(async (store, file) => {
    await store.add(target('Ops'), exists);
    const before = readFileSync(file, 'utf8');
    await assert.rejects(store.add(target('OPS', 'other secret'), exists), /exists/);
    assert.equal(readFileSync(file, 'utf8'), before);
    assert.deepEqual(
      (await store.list()).map((saved) => saved.Name),
      ['Ops'],
    );
  }));

test('the store keeps a secret sealed in notifications.json and opens it only through withSecrets', () =>
  withStore(async (store, file) => {
    const secret = `whsec_${Buffer.from('a signing key of 24 bytes').toString('base64')}`;
    const saved = await store.add(target('ops', secret), exists);
    await store.add(target('plain'), exists);
    assert.ok(saved.sealedSecret);
    assert.ok(!('secret' in saved), 'the saved target carries no clear secret');
    const text = readFileSync(file, 'utf8');
    assert.ok(!text.includes(secret) && !text.includes(secret.slice('whsec_'.length)), text);
    const opened = await store.withSecrets();
    assert.deepEqual(
      opened.map(({ Name, secret: clear }) => [Name, clear]),
      [
        ['ops', secret],
        ['plain', null],
      ],
    );
  }));

test('the store removes a target by name in any case, and refuses an unknown name changing nothing', () =>
  withStore(async (store, file) => {
    await store.add(target('Ops'), exists);
    await store.add(target('Dev'), exists);
    const before = readFileSync(file, 'utf8');
    await assert.rejects(store.remove('nobody', missing), /missing/);
    assert.equal(readFileSync(file, 'utf8'), before);
    assert.equal((await store.remove('ops', missing)).Name, 'Ops');
    assert.deepEqual(
      (await store.list()).map((saved) => saved.Name),
      ['Dev'],
    );
  }));

test('concurrent adds of the same name save exactly one target', () =>
  withStore(async (store) => {
    const outcomes = await Promise.allSettled(
      ['ops', 'OPS', 'Ops'].map((name) => store.add(target(name), exists)),
    );
    assert.equal(outcomes.filter((outcome) => outcome.status === 'fulfilled').length, 1);
    assert.equal((await store.list()).length, 1);
  }));
