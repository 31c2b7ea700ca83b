// TtrpcClient against a hand-driven raw server: stream ids, routing, deadlines, cancellation,
// size limits, odd frames, and failure of every pending call when the connection drops.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import {
  Code,
  decodeRequest,
  encodeErrorFrame,
  encodeFrame,
  encodeSuccessFrame,
  FrameReader,
  MAX_MESSAGE_LENGTH,
  TtrpcClient,
  TtrpcError,
  type RequestMessage,
} from '../../../src/ttrpc/index.js';
import { delay, tempDir } from './helpers.js';

interface Received {
  streamId: number;
  req: RequestMessage;
}

/** A server that records requests and lets the test answer (or not) by hand. */
async function rawServer(): Promise<{ path: string; received: Received[]; socket: () => Promise<net.Socket>; close: () => Promise<void> }> {
  const tmp = tempDir();
  const received: Received[] = [];
  let resolveSocket!: (s: net.Socket) => void;
  const connected = new Promise<net.Socket>((r) => (resolveSocket = r));
  const srv = net.createServer((s) => {
    s.on('error', () => undefined);
    const reader = new FrameReader({
      frame: (streamId, _t, _f, body) => received.push({ streamId, req: decodeRequest(Buffer.from(body)) }),
      oversize: () => undefined,
    });
    s.on('data', (c: Buffer) => reader.push(c));
    resolveSocket(s);
  });
  await new Promise<void>((r) => srv.listen(tmp.socket(), r));
  return {
    path: tmp.socket(),
    received,
    socket: () => connected,
    close: async () => {
      (await Promise.race([connected, delay(0).then(() => undefined)]))?.destroy();
      await new Promise<void>((r) => srv.close(() => r()));
      tmp.cleanup();
    },
  };
}

const until = async (cond: () => boolean, ms = 3000): Promise<void> => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not reached');
    await delay(2);
  }
};

const isStatus = (code: Code, message?: string) => (err: unknown): boolean =>
  err instanceof TtrpcError && err.code === code && (message === undefined || err.message === message);

test('stream ids are odd and strictly increasing; responses route by id in any order', async () => {
  const srv = await rawServer();
  const client = await TtrpcClient.connect(srv.path);
  try {
    const calls = Array.from({ length: 20 }, (_, i) => client.callRaw('s.S', 'M', Buffer.from([i]), { metadata: [['containerd-namespace-ttrpc', 'default']] }));
    await until(() => srv.received.length === 20);
    assert.deepEqual(srv.received.map((r) => r.streamId), Array.from({ length: 20 }, (_, i) => 1 + 2 * i));
    assert.deepEqual(srv.received[0]!.req.metadata, [['containerd-namespace-ttrpc', 'default']]);
    assert.equal(srv.received[0]!.req.timeoutNano, 0);
    const sock = await srv.socket();
    // Answer in reverse order, plus a response for an id nobody waits for (dropped).
    sock.write(encodeSuccessFrame(999, Buffer.from('stray')));
    for (const r of [...srv.received].reverse()) sock.write(encodeSuccessFrame(r.streamId, Buffer.from([r.req.payload[0]! * 2])));
    const replies = await Promise.all(calls);
    assert.deepEqual(replies.map((b) => b[0]), Array.from({ length: 20 }, (_, i) => i * 2));
    assert.equal(client.closed, false);
  } finally {
    client.close();
    await srv.close();
  }
});

