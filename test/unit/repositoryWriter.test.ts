/**
 * The repository writer (format 4): its file cache (src/repository/fileCache.ts) lists an unchanged
 * large file, or group of small files, again without reading it, reads a changed one, and either way
 * the role reads back byte for byte; and a backup never ends referring to a pack that left the store
 * while it ran.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, test } from 'node:test';
import type { ArchiveEntry } from '../../src/archive/entry.js';
import { epochKeys, newEpochId } from '../../src/crypto/epochKeys.js';
import { packPath } from '../../src/repository/layout.js';
import { RepositoryReader } from '../../src/repository/reader.js';
import { isAzsError } from '../../src/protocol/errors.js';
import { CACHED_FILE_BYTES, RepositoryWriter, type StoredRole } from '../../src/repository/writer.js';
import { LocalFolderStore } from '../../src/storage/localStore.js';
import { removeDir, tempDir } from '../helpers/daemon.js';
import { roleFiles } from '../helpers/repositoryStore.js';

const root = tempDir('file-cache');
after(() => removeDir(root));
const store = new LocalFolderStore(root);
const keys = epochKeys(newEpochId(), randomBytes(32), 'BLAKE3');

interface SourceFile {
  path: string;
  data: Buffer;
  identity?: string;
  mtimeMs: number;
}

/** The files as entries; `reads` counts each file's readInto calls by path. */
async function* entriesOf(files: SourceFile[], reads: Map<string, number>): AsyncGenerator<ArchiveEntry> {
  for (const file of files) {
    const entry = fileEntry(file);
    const readInto = entry.readInto!;
    yield {
      ...entry,
      readInto: (target) => {
        reads.set(file.path, (reads.get(file.path) ?? 0) + 1);
        return readInto(target);
      },
    };
  }
}

async function backup(files: SourceFile[], cache?: StoredRole['fileCache']) {
  const writer = await RepositoryWriter.open(store, keys);
  const reads = new Map<string, number>();
  const stored = await writer.storeRole(entriesOf(files, reads), undefined, cache);
  await writer.finish();
  return { stored, reads, packs: writer.packsOf(stored) };
}

async function readBack(stored: StoredRole, packs: string[]): Promise<Map<string, Buffer>> {
  return roleFiles(await RepositoryReader.open(store, keys, new Set(packs)), stored.list);
}

test('an unchanged large file is not read again; a changed one is; both read back whole', async () => {
  const files: SourceFile[] = [
    { path: 'small.json', data: Buffer.from('{"a":1}\n'), identity: '1:1:1', mtimeMs: 1000 },
    { path: 'disk.vhd', data: randomBytes(3 * 1024 * 1024 + 5), identity: '1:2:1', mtimeMs: 1000 },
    { path: 'db.mdf', data: randomBytes(2 * 1024 * 1024), identity: '1:3:1', mtimeMs: 1000 },
    { path: 'tail.log', data: randomBytes(CACHED_FILE_BYTES / 2), identity: '1:4:1', mtimeMs: 1000 },
  ];
  const first = await backup(files);
  assert.deepEqual([...first.stored.fileCache.keys()].sort(), ['db.mdf', 'disk.vhd']);

  // db.mdf changes (new content, change time and mtime); disk.vhd does not.
  const changed = files.map((file) =>
    file.path === 'db.mdf'
      ? { ...file, data: randomBytes(file.data.length), identity: '1:3:2', mtimeMs: 2000 }
      : file,
  );
  const second = await backup(changed, first.stored.fileCache);
  assert.equal(second.reads.get('disk.vhd'), undefined, 'disk.vhd was read although it did not change');
  assert.ok(second.reads.get('db.mdf')! > 0, 'db.mdf changed and must be read');
  assert.ok(second.reads.get('small.json')! > 0, 'small files are always read');
  assert.ok(second.stored.addedBytes < 2.3 * 1024 * 1024, `added ${second.stored.addedBytes}`);
  assert.deepEqual(second.stored.counts, first.stored.counts);

  const expected = new Map(changed.map((file) => [file.path, file.data]));
  assert.deepEqual(await readBack(second.stored, second.packs), expected);
  assert.deepEqual(
    await readBack(first.stored, first.packs),
    new Map(files.map((file) => [file.path, file.data])),
  );
});

/**
 * The files as a walker lists small ones: in folders, each file opened only when its content is
 * wanted (ArchiveEntry.open), as it is then (`now`); `opened` counts the opens by path.
 */
async function* listedEntries(
  listed: SourceFile[],
  now: Map<string, SourceFile>,
  opened: Map<string, number>,
): AsyncGenerator<ArchiveEntry> {
  let folder = '';
  for (const file of listed) {
    const parent = file.path.slice(0, file.path.lastIndexOf('/'));
    if (parent !== folder) yield { path: parent, type: 'directory', mode: 0o755, mtimeMs: 1, size: 0 };
    folder = parent;
    const open = (): ArchiveEntry | null => {
      opened.set(file.path, (opened.get(file.path) ?? 0) + 1);
      const current = now.get(file.path);
      return current ? fileEntry(current) : null;
    };
    yield { ...fileEntry(file), readInto: undefined, open };
  }
}

function fileEntry(file: SourceFile): ArchiveEntry {
  let position = 0;
  return {
    path: file.path,
    type: 'file',
    mode: 0o644,
    mtimeMs: file.mtimeMs,
    size: file.data.length,
    identity: file.identity,
    readInto: (target) => {
      const count = file.data.copy(target, 0, position);
      position += count;
      return count;
    },
  };
}

