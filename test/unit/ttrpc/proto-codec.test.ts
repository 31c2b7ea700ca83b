// The compiled protobuf codecs against protobuf-es, which they must match exactly: for every
// message type the shim and ttrpc carry, random messages and init shapes must encode to the same
// bytes as toBinary(create()), and random, mutated and truncated bytes must decode to a deeply
// equal message or fail with the same error as fromBinary. Seeded, so a failure reproduces.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { create, createFileRegistry, fromBinary, toBinary, ScalarType, type DescField, type DescMessage } from '@bufbuild/protobuf';
import * as wkt from '@bufbuild/protobuf/wkt';
import * as cgroupsV1 from '../../../src/api/containerd/cgroups/v1/metrics_pb.js';
import * as cgroupsV2 from '../../../src/api/containerd/cgroups/v2/metrics_pb.js';
import * as taskEvents from '../../../src/api/containerd/events/task_pb.js';
import * as runcOptions from '../../../src/api/containerd/runc/v1/options_pb.js';
import * as runtimeOptions from '../../../src/api/containerd/runtimeoptions/v1/api_pb.js';
import * as eventsService from '../../../src/api/containerd/services/ttrpc/events/v1/events_pb.js';
import * as shim from '../../../src/api/containerd/task/v2/shim_pb.js';
import * as mount from '../../../src/api/containerd/types/mount_pb.js';
import * as taskTypes from '../../../src/api/containerd/types/task/task_pb.js';
import { decodeMessage, encodeMessage, handOvers, isCompiled } from '../../../src/ttrpc/index.js';
import { rng } from './helpers.js';

function isDescMessage(v: unknown): v is DescMessage {
  return typeof v === 'object' && v !== null && (v as { kind?: unknown }).kind === 'message';
}

/**
 * A proto3 type with every scalar type singular, optional (explicit presence), repeated packed and
 * repeated unpacked, plus an enum and nested messages: the project's own types do not use them all.
 */
function allTypesSchema(): DescMessage {
  const { FieldDescriptorProto_Type: T, FieldDescriptorProto_Label: L } = wkt;
  const scalars: [string, number][] = [
    ['double', T.DOUBLE], ['float', T.FLOAT], ['int64', T.INT64], ['uint64', T.UINT64], ['int32', T.INT32],
    ['fixed64', T.FIXED64], ['fixed32', T.FIXED32], ['bool', T.BOOL], ['string', T.STRING], ['bytes', T.BYTES],
    ['uint32', T.UINT32], ['sfixed32', T.SFIXED32], ['sfixed64', T.SFIXED64], ['sint32', T.SINT32], ['sint64', T.SINT64],
  ];
  const field: { name: string; number: number; type: number; label: number; typeName?: string; proto3Optional?: boolean; oneofIndex?: number; options?: { packed: boolean } }[] = [];
  const oneofDecl: { name: string }[] = [];
  let n = 1;
  for (const [name, type] of scalars) {
    field.push({ name: `s_${name}`, number: n++, type, label: L.OPTIONAL });
    oneofDecl.push({ name: `_o_${name}` });
    field.push({ name: `o_${name}`, number: n++, type, label: L.OPTIONAL, proto3Optional: true, oneofIndex: oneofDecl.length - 1 });
    field.push({ name: `r_${name}`, number: n++, type, label: L.REPEATED });
    if (type !== T.STRING && type !== T.BYTES) field.push({ name: `u_${name}`, number: n++, type, label: L.REPEATED, options: { packed: false } });
  }
  field.push({ name: 'color', number: 200, type: T.ENUM, label: L.OPTIONAL, typeName: '.test.Color' });
  field.push({ name: 'colors', number: 201, type: T.ENUM, label: L.REPEATED, typeName: '.test.Color' });
  field.push({ name: 'child', number: 300, type: T.MESSAGE, label: L.OPTIONAL, typeName: '.test.AllTypes' });
  field.push({ name: 'children', number: 2047, type: T.MESSAGE, label: L.REPEATED, typeName: '.test.AllTypes' });
  field.push({ name: 'stamp', number: 70000, type: T.MESSAGE, label: L.OPTIONAL, typeName: '.google.protobuf.Timestamp' });
  const file = create(wkt.FileDescriptorProtoSchema, {
    name: 'test/all_types.proto',
    package: 'test',
    syntax: 'proto3',
    dependency: ['google/protobuf/timestamp.proto'],
    enumType: [{ name: 'Color', value: [{ name: 'COLOR_UNSPECIFIED', number: 0 }, { name: 'COLOR_RED', number: 1 }, { name: 'COLOR_BLUE', number: 5 }] }],
    messageType: [{ name: 'AllTypes', field, oneofDecl }],
  });
  const registry = createFileRegistry(file, (dep) => (dep === 'google/protobuf/timestamp.proto' ? wkt.file_google_protobuf_timestamp : undefined));
  return registry.getMessage('test.AllTypes')!;
}

