// Stats of a task whose init has exited but which is not deleted yet: the reference keeps the
// cgroup it loaded at Create and answers until Delete; ours records the cgroup paths at Create for
// the same reason (a reaped init has no /proc/<pid>/cgroup any more).
import { describe } from 'node:test';
import assert from 'node:assert/strict';
import { differential, e2eSkipReason, failure, useContainerd } from './harness/index.js';

describe('stats of a stopped task', { skip: e2eSkipReason() ?? false }, () => {
  const ctx = useContainerd();

  differential(ctx, 'ctr task metrics answers for a STOPPED task until it is deleted', async (env) => {
    const id = env.id('stopped-metrics');
    // `-d` leaves the task in place after its init exits (no --rm).
    const r = await env.run(id, ['sh', '-c', 'x=$(seq 1 5000); exit 0'], { detach: true });
    assert.equal(r.code, 0, r.err);
    await env.waitStatus(id, 'STOPPED', 20_000);
    const json = await env.ctr.run(['task', 'metrics', '--format', 'json', id]);
    const table = await env.ctr.run(['task', 'metrics', id]);
    const data = json.code === 0 ? JSON.parse(json.out) as Record<string, unknown> : {};
    const at = (...keys: string[]): unknown => keys.reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined), data);
    await env.ctr.ok(['task', 'rm', id]);
    // After Delete the task is gone: containerd answers NotFound without asking a shim.
    const afterDelete = failure(await env.ctr.run(['task', 'metrics', id]), env.ids);
    return {
      jsonCode: json.code,
      jsonErr: json.err.trim(),
      tableCode: table.code,
      topLevel: Object.keys(data).sort(),
      tableRows: table.out.trim().split('\n').slice(2).map((l) => l.trim().split(/\s+/)[0]),
      pidsCurrent: Number(at('pids', 'current') ?? 0),
      // The cgroup's lifetime counters survive the processes that made them.
      cpuTotal: Number(at('cpu', 'usage', 'total') ?? 0),
      afterDelete: { code: afterDelete.exitCode, class: afterDelete.error.class },
    };
  }, {
    check: (o) => {
      assert.equal(o.jsonCode, 0, `metrics of a stopped task failed: ${o.jsonErr}`);
      assert.equal(o.tableCode, 0);
      assert.equal(o.pidsCurrent, 0, 'no process left in the cgroup');
      assert.ok(o.cpuTotal > 0, 'cpu usage of the exited processes is still counted');
      assert.ok(o.tableRows.includes('memory.usage_in_bytes'), o.tableRows.join(','));
      assert.notEqual(o.afterDelete.code, 0);
      assert.equal(o.afterDelete.class, 'not found');
    },
    // Counter values differ run to run; which sections and rows exist must not.
    compare: (mine, ref) => {
      assert.deepEqual(mine.topLevel, ref.topLevel, 'metrics sections');
      assert.deepEqual(mine.tableRows, ref.tableRows, 'table rows');
      assert.deepEqual(mine.afterDelete, ref.afterDelete);
    },
  });
});
