// TtrpcServer behaviour: typed registration, concurrency, deadlines, metadata, the bad-input table
// of spec §8, size limits, peer credentials, graceful shutdown and hard close.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { StringValueSchema } from '@bufbuild/protobuf/wkt';
import {
  Code,
  decodeResponse,
  encodeFrame,
  encodeRequestFrame,
  MAX_MESSAGE_LENGTH,
  TtrpcClient,
  TtrpcError,
  TtrpcServer,
  type CallContext,
} from '../../../src/ttrpc/index.js';
import { delay, RawPeer, tempDir } from './helpers.js';
import { Probe, PROBE } from './probe-service.js';

const sv = (value: string): Uint8Array => toBinary(StringValueSchema, create(StringValueSchema, { value }));
const unsv = (b: Uint8Array): string => fromBinary(StringValueSchema, b).value;

async function withServer(
  setup: (server: TtrpcServer) => void,
  body: (ctx: { server: TtrpcServer; path: string; client: TtrpcClient }) => Promise<void>,
  options?: ConstructorParameters<typeof TtrpcServer>[0],
): Promise<void> {
  const tmp = tempDir();
  const server = new TtrpcServer(options);
  setup(server);
  const path = tmp.socket();
  let client: TtrpcClient | undefined;
  try {
    await server.listen(path);
    client = await TtrpcClient.connect(path);
    await body({ server, path, client });
  } finally {
    client?.close();
    await server.close();
    tmp.cleanup();
  }
}

function expectStatus(code: Code, message?: string | RegExp) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof TtrpcError, `not a TtrpcError: ${String(err)}`);
    assert.equal(err.code, code, `code of ${err.message}`);
    if (typeof message === 'string') assert.equal(err.message, message);
    else if (message) assert.match(err.message, message);
    return true;
  };
}

test('typed register(): local names map to wire names, init shapes are accepted, Empty is {}', async () => {
  const seen: string[] = [];
  await withServer(
    (s) =>
      s.register(Probe, {
        echo: (req, ctx) => {
          seen.push(`${ctx.service}/${ctx.method}`);
          return { value: `echo:${req.value}` };
        },
        resizePty: async (req) => {
          seen.push(`resize ${req.value}`);
          return {};
        },
      }),
    async ({ client }) => {
      assert.equal(unsv(await client.callRaw(PROBE, 'Echo', sv('hi'))), 'echo:hi');
      const reply = await client.call(Probe.method.echo, { value: 'typed' });
      assert.equal(reply.value, 'echo:typed');
      assert.equal((await client.callRaw(PROBE, 'ResizePty', sv('80x24'))).length, 0);
      await assert.rejects(client.callRaw(PROBE, 'Missing', new Uint8Array(0)), expectStatus(Code.Unimplemented, 'method Missing'));
      await assert.rejects(client.callRaw(PROBE, 'Stream', new Uint8Array(0)), expectStatus(Code.Unimplemented, 'method Stream'));
      await assert.rejects(client.callRaw('foo.Bar', 'Echo', new Uint8Array(0)), expectStatus(Code.Unimplemented, 'service foo.Bar'));
    },
  );
  assert.deepEqual(seen, [`${PROBE}/Echo`, `${PROBE}/Echo`, 'resize 80x24']);
});

test('a blocking call does not hold up others on the same connection', async () => {
  let release!: () => void;
  const blocked = new Promise<void>((r) => (release = r));
  await withServer(
    (s) => {
      s.registerMethod(PROBE, 'Wait', StringValueSchema, StringValueSchema, async () => {
        await blocked;
        return { value: 'waited' };
      });
      s.registerMethod(PROBE, 'State', StringValueSchema, StringValueSchema, (req) => ({ value: req.value }));
    },
    async ({ client }) => {
      const wait = client.callRaw(PROBE, 'Wait', new Uint8Array(0));
      const states = await Promise.all(Array.from({ length: 50 }, (_, i) => client.callRaw(PROBE, 'State', sv(String(i)))));
      assert.deepEqual(states.map(unsv), Array.from({ length: 50 }, (_, i) => String(i)));
      assert.equal(client.pendingCalls, 1);
      release();
      assert.equal(unsv(await wait), 'waited');
    },
  );
});

