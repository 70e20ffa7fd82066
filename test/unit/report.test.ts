/** The report renderer: escaping, nothing external, the health banner, empty states, many backups. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Alert, Job } from '../../src/protocol/objects.js';
import { healthOf, type ReportData } from '../../src/report/reportData.js';
import { DAY_MS } from '../../src/util/clock.js';
import { renderReport } from '../../src/report/render.js';

const NOW = Date.parse('2026-12-05T03:00:00.000Z');
const HOUR = 3600_000;
const iso = (time: number) => new Date(time).toISOString();

function backup(hoursAgo: number, outcome: Job['Outcome'], extra: Partial<Job> = {}): Job {
  const start = NOW - hoursAgo * HOUR;
  const ran = outcome !== 'Skipped';
  return {
    JobId: `job-${hoursAgo}`,
    Kind: 'Backup',
    BackupId: ran ? `backup-${hoursAgo}` : null,
    IsAutomatic: true,
    StartTime: iso(start),
    EndTime: outcome === 'Running' ? null : iso(start + 90_000),
    Outcome: outcome,
    ErrorMessage: outcome === 'Failed' ? 'The store path is gone.' : null,
    Roles: ran
      ? [{ RoleName: 'WAS', Status: outcome === 'Failed' ? 'Failed' : 'Succeeded', ErrorMessage: null }]
      : [],
    SourceBytes: ran ? 4_000_000 : null,
    StoredBytes: ran ? 1_000_000 + hoursAgo : null,
    RoleMeasures: ran
      ? [{ RoleName: 'WAS', SourceBytes: 4_000_000, StoredBytes: 1_000_000, DurationSeconds: 80 }]
      : [],
    ...extra,
  };
}

function alert(severity: Alert['Severity'], state: Alert['State'], extra: Partial<Alert> = {}): Alert {
  return {
    AlertId: `alert-${severity}-${state}`,
    Title: `${severity} alert`,
    Severity: severity,
    State: state,
    CreatedTime: iso(NOW - 5 * HOUR),
    ClosedTime: state === 'Closed' ? iso(NOW - 2 * HOUR) : null,
    Description: 'Something happened.',
    Remediation: 'Do this.',
    BackupId: null,
    ...extra,
  };
}

function data(extra: Partial<ReportData> = {}): ReportData {
  const backups = [backup(2, 'Succeeded'), backup(14, 'Failed'), backup(26, 'Skipped')];
  return {
    GeneratedTime: iso(NOW),
    DeploymentId: 'd-1',
    Location: 'redmond',
    StorePath: '/mnt/backups',
    BackupFrequencyInHours: 12,
    BackupRetentionPeriodInDays: 7,
    IsBackupSchedulerEnabled: true,
    NextBackupTime: iso(NOW + 10 * HOUR),
    Certificate: { Thumbprint: 'AB'.repeat(20), Subject: 'CN=test', NotAfter: iso(NOW + 300 * DAY_MS) },
    LastGoodBackup: backups[0]!,
    Backups: backups,
    ActiveAlerts: [],
    ClosedAlerts: [alert('Critical', 'Closed')],
    Capacity: [0, 1, 2].map((day) => ({
      Time: iso(NOW - day * DAY_MS),
      AvailableBytes: 5e9 - day * 1e8,
      TotalBytes: 1e10,
    })),
    LatestCapacity: { Time: iso(NOW - HOUR), AvailableBytes: 5e9, TotalBytes: 1e10 },
    ...extra,
  };
}

/** Elements carrying the class, alone or among others (as a CSS selector would find them). */
const countClass = (html: string, name: string) =>
  [...html.matchAll(/class="([^"]*)"/g)].filter((match) => match[1]!.split(' ').includes(name)).length;

