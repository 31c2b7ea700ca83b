// Round trips between our generated code and containerd's definitions: a sample of every
// message, with every field set, encoded by one side must decode to the same values on the
// other, with nothing left over as unknown fields, and re-encode to the same bytes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  create,
  fromBinary,
  ScalarType,
  toBinary,
  type DescField,
  type DescMessage,
  type Message,
} from '@bufbuild/protobuf';
import { apiFiles } from '../../../src/api/typeurl.js';
import { compileDescriptorSets } from './descriptor-sets.js';

const sets = compileDescriptorSets();
const skip = sets.ok ? false : sets.skip;

/** A non-default value of a scalar type, varied by `seed` so that list elements differ. */
function scalarSample(type: ScalarType, seed: number): unknown {
  switch (type) {
    case ScalarType.STRING:
      return `s${seed}-é`;
    case ScalarType.BOOL:
      return true;
    case ScalarType.BYTES:
      return new Uint8Array([seed & 0xff, 0, 0xff]);
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return seed + 0.5;
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return -(2n ** 40n) - BigInt(seed);
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      // Near 2^64-1, as cgroup v2 reports for "max".
      return 2n ** 64n - 1n - BigInt(seed);
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return -1000 - seed;
    default:
      // uint32, fixed32: above 2^31 to catch a signed/unsigned mix-up.
      return 2 ** 31 + seed;
  }
}

/** Field values that set every field of `desc`, recursively (these files have no cycles). */
function sampleInit(desc: DescMessage, depth = 0): Record<string, unknown> {
  assert.ok(depth < 8, `unexpected recursion in ${desc.typeName}`);
  const init: Record<string, unknown> = {};
  for (const f of desc.fields) init[f.localName] = fieldSample(f, depth);
  return init;
}

function fieldSample(f: DescField, depth: number): unknown {
  const seed = f.number;
  switch (f.fieldKind) {
    case 'scalar':
      return scalarSample(f.scalar, seed);
    case 'enum':
      return f.enum.values[f.enum.values.length - 1]!.number;
    case 'message':
      return sampleInit(f.message, depth + 1);
    case 'list':
      if (f.listKind === 'scalar') return [scalarSample(f.scalar, seed), scalarSample(f.scalar, seed + 1)];
      if (f.listKind === 'enum') return f.enum.values.map((v) => v.number);
      return [sampleInit(f.message, depth + 1), sampleInit(f.message, depth + 1)];
    case 'map': {
      const value = (i: number) =>
        f.mapKind === 'scalar' ? scalarSample(f.scalar, i) : f.mapKind === 'enum' ? f.enum.values[1]!.number : sampleInit(f.message, depth + 1);
      return { [String(scalarSample(f.mapKey, 1))]: value(1), [String(scalarSample(f.mapKey, 2))]: value(2) };
    }
  }
}

/** A comparable plain form of a message, keyed by proto field names. */
function plain(desc: DescMessage, msg: Message): unknown {
  const record = msg as unknown as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const f of desc.fields) out[f.name] = plainField(f, record[f.localName]);
  return out;
}

function plainScalar(v: unknown): unknown {
  if (typeof v === 'bigint') return `${v}n`;
  if (v instanceof Uint8Array) return Buffer.from(v).toString('hex');
  return v;
}

function plainField(f: DescField, v: unknown): unknown {
  switch (f.fieldKind) {
    case 'scalar':
    case 'enum':
      return plainScalar(v);
    case 'message':
      return v === undefined ? undefined : plain(f.message, v as Message);
    case 'list':
      return (v as unknown[]).map((e) => (f.listKind === 'message' ? plain(f.message, e as Message) : plainScalar(e)));
    case 'map': {
      const out: Record<string, unknown> = {};
      for (const [k, e] of Object.entries(v as Record<string, unknown>)) out[k] = f.mapKind === 'message' ? plain(f.message, e as Message) : plainScalar(e);
      return out;
    }
  }
}

/** Fails if any message in the tree carries fields its schema did not recognise. */
function assertNoUnknown(desc: DescMessage, msg: Message, where: string): void {
  const unknown = (msg as { $unknown?: unknown[] }).$unknown;
  assert.ok(!unknown || unknown.length === 0, `${where}: unknown fields left after decoding`);
  const record = msg as unknown as Record<string, unknown>;
  for (const f of desc.fields) {
    const v = record[f.localName];
    if (f.fieldKind === 'message' && v) assertNoUnknown(f.message, v as Message, `${where}.${f.name}`);
    if (f.fieldKind === 'list' && f.listKind === 'message') for (const e of v as Message[]) assertNoUnknown(f.message, e, `${where}.${f.name}[]`);
    if (f.fieldKind === 'map' && f.mapKind === 'message') for (const e of Object.values(v as Record<string, Message>)) assertNoUnknown(f.message, e, `${where}.${f.name}{}`);
  }
}

function ourMessages(): DescMessage[] {
  const walk = (ms: readonly DescMessage[]): DescMessage[] => ms.flatMap((m) => [m, ...walk(m.nestedMessages)]);
  // Map entries are synthetic; they are covered through their map fields.
  return apiFiles.flatMap((f) => walk(f.messages)).filter((m) => !m.proto.options?.mapEntry);
}

test('every message we generate round-trips through containerd definitions', { skip }, async (t) => {
  assert.ok(sets.ok);
  const messages = ourMessages();
  assert.ok(messages.length >= 70, `only ${messages.length} messages found`);
  for (const ours of messages) {
    await t.test(ours.typeName, () => {
      assert.ok(sets.ok);
      const theirs = sets.theirsRegistry.getMessage(ours.typeName);
      assert.ok(theirs, `containerd has no ${ours.typeName}`);
      const init = sampleInit(ours);

      // ours → containerd
      const ourMsg = create(ours, init);
      const ourBytes = toBinary(ours, ourMsg);
      const decodedByTheirs = fromBinary(theirs, ourBytes);
      assertNoUnknown(theirs, decodedByTheirs, ours.typeName);
      assert.deepEqual(plain(theirs, decodedByTheirs), plain(ours, ourMsg));
      assert.deepEqual(Buffer.from(toBinary(theirs, decodedByTheirs)).toString('hex'), Buffer.from(ourBytes).toString('hex'));

      // containerd → ours
      const theirMsg = create(theirs, sampleInit(theirs));
      const theirBytes = toBinary(theirs, theirMsg);
      const decodedByOurs = fromBinary(ours, theirBytes);
      assertNoUnknown(ours, decodedByOurs, ours.typeName);
      assert.deepEqual(plain(ours, decodedByOurs), plain(theirs, theirMsg));
      assert.deepEqual(Buffer.from(toBinary(ours, decodedByOurs)).toString('hex'), Buffer.from(theirBytes).toString('hex'));
    });
  }
});
