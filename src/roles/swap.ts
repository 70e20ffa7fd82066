/**
 * Write beside, then swap: a restore builds the new data under a sibling name and only then moves it
 * into place, so a failure while building leaves the current data untouched.
 *
 * A restore killed midway (kill -9, power loss) leaves siblings behind: `<target>.restore-<hex>` (the
 * half-built new data, plus a database's journal files), or `<target>.old-<hex>` (the previous data,
 * moved aside by the swap's first rename; if the kill came before the second rename, the target itself
 * is missing). The next restore of the same target clears them before it starts (clearInterruptedSwap):
 * the half-built data is removed, and previous data whose target is missing is put back first, so the
 * restore proceeds from the state before the interrupted one. A backup in that state fails instead of
 * backing up nothing (the providers name the `.old-` sibling, see previousDataAside).
 *
 * Once the new data is in place, the previous data is renamed once more, to `<target>.removing-<hex>`,
 * and removed when the caller says (RestoreResult.removePreviousData): a large tree takes seconds to
 * delete, and deleting one while another is written slows both, so a restore of several roles removes
 * them once every role is written. Only a `.removing-` sibling is ever removed while the process goes
 * on; that name is given after the swap, so it never holds live data, and an interrupted removal is
 * never mistaken for previous data to put back: the daemon's next start (removeRetiredData) or the
 * next restore of the role finishes it.
 */
