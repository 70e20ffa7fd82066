/**
 * The systemd unit `azsbackup service install` writes: every value reaches the daemon as it is, a
 * state folder with spaces, quotes, `%`, `$`, a backslash or a line break included, and systemd's
 * own parser (`systemd-analyze verify`) has nothing to say about the unit.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { unitName, unitText } from '../../src/cli/service.js';
import { removeDir, tempDir } from '../helpers/daemon.js';

const STATE_DIR = '/srv/azs backup/100% "night" $HOME\\state\nfolder';

test('a state folder with spaces, quotes, %, $, a backslash and a line break is written so that systemd reads it back', () => {
  const unit = unitText(STATE_DIR);
  const execStart = unit.match(/^ExecStart=(.*)$/m)![1]!;
  assert.ok(
    execStart.endsWith(
      ' "serve" "--state-dir" "/srv/azs backup/100%% \\"night\\" $$HOME\\\\state\\x0afolder" "--journal"',
    ),
    execStart,
  );
  assert.ok(execStart.startsWith(`"${process.execPath}" `), execStart);
  assert.ok(
    unit.includes(
      '\nEnvironment="AZSBACKUP_HOME=/srv/azs backup/100%% \\"night\\" $HOME\\\\state\\x0afolder"\n',
    ),
    unit,
  );
  assert.match(
    unit,
    /^Description=AzureStackBackup daemon for \/srv\/azs backup\/100%% "night" \$HOME\\state folder$/m,
  );

  const folder = tempDir('unit');
  try {
    const file = path.join(folder, unitName(STATE_DIR));
    writeFileSync(file, unit);
    const verified = spawnSync('systemd-analyze', ['verify', '--man=no', file], { encoding: 'utf8' });
    assert.equal(verified.error, undefined, 'systemd-analyze (Debian package systemd) runs');
    assert.equal(verified.status, 0, verified.stderr);
    assert.equal(verified.stderr.trim(), '', 'systemd finds nothing to say about the unit');
  } finally {
    removeDir(folder);
  }
});
