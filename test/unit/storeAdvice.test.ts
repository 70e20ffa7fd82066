/**
 * Store failures as the operator sees them: the stores state facts only, and the engine's advice
 * (engine/storeAdvice.ts) gives back, word for word, the messages the stores used to write.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { advisedStore, shareTests, withOperatorAdvice } from '../../src/engine/storeAdvice.js';
import { RestError } from '@azure/storage-blob';
import { AzsError } from '../../src/protocol/errors.js';
import { blobFailure } from '../../src/storage/blobErrors.js';
import { parseBlobLocation } from '../../src/storage/blobLocation.js';
import { LocalFolderStore, mapFsError } from '../../src/storage/localStore.js';
import { openStore } from '../../src/storage/openStore.js';
import { probeStore } from '../../src/storage/probe.js';
import { smbFailure } from '../../src/storage/smbErrors.js';
import { parseSmbLocation, parseSmbLogon } from '../../src/storage/smbPath.js';

const CMDLET_WORDS = /(^|[\s'"(:])-[A-Z][a-zA-Z]+|\b[A-Z][a-z]+-Azs/;

/** The store's own message (no cmdlet words) and the operator's (the advice added). */
function seen(error: unknown): { store: string; operator: string; parameter: string | undefined } {
  const advised = withOperatorAdvice(error) as AzsError;
  assert.equal(advised.reason, (error as AzsError).reason);
  return { store: (error as Error).message, operator: advised.message, parameter: advised.parameter };
}

function thrown(action: () => unknown): unknown {
  try {
    action();
  } catch (error) {
    return error;
  }
  assert.fail('expected a failure');
}

const fsError = (code: string) => Object.assign(new Error(`${code}: failed`), { code });
const blobPath = 'https://acct.blob.core.windows.net/c/p';
const blobContext = {
  location: blobPath,
  blobLocation: parseBlobLocation(blobPath),
  credential: { kind: 'key', account: 'acct', key: 'k' } as const,
  target: 'f/x',
};
const context = {
  location: '\\\\h\\s\\f',
  host: 'h',
  share: 's',
  target: 'f/x',
  user: 'u',
  requireEncryption: true,
};

