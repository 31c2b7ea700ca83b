/**
 * ttrpc's envelope messages (package `ttrpc`, spec §3): Request, Response, KeyValue and
 * google.rpc.Status, encoded straight into a frame buffer and decoded from a frame body.
 */
import type { StatusDetail } from './error.js';
import { HEADER_LENGTH, MessageType, writeHeader } from './frame.js';
import { ProtoReader, varintSize, WireFormatError, writeVarint } from './wire.js';

/** One metadata pair as it travels (`ttrpc.KeyValue`). */
export type KeyValuePair = readonly [key: string, value: string];

/** A decoded `ttrpc.Request`. Missing fields have their proto3 defaults. */
export interface RequestMessage {
  service: string;
  method: string;
  /** The method's serialized input; a view into the frame body. */
  payload: Buffer;
  /** Relative deadline in nanoseconds; 0 = none. */
  timeoutNano: number;
  /** Pairs in arrival order, or undefined when none were sent. */
  metadata: KeyValuePair[] | undefined;
}

/** A decoded `ttrpc.Response`; `code` 0 (or absent status) means success. */
export interface ResponseMessage {
  code: number;
  message: string;
  details: StatusDetail[] | undefined;
  payload: Buffer;
}

const EMPTY = Buffer.alloc(0);

/** Decodes a Request body; throws WireFormatError with the Go decoder's text. */
export function decodeRequest(body: Buffer): RequestMessage {
  const r = new ProtoReader(body, 0, body.length);
  const problems: { utf8?: string } = {};
  const req: RequestMessage = { service: '', method: '', payload: EMPTY, timeoutNano: 0, metadata: undefined };
  while (!r.done) {
    const tag = r.varint();
    const field = Math.floor(tag / 8);
    const wt = tag & 7;
    if (field === 0) throw new WireFormatError(`proto: ttrpc.Request: illegal tag 0 (wire type ${wt})`);
    if (field === 1 && wt === 2) req.service = r.string('service', problems);
    else if (field === 2 && wt === 2) req.method = r.string('method', problems);
    else if (field === 3 && wt === 2) {
      const start = r.lengthDelimited();
      req.payload = body.subarray(start, r.pos);
    } else if (field === 4 && wt === 0) req.timeoutNano = r.int64();
    else if (field === 5 && wt === 2) {
      const start = r.lengthDelimited();
      (req.metadata ??= []).push(decodeKeyValue(body, start, r.pos, problems));
    } else r.skip(wt);
  }
  if (problems.utf8 !== undefined) throw new WireFormatError(problems.utf8);
  return req;
}

function decodeKeyValue(body: Buffer, start: number, end: number, problems: { utf8?: string }): KeyValuePair {
  const r = new ProtoReader(body, start, end);
  let key = '';
  let value = '';
  while (!r.done) {
    const tag = r.varint();
    const field = Math.floor(tag / 8);
    const wt = tag & 7;
    if (field === 0) throw new WireFormatError(`proto: ttrpc.KeyValue: illegal tag 0 (wire type ${wt})`);
    if (field === 1 && wt === 2) key = r.string('key', problems);
    else if (field === 2 && wt === 2) value = r.string('value', problems);
    else r.skip(wt);
  }
  return [key, value];
}

/** Decodes a Response body (lenient: unknown fields skipped, missing status = OK). */
export function decodeResponse(body: Buffer): ResponseMessage {
  const r = new ProtoReader(body, 0, body.length);
  const res: ResponseMessage = { code: 0, message: '', details: undefined, payload: EMPTY };
  const problems: { utf8?: string } = {};
  while (!r.done) {
    const tag = r.varint();
    const field = Math.floor(tag / 8);
    const wt = tag & 7;
    if (field === 0) throw new WireFormatError(`proto: ttrpc.Response: illegal tag 0 (wire type ${wt})`);
    if (field === 1 && wt === 2) {
      const start = r.lengthDelimited();
      decodeStatus(body, start, r.pos, res, problems);
    } else if (field === 2 && wt === 2) {
      const start = r.lengthDelimited();
      res.payload = body.subarray(start, r.pos);
    } else r.skip(wt);
  }
  return res;
}

function decodeStatus(body: Buffer, start: number, end: number, into: ResponseMessage, problems: { utf8?: string }): void {
  const r = new ProtoReader(body, start, end);
  while (!r.done) {
    const tag = r.varint();
    const field = Math.floor(tag / 8);
    const wt = tag & 7;
    if (field === 1 && wt === 0) into.code = r.int64() | 0;
    else if (field === 2 && wt === 2) into.message = r.string('message', problems);
    else if (field === 3 && wt === 2) {
      const s = r.lengthDelimited();
      (into.details ??= []).push(decodeAny(body, s, r.pos, problems));
    } else r.skip(wt);
  }
}

function decodeAny(body: Buffer, start: number, end: number, problems: { utf8?: string }): StatusDetail {
  const r = new ProtoReader(body, start, end);
  let typeUrl = '';
  let value: Uint8Array = EMPTY;
  while (!r.done) {
    const tag = r.varint();
    const field = Math.floor(tag / 8);
    const wt = tag & 7;
    if (field === 1 && wt === 2) typeUrl = r.string('type_url', problems);
    else if (field === 2 && wt === 2) {
      const s = r.lengthDelimited();
      value = body.subarray(s, r.pos);
    } else r.skip(wt);
  }
  return { typeUrl, value };
}

function lenFieldSize(n: number): number {
  return 1 + varintSize(n) + n;
}

/** What goes into an encoded Request besides service and method. */
export interface RequestFields {
  readonly payload: Uint8Array;
  readonly timeoutNano: number;
  readonly metadata: readonly KeyValuePair[] | undefined;
}

