/** The chunk cipher: a chunk opens only with its own key, place, final flag and headers. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { chunkNonce, deriveFileKey, openChunk, sealChunk } from '../../src/crypto/chunkCipher.js';

describe('chunk cipher', () => {
  const backupKey = randomBytes(32);
  const salt = randomBytes(16);
  const fileKey = deriveFileKey(backupKey, salt, 'Domain/Domain.azsb');
  const aad = Buffer.from('headers');
  const plaintext = randomBytes(1000);
  const sealed = sealChunk(fileKey, { index: 5, final: false, aad }, plaintext);

  it('opens a chunk sealed with the same key, place and headers', () => {
    assert.equal(sealed.ciphertext.length, plaintext.length);
    assert.equal(sealed.tag.length, 16);
    assert.deepEqual(
      openChunk(fileKey, { index: 5, final: false, aad }, sealed.ciphertext, sealed.tag),
      plaintext,
    );
  });

  it('refuses a chunk moved, marked final, with other headers, or changed', () => {
    const open = (position: { index: number; final: boolean; aad: Buffer }, ciphertext = sealed.ciphertext) =>
      openChunk(fileKey, position, ciphertext, sealed.tag);
    assert.equal(open({ index: 4, final: false, aad }), null);
    assert.equal(open({ index: 5, final: true, aad }), null);
    assert.equal(open({ index: 5, final: false, aad: Buffer.from('Headers') }), null);
    const changed = Buffer.from(sealed.ciphertext);
    changed[999]! ^= 0x80;
    assert.equal(open({ index: 5, final: false, aad }, changed), null);
  });

  it('derives a different key for every file id, salt and backup key', () => {
    const keys = [
      fileKey,
      deriveFileKey(backupKey, salt, 'WAS/WAS.azsb'),
      deriveFileKey(backupKey, randomBytes(16), 'Domain/Domain.azsb'),
      deriveFileKey(randomBytes(32), salt, 'Domain/Domain.azsb'),
    ];
    assert.equal(new Set(keys.map((key) => key.toString('hex'))).size, keys.length);
    assert.deepEqual(deriveFileKey(backupKey, salt, 'Domain/Domain.azsb'), fileKey, 'deterministic');
  });

  it('lays the nonce out as docs/format.md says: 8-byte index, then the final flag', () => {
    assert.equal(chunkNonce(0x0102030405, true).toString('hex'), '000000010203040500000001');
    assert.equal(chunkNonce(7, false).toString('hex'), '000000000000000700000000');
  });
});
