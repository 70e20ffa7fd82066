/** Sizes as the benchmark scripts take them: `<n>MB|GB|MiB|GiB` (SPEC §7). */
export function parseSize(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(MB|GB|MiB|GiB)$/i.exec(text.trim());
  if (!match) throw new Error(`--size '${text}' must look like 512MB, 2GB, 512MiB or 1GiB`);
  const unit = { mb: 1e6, gb: 1e9, mib: 2 ** 20, gib: 2 ** 30 }[
    match[2]!.toLowerCase() as 'mb' | 'gb' | 'mib' | 'gib'
  ];
  return Math.round(Number(match[1]) * unit);
}

/** Megabytes as the figures count them (10^6 bytes). */
export const MB = 1_000_000;

/** The options of the scripts that measure the archive over the bench's sample tree, one role file. */
export const SAMPLE_TREE_OPTIONS = {
  size: { type: 'string', default: '1GiB', describe: 'Sample tree size: <n>MiB|GiB' },
  runs: { type: 'number', default: 3, describe: 'Timed runs of each step' },
  keep: { type: 'string', describe: 'Reuse (or create and keep) the sample tree in this folder' },
} as const;

/** The stored role file's id in those scripts (any id will do: it only binds the blocks to the file). */
export const MEASURED_FILE_ID = 'Measure/Measure.azsb';
