/**
 * The one contract suite every BackupStore backend must pass (see src/storage/store.ts). A backend's
 * test file calls `storeConformance(name, factory)`, where the factory returns a store whose root is
 * an existing, empty folder of its own, and a way to change a stored file behind the store's back.
 * A store kept in files also gives that folder on this machine (`disk`), where the suite plants what
 * a writer of the share could: links. A blob container has none, so its suite (`keptInFiles: false`)
 * has no link test at all.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { describe, it, type TestContext } from 'node:test';
import { crc32 } from 'node:zlib';
import { isAzsError } from '../../src/protocol/errors.js';
import { probeStore } from '../../src/storage/probe.js';
import type { BackupStore } from '../../src/storage/store.js';

const MiB = 1024 * 1024;

export interface StoreUnderTest {
  store: BackupStore;
  /** Replaces a stored file's bytes without the store, as a writer of the server could. */
  overwrite: (relativePath: string, content: Buffer) => Promise<void>;
  /** The store's root folder on this machine, for a store kept in files. */
  disk?: string;
}

/** `overwrite` for a store whose files are in `disk`. */
export function overwriteIn(disk: string): StoreUnderTest['overwrite'] {
  return (relativePath, content) => writeFile(path.join(disk, relativePath), content);
}

export function storeConformance(
  name: string,
  factory: () => Promise<StoreUnderTest>,
  { keptInFiles = true }: { keptInFiles?: boolean } = {},
): void {
  /** Runs `body` with a fresh store and closes it afterwards. */
  const withStore =
    (body: (store: BackupStore, under: StoreUnderTest, t: TestContext) => Promise<void>) =>
    async (t: TestContext) => {
      const under = await factory();
      const { store } = under;
      try {
        await body(store, under, t);
      } finally {
        await store.close();
      }
    };

  describe(`BackupStore contract: ${name}`, () => {
    it(
      'reaches its root',
      withStore(async (store) => {
        await store.checkRoot();
        assert.deepEqual(await store.list(''), []);
      }),
    );

    it(
      'writes a file and reads the same bytes back',
      withStore(async (store) => {
        const content = randomBytes(300_000);
        assert.equal(await store.writeFile('one.bin', Readable.from([content])), content.length);
        assert.deepEqual(await readAll(store, 'one.bin'), content);
      }),
    );

    it(
      'round-trips an empty file and a name with spaces, quotes and non-ASCII letters',
      withStore(async (store) => {
        const name = "Ré sumé 'x' – ünïcødé.bin";
        assert.equal(await store.writeFile('empty', Readable.from([])), 0);
        assert.equal((await readAll(store, 'empty')).length, 0);
        await store.writeFile(name, Readable.from([Buffer.from('text')]));
        assert.equal((await readAll(store, name)).toString(), 'text');
        assert.deepEqual((await store.list('')).map((entry) => entry.name).sort(), [name, 'empty'].sort());
      }),
    );

    it(
      'streams a 100 MB file both ways with bounded memory',
      withStore(async (store) => {
        const size = 100 * MiB;
        const memory = new MemoryWatch();
        const source = generated(size);
        assert.equal(await store.writeFile('big.bin', source.stream), size);
        const readBack = createHash('sha256');
        let length = 0;
        for await (const chunk of await store.readFile('big.bin')) {
          readBack.update(chunk as Buffer);
          length += (chunk as Buffer).length;
        }
        memory.stop();
        assert.equal(length, size);
        assert.equal(readBack.digest('hex'), source.digest());
        assert.ok(
          memory.growthMiB() < 64,
          `memory grew by ${memory.growthMiB()} MiB while streaming 100 MiB`,
        );
      }),
    );

    it(
      'never shows a partly written file under its name, and keeps an earlier file intact',
      withStore(async (store) => {
        await store.writeFile('kept.bin', Readable.from([Buffer.from('earlier')]));
        await assert.rejects(store.writeFile('kept.bin', failing(3 * MiB)), /source broke/);
        await assert.rejects(store.writeFile('new.bin', failing(3 * MiB)), /source broke/);
        assert.equal((await readAll(store, 'kept.bin')).toString(), 'earlier');
        assert.equal(await store.stat('new.bin'), null);
        assert.deepEqual(
          (await store.list('')).map((entry) => entry.name),
          ['kept.bin'],
          'no temporary file is left behind',
        );
      }),
    );

    it(
      'replaces a file written again under the same name',
      withStore(async (store) => {
        await store.writeFile('f', Readable.from([Buffer.from('first')]));
        await store.writeFile('f', Readable.from([Buffer.from('second')]));
        assert.equal((await readAll(store, 'f')).toString(), 'second');
      }),
    );

    it(
      'creates folders with their parents, and again without complaint',
      withStore(async (store) => {
        await store.mkdir('a/b/c');
        await store.mkdir('a/b/c');
        await store.mkdir('a');
        assert.equal((await store.stat('a/b/c'))?.type, 'directory');
        assert.deepEqual(await store.list('a/b/c'), [], 'a new folder is empty');
      }),
    );

    it(
      'after making folders, lists only the folder asked for and measures its capacity (one store for all)',
      withStore(async (store) => {
        await store.mkdir('m/n/o');
        await store.writeFile('m/n/o/f', Readable.from([Buffer.from('x')]));
        assert.deepEqual(
          (await store.list('m')).map((entry) => entry.name),
          ['n'],
        );
        assert.notEqual((await store.capacity())?.totalBytes, 0);
      }),
    );

    it(
      'lists a folder and stats entries',
      withStore(async (store) => {
        const before = Date.now();
        await store.mkdir('d/sub');
        await store.writeFile('d/file.bin', Readable.from([Buffer.alloc(1234, 7)]));
        const entries = await store.list('d');
        assert.deepEqual(
          entries.map(({ name, type }) => ({ name, type })).sort((x, y) => x.name.localeCompare(y.name)),
          [
            { name: 'file.bin', type: 'file' },
            { name: 'sub', type: 'directory' },
          ],
        );
        const file = await store.stat('d/file.bin');
        assert.equal(file?.type, 'file');
        assert.equal(file?.size, 1234);
        assert.equal(file?.name, 'file.bin');
        // Whole seconds are all some servers keep; allow for that and for clock skew.
        assert.ok(
          Math.abs(file!.modified.getTime() - before) < 120_000,
          `modified ${file?.modified.toISOString()}`,
        );
        assert.equal((await store.stat('d/sub'))?.type, 'directory');
        assert.equal(await store.stat('d/missing'), null);
        assert.equal(await store.stat('missing/deeper'), null);
        assert.deepEqual(await store.list('missing'), []);
      }),
    );

    it(
      'removes a file, a whole tree, and nothing without complaint',
      withStore(async (store) => {
        await store.writeFile('f', Readable.from([Buffer.from('f')]));
        await store.mkdir('t/u/v');
        await store.writeFile('t/u/v/deep', Readable.from([Buffer.from('deep')]));
        await store.writeFile('t/top', Readable.from([Buffer.from('top')]));
        await store.remove('f');
        await store.remove('t');
        await store.remove('never-was');
        await store.remove('never/was');
        assert.deepEqual(await store.list(''), []);
      }),
    );

    if (keptInFiles)
      it(
        'never reads, lists, writes or removes anything through a link that leads out of the store',
        withStore(async (store, { disk }) => {
          assert.ok(disk, 'a store kept in files gives its folder on this machine');
          const outside = await mkdtemp(path.join(os.tmpdir(), 'azs-outside-'));
          try {
            await writeFile(path.join(outside, 'victim'), 'outside');
            await chmod(outside, 0o777); // a server that followed the link could act there
            await store.mkdir('d');
            await symlink(outside, path.join(disk, 'd', 'folder-link'));
            await symlink(path.join(outside, 'victim'), path.join(disk, 'd', 'file-link'));
            const listed = await store.list('d');
            assert.ok(
              listed.every((entry) => entry.type === 'other'),
              `links listed as ${JSON.stringify(listed)}`,
            );
            const throughLink = await store.list('d/folder-link').catch(() => []);
            assert.deepEqual(throughLink, [], 'nothing is listed through a link');
            await assert.rejects(readAll(store, 'd/file-link'));
            await assert.rejects(readAll(store, 'd/folder-link/victim'));
            await assert.rejects(store.digest('d/file-link'));
            await assert.rejects(store.digest('d/folder-link/victim'));
            await assert.rejects(store.writeFile('d/folder-link/planted', Readable.from([Buffer.from('x')])));
            await store.mkdir('d/folder-link/sub').catch(() => undefined);
            for (const target of ['d/folder-link/victim', 'd/folder-link', 'd/file-link'])
              await store.remove(target).catch(() => undefined);
            assert.deepEqual(await readdir(outside), ['victim']);
            assert.equal(await readFile(path.join(outside, 'victim'), 'utf8'), 'outside');
          } finally {
            await rm(outside, { recursive: true, force: true });
          }
        }),
      );

    it(
      'fails to read a missing file with PathNotFound',
      withStore(async (store) => {
        await assert.rejects(store.readFile('absent.bin'), (error) => isAzsError(error, 'PathNotFound'));
      }),
    );

    it(
      'reads a file back as its size, SHA-256 and CRC-32',
      withStore(async (store) => {
        // Empty, small, and longer than two read chunks of any backend, ending off any alignment.
        for (const length of [0, 300_000, 5 * MiB + 123]) {
          const content = randomBytes(length);
          await store.writeFile(`f-${length}`, Readable.from([content]));
          assert.deepEqual(await store.digest(`f-${length}`), {
            size: length,
            sha256: createHash('sha256').update(content).digest('hex'),
            crc32: crc32(content),
          });
        }
      }),
    );

    it(
      'reads a changed file back as a different digest, from the file itself',
      withStore(async (store, { overwrite }) => {
        const content = randomBytes(100_000);
        await store.writeFile('f', Readable.from([content]));
        const before = await store.digest('f');
        const changed = Buffer.from(content);
        changed[50_000]! ^= 1;
        await overwrite('f', changed);
        const after = await store.digest('f');
        assert.equal(after.size, before.size);
        assert.notEqual(after.sha256, before.sha256);
        assert.notEqual(after.crc32, before.crc32);
        await overwrite('f', content.subarray(1));
        assert.equal((await store.digest('f')).size, content.length - 1);
      }),
    );

    it(
      'fails to read back a missing file with PathNotFound',
      withStore(async (store) => {
        await assert.rejects(store.digest('absent.bin'), (error) => isAzsError(error, 'PathNotFound'));
        await assert.rejects(store.digest('absent/deeper.bin'), (error) => isAzsError(error, 'PathNotFound'));
      }),
    );

    it(
      'reports its capacity, or that it cannot tell',
      withStore(async (store) => {
        const capacity = await store.capacity();
        if (!capacity) return;
        const { availableBytes, totalBytes } = capacity;
        assert.ok(availableBytes > 0, `available ${availableBytes}`);
        assert.ok(totalBytes >= availableBytes, `total ${totalBytes} < available ${availableBytes}`);
      }),
    );

    it(
      'passes the share probe and leaves nothing behind',
      withStore(async (store) => {
        const report = await probeStore(store);
        assert.equal(report.failure, null, report.failure?.message);
        assert.deepEqual(
          report.checks.map((step) => [step.check, step.passed]),
          ['Reachability', 'Protocol', 'Write', 'Read', 'Delete', 'Capacity'].map((check) => [check, true]),
        );
        assert.deepEqual(await store.list(''), []);
      }),
    );
  });
}

