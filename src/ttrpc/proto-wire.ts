/**
 * The wire-level pieces the generated protobuf codecs call (proto-codegen.ts writes the calls):
 * varints, strings, bytes, fixed-width and 64-bit values, each reading exactly what protobuf-es's
 * BinaryReader reads and writing exactly what its BinaryWriter writes. Anything off the plain path
 * (a read past the message's end, an overlong varint) throws HAND_OVER, after which protobuf-es
 * decides (proto-codec.ts).
 */
import { getTextEncoding } from '@bufbuild/protobuf/wire';
import { varintSize } from './wire.js';

/** Thrown inside a compiled codec to give the input to protobuf-es instead. */
export const HAND_OVER: unique symbol = Symbol('hand over to protobuf-es');

export function handOver(): never {
  throw HAND_OVER;
}

/** A read position: `buf` is a Buffer over the input, `src` the input as given (bytes fields are views of it, as protobuf-es returns them). */
export interface Cursor {
  readonly buf: Buffer;
  readonly src: Uint8Array;
  pos: number;
}

/** Where an encode writes; `lengths` holds, in order, the lengths the sizing pass computed. */
export interface Out {
  readonly buf: Buffer;
  pos: number;
  readonly lengths: number[];
  next: number;
}

// --- varints -----------------------------------------------------------------------------------

/** Bytes of a 32-bit varint; negative int32s are sign-extended to ten, as protobuf-es (and Go) write them. */
export const varint32Size = varintSize;

/** sint32's zigzag decoding. */
export function unzigzag32(z: number): number {
  return (z >>> 1) ^ -(z & 1);
}

