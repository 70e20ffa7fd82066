/**
 * A model check of format 4 under kills, in process and seeded (the reliability suite's crash
 * scenario does the same with a real daemon and kill -9, at random): random backups of a changing
 * role, with the clock moved so that retention deletes and repacks, and prunes. Before most steps a
 * kill is armed before one of the store's changes (a write, a removal, a new folder), about
 * uniformly over those the last whole step of its kind made: that call and every later one of the
 * engine never return, and a new engine starts on the same state folder, as the daemon after
 * kill -9. After every step every listed backup tests Succeeded with the .pfx (every chunk
 * decrypted and checked), and no backup a finished job committed is missing while retention must
 * keep it. It fails within a few steps when a repack removes the old packs before it stores their
 * index file and record (tried); a window of one call, such as the record written after the
 * removals, it hits only now and then: the second test kills every change of one such job in turn,
 * the third every change of a prune of its own.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, test } from 'node:test';
import type { BackupStore } from '../../src/storage/store.js';
import { DAY_MS, HOUR_MS } from '../../src/util/clock.js';
import { createEngine, type EngineFixture } from '../helpers/engine.js';
import { IMAGE_BYTES, writeImage } from '../helpers/engineBackups.js';
import { MANIFEST_NAME } from '../../src/engine/layout.js';
import { INDEX_SUFFIX, PACK_SUFFIX, REPACK_SUFFIX, isRepositoryPath } from '../../src/repository/layout.js';

process.env.AZSBACKUP_FORMAT = '4';

const SEEDS = [1, 2, 3, 4];
const STEPS = 24;
const RETENTION_DAYS = 2;
/** Steps with a kill armed. */
const KILL_SHARE = 0.6;
/** The store calls that change something: a kill falls before one of them. */
const CHANGES = new Set<string | symbol>(['writeFile', 'remove', 'mkdir']);

const fixtures: EngineFixture[] = [];
after(() => Promise.all(fixtures.map((fixture) => fixture.close())));

/** mulberry32: the same seed, the same steps. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let mixed = Math.imul(state ^ (state >>> 15), 1 | state);
    mixed = (mixed + Math.imul(mixed ^ (mixed >>> 7), 61 | mixed)) ^ mixed;
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 2 ** 32;
  };
}

/**
 * One engine's life: the store calls that change something counted; from the one a kill is armed
 * before on, no store call returns (reads too).
 */
class Life {
  /** Changes since the last arm(). */
  changes = 0;
  /** The changes since the last arm(), as `<call> <path>`. */
  readonly changed: string[] = [];
  /** Whether the kill falls before this change (`<call> <path>`, its number since arm()). */
  private killsAt: (change: string, number: number) => boolean = () => false;
  private dead = false;
  private markKilled!: () => void;
  readonly killed = new Promise<void>((resolve) => (this.markKilled = resolve));

  /** The kill falls before the change of that number (from 0) or the first change `kill` picks. */
  arm(kill: Kill | null): void {
    this.changes = 0;
    this.changed.length = 0;
    this.killsAt =
      kill === null ? () => false : typeof kill === 'number' ? (_, number) => number === kill : kill;
  }

  get isDead(): boolean {
    return this.dead;
  }

  /** Whether the call (on `path`) goes through; false from the kill on. */
  enter(call: string | symbol, path: unknown): boolean {
    if (CHANGES.has(call)) {
      const change = `${String(call)} ${String(path)}`;
      if (this.killsAt(change, this.changes++)) this.dead = true;
      if (!this.dead) this.changed.push(change);
    }
    if (this.dead) this.markKilled();
    return !this.dead;
  }
}

/** A change's number, or what picks the change (`<call> <path>`) a kill falls before. */
type Kill = number | ((change: string) => boolean);

let life = new Life();

