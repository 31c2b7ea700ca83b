// Differential wire tests against the real Go ttrpc (Debian's golang-github-containerd-ttrpc-dev):
// the Go client against our server and the Go server side by side, our client against the Go
// server, and the same raw bad frames sent to both servers.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { StringValueSchema } from '@bufbuild/protobuf/wkt';
import { Code, decodeResponse, encodeFrame, encodeRequestFrame, MAX_MESSAGE_LENGTH, TtrpcClient, TtrpcError, TtrpcServer } from '../../../src/ttrpc/index.js';
import { RawPeer, tempDir } from '../../unit/ttrpc/helpers.js';
import { buildGoProbe, runGoClient, startGoServer, stopChild, type GoCall, type GoResult } from './go-probe.js';
import { PROBE_SERVICE, registerProbe } from './ts-probe.js';

const built = buildGoProbe();
const skip = 'skip' in built ? built.skip : false;
const tmp = tempDir();
const goSocket = tmp.socket('go.sock');
const tsSocket = tmp.socket('ts.sock');
let goServer: ChildProcess | undefined;
const tsServer = registerProbe(new TtrpcServer());

before(async () => {
  if (skip) return;
  goServer = await startGoServer((built as { binary: string }).binary, goSocket);
  await tsServer.listen(tsSocket);
});

after(async () => {
  await stopChild(goServer);
  await tsServer.close();
  tmp.cleanup();
});

const sv = (value: string): Uint8Array => toBinary(StringValueSchema, create(StringValueSchema, { value }));
const NS: [string, string] = ['containerd-namespace-ttrpc', 'default'];

const CALLS: GoCall[] = [
  { id: 1, method: 'Echo', value: 'hello', metadata: [NS, ['multi', 'a'], ['multi', 'b']] },
  { id: 2, method: 'Echo', value: 'with deadline', timeoutMs: 5000 },
  { id: 3, method: 'Fail', value: '5:container not created: not found' },
  { id: 4, method: 'Fail', value: '9:task must be running: failed precondition' },
  { id: 5, method: 'Plain', value: 'plain go error' },
  { id: 6, method: 'Sleep', value: '5000', timeoutMs: 150 },
  { id: 7, method: 'Sleep', value: '300' },
  { id: 8, method: 'Nope' },
  { id: 9, service: 'foo.Bar', method: 'Echo' },
  { id: 10, method: 'Ping', value: 'ü€ unicode' },
  ...Array.from({ length: 40 }, (_, i) => ({ id: 100 + i, method: 'Ping', value: `p${i}` })),
];

/**
 * Comparable form: the deadline is only checked to be in range, and metadata keys are sorted
 * because the Go client keeps metadata in a map and sends its keys in random order per call.
 */
