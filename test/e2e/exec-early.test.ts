// The exec paths that starting runc at Exec (its spec held back until Start) opened up, each
// against the reference shim over the task API directly (ctr always sends Start right after Exec):
// an exec deleted without a Start leaves no runtime process behind; a Start while the container is
// paused answers like the reference's; a Start long after the Exec still runs the exec.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { create } from '@bufbuild/protobuf';
import { AnySchema } from '@bufbuild/protobuf/wkt';
import { REFERENCE, TS_RUNC, runtimeFlags, runtimeSkipReason, sleep, useContainerd, withShim, type RuntimeUnderTest } from './harness/index.js';
import { TaskService, bundleDir } from './harness/shim-task.js';
import { TtrpcError } from '../../src/ttrpc/index.js';
import { runtimeExecsFor } from '../fixtures/procfs.js';

const NS = 'e2e';
const META = { metadata: [['containerd-namespace-ttrpc', NS]] as [string, string][], timeoutMs: 20_000 };
const processSpec = (args: string[]): ReturnType<typeof create<typeof AnySchema>> =>
  create(AnySchema, {
    typeUrl: 'types.containerd.io/opencontainers/runtime-spec/1/Process',
    value: Buffer.from(JSON.stringify({ args, cwd: '/', env: ['PATH=/bin'], user: { uid: 0, gid: 0 } })),
  });


/** What a call came to: ok, or the error's code (messages differ in wording between shims). */
async function outcome(call: Promise<unknown>): Promise<string> {
  try {
    await call;
    return 'ok';
  } catch (err) {
    return err instanceof TtrpcError ? `code ${err.code}` : `error ${String(err)}`;
  }
}

describe('exec with the runtime started at Exec, ours vs the reference', () => {
  const suite = useContainerd({ namespace: NS });

  const observed = new Map<string, Record<string, string>>();
  let n = 0;
  for (const rt of [REFERENCE, TS_RUNC]) {
    test(rt.label, { timeout: 120_000, skip: runtimeSkipReason(rt) ?? false }, async (t) => {
      const c = suite.cd;
      const image = suite.image;
      const id = `early-${rt.reference ? 'ref' : 'ts'}-${++n}`;
      const r = await c.ctr.run(['run', '-d', ...runtimeFlags(c, rt as RuntimeUnderTest), image, id, 'sleep', '1000']);
      assert.equal(r.code, 0, r.err);
      const seen: Record<string, string> = {};
      try {
        await withShim(c, NS, id, async (client) => {
          // Exec then Delete, never started: the runtime prepared for it must be gone at once.
          await client.call(TaskService.method.exec, { id, execId: 'unstarted', spec: processSpec(['touch', '/unstarted']) }, META);
          await sleep(300);
          seen['delete unstarted'] = await outcome(client.call(TaskService.method.delete, { id, execId: 'unstarted' }, META));
          seen['runtime left after delete'] = String(runtimeExecsFor(id).length);

          // Exec, Pause, Start: the runtime may have loaded the state before the pause.
          await client.call(TaskService.method.exec, { id, execId: 'paused', spec: processSpec(['touch', '/paused']) }, META);
          await client.call(TaskService.method.pause, { id }, META);
          seen['start while paused'] = await outcome(client.call(TaskService.method.start, { id, execId: 'paused' }, META));
          await client.call(TaskService.method.resume, { id }, META);
          if (seen['start while paused'] === 'ok') await client.call(TaskService.method.wait, { id, execId: 'paused' }, META);
          await client.call(TaskService.method.delete, { id, execId: 'paused' }, META).catch(() => undefined);

          // Start a while after Exec: still runs, exit status and all.
          await client.call(TaskService.method.exec, { id, execId: 'late', spec: processSpec(['sh', '-c', 'test ! -e /unstarted && exit 3']) }, META);
          await sleep(1500);
          seen['late start'] = await outcome(client.call(TaskService.method.start, { id, execId: 'late' }, META));
          const w = await client.call(TaskService.method.wait, { id, execId: 'late' }, META);
          seen['late exit status'] = String(w.exitStatus);
          await client.call(TaskService.method.delete, { id, execId: 'late' }, META);

          // The same exec id again right after its Delete (ours removes the pid file after the
          // reply): the new exec runs, and no exec pid file is left once it is deleted too.
          await client.call(TaskService.method.exec, { id, execId: 'late', spec: processSpec(['sh', '-c', 'exit 5']) }, META);
          seen['reused id start'] = await outcome(client.call(TaskService.method.start, { id, execId: 'late' }, META));
          const again = await client.call(TaskService.method.wait, { id, execId: 'late' }, META);
          seen['reused id exit status'] = String(again.exitStatus);
          await client.call(TaskService.method.delete, { id, execId: 'late' }, META);
          await sleep(100);
          seen['exec pid files left'] = readdirSync(bundleDir(c, NS, id)).filter((f) => f.endsWith('.pid') && f !== 'init.pid').join(',') || 'none';
          seen['runtime left at the end'] = String(runtimeExecsFor(id).length);
        });
      } finally {
        await c.ctr.run(['task', 'kill', '-s', 'SIGKILL', id]);
        for (let i = 0; i < 50 && (await c.ctr.taskStatus(id)) !== 'STOPPED'; i++) await sleep(100);
        await c.ctr.run(['task', 'rm', id]);
        await c.ctr.run(['containers', 'rm', id]);
      }
      assert.equal(seen['runtime left after delete'], '0');
      assert.equal(seen['late start'], 'ok');
      assert.equal(seen['late exit status'], '3', 'the unstarted exec must never have run');
      assert.equal(seen['reused id exit status'], '5');
      assert.equal(seen['exec pid files left'], 'none');
      t.diagnostic(JSON.stringify(seen));
      observed.set(rt.label, seen);
      const ref = observed.get(REFERENCE.label);
      if (!rt.reference && ref) assert.deepEqual(seen, ref);
    });
  }
});

