/**
 * Repacking (format 4, docs/format.md "Repacking"), on a real local folder store with real keys: a
 * pack that retention left mostly dead has its used blobs moved into a new pack and goes; the store
 * shrinks and every retained backup reads back byte for byte; a stop after any step leaves every
 * backup readable and the next repack finishes; a repack record planted by a share writer without
 * the key makes no pack go and no reader take wrong data.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, describe, test } from 'node:test';
import type { ArchiveEntry } from '../../src/archive/entry.js';
import { type EpochKeys, epochKeys, newEpochId } from '../../src/crypto/epochKeys.js';
import { isAzsError } from '../../src/protocol/errors.js';
import {
  INDEX_SUFFIX,
  PACK_SUFFIX,
  epochFolder,
  packPath,
  repacksFolder,
} from '../../src/repository/layout.js';
import { RepositoryReader } from '../../src/repository/reader.js';
import { type RepositoryBackup, planRepack, repack } from '../../src/repository/repack.js';
import { Successions, readRepackRecords, writeRepackRecord } from '../../src/repository/repacks.js';
import { RepositoryWriter } from '../../src/repository/writer.js';
import { LocalFolderStore } from '../../src/storage/localStore.js';
import type { BackupStore } from '../../src/storage/store.js';
import { removeDir, tempDir } from '../helpers/daemon.js';
import { bytesUnder, roleFiles, treeOf } from '../helpers/repositoryStore.js';

const roots: string[] = [];
after(() => roots.forEach(removeDir));

type Files = Map<string, Buffer>;

interface Backup extends RepositoryBackup {
  files: Files;
}

/** A role's files as entries; each has an identity, so a large one is kept in chunks of its own. */
async function* entriesOf(files: Files): AsyncGenerator<ArchiveEntry> {
  for (const [entryPath, data] of files) {
    yield {
      path: entryPath,
      type: 'file',
      mode: 0o644,
      mtimeMs: 1000,
      size: data.length,
      identity: `1:${entryPath}`,
      content: () => Readable.from([data]),
    };
  }
}

/** A repository of three backups; retention has kept the newest two (newest first). */
class Repository {
  readonly root = tempDir('repack');
  readonly store = new LocalFolderStore(this.root);
  readonly keys: EpochKeys = epochKeys(newEpochId(), randomBytes(32), 'BLAKE3');
  retained: Backup[] = [];
  /** The backup retention deleted. */
  deleted!: Backup;

  constructor() {
    roots.push(this.root);
  }

  static async withDeletedBackup(): Promise<Repository> {
    const repository = new Repository();
    const settings = randomBytes(256 * 1024);
    const second = randomBytes(4 * 1024 * 1024);
    // The first backup's pack: its image, which only it uses, and the settings every backup uses.
    repository.deleted = await repository.backUp(
      new Map([
        ['settings.json', settings],
        ['first.img', randomBytes(4 * 1024 * 1024)],
      ]),
    );
    const middle = await repository.backUp(
      new Map([
        ['settings.json', settings],
        ['second.img', second],
      ]),
    );
    const newest = await repository.backUp(
      new Map([
        ['settings.json', settings],
        ['second.img', second],
        ['notes.txt', randomBytes(1000)],
      ]),
    );
    repository.retained = [newest, middle];
    return repository;
  }

  async backUp(files: Files): Promise<Backup> {
    const writer = await RepositoryWriter.open(this.store, this.keys);
    const stored = await writer.storeRole(entriesOf(files));
    await writer.finish();
    await writer.checkStored([stored]);
    return { files, lists: [stored.list], packs: writer.packsOf(stored) };
  }

  /** Plans and carries out a repack through `store` (the real one unless given). */
  async repack(store: BackupStore = this.store): Promise<string[]> {
    const plan = await planRepack(this.store, this.keys, this.retained);
    return repack(store, this.keys, plan, () => true);
  }

  packFile(pack: string): string {
    return path.join(this.root, packPath(this.keys.epoch, pack));
  }

  storedPacks(): string[] {
    return readdirSync(path.join(this.root, epochFolder(this.keys.epoch), 'packs')).sort();
  }

  repositoryBytes(): number {
    return bytesUnder(path.join(this.root, 'MASBackup', 'Repository'));
  }

  /** The deleted backup's pack (its image, and the settings every retained backup lists it for). */
  sharedPack(): string {
    assert.equal(this.deleted.packs.length, 1, 'the deleted backup wrote one pack');
    const [shared] = this.deleted.packs;
    for (const backup of this.retained)
      assert.ok(backup.packs.includes(shared!), 'a retained backup lists it');
    return shared!;
  }

  /** Reads every retained backup back, as a reader that has only its manifest's packs does. */
  async assertReadsBack(): Promise<void> {
    for (const backup of this.retained) assert.deepEqual(await this.read(backup), backup.files);
  }

