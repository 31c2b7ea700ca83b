/**
 * Just enough protobuf for ttrpc's own envelope messages, written by hand so the hot path neither
 * reflects over descriptors nor allocates intermediate objects. Decoding follows what the Go
 * (gogo/protobuf) decoder in ttrpc 1.1.1 accepts and the texts it fails with.
 */
import { isUtf8 } from 'node:buffer';

/** A malformed protobuf message; `message` is the Go decoder's text for the same problem. */
export class WireFormatError extends Error {
  override readonly name = 'WireFormatError';
}

export const UNEXPECTED_EOF = 'unexpected EOF';

/** Read cursor over a protobuf message (a view into a larger buffer). */
export class ProtoReader {
  pos: number;

  constructor(readonly buf: Buffer, start: number, readonly end: number) {
    this.pos = start;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  /** An unsigned varint (tags, lengths) as a number; exact up to 2^53, larger ones saturate. */
  varint(): number {
    const b = this.buf;
    let p = this.pos;
    if (p < this.end && b[p]! < 0x80) {
      this.pos = p + 1;
      return b[p]!;
    }
    let result = 0;
    let shift = 0;
    while (p < this.end && shift < 70) {
      const byte = b[p++]!;
      if (shift < 28) result |= (byte & 0x7f) << shift;
      else if (shift < 53) result += (byte & 0x7f) * 2 ** shift;
      else if ((byte & 0x7f) !== 0) result = Number.MAX_SAFE_INTEGER;
      if (byte < 0x80) {
        this.pos = p;
        return result;
      }
      shift += 7;
    }
    throw new WireFormatError(UNEXPECTED_EOF);
  }

  /** A varint read as a signed 64-bit integer (int64), as a JS number (precise up to 2^53). */
  int64(): number {
    let lo = 0;
    let hi = 0;
    let p = this.pos;
    for (let i = 0; i < 10; i++) {
      if (p >= this.end) break;
      const byte = this.buf[p++]!;
      if (i < 4) lo |= (byte & 0x7f) << (7 * i);
      else if (i === 4) {
        lo |= (byte & 0x0f) << 28;
        hi |= (byte & 0x7f) >> 4;
      } else hi |= (byte & 0x7f) << (7 * i - 32);
      if (byte < 0x80) {
        this.pos = p;
        return hi * 4294967296 + (lo >>> 0);
      }
    }
    throw new WireFormatError(UNEXPECTED_EOF);
  }

  /** The bounds of a length-delimited field's content; the cursor moves past it. */
  lengthDelimited(): number {
    const len = this.varint();
    if (len > this.end - this.pos) throw new WireFormatError(UNEXPECTED_EOF);
    const start = this.pos;
    this.pos += len;
    return start;
  }

  /** A length-delimited string field; invalid UTF-8 is recorded in `problems` (gogo's text). */
  string(field: string, problems: { utf8?: string }): string {
    const start = this.lengthDelimited();
    const end = this.pos;
    if (end === start) return '';
    // Go reports invalid UTF-8 only after the whole message parsed (a "non-fatal" error).
    if (problems.utf8 === undefined && !asciiOnly(this.buf, start, end) && !isUtf8(this.buf.subarray(start, end))) {
      problems.utf8 = `proto: field ".${field}" contains invalid UTF-8`;
    }
    return this.buf.toString('utf8', start, end);
  }

  /** Skips an unknown field of the given wire type (or a known one with the wrong wire type). */
  skip(wireType: number): void {
    switch (wireType) {
      case 0:
        this.uint64Skip();
        return;
      case 1:
        this.advance(8);
        return;
      case 2:
        this.lengthDelimited();
        return;
      case 3:
        this.skipGroup();
        return;
      case 5:
        this.advance(4);
        return;
      default:
        throw new WireFormatError(`proto: can't skip unknown wire type ${wireType}`);
    }
  }

  private advance(n: number): void {
    if (this.end - this.pos < n) throw new WireFormatError(UNEXPECTED_EOF);
    this.pos += n;
  }

  private uint64Skip(): void {
    let p = this.pos;
    for (let i = 0; i < 10 && p < this.end; i++) {
      if (this.buf[p++]! < 0x80) {
        this.pos = p;
        return;
      }
    }
    throw new WireFormatError(UNEXPECTED_EOF);
  }

  /** Skips to the end-group tag matching an already-read start-group (nesting counted). */
  private skipGroup(): void {
    let depth = 1;
    while (depth > 0) {
      if (this.pos >= this.end) throw new WireFormatError(UNEXPECTED_EOF);
      const tag = this.varint();
      const wt = tag & 7;
      if (wt === 3) depth++;
      else if (wt === 4) depth--;
      else this.skip(wt);
    }
  }
}

function asciiOnly(b: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (b[i]! >= 0x80) return false;
  return true;
}

/** Bytes a varint of a non-negative safe integer takes. */
export function varintSize(v: number): number {
  if (v < 0) return 10;
  if (v < 0x80) return 1;
  if (v < 0x4000) return 2;
  if (v < 0x200000) return 3;
  if (v < 0x10000000) return 4;
  let n = 4;
  v = Math.floor(v / 0x10000000);
  while (v > 0) {
    n++;
    v = Math.floor(v / 128);
  }
  return n;
}

/** Writes a varint (negative numbers as 10-byte two's complement, like int64); returns the new offset. */
export function writeVarint(buf: Uint8Array, pos: number, v: number): number {
  if (v < 0) {
    let big = BigInt.asUintN(64, BigInt(Math.trunc(v)));
    for (let i = 0; i < 9; i++) {
      buf[pos++] = Number(big & 0x7fn) | 0x80;
      big >>= 7n;
    }
    buf[pos++] = Number(big);
    return pos;
  }
  while (v >= 0x80) {
    buf[pos++] = (v % 0x80) | 0x80;
    v = Math.floor(v / 0x80);
  }
  buf[pos++] = v;
  return pos;
}