import { randomBytes } from 'node:crypto';
import { chmod, lstat, mkdir, readdir, readlink, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { AzsError } from '../protocol/errors.js';
import { syncDirectory } from '../util/atomicFile.js';
import type { RestoreResult } from './provider.js';

type SiblingPurpose = 'restore' | 'old' | 'removing';
const SIBLING_RANDOM_BYTES = 6;
const RANDOM_HEX_LENGTH = SIBLING_RANDOM_BYTES * 2;

/** `<target>.<purpose>-<random>`: beside the target, so the final rename never crosses a file system. */
export function siblingPath(target: string, purpose: SiblingPurpose): string {
  return `${target}.${purpose}-${randomBytes(SIBLING_RANDOM_BYTES).toString('hex')}`;
}

/**
 * Whether `name` is a sibling this module made for `target` (`<basename>.<purpose>-<12 hex>`), or one
 * of `suffixes` appended to such a name. Nothing else beside the target is ever touched.
 */
function isSibling(
  target: string,
  purpose: SiblingPurpose,
  name: string,
  suffixes: readonly string[] = [],
): boolean {
  const prefix = `${path.basename(target)}.${purpose}-`;
  if (!name.startsWith(prefix)) return false;
  const random = name.slice(prefix.length, prefix.length + RANDOM_HEX_LENGTH);
  const suffix = name.slice(prefix.length + RANDOM_HEX_LENGTH);
  return (
    /^[0-9a-f]+$/.test(random) && random.length === RANDOM_HEX_LENGTH && ['', ...suffixes].includes(suffix)
  );
}

async function siblingsOf(
  target: string,
  purpose: SiblingPurpose,
  suffixes?: readonly string[],
): Promise<string[]> {
  const folder = path.dirname(target);
  let names: string[];
  try {
    names = await readdir(folder);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  return names
    .filter((name) => isSibling(target, purpose, name, suffixes))
    .sort()
    .map((name) => path.join(folder, name));
}

/**
 * The `.old-` siblings holding the previous data of a target that is missing: what a restore killed
 * between the swap's two renames leaves. Empty when the target exists or nothing was left.
 */
export async function previousDataAside(target: string): Promise<string[]> {
  const location = await throughLinks(target);
  if (await exists(location)) return [];
  return siblingsOf(location, 'old');
}

/**
 * Clears what an interrupted restore of `target` left beside it (see the module comment).
 * `companionSuffixes` names files the build may leave beside its temporary copy (a database's journal).
 */
export async function clearInterruptedSwap(
  target: string,
  companionSuffixes: readonly string[] = [],
  leftovers: string[] = [],
): Promise<void> {
  for (const temp of await siblingsOf(target, 'restore', companionSuffixes)) await removeTree(temp);
  leftovers.push(...(await removeRetiredData(target)));
  const olds = await siblingsOf(target, 'old');
  if (olds.length === 0) return;
  if (!(await exists(target))) {
    if (olds.length > 1) throw ambiguousPreviousData(target, olds);
    await rename(olds[0]!, target);
    await syncDirectory(path.dirname(target));
    return;
  }
  for (const old of olds) await removeOrReport(old, leftovers);
}

/**
 * Removes the `.removing-` siblings of `target`: previous data a restore swapped out and had not
 * removed yet when its process stopped. Resolves to warnings naming what could not be removed. One
 * still being removed by this process is waited for (its warnings went to its own restore).
 */
export async function removeRetiredData(target: string): Promise<string[]> {
  const leftovers: string[] = [];
  for (const retired of await siblingsOf(await throughLinks(target), 'removing')) {
    const running = removals.get(retired);
    // Registered as running, so that a restore starting meanwhile waits instead of removing it too.
    if (running) await running;
    else leftovers.push(...(await removeInBackground(retired)));
  }
  return leftovers;
}

function ambiguousPreviousData(target: string, olds: string[]): AzsError {
  return new AzsError(
    'RoleFailed',
    `'${target}' is missing and several folders hold earlier data of it: ${olds.map((old) => `'${old}'`).join(', ')}. ` +
      `Rename the one to keep to '${target}' and delete the others, then run the restore again.`,
    { target },
  );
}

/** Creates the target's parent folders (a fresh deployment has none yet). */
export async function ensureParent(target: string): Promise<void> {
  await mkdir(path.dirname(target), { recursive: true });
}

/**
 * Clears an interrupted restore's leftovers, runs `build(temp, location)` on a fresh sibling path
 * (`location`: where the data really is, see below), then puts `temp` (a folder, or a file) in place
 * of that data. When `build` fails, the sibling is removed and the data is not touched.
 * `companionSuffixes` as for clearInterruptedSwap.
 *
 * A `target` that is a symbolic link keeps its link: the swap happens where the link leads (renaming
 * over the link would replace the link, and leave the real data as it was). The new data is in place
 * once this returns; previous data that could not be removed is no reason to fail the restore, so it
 * is reported as warnings naming where it is (a folder's previous data is removed when the caller
 * starts removePreviousData).
 */
export async function buildBeside(
  target: string,
  kind: 'folder' | 'file',
  build: (temp: string, location: string) => Promise<void>,
  companionSuffixes: readonly string[] = [],
): Promise<RestoreResult> {
  const location = await throughLinks(target);
  const leftovers: string[] = [];
  await ensureParent(location);
  await clearInterruptedSwap(location, companionSuffixes, leftovers);
  const temp = siblingPath(location, 'restore');
  try {
    await build(temp, location);
  } catch (error) {
    await removeTree(temp);
    throw error;
  }
  if (kind === 'file') {
    await replaceFile(temp, location);
    return { warnings: leftovers };
  }
  const { removePreviousData } = await replaceFolder(temp, location);
  return { warnings: leftovers, ...(removePreviousData && { removePreviousData }) };
}

/** Symbolic links followed this many times at most (Linux's own limit), so a loop ends. */
const MAX_LINK_HOPS = 40;

/**
 * Where `target`'s data really is: the path itself, or, for a symbolic link, the path it leads to
 * (followed link by link, so a link whose data is missing still leads to where the data belongs).
 */
export async function throughLinks(target: string): Promise<string> {
  let location = target;
  for (let hops = 0; hops <= MAX_LINK_HOPS; hops += 1) {
    const stats = await lstat(location).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw error;
    });
    if (!stats?.isSymbolicLink()) return location;
    location = path.resolve(path.dirname(location), await readlink(location));
  }
  throw new AzsError(
    'RoleFailed',
    `'${target}' is a symbolic link that leads through more than ${MAX_LINK_HOPS} links (a loop?). Point it straight at the role's data, or give that path as the role's -Path.`,
    { target },
  );
}

