// The task events containerd re-broadcasts from the shim (`ctr events`), in order, for a run and
// an exec, on the reference shim and on ours.
import { describe } from 'node:test';
import assert from 'node:assert/strict';
import { differential, e2eSkipReason, useContainerd, assertOrder, type RecordedEvent } from './harness/index.js';

/** The stable part of a task event: topic and the fields that do not vary between runs. */
function stable(e: RecordedEvent, ids: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = { topic: e.topic };
  const v = e.event;
  if (typeof v.id === 'string' && e.topic === '/tasks/exit') out.id = ids[v.id] ?? v.id;
  if (typeof v.exec_id === 'string') out.exec_id = v.exec_id;
  if (e.topic === '/tasks/exit' || e.topic === '/tasks/delete') out.exit_status = v.exit_status ?? 0;
  if ('pid' in v) out.hasPid = typeof v.pid === 'number' && v.pid > 0;
  return out;
}

describe('ctr events', { skip: e2eSkipReason() ?? false }, () => {
  const ctx = useContainerd();

  differential(ctx, 'run --rm: create, start, exit, delete', async (env) => {
    const id = env.id('ev-run');
    const r = await env.run(id, ['sh', '-c', 'exit 5']);
    assert.equal(r.code, 5, r.err);
    await ctx.events.waitFor('/tasks/delete', id);
    return ctx.events.for(id).map((e) => stable(e, env.ids));
  }, {
    check: (o) => {
      assertOrder(o.map((e) => String(e.topic)), ['/tasks/create', '/tasks/start', '/tasks/exit', '/tasks/delete']);
      assert.equal(o[2]!.exit_status, 5);
      assert.equal(o[3]!.exit_status, 5);
    },
  });

  differential(ctx, 'exec: exec-added, exec-started, exit; then kill and delete', async (env) => {
    const id = env.id('ev-exec');
    await env.runDetached(id);
    const ex = await env.ctr.run(['task', 'exec', '--exec-id', 'ex1', id, 'sh', '-c', 'exit 3']);
    assert.equal(ex.code, 3, ex.err);
    await env.ctr.ok(['task', 'pause', id]);
    await env.ctr.ok(['task', 'resume', id]);
    await env.ctr.ok(['task', 'kill', '-s', 'SIGKILL', id]);
    await env.waitStatus(id, 'STOPPED');
    await env.ctr.ok(['task', 'rm', id]);
    await ctx.events.waitFor('/tasks/delete', id);
    return ctx.events.for(id).map((e) => stable(e, env.ids));
  }, {
    check: (o) => {
      assertOrder(o.map((e) => String(e.topic)), ['/tasks/create', '/tasks/start', '/tasks/exec-added', '/tasks/exec-started',
        '/tasks/exit', '/tasks/paused', '/tasks/resumed', '/tasks/exit', '/tasks/delete']);
      assert.deepEqual(o[4], { topic: '/tasks/exit', id: 'ex1', exit_status: 3, hasPid: true });
      assert.equal(o[7]!.exit_status, 137);
    },
  });
});
