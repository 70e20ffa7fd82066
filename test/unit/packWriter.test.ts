/**
 * Packs (src/repository/packWriter.ts): no pack outgrows MAX_PACK_BYTES, which a reader with no key
 * holds a pack to (readPack): a blob that would take a pack beyond it starts the next pack, as a
 * large role's list of chunks does; a blob larger than a pack can hold fails the backup clearly; a
 * blob sealed in parts is stored whole.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, test } from 'node:test';
import { newEpochId } from '../../src/crypto/epochKeys.js';
import { isAzsError } from '../../src/protocol/errors.js';
import { DATA_BLOB, LIST_BLOB } from '../../src/repository/blobCodec.js';
import { REPOSITORY_ROOT, epochFolder } from '../../src/repository/layout.js';
import { MAX_PACK_BYTES, PackWriter } from '../../src/repository/packWriter.js';
import { readPack } from '../../src/repository/reader.js';
import { LocalFolderStore } from '../../src/storage/localStore.js';
import { removeDir, tempDir } from '../helpers/daemon.js';

const root = tempDir('pack-writer');
after(() => removeDir(root));
const store = new LocalFolderStore(root);

async function packWriter(): Promise<{ packs: PackWriter; epoch: string }> {
  const epoch = newEpochId();
  for (const folder of ['MASBackup', REPOSITORY_ROOT, epochFolder(epoch)]) {
    await store.mkdir(folder).catch(() => undefined);
  }
  return { packs: new PackWriter(store, epoch), epoch };
}

test('a blob that would take a pack beyond its bound starts the next pack; every pack reads back, blobs given in parts whole', async () => {
  const { packs, epoch } = await packWriter();
  const chunkBlobs = Array.from({ length: 31 }, () => randomBytes(256 * 1024));
  // Every other blob in parts, as a chunk thread seals it (BlobCodec.seal).
  for (const [index, blob] of chunkBlobs.entries()) {
    const stored = index % 2 ? [blob.subarray(0, 13), blob.subarray(13, -16), blob.subarray(-16)] : blob;
    await packs.add(`chunk${index}`, DATA_BLOB, stored, blob.length);
  }
  // A list of about 87,000 chunks: alone it fits a pack, after the chunks it would not.
  const list = randomBytes(3 * 1024 * 1024);
  await packs.add('list', LIST_BLOB, list, list.length);
  await packs.finish();

  assert.equal(packs.written.length, 2);
  for (const pack of packs.written) {
    const content = await readPack(store, epoch, pack.Name);
    assert.ok(content.length <= MAX_PACK_BYTES, `${content.length} bytes`);
    for (const [id, , offset, length] of pack.Blobs) {
      const expected = id === 'list' ? list : chunkBlobs[Number(id.slice('chunk'.length))]!;
      assert.ok(content.subarray(offset, offset + length).equals(expected), `blob ${id}`);
    }
  }
  assert.deepEqual(packs.written.find((pack) => pack.Blobs.some(([id]) => id === 'list'))!.Blobs.length, 1);
});

test('a blob larger than a pack holds fails the backup with what to do', async () => {
  const { packs } = await packWriter();
  const list = Buffer.alloc(MAX_PACK_BYTES + 1);
  await assert.rejects(
    packs.add('list', LIST_BLOB, list, list.length),
    (error: unknown) =>
      isAzsError(error, 'BackupFailed') && /too large for format 4.*format 3/.test(error.message),
  );
});
