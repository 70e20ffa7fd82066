/**
 * A store whose folder is gone is not a store without backups (issue 15, point 3): Get-AzsBackup in a
 * real pwsh fails with AzsBackup.PathNotFound and the path alert's remediation ($? is false), on a
 * local folder and on a real Samba share alike; an existing folder without MASBackup lists nothing,
 * without an error. Get-AzsBackupConfiguration warns why AvailableCapacity is empty.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, renameSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { STORE_PATH_REMEDIATION } from '../../src/engine/alertRules.js';
import { removeDir, startDaemon, tempDir, type TestDaemon } from '../helpers/daemon.js';
import { PwshSession } from '../helpers/pwshSession.js';
import { SambaServer } from '../helpers/samba.js';

interface Listing {
  Succeeded: boolean;
  Count: number;
  ErrorId: string | null;
  Category: string | null;
  Message: string | null;
}

interface ConfigurationRead {
  AvailableCapacity: string | null;
  Warnings: string[];
}

/**
 * Get-AzsBackup as an operator runs it: what came back, whether $? held, and the error if any. The
 * preference (not -ErrorAction) also silences a terminating error, which would otherwise reach stderr.
 */
const LIST_BACKUPS = `& {
  $ErrorActionPreference = 'SilentlyContinue'; $Error.Clear()
  $backups = @(Get-AzsBackup); $succeeded = $?
  $failure = $Error[0]
  [pscustomobject]@{
    Succeeded = $succeeded
    Count = $backups.Count
    ErrorId = if ($failure) { $failure.FullyQualifiedErrorId } else { $null }
    Category = if ($failure) { "$($failure.CategoryInfo.Category)" } else { $null }
    Message = if ($failure) { $failure.Exception.Message } else { $null }
  } | ConvertTo-Json -Compress
}`;

const READ_CONFIGURATION = `$location = Get-AzsBackupConfiguration -WarningAction SilentlyContinue -WarningVariable warned
[pscustomobject]@{ AvailableCapacity = $location.AvailableCapacity; Warnings = @($warned | ForEach-Object Message) } | ConvertTo-Json -Compress`;

/** One kind of store: how to configure it, and its folder on this machine to take away and give back. */
interface StoreKind {
  name: string;
  setUp(): Promise<{ folder: string; configure: (daemon: TestDaemon) => Promise<unknown> }>;
  tearDown(): Promise<void>;
}

const local = (): StoreKind => {
  let work = '';
  return {
    name: 'a local folder',
    async setUp() {
      work = tempDir('missing-local');
      const folder = path.join(work, 'store');
      mkdirSync(folder);
      return { folder, configure: (daemon) => daemon.call('config.set', { Path: folder }) };
    },
    async tearDown() {
      removeDir(work);
    },
  };
};

const samba = (): StoreKind => {
  let server: SambaServer | undefined;
  return {
    name: 'a real Samba share',
    async setUp() {
      const started = await SambaServer.start();
      server = started;
      const folder = path.join(started.sharePath('backup'), 'east');
      mkdirSync(folder, { recursive: true });
      spawnSync('chmod', ['-R', 'a+rwX', started.sharePath('backup')]);
      const configure = (daemon: TestDaemon) =>
        daemon.call('config.set', {
          Path: started.uncPath('backup', 'east'),
          UserName: `CONTOSO\\${started.user}`,
          Password: started.password,
        });
      return { folder, configure };
    },
    async tearDown() {
      await server?.dispose();
    },
  };
};

for (const kind of [local(), samba()]) {
  describe(`a missing store folder on ${kind.name}`, () => {
    let daemon: TestDaemon;
    let shell: PwshSession;
    let folder: string;

    before(async () => {
      const store = await kind.setUp();
      folder = store.folder;
      daemon = startDaemon();
      await store.configure(daemon);
      shell = await PwshSession.start({ AZSBACKUP_HOME: daemon.stateDir });
    });

    after(async () => {
      await shell?.dispose();
      daemon?.stop();
      if (daemon) removeDir(daemon.stateDir);
      await kind.tearDown();
    });

    test('an existing folder without MASBackup lists no backups, without an error', async () => {
      const listing = await shell.runJson<Listing>(LIST_BACKUPS);
      assert.deepEqual(listing, { Succeeded: true, Count: 0, ErrorId: null, Category: null, Message: null });
    });

    test('a missing folder fails Get-AzsBackup with PathNotFound and the remediation; the configuration says why the capacity is empty', async () => {
      const moved = `${folder}.moved`;
      renameSync(folder, moved);
      try {
        const listing = await shell.runJson<Listing>(LIST_BACKUPS);
        assert.equal(listing.Succeeded, false, 'Get-AzsBackup sets $? to false');
        assert.equal(listing.Count, 0);
        assert.match(listing.ErrorId ?? '', /^AzsBackup\.PathNotFound/);
        assert.equal(listing.Category, 'ObjectNotFound');
        assert.ok(listing.Message?.includes(STORE_PATH_REMEDIATION), listing.Message ?? '');
        assert.match(listing.Message ?? '', /does not mean there are no backups/);

        const read = await shell.runJson<ConfigurationRead>(READ_CONFIGURATION);
        assert.equal(read.AvailableCapacity, null);
        assert.ok(
          read.Warnings.some((warning) => /^AvailableCapacity is empty: .*cannot be read/.test(warning)),
          JSON.stringify(read.Warnings),
        );
      } finally {
        renameSync(moved, folder);
      }
      const back = await shell.runJson<ConfigurationRead>(READ_CONFIGURATION);
      assert.notEqual(back.AvailableCapacity, null);
      assert.ok(!back.Warnings.some((warning) => warning.startsWith('AvailableCapacity')));
    });
  });
}