/**
 * Encodes a whole Request frame (header + body) into one buffer, fields in ascending order with
 * proto3 defaults omitted, exactly as Go does (spec §9.1).
 */
export function encodeRequestFrame(streamId: number, service: string, method: string, fields: RequestFields): Buffer {
  const serviceLen = Buffer.byteLength(service);
  const methodLen = Buffer.byteLength(method);
  const { payload, timeoutNano, metadata } = fields;
  let size = 0;
  if (serviceLen > 0) size += lenFieldSize(serviceLen);
  if (methodLen > 0) size += lenFieldSize(methodLen);
  if (payload.length > 0) size += lenFieldSize(payload.length);
  if (timeoutNano !== 0) size += 1 + varintSize(timeoutNano);
  let kvSizes: number[] | undefined;
  if (metadata !== undefined && metadata.length > 0) {
    kvSizes = [];
    for (const [k, v] of metadata) {
      const kl = Buffer.byteLength(k);
      const vl = Buffer.byteLength(v);
      const inner = (kl > 0 ? lenFieldSize(kl) : 0) + (vl > 0 ? lenFieldSize(vl) : 0);
      kvSizes.push(kl, vl, inner);
      size += lenFieldSize(inner);
    }
  }
  const out = Buffer.allocUnsafe(HEADER_LENGTH + size);
  writeHeader(out, 0, size, streamId, MessageType.Request, 0);
  let p = HEADER_LENGTH;
  if (serviceLen > 0) {
    out[p++] = 0x0a;
    p = writeVarint(out, p, serviceLen);
    p += out.write(service, p, 'utf8');
  }
  if (methodLen > 0) {
    out[p++] = 0x12;
    p = writeVarint(out, p, methodLen);
    p += out.write(method, p, 'utf8');
  }
  if (payload.length > 0) {
    out[p++] = 0x1a;
    p = writeVarint(out, p, payload.length);
    out.set(payload, p);
    p += payload.length;
  }
  if (timeoutNano !== 0) {
    out[p++] = 0x20;
    p = writeVarint(out, p, timeoutNano);
  }
  if (kvSizes !== undefined) {
    let i = 0;
    for (const [k, v] of metadata!) {
      const kl = kvSizes[i++]!;
      const vl = kvSizes[i++]!;
      const inner = kvSizes[i++]!;
      out[p++] = 0x2a;
      p = writeVarint(out, p, inner);
      if (kl > 0) {
        out[p++] = 0x0a;
        p = writeVarint(out, p, kl);
        p += out.write(k, p, 'utf8');
      }
      if (vl > 0) {
        out[p++] = 0x12;
        p = writeVarint(out, p, vl);
        p += out.write(v, p, 'utf8');
      }
    }
  }
  return out;
}

/** A successful Response frame: no status, payload omitted when empty (spec §3.2, §9.2, §9.3). */
export function encodeSuccessFrame(streamId: number, payload: Uint8Array): Buffer {
  const size = payload.length > 0 ? lenFieldSize(payload.length) : 0;
  const out = Buffer.allocUnsafe(HEADER_LENGTH + size);
  writeHeader(out, 0, size, streamId, MessageType.Response, 0);
  if (size > 0) {
    out[HEADER_LENGTH] = 0x12;
    const p = writeVarint(out, HEADER_LENGTH + 1, payload.length);
    out.set(payload, p);
  }
  return out;
}

/** Body length of a success Response carrying `payloadLength` bytes (for the 4 MiB check). */
export function successBodyLength(payloadLength: number): number {
  return payloadLength > 0 ? lenFieldSize(payloadLength) : 0;
}

/** An error Response frame: status with code and message, no payload (spec §9.4). */
export function encodeErrorFrame(streamId: number, code: number, message: string, details?: readonly StatusDetail[]): Buffer {
  const msgLen = Buffer.byteLength(message);
  let status = 0;
  if (code !== 0) status += 1 + varintSize(code);
  if (msgLen > 0) status += lenFieldSize(msgLen);
  const detailSizes: number[] = [];
  for (const d of details ?? []) {
    const tl = Buffer.byteLength(d.typeUrl);
    const inner = (tl > 0 ? lenFieldSize(tl) : 0) + (d.value.length > 0 ? lenFieldSize(d.value.length) : 0);
    detailSizes.push(tl, inner);
    status += lenFieldSize(inner);
  }
  const size = lenFieldSize(status);
  const out = Buffer.allocUnsafe(HEADER_LENGTH + size);
  writeHeader(out, 0, size, streamId, MessageType.Response, 0);
  let p = HEADER_LENGTH;
  out[p++] = 0x0a;
  p = writeVarint(out, p, status);
  if (code !== 0) {
    out[p++] = 0x08;
    p = writeVarint(out, p, code);
  }
  if (msgLen > 0) {
    out[p++] = 0x12;
    p = writeVarint(out, p, msgLen);
    p += out.write(message, p, 'utf8');
  }
  let i = 0;
  for (const d of details ?? []) {
    const tl = detailSizes[i++]!;
    const inner = detailSizes[i++]!;
    out[p++] = 0x1a;
    p = writeVarint(out, p, inner);
    if (tl > 0) {
      out[p++] = 0x0a;
      p = writeVarint(out, p, tl);
      p += out.write(d.typeUrl, p, 'utf8');
    }
    if (d.value.length > 0) {
      out[p++] = 0x12;
      p = writeVarint(out, p, d.value.length);
      out.set(d.value, p);
      p += d.value.length;
    }
  }
  return out;
}
