/**
 * The ttrpc frame: a 10-byte big-endian header (length, stream id, type, flags) and a body of at
 * most 4 MiB (spec §2), plus an incremental reader that never concatenates the whole stream.
 */

/** Bytes in a frame header. */
export const HEADER_LENGTH = 10;

/** Largest legal body: 4 MiB (`4 << 20`); one byte more is rejected with ResourceExhausted. */
export const MAX_MESSAGE_LENGTH = 4 << 20;

/** Frame types; ttrpc 1.1.1 (containerd 1.6) knows only Request and Response. */
export enum MessageType {
  Request = 1,
  Response = 2,
  /** ttrpc 1.2 streaming; ignored here like a 1.1.1 peer does. */
  Data = 3,
}

/** The fixed header fields of one frame. */
export interface FrameHeader {
  readonly length: number;
  readonly streamId: number;
  readonly type: number;
  readonly flags: number;
}

/** Writes a frame header into `target` at `offset`. */
export function writeHeader(target: Uint8Array, offset: number, length: number, streamId: number, type: number, flags = 0): void {
  target[offset] = length >>> 24;
  target[offset + 1] = (length >>> 16) & 0xff;
  target[offset + 2] = (length >>> 8) & 0xff;
  target[offset + 3] = length & 0xff;
  target[offset + 4] = streamId >>> 24;
  target[offset + 5] = (streamId >>> 16) & 0xff;
  target[offset + 6] = (streamId >>> 8) & 0xff;
  target[offset + 7] = streamId & 0xff;
  target[offset + 8] = type;
  target[offset + 9] = flags;
}

/** Parses the header at the start of `source` (which must hold at least 10 bytes). */
export function readHeader(source: Uint8Array, offset = 0): FrameHeader {
  return {
    length: readU32(source, offset),
    streamId: readU32(source, offset + 4),
    type: source[offset + 8]!,
    flags: source[offset + 9]!,
  };
}

/** One whole frame as a single buffer (header + body), ready for one `socket.write`. */
export function encodeFrame(streamId: number, type: number, body: Uint8Array, flags = 0): Buffer {
  const out = Buffer.allocUnsafe(HEADER_LENGTH + body.length);
  writeHeader(out, 0, body.length, streamId, type, flags);
  out.set(body, HEADER_LENGTH);
  return out;
}

function readU32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

/** Receives the frames a FrameReader finds. */
export interface FrameSink {
  /** A complete frame of legal size; `body` may be a view into a received chunk. */
  frame(streamId: number, type: number, flags: number, body: Buffer): void;
  /** A frame whose length exceeded the limit; its body has been read and thrown away. */
  oversize(streamId: number, type: number, length: number): void;
}

const enum State {
  Header,
  Body,
  Discard,
}

/**
 * Incremental frame parser for one byte stream. Frames wholly inside one chunk are handed out as
 * zero-copy views; only a frame split across chunks is copied, once, into a buffer of its size.
 */
export class FrameReader {
  private state = State.Header;
  private readonly header = Buffer.allocUnsafe(HEADER_LENGTH);
  private headerFill = 0;
  private body: Buffer | undefined;
  private bodyFill = 0;
  private remaining = 0;
  private streamId = 0;
  private type = 0;
  private flags = 0;
  private length = 0;

  constructor(private readonly sink: FrameSink, private readonly maxLength = MAX_MESSAGE_LENGTH) {}

  /** True when the stream ended cleanly between frames (no partial frame buffered). */
  get idle(): boolean {
    return this.state === State.Header && this.headerFill === 0;
  }

  /** Feeds received bytes; calls the sink for every frame completed by them. */
  push(chunk: Buffer): void {
    let pos = 0;
    const end = chunk.length;
    while (pos < end) {
      if (this.state === State.Header) {
        if (this.headerFill === 0 && end - pos >= HEADER_LENGTH) {
          this.takeHeader(chunk, pos);
          pos += HEADER_LENGTH;
        } else {
          const n = Math.min(HEADER_LENGTH - this.headerFill, end - pos);
          chunk.copy(this.header, this.headerFill, pos, pos + n);
          this.headerFill += n;
          pos += n;
          if (this.headerFill < HEADER_LENGTH) return;
          this.headerFill = 0;
          this.takeHeader(this.header, 0);
        }
        if (this.state === State.Header) {
          // A zero-length frame is complete as soon as its header is.
          this.sink.frame(this.streamId, this.type, this.flags, EMPTY);
          continue;
        }
        if (this.state === State.Body && end - pos >= this.length) {
          const body = chunk.subarray(pos, pos + this.length);
          pos += this.length;
          this.state = State.Header;
          this.sink.frame(this.streamId, this.type, this.flags, body);
          continue;
        }
        if (this.state === State.Body) {
          this.body = Buffer.allocUnsafe(this.length);
          this.bodyFill = 0;
        }
      } else if (this.state === State.Body) {
        const body = this.body!;
        const n = Math.min(body.length - this.bodyFill, end - pos);
        chunk.copy(body, this.bodyFill, pos, pos + n);
        this.bodyFill += n;
        pos += n;
        if (this.bodyFill === body.length) {
          this.body = undefined;
          this.state = State.Header;
          this.sink.frame(this.streamId, this.type, this.flags, body);
        }
      } else {
        const n = Math.min(this.remaining, end - pos);
        this.remaining -= n;
        pos += n;
        if (this.remaining === 0) {
          this.state = State.Header;
          this.sink.oversize(this.streamId, this.type, this.length);
        }
      }
    }
  }

  private takeHeader(src: Buffer, o: number): void {
    this.length = readU32(src, o);
    this.streamId = readU32(src, o + 4);
    this.type = src[o + 8]!;
    this.flags = src[o + 9]!;
    if (this.length > this.maxLength) {
      this.state = State.Discard;
      this.remaining = this.length;
    } else {
      this.state = this.length === 0 ? State.Header : State.Body;
    }
  }
}

const EMPTY = Buffer.alloc(0);
