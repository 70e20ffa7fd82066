/**
 * Format 4 against a damaged or hostile store, and across its life (issue 20, "Must show" 3), through
 * the engine (no daemon): a flipped byte in a pack, a missing pack, a swapped index file, a manifest
 * from another repository and a wrong .pfx are each a clear error naming the backup and the role
 * (and the pack), never wrong data, and leave the role's data as it was; the same data is stored
 * once; a new certificate starts a new epoch; format 3 backups live on beside format 4 ones; and
 * retention and prune keep every retained backup restorable.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { BackupManifest } from '../../src/archive/manifest.js';
import { newEncryptionCertificate } from '../../src/engine/encryptionCertificates.js';
import { isAzsError } from '../../src/protocol/errors.js';
import type { BackupTestResult } from '../../src/protocol/objects.js';
import { epochFolder, indexFolder } from '../../src/repository/layout.js';
import { CHUNK_SIZES } from '../../src/repository/chunker.js';
import { LIST_ENTRY_BYTES } from '../../src/repository/writer.js';
import { createEngine, PFX_PASSWORD, type EngineFixture } from '../helpers/engine.js';
import { backupFolderOf, editManifest } from '../helpers/shareWriter.js';
import { bytesUnder, manifestOf, treeOf } from '../helpers/repositoryStore.js';
import {
  IMAGE_BYTES,
  assertRestores,
  backUp,
  livePackFiles,
  packFiles,
  writeImage,
} from '../helpers/engineBackups.js';

process.env.AZSBACKUP_FORMAT = '4';

type Decryption = EngineFixture['decryption'];

const manifest = (fixture: EngineFixture, backupId: string) => manifestOf(fixture.store, backupId).manifest;
const packsOf = (stored: BackupManifest) => stored.Roles.flatMap((role) => role.Content?.Packs ?? []);
const epochOf = (stored: BackupManifest) => stored.Encryption.Epoch!;
const onDisk = (fixture: EngineFixture, relative: string) => path.join(fixture.store, relative);

/** One Test-AzsBackup result: role CA of `backupId` failed, its message and file naming `where`. */
function assertRoleFailed(results: BackupTestResult[], backupId: string, where: string, problem: RegExp) {
  assert.equal(results.length, 1);
  const [result] = results;
  assert.deepEqual(
    { BackupId: result!.BackupId, RoleName: result!.RoleName, Status: result!.Status },
    { BackupId: backupId, RoleName: 'CA', Status: 'Failed' },
  );
  assert.ok(result!.File?.includes(where), `File ${result!.File} names ${where}`);
  assert.ok(result!.ErrorMessage?.includes(where), `${result!.ErrorMessage} names ${where}`);
  assert.match(result!.ErrorMessage!, problem);
}

/**
 * Restore-AzsBackup of `backupId` fails for `reason`, its message matching every pattern; the role's
 * live data (which differs from the backup's) is exactly as it was.
 */
async function assertRestoreRefused(
  fixture: EngineFixture,
  backupId: string,
  decryption: Decryption,
  reason: string,
  ...patterns: RegExp[]
) {
  writeFileSync(path.join(fixture.data, 'live.txt'), `live data ${randomBytes(8).toString('hex')}`);
  const live = treeOf(fixture.data);
  await assert.rejects(fixture.engine.restore({ Name: backupId, ...decryption }).done, (error) => {
    assert.ok(isAzsError(error, reason as 'BackupCorrupt'), String(error));
    for (const pattern of patterns) assert.match(error.message, pattern);
    return true;
  });
  assert.deepEqual(treeOf(fixture.data), live, "the role's live data is untouched");
  rmSync(path.join(fixture.data, 'live.txt'));
}

const byRole = /in role CA/;
const named = (backupId: string) => new RegExp(backupId);

/** Runs `check` while `file` is changed by `change` (or gone, when `change` is null), then puts it back. */
async function whileChanged(
  file: string,
  change: ((bytes: Buffer) => Buffer) | null,
  check: () => Promise<void>,
) {
  const original = readFileSync(file);
  if (change) writeFileSync(file, change(Buffer.from(original)));
  else rmSync(file);
  try {
    await check();
  } finally {
    writeFileSync(file, original);
  }
}

