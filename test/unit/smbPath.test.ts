/** Share paths, logon names and smbclient's output, parsed without a server. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isAzsError } from '../../src/protocol/errors.js';
import { smbclientArgs, smbclientEnv } from '../../src/storage/smbClient.js';
import { smbFailure, decisiveStatus } from '../../src/storage/smbErrors.js';
import { parseCapacity, parseListing, parseSessionInfo } from '../../src/storage/smbOutput.js';
import {
  formatSmbLocation,
  parseSmbLocation,
  parseSmbLogon,
  splitStorePath,
} from '../../src/storage/smbPath.js';

describe('SMB share paths', () => {
  it('reads \\\\server\\share\\folder, //server/share/folder, ports and IPv6', () => {
    assert.deepEqual(parseSmbLocation('\\\\files\\backup\\stamp1\\daily'), {
      host: 'files',
      port: null,
      share: 'backup',
      folder: ['stamp1', 'daily'],
    });
    assert.deepEqual(parseSmbLocation('//files.example.com:4455/backup/'), {
      host: 'files.example.com',
      port: 4455,
      share: 'backup',
      folder: [],
    });
    assert.deepEqual(parseSmbLocation('\\\\[fd00::1]:4455\\backup\\x'), {
      host: 'fd00::1',
      port: 4455,
      share: 'backup',
      folder: ['x'],
    });
    assert.equal(formatSmbLocation(parseSmbLocation('//[::1]:445/s/a/b')), '\\\\[::1]:445\\s\\a\\b');
  });

  it('refuses paths without a share, with a bad port, or with names smbclient cannot carry', () => {
    for (const bad of [
      '\\\\server',
      '//server/',
      '\\\\server:99999\\share',
      '\\\\ser[ver\\share',
      '//s/share/a;b',
      '//s/sh"are',
    ]) {
      assert.throws(
        () => parseSmbLocation(bad),
        (error) => isAzsError(error, 'InvalidParameter') && error.parameter === 'Path',
        bad,
      );
    }
  });

  it('splits DOMAIN\\user and user@domain, and refuses % (smbclient reads user%password)', () => {
    assert.deepEqual(parseSmbLogon('CORP\\backup'), { user: 'backup', domain: 'CORP' });
    assert.deepEqual(parseSmbLogon('backup@corp.example.com'), {
      user: 'backup',
      domain: 'corp.example.com',
    });
    assert.deepEqual(parseSmbLogon('backup'), { user: 'backup', domain: null });
    for (const bad of ['', 'a%b', 'CORP\\', '\\user', 'A\\B\\C', 'user@', 'dom/user']) {
      assert.throws(
        () => parseSmbLogon(bad),
        (error) => isAzsError(error, 'InvalidParameter'),
        bad,
      );
    }
  });

  it('checks every component of a store path', () => {
    assert.deepEqual(splitStorePath('MASBackup/20260101T000000Z/x y'), [
      'MASBackup',
      '20260101T000000Z',
      'x y',
    ]);
    for (const bad of ['a/..', 'a/b:c', 'a/b\nc', 'a/b.', 'a/b|c']) {
      assert.throws(
        () => splitStorePath(bad),
        (error) => isAzsError(error, 'InvalidParameter'),
        bad,
      );
    }
  });
});

describe('smbclient invocation', () => {
  const connection = {
    location: parseSmbLocation('\\\\[::1]:4455\\share\\a\\b'),
    logon: parseSmbLogon('CORP\\backup'),
    password: 'pa ss"word',
    requireEncryption: true,
    timeoutSeconds: 7,
    program: 'smbclient',
  };

  it('puts the password only in the environment, and no inherited credential variable', () => {
    const saved = { USER: process.env.USER, PASSWD_FD: process.env.PASSWD_FD };
    process.env.USER = 'someone%secret';
    process.env.PASSWD_FD = '3';
    try {
      const args = smbclientArgs(connection, ['-c', 'ls']);
      assert.ok(!args.join(' ').includes('pa ss"word'));
      assert.ok(args.includes('--user=backup') && args.includes('--workgroup=CORP'));
      const env = smbclientEnv(connection);
      assert.equal(env.PASSWD, 'pa ss"word');
      assert.equal(env.USER, undefined);
      assert.equal(env.PASSWD_FD, undefined);
    } finally {
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });

  it('asks for SMB 3 at least, encryption when required, and a bounded timeout', () => {
    const args = smbclientArgs(connection, []);
    for (const expected of [
      '//[::1]/share',
      '--ip-address=::1',
      '--port=4455',
      '--directory=a\\b',
      '--max-protocol=SMB3',
      '--option=client min protocol=SMB3_00',
      '--client-protection=encrypt',
      '--timeout=7',
    ]) {
      assert.ok(args.includes(expected), `${expected} in ${args.join(' ')}`);
    }
    const optional = smbclientArgs({ ...connection, requireEncryption: false, logon: null }, []);
    assert.ok(optional.includes('--option=client smb encrypt=desired'));
    assert.ok(optional.includes('--no-pass'));
  });
});

describe('smbclient output', () => {
  it('parses listings, names with spaces and padded days included', () => {
    const output = [
      '  .                                   D        0  Thu Nov 26 11:46:42 2026',
      '  sp ace é.bin                       A  3000000  Thu Nov  5 01:02:03 2026',
      '  a name exactly thirty chars..xx      D        0  Mon Jan 12 23:59:59 2026',
      '',
      '\t\t264212084 blocks of size 1024. 83180928 blocks available',
    ].join('\n');
    assert.deepEqual(parseListing(output), [
      { name: '.', type: 'directory', size: 0, modified: new Date('2026-11-26T11:46:42Z') },
      { name: 'sp ace é.bin', type: 'file', size: 3000000, modified: new Date('2026-11-05T01:02:03Z') },
      {
        name: 'a name exactly thirty chars..xx',
        type: 'directory',
        size: 0,
        modified: new Date('2026-01-12T23:59:59Z'),
      },
    ]);
    assert.deepEqual(parseCapacity(output), {
      totalBytes: 264212084 * 1024,
      availableBytes: 83180928 * 1024,
    });
  });

  it('lists links, junctions and devices as other, never as a file or a folder to descend into', () => {
    const output = [
      '  junction                            DAr        0  Thu Nov 26 11:46:42 2026',
      '  link.bin                            Ar       12  Thu Nov 26 11:46:42 2026',
      '  device                              d        0  Thu Nov 26 11:46:42 2026',
      '  sparse.bin                          As     4096  Thu Nov 26 11:46:42 2026',
    ].join('\n');
    assert.deepEqual(
      parseListing(output).map(({ name, type }) => [name, type]),
      [
        ['junction', 'other'],
        ['link.bin', 'other'],
        ['device', 'other'],
        ['sparse.bin', 'file'],
      ],
    );
  });

  it('reads the dialect, and encryption and signing after the tree connect only', () => {
    const debug = [
      ' negotiated dialect[SMB3_02] against server[h]',
      'signed SMB2 message (sign_algo_id=2)',
      ' tconx ok',
      'nothing protected here',
    ].join('\n');
    assert.deepEqual(parseSessionInfo(debug), { protocol: 'SMB3_02', encrypted: false, signed: false });
    assert.deepEqual(parseSessionInfo(`${debug}\nsmb2_signing_encrypt_pdu: Encrypted SMB2 message`), {
      protocol: 'SMB3_02',
      encrypted: true,
      signed: true,
    });
  });

  it('lets a capacity or logon fault explain a later disconnect', () => {
    assert.equal(
      decisiveStatus(['NT_STATUS_CONNECTION_RESET', 'NT_STATUS_DISK_FULL']),
      'NT_STATUS_DISK_FULL',
    );
    const context = {
      location: '\\\\h\\s',
      host: 'h',
      share: 's',
      target: 'f',
      user: 'u',
      requireEncryption: false,
    };
    assert.equal(smbFailure('NT_STATUS_QUOTA_EXCEEDED', '', context).reason, 'StoreFull');
    assert.equal(smbFailure('NT_STATUS_ACCOUNT_LOCKED_OUT', '', context).reason, 'AuthenticationFailed');
    assert.equal(smbFailure('NT_STATUS_MEDIA_WRITE_PROTECTED', '', context).reason, 'StoreAccessDenied');
    assert.equal(smbFailure('NT_STATUS_IO_TIMEOUT', '', context).reason, 'ShareUnreachable');
    assert.equal(
      smbFailure('NT_STATUS_INTERNAL_ERROR', 'x: NT_STATUS_INTERNAL_ERROR', context).reason,
      'StoreFault',
    );
    assert.match(
      smbFailure('NT_STATUS_INTERNAL_ERROR', 'x: NT_STATUS_INTERNAL_ERROR', context).message,
      /INTERNAL_ERROR/,
    );
  });
});
