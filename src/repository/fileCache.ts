/**
 * The file cache (docs/format.md, "The file cache"): for each span of a role's records kept apart
 * (a large file; a group of small files, folders and links), the chunks it was cut into at the last
 * backup, so that an unchanged span (same first path, same encoded headers, same identities: device,
 * inode, change time of each file) is not read again. A chunk is reused only while the index has it
 * in a stored pack; a cache lost or stale costs only speed.
 */
import { createHash } from 'node:crypto';
import type { SpanRecord } from '../archive/records.js';

export interface CachedRecord {
  /** Its files' identities when they were read (ArchiveEntry.identity), one per line; none for a folder or link. */
  identity: string;
  /** SHA-256 (hex) of its records' encoded headers end to end: paths, sizes, mtimes, modes, owners, link targets. */
  record: string;
  /** The span's chunks: id (hex) and length. */
  chunks: [string, number][];
}

/** By the path of the span's first entry in the role. */
export type FileCache = Map<string, CachedRecord>;

/**
 * What a span is cached by. A large file's identity and record hash are those of its one record, as
 * they were when large files were the only spans (a cache from then still applies).
 */
export interface SpanKey {
  path: string;
  identity: string;
  record: string;
}

export function spanKey(span: readonly SpanRecord[]): SpanKey {
  const hash = createHash('sha256');
  for (const { record } of span) hash.update(record);
  return {
    path: span[0]!.entry.path,
    identity: span.map(({ entry }) => entry.identity ?? '').join('\n'),
    record: hash.digest('hex'),
  };
}
