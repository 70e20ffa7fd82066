/**
 * Certificate paths (EncryptionCertPath, DecryptionCertPath, the extract's --pfx) are read through
 * one helper: a FIFO must not hang it, a device must not grow memory without bound, a huge file is
 * refused; real certificates still read.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import {
  MAX_CERTIFICATE_FILE_BYTES,
  createEncryptionCertificate,
  readCertificateFile,
  readPublicCertificate,
} from '../../src/crypto/certificates.js';
import { isAzsError } from '../../src/protocol/errors.js';
import { readBoundedFile } from '../../src/util/regularFile.js';

const folder = mkdtempSync(path.join(tmpdir(), 'azs-certfile-'));
after(() => rmSync(folder, { recursive: true, force: true }));

const fifo = path.join(folder, 'pipe.cer');
execFileSync('mkfifo', [fifo]);

/** Fails the test instead of hanging it when a read blocks. */
function within<T>(operation: Promise<T>, ms = 5000): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still waiting after ${ms} ms`)), ms);
  });
  return Promise.race([operation, timeout]).finally(() => clearTimeout(timer));
}

const refusedAs =
  (reason: 'CertificateNotAFile' | 'CertificateTooLarge', parameter: string, pattern: RegExp) =>
  (error: unknown) =>
    isAzsError(error, reason) && error.parameter === parameter && pattern.test(error.message);

describe('certificate files', () => {
  it('a FIFO is refused at once, not waited on', async () => {
    await assert.rejects(
      within(readPublicCertificate(fifo, 'EncryptionCertPath')),
      refusedAs('CertificateNotAFile', 'EncryptionCertPath', /FIFO.*\.cer file/),
    );
    await assert.rejects(
      within(readCertificateFile(fifo, 'DecryptionCertPath', 'the .pfx')),
      refusedAs('CertificateNotAFile', 'DecryptionCertPath', /FIFO/),
    );
  });

  it('a device such as /dev/zero is refused without reading it', async () => {
    const before = process.memoryUsage().rss;
    await assert.rejects(
      within(readCertificateFile('/dev/zero', 'DecryptionCertPath', 'the .pfx')),
      refusedAs('CertificateNotAFile', 'DecryptionCertPath', /character device/),
    );
    assert.ok(process.memoryUsage().rss - before < 64 * 1024 * 1024);
  });

  it('a folder is refused as a folder', async () => {
    await assert.rejects(
      readPublicCertificate(folder, 'EncryptionCertPath'),
      refusedAs('CertificateNotAFile', 'EncryptionCertPath', /a folder/),
    );
  });

  it('a file larger than the bound is refused before it is read', async () => {
    const huge = path.join(folder, 'huge.pfx');
    writeFileSync(huge, '');
    truncateSync(huge, 8 * 1024 * 1024 * 1024); // sparse: 8 GiB said, nothing stored
    await assert.rejects(
      readCertificateFile(huge, '--pfx', "the encryption certificate's .pfx"),
      refusedAs('CertificateTooLarge', '--pfx', /1024 KiB/),
    );
  });

  it('a file of exactly the bound reads; one byte more does not', async () => {
    const edge = path.join(folder, 'edge.bin');
    writeFileSync(edge, Buffer.alloc(MAX_CERTIFICATE_FILE_BYTES, 1));
    assert.equal(
      (await readBoundedFile(edge, MAX_CERTIFICATE_FILE_BYTES)).length,
      MAX_CERTIFICATE_FILE_BYTES,
    );
    writeFileSync(edge, Buffer.alloc(MAX_CERTIFICATE_FILE_BYTES + 1, 1));
    await assert.rejects(readBoundedFile(edge, MAX_CERTIFICATE_FILE_BYTES), /more than/);
  });

  it('a missing file is CertificateNotFound naming the parameter', async () => {
    await assert.rejects(
      readPublicCertificate(path.join(folder, 'missing.cer'), 'EncryptionCertPath'),
      (error) => isAzsError(error, 'CertificateNotFound') && /does not exist/.test(error.message),
    );
  });

  it('a real .cer and .pfx still read', async () => {
    const cerPath = path.join(folder, 'real.cer');
    const pfxPath = path.join(folder, 'real.pfx');
    const created = await createEncryptionCertificate({
      subject: 'CN=Real',
      cerPath,
      pfxPath,
      pfxPassword: 'x',
      validityYears: 1,
      keySize: 2048,
    });
    assert.equal((await readPublicCertificate(cerPath, 'EncryptionCertPath')).thumbprint, created.thumbprint);
    assert.ok((await readCertificateFile(pfxPath, 'DecryptionCertPath', 'the .pfx')).length > 1000);
  });
});

describe('creating a certificate over an existing file', () => {
  const request = (name: string, overwrite?: boolean) => ({
    subject: 'CN=New',
    cerPath: path.join(folder, `${name}.cer`),
    pfxPath: path.join(folder, `${name}.pfx`),
    pfxPassword: 'x',
    validityYears: 1,
    keySize: 2048,
    overwrite,
  });

  it('never replaces a .pfx that exists when the files are written, and writes no .cer without it', async () => {
    // What a file that appears after the engine's checks meets: the write itself refuses it.
    const { cerPath, pfxPath } = request('kept');
    writeFileSync(pfxPath, 'the only key to earlier backups');
    await assert.rejects(
      createEncryptionCertificate(request('kept')),
      (error) =>
        isAzsError(error, 'CertificateFileExists') &&
        error.parameter === 'PfxPath' &&
        error.message.includes(pfxPath) &&
        error.message.includes('-Force'),
    );
    assert.equal(readFileSync(pfxPath, 'utf8'), 'the only key to earlier backups');
    assert.ok(!existsSync(cerPath));
  });

  it('replaces both files with overwrite', async () => {
    const { cerPath, pfxPath } = request('replaced');
    writeFileSync(cerPath, 'old');
    writeFileSync(pfxPath, 'old');
    const created = await createEncryptionCertificate(request('replaced', true));
    assert.equal((await readPublicCertificate(cerPath, 'EncryptionCertPath')).thumbprint, created.thumbprint);
    assert.notEqual(readFileSync(pfxPath, 'utf8'), 'old');
  });
});