export function writeVarint32(out: Out, v: number): void {
  const buf = out.buf;
  let p = out.pos;
  if (v >= 0) {
    while (v > 0x7f) {
      buf[p++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    buf[p++] = v;
  } else {
    for (let i = 0; i < 9; i++) {
      buf[p++] = (v & 0x7f) | 0x80;
      v >>= 7;
    }
    buf[p++] = 1;
  }
  out.pos = p;
}

/** Reads a varint as protobuf-es's `uint32()` does: at most ten bytes, the low 32 bits kept. */
export function readVarint32(cur: Cursor, end: number): number {
  const buf = cur.buf;
  let p = cur.pos;
  if (p >= end) handOver();
  let b = buf[p++]!;
  if (b < 0x80) {
    cur.pos = p;
    return b;
  }
  let result = b & 0x7f;
  for (let shift = 7; shift < 28; shift += 7) {
    if (p >= end) handOver();
    b = buf[p++]!;
    result |= (b & 0x7f) << shift;
    if (b < 0x80) {
      cur.pos = p;
      return result;
    }
  }
  if (p >= end) handOver();
  b = buf[p++]!;
  result |= (b & 0x0f) << 28;
  for (let n = 5; b >= 0x80; n++) {
    if (n >= 10 || p >= end) handOver();
    b = buf[p++]!;
  }
  cur.pos = p;
  return result >>> 0;
}

/** The two halves of the last 64-bit value read or split: [low, high], as int32s. */
const halves = [0, 0];

/** Reads a varint of up to 64 bits into `halves`. */
function readVarint64(cur: Cursor, end: number): void {
  const buf = cur.buf;
  let p = cur.pos;
  let lo = 0;
  for (let shift = 0; shift < 28; shift += 7) {
    if (p >= end) handOver();
    const b = buf[p++]!;
    lo |= (b & 0x7f) << shift;
    if (b < 0x80) {
      cur.pos = p;
      halves[0] = lo;
      halves[1] = 0;
      return;
    }
  }
  if (p >= end) handOver();
  let b = buf[p++]!;
  lo |= (b & 0x0f) << 28;
  let hi = (b & 0x70) >> 4;
  if (b >= 0x80) {
    for (let shift = 3; shift <= 31; shift += 7) {
      if (p >= end) handOver();
      b = buf[p++]!;
      hi |= (b & 0x7f) << shift;
      if (b < 0x80) break;
    }
    if (b >= 0x80) handOver();
  }
  cur.pos = p;
  halves[0] = lo;
  halves[1] = hi;
}

function varint64Size(lo: number, hi: number): number {
  if (hi === 0) return varint32Size(lo >>> 0);
  hi >>>= 0;
  // Beyond the low 32 bits, each 7 more bits of the high half take one more byte.
  if (hi < 0x8) return 5;
  if (hi < 0x400) return 6;
  if (hi < 0x20000) return 7;
  if (hi < 0x1000000) return 8;
  if (hi < 0x80000000) return 9;
  return 10;
}

function writeVarint64(out: Out, lo: number, hi: number): void {
  const buf = out.buf;
  let p = out.pos;
  lo >>>= 0;
  hi >>>= 0;
  while (hi > 0 || lo > 0x7f) {
    buf[p++] = (lo & 0x7f) | 0x80;
    lo = ((lo >>> 7) | (hi << 25)) >>> 0;
    hi >>>= 7;
  }
  buf[p++] = lo;
  out.pos = p;
}

// --- 64-bit values ------------------------------------------------------------------------------

/** How a 64-bit field is kept on the wire: two's complement, unsigned, or zigzag (sint64). */
export const Long = { Signed: 0, Unsigned: 1, ZigZag: 2 } as const;
export type Long = (typeof Long)[keyof typeof Long];

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

/** protobuf-es splits and joins 64-bit values through a DataView, as here. */
const scratch = new DataView(new ArrayBuffer(8));

/** Whether `v` is a bigint protobuf-es would write for a field of this kind (else hand over). */
export function checkLong(v: unknown, kind: Long): bigint {
  if (typeof v !== 'bigint') handOver();
  if (kind === Long.Unsigned ? v < 0n || v > UINT64_MAX : v < INT64_MIN || v > INT64_MAX) handOver();
  return v;
}

function split64(v: bigint, kind: Long): void {
  if (kind === Long.Unsigned) scratch.setBigUint64(0, v, true);
  else if (kind === Long.ZigZag) scratch.setBigUint64(0, BigInt.asUintN(64, (v << 1n) ^ (v >> 63n)), true);
  else scratch.setBigInt64(0, v, true);
  halves[0] = scratch.getInt32(0, true);
  halves[1] = scratch.getInt32(4, true);
}

function join64(lo: number, hi: number, unsigned: boolean): bigint {
  scratch.setInt32(0, lo, true);
  scratch.setInt32(4, hi, true);
  return unsigned ? scratch.getBigUint64(0, true) : scratch.getBigInt64(0, true);
}

export function longVarintSize(v: bigint, kind: Long): number {
  split64(v, kind);
  return varint64Size(halves[0]!, halves[1]!);
}

export function writeLongVarint(out: Out, v: bigint, kind: Long): void {
  split64(v, kind);
  writeVarint64(out, halves[0]!, halves[1]!);
}

export function readLongVarint(cur: Cursor, end: number, kind: Long): bigint {
  readVarint64(cur, end);
  let lo = halves[0]!;
  let hi = halves[1]!;
  if (kind === Long.ZigZag) {
    const sign = -(lo & 1);
    lo = ((lo >>> 1) | ((hi & 1) << 31)) ^ sign;
    hi = (hi >>> 1) ^ sign;
  }
  return join64(lo, hi, kind === Long.Unsigned);
}

export function writeFixed64(out: Out, v: bigint, unsigned: boolean): void {
  split64(v, unsigned ? Long.Unsigned : Long.Signed);
  out.buf.writeInt32LE(halves[0]!, out.pos);
  out.buf.writeInt32LE(halves[1]!, out.pos + 4);
  out.pos += 8;
}

export function readFixed64(cur: Cursor, end: number, unsigned: boolean): bigint {
  const p = fixedAt(cur, end, 8);
  return join64(cur.buf.readInt32LE(p), cur.buf.readInt32LE(p + 4), unsigned);
}

// --- other scalars ------------------------------------------------------------------------------

/** The position of a fixed-width value of `width` bytes, the cursor moved past it. */
export function fixedAt(cur: Cursor, end: number, width: number): number {
  const p = cur.pos;
  if (p + width > end) handOver();
  cur.pos = p + width;
  return p;
}

export function readBool(cur: Cursor, end: number): boolean {
  readVarint64(cur, end);
  return halves[0] !== 0 || halves[1] !== 0;
}

const utf8 = getTextEncoding();

/** A string field: proto3 requires valid UTF-8, which protobuf-es enforces (an invalid one hands over to it). */
export function readString(cur: Cursor, end: number): string {
  const len = readVarint32(cur, end);
  const start = cur.pos;
  if (len > end - start) handOver();
  cur.pos = start + len;
  const s = cur.buf.toString('utf8', start, start + len);
  // Invalid sequences decode to U+FFFD; only then is a strict decode needed to tell them from a real one.
  if (s.indexOf('\ufffd') !== -1) return utf8.decodeUtf8(cur.buf.subarray(start, start + len), true);
  return s;
}

export function writeString(out: Out, s: string, byteLength: number): void {
  writeVarint32(out, byteLength);
  // The buffer is exactly as long as the message, so the string fits whole.
  out.buf.write(s, out.pos);
  out.pos += byteLength;
}

/** A bytes field: a view into the input, as protobuf-es returns it. */
export function readBytes(cur: Cursor, end: number): Uint8Array {
  const len = readVarint32(cur, end);
  const start = cur.pos;
  if (len > end - start) handOver();
  cur.pos = start + len;
  return cur.src.subarray(start, start + len);
}

export function writeBytes(out: Out, v: Uint8Array): void {
  writeVarint32(out, v.byteLength);
  out.buf.set(v, out.pos);
  out.pos += v.byteLength;
}

/** The end of a length-delimited field's content (nested message, packed list), checked against `end`. */
export function delimitedEnd(cur: Cursor, end: number): number {
  const len = readVarint32(cur, end);
  if (len > end - cur.pos) handOver();
  return cur.pos + len;
}

/** Reads a tag; five-byte tags (field numbers from 2^25, or junk protobuf-es refuses) are its to judge. */
export function readTag(cur: Cursor, end: number): number {
  const b = cur.buf[cur.pos]!;
  if (b < 0x80 && cur.pos < end) {
    cur.pos++;
    return b;
  }
  const start = cur.pos;
  const tag = readVarint32(cur, end);
  if (cur.pos - start > 4) handOver();
  return tag;
}
