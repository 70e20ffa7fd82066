/**
 * Backups through the engine fixture (test/helpers/engine.ts) of role CA, format 4: its disk image
 * written, a backup taken with the role's tree as it was, the packs a manifest lists, and a restore
 * checked byte for byte.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { packPath } from '../../src/repository/layout.js';
import { Successions, readRepackRecords } from '../../src/repository/repacks.js';
import { LocalFolderStore } from '../../src/storage/localStore.js';
import type { EngineFixture } from './engine.js';
import { manifestOf, treeOf } from './repositoryStore.js';

export const IMAGE_BYTES = 3 * 1024 * 1024;

export interface TakenBackup {
  id: string;
  /** The role's files when the backup was taken. */
  tree: Map<string, Buffer>;
}

/** Writes the role's disk image; returns its bytes. */
export function writeImage(fixture: EngineFixture, image: Buffer = randomBytes(IMAGE_BYTES)): Buffer {
  mkdirSync(path.join(fixture.data, 'images'), { recursive: true });
  writeFileSync(path.join(fixture.data, 'images', 'disk.img'), image);
  return image;
}

/** A backup taken now, with the role's files as they were. */
export async function backUp(fixture: EngineFixture): Promise<TakenBackup> {
  const tree = treeOf(fixture.data);
  return { id: (await fixture.engine.startBackup().done).BackupId, tree };
}

/** Every pack the backup's manifest lists, as its file on the store. */
export function packFiles(fixture: EngineFixture, backupId: string): string[] {
  const { manifest } = manifestOf(fixture.store, backupId);
  return manifest.Roles.flatMap((role) => role.Content?.Packs ?? []).map((pack) =>
    path.join(fixture.store, packPath(manifest.Encryption.Epoch!, pack)),
  );
}

/** Restores the backup and checks that the role's folder is then exactly its tree. */
export async function assertRestores(fixture: EngineFixture, backup: TakenBackup): Promise<void> {
  writeFileSync(path.join(fixture.data, 'settings.json'), 'overwritten');
  await fixture.engine.restore({ Name: backup.id, ...fixture.decryption }).done;
  assert.deepEqual(treeOf(fixture.data), backup.tree, `backup ${backup.id} restores byte for byte`);
}

/**
 * The packs the backups' manifests list, followed through the repack records to where their blobs
 * are now (repacks.ts): what must be stored once every repack finished; replaced packs are not.
 */
export async function livePackFiles(fixture: EngineFixture, backupIds: string[]): Promise<Set<string>> {
  const live = new Set<string>();
  for (const backupId of backupIds) {
    const { manifest } = manifestOf(fixture.store, backupId);
    const epoch = manifest.Encryption.Epoch!;
    const successions = new Successions(
      (await readRepackRecords(new LocalFolderStore(fixture.store), epoch)).records,
    );
    for (const pack of successions.reach(manifest.Roles.flatMap((role) => role.Content?.Packs ?? [])))
      if (!successions.isReplaced(pack)) live.add(path.join(fixture.store, packPath(epoch, pack)));
  }
  return live;
}
