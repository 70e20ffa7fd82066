/**
 * Writes archive entries back as a folder tree: files with their content, owners, modes and mtimes,
 * folders, symbolic links as links. Folders get their modes and mtimes last, children first, because writing
 * a child changes its folder's mtime (and a read-only folder mode would stop the writes).
 *
 * Entries come from a backup, so they are checked before anything is written: a path that would leave
 * the folder, pass through a symbolic link written earlier, or appear twice is refused.
 */
import { createWriteStream } from 'node:fs';
import { chmod, lchown, lutimes, mkdir, symlink, utimes } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { EntryHeader, ExtractedEntry } from '../archive/entry.js';
import { AzsError } from '../protocol/errors.js';

/** Writes `entries` into `folder` (created when missing). Returns when every entry is on disk. */
export async function writeTree(entries: AsyncIterable<ExtractedEntry>, folder: string): Promise<void> {
  await mkdir(folder, { recursive: true });
  const writer = new TreeWriter(folder);
  for await (const entry of entries) await writer.add(entry);
  await writer.finish();
}

/** The parts of an entry path, or BackupCorrupt when the path could lead outside the role's folder. */
export function entryPathSegments(entryPath: string): string[] {
  const segments = entryPath.split('/');
  const unsafe =
    segments.some(
      (segment) => segment === '' || segment === '.' || segment === '..' || segment.includes('\0'),
    ) ||
    (process.platform === 'win32' && /[\\:]/.test(entryPath));
  if (unsafe) {
    throw corrupt(
      `the entry path '${entryPath}' is not a plain relative path inside the role's folder`,
      entryPath,
    );
  }
  return segments;
}

class TreeWriter {
  /** Folders written so far, in order, with the header whose mode and mtime they get at the end. */
  private readonly folders = new Map<string, EntryHeader | undefined>([['', undefined]]);
  /** Files and links written so far: nothing may be written below them. */
  private readonly leaves = new Set<string>();

  constructor(private readonly root: string) {}

  async add(entry: ExtractedEntry): Promise<void> {
    const segments = entryPathSegments(entry.path);
    await this.ensureParents(segments);
    const relative = segments.join('/');
    if (this.folders.has(relative) || this.leaves.has(relative)) {
      throw corrupt(`the entry '${entry.path}' appears twice`, entry.path);
    }
    const target = path.join(this.root, ...segments);
    if (entry.type === 'directory') {
      await mkdir(target, { mode: 0o700 });
      this.folders.set(relative, entry);
      return;
    }
    this.leaves.add(relative);
    if (entry.type === 'symlink') await writeLink(entry, target);
    else if (entry.type === 'file') await writeFile(entry, target);
    else throw corrupt(`the entry '${entry.path}' has the unknown type '${String(entry.type)}'`, entry.path);
  }

  /** Folders' modes and mtimes, deepest first, after everything inside them is written. */
  async finish(): Promise<void> {
    for (const [relative, header] of [...this.folders].reverse()) {
      if (!header) continue;
      const target = path.join(this.root, ...relative.split('/'));
      await setOwnerAndMode(target, header);
      await utimes(target, header.mtimeMs / 1000, header.mtimeMs / 1000);
    }
  }

  /** Parents missing from the entries are created plainly; a parent that is a file or link is refused. */
  private async ensureParents(segments: string[]): Promise<void> {
    for (let depth = 1; depth < segments.length; depth += 1) {
      const parent = segments.slice(0, depth).join('/');
      if (this.folders.has(parent)) continue;
      if (this.leaves.has(parent)) {
        throw corrupt(`the entry '${segments.join('/')}' lies below the file or link '${parent}'`, parent);
      }
      await mkdir(path.join(this.root, ...segments.slice(0, depth)), { mode: 0o755 });
      this.folders.set(parent, undefined);
    }
  }
}

async function writeFile(entry: ExtractedEntry, target: string): Promise<void> {
  if (!entry.content && entry.size > 0) throw corrupt(`the file '${entry.path}' has no content`, entry.path);
  // 'wx' never follows or reuses an existing name; flush makes the content durable before the swap.
  const sink = createWriteStream(target, { flags: 'wx', mode: 0o600, flush: true });
  if (entry.content) await pipeline(entry.content, sink);
  else await new Promise<void>((resolve, reject) => sink.end(() => resolve()).once('error', reject));
  if (sink.bytesWritten !== entry.size) {
    throw corrupt(
      `the file '${entry.path}' holds ${sink.bytesWritten} bytes where ${entry.size} were recorded`,
      entry.path,
    );
  }
  await setOwnerAndMode(target, entry);
  await utimes(target, entry.mtimeMs / 1000, entry.mtimeMs / 1000);
}

async function writeLink(entry: ExtractedEntry, target: string): Promise<void> {
  if (entry.linkTarget === undefined) throw corrupt(`the link '${entry.path}' has no target`, entry.path);
  await symlink(entry.linkTarget, target);
  if (runsAsRoot() && hasOwner(entry)) await lchown(target, entry.uid, entry.gid);
  await lutimes(target, entry.mtimeMs / 1000, entry.mtimeMs / 1000);
}

/** Set-user-id and set-group-id: kept only on an entry given back to the owner it was backed up with. */
const SET_ID_BITS = 0o6000;

/**
 * Gives a restored file or folder (not a link: chmod follows links) its recorded owner and mode. The
 * owner is set first, because a change of owner clears the set-id bits. A daemon that is not root
 * cannot give files away, and an entry without an owner (older format, Windows) has none to give
 * back: both lose the set-id bits, or they would run as whoever restored them.
 */
export async function setOwnerAndMode(target: string, entry: EntryHeader): Promise<void> {
  if (runsAsRoot() && hasOwner(entry)) {
    await lchown(target, entry.uid, entry.gid);
    await chmod(target, entry.mode);
  } else {
    await chmod(target, entry.mode & ~SET_ID_BITS);
  }
}

function hasOwner(entry: EntryHeader): entry is EntryHeader & { uid: number; gid: number } {
  return entry.uid !== undefined && entry.gid !== undefined;
}

/** Only root can give a file to another account (POSIX); Windows has no getuid. */
export function runsAsRoot(): boolean {
  return process.getuid?.() === 0;
}

function corrupt(what: string, target: string): AzsError {
  return new AzsError(
    'BackupCorrupt',
    `The backup cannot be restored: ${what}. The backup is damaged or was not written by AzureStackBackup; restore another backup.`,
    { target },
  );
}