/** The store as the engine that opens it sees it: frozen from its life's kill on. */
function killable(store: BackupStore): BackupStore {
  const own = life;
  return new Proxy(store, {
    get(target, property) {
      const value = Reflect.get(target, property) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) =>
        own.enter(property, args[0])
          ? (value as (...args: unknown[]) => unknown).apply(target, args)
          : new Promise(() => undefined);
    },
  });
}

/** Changes the role's image as a day changes a disk: a few runs rewritten, now and then all of it. */
function changeImage(fixture: EngineFixture, image: Buffer, random: () => number): Buffer {
  if (random() < 0.5) return writeImage(fixture);
  for (let run = 0; run < 1 + Math.floor(random() * 3); run += 1) {
    const offset = Math.floor(random() * (IMAGE_BYTES / 65536)) * 65536;
    randomBytes(65536).copy(image, offset);
  }
  return writeImage(fixture, image);
}

test('kills at random store calls of backups, retention, repacks and prunes never lose a committed backup', async () => {
  for (const seed of SEEDS) {
    const random = seeded(seed);
    life = new Life();
    const fixture = await createEngine({ wrapStore: killable });
    fixtures.push(fixture);
    await fixture.engine.setConfiguration({ BackupRetentionPeriodInDays: RETENTION_DAYS });
    let image = writeImage(fixture);
    /** Backups a finished job committed, by id: when they were made. */
    const committed = new Map<string, number>();
    const changesOf = { backup: 20, prune: 10 };
    const steps: string[] = [];
    const where = () => `seed ${seed}, steps: ${steps.join('; ')}`;

    for (let step = 0; step < STEPS; step += 1) {
      const backup = random() < 0.7;
      const kind = backup ? 'backup' : 'prune';
      // About uniformly over the changes a step of its kind made the last time it ran whole.
      const kill = random() < KILL_SHARE ? Math.floor(random() * (changesOf[kind] + 1)) : null;
      if (backup) {
        fixture.clock.advanceHours(16 + Math.floor(random() * 24));
        image = changeImage(fixture, image, random);
        if (random() < 0.3) writeFileSync(path.join(fixture.data, 'settings.json'), `{"step":${step}}\n`);
      }
      steps.push(`${kind}${kill === null ? '' : ` killed before change ${kill}`}`);
      life.arm(kill);
      const outcome = await runOrKill(fixture, () =>
        backup ? fixture.engine.startBackup().done : fixture.engine.prune(false).done,
      ).catch((error: unknown) => assert.fail(`${String(error)} (${where()})`));
      if ('killed' in outcome) {
        steps[steps.length - 1] += ' (the kill came)';
      } else {
        changesOf[kind] = life.changes;
        life.arm(null);
        if (backup) {
          const made = outcome.result as { BackupId: string; Status: string; CreatedDateTime: string };
          assert.equal(made.Status, 'Succeeded', where());
          committed.set(made.BackupId, Date.parse(made.CreatedDateTime));
        }
      }

      const listed = (await fixture.engine.listBackups({})).map((listedBackup) => listedBackup.BackupId);
      for (const [id, made] of committed) {
        const mustKeep = fixture.clock.now().getTime() - made < RETENTION_DAYS * DAY_MS - HOUR_MS;
        if (mustKeep) assert.ok(listed.includes(id), `committed backup ${id} is listed (${where()})`);
      }
      for (const id of listed) {
        const results = await fixture.engine.testBackup(id, fixture.decryption);
        assert.deepEqual(
          results.map((result) => [result.RoleName, result.Status, result.ErrorMessage]),
          [['CA', 'Succeeded', null]],
          `backup ${id} tests with the .pfx (${where()})`,
        );
      }
    }
    assert.ok(committed.size >= 4, `backups were committed (${where()})`);
  }
});

/**
 * A job run to its end, or to the kill armed for it: then a new engine starts on the same state
 * folder, as the daemon after kill -9. A job that fails without a kill fails with its error.
 */