const allTypes = allTypesSchema();

const schemas: DescMessage[] = [cgroupsV1, cgroupsV2, taskEvents, runcOptions, runtimeOptions, eventsService, shim, mount, taskTypes, wkt]
  .flatMap((m) => Object.values(m))
  .filter(isDescMessage)
  .concat([allTypes, allTypes, allTypes, allTypes]);

type Rand = () => number;
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
const int = (r: Rand, lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));

const STRINGS = ['', 'a', 'runc', '/run/containerd/io.containerd.runtime.v2.task/default/x', 'é', 'naïve ✓', '😀 emoji', 'x'.repeat(64), 'y'.repeat(65), 'z'.repeat(300), 'ü'.repeat(70), '\u0000nul'];

function randomString(r: Rand): string {
  if (r() < 0.7) return pick(r, STRINGS);
  let s = '';
  const n = int(r, 0, 80);
  for (let i = 0; i < n; i++) s += String.fromCharCode(r() < 0.8 ? int(r, 0x20, 0x7e) : int(r, 0x80, 0xd7ff));
  return s;
}

function randomScalar(r: Rand, type: ScalarType): unknown {
  switch (type) {
    case ScalarType.STRING:
      return randomString(r);
    case ScalarType.BYTES:
      return Uint8Array.from({ length: pick(r, [0, 1, 5, 127, 128, 300]) }, () => int(r, 0, 255));
    case ScalarType.BOOL:
      return r() < 0.5;
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return pick(r, [0, 1, -1, 127, 128, 300, -300, 2 ** 31 - 1, -(2 ** 31), int(r, -(2 ** 31), 2 ** 31 - 1)]);
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return pick(r, [0, 1, 127, 128, 16383, 16384, 2 ** 28, 2 ** 32 - 1, int(r, 0, 2 ** 32 - 1)]);
    case ScalarType.FLOAT:
      return pick(r, [0, -0, 1.5, -2.25, NaN, Infinity, -Infinity, 3.4e38, 1e-40, Math.fround(r() * 1e6)]);
    case ScalarType.DOUBLE:
      return pick(r, [0, -0, 1.5, -2.25, NaN, Infinity, -Infinity, Number.MAX_VALUE, 5e-324, r() * 1e12]);
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return pick(r, [0n, 1n, -1n, 127n, 128n, 2n ** 31n, 2n ** 32n, 2n ** 35n - 1n, 2n ** 35n, 2n ** 63n - 1n, -(2n ** 63n), BigInt(int(r, -1e9, 1e9)) * 1000003n]);
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return pick(r, [0n, 1n, 127n, 128n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 49n, 2n ** 56n, 2n ** 63n, 2n ** 64n - 1n, BigInt(int(r, 0, 1e9)) * 1000003n]);
  }
}

function randomEnum(r: Rand, field: DescField & { enum: { values: readonly { number: number }[] } }): number {
  return r() < 0.8 ? pick(r, field.enum.values).number : int(r, -5, 1000);
}

