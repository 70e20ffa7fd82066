/**
 * Rolling verification (format 4), through the engine (no daemon): after each scheduled backup a
 * slice of the packs is read back, every pack within N runs; a flipped byte opens PackDamaged naming
 * every backup that lists the pack; the alert closes when the pack reads whole again, or when no
 * backup lists it any more.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ALERT_RULES } from '../../src/engine/alertRules.js';
import { runsPerRetention, sliceAfter } from '../../src/engine/packVerification.js';
import { packPath } from '../../src/repository/layout.js';
import type { BackupStore } from '../../src/storage/store.js';
import { StoreError } from '../../src/storage/storeError.js';
import { createEngine, type EngineFixture } from '../helpers/engine.js';

process.env.AZSBACKUP_FORMAT = '4';

/** Pack reads fail as an unreachable share's do while this is set. */
let storeDown = false;

/** 2 days of backups every 12 hours: N = 4 runs. */
const RUNS = 4;

/**
 * The store, with the packs it is asked to read recorded (`<epoch>/<name>`), and index files listed
 * oldest first, as some stores list: a blob stored again after its first pack was found damaged is
 * then first found in the damaged pack's index file, which a reader must pass over.
 */
function recordingPackReads(store: BackupStore, reads: string[]): BackupStore {
  return new Proxy(store, {
    get(target, property, receiver) {
      if (property === 'list')
        return async (folder: string) =>
          (await target.list(folder)).sort((a, b) =>
            folder.endsWith('/index') ? a.modified.getTime() - b.modified.getTime() : 0,
          );
      if (property === 'readFile')
        return (file: string) => {
          const pack = /Repository\/([0-9a-f]{32})\/packs\/([0-9a-f]{64})\.pack$/.exec(file);
          if (pack) reads.push(`${pack[1]}/${pack[2]}`);
          if (pack && storeDown)
            return Promise.reject(
              new StoreError('ShareUnreachable', 'the server did not answer', {
                facts: { backend: 'share' },
              }),
            );
          return target.readFile(file);
        };
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

interface Listed {
  name: string;
  packs: Set<string>;
}

describe('rolling verification of the repository', () => {
  const reads: string[] = [];
  let fixture: EngineFixture;

  /** Every backup on the store, with the packs (`<epoch>/<name>`) its manifest lists. */
  function listedBackups(): Listed[] {
    const root = path.join(fixture.store, 'MASBackup');
    return readdirSync(root)
      .filter((stamp) => /^\d{8}T/.test(stamp))
      .flatMap((stamp) => readdirSync(path.join(root, stamp)).map((id) => path.join(root, stamp, id)))
      .map((folder) => JSON.parse(readFileSync(path.join(folder, 'BackupInfo.json'), 'utf8')))
      .map((manifest) => ({
        name: manifest.Name,
        packs: new Set<string>(
          manifest.Roles.flatMap((role: { Content: { Packs: string[] } }) =>
            role.Content.Packs.map((pack) => `${manifest.Encryption.Epoch}/${pack}`),
          ),
        ),
      }));
  }

  const allPacks = () => new Set(listedBackups().flatMap((backup) => [...backup.packs]));
  const packFile = (pack: string) => {
    const [epoch, name] = pack.split('/') as [string, string];
    return path.join(fixture.store, packPath(epoch, name));
  };
  const damagedAlert = async () =>
    (await fixture.engine.alerts.list('Active')).find(
      (alert) => alert.Title === ALERT_RULES.PackDamaged.title,
    );

  /** A scheduled backup an hour after the last; the packs its verification read. */
  async function scheduledBackup(): Promise<{ id: string; read: string[] }> {
    fixture.clock.advanceHours(1);
    reads.length = 0;
    const backup = await fixture.engine.backups.start({ isAutomatic: true }).done;
    return { id: backup.BackupId, read: [...reads] };
  }

  before(async () => {
    fixture = await createEngine({ wrapStore: (store) => recordingPackReads(store, reads) });
    await fixture.engine.setConfiguration({ BackupFrequencyInHours: 12, BackupRetentionPeriodInDays: 2 });
    // Six backups of changed data: six packs or more, some listed by one backup, some by several.
    for (let index = 0; index < 6; index++) {
      writeFileSync(path.join(fixture.data, `part${index}.bin`), randomBytes(64 * 1024));
      await scheduledBackup();
    }
  });
  after(() => fixture.close());

  test('the rule: N is the scheduled backups in one retention period; a slice wraps round after the cursor', () => {
    assert.equal(runsPerRetention({ backupFrequencyInHours: 12, backupRetentionPeriodInDays: 2 }), RUNS);
    assert.equal(runsPerRetention({ backupFrequencyInHours: 5, backupRetentionPeriodInDays: 2 }), 9);
    assert.equal(runsPerRetention({ backupFrequencyInHours: 12, backupRetentionPeriodInDays: 14 }), 28);
    const packs = ['a', 'b', 'c', 'd', 'e'];
    assert.deepEqual(sliceAfter(packs, null, 2), ['a', 'b', 'c']);
    assert.deepEqual(sliceAfter(packs, 'c', 2), ['d', 'e', 'a']);
    // The cursor's pack was pruned: the slice starts at the next name.
    assert.deepEqual(sliceAfter(packs, 'bb', 4), ['c', 'd']);
    assert.deepEqual(sliceAfter([], null, 4), []);
  });

  test('N scheduled backups read every pack, ceil(packs / N) each; an on-demand one reads none', async () => {
    const packs = allPacks();
    assert.ok(packs.size >= 6, `${packs.size} packs`);
    const read: string[] = [];
    for (let run = 0; run < RUNS; run++) {
      const { read: thisRun } = await scheduledBackup();
      assert.equal(thisRun.length, Math.ceil(packs.size / RUNS), `run ${run} read ${thisRun.length}`);
      read.push(...thisRun);
    }
    assert.deepEqual(allPacks(), packs, 'the unchanged data added no pack');
    assert.deepEqual(new Set(read), packs);
    reads.length = 0;
    await fixture.engine.startBackup().done;
    assert.deepEqual(reads, []);
  });

  test('a store failure while verifying is no damage: the run stops, and the next one starts where it stopped', async () => {
    storeDown = true;
    const failed = await scheduledBackup().finally(() => (storeDown = false));
    assert.equal(failed.read.length, 1, 'the run stops at the first failure');
    assert.equal(await damagedAlert(), undefined);
    const { read } = await scheduledBackup();
    assert.equal(read[0], failed.read[0]);
    assert.equal(read.length, Math.ceil(allPacks().size / RUNS));
  });

  /** Flips one byte of `pack`; returns what undoes it. */
  function flipByte(pack: string): () => void {
    const file = packFile(pack);
    const whole = readFileSync(file);
    const bytes = Buffer.from(whole);
    const middle = bytes.length >> 1;
    bytes[middle] = bytes[middle]! ^ 0x01;
    writeFileSync(file, bytes);
    return () => writeFileSync(file, whole);
  }

  /** Scheduled backups until the PackDamaged alert is open, at most N; how many it took. */
  async function runsUntilDamageFound(): Promise<number> {
    let runs = 0;
    while (!(await damagedAlert()) && runs < RUNS) {
      await scheduledBackup();
      runs++;
    }
    assert.ok(await damagedAlert(), `no PackDamaged alert after ${runs} scheduled backups`);
    return runs;
  }

  let damaged = '';
  let repair: () => void = () => undefined;

  test('a flipped byte in a pack is found within N runs; the alert names every backup that lists it', async () => {
    // A pack that some backups list and others do not: the description must tell them apart.
    const backups = listedBackups();
    damaged = [...allPacks()].find((pack) => {
      const users = backups.filter((backup) => backup.packs.has(pack)).length;
      return users >= 2 && users < backups.length;
    })!;
    assert.ok(damaged, 'a pack listed by some backups but not all');
    repair = flipByte(damaged);
    await runsUntilDamageFound();
    const alert = (await damagedAlert())!;
    assert.equal(alert.Severity, 'Critical');
    assert.match(alert.Description, new RegExp(`${damaged.split('/')[1]}\\.pack: its SHA-256`));
    for (const backup of listedBackups()) {
      if (backup.packs.has(damaged))
        assert.ok(alert.Description.includes(backup.name), `${backup.name} not named`);
      else assert.ok(!alert.Description.includes(backup.name), `${backup.name} named, but does not list it`);
    }
  });

  test('a backup after the damage was found does not use the damaged pack, and reads whole', async () => {
    const { id } = await scheduledBackup();
    const newest = listedBackups().find((backup) => backup.name.endsWith(`/${id}`))!;
    assert.ok(!newest.packs.has(damaged), 'the new backup lists the damaged pack');
    assert.ok(!(await damagedAlert())!.Description.includes(newest.name));
    const [result] = await fixture.engine.testBackup(id, fixture.decryption);
    assert.equal(result!.Status, 'Succeeded');
  });

  test('the alert closes at the next scheduled backup once the damaged pack reads whole again', async () => {
    assert.ok(await damagedAlert());
    repair();
    await scheduledBackup();
    assert.equal(await damagedAlert(), undefined);
  });

  test('the alert closes once retention has deleted every backup that lists the damaged pack', async () => {
    flipByte(damaged);
    await runsUntilDamageFound();
    // Past the retention period: the next backup's retention deletes every older one, and the pack goes.
    fixture.clock.advanceHours(3 * 24);
    await scheduledBackup();
    assert.ok(!allPacks().has(damaged));
    assert.equal(await damagedAlert(), undefined);
  });
});