test('timeout_nano becomes a deadline and an aborting signal; no timeout means no deadline', async () => {
  const contexts: CallContext[] = [];
  await withServer(
    (s) =>
      s.registerMethod(PROBE, 'Sleep', StringValueSchema, StringValueSchema, async (req, ctx) => {
        contexts.push(ctx);
        const ms = Number(req.value);
        ctx.signal.throwIfAborted();
        await new Promise<void>((resolve, reject) => {
          const t = setTimeout(resolve, ms);
          ctx.signal.addEventListener('abort', () => {
            clearTimeout(t);
            reject(ctx.signal.reason);
          });
        });
        return { value: 'slept' };
      }),
    async ({ server, path, client }) => {
      const t0 = Date.now();
      // A long client deadline: the server's 80 ms... comes from a raw peer with timeout_nano.
      const peer = await RawPeer.connect(path);
      try {
        peer.write(encodeRequestFrame(1, PROBE, 'Sleep', { payload: sv('5000'), timeoutNano: 80e6, metadata: undefined }));
        const [frame] = await peer.waitFrames(1);
        const res = decodeResponse(frame!.body);
        assert.equal(res.code, Code.DeadlineExceeded);
        assert.equal(res.message, 'context deadline exceeded');
        const took = Date.now() - t0;
        assert.ok(took >= 70 && took < 2000, `took ${took} ms`);
        // An already expired deadline (negative timeout) aborts at once.
        peer.write(encodeRequestFrame(3, PROBE, 'Sleep', { payload: sv('5000'), timeoutNano: -1, metadata: undefined }));
        const frames = await peer.waitFrames(2);
        assert.equal(decodeResponse(frames[1]!.body).code, Code.DeadlineExceeded);
      } finally {
        peer.destroy();
      }
      assert.ok(contexts[0]!.deadline !== undefined && Math.abs(contexts[0]!.deadline - (t0 + 80)) < 500);
      assert.equal(unsv(await client.callRaw(PROBE, 'Sleep', sv('1'))), 'slept');
      assert.equal(contexts[2]!.deadline, undefined);
      assert.equal(contexts[2]!.signal.aborted, false);
      // The client's own deadline fails the call locally and sends the remaining time along.
      await assert.rejects(client.callRaw(PROBE, 'Sleep', sv('3000'), { timeoutMs: 50 }), expectStatus(Code.DeadlineExceeded));
      assert.ok(contexts[3]!.deadline !== undefined);
      void server;
    },
  );
});

test('metadata reaches handlers; lookups lowercase the requested key (Go MD semantics)', async () => {
  let md: CallContext['metadata'] | undefined;
  await withServer(
    (s) =>
      s.registerRaw(PROBE, 'Md', (_p, ctx) => {
        md = ctx.metadata;
        return new Uint8Array(0);
      }),
    async ({ client }) => {
      await client.callRaw(PROBE, 'Md', new Uint8Array(0), {
        metadata: [['containerd-namespace-ttrpc', 'k8s.io'], ['multi', 'a'], ['multi', 'b'], ['Upper', 'x']],
      });
      assert.equal(md!.get('containerd-namespace-ttrpc'), 'k8s.io');
      assert.equal(md!.get('CONTAINERD-NAMESPACE-TTRPC'), 'k8s.io');
      assert.deepEqual(md!.getAll('multi'), ['a', 'b']);
      assert.equal(md!.get('Upper'), undefined, 'stored as sent, looked up lowercased');
      assert.deepEqual(md!.toRecord()['Upper'], ['x']);
      await client.callRaw(PROBE, 'Md', new Uint8Array(0), { metadata: { 'rec-key': ['1', '2'], single: 's' } });
      assert.deepEqual(md!.getAll('rec-key'), ['1', '2']);
      assert.equal(md!.get('single'), 's');
      await client.callRaw(PROBE, 'Md', new Uint8Array(0));
      assert.equal(md!.size, 0);
    },
  );
});