/** A file is renamed over its target in one step: readers see the old file or the new one. */
async function replaceFile(temp: string, target: string): Promise<void> {
  try {
    await rename(temp, target);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  await syncDirectory(path.dirname(target));
}

/**
 * Folders cannot be renamed over a non-empty folder, so the swap is two renames: current → old,
 * new → current; if the second fails the first is undone. The old tree is then renamed for removal
 * (no flush needed: if that rename is lost, the next restore removes the `.old-` sibling beside a
 * target that exists) and removed in the background; the promise says what could not be removed.
 */
async function replaceFolder(
  temp: string,
  target: string,
): Promise<Pick<RestoreResult, 'removePreviousData'>> {
  const old = siblingPath(target, 'old');
  const hadCurrent = await renameIfExists(target, old);
  try {
    await rename(temp, target);
  } catch (error) {
    if (hadCurrent) await rename(old, target);
    await removeTree(temp);
    throw error;
  }
  await syncDirectory(path.dirname(target));
  if (!hadCurrent) return {};
  const retired = siblingPath(target, 'removing');
  await rename(old, retired);
  return { removePreviousData: () => removeInBackground(retired) };
}

/** Removals running in the background, by tree, so that no tree is removed twice at once. */
const removals = new Map<string, Promise<void>>();

/** Starts removing `tree`; resolves (never rejects) to warnings naming what could not be removed. */
function removeInBackground(tree: string): Promise<string[]> {
  const leftovers: string[] = [];
  const removal = removeOrReport(tree, leftovers).finally(() => removals.delete(tree));
  removals.set(tree, removal);
  return removal.then(() => leftovers);
}

/** Removes previous data; what cannot be removed goes into `leftovers` as a warning naming it. */
async function removeOrReport(tree: string, leftovers: string[]): Promise<void> {
  try {
    await removeTree(tree);
  } catch (error) {
    leftovers.push(
      `The previous data, moved aside to '${tree}', could not be removed (${(error as Error).message}). ` +
        `Remove '${tree}' by hand once you no longer need it.`,
    );
  }
}

async function exists(target: string): Promise<boolean> {
  try {
    await lstat(target);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

/**
 * Removes a tree of ours, even one holding read-only folders (a restored tree keeps its folders'
 * modes, and a user who is not root cannot delete inside a folder without write permission).
 */
async function removeTree(tree: string): Promise<void> {
  try {
    await removeFolderByFolder(tree);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EACCES' && code !== 'EPERM') throw error;
    await makeFoldersWritable(tree);
    await removeFolderByFolder(tree);
  }
}

/** Entries of one folder removed at once: enough to keep the thread pool's file system calls busy. */
const REMOVALS_AT_ONCE = 64;

/**
 * `rm(tree, { recursive: true, force: true })`, one folder at a time. Node's own recursive removal
 * starts on every entry of the tree at once: removing a restored 4 GiB deployment's previous data
 * (some 125,000 entries) that way took the daemon's heap from 25 to 130 MB, the restore's peak
 * (docs/benchmarks.md, "Format 4: the daemon's peak"). Here only the folders on the way down are
 * listed at a time; a folder's files go REMOVALS_AT_ONCE at a time, through `rm` still (its
 * platform's handling of a file that resists).
 */
async function removeFolderByFolder(tree: string): Promise<void> {
  let entries;
  try {
    entries = await readdir(tree, { withFileTypes: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return;
    if (code !== 'ENOTDIR') throw error;
    return rm(tree, { force: true });
  }
  const files = entries.filter((entry) => !entry.isDirectory());
  for (let first = 0; first < files.length; first += REMOVALS_AT_ONCE) {
    const some = files.slice(first, first + REMOVALS_AT_ONCE);
    await Promise.all(some.map((file) => rm(path.join(tree, file.name), { force: true })));
  }
  for (const folder of entries.filter((entry) => entry.isDirectory()))
    await removeFolderByFolder(path.join(tree, folder.name));
  await rm(tree, { recursive: true, force: true });
}

async function makeFoldersWritable(folder: string): Promise<void> {
  const stats = await lstat(folder);
  if (!stats.isDirectory()) return;
  await chmod(folder, 0o700);
  for (const name of await readdir(folder)) await makeFoldersWritable(path.join(folder, name));
}

async function renameIfExists(from: string, to: string): Promise<boolean> {
  try {
    await rename(from, to);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}
