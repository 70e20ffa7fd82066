/** Starts a real daemon on a temporary state folder for a test, and stops it afterwards. */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  DaemonClient,
  RpcError,
  type CallParams,
  type CallResult,
  type CallableName,
} from '../../src/daemon/client.js';
import { cliMain } from './pwsh.js';

export interface TestDaemon {
  stateDir: string;
  pid: number;
  call<M extends CallableName>(method: M, params: CallParams<M>): Promise<CallResult<M>>;
  connect(): Promise<DaemonClient>;
  restart(): void;
  stop(): void;
}

interface StartOptions {
  stateDir?: string;
  testHooks?: boolean;
  /** More environment for `azsbackup start`, e.g. `{ AZSBACKUP_FORMAT: '4' }` (the daemon keeps its allowlisted part). */
  env?: Record<string, string>;
}

function start(stateDir: string, options: StartOptions): { pid: number; socket: string; tokenFile: string } {
  const output = execFileSync(
    process.execPath,
    [cliMain, 'start', '--json', '--state-dir', stateDir, ...(options.testHooks ? ['--test-hooks'] : [])],
    {
      encoding: 'utf8',
      env: { ...process.env, ...options.env },
    },
  );
  return JSON.parse(output);
}

export function startDaemon(options: StartOptions = {}): TestDaemon {
  const stateDir = options.stateDir ?? mkdtempSync(path.join(os.tmpdir(), 'azs-state-'));
  let endpoint = start(stateDir, options);
  const daemon: TestDaemon = {
    stateDir,
    get pid() {
      return endpoint.pid;
    },
    connect: () => DaemonClient.connect(endpoint.socket, endpoint.tokenFile),
    async call(method, params) {
      const client = await daemon.connect();
      try {
        return await client.call(method, params);
      } finally {
        client.close();
      }
    },
    restart() {
      endpoint = start(stateDir, options);
    },
    stop() {
      spawnSync(process.execPath, [cliMain, 'stop', '--state-dir', stateDir], { stdio: 'ignore' });
    },
  };
  return daemon;
}

export function tempDir(prefix: string): string {
  return mkdtempSync(path.join(os.tmpdir(), `azs-${prefix}-`));
}

export function removeDir(folder: string): void {
  rmSync(folder, { recursive: true, force: true });
}

/** Waits until the daemon has no Running job (scheduled backups run in the background). */
export async function waitForIdle(daemon: TestDaemon, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const { jobs } = await daemon.call('job.list', {});
    if (!jobs.some((job) => job.Outcome === 'Running')) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error('a job was still running after the timeout');
}

/** For assert.rejects: a daemon call that failed for `reason`, its message matching every pattern. */
export function rejectsWith(reason: string, ...patterns: RegExp[]) {
  return (error: unknown) => {
    assert.ok(error instanceof RpcError, String(error));
    assert.equal(error.data?.reason, reason, error.message);
    for (const pattern of patterns) assert.match(error.message, pattern);
    return true;
  };
}
