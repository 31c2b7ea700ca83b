// Resource features end to end, each on the reference shim and on ours: Pids with exec ids,
// Stats (`ctr task metrics`), OOM events, Update (through the shim's ttrpc API: ctr 1.6 has no
// update command) and checkpoint.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { differential, e2eSkipReason, failure, useContainerd, sleep, type ScenarioEnv } from './harness/index.js';
import { bundleDir, withShim, TaskService } from './harness/shim-task.js';
import { TtrpcError } from '../../src/ttrpc/index.js';

/** The host pid of task `id` (from `ctr task ls`). */
async function taskPid(env: ScenarioEnv, id: string): Promise<number> {
  const row = (await env.ctr.tasks()).find((t) => t.id === id);
  assert.ok(row && row.pid > 0, `task ${id} has no pid`);
  return row.pid;
}

/** The v1 memory cgroup directory of a host pid, or undefined on a cgroup v2-only host. */
function memoryCgroupDir(pid: number): string | undefined {
  for (const line of readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n')) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line);
    if (m && m[1]!.split(',').includes('memory')) return path.join('/sys/fs/cgroup/memory', m[2]!);
  }
  return undefined;
}

/** A JSON-encoded OCI LinuxResources as containerd's Update sends it. */
function resourcesAny(resources: Record<string, unknown>): { typeUrl: string; value: Uint8Array } {
  return { typeUrl: 'types.containerd.io/opencontainers/runtime-spec/1/LinuxResources', value: Buffer.from(JSON.stringify(resources)) };
}

