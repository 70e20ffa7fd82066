/**
 * `npm run reliability [-- --short]`: the reliability and security suite. Runs every scenario
 * (crashes, store faults, data under load, hostile input, access, long run) against real daemons,
 * a real Samba and real users on this machine, prints one table row per scenario and ends with
 *   RELIABILITY lost=<n> leaked=<n> committed=<n> verified=<n>
 * It exits non-zero when anything was lost or leaked, or a scenario found a problem. Needs root
 * (users, mounts, smbd); uses loopback only; cleans up after itself even when a scenario fails.
 */
import { fileURLToPath } from 'node:url';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { cleanUpEverything } from './reliability/common.js';
import { SCENARIOS, runSuite, renderTable, summaryLine, type ScenarioName } from './reliability/suite.js';

async function main(): Promise<void> {
  const argv = await yargs(hideBin(process.argv))
    .option('short', { type: 'boolean', default: false, describe: 'The short form (under 15 minutes)' })
    .option('only', {
      type: 'array',
      string: true,
      choices: Object.keys(SCENARIOS),
      describe: 'Run only these scenarios',
    })
    .strict()
    .parseAsync();
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      process.stderr.write(
        `reliability: ${signal}: stopping daemons, smbd, users and mounts, removing folders\n`,
      );
      void cleanUpEverything().finally(() => process.exit(130));
    });
  }
  const started = Date.now();
  const tallies = await runSuite({
    short: argv.short,
    only: argv.only as ScenarioName[] | undefined,
    log: (text) => process.stderr.write(`reliability: ${text}\n`),
  });
  const minutes = ((Date.now() - started) / 60_000).toFixed(1);
  process.stdout.write(`${renderTable(tallies)}\n`);
  process.stdout.write(`(${argv.short ? 'short' : 'long'} form, ${minutes} min)\n`);
  for (const tally of tallies) {
    for (const problem of tally.problems) process.stdout.write(`${tally.scenario}: ${problem}\n`);
    for (const note of tally.notes) process.stdout.write(`${tally.scenario}: note: ${note}\n`);
  }
  const summary = summaryLine(tallies);
  process.stdout.write(`${summary.line}\n`);
  process.exitCode = summary.ok ? 0 : 1;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
