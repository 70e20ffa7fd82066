/** Reads a secret for the CLI without ever taking it from argv: environment, a file, or a silent prompt. */
import { readFile } from 'node:fs/promises';
import { AzsError } from '../protocol/errors.js';

export async function readSecret(options: {
  envVar: string;
  file?: string;
  prompt: string;
  parameter: string;
}): Promise<string> {
  const fromEnv = process.env[options.envVar];
  if (fromEnv) return fromEnv;
  if (options.file) return (await readFile(options.file, 'utf8')).replace(/\r?\n$/, '');
  if (!process.stdin.isTTY) {
    throw new AzsError(
      'InvalidParameter',
      `No ${options.parameter}: set ${options.envVar}, give --password-file, or run in a terminal to be prompted.`,
      {
        parameter: options.parameter,
      },
    );
  }
  return promptSilently(options.prompt);
}

function promptSilently(prompt: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const input = process.stdin;
    let value = '';
    process.stderr.write(prompt);
    input.setRawMode(true);
    input.resume();
    input.setEncoding('utf8');
    const onData = (chunk: string) => {
      for (const char of chunk) {
        if (char === '\r' || char === '\n') return finish(() => resolve(value));
        if (char === '\u0003')
          return finish(() => reject(new AzsError('JobCancelled', 'Cancelled at the password prompt.')));
        value = char === '\u007f' ? value.slice(0, -1) : value + char;
      }
    };
    const finish = (settle: () => void) => {
      input.off('data', onData);
      input.setRawMode(false);
      input.pause();
      process.stderr.write('\n');
      settle();
    };
    input.on('data', onData);
  });
}
