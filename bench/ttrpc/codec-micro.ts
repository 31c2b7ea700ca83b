// Protobuf codec cost per message, protobuf-es (fromBinary / toBinary(create())) against the
// generated codecs of src/ttrpc/proto-codec.ts, for what a ttrpc call carries: the benchmark's
// Ping (a StringValue decoded and encoded) and a task API StateResponse (encoded, decoded).
// "hot" is the median of 100 calls in a row; "cold" one call after 16 MiB of other memory was
// touched, as after an idle spell on a busy host, which is what a shim answering one call at a
// time mostly sees.
//
//   node dist/bench/ttrpc/codec-micro.js [--rounds 400]
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { StringValueSchema } from '@bufbuild/protobuf/wkt';
import { StateResponseSchema } from '../../src/api/containerd/task/v2/shim_pb.js';
import { decodeMessage, encodeMessage } from '../../src/ttrpc/proto-codec.js';
import { flag } from '../tool-support.js';

const rounds = Number(flag('rounds', '400'));
const thrash = new Uint8Array(16 << 20);
function evictCaches(): void {
  for (let i = 0; i < thrash.length; i += 64) thrash[i] = (thrash[i]! + 1) & 0xff;
}

const ping = Buffer.from(toBinary(StringValueSchema, create(StringValueSchema, { value: 'ping-0123456789' })));
const stateInit = {
  id: 'c1',
  bundle: '/run/containerd/io.containerd.runtime.v2.task/default/c1',
  pid: 1234,
  status: 2,
  stdout: '/run/containerd/fifo/1/c1-stdout',
  stderr: '/run/containerd/fifo/1/c1-stderr',
  exitedAt: { seconds: 1700000000n, nanos: 123 },
  execId: 'e1',
};
const state = Buffer.from(toBinary(StateResponseSchema, create(StateResponseSchema, stateInit)));

const cases: Record<string, Record<'protobufEs' | 'generated', () => unknown>> = {
  pingDecodeEncode: {
    protobufEs: () => toBinary(StringValueSchema, create(StringValueSchema, fromBinary(StringValueSchema, ping))),
    generated: () => encodeMessage(StringValueSchema, decodeMessage(StringValueSchema, ping)),
  },
  stateEncode: {
    protobufEs: () => toBinary(StateResponseSchema, create(StateResponseSchema, stateInit)),
    generated: () => encodeMessage(StateResponseSchema, stateInit),
  },
  stateDecode: {
    protobufEs: () => fromBinary(StateResponseSchema, state),
    generated: () => decodeMessage(StateResponseSchema, state),
  },
};

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const us = (t0: bigint, n = 1): number => Number(process.hrtime.bigint() - t0) / 1000 / n;

const samples = new Map<string, { hot: number[]; cold: number[] }>();
for (const [name, sides] of Object.entries(cases)) for (const side of Object.keys(sides)) samples.set(`${name}.${side}`, { hot: [], cold: [] });
// Warm up the JIT on both sides first; then alternate, so drift hits both alike.
for (let i = 0; i < 3000; i++) for (const sides of Object.values(cases)) for (const f of Object.values(sides)) f();
for (let r = 0; r < rounds; r++) {
  for (const [name, sides] of Object.entries(cases)) {
    for (const [side, f] of Object.entries(sides)) {
      const s = samples.get(`${name}.${side}`)!;
      evictCaches();
      let t0 = process.hrtime.bigint();
      f();
      s.cold.push(us(t0));
      t0 = process.hrtime.bigint();
      for (let j = 0; j < 100; j++) f();
      s.hot.push(us(t0, 100));
    }
  }
}

const report: Record<string, Record<string, { hotUs: number; coldUs: number }>> = {};
console.log(`protobuf codec cost, ${rounds} rounds (node ${process.version}); medians in µs`);
console.log('case             | side       | hot    | cold');
for (const [key, s] of samples) {
  const [name, side] = key.split('.') as [string, string];
  const row = { hotUs: Math.round(median(s.hot) * 1000) / 1000, coldUs: Math.round(median(s.cold) * 100) / 100 };
  (report[name] ??= {})[side] = row;
  console.log(`${name.padEnd(16)} | ${side.padEnd(10)} | ${String(row.hotUs).padStart(6)} | ${String(row.coldUs).padStart(6)}`);
}
console.log(JSON.stringify({ bench: 'containerd-shim-ts-codec-micro', rounds, results: report }));
