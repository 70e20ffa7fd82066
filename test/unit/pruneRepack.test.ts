/**
 * Repacking through the engine (format 4, docs/format.md "Repacking"), on a real local folder store
 * with a real certificate: after retention deletes a backup whose pack the retained ones use a
 * little of, the daemon repacks that pack (with the epoch key it keeps, no .pfx); the store shrinks
 * and every retained backup tests and restores byte for byte, and rolling verification finds nothing missing. A stop between the steps leaves every
 * backup restorable; Invoke-AzsPruneBackupLocationExternalStore's dry run then lists the pack and
 * changes nothing, and the prune finishes. A repack record planted by a share writer makes the prune
 * remove no live pack, and Test-AzsBackup (without the .pfx too) and a restore fail clearly rather
 * than read elsewhere. A backup that comes and goes while a prune runs keeps every pack it lists, and
 * the repository changes after its retention wait for the prune's.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { after, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { epochKeys } from '../../src/crypto/epochKeys.js';
import { ALERT_RULES } from '../../src/engine/alertRules.js';
import { isAzsError } from '../../src/protocol/errors.js';
import { PACK_SUFFIX, repackPath } from '../../src/repository/layout.js';
import { writeRepackRecord } from '../../src/repository/repacks.js';
import { LocalFolderStore } from '../../src/storage/localStore.js';
import type { BackupStore } from '../../src/storage/store.js';
import { createEngine, type EngineFixture } from '../helpers/engine.js';
import {
  IMAGE_BYTES,
  type TakenBackup,
  assertRestores,
  backUp,
  livePackFiles,
  packFiles,
  writeImage,
} from '../helpers/engineBackups.js';
import { bytesUnder, manifestOf, treeOf } from '../helpers/repositoryStore.js';

process.env.AZSBACKUP_FORMAT = '4';

const fixtures: EngineFixture[] = [];
after(() => Promise.all(fixtures.map((fixture) => fixture.close())));

/** A store operation a test picks out, and its path. */
type Stop = (operation: 'writeFile' | 'remove', target: string) => boolean;

/** An operation held back once done, until released: what a slow share does to the job making it. */
interface Hold {
  /** Settles once the operation is done, with its path. */
  reached: Promise<string>;
  release(): void;
}

/**
 * An engine whose store stops (fails, as a crash there would) before the first operation `stop`
 * names once a backup has written its manifest (the repack after retention stops there), and holds
 * the job that makes the next operation `holdAfter` names until released.
 */
