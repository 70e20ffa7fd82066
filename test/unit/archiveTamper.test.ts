/**
 * Damaged and hostile role files: every change to a stored file is a clear BackupCorrupt error, and
 * no byte that was not written by the backup is ever handed out.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { sharedBlockPool } from '../../src/archive/blockPool.js';
import { ROLE_FILE_VERSION, readRoleArchive, verifyRoleArchive } from '../../src/archive/index.js';
import { encodeFileHeader } from '../../src/archive/roleFileFormat.js';
import { BlockBuffers, BlockFiller, sealBlocks } from '../../src/archive/sealedBlocks.js';
import { FILE_SALT_BYTES, deriveFileKey } from '../../src/crypto/chunkCipher.js';
import { isAzsError } from '../../src/protocol/errors.js';
import {
  FILE_ID,
  compressible,
  directory,
  file,
  iterate,
  key,
  readAll,
  splitFrames,
  writeToBuffer,
  type ReadEntry,
  type ReadOptions,
} from './archiveFixtures.js';

const BLOCK = 65_536;
const contents = new Map([
  ['a.bin', randomBytes(400_000)],
  ['b.txt', compressible(300_000)],
]);
const entries = [
  directory('folder'),
  file('a.bin', contents.get('a.bin')!),
  file('b.txt', contents.get('b.txt')!),
];
const original = await writeToBuffer(entries, { blockSize: BLOCK });
const { header, frames } = splitFrames(original.stored);

/** Reading fails with BackupCorrupt, and whatever was delivered before is exactly what was written. */
async function assertRefused(stored: Buffer, options: ReadOptions = {}) {
  const { entries: read, error } = await readAll(stored, options);
  assert.ok(isAzsError(error, 'BackupCorrupt'), `expected BackupCorrupt, got ${String(error)}`);
  assert.match(error.message, /damaged|not a usable|format version/);
  assertNothingWrong(read);
  const verdict = await verifyRoleArchive(Readable.from([stored]), {
    key: options.archiveKey ?? key,
    fileId: options.fileId ?? FILE_ID,
    formatVersion: options.formatVersion ?? ROLE_FILE_VERSION,
  });
  assert.equal(verdict.ok, false);
  return error;
}

function assertNothingWrong(read: ReadEntry[]) {
  for (const entry of read) {
    const expected = contents.get(entry.path);
    if (!expected || !entry.data) continue;
    assert.ok(
      expected.subarray(0, entry.data.length).equals(entry.data),
      `${entry.path}: only written bytes come out`,
    );
  }
}

