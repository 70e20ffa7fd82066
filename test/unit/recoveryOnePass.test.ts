/**
 * The one recovery path reads every stored byte once: Test-AzsBackup without and with the .pfx,
 * Restore-AzsBackup and `azsbackup extract` each read the role's stored file exactly once, counted
 * through the store, also when the file turns out damaged (then nothing is restored or extracted).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, beforeEach, describe, test } from 'node:test';
import { LocalFolderStore } from '../../src/storage/localStore.js';
import { extractBackup } from '../../src/cli/extract.js';
import type { BackupReader } from '../../src/engine/recoveryPass.js';
import type { BackupStore } from '../../src/storage/store.js';
import { tempDir } from '../helpers/daemon.js';
import { createEngine, type EngineFixture } from '../helpers/engine.js';

/** Bytes read per stored path, through readFile streams and digest() alike. */
class ReadCounter {
  readonly bytes = new Map<string, number>();

  add(file: string, count: number): void {
    this.bytes.set(file, (this.bytes.get(file) ?? 0) + count);
  }

  /** A stream giving `stream`'s bytes, counted under `file`. */
  counted(file: string, stream: Readable): Readable {
    const add = (count: number) => this.add(file, count);
    return Readable.from(
      (async function* () {
        for await (const chunk of stream as AsyncIterable<Buffer>) {
          add(chunk.length);
          yield chunk;
        }
      })(),
    );
  }

  /** The role files (not the manifests) read, with their byte counts. */
  roleFiles(): Map<string, number> {
    return new Map([...this.bytes].filter(([file]) => file.endsWith('.azsb')));
  }
}

