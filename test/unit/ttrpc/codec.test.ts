// The frame codec and envelope messages, byte for byte against the spec's worked examples (§9).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Code,
  decodeRequest,
  decodeResponse,
  encodeErrorFrame,
  encodeFrame,
  encodeRequestFrame,
  encodeSuccessFrame,
  FrameReader,
  MAX_MESSAGE_LENGTH,
  readHeader,
  WireFormatError,
} from '../../../src/ttrpc/index.js';
import type { RawFrame } from './helpers.js';

const NS: [string, string] = ['containerd-namespace-ttrpc', 'default'];
const CONNECT_REQ = Buffer.from('0a03616263', 'hex');
const EX_91 =
  '000000500000000101000a17636f6e7461696e6572642e7461736b2e76322e5461736b1207436f6e6e6563741a050a036162632a250a1a636f6e7461696e6572642d6e616d6573706163652d7474727063120764656661756c74';
const EX_91_TIMEOUT =
  '000000560000000301000a17636f6e7461696e6572642e7461736b2e76322e5461736b1207436f6e6e6563741a050a036162632080e497d0122a250a1a636f6e7461696e6572642d6e616d6573706163652d7474727063120764656661756c74';

test('§9.1 Request Connect with namespace metadata, byte for byte', () => {
  const frame = encodeRequestFrame(1, 'containerd.task.v2.Task', 'Connect', { payload: CONNECT_REQ, timeoutNano: 0, metadata: [NS] });
  assert.equal(frame.toString('hex'), EX_91);
  assert.equal(frame.length, 90);
});

test('§9.1 same call with timeout_nano 5e9 on stream 3', () => {
  const frame = encodeRequestFrame(3, 'containerd.task.v2.Task', 'Connect', { payload: CONNECT_REQ, timeoutNano: 5_000_000_000, metadata: [NS] });
  assert.equal(frame.toString('hex'), EX_91_TIMEOUT);
});

test('§9.1 without metadata and timeout: 41-byte body', () => {
  const frame = encodeRequestFrame(1, 'containerd.task.v2.Task', 'Connect', { payload: CONNECT_REQ, timeoutNano: 0, metadata: undefined });
  assert.equal(frame.subarray(0, 10).toString('hex'), '00000029000000010100');
  assert.equal(frame.length, 10 + 41);
});

test('§9.1 decodes back', () => {
  const frame = Buffer.from(EX_91_TIMEOUT, 'hex');
  const h = readHeader(frame);
  assert.deepEqual(h, { length: 86, streamId: 3, type: 1, flags: 0 });
  const req = decodeRequest(frame.subarray(10));
  assert.equal(req.service, 'containerd.task.v2.Task');
  assert.equal(req.method, 'Connect');
  assert.equal(req.payload.toString('hex'), '0a03616263');
  assert.equal(req.timeoutNano, 5e9);
  assert.deepEqual(req.metadata, [NS]);
});

test('§9.2 success Response ConnectResponse{4242, 4343}', () => {
  const payload = Buffer.from('0892211' + '0f721', 'hex');
  assert.equal(encodeSuccessFrame(1, payload).toString('hex'), '00000008000000010200120608922110f721');
  const res = decodeResponse(Buffer.from('120608922110f721', 'hex'));
  assert.equal(res.code, 0);
  assert.equal(res.payload.toString('hex'), '08922110f721');
});

test('§9.3 Empty success is a bare header', () => {
  assert.equal(encodeSuccessFrame(5, new Uint8Array(0)).toString('hex'), '00000000000000050200');
  const res = decodeResponse(Buffer.alloc(0));
  assert.equal(res.code, 0);
  assert.equal(res.payload.length, 0);
});

test('§9.4 NotFound error Response', () => {
  const hex = '000000260000000102000a2408051220636f6e7461696e6572206e6f7420637265617465643a206e6f7420666f756e64';
  assert.equal(encodeErrorFrame(1, Code.NotFound, 'container not created: not found').toString('hex'), hex);
  const res = decodeResponse(Buffer.from(hex, 'hex').subarray(10));
  assert.equal(res.code, 5);
  assert.equal(res.message, 'container not created: not found');
});

test('§9.5 Unimplemented "method Pids" on stream 11', () => {
  assert.equal(encodeErrorFrame(11, Code.Unimplemented, 'method Pids').toString('hex'), '000000110000000b0200' + '0a0f080c120b6d6574686f642050696473');
});

test('an empty Status (0a 00) and unknown fields decode as OK', () => {
  const res = decodeResponse(Buffer.from('0a00' + '1a0178' + '120101' + '4001', 'hex'));
  assert.equal(res.code, 0);
  assert.equal(res.payload.toString('hex'), '01');
});

test('status details round-trip', () => {
  const frame = encodeErrorFrame(1, Code.Internal, 'x', [{ typeUrl: 'type.googleapis.com/a.B', value: Buffer.from([1, 2]) }]);
  const res = decodeResponse(frame.subarray(10));
  assert.equal(res.code, 13);
  assert.equal(res.details?.[0]?.typeUrl, 'type.googleapis.com/a.B');
  assert.deepEqual([...res.details![0]!.value], [1, 2]);
});

