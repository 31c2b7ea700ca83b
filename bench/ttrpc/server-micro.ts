// Per-call JavaScript cost of our ttrpc server without sockets: Ping frames are fed to a
// ServerConnection over a stand-in socket and the replies counted. What it measures is the
// part of a unary call that is ours (frame parsing, envelope, protobuf, dispatch, encoding);
// the socket syscalls and wake-ups are what bench/ttrpc/run.ts adds on top.
//
//   node dist/bench/ttrpc/server-micro.js [--calls 200000] [--rounds 5]
import { EventEmitter } from 'node:events';
import { create, toBinary } from '@bufbuild/protobuf';
import { StringValueSchema } from '@bufbuild/protobuf/wkt';
import { encodeRequestFrame } from '../../src/ttrpc/messages.js';
import { ServerConnection } from '../../src/ttrpc/server-connection.js';
import { MethodTable } from '../../src/ttrpc/service.js';
import { PROBE_SERVICE } from '../../test/integration/ttrpc/ts-probe.js';
import { flag } from '../tool-support.js';


/** Enough of a net.Socket for ServerConnection: replies are counted, not sent. */
class CountingSocket extends EventEmitter {
  replies = 0;
  setNoDelay(): void {}
  cork(): void {}
  uncork(): void {}
  write(_frame: Buffer): boolean {
    this.replies++;
    return true;
  }
  destroy(): void {}
  end(): void {}
}

const methods = new MethodTable();
methods.add(PROBE_SERVICE, 'Ping', { input: StringValueSchema, output: StringValueSchema, handler: (req: never) => req });
const socket = new CountingSocket();
new ServerConnection(socket as never, { methods, reportError: (e) => { throw e; }, connectionClosed: () => undefined });
const payload = toBinary(StringValueSchema, create(StringValueSchema, { value: 'ping' }));

async function round(calls: number): Promise<number> {
  const start = socket.replies;
  const t0 = process.hrtime.bigint();
  let streamId = 1;
  for (let i = 0; i < calls; i++) {
    socket.emit('data', encodeRequestFrame(streamId, PROBE_SERVICE, 'Ping', { payload, timeoutNano: 0, metadata: undefined }));
    streamId += 2;
    // Let the handler's continuation and the reply run, as the event loop would between reads.
    if ((i & 63) === 63) await new Promise((r) => setImmediate(r));
  }
  await new Promise((r) => setImmediate(r));
  const ns = Number(process.hrtime.bigint() - t0);
  if (socket.replies - start !== calls) throw new Error(`expected ${calls} replies, got ${socket.replies - start}`);
  return ns / calls / 1000;
}

const calls = Number(flag('calls', '200000'));
const rounds = Number(flag('rounds', '5'));
await round(20_000); // warm-up: let the JIT settle
const us: number[] = [];
for (let r = 0; r < rounds; r++) us.push(await round(calls));
us.sort((a, b) => a - b);
console.log(JSON.stringify({ bench: 'ttrpc-server-micro', calls, rounds, medianUsPerCall: Math.round(us[rounds >> 1]! * 100) / 100, minUsPerCall: Math.round(us[0]! * 100) / 100 }));
