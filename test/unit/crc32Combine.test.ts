import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { crc32 } from 'node:zlib';
import { crc32Combine } from '../../src/archive/crc32Combine.js';

test("two pieces' CRC-32s combine into the CRC-32 of the pieces joined", () => {
  const lengths = [0, 1, 3, 4, 7, 64, 1000, 4096, 65_537, 2 * 1024 * 1024 + 17];
  for (const lengthA of [0, 5, 4096]) {
    for (const lengthB of lengths) {
      const a = randomBytes(lengthA);
      const b = randomBytes(lengthB);
      assert.equal(
        crc32Combine(crc32(a), crc32(b), b.length),
        crc32(Buffer.concat([a, b])),
        `${lengthA} + ${lengthB} bytes`,
      );
    }
  }
});

test('combining frame by frame gives the CRC-32 of the whole file', () => {
  const pieces = Array.from({ length: 50 }, (_, index) => randomBytes(index * 37));
  const combined = pieces.reduce((crc, piece) => crc32Combine(crc, crc32(piece), piece.length), 0);
  assert.equal(combined, crc32(Buffer.concat(pieces)));
});
