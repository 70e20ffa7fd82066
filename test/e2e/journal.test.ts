/**
 * `serve --journal`, as the systemd unit runs the daemon: each log line also goes to stderr behind
 * its sd-daemon priority (`<6>` info, `<4>` warning), which is how the journal keeps the severity.
 * A real daemon in the foreground with stderr piped: an info line at start, a warning from a backup
 * folder whose manifest is not JSON, and the same (redacted) JSON lines as in daemon.log.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { endpointOf } from '../../src/cli/daemonProcess.js';
import { DaemonClient } from '../../src/daemon/client.js';
import { JOURNAL_PRIORITY } from '../../src/util/systemLog.js';
import { removeDir, tempDir } from '../helpers/daemon.js';
import { cliMain } from '../helpers/pwsh.js';
import { waitUntil } from '../helpers/waitUntil.js';

let work: string;
let daemon: ChildProcess;
const lines: string[] = [];

before(() => {
  work = tempDir('journal');
  const badBackup = path.join(
    work,
    'store',
    'MASBackup',
    '20261201T000000Z',
    '0b4bcd7e-5b3f-4a8e-9a3e-1f2a3b4c5d6e',
  );
  mkdirSync(badBackup, { recursive: true });
  writeFileSync(path.join(badBackup, 'BackupInfo.json'), 'not json\n');
  daemon = spawn(process.execPath, [cliMain, 'serve', '--journal', '--state-dir', path.join(work, 'state')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let partial = '';
  daemon.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    const complete = (partial + chunk).split('\n');
    partial = complete.pop() ?? '';
    lines.push(...complete);
  });
});

after(() => {
  if (daemon.exitCode === null && daemon.signalCode === null) daemon.kill();
  removeDir(work);
});

const lineWith = (message: string) => lines.find((line) => line.includes(`"message":"${message}"`));

test('serve --journal: info and warning lines carry <6> and <4>, the rest is daemon.log', async () => {
  await waitUntil(() => lineWith('daemon started') !== undefined, 'the daemon started line', 20_000);
  assert.match(lineWith('daemon started') ?? '', /^<6>\{.*"level":"info"/);

  const endpoint = endpointOf(path.join(work, 'state'));
  const client = await DaemonClient.connect(endpoint.socket, endpoint.tokenFile);
  try {
    await client.call('config.set', { Path: path.join(work, 'store') });
    assert.deepEqual((await client.call('backup.list', {})).backups, []);
  } finally {
    client.close();
  }
  const warning = 'ignoring a backup folder whose manifest is not valid';
  await waitUntil(() => lineWith(warning) !== undefined, 'the warning line', 10_000);
  assert.match(lineWith(warning) ?? '', /^<4>\{.*"level":"warn"/);

  const stopped = spawnSync(process.execPath, [cliMain, 'stop', '--state-dir', path.join(work, 'state')]);
  assert.equal(stopped.status, 0, stopped.stderr.toString());
  await waitUntil(() => daemon.exitCode !== null, 'the daemon exit', 20_000);
  assert.equal(daemon.exitCode, 0);

  for (const line of lines) {
    const [, priority, json] = /^<(\d)>(\{.*\})$/.exec(line) ?? [];
    assert.ok(json, `a journal line without a priority prefix: ${line}`);
    assert.equal(Number(priority), JOURNAL_PRIORITY[JSON.parse(json).level as string], line);
  }
  const logged = readFileSync(path.join(work, 'state', 'logs', 'daemon.log'), 'utf8')
    .trim()
    .split('\n');
  assert.deepEqual(
    lines.map((line) => line.slice(3)),
    logged,
    'the journal gets what daemon.log gets, redacted the same way',
  );
});
