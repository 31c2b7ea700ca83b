// The CRI test's own pieces, checked without containerd: gRPC framing and status handling against
// a local HTTP/2 server on a unix socket, the CRI log parser, and the generated CRI messages.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { CriClient } from './cri-client.js';
import { criLogLines, parseCriLog, streamLines } from './cri-log.js';
import { criPluginToml, hasCapSysResource } from './cri-config.js';
import { ExecSyncRequestSchema, ExecSyncResponseSchema, VersionRequestSchema, VersionResponseSchema } from './gen/cri_pb.js';
import { frameMessage, GrpcError, GrpcUnixClient, unframeMessages } from './grpc-unix.js';

describe('gRPC over a unix socket', () => {
  let dir: string;
  let socket: string;
  let server: http2.Http2Server;
  const seen: { path: string; headers: http2.IncomingHttpHeaders; body: Buffer }[] = [];

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'cri-grpc-'));
    socket = path.join(dir, 'grpc.sock');
    server = http2.createServer();
    server.on('stream', (stream, headers) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const body = Buffer.concat(chunks);
        const p = String(headers[':path']);
        seen.push({ path: p, headers, body });
        if (p === '/runtime.v1.RuntimeService/Version') {
          const req = fromBinary(VersionRequestSchema, unframeMessages(body)[0]!);
          const reply = toBinary(VersionResponseSchema, create(VersionResponseSchema, { version: req.version, runtimeName: 'fake', runtimeApiVersion: 'v1' }));
          stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
          stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
          stream.end(frameMessage(reply));
        } else if (p === '/runtime.v1.RuntimeService/ExecSync') {
          const reply = toBinary(ExecSyncResponseSchema, create(ExecSyncResponseSchema, { stdout: Buffer.from('out\n'), exitCode: 3 }));
          // Split the frame over two DATA chunks: the client must reassemble.
          const framed = frameMessage(reply);
          stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
          stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
          stream.write(framed.subarray(0, 3));
          stream.end(framed.subarray(3));
        } else {
          // A "trailers-only" error reply, as grpc-go sends for unknown services.
          stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '12', 'grpc-message': 'unknown service %22x%22' }, { endStream: true });
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(socket, resolve));
  });

  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  });

  test('frames round-trip and truncation is an error', () => {
    const framed = frameMessage(new Uint8Array([1, 2, 3]));
    assert.deepEqual([...framed], [0, 0, 0, 0, 3, 1, 2, 3]);
    assert.deepEqual(unframeMessages(Buffer.concat([framed, frameMessage(new Uint8Array())])).map((m) => [...m]), [[1, 2, 3], []]);
    assert.throws(() => unframeMessages(framed.subarray(0, 6)), /truncated/);
  });

  test('a unary call sends gRPC headers and decodes the reply', async () => {
    const cri = await CriClient.connect(socket);
    try {
      const v = await cri.version();
      assert.equal(v.runtimeName, 'fake');
      assert.equal(v.version, 'v1');
      const e = await cri.execSync('c1', ['true']);
      assert.equal(Buffer.from(e.stdout).toString(), 'out\n');
      assert.equal(e.exitCode, 3);
    } finally {
      cri.close();
    }
    const call = seen.find((s) => s.path === '/runtime.v1.RuntimeService/ExecSync')!;
    assert.equal(call.headers['content-type'], 'application/grpc');
    assert.equal(call.headers['te'], 'trailers');
    const req = fromBinary(ExecSyncRequestSchema, unframeMessages(call.body)[0]!);
    assert.equal(req.containerId, 'c1');
    assert.deepEqual(req.cmd, ['true']);
  });

  test('a trailers-only error becomes a GrpcError with the decoded message', async () => {
    const client = await GrpcUnixClient.connect(socket);
    try {
      await assert.rejects(client.unary('/x/Y', new Uint8Array()), (err: unknown) => {
        assert.ok(err instanceof GrpcError);
        assert.equal(err.code, 12);
        assert.equal(err.details, 'unknown service "x"');
        assert.match(err.message, /UNIMPLEMENTED/);
        return true;
      });
    } finally {
      client.close();
    }
  });

  test('connecting to a missing socket fails with the path in the message', async () => {
    await assert.rejects(GrpcUnixClient.connect(path.join(dir, 'nope.sock')), /nope\.sock/);
  });
});

describe('CRI log format', () => {
  test('parses records and joins partial lines per stream', () => {
    const text = [
      '2024-01-01T00:00:00.000000001Z stdout P hel',
      '2024-01-01T00:00:00.000000002Z stderr F oops',
      '2024-01-01T00:00:00.000000003Z stdout F lo',
      '2024-01-01T00:00:00.000000004Z stdout F ',
      '',
    ].join('\n');
    const records = parseCriLog(text);
    assert.equal(records.length, 4);
    assert.deepEqual(records[0], { time: '2024-01-01T00:00:00.000000001Z', stream: 'stdout', tag: 'P', text: 'hel' });
    const lines = criLogLines(records);
    assert.deepEqual(streamLines(lines, 'stdout'), ['hello', '']);
    assert.deepEqual(streamLines(lines, 'stderr'), ['oops']);
  });

  test('rejects malformed records, naming the line', () => {
    assert.throws(() => parseCriLog('2024-01-01T00:00:00Z stdout F ok\nnot a record\n'), /line 2/);
    assert.throws(() => parseCriLog('yesterday stdout F x\n'), /bad timestamp/);
  });
});

describe('CRI containerd config', () => {
  test('declares both handlers, the sandbox image and the ts options', () => {
    const toml = criPluginToml({ sandboxImage: 'p:1', cniDir: '/c', runcRoot: '/r', tsConfigPath: '/t.toml', restrictOomScoreAdj: true });
    assert.match(toml, /sandbox_image = "p:1"/);
    assert.match(toml, /runtimes\.runc\]\n {6}runtime_type = "io\.containerd\.runc\.v2"/);
    assert.match(toml, /runtimes\.ts\]\n {6}runtime_type = "io\.containerd\.ts\.v2"/);
    assert.match(toml, /ConfigPath = "\/t\.toml"/);
    assert.match(toml, /restrict_oom_score_adj = true/);
  });

  test('reads CAP_SYS_RESOURCE from a status file', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'cri-cap-'));
    try {
      const file = path.join(dir, 'status');
      const write = (mask: string): void => writeFileSync(file, `Name:\tx\nCapEff:\t${mask}\n`);
      write('000001ffffffffff');
      assert.equal(hasCapSysResource(file), true);
      write('000001fffeffffff');
      assert.equal(hasCapSysResource(file), false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