describe('exec whose prepared runtime gave up waiting for Start', () => {
  // The prepared runc is let go 300 ms after Exec here (10 s by default).
  const suite = useContainerd({ namespace: NS, extraEnv: { CONTAINERD_SHIM_TS_EARLY_EXEC_LIMIT_MS: '300' } });

  test('Start after the limit runs a plain exec with fresh stdio', { timeout: 120_000, skip: runtimeSkipReason(TS_RUNC) ?? false }, async () => {
    const c = suite.cd;
      const image = suite.image;
    const id = 'early-limit';
    const r = await c.ctr.run(['run', '-d', ...runtimeFlags(c, TS_RUNC), image, id, 'sleep', '1000']);
    assert.equal(r.code, 0, r.err);
    try {
      await withShim(c, NS, id, async (client) => {
        await client.call(TaskService.method.exec, { id, execId: 'slow', spec: processSpec(['sh', '-c', 'exit 5']) }, META);
        await sleep(1000);
        assert.deepEqual(runtimeExecsFor(id), [], 'the prepared runtime was let go');
        await client.call(TaskService.method.start, { id, execId: 'slow' }, META);
        const w = await client.call(TaskService.method.wait, { id, execId: 'slow' }, META);
        assert.equal(w.exitStatus, 5);
        await client.call(TaskService.method.delete, { id, execId: 'slow' }, META);
      });
      // And through ctr, with stdio: output and exit code as always.
      const out = await c.ctr.run(['task', 'exec', '--exec-id', 'after', id, 'sh', '-c', 'echo still-fine; exit 4']);
      assert.equal(out.code, 4);
      assert.equal(out.out, 'still-fine\n');
    } finally {
      await c.ctr.run(['task', 'kill', '-s', 'SIGKILL', id]);
      for (let i = 0; i < 50 && (await c.ctr.taskStatus(id)) !== 'STOPPED'; i++) await sleep(100);
      await c.ctr.run(['task', 'rm', id]);
      await c.ctr.run(['containers', 'rm', id]);
    }
  });
});