function countingStore(store: BackupStore, counter: ReadCounter): BackupStore {
  return new Proxy(store, {
    get(target, property, receiver) {
      if (property === 'readFile')
        return async (file: string) => counter.counted(file, await target.readFile(file));
      if (property === 'digest')
        return async (file: string) => {
          const digest = await target.digest(file);
          counter.add(file, digest.size);
          return digest;
        };
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

describe('one pass over the stored bytes', () => {
  const counter = new ReadCounter();
  let fixture: EngineFixture;
  let backupId: string;
  let storedFile: string;
  let storedSize: number;
  const diskImage = randomBytes(5 * 1024 * 1024); // several blocks, incompressible

  before(async () => {
    fixture = await createEngine({ wrapStore: (store) => countingStore(store, counter) });
    writeFileSync(path.join(fixture.data, 'disk.img'), diskImage);
    backupId = (await fixture.engine.startBackup().done).BackupId;
    const [backup] = await fixture.engine.listBackups({});
    const [file] = (await roleFilesOf(fixture)).entries();
    [storedFile, storedSize] = file!;
    assert.equal(backup!.BackupId, backupId);
  });
  after(() => fixture.close());
  beforeEach(() => counter.bytes.clear());

  /** The stored file's path relative to the store, and its size, from the store folder itself. */
  async function roleFilesOf(engineFixture: EngineFixture): Promise<Map<string, number>> {
    const found = new Map<string, number>();
    const walk = (folder: string) => {
      for (const entry of readdirSync(folder, { withFileTypes: true })) {
        const full = path.join(folder, entry.name);
        if (entry.isDirectory()) walk(full);
        else if (entry.name.endsWith('.azsb'))
          found.set(
            path.relative(engineFixture.store, full).split(path.sep).join('/'),
            readFileSync(full).length,
          );
      }
    };
    walk(engineFixture.store);
    return found;
  }

  test('Test-AzsBackup without the .pfx reads the stored file once', async () => {
    const [result] = await fixture.engine.testBackup(backupId, null);
    assert.equal(result!.Status, 'Succeeded');
    assert.deepEqual(counter.roleFiles(), new Map([[storedFile, storedSize]]));
  });

  test('Test-AzsBackup with the .pfx reads it once too: hash, authentication and decompression in one pass', async () => {
    const [result] = await fixture.engine.testBackup(backupId, fixture.decryption);
    assert.equal(result!.Status, 'Succeeded');
    assert.deepEqual(counter.roleFiles(), new Map([[storedFile, storedSize]]));
  });

  test('Restore-AzsBackup reads it once and restores the data', async () => {
    writeFileSync(path.join(fixture.data, 'disk.img'), 'changed');
    const result = await fixture.engine.restore({ Name: backupId, ...fixture.decryption }).done;
    assert.deepEqual(result.RestoredRoles, ['CA']);
    assert.ok(readFileSync(path.join(fixture.data, 'disk.img')).equals(diskImage));
    assert.deepEqual(counter.roleFiles(), new Map([[storedFile, storedSize]]));
  });

  test('azsbackup extract reads it once and writes the role', async () => {
    const out = tempDir('one-pass-extract');
    const counted = (folder: string, manifest: BackupReader['manifest']): BackupReader => ({
      manifest,
      repository: new LocalFolderStore(fixture.store),
      read: async (relative) =>
        counter.counted(relative, Readable.from([readFileSync(path.join(folder, ...relative.split('/')))])),
    });
    const folder = path.join(fixture.store, ...storedFile.split('/').slice(0, -2));
    const roles = await extractBackup(
      {
        backupFolder: folder,
        pfxPath: fixture.decryption.DecryptionCertPath,
        pfxPassword: fixture.decryption.DecryptionCertPassword,
        outDir: out,
      },
      undefined,
      counted,
    );
    assert.deepEqual(
      roles.map((role) => role.RoleName),
      ['CA'],
    );
    assert.ok(readFileSync(path.join(out, 'CA', 'disk.img')).equals(diskImage));
    const relative = storedFile.split('/').slice(-2).join('/');
    assert.deepEqual(counter.roleFiles(), new Map([[relative, storedSize]]));
  });

  describe('a stored file changed in the middle', () => {
    let original: Buffer;
    const full = () => path.join(fixture.store, ...storedFile.split('/'));

    before(() => {
      original = readFileSync(full());
      const changed = Buffer.from(original);
      changed[Math.floor(changed.length / 2)]! ^= 1;
      writeFileSync(full(), changed);
    });
    after(() => writeFileSync(full(), original));

    test('fails Test-AzsBackup on the SHA-256, the file still read once', async () => {
      const [result] = await fixture.engine.testBackup(backupId, fixture.decryption);
      assert.equal(result!.Status, 'Failed');
      assert.equal(result!.File, storedFile.split('/').slice(-2).join('/'));
      assert.match(result!.ErrorMessage!, /SHA-256 differs/);
      assert.deepEqual(counter.roleFiles(), new Map([[storedFile, storedSize]]));
    });

    test('restores nothing: the role keeps its data, the staging beside it is gone', async () => {
      writeFileSync(path.join(fixture.data, 'disk.img'), 'kept');
      await assert.rejects(
        fixture.engine.restore({ Name: backupId, ...fixture.decryption }).done,
        (error: Error) =>
          /failed verification in role CA/.test(error.message) && /SHA-256 differs/.test(error.message),
      );
      assert.equal(readFileSync(path.join(fixture.data, 'disk.img'), 'utf8'), 'kept');
      const siblings = readdirSync(path.dirname(fixture.data)).filter((name) => name !== 'CA');
      assert.deepEqual(siblings, [], 'no staging copy is left beside the role');
      assert.deepEqual(counter.roleFiles(), new Map([[storedFile, storedSize]]));
    });

    test('extracts nothing for the role', async () => {
      const out = tempDir('one-pass-extract-damaged');
      const folder = path.join(fixture.store, ...storedFile.split('/').slice(0, -2));
      await assert.rejects(
        extractBackup({
          backupFolder: folder,
          pfxPath: fixture.decryption.DecryptionCertPath,
          pfxPassword: fixture.decryption.DecryptionCertPassword,
          outDir: out,
        }),
        /SHA-256 differs/,
      );
      assert.deepEqual(readdirSync(out), []);
      assert.equal(existsSync(path.join(out, 'CA')), false);
    });
  });
});
