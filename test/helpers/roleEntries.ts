/** Test helpers for role providers: entries round-tripped without the archive layer, and tree digests. */
import { createHash } from 'node:crypto';
import { lstat, readFile, readdir, readlink } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { type ArchiveEntry, type ExtractedEntry, openedEntry } from '../../src/archive/entry.js';
import type { ProviderName, RoleRegistration } from '../../src/roles/provider.js';

/** Entries as the archive layer would hand them back, each content read before the next entry. */
export async function* asExtracted(entries: AsyncIterable<ArchiveEntry>): AsyncGenerator<ExtractedEntry> {
  for await (const entry of opened(entries)) yield asReplayed({ ...entry, data: await contentOf(entry) });
}

/** Entries opened as the archive layer opens them (ArchiveEntry.open); those gone since they were listed left out. */
export async function* opened(entries: AsyncIterable<ArchiveEntry>): AsyncGenerator<ArchiveEntry> {
  for await (const listed of entries) {
    const entry = openedEntry(listed);
    if (entry) yield entry;
  }
}

/** Snapshot entries with their content read into memory (small test data only). */
export async function collect(
  entries: AsyncIterable<ArchiveEntry>,
): Promise<Array<ArchiveEntry & { data?: Buffer }>> {
  const result: Array<ArchiveEntry & { data?: Buffer }> = [];
  for await (const entry of opened(entries)) {
    const data = await contentOf(entry);
    result.push(data ? { ...entry, data } : entry);
  }
  return result;
}

/** An entry's whole content, whichever way it gives it (undefined when it has none), read as the archive does. */
export async function contentOf(entry: ArchiveEntry): Promise<Buffer | undefined> {
  if (entry.content) return readAll(await entry.content());
  if (!entry.readInto) return undefined;
  const parts: Buffer[] = [];
  const target = Buffer.alloc(1024 * 1024);
  for (let count = await entry.readInto(target); count > 0; count = await entry.readInto(target))
    parts.push(Buffer.from(target.subarray(0, count)));
  return Buffer.concat(parts);
}

/** Replays collected entries as extracted ones. */
export async function* replay(
  entries: Array<ArchiveEntry & { data?: Buffer }>,
): AsyncGenerator<ExtractedEntry> {
  for (const entry of entries) yield asReplayed(entry);
}

function asReplayed({
  data,
  content: _content,
  readInto: _readInto,
  open: _open,
  ...header
}: ArchiveEntry & { data?: Buffer }): ExtractedEntry {
  return data ? { ...header, content: Readable.from([data]) } : header;
}

export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export interface TreeRecord {
  path: string;
  type: string;
  mode: number;
  mtimeMs: number;
  /** SHA-256 of a file's content, or a link's target. */
  data: string;
}

/** Every item below `root` (not the root itself), sorted, with what a faithful restore must keep. */
export async function describeTree(root: string, relative = ''): Promise<TreeRecord[]> {
  const records: TreeRecord[] = [];
  for (const name of (await readdir(path.join(root, relative))).sort()) {
    const item = relative ? `${relative}/${name}` : name;
    const absolute = path.join(root, item);
    const stats = await lstat(absolute);
    const base = { path: item, mode: stats.mode & 0o7777, mtimeMs: stats.mtimeMs };
    if (stats.isSymbolicLink()) records.push({ ...base, type: 'symlink', data: await readlink(absolute) });
    else if (stats.isDirectory()) {
      records.push({ ...base, type: 'directory', data: '' });
      records.push(...(await describeTree(root, item)));
    } else
      records.push({
        ...base,
        type: 'file',
        data: createHash('sha256')
          .update(await readFile(absolute))
          .digest('hex'),
      });
  }
  return records;
}

export function withoutTimes(records: TreeRecord[]): Array<Omit<TreeRecord, 'mtimeMs'>> {
  return records.map(({ mtimeMs: _mtimeMs, ...rest }) => rest);
}

/**
 * Items whose mtimes differ. A restore sets times through utimes with a floating-point number of
 * seconds, so a restored mtime is the original to within a microsecond or so, not to the nanosecond.
 */
export function timeDifferences(actual: TreeRecord[], expected: TreeRecord[]): string[] {
  return actual
    .filter(
      (record, index) =>
        Math.abs(record.mtimeMs - (expected[index]?.mtimeMs ?? NaN)) > 0.002 || !expected[index],
    )
    .map((record) => `${record.path}: mtime ${record.mtimeMs}`);
}

/** The registration of a data role (Directory or Sqlite) at `target`, as the provider tests use it. */
export function dataRole(
  target: string,
  provider: ProviderName = 'Directory',
  name = 'CA',
): RoleRegistration {
  return {
    Name: name,
    Provider: provider,
    Path: target,
    BackupScript: null,
    RestoreScript: null,
    RegisteredTime: '',
  };
}
