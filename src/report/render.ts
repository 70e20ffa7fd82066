/**
 * The HTML report: one self-contained page (inline CSS and SVG, no script, nothing fetched) that
 * says at a glance whether backups are healthy, then shows why. A pure function of ReportData.
 * Sections carry stable ids (header, status, summary, backups, sizes, capacity, alerts) for tests
 * and for anyone who scrapes the page.
 */
import type { Alert, Job } from '../protocol/objects.js';
import { formatCapacity } from '../util/format.js';
import { barChartSvg, capacitySvg, OUTCOME_COLOURS, timelineSvg, type Bar, type Outcome } from './charts.js';
import { DAY_MS } from '../util/clock.js';
import { durationSecondsOf, healthOf, overdueAfterMs, type ReportData } from './reportData.js';
import { esc, formatSeconds, formatSpan, formatTime } from './text.js';

const LEGEND_ORDER: Outcome[] = [
  'Succeeded',
  'PartialSucceeded',
  'Failed',
  'Skipped',
  'Cancelled',
  'Running',
];

const STYLE = `
:root{color-scheme:light;font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#1d2430;background:#f4f6f9}
body{margin:0 auto;max-width:960px;padding:24px}
h1{font-size:1.5rem;margin:0}h2{font-size:1.1rem;margin:0 0 12px}
header{display:flex;flex-wrap:wrap;justify-content:space-between;gap:8px;align-items:baseline;margin-bottom:16px}
header .meta{color:#5b6575;font-size:.9rem}
section{background:#fff;border-radius:8px;box-shadow:0 1px 2px rgba(0,0,0,.08);padding:16px 20px;margin-bottom:16px}
.status{color:#fff;font-size:1.05rem}.status strong{font-size:1.6rem;display:block}
.status-Healthy{background:#2e7d32}.status-Attention{background:#b26a00}.status-Failing{background:#c62828}
.facts{display:grid;grid-template-columns:repeat(auto-fit,minmax(200px,1fr));gap:12px;margin:0}
.facts div{border-left:4px solid #d0d6e0;padding-left:10px}.facts dt{color:#5b6575;font-size:.85rem}
.facts dd{margin:2px 0 0;font-weight:600}.facts .note{display:block;font-weight:400;color:#5b6575;font-size:.85rem}
.facts .warn{border-color:#f2a900}.facts .bad{border-color:#c62828}.facts .good{border-color:#2e7d32}
.legend{display:flex;flex-wrap:wrap;gap:14px;font-size:.85rem;margin:6px 0}
.swatch{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:4px;vertical-align:-1px}
.counts{color:#5b6575;font-size:.9rem}
table{border-collapse:collapse;width:100%;font-size:.88rem;margin-top:10px}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #e6e9ef;vertical-align:top}
th{color:#5b6575;font-weight:600}td.num,th.num{text-align:right;white-space:nowrap}
.pill{display:inline-block;padding:1px 8px;border-radius:10px;color:#fff;font-size:.8rem;white-space:nowrap}
.meter{display:inline-block;height:8px;background:#1565c0;border-radius:4px;vertical-align:middle;margin-left:6px}
.chart{display:block;margin:8px 0}.chart text{font-size:11px;fill:#5b6575}
.grid{stroke:#e6e9ef}.axis-line{stroke:#9aa3b2}
.capacity-line{fill:none;stroke:#1565c0;stroke-width:2}.capacity-point{fill:#1565c0}
.empty{color:#5b6575;font-style:italic;padding:12px 0}.stale{color:#8a4b00;font-weight:600}
.alert{border-left:5px solid #9e9e9e;padding:8px 12px;margin:10px 0;background:#fafbfc}
.alert-Critical{border-color:#c62828}.alert-Warning{border-color:#f2a900}.alert-closed{opacity:.75}
.alert h3{font-size:1rem;margin:0 0 4px}.alert p{margin:4px 0}.alert .when{color:#5b6575;font-size:.85rem}
.remediation{background:#eef4ff;padding:6px 8px;border-radius:4px}
h3.group{font-size:.95rem;color:#5b6575;margin:14px 0 4px}
footer{color:#5b6575;font-size:.8rem;text-align:center}
`;

const pill = (outcome: string, colour: string) =>
  `<span class="pill" style="background:${colour}">${esc(outcome)}</span>`;

const outcomePill = (outcome: Outcome) => pill(outcome, OUTCOME_COLOURS[outcome]);

const fact = (label: string, value: string, note: string, tone = '') =>
  `<div class="${tone}"><dt>${esc(label)}</dt><dd>${value}<span class="note">${note}</span></dd></div>`;

