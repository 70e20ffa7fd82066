/**
 * A strict reader of the Prometheus text format as the metrics file must hold it: every metric has
 * its HELP then its TYPE line before its samples, every sample is `name{labels} value` (no
 * timestamp), and the text ends with a newline. Anything else throws, naming the line.
 */
export interface Sample {
  labels: Record<string, string>;
  value: number;
}

export interface MetricFamily {
  help: string;
  type: string;
  samples: Sample[];
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)/y;

export function parseMetrics(text: string): Map<string, MetricFamily> {
  if (!text.endsWith('\n')) throw new Error('the text does not end with a newline');
  const families = new Map<string, MetricFamily>();
  let current: { name: string; family: MetricFamily } | null = null;
  for (const line of text.slice(0, -1).split('\n')) {
    if (line === '') continue;
    const help = /^# HELP (\S+) (.*)$/.exec(line);
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (help) {
      if (families.has(help[1]!)) throw new Error(`HELP repeated: ${line}`);
      current = { name: help[1]!, family: { help: unescape(help[2]!), type: '', samples: [] } };
      families.set(current.name, current.family);
    } else if (type) {
      if (!current || current.name !== type[1] || current.family.type)
        throw new Error(`TYPE not after its HELP: ${line}`);
      current.family.type = type[2]!;
    } else {
      const sample = SAMPLE.exec(line);
      if (!sample || !current?.family.type || sample[1] !== current.name)
        throw new Error(`bad sample: ${line}`);
      current.family.samples.push({ labels: parseLabels(sample[2] ?? '', line), value: Number(sample[3]) });
    }
  }
  for (const [name, family] of families) {
    if (!family.type || !family.samples.length) throw new Error(`${name} has no TYPE or no sample`);
  }
  return families;
}

function parseLabels(text: string, line: string): Record<string, string> {
  const labels: Record<string, string> = {};
  LABEL.lastIndex = 0;
  while (LABEL.lastIndex < text.length) {
    const match = LABEL.exec(text);
    if (!match) throw new Error(`bad labels: ${line}`);
    labels[match[1]!] = unescape(match[2]!);
  }
  return labels;
}

function unescape(text: string): string {
  return text.replace(/\\(.)/g, (_, escaped: string) => (escaped === 'n' ? '\n' : escaped));
}

/** The samples of every metric, as `name{label="value",…}` → value, for comparing two files. */
export function sampleMap(families: Map<string, MetricFamily>): Record<string, number> {
  const samples: Record<string, number> = {};
  for (const [name, family] of families) {
    for (const sample of family.samples) {
      const labels = Object.entries(sample.labels)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([label, value]) => `${label}=${JSON.stringify(value)}`);
      samples[`${name}{${labels.join(',')}}`] = sample.value;
    }
  }
  return samples;
}
