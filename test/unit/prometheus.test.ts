/**
 * The metrics file's text: the metric names, HELP and TYPE for each, every sample labelled with the
 * location and escaped, no sample timestamps, and series left out when there is nothing to say yet.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LAST_METRIC, renderMetrics, type MetricsSnapshot } from '../../src/notify/prometheus.js';
import { parseMetrics, sampleMap } from '../helpers/promText.js';

const LOCATION = 'east "1"\\rack\n2';

const full: MetricsSnapshot = {
  location: LOCATION,
  lastSuccessSeconds: 1_764_900_000.5,
  lastBackup: {
    roles: [
      { name: 'CA', succeeded: true },
      { name: 'W"A\\S', succeeded: false },
    ],
    durationSeconds: 12.25,
    storedBytes: 123_456,
  },
  storeFreeBytes: 2 ** 40,
  activeAlerts: { Critical: 2, Warning: 0 },
  certificateExpirySeconds: 1_790_000_000,
  schedulerEnabled: true,
};

test('every metric has HELP, TYPE gauge and samples labelled with the location, values as given', async () => {
  const text = await renderMetrics(full);
  const families = parseMetrics(text);
  assert.deepEqual(
    [...families.keys()],
    [
      'azsbackup_last_success_timestamp_seconds',
      'azsbackup_last_backup_status',
      'azsbackup_backup_duration_seconds',
      'azsbackup_backup_stored_bytes',
      'azsbackup_store_free_bytes',
      'azsbackup_active_alerts',
      'azsbackup_encryption_cert_expiry_timestamp_seconds',
      LAST_METRIC,
    ],
  );
  for (const [name, family] of families) {
    assert.equal(family.type, 'gauge', name);
    assert.ok(family.help.length > 10, name);
    for (const sample of family.samples) assert.equal(sample.labels.location, LOCATION, name);
  }
  const loc = `location=${JSON.stringify(LOCATION)}`;
  assert.deepEqual(sampleMap(families), {
    [`azsbackup_last_success_timestamp_seconds{${loc}}`]: 1_764_900_000.5,
    [`azsbackup_last_backup_status{${loc},role="CA"}`]: 1,
    [`azsbackup_last_backup_status{${loc},role=${JSON.stringify('W"A\\S')}}`]: 0,
    [`azsbackup_backup_duration_seconds{${loc}}`]: 12.25,
    [`azsbackup_backup_stored_bytes{${loc}}`]: 123_456,
    [`azsbackup_store_free_bytes{${loc}}`]: 2 ** 40,
    [`azsbackup_active_alerts{${loc},severity="Critical"}`]: 2,
    [`azsbackup_active_alerts{${loc},severity="Warning"}`]: 0,
    [`azsbackup_encryption_cert_expiry_timestamp_seconds{${loc}}`]: 1_790_000_000,
    [`${LAST_METRIC}{${loc}}`]: 1,
  });
});

test('label values are escaped as the format requires; no line carries a timestamp', async () => {
  const text = await renderMetrics(full);
  assert.match(text, /location="east \\"1\\"\\\\rack\\n2"/);
  assert.match(text, /role="W\\"A\\\\S"/);
  for (const line of text.split('\n').filter((line) => line && !line.startsWith('#'))) {
    assert.match(line, /^[a-z_]+\{[^\n]*\} [0-9.e+]+$/, line);
    assert.equal(
      line
        .slice(line.lastIndexOf('}') + 1)
        .trim()
        .split(' ').length,
      1,
      line,
    );
  }
});

test('before the first backup: last success 0, no per-backup series, alerts by severity still present', async () => {
  const families = parseMetrics(
    await renderMetrics({
      ...full,
      lastSuccessSeconds: 0,
      lastBackup: null,
      storeFreeBytes: null,
      activeAlerts: { Critical: 0, Warning: 0 },
      certificateExpirySeconds: null,
      schedulerEnabled: false,
    }),
  );
  assert.deepEqual(
    [...families.keys()],
    ['azsbackup_last_success_timestamp_seconds', 'azsbackup_active_alerts', LAST_METRIC],
  );
  assert.equal(families.get('azsbackup_last_success_timestamp_seconds')!.samples[0]!.value, 0);
  assert.deepEqual(
    families.get('azsbackup_active_alerts')!.samples.map((sample) => [sample.labels.severity, sample.value]),
    [
      ['Critical', 0],
      ['Warning', 0],
    ],
  );
  assert.equal(families.get(LAST_METRIC)!.samples[0]!.value, 0);
});

test('the strict reader refuses a cut file, a sample without TYPE and a timestamp', () => {
  const good = '# HELP m a metric\n# TYPE m gauge\nm{location="x"} 1\n';
  assert.doesNotThrow(() => parseMetrics(good));
  assert.throws(() => parseMetrics(good.slice(0, -1)), /newline/);
  assert.throws(() => parseMetrics(good.slice(0, 20)), /newline/);
  assert.throws(() => parseMetrics('# HELP m a metric\n'), /no TYPE/);
  assert.throws(() => parseMetrics('# HELP m a metric\nm 1\n'), /bad sample/);
  assert.throws(
    () => parseMetrics('# HELP m a metric\n# TYPE m gauge\nm{location="x"} 1 1764900000\n'),
    /bad sample/,
  );
});