function normalise(r: GoResult): GoResult {
  if (r.ok && r.value?.startsWith('{')) {
    const v = JSON.parse(r.value) as { value: string; metadata: Record<string, string[]>; timeoutMs: number };
    const metadata = Object.fromEntries(Object.entries(v.metadata ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    return { ...r, value: JSON.stringify({ ...v, metadata, timeoutMs: v.timeoutMs > 0 ? (v.timeoutMs > 4000 && v.timeoutMs <= 5000 ? 'in range' : v.timeoutMs) : 0 }) };
  }
  return r;
}

test('Go client: our server answers exactly like the Go server', { skip }, async () => {
  const binary = (built as { binary: string }).binary;
  const [fromGo, fromTs] = await Promise.all([runGoClient(binary, goSocket, CALLS), runGoClient(binary, tsSocket, CALLS)]);
  assert.equal(fromTs.size, CALLS.length);
  for (const call of CALLS) {
    assert.deepEqual(normalise(fromTs.get(call.id)!), normalise(fromGo.get(call.id)!), `call ${call.id} ${call.method}`);
  }
  // And the answers are the expected ones, not just equal.
  const echo = JSON.parse(fromTs.get(1)!.value!) as { metadata: Record<string, string[]> };
  assert.deepEqual(echo.metadata, { 'containerd-namespace-ttrpc': ['default'], multi: ['a', 'b'] });
  assert.deepEqual([fromTs.get(3)!.code, fromTs.get(3)!.message], [5, 'container not created: not found']);
  assert.deepEqual([fromTs.get(5)!.code, fromTs.get(5)!.message], [2, 'plain go error']);
  assert.equal(fromTs.get(6)!.code, Code.DeadlineExceeded);
  assert.deepEqual([fromTs.get(8)!.code, fromTs.get(8)!.message], [12, 'method Nope']);
  assert.deepEqual([fromTs.get(9)!.code, fromTs.get(9)!.message], [12, 'service foo.Bar']);
});

test('our client: Go server with metadata, deadlines, status codes, concurrency', { skip }, async () => {
  const client = await TtrpcClient.connect(goSocket);
  try {
    const echo = JSON.parse(
      fromBinary(StringValueSchema, await client.callRaw(PROBE_SERVICE, 'Echo', sv('hi'), { metadata: [NS], timeoutMs: 3000 })).value,
    ) as { value: string; metadata: Record<string, string[]>; timeoutMs: number };
    assert.equal(echo.value, 'hi');
    assert.deepEqual(echo.metadata, { 'containerd-namespace-ttrpc': ['default'] });
    assert.ok(echo.timeoutMs > 2000 && echo.timeoutMs <= 3000, `timeout seen by Go: ${echo.timeoutMs}`);
    const noDeadline = JSON.parse(fromBinary(StringValueSchema, await client.callRaw(PROBE_SERVICE, 'Echo', sv(''))).value) as { timeoutMs: number; metadata: object };
    assert.equal(noDeadline.timeoutMs, 0);
    assert.deepEqual(noDeadline.metadata, {});
    await assert.rejects(client.callRaw(PROBE_SERVICE, 'Fail', sv('6:task t1: already exists')), (e: unknown) => e instanceof TtrpcError && e.code === 6 && e.message === 'task t1: already exists');
    await assert.rejects(client.callRaw(PROBE_SERVICE, 'Plain', sv('boom')), (e: unknown) => e instanceof TtrpcError && e.code === Code.Unknown && e.message === 'boom');
    await assert.rejects(client.callRaw(PROBE_SERVICE, 'Nope', sv('')), (e: unknown) => e instanceof TtrpcError && e.code === 12 && e.message === 'method Nope');
    await assert.rejects(client.callRaw(PROBE_SERVICE, 'Sleep', sv('5000'), { timeoutMs: 100 }), (e: unknown) => e instanceof TtrpcError && e.code === Code.DeadlineExceeded);
    // Go honoured our timeout_nano: its handler returned DeadlineExceeded (a late reply we dropped).
    const slow = client.callRaw(PROBE_SERVICE, 'Sleep', sv('300'));
    const many = await Promise.all(Array.from({ length: 100 }, (_, i) => client.callRaw(PROBE_SERVICE, 'Ping', sv(`n${i}`))));
    assert.deepEqual(many.map((b) => fromBinary(StringValueSchema, b).value), Array.from({ length: 100 }, (_, i) => `n${i}`));
    assert.equal(fromBinary(StringValueSchema, await slow).value, '300');
    assert.equal(client.closed, false);
  } finally {
    client.close();
  }
});

/** Raw frames of spec §8, each with an id; both servers must answer (or not) the same way. */
function badFrames(): { label: string; frame: Buffer; id: number; messageMayDiffer?: boolean }[] {
  const req = (id: number, service: string, method: string, payload: Uint8Array = new Uint8Array(0)): Buffer =>
    encodeRequestFrame(id, service, method, { payload, timeoutNano: 0, metadata: undefined });
  const over = Buffer.alloc(10 + MAX_MESSAGE_LENGTH + 1);
  over.writeUInt32BE(MAX_MESSAGE_LENGTH + 1, 0);
  over.writeUInt32BE(21, 4);
  over[8] = 1;
  const flagged = req(23, PROBE_SERVICE, 'Ping', sv('flags'));
  flagged[9] = 2;
  return [
    { label: 'unknown service', id: 1, frame: req(1, 'foo.Bar', 'Echo') },
    { label: 'unknown method', id: 3, frame: req(3, PROBE_SERVICE, 'Pids') },
    { label: 'truncated Request body', id: 5, frame: encodeFrame(5, 1, Buffer.from('0a05616263', 'hex')) },
    { label: 'illegal tag 0', id: 7, frame: encodeFrame(7, 1, Buffer.from('0000', 'hex')) },
    { label: 'wire type 7', id: 9, frame: encodeFrame(9, 1, Buffer.from('0f', 'hex')) },
    { label: 'invalid UTF-8 service', id: 11, frame: encodeFrame(11, 1, Buffer.from('0a02c328', 'hex')) },
    { label: 'undecodable payload', id: 13, frame: req(13, PROBE_SERVICE, 'Ping', Buffer.from('0a05', 'hex')), messageMayDiffer: true },
    { label: 'even stream id', id: 14, frame: req(14, PROBE_SERVICE, 'Ping', sv('even')) },
    { label: 'Data frame (type 3)', id: 15, frame: encodeFrame(15, 3, req(15, PROBE_SERVICE, 'Ping', sv('x')).subarray(10)) },
    { label: 'unknown type 0x7f', id: 17, frame: encodeFrame(17, 0x7f, Buffer.alloc(0)) },
    { label: 'Response frame sent to a server', id: 19, frame: encodeFrame(19, 2, Buffer.alloc(0)) },
    { label: 'oversize', id: 21, frame: over },
    { label: 'flags on a Request', id: 23, frame: flagged },
    { label: 'duplicate id', id: 23, frame: req(23, PROBE_SERVICE, 'Ping', sv('dup')) },
    { label: 'lower id than before', id: 1, frame: req(1, PROBE_SERVICE, 'Ping', sv('lower')) },
    { label: 'timeout already expired', id: 25, frame: encodeRequestFrame(25, PROBE_SERVICE, 'Sleep', { payload: sv('2000'), timeoutNano: -1, metadata: undefined }) },
  ];
}

async function answers(socket: string): Promise<string[]> {
  const peer = await RawPeer.connect(socket);
  const out: string[] = [];
  try {
    for (const { label, frame, id } of badFrames()) {
      const before = peer.frames.length;
      peer.write(frame);
      // A sentinel call right after tells "no answer" apart from "slow answer".
      const sentinel = 1001 + 2 * out.length;
      peer.write(encodeRequestFrame(sentinel, PROBE_SERVICE, 'Ping', { payload: sv('s'), timeoutNano: 0, metadata: undefined }));
      const end = Date.now() + 5000;
      while (!peer.frames.slice(before).some((f) => f.streamId === sentinel)) {
        if (peer.closed) throw new Error(`connection closed after ${label}`);
        if (Date.now() > end) throw new Error(`no sentinel answer after ${label}`);
        await new Promise((r) => setTimeout(r, 5));
      }
      // The expired-deadline Sleep may answer after the sentinel.
      if (label.startsWith('timeout')) {
        while (!peer.frames.slice(before).some((f) => f.streamId === id) && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
      }
      const mine = peer.frames.slice(before).filter((f) => f.streamId === id);
      out.push(
        `${label}: ` +
          (mine.length === 0
            ? 'no answer'
            : mine.map((f) => {
                const r = decodeResponse(f.body);
                return `type=${f.type} code=${r.code} msg=${r.message} payload=${r.payload.toString('hex')}`;
              }).join(' | ')),
      );
    }
  } finally {
    peer.destroy();
  }
  return out;
}

test('bad input (spec §8): our server answers byte-compatible with the Go server', { skip }, async () => {
  const [go, ts] = [await answers(goSocket), await answers(tsSocket)];
  const frames = badFrames();
  for (let i = 0; i < go.length; i++) {
    if (frames[i]!.messageMayDiffer) {
      assert.equal(ts[i]!.replace(/msg=.* payload=/, 'payload='), go[i]!.replace(/msg=.* payload=/, 'payload='));
      assert.match(ts[i]!, /code=13 msg=ttrpc: error unmarshalling payload: /);
    } else assert.equal(ts[i], go[i]);
  }
  assert.match(ts[0]!, /code=12 msg=service foo.Bar/);
  assert.match(ts[8]!, /no answer/);
});