describe('tampered role files', () => {
  it('has enough blocks for the cases below', () => {
    assert.ok(frames.length >= 6, `${frames.length} frames`);
  });

  it('refuses a file with any one byte flipped', async () => {
    const positions = new Set([0, 8, 9, 12, 15, 16, 31, 32, 33, 36, 40, 44, original.stored.length - 1]);
    for (let position = 45; position < original.stored.length; position += 9973) positions.add(position);
    let offset = 32;
    for (const frame of frames) {
      positions
        .add(offset + 1)
        .add(offset + 5)
        .add(offset + 12)
        .add(offset + frame.length - 1);
      offset += frame.length;
    }
    for (const position of positions) {
      const changed = Buffer.from(original.stored);
      changed[position]! ^= 0x01;
      await assertRefused(changed);
    }
  });

  it('refuses a file with a block removed', async () => {
    for (const dropped of [0, 1, frames.length - 2, frames.length - 1]) {
      await assertRefused(Buffer.concat([header, ...frames.filter((_, index) => index !== dropped)]));
    }
  });

  it('refuses a file with two blocks swapped or one block repeated', async () => {
    const swapped = [...frames];
    [swapped[1], swapped[2]] = [swapped[2]!, swapped[1]!];
    await assertRefused(Buffer.concat([header, ...swapped]));
    await assertRefused(Buffer.concat([header, frames[0]!, frames[1]!, ...frames.slice(1)]));
  });

  it('keeps refusing a file whose content proved damaged, reading nothing more after it', async () => {
    const repeated = Buffer.concat([header, frames[0]!, frames[1]!, ...frames.slice(1)]);
    const read = readRoleArchive(Readable.from([repeated]), {
      key,
      fileId: FILE_ID,
      formatVersion: ROLE_FILE_VERSION,
    });
    for await (const entry of read) {
      if (entry.path !== 'a.bin') continue;
      const content = entry.content![Symbol.asyncIterator]();
      let delivered = 0;
      const failure = await (async () => {
        for (let next = await content.next(); !next.done; next = await content.next())
          delivered += next.value.length;
      })().then(
        () => null,
        (error: unknown) => error,
      );
      assert.ok(isAzsError(failure, 'BackupCorrupt'), `expected BackupCorrupt, got ${String(failure)}`);
      assert.ok(delivered < contents.get('a.bin')!.length, 'the content stopped at the damage');
      await assert.rejects(content.next(), (error) => error === failure);
      return;
    }
    assert.fail('a.bin was not read');
  });

  it('refuses a file cut short anywhere', async () => {
    const cuts = [
      0,
      10,
      32,
      40,
      32 + frames[0]!.length,
      original.stored.length - 1,
      original.stored.length - 16,
    ];
    let boundary = 32;
    for (const frame of frames.slice(0, -1)) cuts.push((boundary += frame.length));
    for (const cut of cuts) await assertRefused(original.stored.subarray(0, cut));
  });

  it('refuses bytes appended after the last block', async () => {
    await assertRefused(Buffer.concat([original.stored, Buffer.from([0])]));
    await assertRefused(Buffer.concat([original.stored, frames.at(-1)!]));
    await assertRefused(Buffer.concat([original.stored, frames[0]!]));
  });

  it('refuses a file cut short whose new last block claims to be final', async () => {
    const forged = Buffer.from(frames[2]!);
    forged[1] = 1; // the final flag
    await assertRefused(Buffer.concat([header, frames[0]!, frames[1]!, forged]));
  });

  it('refuses blocks from another file or another backup, and a file read under another id', async () => {
    const sameLayout = async (options: { fileId?: string; archiveKey?: Buffer }) =>
      splitFrames((await writeToBuffer(entries, { blockSize: BLOCK, ...options })).stored);
    const otherFile = await sameLayout({ fileId: 'WAS/WAS.azsb' });
    await assertRefused(Buffer.concat([header, frames[0]!, otherFile.frames[1]!, ...frames.slice(2)]));
    await assertRefused(Buffer.concat([otherFile.header, ...frames]));
    const otherBackup = await sameLayout({ archiveKey: randomBytes(32) });
    await assertRefused(Buffer.concat([header, frames[0]!, otherBackup.frames[1]!, ...frames.slice(2)]));
    await assertRefused(original.stored, { fileId: 'WAS/WAS.azsb' });
    await assertRefused(original.stored, { archiveKey: randomBytes(32) });
  });

  it('refuses a file of a newer format version with a message that says so', async () => {
    const newer = Buffer.from(original.stored);
    newer[8] = ROLE_FILE_VERSION + 1;
    const error = await assertRefused(newer);
    assert.match(
      error.message,
      new RegExp(`format version ${ROLE_FILE_VERSION + 1}.*reads versions 1 to ${ROLE_FILE_VERSION}`),
    );
  });

  it("refuses a file that is not of its manifest's format: a manifest rewritten to a format without a MAC", async () => {
    const older = ROLE_FILE_VERSION - 1;
    const error = await assertRefused(original.stored, { formatVersion: older });
    assert.match(
      error.message,
      new RegExp(`version ${ROLE_FILE_VERSION} role file, but its manifest says format ${older}`),
    );
    // Rewriting the file's version byte to match does not help: the blocks authenticate the header.
    const relabelled = Buffer.from(original.stored);
    relabelled[8] = older;
    await assertRefused(relabelled, { formatVersion: older });
  });
});

// Hostile files: sealed with the right key, so only the record checks stand between them and the disk.
/** An entry record; `hash` follows the content as in format version 1. */
function entryRecord(fields: Record<string, unknown>, content?: Buffer, hash?: Buffer): Buffer {
  const json = Buffer.from(JSON.stringify(fields));
  const prefix = Buffer.alloc(5);
  prefix.writeUInt8(1, 0);
  prefix.writeUInt32BE(json.length, 1);
  return Buffer.concat([prefix, json, content ?? Buffer.alloc(0), hash ?? Buffer.alloc(0)]);
}