describe('store failures: facts from the store, advice from the engine', () => {
  const cases: Array<[string, unknown, string]> = [
    [
      'a missing local folder',
      mapFsError(fsError('ENOENT'), '/b/x'),
      "The backup store path '/b/x' does not exist (ENOENT). Create the folder or correct -Path.",
    ],
    [
      'a local folder that cannot be written',
      mapFsError(fsError('EACCES'), '/b'),
      "The backup store '/b' cannot be written (EACCES). Give the daemon's account write access to the folder, or choose another -Path.",
    ],
    [
      'a full local disk',
      mapFsError(fsError('ENOSPC'), '/b'),
      'The backup store is out of space (ENOSPC). Free space on it or lower -BackupRetentionPeriodInDays.',
    ],
    [
      'a refused logon',
      smbFailure('NT_STATUS_LOGON_FAILURE', '', context),
      "Logon to '\\\\h\\s\\f' as 'u' failed (NT_STATUS_LOGON_FAILURE). Check -UserName and -Password, and that the account is enabled, not locked out and its password not expired.",
    ],
    [
      'a missing share',
      smbFailure('NT_STATUS_BAD_NETWORK_NAME', '', context),
      "Server 'h' has no share named 's' (NT_STATUS_BAD_NETWORK_NAME). Correct the share name in -Path.",
    ],
    [
      'a missing folder on a share',
      smbFailure('NT_STATUS_OBJECT_PATH_NOT_FOUND', '', context),
      "'f/x' does not exist on the share (NT_STATUS_OBJECT_PATH_NOT_FOUND). Create the folder on the share or correct -Path.",
    ],
    [
      'a full share',
      smbFailure('NT_STATUS_DISK_FULL', '', context),
      "The share '\\\\h\\s\\f' is out of space (NT_STATUS_DISK_FULL). Free space on it, raise its quota, or lower -BackupRetentionPeriodInDays.",
    ],
    [
      'an unreachable server',
      smbFailure(null, 'do_connect: Connection to h failed (Error NT_STATUS_CONNECTION_REFUSED)', context),
      "The file server 'h' could not be reached (do_connect: Connection to h failed (Error NT_STATUS_CONNECTION_REFUSED)). Check the server name and port in -Path, that the server is running, and the firewall.",
    ],
    [
      'a share that refuses encryption',
      smbFailure(null, 'smb2cli_session_encryption_on failed', context),
      "The share '\\\\h\\s\\f' did not accept SMB encryption, and -RequireEncryption demands it (smb2cli_session_encryption_on failed). Enable SMB encryption on the file server, or turn off -RequireEncryption.",
    ],
    [
      'an unusable share path',
      thrown(() => parseSmbLocation('\\\\h')),
      "-Path '\\\\h' is not a usable share path: it names no share. Write it as \\\\server\\share\\folder (or \\\\server:port\\share\\folder).",
    ],
    [
      'an unusable user name',
      thrown(() => parseSmbLogon('a%b')),
      "-UserName 'a%b' cannot be used: it holds % / or a control character. Write DOMAIN\\user, user@domain or user.",
    ],
    [
      'a relative folder path',
      thrown(() => openStore({ path: 'rel', userName: null, password: null, requireEncryption: false })),
      "-Path 'rel' must be an absolute folder path (or a \\\\server\\share path, or a blob container's https:// URL).",
    ],
    [
      'a blob container over plain HTTP where encryption is required',
      thrown(() =>
        openStore({
          path: 'http://10.0.0.1/acct/c',
          userName: null,
          password: null,
          requireEncryption: true,
        }),
      ),
      "-RequireEncryption is set, and 'http://10.0.0.1/acct/c' is plain HTTP, which is not encrypted: give the https:// URL.",
    ],
    [
      'a missing container',
      blobFailure(new RestError('', { code: 'ContainerNotFound', statusCode: 404 }), blobContext),
      "The storage account 'acct' has no container named 'c' (HTTP 404 ContainerNotFound). Create the container in the storage account, or correct the container name in -Path.",
    ],
    [
      'an expired SAS token',
      blobFailure(new RestError('', { code: 'AuthenticationFailed', statusCode: 403 }), {
        ...blobContext,
        credential: { kind: 'sas', token: 'sig=s', expires: new Date('2020-01-02T03:04:05Z') },
      }),
      "The SAS token for 'https://acct.blob.core.windows.net/c/p' (valid until 2020-01-02T03:04:05.000Z, expired) was refused (HTTP 403 AuthenticationFailed). Give a new SAS token through -Password.",
    ],
    [
      'a wrong account key',
      blobFailure(new RestError('', { code: 'AuthenticationFailed', statusCode: 403 }), blobContext),
      "The account key of 'acct' was refused (HTTP 403 AuthenticationFailed). Check -Password: a SAS token for the container, or the account key (with the account name in -UserName).",
    ],
    [
      'a SAS token without the permission',
      blobFailure(
        new RestError('', { code: 'AuthorizationPermissionMismatch', statusCode: 403 }),
        blobContext,
      ),
      "The blob service refused the operation on 'f/x' (HTTP 403 AuthorizationPermissionMismatch). Give -Password a SAS token with read, add, create, write, delete and list permissions (sp=racwdl), or the account key; a container under an immutability policy refuses deletes until the retention ends.",
    ],
    [
      'a full storage account',
      blobFailure(new RestError('', { statusCode: 507 }), blobContext),
      "The storage account of 'https://acct.blob.core.windows.net/c/p' has no room left (HTTP 507). Raise the storage account's quota, or lower -BackupRetentionPeriodInDays.",
    ],
  ];
  for (const [what, error, operator] of cases) {
    it(`words ${what} as before, and the store alone names no cmdlet or parameter`, () => {
      const words = seen(error);
      assert.equal(words.operator, operator);
      assert.doesNotMatch(words.store, CMDLET_WORDS);
    });
  }

  it('passes anything that is not a store failure through as it is', () => {
    const other = new AzsError('RoleFailed', 'The role failed.');
    assert.equal(withOperatorAdvice(other), other);
  });

  describe('through a store the engine opened', () => {
    const folders: string[] = [];
    after(() => Promise.all(folders.map((folder) => rm(folder, { recursive: true, force: true }))));

    it('advises links and special files in a local store, and a failed probe with its fix', async () => {
      const root = await mkdtemp(path.join(os.tmpdir(), 'azs-advice-'));
      folders.push(root);
      await mkdir(path.join(root, 'd'));
      await writeFile(path.join(root, 'd', 'victim'), 'x');
      await symlink(path.join(root, 'd'), path.join(root, 'link'));
      execFileSync('mkfifo', [path.join(root, 'd', 'fifo')]);
      const store = advisedStore(new LocalFolderStore(root));
      await assert.rejects(store.readFile('link/victim'), {
        reason: 'StorePathUnsafe',
        parameter: 'Path',
        message: `The backup store path 'link/victim' leads through a symbolic link (to '${path.join(root, 'd', 'victim')}'); nothing under the store is followed as a link. Remove the link from the store: Invoke-AzsPruneBackupLocationExternalStore removes links under MASBackup.`,
      });
      await assert.rejects(store.digest('d/fifo'), {
        reason: 'StorePathUnsafe',
        message:
          "The backup store path 'd/fifo' is a FIFO (named pipe), not a file; only plain files on the store are read. Remove it from the store: Invoke-AzsPruneBackupLocationExternalStore removes what is not a backup's file under MASBackup.",
      });
      const missing = path.join(root, 'missing');
      const tests = shareTests(await probeStore(advisedStore(new LocalFolderStore(missing))));
      assert.deepEqual(tests, [
        {
          Check: 'Reachability',
          Passed: false,
          Detail: `The backup store path '${missing}' does not exist (ENOENT). Create the folder or correct -Path.`,
          Fix: 'Create the folder on the store, or correct -Path.',
        },
      ]);
    });
  });
});