test('status codes, a non-Response frame type and an oversize reply fail only their own call', async () => {
  const srv = await rawServer();
  const client = await TtrpcClient.connect(srv.path);
  try {
    const a = client.callRaw('s.S', 'A', new Uint8Array(0));
    const b = client.callRaw('s.S', 'B', new Uint8Array(0));
    const c = client.callRaw('s.S', 'C', new Uint8Array(0));
    const d = client.callRaw('s.S', 'D', new Uint8Array(0));
    await until(() => srv.received.length === 4);
    const sock = await srv.socket();
    sock.write(encodeErrorFrame(1, Code.NotFound, 'container not created: not found'));
    sock.write(encodeFrame(3, 3, Buffer.alloc(0)));
    const over = Buffer.alloc(10 + MAX_MESSAGE_LENGTH + 1);
    over.writeUInt32BE(MAX_MESSAGE_LENGTH + 1, 0);
    over.writeUInt32BE(5, 4);
    over[8] = 2;
    sock.write(over);
    sock.write(encodeSuccessFrame(7, Buffer.alloc(0)));
    await assert.rejects(a, isStatus(Code.NotFound, 'container not created: not found'));
    await assert.rejects(b, isStatus(Code.Unknown, 'unknown message type received'));
    await assert.rejects(c, isStatus(Code.ResourceExhausted, `message length ${MAX_MESSAGE_LENGTH + 1} exceed maximum message size of ${MAX_MESSAGE_LENGTH}`));
    assert.equal((await d).length, 0);
    // Refused locally: the request would exceed 4 MiB.
    await assert.rejects(client.callRaw('s.S', 'E', new Uint8Array(MAX_MESSAGE_LENGTH)), isStatus(Code.ResourceExhausted));
    assert.equal(srv.received.length, 4);
  } finally {
    client.close();
    await srv.close();
  }
});

test('deadline: timeout_nano sent, DeadlineExceeded locally, a late reply is dropped', async () => {
  const srv = await rawServer();
  const client = await TtrpcClient.connect(srv.path);
  try {
    const t0 = Date.now();
    await assert.rejects(client.callRaw('s.S', 'Slow', new Uint8Array(0), { timeoutMs: 60 }), isStatus(Code.DeadlineExceeded, 'context deadline exceeded'));
    assert.ok(Date.now() - t0 >= 55);
    assert.equal(srv.received[0]!.req.timeoutNano, 60e6);
    (await srv.socket()).write(encodeSuccessFrame(1, Buffer.from('late')));
    const next = client.callRaw('s.S', 'Next', new Uint8Array(0));
    await until(() => srv.received.length === 2);
    assert.equal(srv.received[1]!.streamId, 3);
    (await srv.socket()).write(encodeSuccessFrame(3, Buffer.from('ok')));
    assert.equal((await next).toString(), 'ok');
    // Cancellation through a signal.
    const ac = new AbortController();
    const cancelled = client.callRaw('s.S', 'Cancel', new Uint8Array(0), { signal: ac.signal });
    ac.abort();
    await assert.rejects(cancelled, isStatus(Code.Canceled));
    assert.equal(client.pendingCalls, 0);
  } finally {
    client.close();
    await srv.close();
  }
});

test('connection drop fails every pending call with "ttrpc: closed"; later calls fail fast', async () => {
  const srv = await rawServer();
  const client = await TtrpcClient.connect(srv.path, { timeoutMs: 10_000 });
  try {
    const calls = Array.from({ length: 10 }, () => client.callRaw('s.S', 'Wait', new Uint8Array(0)));
    await until(() => srv.received.length === 10);
    assert.equal(srv.received[0]!.req.timeoutNano > 9e9, true, 'connect timeoutMs is the default call deadline');
    (await srv.socket()).destroy();
    const results = await Promise.allSettled(calls);
    for (const r of results) {
      assert.equal(r.status, 'rejected');
      assert.ok(isStatus(Code.Unavailable, 'ttrpc: closed')((r as PromiseRejectedResult).reason));
    }
    await client.whenClosed();
    assert.equal(client.closed, true);
    await assert.rejects(client.callRaw('s.S', 'After', new Uint8Array(0)), isStatus(Code.Unavailable, 'ttrpc: closed'));
    client.close();
    client.close();
  } finally {
    await srv.close();
  }
});

test('connect: a missing socket fails with Unavailable', async () => {
  const tmp = tempDir();
  try {
    await assert.rejects(TtrpcClient.connect(`unix://${tmp.socket('nope.sock')}`), isStatus(Code.Unavailable));
  } finally {
    tmp.cleanup();
  }
});