describe('format 4: a damaged or hostile repository', () => {
  let fixture: EngineFixture;
  /** Another deployment, with a certificate of its own. */
  let other: EngineFixture;
  let base = { id: '', tree: new Map<string, Buffer>() };
  let foreign = { id: '', tree: new Map<string, Buffer>() };

  before(async () => {
    [fixture, other] = await Promise.all([createEngine(), createEngine()]);
    writeImage(fixture);
    writeImage(other);
    base = await backUp(fixture);
    foreign = await backUp(other);
  });
  after(() => Promise.all([fixture.close(), other.close()]));

  /**
   * Damage to one pack of the base backup: Test-AzsBackup fails the role naming the pack, with the
   * .pfx and without, and the restore is refused naming the backup, the role and the pack.
   */
  async function assertPackDamageReported(relative: string, problem: RegExp): Promise<void> {
    for (const decryption of [null, fixture.decryption]) {
      assertRoleFailed(await fixture.engine.testBackup(base.id, decryption), base.id, relative, problem);
    }
    await assertRestoreRefused(
      fixture,
      base.id,
      fixture.decryption,
      'BackupCorrupt',
      named(base.id),
      byRole,
      new RegExp(relative),
      problem,
    );
  }

  test('a flipped byte in a pack: Test-AzsBackup fails the role naming the pack, with the .pfx and without; the restore is refused', async () => {
    const [pack] = packFiles(fixture, base.id);
    const flip = (bytes: Buffer) => {
      bytes[bytes.length >> 1]! ^= 0x01;
      return bytes;
    };
    await whileChanged(pack!, flip, async () => {
      await assertPackDamageReported(
        path.relative(fixture.store, pack!),
        /its SHA-256 is not the one its name says/,
      );
    });
    await assertRestores(fixture, base);
  });

  test('a missing pack: the same; a backup that follows stores its chunks again and never refers to it', async () => {
    const [pack] = packFiles(fixture, base.id);
    const relative = path.relative(fixture.store, pack!);
    await whileChanged(pack!, null, async () => {
      await assertPackDamageReported(relative, /it is missing/);
      fixture.clock.advanceHours(1);
      const following = await backUp(fixture);
      const files = packFiles(fixture, following.id);
      assert.ok(!files.includes(pack!), 'the following backup does not refer to the missing pack');
      for (const file of files) assert.ok(existsSync(file), `${file} is stored`);
      await assertRestores(fixture, following);
    });
    await assertRestores(fixture, base);
  });

  test("a swapped index file (another deployment's): reading fails clearly; a backup that follows neither fails nor refers to packs that are not there", async () => {
    const epoch = epochOf(manifest(fixture, base.id));
    const index = onDisk(fixture, indexFolder(epoch));
    const aside = `${index}.aside`;
    renameSync(index, aside);
    mkdirSync(index);
    const otherIndex = onDisk(other, indexFolder(epochOf(manifest(other, foreign.id))));
    for (const name of readdirSync(otherIndex)) cpSync(path.join(otherIndex, name), path.join(index, name));
    try {
      const results = await fixture.engine.testBackup(base.id, fixture.decryption);
      assertRoleFailed(results, base.id, 'index', /has no blob .*do not open: .*does not authenticate/);
      await assertRestoreRefused(
        fixture,
        base.id,
        fixture.decryption,
        'BackupCorrupt',
        named(base.id),
        byRole,
        /does not authenticate/,
      );
      fixture.clock.advanceHours(1);
      const following = await backUp(fixture);
      for (const file of packFiles(fixture, following.id)) assert.ok(existsSync(file), `${file} is stored`);
      await assertRestores(fixture, following);
    } finally {
      // The following backup's index file joins the original ones; the planted one goes.
      for (const name of readdirSync(otherIndex)) rmSync(path.join(index, name));
      for (const name of readdirSync(aside)) renameSync(path.join(aside, name), path.join(index, name));
      rmSync(aside, { recursive: true });
    }
    await assertRestores(fixture, base);
  });

  test('a manifest from another repository copied into this store: refused, never restored over the role', async () => {
    // A deployment with the same certificate: the .pfx unwraps its key, so only the repository stands.
    const twin = await createEngine();
    try {
      await twin.engine.setConfiguration({ EncryptionCertPath: fixture.cerPath });
      writeImage(twin);
      const copied = await backUp(twin);
      const source = backupFolderOf(twin.store, copied.id);
      const target = path.join(fixture.store, path.relative(twin.store, source));
      cpSync(source, target, { recursive: true });
      const [listed] = await fixture.engine.listBackups({ Name: copied.id });
      assert.equal(listed?.IsKnownToDeployment, false);
      // As it is: its packs are in the other repository, not here.
      const results = await fixture.engine.testBackup(copied.id, fixture.decryption);
      assertRoleFailed(results, copied.id, 'index', /has no blob/);
      await assertRestoreRefused(
        fixture,
        copied.id,
        fixture.decryption,
        'BackupCorrupt',
        named(copied.id),
        byRole,
        /has no blob/,
      );
      // Relabelled to this repository's epoch, and to its key as well: its MAC no longer holds.
      const own = manifest(fixture, base.id).Encryption;
      for (const relabel of [{ Epoch: own.Epoch }, { Epoch: own.Epoch, WrappedKey: own.WrappedKey }]) {
        editManifest(fixture.store, copied.id, (stored) => Object.assign(stored.Encryption, relabel));
        for (const result of await fixture.engine.testBackup(copied.id, fixture.decryption)) {
          assert.equal(result.Status, 'Failed');
          assert.equal(result.File, 'BackupInfo.json');
          assert.match(result.ErrorMessage ?? '', /does not authenticate/);
        }
        await assertRestoreRefused(
          fixture,
          copied.id,
          fixture.decryption,
          'BackupCorrupt',
          named(copied.id),
          /does not authenticate/,
        );
      }
      rmSync(target, { recursive: true });
    } finally {
      await twin.close();
    }
  });

  test('a wrong .pfx: DecryptionCertificateMismatch naming the backup and the thumbprint it needs', async () => {
    const { Encryption, Name } = manifest(fixture, base.id);
    const thumbprint = Encryption.CertificateThumbprint.toUpperCase();
    await assert.rejects(fixture.engine.testBackup(base.id, other.decryption), (error) => {
      assert.ok(isAzsError(error, 'DecryptionCertificateMismatch'), String(error));
      assert.match(error.message, new RegExp(thumbprint));
      assert.ok(error.message.includes(Name), error.message);
      return true;
    });
    await assertRestoreRefused(
      fixture,
      base.id,
      other.decryption,
      'DecryptionCertificateMismatch',
      new RegExp(thumbprint),
    );
  });
});