async function runOrKill(
  fixture: EngineFixture,
  job: () => Promise<unknown>,
): Promise<{ result: unknown } | { killed: true }> {
  const outcome = await Promise.race([
    job().then(
      (result) => ({ result }),
      (error: unknown) => ({ error }),
    ),
    life.killed.then(() => ({ killed: true as const })),
  ]);
  // A kill after the job ended (a call of what follows it) is a kill too.
  if ('killed' in outcome || life.isDead) {
    await sleep(20); // what the dead engine still does without its store, it does now
    life = new Life();
    await fixture.restart();
    return { killed: true };
  }
  if ('error' in outcome) throw outcome.error;
  return outcome;
}

/** A backup run to its end (it must succeed; its id), or to the kill armed for it (null). */
async function backupOrKill(fixture: EngineFixture): Promise<string | null> {
  const outcome = await runOrKill(fixture, () => fixture.engine.startBackup().done);
  if ('killed' in outcome) return null;
  const made = outcome.result as { BackupId: string; Status: string };
  assert.equal(made.Status, 'Succeeded');
  return made.BackupId;
}

/** Every listed backup tests Succeeded with the .pfx; each of `kept` is listed. */
async function checkBackups(fixture: EngineFixture, kept: string[], where: string): Promise<string[]> {
  const listed = (await fixture.engine.listBackups({})).map((backup) => backup.BackupId);
  for (const id of kept) assert.ok(listed.includes(id), `committed backup ${id} is listed (${where})`);
  for (const id of listed) {
    const results = await fixture.engine.testBackup(id, fixture.decryption);
    assert.deepEqual(
      results.map((result) => [result.RoleName, result.Status, result.ErrorMessage]),
      [['CA', 'Succeeded', null]],
      `backup ${id} tests with the .pfx (${where})`,
    );
  }
  return listed;
}

/**
 * Two backups a day and a half apart, the image rewritten whole between them, and a day and a half
 * later a third (a few runs of the image changed) whose retention deletes the first: its pack, the
 * image dead and the small files alive, is repacked. Returns the fixture, the first two backups' ids
 * and the image, with a kill armed at `kill` (a change of the third backup's job, or none).
 */
async function upToTheThirdBackup(kill: Kill | null) {
  life = new Life();
  const fixture = await createEngine({ wrapStore: killable });
  fixtures.push(fixture);
  await fixture.engine.setConfiguration({ BackupRetentionPeriodInDays: RETENTION_DAYS });
  writeImage(fixture);
  const first = await backupOrKill(fixture);
  fixture.clock.advanceHours(36);
  const image = writeImage(fixture);
  const second = await backupOrKill(fixture);
  assert.ok(first && second, 'the first two backups are made whole');
  fixture.clock.advanceHours(36);
  for (const offset of [0, IMAGE_BYTES / 2]) randomBytes(65536).copy(image, offset);
  writeImage(fixture, image);
  life.arm(kill);
  return { fixture, first, second, image };
}

/** Stops the fixture's engine and removes its folders now, rather than after the file's tests. */
async function closeFixture(fixture: EngineFixture): Promise<void> {
  fixtures.splice(fixtures.indexOf(fixture), 1);
  await fixture.close();
}

test('a kill before any one store change of a backup whose retention deletes and repacks loses no committed backup', async () => {
  // The random walk above hits a window of one store call only now and then: here every change of
  // one such job is the kill's, in turn.
  const whole = await upToTheThirdBackup(null);
  const third = await backupOrKill(whole.fixture);
  const changes = [...life.changed];
  const removes = (ending: string) => changes.some((c) => c.startsWith('remove ') && c.endsWith(ending));
  assert.ok(
    removes(whole.first) && changes.some((change) => change.endsWith(REPACK_SUFFIX)) && removes(PACK_SUFFIX),
    `the third backup's retention deletes the first and repacks its pack: ${changes.join(', ')}`,
  );
  await checkBackups(whole.fixture, [whole.second, third!], 'no kill');
  await closeFixture(whole.fixture);

  for (let kill = 0; kill < changes.length; kill += 1) {
    const where = `killed before change ${kill}, ${changes[kill]}`;
    const { fixture, first, second, image } = await upToTheThirdBackup(kill);
    assert.equal(await backupOrKill(fixture), null, `the kill came (${where})`);
    const afterKill = await checkBackups(fixture, [second], where);
    // The next backup (its retention deletes the first, if the killed one did not) and a prune
    // finish what the killed job left; every other backup stays.
    randomBytes(65536).copy(image, IMAGE_BYTES / 4);
    writeImage(fixture, image);
    fixture.clock.advanceHours(1);
    const next = await backupOrKill(fixture);
    await fixture.engine.prune(false).done;
    const kept = afterKill.filter((id) => id !== first);
    await checkBackups(fixture, [...kept, next!], `${where}, then a backup and a prune`);
    await closeFixture(fixture);
  }
});

