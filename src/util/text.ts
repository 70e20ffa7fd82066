/** Control characters (NUL, newlines, escapes) never belong in a path or a name an operator gives. */
export function hasControlCharacters(value: string): boolean {
  // eslint-disable-next-line no-control-regex -- finding control characters is the point
  return /[\u0000-\u001f\u007f]/.test(value);
}
