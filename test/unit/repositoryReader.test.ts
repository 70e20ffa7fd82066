/**
 * The repository reader (format 4, src/repository/reader.ts): a role whose chunks come from the
 * packs of two backups, interleaved, reads each pack once and reads back whole; a blob that does not
 * open is named, with its pack.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { epochKeys, newEpochId } from '../../src/crypto/epochKeys.js';
import { isAzsError } from '../../src/protocol/errors.js';
import { type PackRecord, readIndex, writeIndexFile } from '../../src/repository/chunkIndex.js';
import type { RepositoryFiles } from '../../src/repository/files.js';
import { packPath, packsFolder } from '../../src/repository/layout.js';
import { RepositoryReader } from '../../src/repository/reader.js';
import { RepositoryWriter, type StoredRole } from '../../src/repository/writer.js';
import { walkTree } from '../../src/roles/treeWalker.js';
import { LocalFolderStore } from '../../src/storage/localStore.js';
import { removeDir, tempDir } from '../helpers/daemon.js';
import { roleFiles } from '../helpers/repositoryStore.js';

const root = tempDir('repository-reader');
after(() => removeDir(root));
const keys = epochKeys(newEpochId(), randomBytes(32), 'BLAKE3');
const MiB = 1024 * 1024;

function newStore(name: string): LocalFolderStore {
  mkdirSync(path.join(root, name));
  return new LocalFolderStore(path.join(root, name));
}

async function backup(
  store: LocalFolderStore,
  folder: string,
): Promise<{ stored: StoredRole; packs: string[] }> {
  const writer = await RepositoryWriter.open(store, keys);
  const stored = await writer.storeRole(walkTree(folder));
  await writer.finish();
  return { stored, packs: writer.packsOf(stored) };
}

/** The role's files by path, read through `files`. */
async function readBack(
  files: RepositoryFiles,
  role: { stored: StoredRole; packs: string[] },
): Promise<Map<string, Buffer>> {
  return roleFiles(await RepositoryReader.open(files, keys, new Set(role.packs)), role.stored.list);
}

/** `store`'s files, counting the reads of each path. */
function counted(store: LocalFolderStore, reads: Map<string, number>): RepositoryFiles {
  return {
    readFile: (file) => {
      reads.set(file, (reads.get(file) ?? 0) + 1);
      return store.readFile(file);
    },
    list: (folder) => store.list(folder),
  };
}

test("a role whose chunks interleave two backups' packs reads each pack once, and reads back whole", async () => {
  const store = newStore('interleaved');
  const folder = path.join(root, 'data-interleaved');
  mkdirSync(folder);
  const disk = randomBytes(40 * MiB);
  writeFileSync(path.join(folder, 'disk.vhd'), disk);
  const first = await backup(store, folder);
  // Changes every 5 MiB: the second backup's new chunks (one new pack) alternate with the first's packs.
  for (let offset = MiB; offset < disk.length; offset += 5 * MiB) randomBytes(4096).copy(disk, offset);
  writeFileSync(path.join(folder, 'disk.vhd'), disk);
  const second = await backup(store, folder);
  assert.ok(second.packs.length > first.packs.length, 'the second backup uses packs of both backups');

  const reads = new Map<string, number>();
  assert.deepEqual(await readBack(counted(store, reads), second), new Map([['disk.vhd', disk]]));
  const packReads = [...reads].filter(([file]) => file.endsWith('.pack'));
  assert.deepEqual(
    packReads.map(([, count]) => count),
    second.packs.map(() => 1),
    `pack reads: ${JSON.stringify(packReads)}`,
  );
});

test('a blob that does not open is refused, naming it and its pack', async () => {
  const store = newStore('honest');
  const folder = path.join(root, 'data-small');
  mkdirSync(folder);
  writeFileSync(path.join(folder, 'config.bin'), randomBytes(2 * MiB));
  const role = await backup(store, folder);
  // An index that swaps where two of the role's chunks are (each keeping its own length), in a copy
  // of the repository: the pack is intact, but the first chunk is not the blob found where it says.
  const index = await readIndex(store, keys);
  const chunks = [...role.stored.blobs].filter((id) => id !== role.stored.list);
  const [first, second] = chunks.map((id) => index.get(id)!);
  const pack: PackRecord = {
    Name: first!.pack,
    Blobs: [...role.stored.blobs].map((id) => {
      const blob = index.get(id)!;
      const where = id === chunks[0] ? second! : id === chunks[1] ? first! : blob;
      return [id, blob.type, where.offset, where.length, blob.plainLength];
    }),
  };
  const lying = newStore('lying');
  cpSync(
    path.join(root, 'honest', packsFolder(keys.epoch)),
    path.join(root, 'lying', packsFolder(keys.epoch)),
    {
      recursive: true,
    },
  );
  await writeIndexFile(lying, keys, [pack]);

  await assert.rejects(readBack(lying, role), (error) => {
    assert.ok(isAzsError(error, 'BackupCorrupt'), String(error));
    assert.equal(error.target, packPath(keys.epoch, first!.pack));
    assert.match(error.message, new RegExp(`blob (${chunks[0]}|${chunks[1]}): it fails authentication`));
    return true;
  });
});