describe('format 4: the same data is stored once', () => {
  let fixture: EngineFixture;
  before(async () => (fixture = await createEngine()));
  after(() => fixture.close());

  test('two copies of an image in one backup, and the same role backed up twice, store their chunks once', async () => {
    const image = writeImage(fixture, randomBytes(8 * 1024 * 1024));
    writeFileSync(path.join(fixture.data, 'images', 'copy.img'), image);
    const first = await backUp(fixture);
    const firstBytes = bytesUnder(
      path.join(fixture.store, epochFolder(epochOf(manifest(fixture, first.id)))),
    );
    // One copy, and the chunks on either side of where the second copy begins and ends.
    const once = image.length + 2 * CHUNK_SIZES.max;
    assert.ok(firstBytes < once, `two copies of the image took ${firstBytes} bytes`);
    fixture.clock.advanceHours(1);
    const second = await backUp(fixture);
    const stored = manifest(fixture, second.id);
    const growth = bytesUnder(path.join(fixture.store, epochFolder(epochOf(stored)))) - firstBytes;
    // At most the role's list of chunks (its blob, and the pack and index file that hold it).
    const [role] = stored.Roles;
    const list = role!.Content!.Chunks * LIST_ENTRY_BYTES + 4096;
    assert.ok(growth <= list, `the second backup added ${growth} bytes, its list is ${list}`);
    assert.ok(role!.Content!.AddedBytes <= list);
    await assertRestores(fixture, second);
  });
});

