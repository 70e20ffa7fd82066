/**
 * `azsbackup extract` of a backup in a blob container: a real daemon backs a deployment up to a real
 * Azurite, and the real command reads the backup folder's URL with the account key and with a
 * read-only SAS token, the credential never on its command line; every way of getting the URL or the
 * credential wrong fails with the option to fix, exit code 1, no stack trace and no secret echoed.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { backupFolder } from '../../src/engine/layout.js';
import { AzuriteServer } from '../helpers/azurite.js';
import { removeDir, startDaemon, tempDir, type TestDaemon } from '../helpers/daemon.js';
import { createDeployment, PFX_PASSWORD, subscriptionRows, type Deployment } from '../helpers/deployment.js';
import { cliMain } from '../helpers/pwsh.js';
import { describeTree, withoutTimes } from '../helpers/roleEntries.js';

const CONTAINER = 'backups';
const HOUR = 3_600_000;

interface Extracted {
  status: number | null;
  stdout: string;
  stderr: string;
  out: string;
}

describe('azsbackup extract from a blob container', () => {
  let server: AzuriteServer;
  let daemon: TestDaemon;
  let deployment: Deployment;
  /** The backup folder's URL: <container>/east/MASBackup/<time>/<id>. */
  let backupUrl: string;
  const cleanup: string[] = [];

  before(async () => {
    server = await AzuriteServer.start();
    await server.createContainer(CONTAINER);
    daemon = startDaemon();
    deployment = await createDeployment(daemon);
    cleanup.push(daemon.stateDir, deployment.root);
    await daemon.call('role.unregister', { Name: 'ECE' });
    await daemon.call('config.set', {
      Path: `${server.containerUrl(CONTAINER)}/east`,
      UserName: AzuriteServer.account,
      Password: AzuriteServer.key,
    });
    const backup = await daemon.call('backup.start', { Wait: true });
    assert.equal(backup.Status, 'Succeeded', JSON.stringify(backup.RoleStatus));
    const folder = backupFolder(new Date(backup.CreatedDateTime), backup.BackupId);
    backupUrl = `${server.containerUrl(CONTAINER)}/east/${folder}`;
  });
  after(async () => {
    daemon.stop();
    await server.stop();
    cleanup.forEach(removeDir);
  });

  /** Runs the real command with the .pfx password, and the store's secret only where `secret` says. */
  function extract(url: string, secret: string | null, ...options: string[]): Extracted {
    const out = tempDir('extract-blob');
    cleanup.push(out);
    const env: NodeJS.ProcessEnv = { ...process.env, AZSBACKUP_PFX_PASSWORD: PFX_PASSWORD };
    delete env.AZSBACKUP_STORE_PASSWORD;
    if (secret !== null) env.AZSBACKUP_STORE_PASSWORD = secret;
    const result = spawnSync(
      process.execPath,
      [cliMain, 'extract', '--backup', url, '--pfx', deployment.pfxPath, '--out', out, '--json', ...options],
      { env, encoding: 'utf8' },
    );
    return { status: result.status, stdout: result.stdout, stderr: result.stderr, out };
  }

  async function assertExtracted(result: Extracted): Promise<void> {
    assert.equal(result.status, 0, result.stderr);
    assert.deepEqual(
      (JSON.parse(result.stdout) as { roles: Array<{ RoleName: string }> }).roles.map(
        (role) => role.RoleName,
      ),
      ['CA', 'WAS'],
    );
    assert.deepEqual(
      withoutTimes(await describeTree(path.join(result.out, 'CA'))),
      withoutTimes(await describeTree(deployment.folder)),
    );
    assert.equal(
      subscriptionRows(path.join(result.out, 'WAS', 'WAS.db')),
      subscriptionRows(deployment.database),
    );
    assert.ok(existsSync(path.join(result.out, 'BackupInfo.json')));
  }

  /** Exit code 1 with the reason and option, no stack trace, no secret, no role data written. */
  function assertRefused(result: Extracted, reason: string, parameter: string, secret?: string) {
    assert.equal(result.status, 1, result.stderr);
    const { error } = JSON.parse(result.stdout) as { error: { reason: string; parameter: string | null } };
    assert.equal(error.reason, reason, result.stderr);
    assert.equal(error.parameter, parameter, result.stderr);
    assert.doesNotMatch(result.stderr, /^\s+at /m, 'no stack trace');
    if (secret) {
      for (const part of [secret, ...secret.split('&')].filter((text) => text.length > 12)) {
        assert.ok(!result.stderr.includes(part) && !result.stdout.includes(part), 'the secret is echoed');
        assert.ok(!result.stderr.includes(encodeURIComponent(part)), 'the secret is echoed, URL-encoded');
      }
    }
    assert.deepEqual(readdirSync(result.out), [], 'no role data is written');
    return result.stderr;
  }

  test('with the account key (and the account named by --store-user) every role comes back exactly', async () => {
    const result = extract(backupUrl, AzuriteServer.key, '--store-user', AzuriteServer.account);
    await assertExtracted(result);
    assert.ok(!`${result.stdout}${result.stderr}`.includes(AzuriteServer.key));
  });

  test('with a read-only SAS token from --store-password-file every role comes back exactly', async () => {
    const sas = server.sas(CONTAINER, new Date(Date.now() + HOUR), 'r');
    const secrets = tempDir('extract-blob-secret');
    cleanup.push(secrets);
    const file = path.join(secrets, 'sas');
    writeFileSync(file, `?${sas}\n`, { mode: 0o600 });
    await assertExtracted(extract(`${backupUrl}/`, null, '--store-password-file', file));
  });

  test('no credential: names AZSBACKUP_STORE_PASSWORD and --store-password-file', () => {
    const stderr = assertRefused(extract(backupUrl, null), 'InvalidParameter', 'store-password');
    assert.match(stderr, /No credential for the container.*AZSBACKUP_STORE_PASSWORD.*--store-password-file/);
  });

  test('a wrong account key: AuthenticationFailed, naming where the key goes, never the key', () => {
    const wrongKey = randomBytes(64).toString('base64');
    const stderr = assertRefused(
      extract(backupUrl, wrongKey),
      'AuthenticationFailed',
      'store-password',
      wrongKey,
    );
    assert.match(stderr, /account key of 'devstoreaccount1' was refused/);
    assert.match(stderr, /--store-user.*AZSBACKUP_STORE_PASSWORD.*--store-password-file/);
  });

  test('the right key under another account in --store-user: AuthenticationFailed naming that account', () => {
    const stderr = assertRefused(
      extract(backupUrl, AzuriteServer.key, '--store-user', 'otheraccount'),
      'AuthenticationFailed',
      'store-password',
      AzuriteServer.key,
    );
    assert.match(stderr, /account key of 'otheraccount' was refused/);
  });

  test('an expired SAS token: AuthenticationFailed naming its expiry and asking for a new one', () => {
    const expiry = new Date(Date.now() - 60_000);
    const sas = server.sas(CONTAINER, expiry);
    const stderr = assertRefused(extract(backupUrl, sas), 'AuthenticationFailed', 'store-password', sas);
    assert.match(stderr, new RegExp(`valid until ${expiry.toISOString().slice(0, 16)}.*expired`));
    assert.match(stderr, /Give a new SAS token in AZSBACKUP_STORE_PASSWORD/);
  });

  test('a SAS token without read permission: StoreAccessDenied, asking for sp=r', () => {
    const sas = server.sas(CONTAINER, new Date(Date.now() + HOUR), 'l');
    const stderr = assertRefused(extract(backupUrl, sas), 'StoreAccessDenied', 'store-password', sas);
    assert.match(stderr, /AuthorizationPermissionMismatch.*read permission \(sp=r\)/);
  });

  test('a missing container: PathNotFound naming it and --backup', () => {
    const url = backupUrl.replace(`/${CONTAINER}/`, '/no-such-container/');
    const stderr = assertRefused(extract(url, AzuriteServer.key), 'PathNotFound', 'backup');
    assert.match(stderr, /no container named 'no-such-container'.*Correct the container name in --backup/);
  });

  test('a URL that is not a backup folder: BackupNotFound or InvalidParameter naming --backup', () => {
    const parent = backupUrl.replace(/\/[^/]+$/, '');
    assert.match(
      assertRefused(extract(parent, AzuriteServer.key), 'BackupNotFound', 'backup'),
      /BackupInfo\.json does not exist: --backup must name a backup folder/,
    );
    assert.match(
      assertRefused(extract(server.containerUrl(CONTAINER), AzuriteServer.key), 'InvalidParameter', 'backup'),
      /names the container 'backups', not a backup folder in it/,
    );
  });

  test('a SAS token in the URL is refused without echoing it', () => {
    const sas = server.sas(CONTAINER, new Date(Date.now() + HOUR));
    const stderr = assertRefused(extract(`${backupUrl}?${sas}`, null), 'InvalidParameter', 'backup', sas);
    assert.match(stderr, /--backup .* must not carry a query.*AZSBACKUP_STORE_PASSWORD/);
  });

  test('--store-user with a folder on this machine is refused, naming it', () => {
    const stderr = assertRefused(
      extract(deployment.store, null, '--store-user', AzuriteServer.account),
      'InvalidParameter',
      'store-user',
    );
    assert.match(stderr, /--store-user is for a backup in a blob container/);
  });
});