  async read(backup: RepositoryBackup): Promise<Files> {
    return roleFiles(
      await RepositoryReader.open(this.store, this.keys, new Set(backup.packs)),
      backup.lists[0]!,
    );
  }
}

/** The store, but a share writer's forgery: a record in our format under a key guessed for our epoch. */
function plantRecord(repository: Repository, old: string[], next: string[]): Promise<string> {
  const guessed = epochKeys(repository.keys.epoch, randomBytes(32), 'BLAKE3');
  return writeRepackRecord(repository.store, guessed, { Old: old, New: next, Index: null });
}

describe('repacking a mostly dead pack', () => {
  test('moves its used blobs into a new pack, which readers reach through the record; the store shrinks', async () => {
    const repository = await Repository.withDeletedBackup();
    const shared = repository.sharedPack();
    const before = repository.repositoryBytes();

    const tree = treeOf(repository.root);
    const plan = await planRepack(repository.store, repository.keys, repository.retained);
    assert.deepEqual(
      plan.packs.map((pack) => pack.name),
      [shared],
      'only the pack that is mostly the first image is worth repacking',
    );
    assert.deepEqual(treeOf(repository.root), tree, 'planning (a dry run) changes nothing');

    assert.deepEqual(await repository.repack(), [packPath(repository.keys.epoch, shared)]);
    assert.equal(existsSync(repository.packFile(shared)), false, 'the old pack is gone');
    const freed = before - repository.repositoryBytes();
    assert.ok(freed > 3.9 * 1024 * 1024, `the first image's bytes are freed (${freed} bytes)`);
    await repository.assertReadsBack();

    // Keyless: the record leads from the old pack to the new one, which holds the settings.
    const { records } = await readRepackRecords(repository.store, repository.keys.epoch);
    const reached = new Successions(records).reach([shared]);
    assert.equal(reached.size, 2);
    for (const pack of reached) if (pack !== shared) assert.ok(existsSync(repository.packFile(pack)));

    // Every pack is now mostly used: nothing more to repack.
    const again = await planRepack(repository.store, repository.keys, repository.retained);
    assert.deepEqual(again.packs, []);
  });

  test('leaves a pack more than half used, and the packs only the newest backup refers to', async () => {
    const repository = await Repository.withDeletedBackup();
    const [newest] = repository.retained;
    const plan = await planRepack(repository.store, repository.keys, [newest!]);
    assert.deepEqual(plan.packs, [], 'with one backup, every pack it refers to is its own to judge later');
    // Both retained backups use all of the second image: its pack stays.
    const kept = repository.retained[1]!.packs.filter((pack) => pack !== repository.sharedPack());
    await repository.repack();
    for (const pack of kept) assert.ok(existsSync(repository.packFile(pack)), `${pack} stays`);
  });
  test('leaves a pack whose blobs a backup uses again, although the backup that wrote it is gone', async () => {
    const repository = await Repository.withDeletedBackup();
    const again = await repository.backUp(repository.deleted.files);
    assert.deepEqual(again.packs, [repository.sharedPack()], 'the first image is deduplicated');
    repository.retained.unshift(again);
    assert.deepEqual((await planRepack(repository.store, repository.keys, repository.retained)).packs, []);
  });
});