describe('format 4: certificate rotation', () => {
  let fixture: EngineFixture;
  before(async () => (fixture = await createEngine()));
  after(() => fixture.close());

  test('a new certificate starts a new epoch with a full backup; each backup opens only with its own .pfx', async () => {
    writeImage(fixture);
    const old = await backUp(fixture);
    const folder = path.dirname(fixture.cerPath);
    const rotated = {
      CerPath: path.join(folder, 'rotated.cer'),
      PfxPath: path.join(folder, 'rotated.pfx'),
    };
    await newEncryptionCertificate({
      Subject: 'CN=Engine Test Rotated',
      ...rotated,
      PfxPassword: PFX_PASSWORD,
      ValidityYears: 1,
    });
    await fixture.engine.setConfiguration({ EncryptionCertPath: rotated.CerPath });
    fixture.clock.advanceHours(1);
    const next = await backUp(fixture);
    const [was, now] = [manifest(fixture, old.id), manifest(fixture, next.id)];
    assert.notEqual(epochOf(now), epochOf(was));
    assert.notEqual(now.Encryption.CertificateThumbprint, was.Encryption.CertificateThumbprint);
    // A full backup: every chunk stored again, in packs of the new epoch only.
    assert.ok(now.Roles[0]!.Content!.AddedBytes >= IMAGE_BYTES);
    assert.ok(bytesUnder(path.join(fixture.store, epochFolder(epochOf(now)))) >= IMAGE_BYTES);
    for (const pack of packsOf(now)) assert.ok(!packsOf(was).includes(pack));
    for (const file of packFiles(fixture, next.id)) assert.ok(existsSync(file));

    const newDecryption = { DecryptionCertPath: rotated.PfxPath, DecryptionCertPassword: PFX_PASSWORD };
    for (const [backup, wrong] of [
      [old, newDecryption],
      [next, fixture.decryption],
    ] as const) {
      await assert.rejects(fixture.engine.testBackup(backup.id, wrong), (error) =>
        isAzsError(error, 'DecryptionCertificateMismatch'),
      );
    }
    assert.equal((await fixture.engine.testBackup(old.id, fixture.decryption))[0]?.Status, 'Succeeded');
    assert.equal((await fixture.engine.testBackup(next.id, newDecryption))[0]?.Status, 'Succeeded');
    await assertRestores(fixture, old);
    writeFileSync(path.join(fixture.data, 'settings.json'), 'overwritten');
    await fixture.engine.restore({ Name: next.id, ...newDecryption }).done;
    assert.deepEqual(treeOf(fixture.data), next.tree);
  });
});

describe('format 4: a format 3 backup written before it', () => {
  let fixture: EngineFixture;
  before(async () => (fixture = await createEngine()));
  after(() => {
    process.env.AZSBACKUP_FORMAT = '4';
    return fixture.close();
  });

  test('keeps listing, testing and restoring beside format 4 backups, and retention deletes it as before', async () => {
    writeImage(fixture);
    delete process.env.AZSBACKUP_FORMAT;
    const old = await backUp(fixture);
    process.env.AZSBACKUP_FORMAT = '4';
    assert.equal(manifest(fixture, old.id).FormatVersion, 3);
    const oldFolder = backupFolderOf(fixture.store, old.id);
    await fixture.engine.setConfiguration({ BackupRetentionPeriodInDays: 2 });
    fixture.clock.advanceHours(48);
    writeImage(fixture);
    const middle = await backUp(fixture);
    assert.equal(manifest(fixture, middle.id).FormatVersion, 4);
    const listed = (await fixture.engine.listBackups({})).map((backup) => backup.BackupId);
    assert.deepEqual(listed, [middle.id, old.id]);
    for (const decryption of [null, fixture.decryption])
      assert.equal((await fixture.engine.testBackup(old.id, decryption))[0]?.Status, 'Succeeded');
    await assertRestores(fixture, old);
    await assertRestores(fixture, middle);

    fixture.clock.advanceHours(25);
    const newest = await backUp(fixture);
    const left = (await fixture.engine.listBackups({})).map((backup) => backup.BackupId);
    assert.deepEqual(left, [newest.id, middle.id], 'retention deleted the format 3 backup');
    assert.equal(existsSync(oldFolder), false);
    await assertRestores(fixture, middle);
    await assertRestores(fixture, newest);
  });
});

