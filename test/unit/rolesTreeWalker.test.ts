import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, unlink, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import type { ArchiveEntry } from '../../src/archive/entry.js';
import { recordBlocks } from '../../src/archive/records.js';
import { BlockBuffers } from '../../src/archive/sealedBlocks.js';
import { isAzsError } from '../../src/protocol/errors.js';
import { WHOLE_READ_LIMIT, walkTree } from '../../src/roles/treeWalker.js';
import { collect, contentOf, describeTree, type TreeRecord } from '../helpers/roleEntries.js';

/** The walk in describeTree's terms, so it can be compared with an independent listing. */
async function walkedRecords(root: string): Promise<TreeRecord[]> {
  return (await collect(walkTree(root))).map((entry) => ({
    path: entry.path,
    type: entry.type,
    mode: entry.mode,
    mtimeMs: entry.mtimeMs,
    data:
      entry.type === 'file'
        ? createHash('sha256')
            .update(entry.data ?? Buffer.alloc(0))
            .digest('hex')
        : (entry.linkTarget ?? ''),
  }));
}

function openDescriptors(): number {
  return readdirSync('/proc/self/fd').length;
}

/** Descriptors are closed by callbacks; give them a few turns of the event loop, then compare. */
async function descriptorsSettleAt(expected: number): Promise<number> {
  for (let attempt = 0; attempt < 50 && openDescriptors() !== expected; attempt += 1) await sleep(20);
  return openDescriptors();
}

/** A sysfs folder of readable attributes: fstat says 4096 bytes, a read gives fewer. */
function sysfsFolder(): string | undefined {
  const candidates = ['/sys/kernel/mm/transparent_hugepage', '/sys/kernel/mm/ksm', '/sys/power'];
  return candidates.find((folder) => existsSync(folder) && statSync(folder).isDirectory());
}

/** The entries as the walk gives them, none opened. */
async function listedEntries(entries: AsyncIterable<ArchiveEntry>): Promise<ArchiveEntry[]> {
  const all: ArchiveEntry[] = [];
  for await (const entry of entries) all.push(entry);
  return all;
}

/** The walk's entries (small files listed); once it has ended, `name` grows to 3 MiB and `then` runs. */
async function* grownAfterTheWalk(
  folder: string,
  name: string,
  then = () => {},
): AsyncGenerator<ArchiveEntry> {
  yield* walkTree(folder, { listSmallFiles: true });
  writeFileSync(path.join(folder, name), Buffer.alloc(3 * 1024 * 1024, 1));
  then();
}

