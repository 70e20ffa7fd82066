/**
 * Format 4, the deduplicating repository, through the engine (no daemon): backups share their
 * chunks, each restores byte for byte, Test-AzsBackup checks every pack with and without the .pfx,
 * and `azsbackup extract` reads a backup with nothing but its folder and the .pfx.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { extractBackup } from '../../src/cli/extract.js';
import { REPOSITORY_ROOT } from '../../src/repository/layout.js';
import { createEngine, type EngineFixture } from '../helpers/engine.js';
import { tempDir } from '../helpers/daemon.js';
import { bytesUnder, manifestOf, treeOf } from '../helpers/repositoryStore.js';

process.env.AZSBACKUP_FORMAT = '4';

describe('format 4: the deduplicating repository', () => {
  let fixture: EngineFixture;
  const disk = randomBytes(6 * 1024 * 1024);
  const first = { id: '', tree: new Map<string, Buffer>(), storeBytes: 0 };
  const second = { id: '', tree: new Map<string, Buffer>(), storeBytes: 0 };

  before(async () => {
    fixture = await createEngine();
    mkdirSync(path.join(fixture.data, 'images'));
    writeFileSync(path.join(fixture.data, 'images', 'disk.img'), disk);
    first.id = (await fixture.engine.startBackup().done).BackupId;
    first.tree = treeOf(fixture.data);
    first.storeBytes = bytesUnder(path.join(fixture.store, REPOSITORY_ROOT));
    // About 1 % changed: a few KiB of the image rewritten in place, one small file added.
    randomBytes(4096).copy(disk, 3 * 1024 * 1024);
    writeFileSync(path.join(fixture.data, 'images', 'disk.img'), disk);
    writeFileSync(path.join(fixture.data, 'new.json'), '{"added":true}\n');
    fixture.clock.advanceHours(1);
    second.id = (await fixture.engine.startBackup().done).BackupId;
    second.tree = treeOf(fixture.data);
    second.storeBytes = bytesUnder(path.join(fixture.store, REPOSITORY_ROOT));
  });
  after(() => fixture.close());

  test('backups are written in format 4, their roles in the repository and no role file', () => {
    const { manifest } = manifestOf(fixture.store, second.id);
    assert.equal(manifest.FormatVersion, 4);
    assert.match(manifest.Encryption.Epoch ?? '', /^[0-9a-f]{32}$/);
    const role = manifest.Roles[0]!;
    assert.deepEqual(role.Files, []);
    assert.ok(role.Content!.Packs.length > 0);
    assert.equal(
      role.SourceBytes,
      [...second.tree.values()].reduce((sum, bytes) => sum + bytes.length, 0),
    );
  });

  test('the second backup stores only what changed', () => {
    const growth = second.storeBytes - first.storeBytes;
    assert.ok(first.storeBytes > disk.length, `the first backup stored ${first.storeBytes} bytes`);
    // At most: the image's chunk holding the change and its record's first chunk (the header has a
    // new mtime), a chunk of the small files around the new one, the role's list: three chunks of at
    // most 1 MiB; the image alone is 6 MiB.
    const bound = 3 * 1024 * 1024;
    assert.ok(growth < bound, `the second backup added ${growth} bytes`);
    const { manifest } = manifestOf(fixture.store, second.id);
    assert.ok(manifest.Roles[0]!.Content!.AddedBytes < bound);
  });

  test('Test-AzsBackup checks every pack, without the .pfx and with it', async () => {
    for (const decryption of [null, fixture.decryption]) {
      const results = await fixture.engine.testBackup(first.id, decryption);
      assert.deepEqual(
        results.map((result) => result.Status),
        ['Succeeded'],
      );
    }
  });

  test('each backup restores byte for byte', async () => {
    for (const backup of [first, second]) {
      writeFileSync(path.join(fixture.data, 'settings.json'), 'overwritten');
      await fixture.engine.restore({ Name: backup.id, ...fixture.decryption }).done;
      assert.deepEqual(treeOf(fixture.data), backup.tree);
    }
  });

  test('azsbackup extract reads a backup with only its folder (in its MASBackup) and the .pfx', async () => {
    const out = tempDir('repository-extract');
    const { folder } = manifestOf(fixture.store, first.id);
    const roles = await extractBackup({
      backupFolder: folder,
      pfxPath: fixture.decryption.DecryptionCertPath,
      pfxPassword: fixture.decryption.DecryptionCertPassword,
      outDir: out,
    });
    assert.deepEqual(
      roles.map((role) => role.RoleName),
      ['CA'],
    );
    assert.deepEqual(treeOf(path.join(out, 'CA')), first.tree);
  });
});
