/** PowerShell-style wildcards (`*`, `?`), case-insensitive, as -Name parameters expect. */
export function wildcardToRegExp(pattern: string): RegExp {
  const escaped = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${escaped}$`, 'i');
}

export function hasWildcard(pattern: string): boolean {
  return /[*?]/.test(pattern);
}