export async function readAll(store: BackupStore, relativePath: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of await store.readFile(relativePath)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** A stream of `size` random bytes made on the fly, and the SHA-256 of what it produced. */
export function generated(size: number): { stream: Readable; digest: () => string } {
  const hash = createHash('sha256');
  let left = size;
  const stream = new Readable({
    read() {
      if (left === 0) return void this.push(null);
      const chunk = randomBytes(Math.min(MiB, left));
      left -= chunk.length;
      hash.update(chunk);
      this.push(chunk);
    },
  });
  return { stream, digest: () => hash.digest('hex') };
}

/** A source that yields `before` bytes, then fails as a broken upstream (a crashed role) would. */
export function failing(before: number): Readable {
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= before) return void this.destroy(new Error('source broke'));
      sent += MiB;
      this.push(randomBytes(MiB));
    },
  });
}

/** Samples the process's resident memory to find how much a transfer added at its peak. */
class MemoryWatch {
  private readonly baseline = process.memoryUsage().rss;
  private peak = this.baseline;
  private readonly timer = setInterval(() => {
    this.peak = Math.max(this.peak, process.memoryUsage().rss);
  }, 50);

  stop(): void {
    clearInterval(this.timer);
    this.peak = Math.max(this.peak, process.memoryUsage().rss);
  }

  growthMiB(): number {
    return Math.round((this.peak - this.baseline) / MiB);
  }
}
