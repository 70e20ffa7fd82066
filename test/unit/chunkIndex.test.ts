/**
 * Index files (src/repository/chunkIndex.ts): written a pack at a time, they hold the same JSON as
 * one JSON.stringify of the whole index, and read back into every blob they list.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, test } from 'node:test';
import { epochKeys, newEpochId } from '../../src/crypto/epochKeys.js';
import { DATA_BLOB, LIST_BLOB } from '../../src/repository/blobCodec.js';
import {
  ChunkIndex,
  type PackRecord,
  indexJson,
  readIndex,
  writeIndexFile,
} from '../../src/repository/chunkIndex.js';
import { REPOSITORY_ROOT, epochFolder } from '../../src/repository/layout.js';
import { LocalFolderStore } from '../../src/storage/localStore.js';
import { removeDir, tempDir } from '../helpers/daemon.js';

const root = tempDir('chunk-index');
after(() => removeDir(root));

function packs(count: number): PackRecord[] {
  return Array.from({ length: count }, (_, pack) => ({
    Name: randomBytes(32).toString('hex'),
    Blobs: Array.from({ length: pack + 1 }, (_, blob): PackRecord['Blobs'][number] => [
      randomBytes(32).toString('hex'),
      blob ? DATA_BLOB : LIST_BLOB,
      blob * 100,
      100,
      150 + blob,
    ]),
  }));
}

test('an index written a pack at a time is the JSON of the whole index', () => {
  for (const count of [0, 1, 3]) {
    const listed = packs(count);
    const epoch = newEpochId();
    assert.equal(
      Buffer.concat([...indexJson(epoch, listed)]).toString('utf8'),
      JSON.stringify({ Epoch: epoch, Packs: listed }),
    );
  }
});

/** The index holds every blob of `listed`, where its pack says, and nothing else. */
function assertHolds(index: ChunkIndex, listed: ReturnType<typeof packs>): void {
  assert.equal(
    index.size,
    listed.reduce((blobs, pack) => blobs + pack.Blobs.length, 0),
  );
  for (const pack of listed) {
    for (const [id, type, offset, length, plainLength] of pack.Blobs)
      assert.deepEqual(index.get(id), { pack: pack.Name, type, offset, length, plainLength });
  }
}

test('an index file reads back into every blob it lists, where it is', async () => {
  const store = new LocalFolderStore(root);
  const keys = epochKeys(newEpochId(), randomBytes(32), 'BLAKE3');
  for (const folder of ['MASBackup', REPOSITORY_ROOT, epochFolder(keys.epoch)]) await store.mkdir(folder);
  const listed = packs(40);
  await writeIndexFile(store, keys, listed);

  const index = await readIndex(store, keys);
  assertHolds(index, listed);
  assert.deepEqual(index.refused, []);
});

test('the index grows past its first room, the first pack naming a blob wins, and what is not an id is not found', () => {
  const index = new ChunkIndex();
  const listed = packs(60); // 1,830 blobs: the index grows once
  for (const pack of listed) index.addPack(pack);
  const first = listed[0]!;
  index.addPack({
    Name: randomBytes(32).toString('hex'),
    Blobs: first.Blobs.map(([id]) => [id, DATA_BLOB, 7, 7, 7]),
  });
  assertHolds(index, listed);
  const [id] = first.Blobs[0]!;
  for (const other of [
    id.toUpperCase(),
    id.slice(2),
    `${id}00`,
    'zz'.repeat(32),
    randomBytes(32).toString('hex'),
  ]) {
    assert.equal(index.has(other), false);
    assert.equal(index.get(other), undefined);
  }
});