describe('format 4: retention and prune', () => {
  let fixture: EngineFixture;
  before(async () => (fixture = await createEngine()));
  after(() => fixture.close());

  /** Every pack file in the store's epoch folders. */
  function storedPacks(): string[] {
    const root = path.join(fixture.store, 'MASBackup', 'Repository');
    return readdirSync(root).flatMap((epoch) =>
      readdirSync(path.join(root, epoch, 'packs')).map((name) => path.join(root, epoch, 'packs', name)),
    );
  }

  test('retention removes the packs only deleted backups used, prune its orphans; every retained backup restores', async () => {
    await fixture.engine.setConfiguration({ BackupRetentionPeriodInDays: 2 });
    const firstImage = writeImage(fixture);
    await backUp(fixture);
    fixture.clock.advanceHours(48);
    const secondImage = writeImage(fixture);
    const second = await backUp(fixture);
    fixture.clock.advanceHours(47);
    randomBytes(4096).copy(secondImage, IMAGE_BYTES / 2);
    writeImage(fixture, secondImage);
    const third = await backUp(fixture);

    const listed = (await fixture.engine.listBackups({})).map((backup) => backup.BackupId);
    assert.deepEqual(listed, [third.id, second.id], 'retention deleted the first backup');
    const retained = [second, third];
    // The first backup's pack, which the others use a little of, was repacked (repositoryRepack.test.ts).
    const kept = await livePackFiles(fixture, [second.id, third.id]);
    for (const file of kept) assert.ok(existsSync(file), `${file} of a retained backup is stored`);
    assert.deepEqual(storedPacks().sort(), [...kept].sort(), 'the packs only the first backup used are gone');
    for (const backup of retained) await assertRestores(fixture, backup);

    // The first image again: its chunks, whose pack retention removed, are stored anew.
    fixture.clock.advanceHours(1);
    writeImage(fixture, firstImage);
    const fourth = await backUp(fixture);
    retained.push(fourth);
    await assertRestores(fixture, fourth);

    // Orphans: a pack no manifest lists, and an upload cut short.
    const packs = path.dirname(packFiles(fixture, fourth.id)[0]!);
    const planted = randomBytes(4096);
    const orphan = path.join(packs, `${createHash('sha256').update(planted).digest('hex')}.pack`);
    const partial = `${packFiles(fixture, fourth.id)[0]!}.partial-0123abcd`;
    writeFileSync(orphan, planted);
    writeFileSync(partial, planted);
    const all = await livePackFiles(
      fixture,
      retained.map((backup) => backup.id),
    );
    const { PathsToDelete: found } = await fixture.engine.prune(true).done;
    assert.deepEqual(found.sort(), [orphan, partial].sort());
    assert.ok(existsSync(orphan) && existsSync(partial), 'a dry run removes nothing');
    const { PathsToDelete: removed } = await fixture.engine.prune(false).done;
    assert.deepEqual(removed.sort(), [orphan, partial].sort());
    assert.ok(!existsSync(orphan) && !existsSync(partial));
    for (const file of all) assert.ok(existsSync(file), `${file} of a retained backup is stored`);
    assert.equal(storedPacks().length, all.size);
    for (const backup of retained) await assertRestores(fixture, backup);
  });
});
