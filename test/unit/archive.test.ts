/** Role data files: what goes in comes out, byte for byte, with real zstd and real AES-256-GCM. */
import assert from 'node:assert/strict';
import { createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import { decompress as zstdDecompress } from 'zstd-napi';
import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { describe, it } from 'node:test';
import { crc32 } from 'node:zlib';
import type { ArchiveEntry } from '../../src/archive/entry.js';
import {
  ROLE_FILE_VERSION,
  compareReadBack,
  readRoleArchive,
  verifyRoleArchive,
  storedFileProblem,
  writeRoleArchive,
} from '../../src/archive/index.js';
import { entryPathProblem } from '../../src/archive/entryPath.js';
import { isAzsError } from '../../src/protocol/errors.js';
import { digestStream } from '../../src/util/fileDigest.js';
import {
  FILE_ID,
  compressible,
  directory,
  file,
  iterate,
  key,
  readAll,
  splitEvery,
  splitFrames,
  symlink,
  writeToBuffer,
} from './archiveFixtures.js';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

function headerOf(entry: ArchiveEntry) {
  const { path, type, mode, mtimeMs, size, linkTarget } = entry;
  return linkTarget === undefined
    ? { path, type, mode, mtimeMs, size }
    : { path, type, mode, mtimeMs, size, linkTarget };
}

describe('role archive round trip', () => {
  const big = compressible(50 * 1000 * 1000);
  const random = randomBytes(3 * 1024 * 1024 + 17);
  const longPath = Array.from({ length: 30 }, (_, index) => `segment-${index}-${'x'.repeat(120)}`).join('/');
  const contents = new Map<string, Buffer>([
    ['empty.txt', Buffer.alloc(0)],
    ['données/日本語/emoji-😀.txt', Buffer.from('unicode ✓\n')],
    [longPath, Buffer.from('deep')],
    ['big/fifty-megabytes.bin', big],
    ['big/random.bin', random],
    ['odd name with spaces & \\backslash', Buffer.from('odd')],
  ]);
  const entries: ArchiveEntry[] = [
    directory('empty-folder'),
    directory('données', 0o700),
    file('empty.txt', Buffer.alloc(0), 0o600),
    { path: 'empty-no-content', type: 'file', mode: 0o644, mtimeMs: 0, size: 0 },
    file('données/日本語/emoji-😀.txt', contents.get('données/日本語/emoji-😀.txt')!),
    file(longPath, contents.get(longPath)!),
    symlink('link-relative', '../outside/is/just/text'),
    symlink('link-absolute', '/etc/hostname'),
    file('big/fifty-megabytes.bin', big, 0o640),
    file('big/random.bin', random, 0o755),
    file('odd name with spaces & \\backslash', contents.get('odd name with spaces & \\backslash')!),
  ];

  it('gives back every entry, its metadata and its exact content', async () => {
    const { stored, summary } = await writeToBuffer(entries);
    const { entries: read, error } = await readAll(stored);
    assert.equal(error, undefined);
    assert.deepEqual(
      read.map(({ data: _data, ...header }) => header),
      entries.map(headerOf),
    );
    for (const entry of read.filter((item) => item.type === 'file')) {
      const expected = contents.get(entry.path) ?? Buffer.alloc(0);
      assert.ok(entry.data!.equals(expected), `content of ${entry.path}`);
    }
    assert.equal(summary.entries, entries.length);
    assert.equal(summary.files, 7);
    assert.equal(
      summary.sourceBytes,
      [...contents.values()].reduce((total, data) => total + data.length, 0),
    );
    assert.equal(summary.storedBytes, stored.length);
    assert.equal(summary.crc32, crc32(stored));
    assert.ok(summary.storedBytes < summary.sourceBytes / 3, 'compressible data is compressed');
  });

  it('stores data that does not compress as it is, and compresses data that does', async () => {
    const blockSize = 256 * 1024;
    const raw = await writeToBuffer([file('random.bin', randomBytes(2 * 1024 * 1024))], { blockSize });
    const encodings = splitFrames(raw.stored).frames.map((frame) => frame[0]);
    // Every full block of random data is raw (0); only the last, holding the small end record, may shrink.
    assert.deepEqual(encodings.slice(0, -1), Array(encodings.length - 1).fill(0));
    assert.ok(raw.stored.length - raw.summary.sourceBytes < 2048, 'raw storage adds only framing');
    const packed = await writeToBuffer([file('text.bin', compressible(2 * 1024 * 1024))], { blockSize });
    assert.ok(splitFrames(packed.stored).frames.every((frame) => frame[0] === 1));
  });

  it('writes a fresh salt every time: the same data never gives the same bytes', async () => {
    const first = await writeToBuffer([file('a', Buffer.from('same'))]);
    const second = await writeToBuffer([file('a', Buffer.from('same'))]);
    assert.notDeepEqual(first.stored, second.stored);
  });

  it('writes a valid file for a role with no entries', async () => {
    const { stored, summary } = await writeToBuffer([]);
    assert.deepEqual(
      { ...summary, crc32: undefined, storedBytes: undefined },
      {
        entries: 0,
        files: 0,
        sourceBytes: 0,
        crc32: undefined,
        storedBytes: undefined,
        changedDuringCopy: [],
      },
    );
    assert.deepEqual(await readAll(stored), { entries: [] });
  });

  it('drains and checks the content of entries the consumer skips', async () => {
    const { stored } = await writeToBuffer(
      [file('a.bin', randomBytes(300_000)), file('b.txt', Buffer.from('after'))],
      {
        blockSize: 65_536,
      },
    );
    const seen: string[] = [];
    let last: Buffer | undefined;
    for await (const entry of readRoleArchive(Readable.from([stored]), {
      key,
      fileId: FILE_ID,
      formatVersion: ROLE_FILE_VERSION,
    })) {
      seen.push(entry.path);
      if (entry.path === 'a.bin') {
        void entry.content![Symbol.asyncIterator]().next(); // starts reading, then abandons it
        continue;
      }
      const parts: Buffer[] = [];
      for await (const part of entry.content!) parts.push(part);
      last = Buffer.concat(parts);
    }
    assert.deepEqual(seen, ['a.bin', 'b.txt']);
    assert.equal(last?.toString(), 'after');
  });

  it('closes the stored stream when the consumer stops early', async () => {
    const { stored } = await writeToBuffer([file('a', Buffer.from('1')), file('b', randomBytes(30_000_000))]);
    const source = Readable.from(splitEvery(stored, 65_536));
    for await (const entry of readRoleArchive(source, {
      key,
      fileId: FILE_ID,
      formatVersion: ROLE_FILE_VERSION,
    })) {
      assert.equal(entry.path, 'a');
      break;
    }
    assert.equal(source.destroyed, true);
  });

  it('verifies a sound file without the consumer reading anything', async () => {
    const { stored } = await writeToBuffer(entries.slice(0, 8));
    assert.deepEqual(
      await verifyRoleArchive(Readable.from([stored]), {
        key,
        fileId: FILE_ID,
        formatVersion: ROLE_FILE_VERSION,
      }),
      {
        ok: true,
      },
    );
  });

  it('checks a stored file against its manifest size and SHA-256 without the key', async () => {
    const { stored, summary } = await writeToBuffer([file('a', Buffer.from('data'))]);
    const expected = { Size: summary.storedBytes, Sha256: sha256(stored) };
    const problem = async (bytes: Buffer) =>
      storedFileProblem(await digestStream(Readable.from([bytes])), expected);
    assert.equal(await problem(stored), null);
    assert.match((await problem(stored.subarray(1)))!, /bytes long/);
    const changed = Buffer.from(stored);
    changed[changed.length - 1]! ^= 1;
    assert.match((await problem(changed))!, /SHA-256 differs/);
  });

  it('compares a file read back with what was written, giving its SHA-256', async () => {
    const { stored, summary } = await writeToBuffer([file('a', compressible(100_000))]);
    const written = { size: summary.storedBytes, crc32: summary.crc32 };
    const changed = Buffer.from(stored);
    changed[40]! ^= 1;
    for (const [bytes, expected] of [
      [stored, { sha256: sha256(stored) }],
      [
        stored.subarray(1),
        { problem: `it is ${stored.length - 1} bytes long, but ${stored.length} were written` },
      ],
      [changed, { problem: 'its bytes differ from the ones written (CRC-32)' }],
    ] as const)
      assert.deepEqual(compareReadBack(await digestStream(Readable.from([bytes])), written), expected);
  });
});

describe('role archive format as documented', () => {
  /** Reads a role file with nothing but docs/format.md, Node's crypto and zstd: no archive code. */
  function readByTheDocs(stored: Buffer, backupKey: Buffer, fileId: string): Buffer {
    const fileHeader = stored.subarray(0, 32);
    assert.equal(fileHeader.subarray(0, 8).toString('ascii'), 'AZSBROLE');
    assert.equal(fileHeader[8], 3);
    const info = Buffer.concat([Buffer.from('AzureStackBackup chunk key v1\0'), Buffer.from(fileId, 'utf8')]);
    const fileKey = Buffer.from(hkdfSync('sha256', backupKey, fileHeader.subarray(16, 32), info, 32));
    const plaintext: Buffer[] = [];
    let final = false;
    for (let offset = 32, index = 0; !final; index += 1) {
      const frameHeader = stored.subarray(offset, offset + 12);
      final = frameHeader[1] === 1;
      const payloadLength = frameHeader.readUInt32BE(4);
      const nonce = Buffer.from(
        `${index.toString(16).padStart(16, '0')}${final ? '00000001' : '00000000'}`,
        'hex',
      );
      const decipher = createDecipheriv('aes-256-gcm', fileKey, nonce);
      decipher.setAAD(Buffer.concat([fileHeader, frameHeader]));
      decipher.setAuthTag(stored.subarray(offset + 12 + payloadLength, offset + 12 + payloadLength + 16));
      const payload = Buffer.concat([
        decipher.update(stored.subarray(offset + 12, offset + 12 + payloadLength)),
        decipher.final(),
      ]);
      plaintext.push(frameHeader[0] === 1 ? zstdDecompress(payload) : payload);
      assert.equal(plaintext.at(-1)!.length, frameHeader.readUInt32BE(8));
      offset += 12 + payloadLength + 16;
      if (final) assert.equal(offset, stored.length);
    }
    return Buffer.concat(plaintext);
  }

  it('can be read with nothing but docs/format.md', async () => {
    const content = compressible(300_000);
    const { stored } = await writeToBuffer([directory('d'), file('d/f.txt', content)], { blockSize: 65_536 });
    const records = readByTheDocs(stored, key, FILE_ID);
    let offset = 0;
    const next = () => {
      const type = records[offset]!;
      const length = records.readUInt32BE(offset + 1);
      const header = JSON.parse(records.subarray(offset + 5, offset + 5 + length).toString('utf8'));
      offset += 5 + length;
      return { type, header };
    };
    assert.deepEqual(next(), {
      type: 1,
      header: { path: 'd', type: 'directory', mode: 0o755, mtimeMs: 1_600_000_000_000, size: 0 },
    });
    const fileRecord = next();
    assert.equal(fileRecord.header.size, content.length);
    assert.ok(records.subarray(offset, offset + content.length).equals(content));
    offset += content.length;
    assert.deepEqual(next(), { type: 0, header: { entries: 2, files: 1, sourceBytes: content.length } });
    assert.equal(offset, records.length);
  });
});

describe('role archive writer refusals', () => {
  async function writeFails(entries: ArchiveEntry[], signal?: AbortSignal) {
    const { stream, summary } = writeRoleArchive(iterate(entries), { key, fileId: FILE_ID, signal });
    await assert.rejects(finished(stream.resume()));
    return summary.then(
      () => assert.fail('summary resolved for a failed archive'),
      (error: unknown) => error,
    );
  }

  it('fails with RoleFailed when a file is not the size it announced', async () => {
    const longer = { ...file('grew.log', Buffer.from('0123456789')), size: 4 };
    const error = await writeFails([longer]);
    assert.ok(isAzsError(error, 'RoleFailed'));
    assert.equal(error.target, 'grew.log');
    const shorter = { ...file('shrank.log', Buffer.from('01')), size: 4 };
    assert.ok(isAzsError(await writeFails([shorter]), 'RoleFailed'));
  });

  it('refuses an entry path that could escape the role folder', async () => {
    for (const path of ['../escape', '/absolute', 'a/../../b', 'a//b', 'C:/windows', 'nul\0byte', '']) {
      const error = await writeFails([file(path, Buffer.from('x'))]);
      assert.ok(isAzsError(error, 'RoleFailed'), `path ${JSON.stringify(path)}`);
    }
  });

  it('tells an empty, a dot and a dot-dot segment from names that only hold dots', () => {
    for (const path of ['a/', 'a//b', '.', './a', 'a/./b', 'a/.']) {
      assert.equal(entryPathProblem(path), "the path has an empty or '.' segment", JSON.stringify(path));
    }
    for (const path of ['..', '../a', 'a/..', 'a/../b', 'a\\..\\b', '..\\a', 'a\\..']) {
      assert.equal(entryPathProblem(path), "the path has a '..' segment", JSON.stringify(path));
    }
    for (const path of ['a', '.a', 'a.', '..a', 'a..', 'a/...', '.../b', 'a/.b/..c', 'a\\.\\b']) {
      assert.equal(entryPathProblem(path), null, JSON.stringify(path));
    }
  });

  it('stops with JobCancelled when the job is cancelled', async () => {
    const controller = new AbortController();
    async function* endless(): AsyncGenerator<ArchiveEntry> {
      for (let index = 0; ; index += 1) {
        if (index === 20) controller.abort();
        yield file(`f${index}`, randomBytes(100_000));
      }
    }
    const { stream, summary } = writeRoleArchive(endless(), {
      key,
      fileId: FILE_ID,
      signal: controller.signal,
    });
    await assert.rejects(finished(stream.resume()), (error: unknown) => isAzsError(error, 'JobCancelled'));
    await assert.rejects(summary, (error: unknown) => isAzsError(error, 'JobCancelled'));
  });
});