describe('resources and process info', { skip: e2eSkipReason() ?? false }, () => {
  const ctx = useContainerd();
  /** Why our shim's checkpoint failed on this host (criu's reason), set by the checkpoint scenario. */
  let checkpointFailure: string | undefined;

  differential(ctx, 'ctr task ps: the exec pid carries its exec id (ProcessDetails)', async (env) => {
    const id = env.id('ps');
    await env.runDetached(id);
    const exec = env.ctr.run(['task', 'exec', '--exec-id', 'sleeper', id, 'sleep', '30']);
    let rows: string[][] = [];
    for (let i = 0; i < 100 && rows.length < 2; i++) {
      await sleep(100);
      rows = (await env.ctr.ok(['task', 'ps', id])).out.trim().split('\n').slice(1).map((l) => l.trim().split(/\s+/));
    }
    const init = await taskPid(env, id);
    await env.ctr.run(['task', 'kill', '--exec-id', 'sleeper', '-s', 'SIGKILL', id]);
    await exec;
    return {
      rows: rows.length,
      init: rows.filter((r) => Number(r[0]) === init).map((r) => r.slice(1).join(' ')),
      others: rows.filter((r) => Number(r[0]) !== init).map((r) => r.slice(1).join(' ')),
    };
  }, {
    // ctr prints the unpacked ProcessDetails with Go's %v; the init has no info ("-").
    check: (o) => assert.deepEqual(o, { rows: 2, init: ['-'], others: ['&ProcessDetails{ExecID:sleeper,XXX_unrecognized:[],}'] }),
  });

  differential(ctx, 'ctr task metrics: cgroup v1 metrics, the same fields as the reference', async (env) => {
    const id = env.id('metrics');
    await env.runDetached(id, ['sh', '-c', 'x=$(seq 1 20000); sleep 1000']);
    await sleep(500);
    const json = await env.ctr.ok(['task', 'metrics', '--format', 'json', id]);
    const table = await env.ctr.ok(['task', 'metrics', id]);
    // ctr prints the decoded v1.Metrics with Go's encoding/json: zero fields are omitted.
    const data = JSON.parse(json.out) as Record<string, unknown>;
    const at = (...keys: string[]): unknown => keys.reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined), data);
    return {
      json: data,
      topLevel: Object.keys(data).sort(),
      memoryEntries: Object.keys((at('memory') ?? {}) as object).filter((k) => typeof at('memory', k) === 'object').sort(),
      tableRows: table.out.trim().split('\n').slice(2).map((l) => l.trim().split(/\s+/)[0]),
      memoryUsage: Number(at('memory', 'usage', 'usage') ?? 0),
      memoryLimit: Number(at('memory', 'usage', 'limit') ?? 0),
      pidsCurrent: Number(at('pids', 'current') ?? 0),
      cpuTotal: Number(at('cpu', 'usage', 'total') ?? 0),
      perCpu: (at('cpu', 'usage', 'per_cpu') as unknown[] | undefined)?.length ?? 0,
    };
  }, {
    check: (o) => {
      assert.ok(o.memoryUsage > 0, 'memory usage > 0');
      assert.ok(o.pidsCurrent >= 1, 'pids current >= 1');
      assert.ok(o.cpuTotal > 0, 'cpu usage > 0');
      assert.ok(o.tableRows.includes('memory.usage_in_bytes'), o.tableRows.join(','));
    },
    // Values differ run to run; the shape (which fields and table rows exist) must not.
    compare: (mine, ref) => {
      assert.deepEqual(mine.topLevel, ref.topLevel, 'metrics sections');
      assert.deepEqual(mine.memoryEntries, ref.memoryEntries, 'memory entries');
      assert.equal(mine.perCpu, ref.perCpu, 'per-cpu usage entries');
      assert.deepEqual(mine.tableRows, ref.tableRows, 'table rows');
    },
  });

  differential(ctx, 'OOM: /tasks/oom before /tasks/exit for a container over its memory limit', async (env) => {
    const id = env.id('oom');
    // Doubling a shell string until the 16 MiB limit kills it.
    const r = await env.run(id, ['sh', '-c', 'x=a; while true; do x=$x$x; done'], { extra: ['--memory-limit', String(16 * 1024 * 1024)] });
    await ctx.events.waitFor('/tasks/delete', id, 20_000);
    return { code: r.code, topics: ctx.events.topicsFor(id) };
  }, {
    check: (o) => {
      assert.equal(o.code, 137);
      const oom = o.topics.indexOf('/tasks/oom');
      assert.ok(oom >= 0, `no /tasks/oom in ${o.topics.join(' → ')}`);
      assert.ok(oom < o.topics.indexOf('/tasks/exit'), `oom after exit: ${o.topics.join(' → ')}`);
    },
    // How many OOM notifications one kill makes is the kernel's business; their place is not.
    compare: (mine, ref) => {
      const once = (t: string[]): string[] => t.filter((x, i) => x !== '/tasks/oom' || t[i - 1] !== '/tasks/oom');
      assert.equal(mine.code, ref.code);
      assert.deepEqual(once(mine.topics), once(ref.topics));
    },
  });

  differential(ctx, 'Update: a new memory limit reaches the cgroup', async (env) => {
    const id = env.id('update');
    await env.runDetached(id);
    const pid = await taskPid(env, id);
    const dir = memoryCgroupDir(pid);
    assert.ok(dir, 'no memory cgroup');
    const before = readFileSync(path.join(dir, 'memory.limit_in_bytes'), 'utf8').trim();
    const limit = 48 * 1024 * 1024;
    await withShim(ctx.cd, ctx.cd.namespace, id, (c) => c.call(TaskService.method.update, { id, resources: resourcesAny({ memory: { limit } }) }));
    const after = readFileSync(path.join(dir, 'memory.limit_in_bytes'), 'utf8').trim();
    const bad = await withShim(ctx.cd, ctx.cd.namespace, id, (c) => c.call(TaskService.method.update, { id, resources: { typeUrl: 'x', value: Buffer.from('{not json') } }))
      .then(() => 'accepted', (e: unknown) => (e instanceof TtrpcError ? e.code : String(e)));
    return { changed: before !== after, after: Number(after), badJsonCode: bad };
  }, {
    check: (o) => {
      assert.equal(o.changed, true);
      assert.equal(o.after, 48 * 1024 * 1024);
    },
    // Bad JSON: the reference answers Unknown (2) with the decoder's text; ours InvalidArgument (3).
    compare: (mine, ref) => {
      assert.deepEqual({ ...mine, badJsonCode: 0 }, { ...ref, badJsonCode: 0 });
      assert.equal(ref.badJsonCode, 2);
      assert.equal(mine.badJsonCode, 3);
    },
  });

  // The reference dereferences nil resources and its whole shim process dies (task-api.md §5.11,
  // §15 #3), so only ours is asked; it must refuse with InvalidArgument and keep the task running.
  differential(ctx, 'Update without resources is InvalidArgument (the reference crashes)', async (env) => {
    const id = env.id('update-nil');
    await env.runDetached(id);
    if (env.rt.reference) return { skipped: 'the reference shim crashes on this call' };
    const code = await withShim(ctx.cd, ctx.cd.namespace, id, (c) => c.call(TaskService.method.update, { id }))
      .then(() => 'accepted', (e: unknown) => (e instanceof TtrpcError ? e.code : String(e)));
    return { code, still: await env.ctr.taskStatus(id) };
  }, {
    compare: (mine) => assert.deepEqual(mine, { code: 3, still: 'RUNNING' }),
  });

  differential(ctx, 'checkpoint: criu cannot dump on this kernel; both fail, ours names criu\'s reason', async (env) => {
    const id = env.id('ckpt');
    await env.runDetached(id);
    const r = await env.ctr.run(['task', 'checkpoint', id], { timeoutMs: 60_000 });
    const f = failure(r, env.ids);
    const dumpLog = path.join(bundleDir(ctx.cd, ctx.cd.namespace, id), 'criu-dump.log');
    let log = '';
    try { log = readFileSync(dumpLog, 'utf8'); } catch { /* no log kept */ }
    // criu's own reason is the first `Error (file:line): …` line of its log.
    // criu's own reason: the first `Error (file:line): …` line that is more than a helper's exit status.
    const criuReason = /Error \([^)]*\): ((?!exited, status=).*)$/m.exec(log)?.[1]?.trim() ?? '';
    if (!env.rt.reference && r.code !== 0) checkpointFailure = criuReason || f.error.message;
    return { succeeded: r.code === 0, error: f.error, logKept: log !== '', criuReason, still: await env.ctr.taskStatus(id) };
  }, {
    check: (o) => {
      if (o.succeeded) return; // a kernel where criu works: nothing to compare here
      assert.match(o.error.message, /criu failed: type DUMP/);
      assert.match(o.error.message, /path= \S+criu-dump\.log/);
      assert.equal(o.logKept, true, 'criu-dump.log is kept in the bundle');
      assert.equal(o.still, 'RUNNING');
    },
    // Ours adds criu's reason before `path= <log>`; otherwise the message is the reference's.
    compare: (mine, ref) => {
      const strip = (m: string): string => m.replace(/path= \S+/, 'path= <log>');
      assert.equal(mine.succeeded, ref.succeeded);
      if (mine.succeeded) return;
      assert.ok(mine.criuReason !== '', 'criu logged a reason');
      assert.equal(strip(mine.error.message), strip(ref.error.message).replace(' path= ', `: criu: ${mine.criuReason} path= `));
    },
  });

  // Checkpoint then restore (`ctr c checkpoint --task`, `ctr c restore --live`) needs criu to dump.
  // The scenario above records why it could not; the success path runs only where it can.
  test('checkpoint and restore succeed where criu can dump', async (t) => {
    if (checkpointFailure !== undefined) {
      t.skip(`criu cannot checkpoint on this kernel (${checkpointFailure}); both shims fail the dump, so there is nothing to restore`);
      return;
    }
    // A host where criu dumps: the restore half is not automated yet (no such host to check it on).
    t.todo('criu can dump here; a restore scenario (ctr containers restore --live) is still to be written');
  });
});