/** A backup of small files `listed` as they were, opened as they are `now`; which files were opened. */
async function backupListed(listed: SourceFile[], now: SourceFile[], cache?: StoredRole['fileCache']) {
  const writer = await RepositoryWriter.open(store, keys);
  const opened = new Map<string, number>();
  const current = new Map(now.map((file) => [file.path, file]));
  const stored = await writer.storeRole(listedEntries(listed, current, opened), undefined, cache);
  await writer.finish();
  return { stored, opened, packs: writer.packsOf(stored) };
}

test('small files are cached in groups: an unchanged group is not opened, a changed one is read again', async () => {
  const files: SourceFile[] = Array.from({ length: 400 }, (_, index) => ({
    path: `folder${Math.floor(index / 100)}/config${index}.json`,
    data: randomBytes(100 + ((index * 977) % 3000)),
    identity: `2:${index}:1`,
    mtimeMs: 1000,
  }));
  const first = await backupListed(files, files);
  assert.equal(first.opened.size, files.length);
  // 404 entries (400 files, 4 folders) in groups of 8 to 64 entries, but the role's last one.
  const sizes = [...first.stored.fileCache.values()].map((group) => group.identity.split('\n').length);
  assert.equal(
    sizes.reduce((sum, size) => sum + size, 0),
    404,
  );
  assert.ok(
    sizes.every((size) => size <= 64) && sizes.filter((size) => size < 8).length <= 1,
    `groups of ${sizes.join(', ')} entries`,
  );

  const unchanged = await backupListed(files, files, first.stored.fileCache);
  assert.equal(unchanged.opened.size, 0, 'nothing changed: nothing opened');
  assert.equal(unchanged.stored.list, first.stored.list, 'the same role lists the same chunks');
  assert.equal(unchanged.stored.addedBytes, 0);

  // One file rewritten; one changed when listed and gone when opened.
  const changed = files.map((file, index) =>
    index === 150
      ? { ...file, data: randomBytes(500), identity: '2:150:2', mtimeMs: 2000 }
      : index === 333
        ? { ...file, identity: '2:333:2' }
        : file,
  );
  const after = changed.filter((_, index) => index !== 333);
  const second = await backupListed(changed, after, unchanged.stored.fileCache);
  assert.ok(second.opened.get(changed[150]!.path)! > 0, 'the changed file is read');
  assert.ok(second.opened.get(files[333]!.path)! > 0, 'the group of the file gone is opened');
  assert.ok(second.opened.size <= 2 * 128, `${second.opened.size} files opened for two changes`);
  assert.equal(second.stored.counts.files, files.length - 1);
  assert.deepEqual(
    await readBack(second.stored, second.packs),
    new Map(after.map((file) => [file.path, file.data])),
  );
  // The file gone may have ended its group, which then ends further on, and the groups after it
  // may move until their bounds meet the old ones again: those are read.
  const third = await backupListed(after, after, second.stored.fileCache);
  assert.equal(third.opened.get(changed[150]!.path), undefined, 'what the last backup stored is cached');
  assert.ok(third.opened.size <= 2 * 128, `${third.opened.size} files opened`);
});

test('a small file rewritten between its listing and its opening is cached as it was stored', async () => {
  const files: SourceFile[] = Array.from({ length: 50 }, (_, index) => ({
    path: `folder/config${index}.json`,
    data: randomBytes(200),
    identity: `3:${index}:1`,
    mtimeMs: 1000,
  }));
  const rewritten = files.map((file, index) =>
    index === 7 ? { ...file, data: randomBytes(300), identity: '3:7:2', mtimeMs: 2000 } : file,
  );
  const first = await backupListed(files, rewritten);
  const second = await backupListed(rewritten, rewritten, first.stored.fileCache);
  assert.equal(second.opened.size, 0, 'nothing changed since the backup read it');
  assert.equal(second.stored.list, first.stored.list);
});

test('a cached file is read again when its identity changed, or when a chunk it lists is no longer stored', async () => {
  const file: SourceFile = {
    path: 'image.bin',
    data: randomBytes(1024 * 1024),
    identity: '9:1:1',
    mtimeMs: 5,
  };
  const first = await backup([file]);
  const moved = await backup([{ ...file, identity: '9:7:1' }], first.stored.fileCache);
  assert.ok(moved.reads.get('image.bin')! > 0, 'a new inode is another file');

  const forged = new Map(first.stored.fileCache);
  const entry = forged.get('image.bin')!;
  forged.set('image.bin', { ...entry, chunks: [['00'.repeat(32), file.data.length]] });
  const unknown = await backup([file], forged);
  assert.ok(unknown.reads.get('image.bin')! > 0, 'a chunk the index lacks is never listed');
  assert.deepEqual(await readBack(unknown.stored, unknown.packs), new Map([[file.path, file.data]]));
});

test('a pack removed while a backup ran (a prune beside it) fails that backup, which refers to it', async () => {
  const file: SourceFile = { path: 'shared.bin', data: randomBytes(512 * 1024), mtimeMs: 7 };
  const first = await backup([file]);
  const writer = await RepositoryWriter.open(store, keys);
  const again = await writer.storeRole(entriesOf([file], new Map()));
  await writer.finish();
  await writer.checkStored([again]);
  const [pack] = writer.packsOf(again);
  assert.ok(first.packs.includes(pack!), 'the second backup deduplicated against the first');
  await store.remove(packPath(keys.epoch, pack!));
  await assert.rejects(writer.checkStored([again]), (error: unknown) => {
    assert.ok(isAzsError(error, 'BackupFailed'), String(error));
    assert.match(
      error.message,
      new RegExp(`left the store while it ran \\(.*${pack}.*start the backup again`),
    );
    return true;
  });
});