/** A random init shape (no $typeName) of `desc`, `depth` levels of nested messages at most. */
function randomInit(r: Rand, desc: DescMessage, depth: number): Record<string, unknown> {
  const init: Record<string, unknown> = {};
  for (const field of desc.fields) {
    if (field.oneof !== undefined || r() < 0.3) continue;
    const name = field.localName;
    switch (field.fieldKind) {
      case 'scalar':
        init[name] = randomScalar(r, field.scalar);
        break;
      case 'enum':
        init[name] = randomEnum(r, field);
        break;
      case 'message':
        if (depth > 0 && !wkt.isWrapperDesc(field.message) && field.message.typeName !== 'google.protobuf.Struct') init[name] = randomInit(r, field.message, depth - 1);
        break;
      case 'list': {
        const n = pick(r, [0, 1, 2, 4]);
        const items: unknown[] = [];
        for (let i = 0; i < n; i++) {
          if (field.listKind === 'scalar') items.push(randomScalar(r, field.scalar));
          else if (field.listKind === 'enum') items.push(randomEnum(r, field));
          else if (depth > 0 && field.message.typeName !== 'google.protobuf.Struct') items.push(randomInit(r, field.message, depth - 1));
        }
        init[name] = items;
        break;
      }
      case 'map':
        if (field.mapKey === ScalarType.STRING && field.mapKind === 'scalar' && field.scalar === ScalarType.STRING) init[name] = { k: randomString(r), [randomString(r)]: 'v' };
        break;
    }
  }
  return init;
}

/** The outcome of a call: its value, or the error's constructor name and message. */
function outcome<T>(f: () => T): { ok: true; value: T } | { ok: false; error: string } {
  try {
    return { ok: true, value: f() };
  } catch (err) {
    return { ok: false, error: `${(err as Error).constructor.name}: ${(err as Error).message}` };
  }
}

function assertSameDecode(schema: DescMessage, bytes: Uint8Array, what: string): void {
  const ours = outcome(() => decodeMessage(schema, bytes));
  const theirs = outcome(() => fromBinary(schema, bytes));
  assert.deepStrictEqual(ours, theirs, `${schema.typeName} ${what}: ${Buffer.from(bytes).toString('hex')}`);
}

test('the task API, its events and the runtime options take the compiled path', () => {
  for (const s of [shim.StateResponseSchema, shim.CreateTaskRequestSchema, shim.WaitResponseSchema, shim.ExecProcessRequestSchema, taskEvents.TaskExitSchema, eventsService.ForwardRequestSchema, wkt.StringValueSchema, wkt.EmptySchema, wkt.AnySchema, wkt.TimestampSchema, cgroupsV1.MetricsSchema]) {
    assert.equal(isCompiled(s), true, s.typeName);
  }
  // A map field, a oneof and proto2 stay with protobuf-es.
  assert.equal(isCompiled(allTypes), true, 'every scalar type, optional, packed and unpacked lists, enums, recursion');
  assert.equal(isCompiled(shim.UpdateTaskRequestSchema), false);
  assert.equal(isCompiled(wkt.ValueSchema), false);
  assert.equal(isCompiled(wkt.FileDescriptorProtoSchema), false);
  assert.ok(schemas.length > 60, `found ${schemas.length} message types`);
});

