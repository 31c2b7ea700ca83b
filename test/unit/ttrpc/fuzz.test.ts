// Thousands of random, mutated, truncated and oversize frames against a live server: it never
// crashes, never closes a connection on a well-framed bad frame, and keeps answering good calls.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { create, toBinary } from '@bufbuild/protobuf';
import { StringValueSchema } from '@bufbuild/protobuf/wkt';
import {
  Code,
  decodeResponse,
  encodeFrame,
  encodeRequestFrame,
  MAX_MESSAGE_LENGTH,
  TtrpcClient,
  TtrpcServer,
} from '../../../src/ttrpc/index.js';
import { RawPeer, rng, tempDir } from './helpers.js';

const SVC = 'fuzz.v1.Echo';

function goodRequest(id: number, value: string): Buffer {
  return encodeRequestFrame(id, SVC, 'Echo', {
    payload: toBinary(StringValueSchema, create(StringValueSchema, { value })),
    timeoutNano: 0,
    metadata: [['k', 'v']],
  });
}

/** A frame with a correct length but random or mutated content, type and flags. */
function randomFrame(r: () => number): Buffer {
  const id = Math.floor(r() * 2 ** 32);
  const kind = r();
  let body: Buffer;
  if (kind < 0.3) body = randomBytes(Math.floor(r() * 64));
  else {
    body = Buffer.from(goodRequest(1, 'x'.repeat(Math.floor(r() * 20))).subarray(10));
    const flips = 1 + Math.floor(r() * 4);
    for (let i = 0; i < flips && body.length > 0; i++) body[Math.floor(r() * body.length)] = Math.floor(r() * 256);
    if (kind > 0.8) body = body.subarray(0, Math.floor(r() * body.length));
  }
  const type = r() < 0.8 ? 1 : Math.floor(r() * 256);
  return encodeFrame(id, type, body, r() < 0.2 ? Math.floor(r() * 256) : 0);
}

test('random well-framed frames: every answer is a valid Response and the connection stays up', async () => {
  const tmp = tempDir();
  const errors: Error[] = [];
  const server = new TtrpcServer({ onError: (e) => errors.push(e) });
  server.registerMethod(SVC, 'Echo', StringValueSchema, StringValueSchema, (req) => ({ value: req.value }));
  await server.listen(tmp.socket());
  const peer = await RawPeer.connect(tmp.socket());
  try {
    const r = rng(20240611);
    let sentRequests = 0;
    for (let round = 0; round < 20; round++) {
      const batch: Buffer[] = [];
      for (let i = 0; i < 250; i++) batch.push(randomFrame(r));
      // A sentinel on an id the random frames cannot produce as an even-id answer collision.
      const sentinel = 0x7ffffff1 - 2 * round;
      batch.push(goodRequest(sentinel, `round ${round}`));
      sentRequests += batch.length;
      peer.write(Buffer.concat(batch));
      const end = Date.now() + 5000;
      while (!peer.frames.some((f) => f.streamId === sentinel)) {
        assert.equal(peer.closed, false, `connection closed in round ${round}`);
        assert.ok(Date.now() < end, `no answer to the good call in round ${round}`);
        await new Promise((res) => setTimeout(res, 5));
      }
    }
    assert.ok(peer.frames.length > 1000, `answers: ${peer.frames.length} of ${sentRequests}`);
    for (const f of peer.frames) {
      assert.equal(f.type, 2);
      const res = decodeResponse(f.body);
      assert.ok(res.code >= 0 && res.code <= 16);
    }
    // A normal client on a second connection is unaffected.
    const client = await TtrpcClient.connect(tmp.socket());
    assert.equal((await client.callRaw(SVC, 'Echo', toBinary(StringValueSchema, create(StringValueSchema, { value: 'ok' })))).length, 4);
    client.close();
    assert.deepEqual(errors, []);
  } finally {
    peer.destroy();
    await server.close();
    tmp.cleanup();
  }
});

test('truncated frames and raw garbage followed by EOF never take the server down', async () => {
  const tmp = tempDir();
  const errors: Error[] = [];
  const server = new TtrpcServer({ onError: (e) => errors.push(e) });
  server.registerMethod(SVC, 'Echo', StringValueSchema, StringValueSchema, (req) => ({ value: req.value }));
  await server.listen(tmp.socket());
  try {
    const r = rng(7);
    const peers: Promise<void>[] = [];
    for (let i = 0; i < 300; i++) {
      const full = i % 2 === 0 ? goodRequest(1, 'truncate me') : randomBytes(1 + Math.floor(r() * 200));
      const cut = full.subarray(0, Math.floor(r() * full.length));
      peers.push(
        RawPeer.connect(tmp.socket()).then(async (p) => {
          p.write(cut);
          p.socket.end();
          await p.whenClosed();
        }),
      );
      if (peers.length >= 20) await Promise.all(peers.splice(0));
    }
    await Promise.all(peers);
    const client = await TtrpcClient.connect(tmp.socket());
    assert.equal((await client.callRaw(SVC, 'Echo', new Uint8Array(0))).length, 0);
    client.close();
    assert.deepEqual(errors, []);
    assert.ok(server.activeConnections <= 1);
  } finally {
    await server.close();
    tmp.cleanup();
  }
});

test('oversize frames of any type are drained and answered with ResourceExhausted, in between good calls', async () => {
  const tmp = tempDir();
  const server = new TtrpcServer();
  server.registerMethod(SVC, 'Echo', StringValueSchema, StringValueSchema, (req) => ({ value: req.value }));
  await server.listen(tmp.socket());
  const peer = await RawPeer.connect(tmp.socket());
  try {
    const sizes = [MAX_MESSAGE_LENGTH + 1, MAX_MESSAGE_LENGTH + 4096];
    let expected = 0;
    for (const [i, size] of sizes.entries()) {
      const over = randomBytes(10 + size);
      over.writeUInt32BE(size, 0);
      over.writeUInt32BE(101 + 2 * i, 4);
      over[8] = i === 0 ? 1 : 7;
      // Split at an odd place so the discard spans chunks.
      peer.write(over.subarray(0, 12345));
      peer.write(over.subarray(12345));
      peer.write(goodRequest(201 + 2 * i, `after ${i}`));
      expected += 2;
      const frames = await peer.waitFrames(expected);
      const [big, good] = frames.slice(-2);
      assert.equal(big!.streamId, 101 + 2 * i);
      assert.equal(decodeResponse(big!.body).code, Code.ResourceExhausted);
      assert.equal(good!.streamId, 201 + 2 * i);
      assert.equal(decodeResponse(good!.body).code, Code.OK);
    }
    assert.equal(peer.closed, false);
  } finally {
    peer.destroy();
    await server.close();
    tmp.cleanup();
  }
});
