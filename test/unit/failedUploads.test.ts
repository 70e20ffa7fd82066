/**
 * findFailedUploads on a real local-folder store: what the engine removes after a backup without
 * being asked — only the folders of backups its history knows failed, never a complete backup, the
 * running one, another writer's folder or a link.
 */
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, beforeEach, describe, it } from 'node:test';
import type { BackupCatalog } from '../../src/engine/catalog.js';
import { findFailedUploads } from '../../src/engine/prune.js';
import { LocalFolderStore } from '../../src/storage/localStore.js';
import { removeDir, tempDir } from '../helpers/daemon.js';

const FAILED = '0b5c1f7e-0000-4000-8000-000000000001';
const COMPLETE = '0b5c1f7e-0000-4000-8000-000000000002';
const UNKNOWN = '0b5c1f7e-0000-4000-8000-000000000003';
const RUNNING = '0b5c1f7e-0000-4000-8000-000000000004';
const roots: string[] = [];
after(() => roots.forEach(removeDir));

describe('findFailedUploads', () => {
  let root: string;
  let store: LocalFolderStore;

  beforeEach(() => {
    root = tempDir('failed-uploads');
    roots.push(root);
    store = new LocalFolderStore(root);
  });

  /** A backup folder with one role file, as an upload leaves it before its manifest. */
  function upload(stamp: string, backupId: string): void {
    mkdirSync(path.join(root, 'MASBackup', stamp, backupId, 'CA'), { recursive: true });
    writeFileSync(path.join(root, 'MASBackup', stamp, backupId, 'CA', 'CA.azsb'), 'partial upload');
  }

  /** A catalog that lists the complete backup (only the folders matter here). */
  const catalog = {
    list: () =>
      Promise.resolve([{ folder: `MASBackup/20261201T000000Z/${COMPLETE}`, manifest: { Roles: [] } }]),
  } as unknown as BackupCatalog;

  const failed = (...ids: string[]) => new Set(ids);

  it('finds a failed backup alone in its timestamp folder as the whole timestamp folder', async () => {
    upload('20261130T000000Z', FAILED);
    assert.deepEqual(await findFailedUploads(store, catalog, null, failed(FAILED)), [
      'MASBackup/20261130T000000Z',
    ]);
  });

  it('finds only the failed backup folder beside a complete backup, which it never lists', async () => {
    upload('20261201T000000Z', COMPLETE);
    writeFileSync(path.join(root, 'MASBackup/20261201T000000Z', COMPLETE, 'BackupInfo.json'), '{}');
    upload('20261201T000000Z', FAILED);
    assert.deepEqual(await findFailedUploads(store, catalog, null, failed(FAILED)), [
      `MASBackup/20261201T000000Z/${FAILED}`,
    ]);
  });

  it('leaves folders its history does not know, the running backup, and anything beside them', async () => {
    upload('20261130T000000Z', UNKNOWN);
    upload('20261130T000001Z', RUNNING);
    upload('20261130T000002Z', FAILED);
    writeFileSync(path.join(root, 'MASBackup/20261130T000002Z/stray.txt'), 'not a backup');
    assert.deepEqual(await findFailedUploads(store, catalog, RUNNING, failed(FAILED, RUNNING)), []);
  });

  it('never lists a link named as a failed backup', async () => {
    const outside = tempDir('failed-uploads-victim');
    roots.push(outside);
    mkdirSync(path.join(root, 'MASBackup/20261130T000000Z'), { recursive: true });
    symlinkSync(outside, path.join(root, 'MASBackup/20261130T000000Z', FAILED));
    assert.deepEqual(await findFailedUploads(store, catalog, null, failed(FAILED)), []);
  });
});
