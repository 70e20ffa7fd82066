/**
 * An engine of its own for a unit test: no daemon, no socket, no pwsh. A temporary state folder, a
 * local-folder store, a Directory role over a small folder, a real certificate, and a fixed clock
 * that the test moves itself.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Engine } from '../../src/engine/engine.js';
import { newEncryptionCertificate } from '../../src/engine/encryptionCertificates.js';
import { StateDir } from '../../src/state/stateDir.js';
import type { BackupStore } from '../../src/storage/store.js';
import { openStore } from '../../src/storage/openStore.js';
import { HOUR_MS, type Clock } from '../../src/util/clock.js';
import type { Logger } from '../../src/util/log.js';
import { removeDir, tempDir } from './daemon.js';

export const PFX_PASSWORD = 'Engine-Test-Pfx-1!';

/** A clock that stands still until the test moves it. */
export class FixedClock implements Clock {
  constructor(private time: Date) {}

  now(): Date {
    return new Date(this.time);
  }

  advanceHours(hours: number): void {
    this.time = new Date(this.time.getTime() + hours * HOUR_MS);
  }
}

const quietLog = { info() {}, warn() {}, error() {}, debug() {} } as unknown as Logger;

export interface EngineFixture {
  engine: Engine;
  clock: FixedClock;
  store: string;
  /** The engine's state folder. */
  state: string;
  /** The Directory role's folder (role CA). */
  data: string;
  decryption: { DecryptionCertPath: string; DecryptionCertPassword: string };
  /** The public certificate backups are encrypted for (its .pfx is `decryption`'s). */
  cerPath: string;
  /**
   * A new engine on the same state folder and store, started as a daemon starts: what follows a
   * kill. The engine before it is left as it is (its store calls may never return).
   */
  restart(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A configured engine (store, certificate, role CA); its scheduler is off unless asked, and its
 * store opened by `wrapStore` around the real one when given.
 */
export async function createEngine(
  options: { scheduler?: boolean; wrapStore?: (store: BackupStore) => BackupStore } = {},
): Promise<EngineFixture> {
  const root = tempDir('engine');
  const store = path.join(root, 'store');
  const data = path.join(root, 'data', 'CA');
  mkdirSync(store, { recursive: true });
  mkdirSync(data, { recursive: true });
  writeFileSync(path.join(data, 'settings.json'), '{"endpoint":"https://adminmanagement.local"}\n');
  writeFileSync(path.join(data, 'ca.log'), 'issued\n'.repeat(10_000));
  // Whole hours, so that schedule slots fall where a test expects them.
  const clock = new FixedClock(new Date(Math.floor(Date.now() / HOUR_MS) * HOUR_MS));
  const stateFolder = path.join(root, 'state');
  const wrap = options.wrapStore ?? ((store) => store);
  const newEngine = async () =>
    new Engine(await StateDir.open(stateFolder), clock, quietLog, {
      openStore: (settings) => wrap(openStore(settings)),
    });
  const engine = await newEngine();
  const certificate = {
    CerPath: path.join(root, 'backup.cer'),
    PfxPath: path.join(root, 'backup.pfx'),
  };
  await newEncryptionCertificate({
    Subject: 'CN=Engine Test',
    ...certificate,
    PfxPassword: PFX_PASSWORD,
    ValidityYears: 1,
  });
  await engine.setConfiguration({
    Path: store,
    EncryptionCertPath: certificate.CerPath,
    IsBackupSchedulerEnabled: options.scheduler ?? false,
  });
  await engine.roles.register({ Name: 'CA', Provider: 'Directory', Path: data });
  const fixture: EngineFixture = {
    engine,
    clock,
    store,
    state: stateFolder,
    data,
    decryption: { DecryptionCertPath: certificate.PfxPath, DecryptionCertPassword: PFX_PASSWORD },
    cerPath: certificate.CerPath,
    async restart() {
      fixture.engine = await newEngine();
      await fixture.engine.start();
    },
    async close() {
      await fixture.engine.stop();
      removeDir(root);
    },
  };
  return fixture;
}