test('handler outcomes: TtrpcError verbatim, plain errors Unknown, nil result, errno mapping', async () => {
  await withServer(
    (s) => {
      s.registerMethod(PROBE, 'NotFound', StringValueSchema, StringValueSchema, () => {
        throw new TtrpcError(Code.NotFound, 'container not created: not found');
      });
      s.registerMethod(PROBE, 'Plain', StringValueSchema, StringValueSchema, async () => {
        throw new Error('plain go error');
      });
      s.registerMethod(PROBE, 'Nil', StringValueSchema, StringValueSchema, () => undefined as never);
      s.registerMethod(PROBE, 'Enoent', StringValueSchema, StringValueSchema, () => {
        throw Object.assign(new Error('no such file'), { code: 'ENOENT' });
      });
      s.registerMethod(PROBE, 'Str', StringValueSchema, StringValueSchema, () => {
        throw 'just a string';
      });
    },
    async ({ client }) => {
      const e = new Uint8Array(0);
      await assert.rejects(client.callRaw(PROBE, 'NotFound', e), expectStatus(Code.NotFound, 'container not created: not found'));
      await assert.rejects(client.callRaw(PROBE, 'Plain', e), expectStatus(Code.Unknown, 'plain go error'));
      await assert.rejects(client.callRaw(PROBE, 'Nil', e), expectStatus(Code.Unknown, 'ttrpc: marshal called with nil'));
      await assert.rejects(client.callRaw(PROBE, 'Enoent', e), expectStatus(Code.NotFound, 'no such file'));
      await assert.rejects(client.callRaw(PROBE, 'Str', e), expectStatus(Code.Unknown, 'just a string'));
    },
  );
});

test('bad input (spec §8) is answered like Go and the connection stays open', async () => {
  await withServer(
    (s) => s.registerMethod(PROBE, 'Echo', StringValueSchema, StringValueSchema, (req) => ({ value: req.value })),
    async ({ path }) => {
      const peer = await RawPeer.connect(path);
      try {
        const expect = async (n: number, streamId: number, code: number, message: string): Promise<void> => {
          const frames = await peer.waitFrames(n);
          const f = frames[n - 1]!;
          assert.equal(f.streamId, streamId, message);
          assert.equal(f.type, 2);
          const res = decodeResponse(f.body);
          assert.deepEqual([res.code, res.message], [code, message]);
        };
        const req = (id: number, service: string, method: string, payload: Uint8Array = new Uint8Array(0)): Buffer =>
          encodeRequestFrame(id, service, method, { payload, timeoutNano: 0, metadata: undefined });
        let n = 0;
        peer.write(req(1, 'foo.Bar', 'Echo'));
        await expect(++n, 1, 12, 'service foo.Bar');
        peer.write(req(3, PROBE, 'Pids'));
        await expect(++n, 3, 12, 'method Pids');
        peer.write(encodeFrame(5, 1, Buffer.from('0a05616263', 'hex')));
        await expect(++n, 5, 3, 'unmarshal request error: unexpected EOF');
        peer.write(req(7, PROBE, 'Echo', Buffer.from('0a05', 'hex')));
        const frames = await peer.waitFrames(++n);
        const bad = decodeResponse(frames[n - 1]!.body);
        assert.equal(bad.code, Code.Internal);
        assert.match(bad.message, /^ttrpc: error unmarshalling payload: /);
        peer.write(req(8, PROBE, 'Echo', sv('even')));
        await expect(++n, 8, 3, 'StreamID must be odd for client initiated streams');
        // Oversize: body read and dropped, code 8 on the same id.
        const over = Buffer.alloc(10 + MAX_MESSAGE_LENGTH + 1);
        over.writeUInt32BE(MAX_MESSAGE_LENGTH + 1, 0);
        over.writeUInt32BE(9, 4);
        over[8] = 1;
        peer.write(over);
        await expect(++n, 9, 8, `message length ${MAX_MESSAGE_LENGTH + 1} exceed maximum message size of ${MAX_MESSAGE_LENGTH}`);
        // Type != 1 (Response, Data, junk) are ignored silently.
        peer.write(encodeFrame(11, 2, Buffer.from('x')));
        peer.write(encodeFrame(13, 3, req(13, PROBE, 'Echo', sv('data')).subarray(10)));
        peer.write(encodeFrame(15, 0xff, Buffer.alloc(0)));
        // Flags on a Request are ignored; duplicate ids are served (ttrpc 1.1.1).
        const flagged = req(17, PROBE, 'Echo', sv('flagged'));
        flagged[9] = 0x02;
        peer.write(flagged);
        peer.write(req(17, PROBE, 'Echo', sv('again')));
        peer.write(req(1, PROBE, 'Echo', sv('lower')));
        const got = await peer.waitFrames(n + 3);
        assert.equal(got.length, n + 3, 'no answers for ignored frame types');
        assert.deepEqual(
          got.slice(n).map((f) => [f.streamId, unsv(decodeResponse(f.body).payload)]),
          [[17, 'flagged'], [17, 'again'], [1, 'lower']],
        );
        // Exactly 4 MiB is a legal size (here an invalid Request body of that size).
        const max = Buffer.alloc(10 + MAX_MESSAGE_LENGTH, 0x0a);
        max.writeUInt32BE(MAX_MESSAGE_LENGTH, 0);
        max.writeUInt32BE(19, 4);
        max[8] = 1;
        max[9] = 0;
        peer.write(max);
        const last = (await peer.waitFrames(n + 4))[n + 3]!;
        assert.equal(last.streamId, 19);
        assert.equal(decodeResponse(last.body).code, Code.InvalidArgument);
        assert.equal(peer.closed, false);
      } finally {
        peer.destroy();
      }
    },
  );
});

