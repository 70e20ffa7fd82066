/**
 * Every channel at once, on a real Samba share with a password (issue 16): a good backup, a backup
 * the stopped share makes fail, a good one after it, a restore with the .pfx. Everything the daemon
 * pushed or wrote — webhook bodies and headers, heartbeat pings, UDP and TCP syslog lines, the
 * metrics file, its log, the target file — holds neither the share password, nor the .pfx password,
 * nor the webhook secret.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { removeDir, startDaemon, tempDir, waitForIdle, type TestDaemon } from '../helpers/daemon.js';
import { PFX_PASSWORD, createDeployment, type Deployment } from '../helpers/deployment.js';
import {
  startHttpReceiver,
  startTcpReceiver,
  startUdpReceiver,
  type HttpReceiver,
  type Receiver,
} from '../helpers/receivers.js';
import { SambaServer } from '../helpers/samba.js';
import { waitUntil } from '../helpers/waitUntil.js';

const WEBHOOK_SECRET = `whsec_${randomBytes(32).toString('base64')}`;

/** A secret as it would show in text: as given, JSON-escaped, and (for whsec_) its key in base64. */
function secretForms(secret: string): string[] {
  const forms = [secret, JSON.stringify(secret).slice(1, -1)];
  if (secret.startsWith('whsec_')) forms.push(secret.slice('whsec_'.length));
  return forms;
}

function filesUnder(folder: string): string[] {
  return readdirSync(folder, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.join(entry.parentPath, entry.name));
}

describe('notifications on a real share carry no secret', () => {
  let samba: SambaServer;
  let daemon: TestDaemon;
  let deployment: Deployment;
  let webhook: HttpReceiver;
  let heartbeat: HttpReceiver;
  let udp: Receiver<string>;
  let tcp: Receiver<string>;
  let metrics: string;

  before(async () => {
    samba = await SambaServer.start();
    daemon = startDaemon();
    deployment = await createDeployment(daemon);
    await daemon.call('role.unregister', { Name: 'ECE' });
    await daemon.call('config.set', {
      Path: samba.uncPath('backup', 'east'),
      UserName: samba.user,
      Password: samba.password,
    });
    [webhook, heartbeat, udp, tcp] = await Promise.all([
      startHttpReceiver(),
      startHttpReceiver(),
      startUdpReceiver(),
      startTcpReceiver(),
    ]);
    metrics = path.join(tempDir('metrics'), 'textfile');
    mkdirSync(metrics);
    await daemon.call('config.set', { MetricsPath: metrics });
    const targets = [
      { Name: 'hook', Kind: 'Webhook', Uri: `http://127.0.0.1:${webhook.port}/hook`, Secret: WEBHOOK_SECRET },
      { Name: 'ping', Kind: 'Heartbeat', Uri: `http://127.0.0.1:${heartbeat.port}/ping/abc` },
      { Name: 'syslog-udp', Kind: 'Syslog', Uri: `udp://127.0.0.1:${udp.port}` },
      { Name: 'syslog-tcp', Kind: 'Syslog', Uri: `tcp://127.0.0.1:${tcp.port}` },
    ] as const;
    for (const target of targets) await daemon.call('notification.add', target);
  });

  after(async () => {
    daemon?.stop();
    await Promise.all([webhook?.close(), heartbeat?.close(), udp?.close(), tcp?.close()]);
    await samba?.dispose();
    removeDir(deployment?.root ?? '');
    removeDir(path.dirname(metrics ?? ''));
    removeDir(daemon?.stateDir ?? '');
  });

  const bodiesOfType = (type: string) =>
    webhook.requests.filter((request) => (JSON.parse(request.body) as { type: string }).type === type);

  test('a good backup, a failed one, a good one and a restore reach every channel', async () => {
    await daemon.call('backup.start', { Wait: true });
    await samba.stop();
    await assert.rejects(daemon.call('backup.start', { Wait: true }));
    const failedAt = Date.now();
    await waitUntil(() => bodiesOfType('alert.opened').length > 0, 'the alert.opened webhook');
    const [opened] = bodiesOfType('alert.opened');
    assert.ok(opened!.receivedAt - failedAt < 5000, 'alert.opened arrives within 5 s of the failure');
    await samba.launch();
    await daemon.call('backup.start', { Wait: true });
    await waitUntil(() => bodiesOfType('alert.closed').length > 0, 'the alert.closed webhook');
    const [newest] = (await daemon.call('backup.list', { Top: 1 })).backups;
    await daemon.call('backup.restore', {
      Name: newest!.BackupId,
      DecryptionCertPath: deployment.pfxPath,
      DecryptionCertPassword: PFX_PASSWORD,
      Wait: true,
    });
    await waitForIdle(daemon);
    await waitUntil(() => bodiesOfType('restore.completed').length === 1, 'the restore.completed webhook');
    await waitUntil(() => bodiesOfType('backup.completed').length === 3, 'three backup.completed webhooks');
    await waitUntil(
      () => udp.received.length >= 6 && tcp.received.length >= 6,
      'syslog lines for 3 backups, a restore and 2 alert changes',
    );
    await waitUntil(
      () => heartbeat.requests.filter((request) => request.path.endsWith('/start')).length === 3,
      'three heartbeat starts',
    );
  });

  test('no payload, ping, syslog line, metric or log holds a secret', () => {
    const stateFiles = filesUnder(daemon.stateDir).filter((file) =>
      /(\.log|notifications\.json|notification-status\.json|alerts\.json)$/.test(file),
    );
    const texts: Record<string, string> = {
      ...Object.fromEntries(
        webhook.requests.map((request, index) => {
          // The signature is an HMAC made with the secret, not the secret: every other header counts.
          const headers = { ...request.headers, 'webhook-signature': undefined };
          return [`webhook ${index}`, `${JSON.stringify(headers)}\n${request.body}`];
        }),
      ),
      ...Object.fromEntries(heartbeat.requests.map((request, index) => [`heartbeat ${index}`, request.path])),
      ...Object.fromEntries(udp.received.map((message, index) => [`udp syslog ${index}`, message])),
      ...Object.fromEntries(tcp.received.map((message, index) => [`tcp syslog ${index}`, message])),
      ...Object.fromEntries(
        filesUnder(metrics).map((file) => [`metrics ${path.basename(file)}`, readFileSync(file, 'utf8')]),
      ),
      ...Object.fromEntries(stateFiles.map((file) => [file, readFileSync(file, 'utf8')])),
    };
    assert.ok(
      stateFiles.some((file) => file.endsWith('daemon.log')),
      'the daemon log is among the texts',
    );
    assert.ok(
      Object.keys(texts).some((name) => name.startsWith('metrics')),
      'the metrics file too',
    );
    const secrets = [
      ...secretForms(samba.password),
      ...secretForms(PFX_PASSWORD),
      ...secretForms(WEBHOOK_SECRET),
    ];
    for (const [where, text] of Object.entries(texts)) {
      for (const secret of secrets) assert.ok(!text.includes(secret), `${where} holds a secret`);
    }
  });
});
