/**
 * The catalog and the ledger on a real local-folder store: a backup is listed only in the folder its
 * creation time names; it is known to the deployment only when the ledger holds its manifest's exact
 * digest; a manifest that is not valid is read once, not at every listing.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { cpSync, mkdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, beforeEach, describe, it } from 'node:test';
import { authenticateManifest, MAX_MANIFEST_BYTES, serializeManifest } from '../../src/archive/manifest.js';
import { BackupCatalog } from '../../src/engine/catalog.js';
import { backupFolder } from '../../src/engine/layout.js';
import { ManifestLedger } from '../../src/state/manifestLedger.js';
import { StateDir } from '../../src/state/stateDir.js';
import { LocalFolderStore } from '../../src/storage/localStore.js';
import type { BackupStore } from '../../src/storage/store.js';
import { silentLogger } from '../../src/util/log.js';
import { removeDir, tempDir } from '../helpers/daemon.js';
import { unsealedManifest } from './manifestFixtures.js';

const roots: string[] = [];
after(() => roots.forEach(removeDir));

/** A backup's manifest text as the backup job writes it (no role files: the catalog reads none). */
function manifestText(backupId: string, created: string): string {
  return serializeManifest(
    authenticateManifest(unsealedManifest(backupId, { CreatedDateTime: created }), randomBytes(32)),
  );
}

describe('backup catalog', () => {
  let storeRoot: string;
  let store: BackupStore;
  let ledger: ManifestLedger;
  let catalog: BackupCatalog;
  let state: StateDir;

  beforeEach(async () => {
    const root = tempDir('catalog');
    roots.push(root);
    storeRoot = path.join(root, 'store');
    mkdirSync(storeRoot);
    store = new LocalFolderStore(storeRoot);
    state = await StateDir.open(path.join(root, 'state'));
    ledger = new ManifestLedger(state);
    catalog = new BackupCatalog(silentLogger, ledger);
  });

  /** Writes a manifest where the backup job would; returns the folder and the bytes' digest. */
  function plant(backupId: string, created: string, folder = backupFolder(new Date(created), backupId)) {
    const text = manifestText(backupId, created);
    mkdirSync(path.join(storeRoot, folder), { recursive: true });
    writeFileSync(path.join(storeRoot, folder, 'BackupInfo.json'), text);
    return { folder, sha256: createHash('sha256').update(text).digest('hex') };
  }

  it('lists a backup only under the timestamp folder of its CreatedDateTime', async () => {
    const id = '3f2b8c1e-5d4a-4e6f-9a7b-1c2d3e4f5a6b';
    const real = plant(id, '2026-11-26T12:00:00.000Z');
    assert.deepEqual(
      (await catalog.list(store)).map((backup) => backup.folder),
      [real.folder],
    );
    // An old backup republished under a newer folder name is not a backup.
    cpSync(path.join(storeRoot, real.folder), path.join(storeRoot, `MASBackup/20261201T000000Z/${id}`), {
      recursive: true,
    });
    const listed = await catalog.list(store);
    assert.deepEqual(
      listed.map((backup) => backup.folder),
      [real.folder],
    );
  });

  it('a backup is known only when the ledger holds its exact manifest digest in that folder', async () => {
    const ours = plant('11111111-1111-4111-8111-111111111111', '2026-11-26T12:00:00.000Z');
    plant('22222222-2222-4222-8222-222222222222', '2026-11-27T12:00:00.000Z');
    await ledger.record({
      BackupId: '11111111-1111-4111-8111-111111111111',
      Folder: ours.folder,
      CreatedDateTime: '2026-11-26T12:00:00.000Z',
      ManifestSha256: ours.sha256,
    });
    const known = async () =>
      Object.fromEntries(
        (await catalog.list(store)).map((backup) => [backup.manifest.BackupId, backup.isKnown]),
      );
    assert.deepEqual(await known(), {
      '11111111-1111-4111-8111-111111111111': true,
      '22222222-2222-4222-8222-222222222222': false,
    });
    assert.equal(statSync(state.ledgerFile).mode & 0o777, 0o600);
    // One byte of whitespace changed: the manifest still parses and verifies, but it is not ours.
    const file = path.join(storeRoot, ours.folder, 'BackupInfo.json');
    writeFileSync(file, `${readFileSync(file, 'utf8')} `);
    assert.equal((await known())['11111111-1111-4111-8111-111111111111'], false);
  });

  it('reads a manifest that is not valid once, until the file changes', async () => {
    const folder = 'MASBackup/20261126T120000Z/33333333-3333-4333-8333-333333333333';
    mkdirSync(path.join(storeRoot, folder), { recursive: true });
    const file = path.join(storeRoot, folder, 'BackupInfo.json');
    writeFileSync(file, `{"BackupId": ${'1'.repeat(1_000_000)}}`);
    const reads: string[] = [];
    const counting: BackupStore = Object.assign(Object.create(store) as BackupStore, {
      readFile: (relative: string) => {
        reads.push(relative);
        return store.readFile(relative);
      },
    });
    for (let listing = 0; listing < 5; listing += 1) assert.deepEqual(await catalog.list(counting), []);
    assert.equal(reads.length, 1);
    utimesSync(file, new Date(), new Date(Date.now() + 5000));
    await catalog.list(counting);
    assert.equal(reads.length, 2, 'a changed file is read again');
  });

  it('never reads a manifest bigger than a manifest can be', async () => {
    const folder = 'MASBackup/20261126T120000Z/44444444-4444-4444-8444-444444444444';
    mkdirSync(path.join(storeRoot, folder), { recursive: true });
    writeFileSync(
      path.join(storeRoot, folder, 'BackupInfo.json'),
      Buffer.alloc(MAX_MANIFEST_BYTES + 1, 0x20),
    );
    let reads = 0;
    const counting: BackupStore = Object.assign(Object.create(store) as BackupStore, {
      readFile: (relative: string) => {
        reads += 1;
        return store.readFile(relative);
      },
    });
    assert.deepEqual(await catalog.list(counting), []);
    assert.equal(reads, 0);
  });
});

describe('manifest ledger', () => {
  it('keeps one record per backup, forgets on request, and refuses a damaged file', async () => {
    const root = tempDir('ledger');
    roots.push(root);
    const state = await StateDir.open(root);
    const ledger = new ManifestLedger(state);
    assert.equal((await ledger.read()).size, 0);
    const record = (id: string) => ({
      BackupId: id,
      Folder: `MASBackup/20261126T120000Z/${id}`,
      CreatedDateTime: '2026-11-26T12:00:00.000Z',
      ManifestSha256: 'ab'.repeat(32),
    });
    await Promise.all(['a', 'b', 'c'].map((id) => ledger.record(record(id))));
    assert.deepEqual([...(await ledger.read()).keys()].sort(), ['a', 'b', 'c']);
    await ledger.forget(['b']);
    assert.deepEqual([...(await new ManifestLedger(state).read()).keys()].sort(), ['a', 'c']);
    writeFileSync(state.ledgerFile, '{"not":"a ledger"}');
    await assert.rejects(ledger.read(), /is damaged.*Move it aside/);
    writeFileSync(state.ledgerFile, '[{"BackupId":');
    await assert.rejects(ledger.read(), /is damaged.*Move it aside/);
  });
});
