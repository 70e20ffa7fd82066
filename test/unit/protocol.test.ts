import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { validateParams } from '../../src/daemon/dispatch.js';
import { AzsError, ErrorTable } from '../../src/protocol/errors.js';
import { protocolDescription, rpcMarkdown } from '../../src/protocol/describe.js';
import { repoRoot } from '../helpers/pwsh.js';

test('the committed protocol description for PowerShell is generated from src/protocol', () => {
  const committed = JSON.parse(
    readFileSync(path.join(repoRoot, 'module', 'Private', 'AzsProtocol.json'), 'utf8'),
  );
  assert.deepEqual(committed, protocolDescription());
});

test('docs/rpc.md is generated from src/protocol', () => {
  assert.equal(readFileSync(path.join(repoRoot, 'docs', 'rpc.md'), 'utf8'), rpcMarkdown());
});

test('error codes are unique and ours stay outside the JSON-RPC reserved range', () => {
  const codes = Object.values(ErrorTable).map((entry) => entry.code);
  assert.equal(new Set(codes).size, codes.length);
  for (const [reason, entry] of Object.entries(ErrorTable)) {
    const standard = [
      'ParseError',
      'InvalidRequest',
      'MethodNotFound',
      'InvalidParameter',
      'InternalError',
    ].includes(reason);
    assert.equal(entry.code >= -32768 && entry.code <= -32000, standard, reason);
  }
});

test('params are validated against the method schema, naming the parameter', () => {
  assert.deepEqual(validateParams('config.set', { BackupFrequencyInHours: 6 }), {
    BackupFrequencyInHours: 6,
  });
  for (const bad of [{ BackupFrequencyInHours: 'six' }, { Unknown: 1 }, { Path: 42 }]) {
    assert.throws(
      () => validateParams('config.set', bad),
      (error: unknown) =>
        error instanceof AzsError &&
        error.reason === 'InvalidParameter' &&
        error.message.includes(Object.keys(bad)[0]!),
    );
  }
});
