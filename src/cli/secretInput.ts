/** Reads a secret for the CLI without ever taking it from argv: environment, a file, or a silent prompt. */
import { readFile } from 'node:fs/promises';
import { AzsError } from '../protocol/errors.js';

/** The environment variable `azsbackup extract` reads a blob container's credential from. */
export const STORE_SECRET_VARIABLE = 'AZSBACKUP_STORE_PASSWORD';

export async function readSecret(options: {
  envVar: string;
  file?: string;
  /** The option that names the file, for the error when there is no secret. */
  fileOption: string;
  prompt: string;
  parameter: string;
  /** What the secret is, for the error when there is none (default: the parameter's name). */
  what?: string;
}): Promise<string> {
  const fromEnv = process.env[options.envVar];
  if (fromEnv) return fromEnv;
  if (options.file) return readSecretFile(options.file, options.fileOption);
  if (!process.stdin.isTTY) {
    throw new AzsError(
      'InvalidParameter',
      `No ${options.what ?? options.parameter}: set ${options.envVar}, give ${options.fileOption}, or run in a terminal to be prompted.`,
      {
        parameter: options.parameter,
      },
    );
  }
  return promptSilently(options.prompt);
}

/** The file's text without its trailing newline. */
async function readSecretFile(file: string, fileOption: string): Promise<string> {
  const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw new AzsError('InvalidParameter', `${fileOption} '${file}' cannot be read (${error.code}).`, {
      parameter: fileOption.replace(/^--/, ''),
      target: file,
    });
  });
  return text.replace(/\r?\n$/, '');
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
