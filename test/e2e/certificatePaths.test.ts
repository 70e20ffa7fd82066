/**
 * Certificate paths that name no certificate file, on a real daemon and the real command line: a
 * FIFO is refused at once (it used to hang the daemon's I/O), /dev/zero without reading it (it used
 * to grow memory without bound), each naming its parameter; the daemon keeps answering.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { RpcError } from '../../src/daemon/client.js';
import { removeDir, startDaemon, tempDir } from '../helpers/daemon.js';
import { createDeployment, PFX_PASSWORD } from '../helpers/deployment.js';
import { cliMain } from '../helpers/pwsh.js';

function refused(parameter: string, pattern: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof RpcError, String(error));
    assert.equal(error.data?.reason, 'CertificateNotAFile', error.message);
    assert.equal(error.data?.parameter, parameter);
    assert.match(error.message, pattern);
    return true;
  };
}

test('a FIFO or a device as EncryptionCertPath, DecryptionCertPath or --pfx is refused at once', async () => {
  const daemon = startDaemon();
  const deployment = await createDeployment(daemon);
  const fifo = path.join(deployment.root, 'pipe.pfx');
  execFileSync('mkfifo', [fifo]);
  const out = tempDir('cert-extract');
  try {
    await daemon.call('role.unregister', { Name: 'ECE' });
    const backup = await daemon.call('backup.start', { Wait: true });
    for (const [file, kind] of [
      [fifo, /FIFO/],
      ['/dev/zero', /character device/],
    ] as const) {
      await assert.rejects(
        daemon.call('config.set', { EncryptionCertPath: file }),
        refused('EncryptionCertPath', kind),
      );
      const decryption = { DecryptionCertPath: file, DecryptionCertPassword: PFX_PASSWORD };
      await assert.rejects(
        daemon.call('backup.test', { Name: backup.BackupId, ...decryption }),
        refused('DecryptionCertPath', kind),
      );
      await assert.rejects(
        daemon.call('backup.restore', { Name: backup.BackupId, ...decryption, Wait: true }),
        refused('DecryptionCertPath', kind),
      );
    }
    assert.equal((await daemon.call('daemon.status', {})).pid, daemon.pid);

    const stampFolder = path.join(deployment.store, 'MASBackup');
    const backupFolder = path.join(stampFolder, readdirSync(stampFolder)[0]!, backup.BackupId);
    const extract = spawnSync(
      process.execPath,
      [cliMain, 'extract', '--backup', backupFolder, '--pfx', fifo, '--out', out, '--json'],
      { encoding: 'utf8', env: { ...process.env, AZSBACKUP_PFX_PASSWORD: PFX_PASSWORD }, timeout: 30_000 },
    );
    assert.equal(extract.status, 1, extract.stderr);
    assert.equal(JSON.parse(extract.stdout).error.reason, 'CertificateNotAFile');
    assert.match(extract.stderr, /--pfx .*FIFO/);
  } finally {
    daemon.stop();
    [daemon.stateDir, deployment.root, out].forEach(removeDir);
  }
});