async function engineStopping(): Promise<{
  fixture: EngineFixture;
  stopAt(stop: Stop | null): void;
  holdAfter(operation: Stop): Hold;
}> {
  let stop: Stop | null = null;
  let manifestWritten = false;
  let hold: { picks: Stop; reached(target: string): void; released: Promise<void> } | null = null;
  const around = async <T>(operation: 'writeFile' | 'remove', target: string, run: () => Promise<T>) => {
    if (stop && manifestWritten && stop(operation, target))
      throw new Error(`stopped before ${operation} ${target}`);
    const done = await run();
    const held = hold?.picks(operation, target) ? hold : null;
    if (held) {
      hold = null;
      held.reached(target);
      await held.released;
    }
    return done;
  };
  const stopping = (store: BackupStore): BackupStore =>
    new Proxy(store, {
      get(target, property) {
        if (property === 'writeFile')
          return async (file: string, source: Readable) => {
            const written = await around('writeFile', file, () => target.writeFile(file, source));
            if (file.endsWith('/BackupInfo.json')) manifestWritten = true;
            return written;
          };
        if (property === 'remove') return (file: string) => around('remove', file, () => target.remove(file));
        const value = Reflect.get(target, property) as unknown;
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
  const fixture = await createEngine({ wrapStore: stopping });
  fixtures.push(fixture);
  return {
    fixture,
    stopAt(next) {
      stop = next;
      manifestWritten = false;
    },
    holdAfter(picks) {
      let reached!: (target: string) => void;
      let release!: () => void;
      const reachedNow = new Promise<string>((resolve) => (reached = resolve));
      hold = { picks, reached, released: new Promise<void>((resolve) => (release = resolve)) };
      return { reached: reachedNow, release };
    },
  };
}

const packWrite: Stop = (operation, target) => operation === 'writeFile' && target.includes('/packs/');

interface Retained {
  /** Newest first. */
  backups: TakenBackup[];
  /** The pack the deleted backup wrote, which the retained ones use a little of. */
  mostlyDead: string;
  /** Repository bytes before the backup whose retention deleted the first. */
  bytesBefore: number;
  /** Bytes of the packs that backup stored itself (its changed chunks; their cut points vary by key). */
  packBytesOfThird: number;
}

const repositoryBytes = (fixture: EngineFixture) =>
  bytesUnder(path.join(fixture.store, 'MASBackup', 'Repository'));

/**
 * Three backups, two days of retention: the third's retention deletes the first, whose pack holds
 * its image (which nothing else uses) and the role's small files (which every backup uses).
 */
async function retainTwo(
  fixture: EngineFixture,
  beforeThird: () => void = () => undefined,
): Promise<Retained> {
  await fixture.engine.setConfiguration({ BackupRetentionPeriodInDays: 2 });
  writeImage(fixture);
  const first = await backUp(fixture);
  const [mostlyDead] = packFiles(fixture, first.id);
  fixture.clock.advanceHours(48);
  const secondImage = writeImage(fixture);
  const second = await backUp(fixture);
  assert.ok(packFiles(fixture, second.id).includes(mostlyDead!), "the second backup uses the first's pack");
  fixture.clock.advanceHours(47);
  randomBytes(4096).copy(secondImage, IMAGE_BYTES / 2);
  writeImage(fixture, secondImage);
  const bytesBefore = repositoryBytes(fixture);
  const packsBefore = new Set(storedPacks(fixture));
  beforeThird();
  const third = await backUp(fixture);
  const listed = (await fixture.engine.listBackups({})).map((backup) => backup.BackupId);
  assert.deepEqual(listed, [third.id, second.id], 'retention deleted the first backup');
  const packBytesOfThird = packFiles(fixture, third.id)
    .filter((pack) => !packsBefore.has(pack))
    .reduce((total, pack) => total + statSync(pack).size, 0);
  return { backups: [third, second], mostlyDead: mostlyDead!, bytesBefore, packBytesOfThird };
}

/** Every retained backup tests (with and without the .pfx) and restores byte for byte. */
async function assertAllRecoverable(fixture: EngineFixture, backups: TakenBackup[]): Promise<void> {
  for (const backup of backups) {
    for (const decryption of [null, fixture.decryption]) {
      const results = await fixture.engine.testBackup(backup.id, decryption);
      assert.deepEqual(
        results.map((result) => [result.Status, result.ErrorMessage]),
        [['Succeeded', null]],
        `backup ${backup.id} tests ${decryption ? 'with' : 'without'} the .pfx`,
      );
    }
    await assertRestores(fixture, backup);
  }
}

/** The repository's packs (or index files) on the store, every epoch's. */
function storedPacks(fixture: EngineFixture, folder: 'packs' | 'index' = 'packs'): string[] {
  const root = path.join(fixture.store, 'MASBackup', 'Repository');
  return readdirSync(root).flatMap((epoch) =>
    readdirSync(path.join(root, epoch, folder)).map((name) => path.join(root, epoch, folder, name)),
  );
}

describe('repacking after retention', () => {
  test('the pack retention left mostly dead is repacked: the store shrinks, every retained backup tests and restores', async () => {
    const { fixture } = await engineStopping();
    const { backups, mostlyDead, bytesBefore, packBytesOfThird } = await retainTwo(fixture);
    assert.equal(existsSync(mostlyDead), false, 'the mostly dead pack is gone');
    const freed = bytesBefore + packBytesOfThird - repositoryBytes(fixture);
    assert.ok(freed > 0.9 * IMAGE_BYTES, `the first image's bytes are freed (${freed} bytes)`);
    const live = await livePackFiles(
      fixture,
      backups.map((backup) => backup.id),
    );
    assert.deepEqual(storedPacks(fixture).sort(), [...live].sort(), 'what the backups reach, and no more');
    await assertAllRecoverable(fixture, backups);
    const { PathsToDelete } = await fixture.engine.prune(true).done;
    assert.deepEqual(PathsToDelete, [], 'nothing is left to prune or repack');

    // Rolling verification reads where the blobs are now: the repacked pack is not "missing".
    // Twelve-hour backups, two days of retention: four scheduled backups read every pack.
    await fixture.engine.setConfiguration({ BackupFrequencyInHours: 12 });
    for (let run = 0; run < 4; run++) {
      fixture.clock.advanceHours(1);
      await fixture.engine.backups.start({ isAutomatic: true }).done;
    }
    const alerts = await fixture.engine.alerts.list('Active');
    assert.deepEqual(
      alerts.filter((alert) => alert.Title === ALERT_RULES.PackDamaged.title),
      [],
      'no pack is found damaged or missing',
    );
  });

  const steps: [string, Stop][] = [
    ['before the new pack', packWrite],
    ['before the index file', (operation, target) => operation === 'writeFile' && target.includes('/index/')],
    ['before the record', (operation, target) => operation === 'writeFile' && target.includes('/repacks/')],
    ['before the old pack goes', (operation, target) => operation === 'remove' && target.includes('/packs/')],
  ];
  for (const [when, stop] of steps) {
    test(`a repack stopped ${when}: every backup recovers; the dry run lists the pack and changes nothing; the prune finishes`, async () => {
      const { fixture, stopAt } = await engineStopping();
      const { backups, mostlyDead } = await retainTwo(fixture, () => stopAt(stop));
      stopAt(null);
      assert.ok(existsSync(mostlyDead), 'the old pack is still stored');
      await assertAllRecoverable(fixture, backups);

      const store = treeOf(fixture.store);
      const { PathsToDelete: listed } = await fixture.engine.prune(true).done;
      assert.ok(listed.includes(mostlyDead), `the dry run lists ${mostlyDead}: ${listed.join(', ')}`);
      assert.deepEqual(treeOf(fixture.store), store, 'a dry run changes nothing');

      const { PathsToDelete: removed } = await fixture.engine.prune(false).done;
      assert.deepEqual(removed, listed);
      assert.equal(existsSync(mostlyDead), false);
      const live = await livePackFiles(
        fixture,
        backups.map((backup) => backup.id),
      );
      assert.deepEqual(storedPacks(fixture).sort(), [...live].sort());
      await assertAllRecoverable(fixture, backups);
    });
  }
});

describe('a repack record planted by a share writer', () => {
  /** A record in our format under a key guessed for the backup's epoch (the share writer has no other). */
  async function plant(fixture: EngineFixture, backupId: string, old: string[], next: string[]) {
    const epoch = manifestOf(fixture.store, backupId).manifest.Encryption.Epoch!;
    await writeRepackRecord(
      new LocalFolderStore(fixture.store),
      epochKeys(epoch, randomBytes(32), 'BLAKE3'),
      {
        Old: old,
        New: next,
        Index: null,
      },
    );
  }
  const namesOf = (files: string[]) => files.map((file) => path.basename(file, '.pack'));

  /** Two backups an hour apart, each of another image: the first's packs and the second's own. */
  async function twoBackups(): Promise<{ fixture: EngineFixture; first: TakenBackup; second: TakenBackup }> {
    const { fixture } = await engineStopping();
    writeImage(fixture);
    const first = await backUp(fixture);
    fixture.clock.advanceHours(1);
    writeImage(fixture);
    return { fixture, first, second: await backUp(fixture) };
  }

  test('makes the prune remove no live pack, nor the repack trust it', async () => {
    const { fixture, first, second } = await twoBackups();
    const packs = [...new Set([...packFiles(fixture, first.id), ...packFiles(fixture, second.id)])];
    // "Every pack moved into nothing": believed, each would be unused and go.
    await plant(fixture, second.id, namesOf(packs), []);
    // And a file in a record's place that is no record (its JSON is null): prune removes it.
    const junk = Buffer.concat([Buffer.from('AZSBRPK4', 'latin1'), Buffer.alloc(32), Buffer.from('null')]);
    const epoch = manifestOf(fixture.store, second.id).manifest.Encryption.Epoch!;
    const junkFile = path.join(
      fixture.store,
      repackPath(epoch, createHash('sha256').update(junk).digest('hex')),
    );
    writeFileSync(junkFile, junk);
    const { PathsToDelete: removed } = await fixture.engine.prune(false).done;
    assert.deepEqual(removed, [junkFile]);
    for (const file of packs) assert.ok(existsSync(file), `${file} stays`);
    await assertAllRecoverable(fixture, [second, first]);
  });

  test('naming a pack it deleted as moved: the test and the restore fail clearly, naming the pack', async () => {
    const { fixture, first, second } = await twoBackups();
    const own = packFiles(fixture, second.id).find((file) => !packFiles(fixture, first.id).includes(file))!;
    await plant(fixture, second.id, namesOf([own]), namesOf(packFiles(fixture, first.id)));
    rmSync(own);
    // Test-AzsBackup without the .pfx: the daemon's key of its epoch refuses the planted record.
    const [tested] = await fixture.engine.testBackup(second.id, null);
    assert.equal(tested!.Status, 'Failed');
    assert.match(tested!.ErrorMessage!, new RegExp(`${path.basename(own)}: it is missing`));
    await assert.rejects(fixture.engine.restore({ Name: second.id, ...fixture.decryption }).done, (error) => {
      assert.ok(isAzsError(error, 'BackupCorrupt'), String(error));
      assert.match(error.message, new RegExp(`${path.basename(own)}: it is missing`));
      return true;
    });
  });
});

test('a backup that comes and goes while a prune removes packs keeps every pack it takes chunks from', async () => {
  const { fixture, holdAfter } = await engineStopping();
  writeImage(fixture);
  const first = await backUp(fixture);
  // Two more backups, each of an image of its own, whose folders then go (as a share writer or a
  // killed retention might leave them): each image's pack is an orphan, still indexed.
  const orphans = new Map<string, Buffer>();
  for (let made = 0; made < 2; made += 1) {
    fixture.clock.advanceHours(1);
    const image = writeImage(fixture);
    const { id } = await backUp(fixture);
    const own = packFiles(fixture, id).filter((pack) => !packFiles(fixture, first.id).includes(pack));
    assert.equal(own.length, 1, 'a backup of a new image writes one pack of its own');
    orphans.set(own[0]!, image);
    rmSync(manifestOf(fixture.store, id).folder, { recursive: true });
  }

  const held = holdAfter((operation, target) => operation === 'remove' && target.endsWith(PACK_SUFFIX));
  const prune = fixture.engine.prune(false).done;
  const removed = await held.reached;
  const [left, image] = [...orphans].find(([pack]) => !pack.endsWith(removed))!;
  // Between two of the prune's removals a backup of the other image starts and ends: it takes
  // its chunks from the orphan the prune has not removed yet.
  writeImage(fixture, image);
  fixture.clock.advanceHours(1);
  const last = await backUp(fixture);
  assert.ok(packFiles(fixture, last.id).includes(left), 'the last backup uses the orphan left');
  held.release();
  await prune;
  assert.ok(existsSync(left), 'the pack the last backup uses stays');
  await assertAllRecoverable(fixture, [last, first]);
});

test("a backup whose retention deletes while a prune repacks waits: the repack's new pack is no orphan to it", async () => {
  const { fixture, stopAt, holdAfter } = await engineStopping();
  // The third backup's retention deletes the first; its repack stops before the new pack.
  const { backups } = await retainTwo(fixture, () => stopAt(packWrite));
  stopAt(null);
  const held = holdAfter(packWrite);
  const prune = fixture.engine.prune(false).done;
  await held.reached;
  // The prune's new pack is stored, its record not yet. A backup whose retention deletes the
  // other two now must not search for orphans until the prune is done, or it removes that pack.
  fixture.clock.advanceHours(49);
  const last = backUp(fixture);
  // It waits for the prune; without the lock it would end meanwhile, having removed the pack.
  await Promise.race([last, sleep(2000)]);
  held.release();
  const [newest] = await Promise.all([last, prune]);
  const listed = (await fixture.engine.listBackups({})).map((backup) => backup.BackupId);
  assert.deepEqual(listed, [newest.id], `retention deleted ${backups.map((backup) => backup.id).join(', ')}`);
  await assertAllRecoverable(fixture, [newest]);
});

test('index files do not grow with the backups: those naming no pack a backup leads to go', async () => {
  const fixture = await createEngine();
  fixtures.push(fixture);
  await fixture.engine.setConfiguration({ BackupRetentionPeriodInDays: 2 });
  const taken: TakenBackup[] = [];
  const indexFiles: number[] = [];
  for (let day = 0; day < 8; day += 1) {
    fixture.clock.advanceHours(24);
    writeImage(fixture);
    taken.push(await backUp(fixture));
    indexFiles.push(storedPacks(fixture, 'index').length);
  }
  // One index file a backup (and a repack's now and then), while retention keeps three backups.
  assert.ok(
    indexFiles.slice(4).every((count) => count <= indexFiles[3]!),
    `after the fourth backup the index files are no more: ${indexFiles.join(', ')}`,
  );
  assert.deepEqual((await fixture.engine.prune(true).done).PathsToDelete, []);
  const listed = new Set((await fixture.engine.listBackups({})).map((backup) => backup.BackupId));
  await assertAllRecoverable(
    fixture,
    taken.filter((backup) => listed.has(backup.id)),
  );
});
