/**
 * The HTML report (Get-AzsBackupReport, `azsbackup report`): gathered from what the daemon keeps
 * (job history, alerts, configuration, capacity log, schedule), never from the store, so that a
 * report can be written while the share is down — its free-space section then shows how old the
 * newest sample is. Rendered by src/report, written atomically.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { AzsError } from '../protocol/errors.js';
import type { Job, ReportFile } from '../protocol/objects.js';
import type { ReportData } from '../report/reportData.js';
import { DAY_MS } from '../util/clock.js';
import { renderReport } from '../report/render.js';
import type { CapacityLog } from '../state/capacityLog.js';
import type { JobHistory } from '../state/jobHistory.js';
import type { SavedConfig, StateDir } from '../state/stateDir.js';
import { writeFileAtomic } from '../util/atomicFile.js';
import type { Clock } from '../util/clock.js';
import { hasControlCharacters } from '../util/text.js';
import type { AlertService } from './alerts.js';

export interface ReportDeps {
  state: StateDir;
  clock: Clock;
  history: JobHistory;
  alerts: AlertService;
  capacity: CapacityLog;
  nextBackupTime: (config: SavedConfig) => Promise<string | null>;
}

const isGood = (job: Job) => job.Outcome === 'Succeeded' || job.Outcome === 'PartialSucceeded';

/** The file the report goes to: an absolute path in a folder that exists, replaced only when asked. */
async function checkOutFile(outFile: string, overwrite: boolean): Promise<void> {
  if (hasControlCharacters(outFile) || !path.isAbsolute(outFile)) {
    throw new AzsError(
      'InvalidParameter',
      `OutFile '${outFile}' must be an absolute file path without control characters (the cmdlet and 'azsbackup report' resolve a relative one).`,
      { parameter: 'OutFile', target: outFile },
    );
  }
  const folder = path.dirname(outFile);
  if (!(await stat(folder).catch(() => null))?.isDirectory()) {
    throw new AzsError(
      'InvalidParameter',
      `The folder of OutFile, '${folder}', does not exist. Create it, or give a path in an existing folder.`,
      { parameter: 'OutFile', target: outFile },
    );
  }
  const existing = await stat(outFile).catch(() => null);
  if (existing?.isDirectory()) {
    throw new AzsError(
      'InvalidParameter',
      `OutFile '${outFile}' is a folder. Give a file name, e.g. '${path.join(outFile, 'backup-report.html')}'.`,
      {
        parameter: 'OutFile',
        target: outFile,
      },
    );
  }
  if (existing && !overwrite) {
    throw new AzsError(
      'ReportFileExists',
      `OutFile '${outFile}' already exists and is not replaced. Choose another path, or replace it with -Force (Get-AzsBackupReport) or --force (azsbackup report).`,
      { parameter: 'OutFile', target: outFile },
    );
  }
}

export class ReportService {
  constructor(private readonly deps: ReportDeps) {}

  async write(params: { OutFile: string; Overwrite?: boolean }): Promise<ReportFile> {
    await checkOutFile(params.OutFile, params.Overwrite ?? false);
    const data = await this.gather();
    const html = renderReport(data);
    await writeFileAtomic(params.OutFile, html, 0o644);
    return {
      Path: params.OutFile,
      Bytes: Buffer.byteLength(html),
      GeneratedTime: data.GeneratedTime,
      Backups: data.Backups.length,
      ActiveAlerts: data.ActiveAlerts.length,
    };
  }

  /** Everything the report shows, as of now. */
  async gather(): Promise<ReportData> {
    const { state, clock, history, alerts, capacity } = this.deps;
    const now = clock.now();
    const config = await state.readConfig();
    const windowStart = new Date(now.getTime() - config.backupRetentionPeriodInDays * DAY_MS).toISOString();
    const inWindow = (time: string | null) => time !== null && time >= windowStart;
    const backups = await history.find({ Kind: ['Backup'] });
    const samples = await capacity.list();
    return {
      GeneratedTime: now.toISOString(),
      DeploymentId: state.identity.DeploymentId,
      Location: state.identity.Location,
      StorePath: config.path,
      BackupFrequencyInHours: config.backupFrequencyInHours,
      BackupRetentionPeriodInDays: config.backupRetentionPeriodInDays,
      IsBackupSchedulerEnabled: config.isBackupSchedulerEnabled,
      NextBackupTime: await this.deps.nextBackupTime(config),
      Certificate: config.certificate && {
        Thumbprint: config.certificate.thumbprint,
        Subject: config.certificate.subject,
        NotAfter: config.certificate.notAfter,
      },
      LastGoodBackup: backups.find(isGood) ?? null,
      Backups: backups.filter((job) => inWindow(job.StartTime)),
      ActiveAlerts: await alerts.list('Active'),
      ClosedAlerts: (await alerts.list('Closed')).filter((alert) => inWindow(alert.ClosedTime)),
      Capacity: samples.filter((sample) => inWindow(sample.Time)),
      LatestCapacity: samples.at(-1) ?? null,
    };
  }
}