describe('report renderer', () => {
  test('every text from data is escaped: a role named <script> shows as text', () => {
    const hostile = '<script>alert(1)</script>';
    const html = renderReport(
      data({
        Location: `<b>loc</b>`,
        StorePath: '"><img src=x onerror=alert(2)>',
        Backups: [
          backup(1, 'PartialSucceeded', {
            Roles: [{ RoleName: hostile, Status: 'Failed', ErrorMessage: 'x' }],
            RoleMeasures: [{ RoleName: hostile, SourceBytes: 1, StoredBytes: 1, DurationSeconds: 1 }],
            ErrorMessage: `it's <broken> & "quoted"`,
          }),
        ],
        ActiveAlerts: [
          alert('Warning', 'Active', {
            Title: hostile,
            Description: '<i>d</i>',
            Remediation: '<a href="http://evil">fix</a>',
          }),
        ],
      }),
    );
    assert.ok(!/<script/i.test(html), 'no script element');
    assert.ok(!/<img/i.test(html), 'no injected image');
    assert.ok(!/<a /i.test(html) && !/<i>|<b>/.test(html), 'no injected markup');
    assert.ok(html.includes('&lt;script&gt;alert(1)&lt;/script&gt;'), 'the role name is shown as text');
    assert.ok(html.includes('it&#39;s &lt;broken&gt; &amp; &quot;quoted&quot;'));
    assert.ok(html.includes('&lt;b&gt;loc&lt;/b&gt;'));
  });

  test('nothing external: no URL in src or href, no @import, no url(), no script, link or image', () => {
    const html = renderReport(
      data({ ActiveAlerts: [alert('Critical', 'Active', { Remediation: 'See https://example.com/fix' })] }),
    );
    const attributes = [
      ...html.matchAll(/\b(?:src|href|xlink:href|action|srcset)\s*=\s*("[^"]*"|'[^']*'|[^\s>]+)/gi),
    ];
    assert.deepEqual(
      attributes.map((match) => match[0]),
      [],
      'no src/href attributes at all',
    );
    assert.ok(!/@import|url\(/i.test(html), 'no CSS import or url()');
    assert.ok(!/<(script|link|img|iframe|object|embed)\b/i.test(html));
    assert.ok(html.includes('See https://example.com/fix'), 'a URL in a remediation stays plain text');
  });

  test('a fresh deployment: intentional empty states and the first scheduled backup', () => {
    const html = renderReport(
      data({
        LastGoodBackup: null,
        Backups: [],
        ActiveAlerts: [],
        ClosedAlerts: [],
        Capacity: [],
        LatestCapacity: null,
      }),
    );
    assert.match(html, /No backup yet — the first scheduled one runs at 2026-12-05 13:00 UTC\./);
    assert.match(html, /id="alerts-empty">No alerts/);
    assert.match(html, /id="capacity-empty">No free-space sample yet/);
    assert.match(html, /data-health="Attention"/);
    assert.equal(countClass(html, 'backup-mark'), 0);
    assert.ok(!html.includes('<svg'), 'no empty chart frames');
  });

  test('scheduler off and nothing ran: says what to do instead of a time', () => {
    const html = renderReport(
      data({ LastGoodBackup: null, Backups: [], IsBackupSchedulerEnabled: false, NextBackupTime: null }),
    );
    assert.match(html, /No backup yet — none is scheduled; run Start-AzsBackup\./);
    assert.match(html, /the scheduler is off/);
  });

  test('many backups: one mark and one row each, bars for those that ran, a page of sane size', () => {
    const outcomes: Job['Outcome'][] = ['Succeeded', 'PartialSucceeded', 'Failed', 'Skipped', 'Cancelled'];
    const backups = Array.from({ length: 600 }, (_, index) =>
      backup(index * 0.25 + 0.5, outcomes[index % 5]!),
    );
    const html = renderReport(
      data({ BackupRetentionPeriodInDays: 14, Backups: backups, LastGoodBackup: backups[0]! }),
    );
    assert.equal(countClass(html, 'backup-mark'), 600);
    assert.equal(countClass(html, 'backup-row'), 600);
    assert.equal(countClass(html, 'size-bar'), 480, 'skipped backups ran nothing');
    assert.equal(countClass(html, 'duration-bar'), 480);
    assert.equal(countClass(html, 'role-row'), 1);
    assert.match(html, /<span class="count" data-outcome="Skipped">120 Skipped<\/span>/);
    assert.ok(html.length < 1_500_000, `${html.length} bytes`);
  });

  test('the free-space section says how old the newest sample is when the store stopped answering', () => {
    const html = renderReport(
      data({
        Capacity: [],
        LatestCapacity: { Time: iso(NOW - 3 * DAY_MS), AvailableBytes: 1, TotalBytes: 2 },
      }),
    );
    assert.match(html, /id="capacity-stale">The newest sample is 3 days old/);
    assert.equal(countClass(html, 'capacity-point'), 0);
    assert.equal(countClass(renderReport(data()), 'capacity-point'), 3);
  });
});

describe('health verdict', () => {
  test('healthy: a recent good backup, no open alert', () => {
    assert.deepEqual(healthOf(data({ Backups: [backup(2, 'Succeeded')] })), {
      health: 'Healthy',
      reasons: [],
    });
  });

  test('failing: the newest backup failed, or a critical alert is open, or the certificate expired', () => {
    assert.equal(
      healthOf(data({ Backups: [backup(1, 'Failed'), backup(2, 'Succeeded')] })).health,
      'Failing',
    );
    assert.equal(
      healthOf(data({ Backups: [backup(2, 'Succeeded')], ActiveAlerts: [alert('Critical', 'Active')] }))
        .health,
      'Failing',
    );
    const expired = { Thumbprint: 'AB', Subject: 'CN=x', NotAfter: iso(NOW - DAY_MS) };
    assert.equal(
      healthOf(data({ Backups: [backup(2, 'Succeeded')], Certificate: expired })).health,
      'Failing',
    );
  });

  test('attention: a warning, a partial backup, an old last good backup, a certificate near its end', () => {
    const good = [backup(2, 'Succeeded')];
    assert.equal(
      healthOf(data({ Backups: good, ActiveAlerts: [alert('Warning', 'Active')] })).health,
      'Attention',
    );
    assert.equal(healthOf(data({ Backups: [backup(1, 'PartialSucceeded')] })).health, 'Attention');
    const old = backup(30, 'Succeeded');
    assert.deepEqual(healthOf(data({ Backups: [backup(1, 'Skipped'), old], LastGoodBackup: old })), {
      health: 'Attention',
      reasons: ['no good backup in 24 h'],
    });
    const soon = { Thumbprint: 'AB', Subject: 'CN=x', NotAfter: iso(NOW + 10 * DAY_MS) };
    assert.equal(healthOf(data({ Backups: good, Certificate: soon })).health, 'Attention');
  });
});