/** "in 3 h" or "3 h ago". */
function relative(iso: string, now: number): string {
  const delta = Date.parse(iso) - now;
  return delta >= 0 ? `in ${formatSpan(delta)}` : `${formatSpan(delta)} ago`;
}

const nowOf = (data: ReportData) => Date.parse(data.GeneratedTime);

function headerHtml(data: ReportData): string {
  const store = data.StorePath ? `Store ${esc(data.StorePath)}` : 'No store configured';
  return `<header id="header"><h1>Backup report · <span id="location">${esc(data.Location)}</span></h1><div class="meta">Generated <time id="generated" datetime="${esc(data.GeneratedTime)}">${esc(formatTime(data.GeneratedTime))}</time> · deployment ${esc(data.DeploymentId)} · ${store}</div></header>`;
}

function statusHtml(data: ReportData): string {
  const { health, reasons } = healthOf(data);
  const good = data.LastGoodBackup;
  const detail = reasons.length
    ? reasons.join('; ')
    : `last good backup ${relative(good!.StartTime, nowOf(data))}, no open alert`;
  return `<section id="status" class="status status-${health}" data-health="${health}"><strong>${health}</strong>${esc(detail.charAt(0).toUpperCase() + detail.slice(1))}.</section>`;
}

function summaryHtml(data: ReportData): string {
  const now = nowOf(data);
  const good = data.LastGoodBackup;
  const lastGood = good
    ? fact(
        'Last good backup',
        esc(formatTime(good.StartTime)),
        `${esc(relative(good.StartTime, now))} · ${esc(good.Outcome)}`,
        now - Date.parse(good.StartTime) > overdueAfterMs(data) ? 'warn' : 'good',
      )
    : fact('Last good backup', 'None yet', 'no backup has succeeded', 'warn');
  const next = data.NextBackupTime
    ? fact(
        'Next scheduled backup',
        esc(formatTime(data.NextBackupTime)),
        esc(relative(data.NextBackupTime, now)),
      )
    : fact('Next scheduled backup', 'None', nothingScheduledBecause(data), 'warn');
  return `<section id="summary"><h2>Summary</h2><dl class="facts">${lastGood}${next}${certificateFact(data, now)}${fact(
    'Scheduler',
    data.IsBackupSchedulerEnabled ? 'On' : 'Off',
    `every ${data.BackupFrequencyInHours} h · backups kept ${data.BackupRetentionPeriodInDays} days`,
    data.IsBackupSchedulerEnabled ? '' : 'warn',
  )}</dl></section>`;
}

function nothingScheduledBecause(data: ReportData): string {
  if (!data.IsBackupSchedulerEnabled) return 'the scheduler is off';
  if (!data.StorePath || !data.Certificate) return 'no store or certificate configured yet';
  return 'no slot planned';
}

function certificateFact(data: ReportData, now: number): string {
  const certificate = data.Certificate;
  if (!certificate)
    return fact('Encryption certificate', 'None', 'Set-AzsBackupConfiguration -EncryptionCertPath', 'warn');
  const daysLeft = Math.floor((Date.parse(certificate.NotAfter) - now) / DAY_MS);
  const tone = daysLeft < 0 ? 'bad' : daysLeft < 30 ? 'warn' : 'good';
  const left = daysLeft < 0 ? `expired ${-daysLeft} days ago` : `${daysLeft} days left`;
  return fact(
    'Certificate expiry',
    `<span id="certificate-expiry">${esc(formatTime(certificate.NotAfter))}</span>`,
    `${esc(left)} · ${esc(certificate.Thumbprint.slice(0, 12))}…`,
    tone,
  );
}

function backupsEmptyState(data: ReportData): string {
  const days = data.BackupRetentionPeriodInDays;
  const since = data.LastGoodBackup ? `No backup in the last ${days} days` : 'No backup yet';
  const next = data.NextBackupTime
    ? `the first scheduled one runs at ${formatTime(data.NextBackupTime)}`
    : 'none is scheduled; run Start-AzsBackup';
  return `<p class="empty" id="backups-empty">${esc(`${since} — ${next}.`)}</p>`;
}

function backupsHtml(data: ReportData): string {
  const days = data.BackupRetentionPeriodInDays;
  const head = `<h2>Backups of the last ${days} days</h2>`;
  if (!data.Backups.length) return `<section id="backups">${head}${backupsEmptyState(data)}</section>`;
  const now = nowOf(data);
  const counts = LEGEND_ORDER.map(
    (outcome) => [outcome, data.Backups.filter((job) => job.Outcome === outcome).length] as const,
  )
    .filter(([, count]) => count > 0)
    .map(([outcome, count]) => `<span class="count" data-outcome="${outcome}">${count} ${outcome}</span>`)
    .join(' · ');
  const legend = LEGEND_ORDER.map(
    (outcome) =>
      `<span><span class="swatch" style="background:${OUTCOME_COLOURS[outcome]}"></span>${outcome}</span>`,
  ).join('');
  const rows = data.Backups.map(backupRow).join('');
  return `<section id="backups">${head}<div class="counts">${data.Backups.length} backups: ${counts}</div><div class="legend">${legend}</div>${timelineSvg(data.Backups, now - days * DAY_MS, now)}<table class="backup-table"><thead><tr><th>Started</th><th>Outcome</th><th>Trigger</th><th class="num">Duration</th><th class="num">Stored</th><th>Details</th></tr></thead><tbody>${rows}</tbody></table></section>`;
}

