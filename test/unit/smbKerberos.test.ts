import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { kerberosFor } from '../../src/storage/smbClient.js';

test('Kerberos is asked for only with a host name and a credential cache', () => {
  const saved = process.env.KRB5CCNAME;
  const folder = mkdtempSync(path.join(os.tmpdir(), 'azs-krb-'));
  try {
    process.env.KRB5CCNAME = path.join(folder, 'missing');
    assert.equal(kerberosFor('fileserver.contoso.com'), 'off');
    writeFileSync(path.join(folder, 'cache'), '');
    process.env.KRB5CCNAME = `FILE:${path.join(folder, 'cache')}`;
    assert.equal(kerberosFor('fileserver.contoso.com'), 'desired');
    assert.equal(kerberosFor('127.0.0.1'), 'off', 'a service ticket needs a host name');
    assert.equal(kerberosFor('::1'), 'off');
  } finally {
    if (saved === undefined) delete process.env.KRB5CCNAME;
    else process.env.KRB5CCNAME = saved;
    rmSync(folder, { recursive: true, force: true });
  }
});
