/**
 * The gear-hash scan of chunker.ts as a small WebAssembly module, 3.5 to 4 times as fast as the
 * same loop in JavaScript (1 MiB blocks of the bench's Domain.db, one core, Node 20: about 1.6 GB/s
 * against 0.43). Two things make the difference:
 * - WebAssembly's loads need no bounds checks, and the cuts go to linear memory, not to an array;
 *   that alone gives about 1.1 GB/s, however far the loop is unrolled: each byte waits for the
 *   hash of the byte before it (a shift and an add).
 * - So the block is scanned as two halves side by side (two lanes), the second one's hash warmed
 *   up over the 31 bytes before it: the two chains of additions overlap. Three or four lanes were
 *   slower (too few registers).
 *
 * The module is encoded here, byte by byte, rather than assembled from a text file: it is two short
 * loops, and this keeps the build free of an assembler. Its linear memory, one instance per thread:
 *
 *     0 … 1023          the gear table (256 little-endian i32)
 *     1024 …            the context, then the data
 *     after the data    the cuts found (i32 each) from a 4-byte boundary, each lane's in its own part
 */

/** The bytes scanned per turn of the main loop, each still checked for a cut. */
const UNROLL = 4;
const GEAR_BYTES = 1024;
const PAGE_BYTES = 65_536;
/** The bytes before a position that its hash depends on (chunker.ts's SCAN_CONTEXT_BYTES). */
const WINDOW_BEFORE = 31;

const I32 = 0x7f;
const EMPTY_BLOCK = 0x40;
const op = {
  block: 0x02,
  loop: 0x03,
  if: 0x04,
  end: 0x0b,
  br: 0x0c,
  brIf: 0x0d,
  localGet: 0x20,
  localSet: 0x21,
  i32Load: 0x28,
  i32Load8U: 0x2d,
  i32Store: 0x36,
  i32Const: 0x41,
  i32Eqz: 0x45,
  i32LtU: 0x49,
  i32GeU: 0x4f,
  i32Add: 0x6a,
  i32Sub: 0x6b,
  i32And: 0x71,
  i32Or: 0x72,
  i32Shl: 0x74,
} as const;

function unsignedLeb(value: number): number[] {
  const bytes: number[] = [];
  do {
    const byte = value & 0x7f;
    value >>>= 7;
    bytes.push(value === 0 ? byte : byte | 0x80);
  } while (value !== 0);
  return bytes;
}

function signedLeb(value: number): number[] {
  const bytes: number[] = [];
  for (;;) {
    const byte = value & 0x7f;
    value >>= 7;
    const done = (value === 0 && (byte & 0x40) === 0) || (value === -1 && (byte & 0x40) !== 0);
    bytes.push(done ? byte : byte | 0x80);
    if (done) return bytes;
  }
}

const get = (index: number) => [op.localGet, index];
const set = (index: number) => [op.localSet, index];
const constant = (value: number) => [op.i32Const, ...signedLeb(value)];
const memory = (code: number, align: number, offset: number) => [code, align, ...unsignedLeb(offset)];

/** A hash being rolled: the locals of its cursor, its value and where its next cut goes. */
interface Lane {
  cursor: number;
  hash: number;
  out: number;
}

/** The lanes: hashes rolled side by side, each over its own part of the data. */
const LANES = 2;

/**
 * The parameters of `scan`, by index: each lane's cursor, lane 0's end, the last lane's end, each
 * lane's `out`, the masks, where the data starts, each lane's hash. (`warm`'s are `from`, `to`, and
 * a local for the hash.)
 */
const param = {
  endFirst: LANES,
  end: LANES + 1,
  strict: 2 * LANES + 2,
  loose: 2 * LANES + 3,
  dataStart: 2 * LANES + 4,
};
const lanes: Lane[] = Array.from({ length: LANES }, (_, lane) => ({
  cursor: lane,
  out: LANES + 2 + lane,
  hash: 2 * LANES + 5 + lane,
}));
const PARAMS = 3 * LANES + 5;

