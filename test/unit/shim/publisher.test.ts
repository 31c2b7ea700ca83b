// The event publisher against a local ttrpc Events/Forward server: call order is wire order, an
// event's packing and write come after the current turn (so a request's reply leaves before the
// event it caused), a payload is packed once, and one that cannot be packed is dropped without
// holding up the events after it.
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { create } from '@bufbuild/protobuf';
import { EmptySchema } from '@bufbuild/protobuf/wkt';
import { ForwardRequestSchema, type ForwardRequest } from '../../../src/api/containerd/services/ttrpc/events/v1/events_pb.js';
import { TaskExecAddedSchema, TaskOOMSchema } from '../../../src/api/containerd/events/task_pb.js';
import { packAny, unpackAnyAs } from '../../../src/api/typeurl.js';
import { TtrpcServer } from '../../../src/ttrpc/index.js';
import { TtrpcEventPublisher } from '../../../src/shim/publisher.js';
import type { Logger } from '../../../src/process/index.js';
import { tempDir } from '../ttrpc/helpers.js';

const EVENTS_SERVICE = 'containerd.services.events.ttrpc.v1.Events';

interface Harness {
  readonly publisher: TtrpcEventPublisher;
  readonly received: ForwardRequest[];
  readonly errors: string[];
  waitFor(n: number): Promise<void>;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function harness(): Promise<Harness> {
  const dir = tempDir();
  const received: ForwardRequest[] = [];
  let waiters: { n: number; resolve: () => void }[] = [];
  const server = new TtrpcServer();
  server.registerMethod(EVENTS_SERVICE, 'Forward', ForwardRequestSchema, EmptySchema, (req) => {
    received.push(req);
    waiters = waiters.filter((w) => (received.length >= w.n ? (w.resolve(), false) : true));
    return create(EmptySchema);
  });
  const socket = dir.socket('events.sock');
  await server.listen(socket);
  const errors: string[] = [];
  const log: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: (m) => errors.push(m) };
  const publisher = new TtrpcEventPublisher({ address: `unix://${socket}`, namespace: 'pub-test', log });
  cleanups.push(async () => {
    await publisher.close(2000);
    await server.close();
    dir.cleanup();
  });
  return {
    publisher,
    received,
    errors,
    waitFor: (n) => (received.length >= n ? Promise.resolve() : new Promise((resolve) => waiters.push({ n, resolve }))),
  };
}

test('events arrive in publish order; thunks are packed after the current turn, once', async () => {
  const h = await harness();
  let packed = 0;
  h.publisher.publish('/tasks/exec-added', () => {
    packed++;
    return packAny(TaskExecAddedSchema, create(TaskExecAddedSchema, { containerId: 'c', execId: 'e1' }));
  });
  h.publisher.publish('/tasks/oom', packAny(TaskOOMSchema, create(TaskOOMSchema, { containerId: 'c' })));
  h.publisher.publish('/tasks/exec-added', () => {
    packed++;
    return packAny(TaskExecAddedSchema, create(TaskExecAddedSchema, { containerId: 'c', execId: 'e2' }));
  });
  // Not before this turn's microtasks are done either: a reply resolved now is written first.
  await Promise.resolve();
  assert.equal(packed, 0, 'a payload was packed on the publishing turn');
  await h.waitFor(3);
  assert.equal(packed, 2);
  assert.deepEqual(h.received.map((r) => r.envelope?.topic), ['/tasks/exec-added', '/tasks/oom', '/tasks/exec-added']);
  assert.deepEqual(h.received.map((r) => r.envelope?.namespace), ['pub-test', 'pub-test', 'pub-test']);
  const first = unpackAnyAs(h.received[0]!.envelope!.event!, TaskExecAddedSchema);
  const third = unpackAnyAs(h.received[2]!.envelope!.event!, TaskExecAddedSchema);
  assert.deepEqual([first.execId, third.execId], ['e1', 'e2']);
  assert.equal(unpackAnyAs(h.received[1]!.envelope!.event!, TaskOOMSchema).containerId, 'c');
});

test('the timestamp is the publish time, not the (later) forwarding time', async () => {
  const h = await harness();
  const before = Date.now();
  h.publisher.publish('/tasks/oom', () => packAny(TaskOOMSchema, create(TaskOOMSchema, { containerId: 'late' })));
  const after = Date.now();
  await h.waitFor(1);
  const ts = h.received[0]!.envelope!.timestamp!;
  const ms = Number(ts.seconds) * 1000 + Math.floor(ts.nanos / 1e6);
  assert.ok(ms >= before - 1 && ms <= after + 1, `timestamp ${ms} outside [${before}, ${after}]`);
});

test('a payload that cannot be packed is dropped and logged; the events after it still go', async () => {
  const h = await harness();
  h.publisher.publish('/tasks/exec-added', () => {
    throw new Error('packing bug');
  });
  h.publisher.publish('/tasks/oom', () => packAny(TaskOOMSchema, create(TaskOOMSchema, { containerId: 'after' })));
  await h.waitFor(1);
  assert.equal(h.received.length, 1);
  assert.equal(h.received[0]!.envelope!.topic, '/tasks/oom');
  assert.deepEqual(h.errors, ['event could not be packed, dropped']);
});
