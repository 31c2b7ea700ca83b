// Interop with a ttrpc peer nobody here wrote: our TtrpcClient calls a private containerd's own
// ttrpc socket (`<address>.ttrpc`), `containerd.services.events.ttrpc.v1.Events/Forward`, and the
// forwarded event shows up in `ctr events`. A bad topic is refused with InvalidArgument.
//
// Every envelope carries an event: containerd 1.6.20 dereferences the envelope's event without a
// nil check and crashes on one that has none.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { create } from '@bufbuild/protobuf';
import { Events } from '../../../src/api/containerd/services/ttrpc/events/v1/events_pb.js';
import { TaskOOMSchema } from '../../../src/api/containerd/events/task_pb.js';
import { packAny, timestampFromDate } from '../../../src/api/typeurl.js';
import { Code, TtrpcClient, TtrpcError } from '../../../src/ttrpc/index.js';
import { Containerd, EventRecorder, e2eSkipReason } from '../../e2e/harness/index.js';

const NAMESPACE_KEY = 'containerd-namespace-ttrpc';

describe('containerd ttrpc Events/Forward from our client', { skip: e2eSkipReason() ?? false }, () => {
  let cd: Containerd | undefined;
  let events: EventRecorder | undefined;
  let client: TtrpcClient | undefined;

  before(async () => {
    cd = await Containerd.start({ namespace: 'ttrpc-forward' });
    events = await EventRecorder.start(cd.ctr);
    client = await TtrpcClient.connect(cd.ttrpcAddress, { timeoutMs: 5_000 });
  }, { timeout: 60_000 });

  after(async () => {
    client?.close();
    await events?.stop();
    await cd?.stop();
  }, { timeout: 60_000 });

  const envelope = (topic: string, containerId: string, namespace = 'ttrpc-forward') => ({
    envelope: {
      timestamp: timestampFromDate(new Date()),
      namespace,
      topic,
      event: packAny(TaskOOMSchema, create(TaskOOMSchema, { containerId })),
    },
  });

  test('a TaskOOM envelope is accepted and ctr events shows it', async () => {
    const id = `oom-${randomBytes(4).toString('hex')}`;
    await client!.call(Events.method.forward, envelope('/tasks/oom', id), {
      timeoutMs: 5_000,
      metadata: [[NAMESPACE_KEY, 'ttrpc-forward']],
    });
    const seen = await events!.waitUntil((es) => es.some((e) => e.topic === '/tasks/oom' && e.event.container_id === id), 10_000);
    assert.ok(seen, `ctr events did not show /tasks/oom for ${id}; saw ${JSON.stringify(events!.events.slice(-5))}`);
    const e = events!.events.find((x) => x.topic === '/tasks/oom' && x.event.container_id === id)!;
    assert.equal(e.namespace, 'ttrpc-forward');
    assert.deepEqual(e.event, { container_id: id });
  });

  test('several forwards in flight on one connection all arrive', async () => {
    const ids = Array.from({ length: 16 }, (_v, i) => `oom-many-${i}-${randomBytes(3).toString('hex')}`);
    await Promise.all(ids.map((id) => client!.call(Events.method.forward, envelope('/tasks/oom', id), { timeoutMs: 5_000 })));
    const all = await events!.waitUntil((es) => ids.every((id) => es.some((e) => e.event.container_id === id)), 10_000);
    assert.ok(all, 'not every forwarded event reached ctr events');
  });

  test('a bad topic is refused with InvalidArgument and the connection stays usable', async () => {
    await assert.rejects(
      client!.call(Events.method.forward, envelope('no-leading-slash', 'x'), { timeoutMs: 5_000 }),
      (err: unknown) => {
        assert.ok(err instanceof TtrpcError, String(err));
        assert.equal(err.code, Code.InvalidArgument, err.message);
        assert.match(err.message, /topic/);
        return true;
      },
    );
    // A bad namespace is refused the same way.
    await assert.rejects(
      client!.call(Events.method.forward, envelope('/tasks/oom', 'x', 'Bad Namespace!'), { timeoutMs: 5_000 }),
      (err: unknown) => err instanceof TtrpcError && err.code === Code.InvalidArgument,
    );
    assert.equal(client!.closed, false);
    const id = `oom-after-${randomBytes(4).toString('hex')}`;
    await client!.call(Events.method.forward, envelope('/tasks/oom', id), { timeoutMs: 5_000 });
    assert.ok(await events!.waitUntil((es) => es.some((e) => e.event.container_id === id), 10_000));
    // containerd is still alive (a crash would have closed the socket).
    assert.equal((await cd!.ctr.run(['version'])).code, 0);
  });
});