test('random messages and init shapes encode to protobuf-es bytes and decode to its messages', () => {
  const r = rng(0x5eed);
  let compiledCount = 0;
  for (const schema of schemas) {
    const compiled = isCompiled(schema);
    if (compiled) compiledCount++;
    for (let i = 0; i < 40; i++) {
      const init = randomInit(r, schema, 3);
      const expected = outcome(() => Buffer.from(toBinary(schema, create(schema, init as never))).toString('hex'));
      const before = { ...handOvers };
      // As an init shape (handlers answer with these) and as a message (clients send these).
      assert.deepStrictEqual(outcome(() => Buffer.from(encodeMessage(schema, init as never)).toString('hex')), expected, `${schema.typeName} init ${i}`);
      const message = create(schema, init as never);
      assert.deepStrictEqual(outcome(() => Buffer.from(encodeMessage(schema, message)).toString('hex')), expected, `${schema.typeName} message ${i}`);
      if (!expected.ok) continue;
      const bytes = Buffer.from(expected.value, 'hex');
      assertSameDecode(schema, bytes, `valid ${i}`);
      // Through a Uint8Array that is not a Buffer, at an offset into a larger buffer.
      const padded = new Uint8Array(bytes.length + 7);
      padded.set(bytes, 3);
      assertSameDecode(schema, padded.subarray(3, 3 + bytes.length), `offset ${i}`);
      // Valid input of a compiled type never needs protobuf-es: the generated code did it all.
      if (compiled) assert.deepStrictEqual(handOvers, before, `${schema.typeName} ${i} was handed over`);
    }
  }
  assert.ok(compiledCount > 50, `${compiledCount} compiled`);
});

test('mutated, truncated and extended bytes decode exactly as protobuf-es decodes them (or fail alike)', () => {
  const r = rng(0xbadf00d);
  for (const schema of schemas) {
    for (let i = 0; i < 25; i++) {
      const valid = outcome(() => toBinary(schema, create(schema, randomInit(r, schema, 2) as never)));
      if (!valid.ok) continue;
      const bytes = Buffer.from(valid.value);
      const cases: [string, Uint8Array][] = [];
      if (bytes.length > 0) {
        cases.push(['truncated', bytes.subarray(0, int(r, 0, bytes.length - 1))]);
        const flipped = Buffer.from(bytes);
        for (let k = 0; k < 3; k++) flipped[int(r, 0, flipped.length - 1)] = int(r, 0, 255);
        cases.push(['flipped', flipped]);
      }
      // Unknown fields (kept by protobuf-es in $unknown), a repeat of the first field, junk.
      cases.push(['unknown varint', Buffer.concat([bytes, Buffer.from([0xf8, 0x07, 0x2a])])]);
      cases.push(['unknown bytes', Buffer.concat([Buffer.from([0xfa, 0x3e, 0x02, 0x68, 0x69]), bytes])]);
      cases.push(['twice', Buffer.concat([bytes, bytes])]);
      cases.push(['junk', Uint8Array.from({ length: int(r, 1, 12) }, () => int(r, 0, 255))]);
      for (const [what, input] of cases) assertSameDecode(schema, input, `${what} ${i}`);
    }
  }
});

