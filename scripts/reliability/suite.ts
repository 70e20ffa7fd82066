/** The scenarios in order, the table they make, and the closing line. */
import { crashAnywhere, crashAnywhereFormat4 } from './crash.js';
import { Tally, type SuiteOptions } from './common.js';
import { storeFaults } from './storeFaults.js';
import { dataUnderLoad } from './load.js';
import { hostileInput } from './hostile.js';
import { access } from './access.js';
import { longRun } from './longRun.js';
import { shareWriter } from './shareWriter.js';
import { localUser } from './localUser.js';

export const SCENARIOS = {
  crash: crashAnywhere,
  crash4: crashAnywhereFormat4,
  store: storeFaults,
  load: dataUnderLoad,
  hostile: hostileInput,
  access,
  long: longRun,
  share: shareWriter,
  user: localUser,
} satisfies Record<string, (options: SuiteOptions) => Promise<Tally>>;

export type ScenarioName = keyof typeof SCENARIOS;

export async function runSuite(
  options: SuiteOptions & { only?: ScenarioName[] | undefined },
): Promise<Tally[]> {
  const tallies: Tally[] = [];
  for (const [name, scenario] of Object.entries(SCENARIOS) as Array<[ScenarioName, typeof crashAnywhere]>) {
    if (options.only && !options.only.includes(name)) continue;
    const started = Date.now();
    options.log(`${name}: starting`);
    const tally = await scenario(options);
    options.log(`${name}: done in ${((Date.now() - started) / 1000).toFixed(0)} s`);
    tallies.push(tally);
  }
  return tallies;
}

const COLUMNS = ['scenario', 'runs', 'faults injected', 'committed', 'verified', 'lost', 'leaked', 'result'];

export function renderTable(tallies: Tally[]): string {
  const rows = tallies.map((tally) => [
    tally.scenario,
    String(tally.runs),
    String(tally.injected),
    String(tally.committed),
    String(tally.verified),
    String(tally.lost),
    String(tally.leaked),
    tally.problems.length ? `FAILED (${tally.problems.length})` : 'ok',
  ]);
  const widths = COLUMNS.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => row[column]!.length)),
  );
  const format = (cells: string[]) =>
    `| ${cells.map((cell, column) => (column === 0 || column === cells.length - 1 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join(' | ')} |`;
  const rule = `|${widths.map((width, column) => (column === 0 || column === widths.length - 1 ? `:${'-'.repeat(width + 1)}` : `${'-'.repeat(width + 1)}:`)).join('|')}|`;
  return [format(COLUMNS), rule, ...rows.map(format)].join('\n');
}

export function summaryLine(tallies: Tally[]): { line: string; ok: boolean } {
  const sum = (pick: (tally: Tally) => number) => tallies.reduce((total, tally) => total + pick(tally), 0);
  const lost = sum((tally) => tally.lost);
  const leaked = sum((tally) => tally.leaked);
  const line = `RELIABILITY lost=${lost} leaked=${leaked} committed=${sum((tally) => tally.committed)} verified=${sum((tally) => tally.verified)}`;
  return { line, ok: lost === 0 && leaked === 0 && tallies.every((tally) => tally.problems.length === 0) };
}
