/**
 * Scenario 2, store faults on a real Samba server: the server stopped in the middle of an upload and
 * started again, the share made read-only (a read-only bind mount of its folder), the share full (a
 * small tmpfs), the password changed on the server (smbpasswd), and the store folder removed from
 * the share. Each must fail the backup with the right alert, leave the earlier backups whole, and the
 * first backup after the fix must succeed and close the alert.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, renameSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { RpcError } from '../../src/daemon/client.js';
import type { TestDaemon } from '../../test/helpers/daemon.js';
import type { Deployment } from '../../test/helpers/deployment.js';
import { mountReadOnly, unmount } from '../../test/helpers/mounts.js';
import { SambaServer } from '../../test/helpers/samba.js';
import {
  Cleanup,
  digestsOf,
  directoryRole,
  errorMessage,
  filesBelow,
  listedIds,
  sleep,
  sqliteRole,
  Tally,
  verifyCommitted,
  within,
  type Committed,
  type RoleCheck,
  type SuiteOptions,
  startDeployment,
} from './common.js';

const TITLES = {
  connectivity: /connectivity problem/,
  path: /fault in the external store path/,
  capacity: /out of capacity/,
  authentication: /authentication problem/,
};

interface Fault {
  name: string;
  alert: RegExp;
  /** Makes the store fail and runs the backup that meets the fault; resolves to that backup's error. */
  inject(): Promise<unknown>;
  fix(): Promise<void>;
}

class StoreFaults {
  readonly committed: Committed[] = [];
  readonly roles: RoleCheck[];
  share = 'backup';
  password: string;

  constructor(
    readonly server: SambaServer,
    readonly daemon: TestDaemon,
    readonly deployment: Deployment,
    readonly tally: Tally,
    readonly options: SuiteOptions,
  ) {
    this.password = server.password;
    this.roles = [
      directoryRole('CA', deployment.folder),
      sqliteRole('WAS', deployment.database),
      directoryRole('ECE', deployment.scripted),
    ];
  }

  get storeFolder(): string {
    return path.join(this.server.sharePath(this.share), 'east');
  }

  async useShare(share: string): Promise<void> {
    this.share = share;
    mkdirSync(this.storeFolder, { recursive: true });
    spawnSync('chmod', ['-R', 'a+rwX', this.server.sharePath(share)]);
    await this.daemon.call('config.set', {
      Path: this.server.uncPath(share, 'east'),
      UserName: `CONTOSO\\${this.server.user}`,
      Password: this.password,
    });
  }

  async backupToEnd(): Promise<boolean> {
    const digests = await digestsOf(this.roles);
    const backup = await within(this.daemon.call('backup.start', { Wait: true }), 300_000, 'backup');
    if (!this.tally.check(backup.Status === 'Succeeded', `backup after the fix ended ${backup.Status}`))
      return false;
    this.committed.push({ backupId: backup.BackupId, created: backup.CreatedDateTime, ready: true, digests });
    this.tally.committed += 1;
    return true;
  }

  /** The committed backups on the configured share: listed, whole, and nothing else listed. */
  async checkEarlierBackups(when: string): Promise<void> {
    const here = this.committed.filter((backup) => isOn(this.storeFolder, backup));
    const listed = new Set(await listedIds(this.daemon));
    for (const id of listed)
      if (!here.some((backup) => backup.backupId === id))
        this.tally.lose(`${when}: backup ${id} listed but never committed`);
    for (const backup of here) {
      const problem = listed.has(backup.backupId)
        ? await verifyCommitted(
            {
              daemon: this.daemon,
              pfxPath: this.deployment.pfxPath,
              storeFolder: this.storeFolder,
              roles: this.roles,
            },
            backup,
          )
        : `backup ${backup.backupId} is no longer listed`;
      if (problem) this.tally.lose(`${when}: ${problem}`);
      else this.tally.verified += 1;
    }
  }

  async alertActive(title: RegExp): Promise<boolean> {
    const { alerts } = await this.daemon.call('alert.list', { State: 'Active' });
    return alerts.some((alert) => title.test(alert.Title));
  }