test('wire details protobuf-es accepts: packed and unpacked lists, merged messages, non-minimal varints, negative int32', () => {
  // cgroups v1 CPUUsage.per_cpu is repeated uint64: packed (field 4, wire type 2) and one by one (wire type 0).
  const usage = cgroupsV1.CPUUsageSchema;
  const perCpu = usage.fields.find((f) => f.localName === 'perCpu')!;
  const packedTag = (perCpu.number << 3) | 2;
  const plainTag = perCpu.number << 3;
  assertSameDecode(usage, Buffer.from([packedTag, 3, 1, 0x80, 1, plainTag, 5]), 'packed then plain');
  assert.deepStrictEqual(decodeMessage(usage, Buffer.from([packedTag, 3, 1, 0x80, 1, plainTag, 5])).perCpu, [1n, 128n, 5n]);
  // StateResponse.exited_at (Timestamp, field 10) twice: the second merges into the first.
  const state = shim.StateResponseSchema;
  const twice = Buffer.concat([toBinary(state, create(state, { exitedAt: { seconds: 5n } })), toBinary(state, create(state, { exitedAt: { nanos: 7 } }))]);
  assert.deepStrictEqual(decodeMessage(state, twice).exitedAt, create(wkt.TimestampSchema, { seconds: 5n, nanos: 7 }));
  assertSameDecode(state, twice, 'merged');
  // pid = 1 written with a two-byte varint; exit status as a ten-byte varint.
  assertSameDecode(state, Buffer.from([0x18, 0x81, 0x00]), 'non-minimal');
  assertSameDecode(state, Buffer.from([0x18, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), 'ten-byte uint32');
  const exit = taskEvents.TaskExitSchema;
  assert.equal(Buffer.from(encodeMessage(exit, { exitStatus: 4294967295 })).toString('hex'), Buffer.from(toBinary(exit, create(exit, { exitStatus: 4294967295 }))).toString('hex'));
  // Strings with lone surrogates encode as protobuf-es encodes them (U+FFFD), and invalid UTF-8 fails alike.
  assert.deepStrictEqual(Buffer.from(encodeMessage(wkt.StringValueSchema, { value: 'a\ud800b' })), Buffer.from(toBinary(wkt.StringValueSchema, create(wkt.StringValueSchema, { value: 'a\ud800b' }))));
  assertSameDecode(wkt.StringValueSchema, Buffer.from([0x0a, 0x02, 0xc3, 0x28]), 'invalid utf-8');
});

test('values of the wrong type get protobuf-es answer (its conversion or its error)', () => {
  const exit = taskEvents.TaskExitSchema;
  for (const init of [
    { pid: '12' },
    { pid: 1.5 },
    { pid: -1 },
    { exitStatus: 2 ** 32 },
    { containerId: 7 },
    { exitedAt: { seconds: 5 } },
    { exitedAt: { seconds: '5' } },
    { exitedAt: null },
    { exitedAt: 'now' },
    { $typeName: 'other.Type', pid: 3 },
    { $unknown: [{ no: 99, wireType: 0, data: new Uint8Array([1]) }], pid: 3 },
  ]) {
    const expected = outcome(() => Buffer.from(toBinary(exit, create(exit, init as never))).toString('hex'));
    assert.deepStrictEqual(outcome(() => Buffer.from(encodeMessage(exit, init as never)).toString('hex')), expected, JSON.stringify(init, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)));
  }
  // A message (not an init shape) with an implicit field deleted is refused alike.
  const broken = create(exit, { pid: 3 }) as unknown as Record<string, unknown>;
  delete broken['containerId'];
  assert.deepStrictEqual(outcome(() => encodeMessage(exit, broken as never)), outcome(() => toBinary(exit, broken as never)));
});

test('with code generation from strings disallowed, everything goes to protobuf-es and still works', () => {
  const codec = new URL('../../../src/ttrpc/proto-codec.js', import.meta.url).href;
  const schemaModule = new URL('../../../src/api/containerd/task/v2/shim_pb.js', import.meta.url).href;
  const script = `
    const { encodeMessage, decodeMessage, handOvers } = await import(${JSON.stringify(codec)});
    const { StateResponseSchema } = await import(${JSON.stringify(schemaModule)});
    const { create, toBinary } = await import('@bufbuild/protobuf');
    const init = { id: 'c1', pid: 42, exitedAt: { seconds: 5n, nanos: 6 } };
    const bytes = encodeMessage(StateResponseSchema, init);
    const same = Buffer.from(bytes).equals(Buffer.from(toBinary(StateResponseSchema, create(StateResponseSchema, init))));
    const back = decodeMessage(StateResponseSchema, bytes);
    console.log(JSON.stringify({ same, pid: back.pid, nanos: back.exitedAt.nanos, isBuffer: Buffer.isBuffer(bytes), handOvers }));`;
  const res = spawnSync(process.execPath, ['--disallow-code-generation-from-strings', '--input-type=module', '-e', script], {
    encoding: 'utf8',
    cwd: fileURLToPath(new URL('../../../', import.meta.url)),
  });
  assert.equal(res.status, 0, res.stderr);
  // protobuf-es returns a plain Uint8Array (the generated code a Buffer); nothing was handed over mid-call.
  assert.deepStrictEqual(JSON.parse(res.stdout), { same: true, pid: 42, nanos: 6, isBuffer: false, handOvers: { encode: 0, decode: 0 } });
});
