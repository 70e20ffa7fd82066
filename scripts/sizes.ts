/** Sizes as the benchmark scripts take them: `<n>MB|GB|MiB|GiB` (SPEC §7). */
export function parseSize(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(MB|GB|MiB|GiB)$/i.exec(text.trim());
  if (!match) throw new Error(`--size '${text}' must look like 512MB, 2GB, 512MiB or 1GiB`);
  const unit = { mb: 1e6, gb: 1e9, mib: 2 ** 20, gib: 2 ** 30 }[
    match[2]!.toLowerCase() as 'mb' | 'gb' | 'mib' | 'gib'
  ];
  return Math.round(Number(match[1]) * unit);
}