  async meet(fault: Fault): Promise<void> {
    this.tally.runs += 1;
    this.tally.injected += 1;
    const outcome = await fault.inject();
    this.options.log(
      `store faults: ${fault.name}: ${outcome instanceof Error ? outcome.message : 'backup did not fail'}`,
    );
    this.tally.check(outcome instanceof RpcError, `${fault.name}: the backup did not fail`);
    this.tally.check(await this.alertActive(fault.alert), `${fault.name}: no active alert ${fault.alert}`);
    await fault.fix();
    await this.checkEarlierBackups(`after ${fault.name}`);
    if (await this.backupToEnd())
      this.tally.check(
        !(await this.alertActive(fault.alert)),
        `${fault.name}: the alert stayed active after a good backup`,
      );
  }
}

function isOn(storeFolder: string, backup: Committed): boolean {
  return filesBelow(path.join(storeFolder, 'MASBackup')).some((file) => file.includes(backup.backupId));
}

/** Resolves to the error the backup fails with (or null when it does not fail). */
function failingBackup(daemon: TestDaemon): Promise<unknown> {
  return within(daemon.call('backup.start', { Wait: true }), 300_000, 'backup').then(
    () => null,
    (error: unknown) => error,
  );
}

async function waitForUpload(folder: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!filesBelow(folder).some((file) => file.includes('.partial-'))) {
    if (Date.now() > deadline) throw new Error('no upload started within 60 s');
    await sleep(10);
  }
}

function faultsOf(run: StoreFaults): Fault[] {
  const { server, daemon, deployment } = run;
  const bulk = path.join(deployment.folder, 'bulk.bin');
  const filler = () => path.join(server.sharePath('small'), 'filler');
  const moved = () => `${run.storeFolder}.moved`;
  return [
    {
      name: 'Samba stopped mid-upload, restarted',
      alert: TITLES.connectivity,
      inject: async () => {
        writeFileSync(bulk, randomBytes(128 * 1024 * 1024));
        const backup = failingBackup(daemon);
        await waitForUpload(run.storeFolder);
        await server.stop();
        return backup;
      },
      fix: async () => {
        rmSync(bulk);
        await server.launch();
      },
    },
    {
      name: 'share made read-only',
      alert: TITLES.path,
      inject: async () => {
        mountReadOnly(server.sharePath('backup'));
        return failingBackup(daemon);
      },
      fix: async () => unmount(server.sharePath('backup')),
    },
    {
      name: 'password changed on the server',
      alert: TITLES.authentication,
      inject: async () => {
        run.password = `${server.password}-changed`;
        const result = spawnSync('smbpasswd', ['-s', '-c', server.conf, server.user], {
          input: `${run.password}\n${run.password}\n`,
        });
        if (result.status !== 0) throw new Error(`smbpasswd failed: ${result.stderr}`);
        return failingBackup(daemon);
      },
      fix: async () => void (await daemon.call('config.set', { Password: run.password })),
    },
    {
      name: 'store folder removed from the share',
      alert: TITLES.path,
      inject: async () => {
        renameSync(run.storeFolder, moved());
        return failingBackup(daemon);
      },
      fix: async () => renameSync(moved(), run.storeFolder),
    },
    {
      name: 'share full',
      alert: TITLES.capacity,
      inject: async () => {
        await run.useShare('small');
        await run.backupToEnd();
        const free = statfsSync(server.sharePath('small'));
        writeFileSync(filler(), Buffer.alloc(Math.max(0, free.bavail * free.bsize - 64 * 1024)));
        return failingBackup(daemon);
      },
      fix: async () => rmSync(filler()),
    },
  ];
}

export async function storeFaults(options: SuiteOptions): Promise<Tally> {
  const tally = new Tally('2. store faults (Samba)');
  const cleanup = new Cleanup();
  try {
    const server = await SambaServer.start({ shares: [{ name: 'backup' }, { name: 'small', sizeMiB: 24 }] });
    cleanup.add(() => server.dispose());
    cleanup.add(() => spawnSync('umount', ['-l', server.sharePath('backup')], { stdio: 'ignore' }));
    const { daemon, deployment } = await startDeployment(cleanup);
    const run = new StoreFaults(server, daemon, deployment, tally, options);
    await run.useShare('backup');
    await run.backupToEnd();
    for (const fault of faultsOf(run)) await run.meet(fault);
  } catch (error) {
    tally.fail(`scenario stopped: ${errorMessage(error)}`);
  } finally {
    await cleanup.run();
  }
  return tally;
}
