/**
 * Entry paths are relative POSIX paths inside a role. A hostile or damaged backup must not be able to
 * name a file outside the folder a role is restored into, so paths read back are checked here.
 */

/** Long enough for any real tree (Windows' long-path limit), short enough to bound a header. */
export const MAX_ENTRY_PATH_LENGTH = 32_767;

/** Why `path` is not a safe entry path, or null when it is. */
export function entryPathProblem(path: string): string | null {
  if (path.length === 0) return 'the path is empty';
  if (path.length > MAX_ENTRY_PATH_LENGTH)
    return `the path is longer than ${MAX_ENTRY_PATH_LENGTH} characters`;
  if (path.includes('\0')) return 'the path contains a NUL character';
  if (path.startsWith('/') || path.startsWith('\\') || /^[A-Za-z]:/.test(path)) return 'the path is absolute';
  if (EMPTY_OR_DOT_SEGMENT.test(path)) return "the path has an empty or '.' segment";
  if (DOT_DOT_SEGMENT.test(path)) return "the path has a '..' segment";
  return null;
}

/** Tested, not split: every entry of every backup and restore is checked (no array per path). */
const EMPTY_OR_DOT_SEGMENT = /(?:^|\/)\.?(?:\/|$)/;
/**
 * A backslash is an ordinary character in a POSIX name but a separator on Windows: '..' between
 * backslashes would climb out there, so it is refused everywhere.
 */
const DOT_DOT_SEGMENT = /(?:^|[\\/])\.\.(?:[\\/]|$)/;

/**
 * Remembers the symbolic links of an archive so that no later entry is placed through one
 * ('link' → '/etc', then 'link/passwd'): the classic way out of an extraction folder.
 */
export class SymlinkGuard {
  private readonly links = new Set<string>();

  /** Why `path` goes through a link seen earlier, or null. */
  problem(path: string): string | null {
    for (let slash = path.indexOf('/'); slash !== -1; slash = path.indexOf('/', slash + 1)) {
      if (this.links.has(path.slice(0, slash))) {
        return `the path goes through the symbolic link '${path.slice(0, slash)}' stored before it`;
      }
    }
    return null;
  }

  remember(path: string): void {
    this.links.add(path);
  }
}