describe('a stop between the steps of a repack', () => {
  /** The real store, but the first operation `stops` names fails as a crash there would. */
  function stoppingAt(
    store: BackupStore,
    stops: (operation: string, target: string) => boolean,
  ): BackupStore {
    const stop = (operation: string, target: string) => {
      if (stops(operation, target)) throw new Error(`stopped before ${operation} ${target}`);
    };
    return new Proxy(store, {
      get(target, property) {
        if (property === 'writeFile')
          return (file: string, source: Readable) => (
            stop('writeFile', file),
            target.writeFile(file, source)
          );
        if (property === 'remove') return (file: string) => (stop('remove', file), target.remove(file));
        const value = Reflect.get(target, property) as unknown;
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
  }

  const steps: [string, (operation: string, target: string) => boolean][] = [
    [
      'before the new pack is stored',
      (operation, target) => operation === 'writeFile' && target.includes('/packs/'),
    ],
    [
      'after the new pack, before its index file',
      (operation, target) => operation === 'writeFile' && target.includes('/index/'),
    ],
    [
      'after the index file, before the record',
      (operation, target) => operation === 'writeFile' && target.includes('/repacks/'),
    ],
    [
      'after the record, before the old pack goes',
      (operation, target) => operation === 'remove' && target.includes('/packs/'),
    ],
  ];

  for (const [when, stops] of steps) {
    test(`${when}: every backup reads back, and the next repack finishes the work`, async () => {
      const repository = await Repository.withDeletedBackup();
      const shared = repository.sharedPack();
      await assert.rejects(repository.repack(stoppingAt(repository.store, stops)), /stopped before/);
      assert.ok(existsSync(repository.packFile(shared)), 'the old pack is still stored');
      await repository.assertReadsBack();

      const removed = await repository.repack();
      assert.deepEqual(
        removed.filter((file) => file.endsWith(PACK_SUFFIX)),
        [packPath(repository.keys.epoch, shared)],
      );
      // The stopped repack's index file, stored without its record, names only a pack no backup
      // leads to: the next repack removes it too.
      assert.equal(
        removed.filter((file) => file.endsWith(INDEX_SUFFIX)).length,
        when === 'after the index file, before the record' ? 1 : 0,
      );
      assert.equal(existsSync(repository.packFile(shared)), false);
      await repository.assertReadsBack();
      const { records } = await readRepackRecords(repository.store, repository.keys.epoch, repository.keys);
      assert.ok(records.length >= 1, 'a record says where the blobs went');
    });
  }

  test('after the record: a pack left stored is not deduplicated against, its successor gone too', async () => {
    const repository = await Repository.withDeletedBackup();
    const shared = repository.sharedPack();
    const stored = new Set(repository.storedPacks());
    const [, afterRecord] = steps.find(([when]) => when.startsWith('after the record'))!;
    await assert.rejects(repository.repack(stoppingAt(repository.store, afterRecord)), /stopped before/);
    const [successor] = repository.storedPacks().filter((name) => !stored.has(name));
    // Once no backup lists either pack, a prune stopped between the two removals leaves the old
    // one: its successor (with the settings' blobs) is gone, its index file and the record stay.
    rmSync(path.join(repository.root, epochFolder(repository.keys.epoch), 'packs', successor!));
    const again = await repository.backUp(repository.deleted.files);
    assert.ok(!again.packs.includes(shared), 'the replaced pack is not taken from');
    assert.deepEqual(await repository.read(again), repository.deleted.files);
  });
});

describe('a repack record planted by a share writer (no key)', () => {
  test('makes no live pack go and no reader leave the packs its manifest lists', async () => {
    const repository = await Repository.withDeletedBackup();
    const [newest] = repository.retained;
    const honest = await planRepack(repository.store, repository.keys, repository.retained);
    // "The newest backup's packs were repacked into nothing": if believed, they would be unused.
    await plantRecord(repository, newest!.packs, []);
    const planted = await readRepackRecords(repository.store, repository.keys.epoch, repository.keys);
    assert.equal(planted.records.length, 0);
    assert.match(planted.refused[0]!.message, /does not authenticate with the epoch's key/);

    const plan = await planRepack(repository.store, repository.keys, repository.retained);
    assert.deepEqual(
      plan.packs.map((pack) => pack.name),
      honest.packs.map((pack) => pack.name),
      'the planted record changes nothing the repack does',
    );
    await repository.repack();
    for (const pack of newest!.packs.filter((pack) => pack !== repository.sharedPack()))
      assert.ok(existsSync(repository.packFile(pack)), `${pack} of the newest backup stays`);
    await repository.assertReadsBack();
  });

  test('naming a pack the share writer deleted as moved: the reader fails clearly, never reads elsewhere', async () => {
    const repository = await Repository.withDeletedBackup();
    const [newest, middle] = repository.retained;
    const own = newest!.packs.find((pack) => !middle!.packs.includes(pack))!;
    await plantRecord(repository, [own], [repository.sharedPack()]);
    rmSync(repository.packFile(own));
    await assert.rejects(repository.read(newest!), (error) => {
      assert.ok(isAzsError(error, 'BackupCorrupt'), String(error));
      assert.match(error.message, new RegExp(`${own}\\.pack: it is missing`));
      return true;
    });
  });

  test('a record of ours changed, or from another epoch, is refused by its key', async () => {
    const repository = await Repository.withDeletedBackup();
    await repository.repack();
    const ours = path.join(repository.root, repacksFolder(repository.keys.epoch));
    const [name] = readdirSync(ours);
    // Ours with its list of new packs emptied, the MAC kept (stored under its new SHA-256).
    const changed = Buffer.from(
      readFileSync(path.join(ours, name!))
        .toString('latin1')
        .replace(/"New":\[[^\]]*\]/, '"New":[]'),
      'latin1',
    );
    writeFileSync(path.join(ours, `${sha256(changed)}.repack`), changed);
    // A record another epoch's key holder wrote, copied in.
    const other = epochKeys(newEpochId(), repository.keys.data, 'BLAKE3');
    const replayed = await writeRepackRecord(repository.store, other, {
      Old: repository.retained[0]!.packs,
      New: [],
      Index: null,
    });
    renameSync(
      path.join(repository.root, repacksFolder(other.epoch), `${replayed}.repack`),
      path.join(ours, `${replayed}.repack`),
    );

    const read = await readRepackRecords(repository.store, repository.keys.epoch, repository.keys);
    assert.deepEqual(
      read.records.map((record) => record.name),
      [name!.replace('.repack', '')],
      'only our own record counts',
    );
    assert.equal(read.refused.length, 2);
    await repository.assertReadsBack();
  });
});

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