test('a response over 4 MiB becomes ResourceExhausted; exactly at the limit is sent', async () => {
  await withServer(
    (s) => s.registerRaw(PROBE, 'Big', (p) => new Uint8Array(Number(Buffer.from(p).toString()))),
    async ({ client }) => {
      // Body = tag + 4-byte length varint + payload; the largest legal payload is 4 MiB - 5.
      const ok = await client.callRaw(PROBE, 'Big', Buffer.from(String(MAX_MESSAGE_LENGTH - 5)));
      assert.equal(ok.length, MAX_MESSAGE_LENGTH - 5);
      await assert.rejects(
        client.callRaw(PROBE, 'Big', Buffer.from(String(MAX_MESSAGE_LENGTH - 4))),
        expectStatus(Code.ResourceExhausted, /exceed maximum message size of 4194304/),
      );
      assert.equal(client.closed, false);
    },
  );
});

test('peer credentials: same uid/gid served, a mismatch or a failing check is disconnected silently', async () => {
  const fds: number[] = [];
  for (const [label, creds, served] of [
    ['same', () => ({ uid: process.geteuid!(), gid: process.getegid!(), pid: process.pid }), true],
    ['other uid', () => ({ uid: process.geteuid!() + 1, gid: process.getegid!() }), false],
    ['other gid', () => ({ uid: process.geteuid!(), gid: process.getegid!() + 1 }), false],
    ['throws', () => { throw new Error('ENOSYS'); }, false],
  ] as const) {
    const errors: Error[] = [];
    const tmp = tempDir();
    const server = new TtrpcServer({
      peerCredentials: (fd) => {
        fds.push(fd);
        return creds();
      },
      onError: (e) => errors.push(e),
    });
    server.registerRaw(PROBE, 'Ping', () => Buffer.from('pong'));
    try {
      await server.listen(tmp.socket());
      const peer = await RawPeer.connect(tmp.socket());
      peer.write(encodeRequestFrame(1, PROBE, 'Ping', { payload: new Uint8Array(0), timeoutNano: 0, metadata: undefined }));
      if (served) {
        const [f] = await peer.waitFrames(1);
        assert.equal(decodeResponse(f!.body).payload.toString(), 'pong', label);
        assert.equal(errors.length, 0);
      } else {
        await peer.whenClosed();
        assert.equal(peer.frames.length, 0, label);
        assert.match(errors[0]!.message, /refusing peer/, label);
      }
      peer.destroy();
    } finally {
      await server.close();
      tmp.cleanup();
    }
  }
  assert.ok(fds.every((fd) => Number.isInteger(fd) && fd > 2), `fds ${fds}`);
});

