/**
 * PowerShell-style wildcards (`*`, `?`), case-insensitive, as -Name parameters expect.
 *
 * A plain translation (`*` → `.*`) backtracks exponentially: `*?*?*?…z` against a backup name kept
 * the daemon busy for minutes (found by the reliability suite). Instead, every segment between two
 * stars is found at its first occurrence inside a lookahead — atomic in JavaScript, so never retried —
 * and consumed through a backreference; only the last star backtracks. The earliest occurrence is
 * always the right one for fixed-length segments, so the language matched is unchanged, and
 * matching stays linear in the name's length whatever the pattern.
 */
export function wildcardToRegExp(pattern: string): RegExp {
  const [first, ...rest] = pattern.split('*').map(segmentSource);
  if (rest.length === 0) return new RegExp(`^${first}$`, 'i');
  const last = rest.pop()!;
  const middle = rest.map((segment, index) => `(?=(.*?${segment}))\\${index + 1}`).join('');
  return new RegExp(`^${first}${middle}.*${last}$`, 'i');
}

/** One star-free piece of a pattern: literal characters, `?` for any one character. */
function segmentSource(segment: string): string {
  return segment.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\?/g, '.');
}

export function hasWildcard(pattern: string): boolean {
  return /[*?]/.test(pattern);
}
