/**
 * Format 4, the deduplicating repository, through the engine (no daemon): backups share their
 * chunks, each restores byte for byte, Test-AzsBackup checks every pack with and without the .pfx,
 * and `azsbackup extract` reads a backup with nothing but its folder and the .pfx.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { authenticateManifest, type UnsealedManifest } from '../../src/archive/manifest.js';
import { extractBackup } from '../../src/cli/extract.js';
import { isAzsError } from '../../src/protocol/errors.js';
import { StateDir } from '../../src/state/stateDir.js';
import { currentEpoch, savedEpoch } from '../../src/state/repositoryEpoch.js';
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
    assert.equal(manifest.Encryption.ChunkId, 'BLAKE3', "a new epoch's chunk ids are keyed BLAKE3");
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

describe('format 4: an epoch started before keyed BLAKE3 chunk ids', () => {
  let fixture: EngineFixture;
  let state: StateDir;
  let first = '';

  before(async () => {
    fixture = await createEngine();
    // The epoch as a daemon from before BLAKE3 ids saved it: no ChunkId.
    state = await StateDir.open(fixture.state);
    const config = await state.readConfig();
    (await currentEpoch(state, config.certificate!, config.path!)).dataKey.fill(0);
    const saved = JSON.parse(readFileSync(state.repositoryEpochFile, 'utf8')) as { ChunkId?: string };
    assert.equal(saved.ChunkId, 'BLAKE3');
    delete saved.ChunkId;
    writeFileSync(state.repositoryEpochFile, JSON.stringify(saved));
  });
  after(() => fixture.close());

  /** The backup's manifest rewritten by `change`, authenticated again with the epoch's key when `remac`. */
  async function rewriteManifest(id: string, change: (manifest: UnsealedManifest) => void, remac: boolean) {
    const { folder, manifest } = manifestOf(fixture.store, id);
    const { Authentication, ...unsealed } = manifest;
    change(unsealed);
    const config = await state.readConfig();
    const epoch = (await savedEpoch(state, config.certificate!, config.path!))!;
    const written = remac ? authenticateManifest(unsealed, epoch.dataKey) : { ...unsealed, Authentication };
    epoch.dataKey.fill(0);
    writeFileSync(path.join(folder, 'BackupInfo.json'), JSON.stringify(written));
  }

  test('keeps HMAC-SHA256 ids: its backups deduplicate against the older ones and restore', async () => {
    first = (await fixture.engine.startBackup().done).BackupId;
    const tree = treeOf(fixture.data);
    assert.equal(manifestOf(fixture.store, first).manifest.Encryption.ChunkId, 'HMAC-SHA256');
    fixture.clock.advanceHours(1);
    const second = (await fixture.engine.startBackup().done).BackupId;
    const { manifest } = manifestOf(fixture.store, second);
    assert.equal(manifest.Encryption.ChunkId, 'HMAC-SHA256');
    assert.equal(manifest.Roles[0]!.Content!.AddedBytes, 0, 'the unchanged role stores nothing new');
    writeFileSync(path.join(fixture.data, 'settings.json'), 'overwritten');
    await fixture.engine.restore({ Name: second, ...fixture.decryption }).done;
    assert.deepEqual(treeOf(fixture.data), tree);
  });

  test('a manifest that names no function (written before BLAKE3 ids) reads as HMAC-SHA256', async () => {
    await rewriteManifest(first, (manifest) => delete manifest.Encryption.ChunkId, true);
    const tree = treeOf(fixture.data);
    writeFileSync(path.join(fixture.data, 'settings.json'), 'overwritten');
    await fixture.engine.restore({ Name: first, ...fixture.decryption }).done;
    assert.deepEqual(treeOf(fixture.data), tree);
  });

  test('a share writer cannot change the function a manifest names', async () => {
    await rewriteManifest(first, (manifest) => (manifest.Encryption.ChunkId = 'BLAKE3'), false);
    await assert.rejects(fixture.engine.restore({ Name: first, ...fixture.decryption }).done, (error) => {
      assert.ok(isAzsError(error, 'BackupCorrupt'), String(error));
      return true;
    });
    // Authenticated again (only the key's holder can), the ids no longer match the named function.
    await rewriteManifest(first, (manifest) => (manifest.Encryption.ChunkId = 'BLAKE3'), true);
    await assert.rejects(fixture.engine.restore({ Name: first, ...fixture.decryption }).done, (error) => {
      assert.ok(isAzsError(error, 'BackupCorrupt'), String(error));
      assert.match(error.message, /does not match its id/);
      return true;
    });
  });
});
