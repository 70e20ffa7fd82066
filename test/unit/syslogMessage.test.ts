import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { EngineEvent, JobEventData } from '../../src/protocol/events.js';
import type { Alert, Job } from '../../src/protocol/objects.js';
import {
  MAX_MESSAGE_BYTES,
  SD_ID,
  escapeParamValue,
  formatSyslogMessage,
  severityOf,
} from '../../src/notify/syslogMessage.js';
import { octetCountedFrame } from '../../src/notify/syslog.js';
import { parseRfc5424 } from '../helpers/rfc5424.js';

const ORIGIN = { DeploymentId: 'd-1', Location: 'east "pod" [1]' };
const AT = '2026-12-05T03:04:05.678Z';

function alert(severity: Alert['Severity'], overrides: Partial<Alert> = {}): Alert {
  return {
    AlertId: 'a-1',
    Title: 'Infrastructure backup failed: fault in the external store path',
    Severity: severity,
    State: 'Active',
    CreatedTime: AT,
    ClosedTime: null,
    Description: 'The store folder is gone.',
    Remediation: 'Check the path, then run Start-AzsBackup.',
    BackupId: null,
    ...overrides,
  };
}

function jobEvent(outcome: Job['Outcome'], overrides: Partial<JobEventData> = {}): EngineEvent {
  const data: JobEventData = {
    JobId: 'j-1',
    Kind: 'Backup',
    BackupId: 'b-1',
    IsAutomatic: false,
    StartTime: AT,
    EndTime: AT,
    Outcome: outcome,
    ErrorMessage: null,
    Roles: [],
    SourceBytes: null,
    StoredBytes: null,
    RoleMeasures: [],
    DurationSeconds: 12.4,
    ...ORIGIN,
    ...overrides,
  };
  return { type: 'backup.completed', timestamp: AT, data };
}

const format = (event: EngineEvent) => formatSyslogMessage(event, { hostname: 'node 1', pid: 4242 });

test('severities: alerts by their severity, closes as notice, jobs by their outcome', () => {
  const opened = (severity: Alert['Severity']): EngineEvent => ({
    type: 'alert.opened',
    timestamp: AT,
    data: { ...alert(severity), ...ORIGIN },
  });
  assert.equal(severityOf(opened('Critical')), 2);
  assert.equal(severityOf(opened('Warning')), 4);
  assert.equal(
    severityOf({ type: 'alert.closed', timestamp: AT, data: { ...alert('Critical'), ...ORIGIN } }),
    5,
  );
  const expected: Record<Job['Outcome'], number> = {
    Succeeded: 6,
    PartialSucceeded: 4,
    Failed: 3,
    Cancelled: 3,
    Skipped: 5,
    Running: 6,
  };
  for (const [outcome, severity] of Object.entries(expected))
    assert.equal(severityOf(jobEvent(outcome as Job['Outcome'])), severity, outcome);
});

test('a message parses as RFC 5424: daemon facility, header fields, structured data, one line', () => {
  const event = jobEvent('Failed', { ErrorMessage: 'The store path is gone.\nCheck it.' });
  const parsed = parseRfc5424(format(event));
  assert.equal(parsed.facility, 3);
  assert.equal(parsed.severity, 3);
  assert.equal(parsed.version, 1);
  assert.equal(parsed.timestamp, AT);
  assert.equal(parsed.hostname, 'node-1', 'a space in the host name would split the header');
  assert.equal(parsed.appName, 'azsbackup');
  assert.equal(parsed.procId, '4242');
  assert.equal(parsed.msgId, 'backup.completed');
  assert.deepEqual(parsed.structuredData, {
    [SD_ID]: {
      location: ORIGIN.Location,
      deploymentId: 'd-1',
      jobId: 'j-1',
      kind: 'Backup',
      outcome: 'Failed',
      backupId: 'b-1',
      automatic: 'false',
      durationSeconds: '12.4',
    },
  });
  assert.ok(parsed.hasBom);
  assert.equal(parsed.msg, 'Backup b-1 Failed in 12 s. The store path is gone. Check it.');
});

test('parameter values escape quote, backslash and closing bracket, and nothing else', () => {
  assert.equal(escapeParamValue('a"b\\c]d[e'), 'a\\"b\\\\c\\]d[e');
  assert.match(format(jobEvent('Succeeded')), /location="east \\"pod\\" \[1\\]"/);
});

test('an opened alert carries its title and remediation; a long one is cut to fit a datagram', () => {
  const long = alert('Critical', { Remediation: `Do this: ${'ü'.repeat(3000)}` });
  const text = format({ type: 'alert.opened', timestamp: AT, data: { ...long, ...ORIGIN } });
  assert.ok(Buffer.byteLength(text) <= MAX_MESSAGE_BYTES);
  assert.ok(Buffer.byteLength(text) > MAX_MESSAGE_BYTES - 2, 'cut at the limit, not before');
  const parsed = parseRfc5424(text);
  assert.equal(parsed.severity, 2);
  assert.match(parsed.msg, /^Critical alert: Infrastructure backup failed: .*\. Do this: ü+$/);
  assert.ok(!parsed.msg.includes('\uFFFD'), 'no character cut in half');
});

test('an octet-counted frame gives the byte length, not the character count', () => {
  assert.equal(octetCountedFrame('<14>1 ü').toString('utf8'), '8 <14>1 ü');
});