function backupRow(job: Job): string {
  const duration = job.Outcome === 'Skipped' ? null : durationSecondsOf(job);
  const failedRoles = job.Roles.filter((role) => role.Status === 'Failed').map((role) => role.RoleName);
  const details = [
    ...(failedRoles.length ? [`Failed roles: ${failedRoles.join(', ')}`] : []),
    ...(job.ErrorMessage ? [job.ErrorMessage] : []),
  ];
  return `<tr class="backup-row" data-outcome="${job.Outcome}"><td>${esc(formatTime(job.StartTime))}</td><td>${outcomePill(job.Outcome)}</td><td>${job.IsAutomatic ? 'scheduled' : 'on demand'}</td><td class="num">${duration === null ? '—' : esc(formatSeconds(duration))}</td><td class="num">${job.StoredBytes === null ? '—' : esc(formatCapacity(job.StoredBytes))}</td><td>${esc(details.join(' · '))}</td></tr>`;
}

/**
 * The backups that ran (not skipped), oldest first, as bars of one measure: a failed backup keeps
 * its slot at zero size, so the size and duration charts line up backup for backup.
 */
function measureBars(
  data: ReportData,
  measure: (job: Job) => number | null,
  format: (value: number) => string,
): Bar[] {
  return [...data.Backups]
    .reverse()
    .filter((job) => job.Outcome !== 'Skipped' && job.Outcome !== 'Running')
    .map((job) => {
      const value = measure(job) ?? 0;
      return {
        value,
        outcome: job.Outcome,
        tip: `${formatTime(job.StartTime)} · ${job.Outcome} · ${format(value)}`,
      };
    });
}

interface RoleSummary {
  name: string;
  latestStatus: string;
  measured: number;
  latestStored: number | null;
  largestStored: number;
  latestDuration: number | null;
  longestDuration: number;
}

/** Each role's figures over the window, from the backups' RoleMeasures and RoleStatus (newest first). */
function roleSummaries(backups: Job[]): RoleSummary[] {
  const byName = new Map<string, RoleSummary>();
  const summaryOf = (name: string) => {
    let summary = byName.get(name);
    if (!summary) {
      summary = {
        name,
        latestStatus: '—',
        measured: 0,
        latestStored: null,
        largestStored: 0,
        latestDuration: null,
        longestDuration: 0,
      };
      byName.set(name, summary);
    }
    return summary;
  };
  for (const job of backups) {
    for (const role of job.Roles) {
      const summary = summaryOf(role.RoleName);
      if (summary.latestStatus === '—') summary.latestStatus = role.Status;
    }
    for (const measure of job.RoleMeasures) {
      const summary = summaryOf(measure.RoleName);
      summary.measured += 1;
      summary.latestStored ??= measure.StoredBytes;
      summary.largestStored = Math.max(summary.largestStored, measure.StoredBytes);
      summary.latestDuration ??= measure.DurationSeconds;
      summary.longestDuration = Math.max(summary.longestDuration, measure.DurationSeconds ?? 0);
    }
  }
  return [...byName.values()].sort((a, b) => a.name.localeCompare(b.name));
}