test('Request decoding: any field order, last scalar wins, unknown and wrong-wire-type fields skipped', () => {
  // method, unknown field 9 (varint), service twice, timeout as fixed64 (wrong type: skipped), group 10
  const body = Buffer.from('1201' + '4d' + '4801' + '0a0161' + '0a0162' + '21' + '0102030405060708' + '53' + '0801' + '54', 'hex');
  const req = decodeRequest(body);
  assert.equal(req.service, 'b');
  assert.equal(req.method, 'M');
  assert.equal(req.timeoutNano, 0);
  assert.equal(req.payload.length, 0);
});

test('Request decoding: negative timeout_nano (10-byte varint)', () => {
  const body = Buffer.from('20' + 'ffffffffffffffffff01', 'hex');
  assert.equal(decodeRequest(body).timeoutNano, -1);
  const big = encodeRequestFrame(1, 's', 'm', { payload: new Uint8Array(0), timeoutNano: -5, metadata: undefined });
  assert.equal(decodeRequest(big.subarray(10)).timeoutNano, -5);
});

test('Request decoding errors carry the Go decoder texts', () => {
  const cases: [string, string][] = [
    ['0a05616263', 'unexpected EOF'],
    ['0a', 'unexpected EOF'],
    ['20ffffffff', 'unexpected EOF'],
    ['ffffffffffffffffffffff01', 'unexpected EOF'],
    ['0000', 'proto: ttrpc.Request: illegal tag 0 (wire type 0)'],
    ['0f', "proto: can't skip unknown wire type 7"],
    ['0a02c328', 'proto: field ".service" contains invalid UTF-8'],
    ['2a040a02ff00', 'proto: field ".key" contains invalid UTF-8'],
  ];
  for (const [hex, text] of cases) {
    assert.throws(() => decodeRequest(Buffer.from(hex, 'hex')), (err: unknown) => err instanceof WireFormatError && err.message === text, hex);
  }
});

test('multi-byte UTF-8 strings encode with their byte length', () => {
  const frame = encodeRequestFrame(7, 'svc.ü', 'Méthode', { payload: Buffer.from([1]), timeoutNano: 1, metadata: [['k€y', 'välue'], ['', '']] });
  const req = decodeRequest(frame.subarray(10));
  assert.equal(readHeader(frame).length, frame.length - 10);
  assert.equal(req.service, 'svc.ü');
  assert.equal(req.method, 'Méthode');
  assert.deepEqual(req.metadata, [['k€y', 'välue'], ['', '']]);
});

function collect(): { frames: RawFrame[]; reader: FrameReader } {
  const frames: RawFrame[] = [];
  const reader = new FrameReader({
    frame: (streamId, type, flags, body) => frames.push({ streamId, type, flags, body: Buffer.from(body) }),
    oversize: (streamId, type, length) => frames.push({ streamId, type, flags: 0, body: Buffer.alloc(0), oversize: length }),
  });
  return { frames, reader };
}

test('FrameReader: any chunking yields the same frames', () => {
  const stream = Buffer.concat([
    Buffer.from(EX_91, 'hex'),
    encodeFrame(3, 2, Buffer.alloc(0)),
    encodeFrame(5, 9, Buffer.from('hello'), 0x42),
    Buffer.from(EX_91_TIMEOUT, 'hex'),
  ]);
  const whole = collect();
  whole.reader.push(stream);
  assert.equal(whole.frames.length, 4);
  assert.deepEqual(whole.frames[2], { streamId: 5, type: 9, flags: 0x42, body: Buffer.from('hello') });
  for (const size of [1, 2, 3, 7, 10, 11, 64]) {
    const c = collect();
    for (let i = 0; i < stream.length; i += size) c.reader.push(stream.subarray(i, i + size));
    assert.deepEqual(c.frames, whole.frames, `chunk size ${size}`);
    assert.ok(c.reader.idle);
  }
});

test('FrameReader: exactly 4 MiB is accepted, one byte more is discarded and reported', () => {
  const c = collect();
  const legal = encodeFrame(1, 1, Buffer.alloc(MAX_MESSAGE_LENGTH, 7));
  const over = Buffer.alloc(10 + MAX_MESSAGE_LENGTH + 1, 9);
  over.writeUInt32BE(MAX_MESSAGE_LENGTH + 1, 0);
  over.writeUInt32BE(3, 4);
  over[8] = 1;
  over[9] = 0;
  const after = encodeFrame(5, 1, Buffer.from('x'));
  const stream = Buffer.concat([legal, over, after]);
  for (let i = 0; i < stream.length; i += 65536) c.reader.push(stream.subarray(i, i + 65536));
  assert.equal(c.frames.length, 3);
  assert.equal(c.frames[0]!.body.length, MAX_MESSAGE_LENGTH);
  assert.equal(c.frames[1]!.oversize, MAX_MESSAGE_LENGTH + 1);
  assert.equal(c.frames[1]!.streamId, 3);
  assert.deepEqual(c.frames[2]!.body, Buffer.from('x'));
});
