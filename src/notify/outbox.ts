/**
 * The webhook outbox: each message waits in a file of its own, one folder per target, from before
 * its first try until the target accepted or refused it (or it grew too old). A file is written
 * atomically, so a daemon killed at any moment leaves whole messages only, and the next daemon sends
 * them. File names sort in the order the events happened.
 */
import { readdir, mkdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../util/atomicFile.js';

export interface OutboxMessage {
  /** The `webhook-id`: the same for every try, so a receiver can drop duplicates. */
  id: string;
  type: string;
  /** When the message was queued (the 24 h limit counts from here). */
  createdTime: string;
  /** The exact JSON body sent, fixed when queued so that every try signs the same bytes. */
  body: string;
}

export interface QueuedMessage extends OutboxMessage {
  file: string;
}

const MESSAGE_FILE = /^\d{15}-\d{6}-[A-Za-z0-9_]+\.json$/;

export class Outbox {
  /** Orders messages queued in the same millisecond. */
  private sequence = 0;

  constructor(private readonly folder: string) {}

  /** Target names are unique whatever their case, so each has one folder under its lower-case name. */
  private targetFolder(targetName: string): string {
    return path.join(this.folder, targetName.toLowerCase());
  }

  /** Saves a message for a target; it is on disk when this resolves. */
  async add(targetName: string, message: OutboxMessage): Promise<void> {
    // Named now, before any await, so that messages sort in the order they were queued.
    const name = `${String(Date.parse(message.createdTime)).padStart(15, '0')}-${String(this.sequence++ % 1e6).padStart(6, '0')}-${message.id}.json`;
    const folder = this.targetFolder(targetName);
    await mkdir(folder, { recursive: true, mode: 0o700 });
    await writeFileAtomic(path.join(folder, name), JSON.stringify(message));
  }

  /** The oldest message waiting for a target, if any. */
  async first(targetName: string): Promise<QueuedMessage | undefined> {
    const [file] = await this.files(targetName);
    if (!file) return undefined;
    const message = JSON.parse(await readFile(file, 'utf8')) as OutboxMessage;
    return { ...message, file };
  }

  async remove(message: QueuedMessage): Promise<void> {
    await rm(message.file, { force: true });
  }

  async count(targetName: string): Promise<number> {
    return (await this.files(targetName)).length;
  }

  async forget(targetName: string): Promise<void> {
    await rm(this.targetFolder(targetName), { recursive: true, force: true });
  }

  /** The (lower-case) names of the targets that have messages waiting: what a new daemon resumes. */
  async targetsWaiting(): Promise<string[]> {
    const entries = await readdir(this.folder, { withFileTypes: true }).catch(ignoreMissing);
    const folders = entries.filter((entry) => entry.isDirectory()).map((entry) => entry.name);
    const counts = await Promise.all(folders.map(async (name) => ({ name, count: await this.count(name) })));
    return counts.filter(({ count }) => count > 0).map(({ name }) => name);
  }

  /** A target's message files, oldest first (temporary files of an unfinished write are not messages). */
  private async files(targetName: string): Promise<string[]> {
    const folder = this.targetFolder(targetName);
    const names = await readdir(folder).catch(ignoreMissing);
    return names
      .filter((name) => MESSAGE_FILE.test(name))
      .sort()
      .map((name) => path.join(folder, name));
  }
}

function ignoreMissing(error: NodeJS.ErrnoException): never[] {
  if (error.code === 'ENOENT') return [];
  throw error;
}