function endRecord(totals: { entries: number; files: number; sourceBytes: number }): Buffer {
  const json = Buffer.from(JSON.stringify(totals));
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(json.length, 1);
  return Buffer.concat([prefix, json]);
}

/**
 * A one-block role file of format version 1, as that version's writer sealed it: the version byte is
 * part of every block's authenticated data, so it cannot be patched in after sealing.
 */
async function sealVersion1(...records: Buffer[]): Promise<Buffer> {
  const salt = randomBytes(FILE_SALT_BYTES);
  const fileHeader = encodeFileHeader({ blockSize: BLOCK, salt });
  fileHeader[8] = 1;
  const { frame } = await sharedBlockPool().seal({
    fileKey: deriveFileKey(key, salt, FILE_ID),
    fileHeader,
    index: 0,
    final: true,
    data: Buffer.concat(records),
  });
  return Buffer.concat([fileHeader, ...frame]);
}

async function sealRecords(...records: Buffer[]): Promise<Buffer> {
  const parts: Buffer[] = [];
  const buffers = new BlockBuffers(BLOCK);
  const filler = new BlockFiller(buffers);
  filler.write(Buffer.concat(records));
  const blocks = iterate(filler.finish());
  for await (const piece of sealBlocks(blocks, buffers, { key, fileId: FILE_ID, pool: sharedBlockPool() }))
    parts.push(...piece.parts);
  return Buffer.concat(parts);
}

const fileFields = (path: string, size: number) => ({ path, type: 'file', mode: 0o644, mtimeMs: 0, size });