describe('Tree walker', () => {
  let work: string;

  before(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'azs-roles-walker-'));
  });
  after(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it('keeps the sorted, parents-first order and every byte across many small and large files', async () => {
    const root = path.join(work, 'many');
    for (let folder = 0; folder < 6; folder += 1) {
      const dir = path.join(root, `f${folder}`, folder % 2 ? 'nested' : '');
      await mkdir(dir, { recursive: true });
      for (let file = 0; file < 150; file += 1) {
        const size = file % 50 === 7 ? WHOLE_READ_LIMIT + file : file === 3 ? WHOLE_READ_LIMIT : file * 37;
        await writeFile(path.join(dir, `${(file * 7919) % 1000}.json`), Buffer.alloc(size, file + folder));
      }
      await symlink(`../f${folder}`, path.join(dir, `link-${folder}`));
      await mkdir(path.join(dir, 'empty'));
      await utimes(path.join(dir, 'empty'), new Date(2020, 1, 1), new Date(2020, 1, 2));
    }
    const walked = await walkedRecords(root);
    assert.equal(walked.filter((record) => record.type === 'file').length, 900);
    assert.deepEqual(walked, await describeTree(root));
  });

  for (const listSmallFiles of [false, true]) {
    it(`fails a name not in UTF-8, keeps one with U+FFFD (listSmallFiles ${listSmallFiles})`, async () => {
      const root = path.join(work, `names-${listSmallFiles}`);
      await mkdir(path.join(root, 'inner'), { recursive: true });
      // A valid name holding the character that bytes which are not UTF-8 read as.
      await writeFile(path.join(root, 'inner', 'r\uFFFDsum\u00e9.txt'), 'kept');
      const walked = await collect(walkTree(root, { listSmallFiles }));
      assert.deepEqual(
        walked.map((entry) => entry.path),
        ['inner', 'inner/r\uFFFDsum\u00e9.txt'],
      );

      const badName = Buffer.concat([
        Buffer.from(path.join(root, 'inner', 'caf')),
        Buffer.from([0xe9, 0x2e, 0x74]),
      ]);
      await writeFile(badName, 'latin-1');
      await assert.rejects(
        collect(walkTree(root, { listSmallFiles })),
        (error) =>
          isAzsError(error, 'RoleFailed') &&
          error.message.includes(`in '${path.join(root, 'inner')}' is not valid UTF-8`) &&
          error.message.includes("'caf\uFFFD.t'"),
      );
    });
  }

  it('fails a file that gives fewer bytes than its fstat said', async (context) => {
    const folder = sysfsFolder();
    if (!folder) return context.skip('no sysfs on this machine');
    await assert.rejects(
      collect(walkTree(folder)),
      (error) => isAzsError(error, 'RoleFailed') && /shrank from 4096 to \d+ bytes/.test(error.message),
    );
  });

  it('does not follow a file that became a link after its folder was listed', async () => {
    const folder = path.join(work, 'swapped');
    await mkdir(folder);
    const secret = path.join(work, 'secret.txt');
    await writeFile(secret, 'not part of the role');
    await writeFile(path.join(folder, 'a'), 'first');
    await writeFile(path.join(folder, 'b'), 'original');
    const entries = walkTree(folder);
    assert.equal(((await entries.next()).value as ArchiveEntry).path, 'a');
    await unlink(path.join(folder, 'b'));
    await symlink(secret, path.join(folder, 'b'));
    const rest = await collect(entries);
    assert.deepEqual(
      rest.map(({ path: entryPath, type, linkTarget }) => ({ path: entryPath, type, linkTarget })),
      [{ path: 'b', type: 'symlink', linkTarget: secret }],
    );
  });

  it(
    'leaves FIFOs out without blocking, also one that replaced a file after listing',
    { timeout: 10_000 },
    async () => {
      const folder = path.join(work, 'fifos');
      await mkdir(folder);
      execFileSync('mkfifo', [path.join(folder, 'listed-fifo')]);
      await writeFile(path.join(folder, 'a'), 'first');
      await writeFile(path.join(folder, 'b'), 'becomes a fifo');
      await writeFile(path.join(folder, 'c'), 'last');
      const entries = walkTree(folder);
      assert.equal(((await entries.next()).value as ArchiveEntry).path, 'a');
      await unlink(path.join(folder, 'b'));
      execFileSync('mkfifo', [path.join(folder, 'b')]);
      const rest = await collect(entries);
      assert.deepEqual(
        rest.map((entry) => [entry.path, entry.data?.toString()]),
        [['c', 'last']],
      );
    },
  );

  it('closes every descriptor: content read, skipped, or partly read', async () => {
    const folder = path.join(work, 'descriptors');
    await mkdir(folder);
    const large = Buffer.alloc(3 * 1024 * 1024 + 5, 7);
    for (const name of ['1-read', '2-skipped', '3-partly', '4-read'])
      await writeFile(path.join(folder, name), large);
    await writeFile(path.join(folder, '5-small'), 'small');
    const before = openDescriptors();
    const target = Buffer.alloc(1024 * 1024);
    let partly: ArchiveEntry | undefined;
    for await (const entry of walkTree(folder)) {
      if (entry.path.endsWith('-skipped')) continue;
      if (entry.path.endsWith('-partly')) {
        assert.equal(await entry.readInto!(target), target.length, 'reads fill the target given');
        partly = entry;
        continue;
      }
      const content = await contentOf(entry);
      if (entry.size > WHOLE_READ_LIMIT) assert.deepEqual(content, large);
    }
    assert.equal(await descriptorsSettleAt(before), before);
    await assert.rejects(async () => partly!.readInto!(target), /was read after its entry was closed/);
  });

  it('closes the descriptor of a large file when the consumer stops iterating', async () => {
    const folder = path.join(work, 'stops');
    await mkdir(folder);
    await writeFile(path.join(folder, 'large'), Buffer.alloc(WHOLE_READ_LIMIT + 1));
    await writeFile(path.join(folder, 'next'), 'x');
    const before = openDescriptors();
    for await (const entry of walkTree(folder)) {
      assert.equal(entry.path, 'large');
      break;
    }
    assert.equal(await descriptorsSettleAt(before), before);
  });

  it('closes the descriptor of a listed file opened after the walk, grown large, whose read fails', async () => {
    const folder = path.join(work, 'grown');
    await mkdir(folder);
    await writeFile(path.join(folder, 'settings.json'), '{}');
    const before = openDescriptors();
    const walked: ArchiveEntry[] = [];
    for await (const entry of walkTree(folder, { listSmallFiles: true })) walked.push(entry);
    const [listed] = walked;
    // The walk has ended: nothing will ask for a next entry, which is what closes a descriptor.
    await writeFile(path.join(folder, 'settings.json'), Buffer.alloc(WHOLE_READ_LIMIT + 1, 1));
    const opened = listed!.open!()!;
    assert.equal(opened.size, WHOLE_READ_LIMIT + 1);
    await writeFile(path.join(folder, 'settings.json'), '');
    await assert.rejects(contentOf(opened), /shrank|fewer bytes/);
    assert.equal(await descriptorsSettleAt(before), before);
  });

  it('closes the descriptor of a listed file opened after the walk, grown large, when its entry is closed unread', async () => {
    const folder = path.join(work, 'grown-closed');
    await mkdir(folder);
    await writeFile(path.join(folder, 'settings.json'), '{}');
    const before = openDescriptors();
    const [listed] = await listedEntries(grownAfterTheWalk(folder, 'settings.json'));
    const opened = listed!.open!()!;
    assert.equal(opened.size, 3 * 1024 * 1024);
    assert.notEqual(openDescriptors(), before, 'the grown file is read from a descriptor of its own');
    opened.close!();
    opened.close!();
    assert.equal(await descriptorsSettleAt(before), before);
    await assert.rejects(
      async () => opened.readInto!(Buffer.alloc(16)),
      /was read after its entry was closed/,
    );
  });

  it('lets go of a grown file opened after the walk when the backup stops in the middle of it', async () => {
    // The record stream opens a group's small files when the group ends: the last group after the
    // walk, so no next entry will close what a file grown large holds.
    const folder = path.join(work, 'grown-cancelled');
    await mkdir(folder);
    await writeFile(path.join(folder, 'settings.json'), '{}');
    const before = openDescriptors();
    const cancel = new AbortController();
    const counts = { entries: 0, files: 0, sourceBytes: 0 };
    const blocks = recordBlocks(
      grownAfterTheWalk(folder, 'settings.json', () => cancel.abort()),
      new BlockBuffers(64 * 1024),
      counts,
      cancel.signal,
      [],
      { apart: () => false, groupEnds: () => false, starting: () => false, ended: () => undefined },
    );
    await assert.rejects(
      async () => {
        for await (const block of blocks) assert.ok(block);
      },
      { name: 'AbortError' },
    );
    assert.equal(await descriptorsSettleAt(before), before);
  });
});