function rolesTable(backups: Job[]): string {
  const roles = roleSummaries(backups);
  if (!roles.length) return '<p class="empty">No role has been backed up in this window.</p>';
  const largest = Math.max(...roles.map((role) => role.largestStored), 1);
  const optional = (value: number | null, format: (value: number) => string) =>
    value === null ? '—' : esc(format(value));
  const rows = roles.map((role) => {
    const colour = OUTCOME_COLOURS[role.latestStatus as Outcome] ?? '#9e9e9e';
    const meter = `<span class="meter" style="width:${Math.round((role.largestStored / largest) * 80)}px"></span>`;
    return `<tr class="role-row"><td>${esc(role.name)}</td><td>${pill(role.latestStatus, colour)}</td><td class="num">${role.measured}</td><td class="num">${optional(role.latestStored, formatCapacity)}</td><td class="num">${esc(formatCapacity(role.largestStored))}${meter}</td><td class="num">${optional(role.latestDuration, formatSeconds)}</td><td class="num">${esc(formatSeconds(role.longestDuration))}</td></tr>`;
  });
  return `<table class="role-table"><thead><tr><th>Role</th><th>Latest</th><th class="num">Backups stored</th><th class="num">Latest size</th><th class="num">Largest size</th><th class="num">Latest duration</th><th class="num">Longest duration</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function sizesHtml(data: ReportData): string {
  const head = '<h2>Stored size and duration</h2>';
  const sizes = measureBars(data, (job) => job.StoredBytes, formatCapacity);
  if (!sizes.length)
    return `<section id="sizes">${head}<p class="empty">Sizes and durations appear after the first backup.</p></section>`;
  const durations = measureBars(data, durationSecondsOf, formatSeconds);
  return `<section id="sizes">${head}<h3 class="group">Stored size per backup</h3>${barChartSvg(sizes, 'size', 'Stored size per backup', formatCapacity)}<h3 class="group">Duration per backup</h3>${barChartSvg(durations, 'duration', 'Duration per backup', formatSeconds)}<h3 class="group">Per role</h3>${rolesTable(data.Backups)}</section>`;
}

function capacityHtml(data: ReportData): string {
  const head = '<h2>Free space on the store</h2>';
  const latest = data.LatestCapacity;
  if (!latest)
    return `<section id="capacity">${head}<p class="empty" id="capacity-empty">No free-space sample yet — the daemon measures the store after every backup and configuration change.</p></section>`;
  const now = nowOf(data);
  const age = now - Date.parse(latest.Time);
  const percent = latest.TotalBytes > 0 ? Math.round((latest.AvailableBytes / latest.TotalBytes) * 100) : 0;
  const stale =
    age > overdueAfterMs(data)
      ? `<p class="stale" id="capacity-stale">The newest sample is ${esc(formatSpan(age))} old: the store has not been measured since. If backups are failing, check the store with Test-AzsBackupShareAccessibility.</p>`
      : '';
  const summary = `<p id="capacity-latest">${esc(formatCapacity(latest.AvailableBytes))} free of ${esc(formatCapacity(latest.TotalBytes))} (${percent}%) at ${esc(formatTime(latest.Time))}, ${esc(formatSpan(age))} ago.</p>`;
  const chart = data.Capacity.length
    ? capacitySvg(data.Capacity, now - data.BackupRetentionPeriodInDays * DAY_MS, now, formatCapacity)
    : '';
  return `<section id="capacity">${head}${summary}${stale}${chart}</section>`;
}

function alertHtml(alert: Alert): string {
  const open = alert.State === 'Active';
  const when = open
    ? `opened ${formatTime(alert.CreatedTime)}`
    : `opened ${formatTime(alert.CreatedTime)} · closed ${formatTime(alert.ClosedTime ?? alert.CreatedTime)}`;
  return `<article class="alert alert-${open ? 'open' : 'closed'} alert-${alert.Severity}"><h3>${esc(alert.Severity)}: ${esc(alert.Title)}</h3><p class="when">${esc(when)}${alert.BackupId ? ` · backup ${esc(alert.BackupId)}` : ''}</p><p>${esc(alert.Description)}</p><p class="remediation"><strong>Remediation:</strong> ${esc(alert.Remediation)}</p></article>`;
}

function alertsHtml(data: ReportData): string {
  const head = '<h2>Alerts</h2>';
  if (!data.ActiveAlerts.length && !data.ClosedAlerts.length)
    return `<section id="alerts">${head}<p class="empty" id="alerts-empty">No alerts — nothing open, and none closed in the last ${data.BackupRetentionPeriodInDays} days.</p></section>`;
  const open = data.ActiveAlerts.length
    ? data.ActiveAlerts.map(alertHtml).join('')
    : '<p class="empty">No open alert.</p>';
  const closed = data.ClosedAlerts.length
    ? `<h3 class="group">Closed in the last ${data.BackupRetentionPeriodInDays} days</h3>${data.ClosedAlerts.map(alertHtml).join('')}`
    : '';
  return `<section id="alerts">${head}<h3 class="group">Open</h3>${open}${closed}</section>`;
}

/** The whole page. */
export function renderReport(data: ReportData): string {
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Backup report · ${esc(data.Location)} · ${esc(formatTime(data.GeneratedTime))}</title><style>${STYLE}</style></head>
<body>${headerHtml(data)}${statusHtml(data)}${summaryHtml(data)}${backupsHtml(data)}${sizesHtml(data)}${capacityHtml(data)}${alertsHtml(data)}<footer>AzureStackBackup · this page is self-contained: it needs no network and runs no script.</footer></body></html>
`;
}