describe('hostile role files', () => {
  it('accepts a hand-made file that follows docs/format.md (the tests below only break one rule)', async () => {
    const content = Buffer.from('fine');
    const stored = await sealRecords(
      entryRecord(fileFields('ok.txt', 4), content),
      endRecord({ entries: 1, files: 1, sourceBytes: 4 }),
    );
    const { entries: read, error } = await readAll(stored);
    assert.equal(error, undefined);
    assert.equal(read[0]?.data?.toString(), 'fine');
  });

  it('refuses entry paths that leave the role folder', async () => {
    const hostile = [
      '../../etc/passwd',
      '/etc/passwd',
      'a/../../b',
      'a\\..\\..\\b',
      'C:\\Windows\\x',
      'nul\0byte',
      '',
      'a//b',
      './a',
    ];
    for (const path of hostile) {
      const stored = await sealRecords(
        entryRecord(fileFields(path, 1), Buffer.from('x')),
        endRecord({ entries: 1, files: 1, sourceBytes: 1 }),
      );
      const { entries: read, error } = await readAll(stored);
      assert.ok(isAzsError(error, 'BackupCorrupt'), `path ${JSON.stringify(path)}: ${String(error)}`);
      assert.equal(error.target, path);
      assert.deepEqual(read, []);
    }
  });

  it('refuses an entry placed through a symbolic link stored before it', async () => {
    const stored = await sealRecords(
      entryRecord({ path: 'link', type: 'symlink', mode: 0o777, mtimeMs: 0, size: 0, linkTarget: '/etc' }),
      entryRecord(fileFields('link/passwd', 1), Buffer.from('x')),
      endRecord({ entries: 2, files: 1, sourceBytes: 1 }),
    );
    const { entries: read, error } = await readAll(stored);
    assert.ok(isAzsError(error, 'BackupCorrupt'));
    assert.equal(error.target, 'link/passwd');
    assert.deepEqual(
      read.map((entry) => entry.path),
      ['link'],
    );
  });

  it('refuses impossible headers', async () => {
    const impossible = [
      { path: 'a', type: 'device', mode: 0o644, mtimeMs: 0, size: 0 },
      { path: 'a', type: 'file', mode: -1, mtimeMs: 0, size: 0 },
      { path: 'a', type: 'file', mode: 0o644, mtimeMs: 'yesterday', size: 0 },
      { path: 'a', type: 'file', mode: 0o644, mtimeMs: 0, size: -5 },
      { path: 'a', type: 'file', mode: 0o644, mtimeMs: 0, size: 2 ** 60 },
      { path: 'a', type: 'directory', mode: 0o755, mtimeMs: 0, size: 10 },
      { path: 'a', type: 'symlink', mode: 0o777, mtimeMs: 0, size: 0 },
      { path: 7, type: 'file', mode: 0o644, mtimeMs: 0, size: 0 },
      { path: 'a', type: 'directory', mode: 0o2755, mtimeMs: 0, size: 0, uid: -1, gid: 0 },
      { path: 'a', type: 'directory', mode: 0o2755, mtimeMs: 0, size: 0, uid: 'root', gid: 0 },
      { path: 'a', type: 'directory', mode: 0o2755, mtimeMs: 0, size: 0, uid: 0 },
      { path: 'a', type: 'directory', mode: 0o2755, mtimeMs: 0, size: 0, uid: 0, gid: 2 ** 32 - 1 },
      { path: 'a', type: 'directory', mode: 0o2755, mtimeMs: 0, size: 0, uid: 0.5, gid: 0 },
    ];
    for (const fields of impossible) {
      const stored = await sealRecords(
        entryRecord(fields),
        endRecord({ entries: 1, files: 0, sourceBytes: 0 }),
      );
      const { error } = await readAll(stored);
      assert.ok(isAzsError(error, 'BackupCorrupt'), JSON.stringify(fields));
    }
  });

  it('refuses broken record framing', async () => {
    const huge = Buffer.alloc(5);
    huge.writeUInt8(1, 0);
    huge.writeUInt32BE(0xffffffff, 1);
    const garbage = Buffer.concat([Buffer.from([1, 0, 0, 0, 3]), Buffer.from('{{{')]);
    const cases = [
      [huge],
      [garbage],
      [Buffer.from([7, 0, 0, 0, 2, 0x7b, 0x7d])],
      [entryRecord(fileFields('a', 1), Buffer.from('x'))], // no end record
      [
        entryRecord(fileFields('a', 1), Buffer.from('x')),
        endRecord({ entries: 2, files: 1, sourceBytes: 1 }),
      ],
      [endRecord({ entries: 0, files: 0, sourceBytes: 0 }), Buffer.from('trailing')],
    ];
    for (const records of cases) {
      const { error } = await readAll(await sealRecords(...records));
      assert.ok(isAzsError(error, 'BackupCorrupt'), String(error));
    }
  });

  it('reads a format version 1 file, checking the SHA-256 after each file', async () => {
    const content = Buffer.from('hello');
    const totals = endRecord({ entries: 2, files: 2, sourceBytes: 10 });
    const sound = await sealVersion1(
      entryRecord(fileFields('a.db', 5), content, createHash('sha256').update(content).digest()),
      entryRecord(fileFields('b.db', 5), content, createHash('sha256').update(content).digest()),
      totals,
    );
    const { entries: read, error } = await readAll(sound, { formatVersion: 1 });
    assert.equal(error, undefined);
    assert.deepEqual(
      read.map((entry) => `${entry.path}=${entry.data?.toString()}`),
      ['a.db=hello', 'b.db=hello'],
    );
    const unhashed = await sealVersion1(
      entryRecord(fileFields('a.db', 5), content),
      entryRecord(fileFields('b.db', 5), content),
      totals,
    );
    assert.ok(
      isAzsError((await readAll(unhashed, { formatVersion: 1 })).error, 'BackupCorrupt'),
      'a version 1 file needs its hashes',
    );
  });

  it("fails a version 1 file's content stream when its SHA-256 does not match, naming the entry", async () => {
    const stored = await sealVersion1(
      entryRecord(fileFields('secret.db', 5), Buffer.from('hello'), Buffer.alloc(32)),
      endRecord({ entries: 1, files: 1, sourceBytes: 5 }),
    );
    const { error } = await readAll(stored, { formatVersion: 1 });
    assert.ok(isAzsError(error, 'BackupCorrupt'));
    assert.equal(error.target, 'secret.db');
    assert.match(error.message, /does not match the SHA-256/);
    const verdict = await verifyRoleArchive(Readable.from([stored]), {
      key,
      fileId: FILE_ID,
      formatVersion: 1,
    });
    assert.deepEqual(
      { ok: verdict.ok, file: verdict.ok ? undefined : verdict.file },
      { ok: false, file: 'secret.db' },
    );
  });
});