test('shutdown(): finishes in-flight calls, then closes; refuses new connections; idempotent', async () => {
  const tmp = tempDir();
  const server = new TtrpcServer();
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  server.registerRaw(PROBE, 'Slow', async () => {
    await gate;
    return Buffer.from('done');
  });
  try {
    await server.listen(tmp.socket());
    const busy = await TtrpcClient.connect(tmp.socket());
    const idle = await TtrpcClient.connect(tmp.socket());
    const call = busy.callRaw(PROBE, 'Slow', new Uint8Array(0));
    await delay(30);
    assert.equal(server.activeConnections, 2);
    const first = server.shutdown();
    const second = server.shutdown();
    await idle.whenClosed();
    assert.equal(busy.closed, false);
    await assert.rejects(TtrpcClient.connect(tmp.socket(), { timeoutMs: 1000 }));
    release();
    assert.equal((await call).toString(), 'done');
    await busy.whenClosed();
    await Promise.all([first, second]);
    assert.equal(server.activeConnections, 0);
    await server.close();
    await server.shutdown();
  } finally {
    await server.close();
    tmp.cleanup();
  }
});

test('close(): drops connections at once, pending calls fail "ttrpc: closed", handlers see Canceled; idempotent', async () => {
  const tmp = tempDir();
  const server = new TtrpcServer();
  let reason: unknown;
  server.registerRaw(PROBE, 'Hang', (_p, ctx) => new Promise((_, reject) => ctx.signal.addEventListener('abort', () => {
    reason = ctx.signal.reason;
    reject(ctx.signal.reason);
  })));
  try {
    await server.listen(tmp.socket());
    const client = await TtrpcClient.connect(tmp.socket());
    const calls = [client.callRaw(PROBE, 'Hang', new Uint8Array(0)), client.callRaw(PROBE, 'Hang', new Uint8Array(0))];
    await delay(30);
    await Promise.all([server.close(), server.close()]);
    for (const c of calls) await assert.rejects(c, expectStatus(Code.Unavailable, 'ttrpc: closed'));
    assert.ok(reason instanceof TtrpcError && reason.code === Code.Canceled);
    assert.equal(client.closed, true);
    await assert.rejects(client.callRaw(PROBE, 'Hang', new Uint8Array(0)), expectStatus(Code.Unavailable, 'ttrpc: closed'));
    await assert.rejects(server.listen(tmp.socket('again.sock')), /server closed/);
  } finally {
    await server.close();
    tmp.cleanup();
  }
});

test('listenFd() serves a listening socket inherited as fd 3 (how containerd starts a shim)', async () => {
  const net = await import('node:net');
  const { spawn } = await import('node:child_process');
  const tmp = tempDir();
  const outer = net.createServer();
  await new Promise<void>((r) => outer.listen(tmp.socket(), r));
  const fd = (outer as unknown as { _handle: { fd: number } })._handle.fd;
  const index = new URL('../../../src/ttrpc/index.js', import.meta.url).href;
  const script = `import { TtrpcServer } from ${JSON.stringify(index)};
    const s = new TtrpcServer(); s.registerRaw('p.P', 'Ping', () => Buffer.from('pong:' + process.pid));
    await s.listenFd(3); console.log('ready');`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit', fd] });
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout!.once('data', () => resolve());
      child.once('exit', (code) => reject(new Error(`child exited ${code}`)));
    });
    // Closing our copy unlinks the path; a hard link keeps the bound socket reachable.
    const { linkSync } = await import('node:fs');
    linkSync(tmp.socket(), tmp.socket('link.sock'));
    await new Promise<void>((r) => outer.close(() => r()));
    const client = await TtrpcClient.connect(tmp.socket('link.sock'));
    assert.equal((await client.callRaw('p.P', 'Ping', new Uint8Array(0))).toString(), `pong:${child.pid}`);
    client.close();
  } finally {
    child.kill('SIGKILL');
    if (outer.listening) outer.close();
    tmp.cleanup();
  }
});