/** `hash = (hash << 1) + gear[byte at cursor + offset]` */
function step(lane: Lane, offset: number): number[] {
  return [
    ...get(lane.hash),
    ...constant(1),
    op.i32Shl,
    ...get(lane.cursor),
    ...memory(op.i32Load8U, 0, offset),
    ...constant(2),
    op.i32Shl,
    ...memory(op.i32Load, 2, 0),
    op.i32Add,
    ...set(lane.hash),
  ];
}

/** Where the loose mask allows a cut after the byte at cursor + offset: store it, move `out` on. */
function check(lane: Lane, offset: number): number[] {
  return [
    ...get(lane.hash),
    ...get(param.loose),
    op.i32And,
    op.i32Eqz,
    op.if,
    EMPTY_BLOCK,
    ...get(lane.out),
    ...get(lane.cursor),
    ...get(param.dataStart),
    op.i32Sub,
    ...constant(offset + 1),
    op.i32Add,
    ...constant(1),
    op.i32Shl,
    ...get(lane.hash),
    ...get(param.strict),
    op.i32And,
    op.i32Eqz,
    op.i32Or,
    ...memory(op.i32Store, 2, 0),
    ...get(lane.out),
    ...constant(4),
    op.i32Add,
    ...set(lane.out),
    op.end,
  ];
}

/** `while (!(exit)) { body; each cursor += advance }` */
function whileNot(exit: number[], body: number[], cursors: number[], advance: number): number[] {
  const moveOn = cursors.flatMap((cursor) => [
    ...get(cursor),
    ...constant(advance),
    op.i32Add,
    ...set(cursor),
  ]);
  return [
    op.block,
    EMPTY_BLOCK,
    op.loop,
    EMPTY_BLOCK,
    ...exit,
    op.brIf,
    1,
    ...body,
    ...moveOn,
    op.br,
    0,
    op.end,
    op.end,
  ];
}

/** warm(from, to) → the hash after the bytes from `from` to `to`, started at 0. */
function warmBody(): number[] {
  const lane: Lane = { cursor: 0, out: -1, hash: 2 };
  return [
    1,
    1,
    I32,
    ...whileNot([...get(0), ...get(1), op.i32GeU], step(lane, 0), [0], 1),
    ...get(2),
    op.end,
  ];
}

/** All lanes, `count` bytes each, per turn of a loop that the first lane's end stops. */
function allLanes(count: number): number[] {
  const body: number[] = [];
  for (let offset = 0; offset < count; offset += 1) {
    body.push(
      ...lanes.flatMap((lane) => step(lane, offset)),
      ...lanes.flatMap((lane) => check(lane, offset)),
    );
  }
  const exit = [...get(param.endFirst), ...get(lanes[0]!.cursor), op.i32Sub, ...constant(count), op.i32LtU];
  return whileNot(
    exit,
    body,
    lanes.map((lane) => lane.cursor),
    count,
  );
}

/**
 * scan(cursors…, endFirst, end, outs…, strict, loose, dataStart, hashes…) → outs…: the lanes
 * side by side until the first one's end, then the last one alone to `end` (its part is the longest,
 * by less than LANES bytes); each lane stores its cuts from its own `out`, and returns where they end.
 */
function scanBody(): number[] {
  const last = lanes[LANES - 1]!;
  const exit = [...get(last.cursor), ...get(param.end), op.i32GeU];
  const tail = whileNot(exit, [...step(last, 0), ...check(last, 0)], [last.cursor], 1);
  return [0, ...allLanes(UNROLL), ...allLanes(1), ...tail, ...lanes.flatMap((lane) => get(lane.out)), op.end];
}

function section(id: number, contents: number[]): number[] {
  return [id, ...unsignedLeb(contents.length), ...contents];
}

function name(text: string): number[] {
  return [text.length, ...Buffer.from(text, 'ascii')];
}

function code(body: number[]): number[] {
  return [...unsignedLeb(body.length), ...body];
}

