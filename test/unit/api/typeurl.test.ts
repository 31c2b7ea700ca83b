// The Any helpers and timestamps, checked against containerd's conventions and the
// Go-verified bytes of events.md §9.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { AnySchema } from '@bufbuild/protobuf/wkt';
import { TaskExitSchema, TaskOOMSchema } from '../../../src/api/containerd/events/task_pb.js';
import { CheckpointOptionsSchema, OptionsSchema } from '../../../src/api/containerd/runc/v1/options_pb.js';
import { ForwardRequestSchema } from '../../../src/api/containerd/services/ttrpc/events/v1/events_pb.js';
import { DeleteResponseSchema } from '../../../src/api/containerd/task/v2/shim_pb.js';
import {
  apiRegistry,
  GO_ZERO_TIME,
  isAnyOf,
  isGoZeroTime,
  packAny,
  timestampFromDate,
  timestampToDate,
  TypeUrlMismatchError,
  typeNameFromUrl,
  typeUrlOf,
  UnknownTypeUrlError,
  unpackAny,
  unpackAnyAs,
} from '../../../src/api/typeurl.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

test('packAny uses the bare full name as type URL, like containerd', () => {
  const any = packAny(TaskOOMSchema, { containerId: 'c1' });
  assert.equal(any.typeUrl, 'containerd.events.TaskOOM');
  assert.equal(typeUrlOf(OptionsSchema), 'containerd.runc.v1.Options');
  assert.equal(fromBinary(TaskOOMSchema, any.value).containerId, 'c1');
  // An already created message is packed as is.
  const msg = create(OptionsSchema, { binaryName: 'crun', root: '/r' });
  assert.deepEqual(unpackAnyAs(packAny(OptionsSchema, msg), OptionsSchema), msg);
});

test('unpackAny resolves through the registry and tolerates a URL prefix', () => {
  const value = toBinary(OptionsSchema, create(OptionsSchema, { systemdCgroup: true }));
  for (const typeUrl of ['containerd.runc.v1.Options', 'type.googleapis.com/containerd.runc.v1.Options']) {
    const any = create(AnySchema, { typeUrl, value });
    const msg = unpackAny(any);
    assert.equal(msg.$typeName, 'containerd.runc.v1.Options');
    assert.ok(isAnyOf(any, OptionsSchema));
    assert.equal(unpackAnyAs(any, OptionsSchema).systemdCgroup, true);
  }
  assert.equal(typeNameFromUrl('a/b/c.D'), 'c.D');
  for (const name of ['containerd.task.v2.CreateTaskRequest', 'io.containerd.cgroups.v1.Metrics', 'io.containerd.cgroups.v2.Metrics', 'runtimeoptions.v1.Options', 'containerd.runc.v1.ProcessDetails']) {
    assert.ok(apiRegistry.getMessage(name), name);
  }
});

test('an unknown type URL gives UnknownTypeUrlError with the reference wording', () => {
  const any = create(AnySchema, { typeUrl: 'example.com/Nope', value: new Uint8Array() });
  assert.throws(() => unpackAny(any), (err: unknown) => {
    assert.ok(err instanceof UnknownTypeUrlError);
    assert.equal(err.typeUrl, 'example.com/Nope');
    assert.equal(err.message, 'type with url example.com/Nope: not found');
    return true;
  });
  assert.throws(() => unpackAnyAs(any, OptionsSchema), UnknownTypeUrlError);
  assert.throws(() => unpackAnyAs(create(AnySchema), OptionsSchema), UnknownTypeUrlError);
});

test('a known but different type gives TypeUrlMismatchError', () => {
  const any = packAny(OptionsSchema, {});
  assert.throws(() => unpackAnyAs(any, CheckpointOptionsSchema), (err: unknown) => {
    assert.ok(err instanceof TypeUrlMismatchError);
    assert.equal(err.expected, 'containerd.runc.v1.CheckpointOptions');
    assert.equal(err.typeUrl, 'containerd.runc.v1.Options');
    return true;
  });
});

test('GO_ZERO_TIME encodes as Go zero time.Time and is always written', () => {
  const bytes = toBinary(DeleteResponseSchema, create(DeleteResponseSchema, { pid: 1, exitedAt: GO_ZERO_TIME }));
  // pid 1; exited_at {seconds: -62135596800} (a 10-byte negative varint), nanos omitted.
  assert.equal(hex(bytes), '08011a0b08' + '8092b8c398feffffff01');
  assert.ok(Object.isFrozen(GO_ZERO_TIME));
  assert.ok(isGoZeroTime(GO_ZERO_TIME) && isGoZeroTime(undefined));
  assert.equal(timestampToDate(GO_ZERO_TIME), undefined);
});

test('timestampFromDate keeps milliseconds, also before 1970', () => {
  const ts = timestampFromDate(new Date('2024-01-02T03:04:05.006Z'));
  assert.equal(ts.seconds, 1704164645n);
  assert.equal(ts.nanos, 6_000_000);
  const before = timestampFromDate(new Date(-1500));
  assert.equal(before.seconds, -2n);
  assert.equal(before.nanos, 500_000_000);
  assert.equal(timestampToDate(before)?.getTime(), -1500);
  assert.equal(timestampToDate(ts)?.toISOString(), '2024-01-02T03:04:05.006Z');
});

test('a forwarded TaskExit is byte for byte the Go-verified example of events.md §9', () => {
  const event = packAny(TaskExitSchema, {
    containerId: 'abc',
    id: 'abc',
    pid: 1234,
    exitStatus: 137,
    exitedAt: timestampFromDate(new Date('2024-01-02T03:04:05.006Z')),
  });
  assert.equal(hex(event.value), '0a036162631203616263' + '18d209' + '208901' + '2a0b08a5facdac0610809bee02');
  const forward = create(ForwardRequestSchema, {
    envelope: { timestamp: timestampFromDate(new Date('2024-01-02T03:04:05.007Z')), namespace: 'default', topic: '/tasks/exit', event },
  });
  // The ForwardRequest payload of the captured 208-byte ttrpc frame.
  const frame =
    '000000c60000000101000a2a636f6e7461696e6572642e73657276696365732e6576656e74732e74747270632e76312e4576656e74731207466f72776172641a620a600a0b08a5facdac0610c09fab03120764656661756c741a0b2f7461736b732f65786974223b0a1a636f6e7461696e6572642e6576656e74732e5461736b45786974121d0a03616263120361626318d2092089012a0b08a5facdac0610809bee022080e497d0122a250a1a636f6e7461696e6572642d6e616d6573706163652d7474727063120764656661756c74';
  const payloadStart = frame.indexOf('1a62') + 4;
  assert.equal(hex(toBinary(ForwardRequestSchema, forward)), frame.slice(payloadStart, payloadStart + 98 * 2));
});