/** The first pack written after a removal: in a backup whose retention deletes, its repack's. */
function theRepacksPack(): Kill {
  let removed = false;
  return (change) => {
    removed ||= change.startsWith('remove ');
    return removed && change.startsWith('writeFile ') && change.endsWith(PACK_SUFFIX);
  };
}

/**
 * What a prune of its own finds to do: the third backup killed just before its repack (its
 * retention has deleted the first, whose pack is left mostly dead), then a fourth killed before its
 * manifest (its folder, pack and index file left behind). Returns the fixture and the second
 * backup's id (the one backup listed), with a kill armed at `kill` (a change of the prune, or none).
 */
async function upToAPrune(kill: Kill | null) {
  const { fixture, second, image } = await upToTheThirdBackup(theRepacksPack());
  assert.equal(await backupOrKill(fixture), null, 'the third backup is killed before its repack');
  randomBytes(65536).copy(image, IMAGE_BYTES / 4);
  writeImage(fixture, image);
  fixture.clock.advanceHours(1);
  life.arm((change) => change.endsWith(`/${MANIFEST_NAME}`));
  assert.equal(await backupOrKill(fixture), null, 'the fourth backup is killed before its manifest');
  life.arm(kill);
  return { fixture, second };
}

test('a kill before any one store change of a prune that removes a killed backup and repacks loses nothing and leaks nothing', async () => {
  // Invoke-AzsPruneBackupLocationExternalStore's own job: what a killed backup left, removed, and
  // the repack its killed retention did not do, done; every change of it is the kill's, in turn.
  const whole = await upToAPrune(null);
  const found = await whole.fixture.engine.prune(false).done;
  const changes = [...life.changed];
  const removes = (picks: (path: string) => boolean) =>
    changes.some((change) => change.startsWith('remove ') && picks(change.slice('remove '.length)));
  assert.ok(
    removes((path) => !isRepositoryPath(path)) &&
      removes((path) => path.endsWith(PACK_SUFFIX)) &&
      removes((path) => path.endsWith(INDEX_SUFFIX)) &&
      changes.some((change) => change.endsWith(REPACK_SUFFIX)) &&
      found.PathsToDelete.length > 0,
    `the prune removes the fourth backup's folder, pack and index file, and repacks: ${changes.join(', ')}`,
  );
  await checkBackups(whole.fixture, [whole.second], 'no kill');
  await closeFixture(whole.fixture);

  for (let kill = 0; kill < changes.length; kill += 1) {
    const where = `killed before change ${kill}, ${changes[kill]}`;
    const { fixture, second } = await upToAPrune(kill);
    const outcome = await runOrKill(fixture, () => fixture.engine.prune(false).done);
    assert.ok('killed' in outcome, `the kill came (${where})`);
    await checkBackups(fixture, [second], where);
    // The next prune finishes what the killed one left, and leaves nothing for a third to find.
    await fixture.engine.prune(false).done;
    const left = await fixture.engine.prune(true).done;
    assert.deepEqual(left.PathsToDelete, [], `a prune after it leaves nothing behind (${where})`);
    await checkBackups(fixture, [second], `${where}, then a prune`);
    await closeFixture(fixture);
  }
});