/** The module's bytes: a memory and the functions `warm` and `scan`, all exported. */
export function gearScanModule(): Uint8Array {
  const warmType = [0x60, 2, I32, I32, 1, I32];
  const scanType = [
    0x60,
    PARAMS,
    ...new Array<number>(PARAMS).fill(I32),
    LANES,
    ...new Array<number>(LANES).fill(I32),
  ];
  return Uint8Array.from([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, [2, ...warmType, ...scanType]),
    ...section(3, [2, 0, 1]),
    ...section(5, [1, 0x00, 1]),
    ...section(7, [3, ...name('memory'), 0x02, 0, ...name('warm'), 0x00, 0, ...name('scan'), 0x00, 1]),
    ...section(10, [2, ...code(warmBody()), ...code(scanBody())]),
  ]);
}

interface GearScanExports {
  memory: { buffer: ArrayBuffer; grow(pages: number): number };
  warm(from: number, to: number): number;
  scan(...args: number[]): number[];
}

/** The parts of the WebAssembly API used here (TypeScript declares it only with the DOM's types). */
interface WebAssemblyApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: unknown };
}

let instance: GearScanExports | undefined;

function gearScanInstance(): GearScanExports {
  if (!instance) {
    const { Module, Instance } = (globalThis as unknown as { WebAssembly: WebAssemblyApi }).WebAssembly;
    instance = new Instance(new Module(gearScanModule())).exports as GearScanExports;
  }
  return instance;
}

/** Grows the instance's memory to at least `bytes`; its buffer is a new one afterwards. */
function reserve(scanner: GearScanExports, bytes: number): ArrayBuffer {
  const missing = bytes - scanner.memory.buffer.byteLength;
  if (missing > 0) scanner.memory.grow(Math.ceil(missing / PAGE_BYTES));
  return scanner.memory.buffer;
}

/** Copies the gear table, the context and the data into the instance's memory. */
function copyIn(buffer: ArrayBuffer, gear: Int32Array, context: Uint8Array, data: Uint8Array): void {
  const table = new DataView(buffer, 0, GEAR_BYTES);
  for (let index = 0; index < 256; index += 1) table.setInt32(index * 4, gear[index]!, true);
  const bytes = new Uint8Array(buffer);
  bytes.set(context, GEAR_BYTES);
  bytes.set(data, GEAR_BYTES + context.length);
}

/** The lanes' cuts, lane after lane: each lane's from its `out` to where `scan` says they end. */
function collect(buffer: ArrayBuffer, outs: number[], ends: number[]): Int32Array {
  const counts = ends.map((laneEnd, lane) => ((laneEnd >>> 0) - outs[lane]!) / 4);
  const cuts = new Int32Array(counts.reduce((sum, count) => sum + count, 0));
  let filled = 0;
  counts.forEach((count, lane) => {
    cuts.set(new Int32Array(buffer, outs[lane], count), filled);
    filled += count;
  });
  return cuts;
}

/**
 * chunker.ts's `scanCuts`, run in WebAssembly (the masks as `strict` and `loose`). The data is
 * scanned as LANES parts side by side, each lane's hash warmed up over the bytes before its part.
 */
export function gearScan(
  gear: Int32Array,
  strict: number,
  loose: number,
  context: Uint8Array,
  data: Uint8Array,
): Int32Array {
  const scanner = gearScanInstance();
  const dataStart = GEAR_BYTES + context.length;
  const part = Math.floor(data.length / LANES);
  const starts = lanes.map((_, lane) => dataStart + lane * part);
  const end = dataStart + data.length;
  const outStart = Math.ceil(end / 4) * 4;
  const outs = lanes.map((_, lane) => outStart + lane * part * 4);
  const buffer = reserve(scanner, outStart + data.length * 4);
  copyIn(buffer, gear, context, data);
  const hashes = starts.map((start) => scanner.warm(Math.max(GEAR_BYTES, start - WINDOW_BEFORE), start));
  const ends = scanner.scan(...starts, dataStart + part, end, ...outs, strict, loose, dataStart, ...hashes);
  return collect(buffer, outs, ends);
}
