/**
 * CRC-32 (the zlib polynomial) of two pieces joined, from each piece's CRC and the second's length:
 * the block workers checksum the frames they seal, and the writer joins those checksums in order
 * instead of running over every stored byte again on the main thread. Arithmetic on polynomials over
 * GF(2) in zlib's reflected bit order, as zlib's crc32_combine does it.
 */
const REFLECTED_POLYNOMIAL = 0xedb88320;
const X_POWER_0 = 0x80000000; // the polynomial 1, reflected

/** a(x) * b(x) modulo the CRC polynomial. */
function multiplyModP(a: number, b: number): number {
  let product = 0;
  for (let bit = X_POWER_0; bit !== 0; bit >>>= 1) {
    if (a & bit) product ^= b;
    b = b & 1 ? (b >>> 1) ^ REFLECTED_POLYNOMIAL : b >>> 1;
  }
  return product >>> 0;
}

/** x^(2^k) modulo the CRC polynomial, for k = 0..31 (the cycle repeats after that). */
const X_POWER_2K = (() => {
  const table = new Uint32Array(32);
  let power = X_POWER_0 >>> 1; // x^1
  for (let k = 0; k < 32; k++) {
    table[k] = power;
    power = multiplyModP(power, power);
  }
  return table;
})();

/** x^(8 * bytes) modulo the CRC polynomial: what appending `bytes` zero bytes multiplies a CRC by. */
function shiftFor(bytes: number): number {
  let power = X_POWER_0;
  for (let k = 3, rest = bytes; rest > 0; k++, rest = Math.floor(rest / 2)) {
    if (rest % 2) power = multiplyModP(X_POWER_2K[k % 32]!, power);
  }
  return power;
}

/** The CRC-32 of A followed by B, given crc32(A), crc32(B) and B's length in bytes. */
export function crc32Combine(crcA: number, crcB: number, lengthB: number): number {
  return (multiplyModP(shiftFor(lengthB), crcA) ^ crcB) >>> 0;
}
