// Detached tasks on the reference shim and on ours: exec, kill, delete, ls, ps, pause/resume and
// the errors for misuse (exec into a stopped task, delete of a running task).
import { describe } from 'node:test';
import assert from 'node:assert/strict';
import { differential, e2eSkipReason, failure, outcome, useContainerd, assertSameFailure, parseTaskList } from './harness/index.js';

describe('task lifecycle', { skip: e2eSkipReason() ?? false }, () => {
  const ctx = useContainerd();

  differential(ctx, 'task exec: output and exit code', async (env) => {
    const id = env.id('exec');
    await env.runDetached(id);
    const ok = await env.ctr.run(['task', 'exec', '--exec-id', 'e1', id, 'sh', '-c', 'echo from exec; echo to stderr >&2']);
    const code = await env.ctr.run(['task', 'exec', '--exec-id', 'e2', id, 'sh', '-c', 'exit 42']);
    const stdin = await env.ctr.run(['task', 'exec', '--exec-id', 'e3', id, 'cat'], { input: 'piped into exec\n' });
    return { ok: outcome(ok, env.ids), code: outcome(code, env.ids), stdin: outcome(stdin, env.ids) };
  }, {
    check: (o) => {
      assert.deepEqual(o.ok, { exitCode: 0, stdout: 'from exec\n', stderr: 'to stderr\n' });
      assert.equal(o.code.exitCode, 42);
    },
  });

  differential(ctx, 'task exec into a stopped task is refused', async (env) => {
    const id = env.id('stopped');
    // ctr run deletes the task when it ends; a detached run leaves the stopped task in place.
    const r = await env.run(id, ['true'], { detach: true });
    assert.equal(r.code, 0, r.err);
    await env.waitStatus(id, 'STOPPED');
    return failure(await env.ctr.run(['task', 'exec', '--exec-id', 'late', id, 'echo', 'never']), env.ids);
  }, {
    check: (o) => assert.notEqual(o.exitCode, 0),
    compare: (mine, ref) => assertSameFailure(mine, ref, { stateRefusal: true }),
  });

  differential(ctx, 'kill then delete', async (env) => {
    const id = env.id('kill');
    await env.runDetached(id);
    const kill = await env.ctr.run(['task', 'kill', '-s', 'SIGKILL', id]);
    await env.waitStatus(id, 'STOPPED');
    const del = await env.ctr.run(['task', 'rm', id]);
    const after = await env.ctr.taskStatus(id);
    return { kill: outcome(kill, env.ids), del: outcome(del, env.ids), after: after ?? 'gone' };
  }, {
    check: (o) => {
      assert.equal(o.kill.exitCode, 0);
      assert.equal(o.del.exitCode, 0, o.del.stderr);
      assert.equal(o.after, 'gone');
    },
  });

  differential(ctx, 'task ls and task ps', async (env) => {
    const id = env.id('ls');
    await env.runDetached(id);
    const ls = parseTaskList((await env.ctr.ok(['task', 'ls'])).out).find((t) => t.id === id);
    const ps = (await env.ctr.ok(['task', 'ps', id])).out.trim().split('\n');
    const [header, ...rows] = ps;
    const pids = rows.map((r) => Number(r.trim().split(/\s+/)[0]));
    return {
      ls: { status: ls?.status, pidIsPositive: (ls?.pid ?? 0) > 0 },
      psHeader: header?.trim().split(/\s+/),
      psRows: rows.length,
      psListsInit: ls !== undefined && pids.includes(ls.pid),
    };
  }, {
    check: (o) => assert.deepEqual(o, { ls: { status: 'RUNNING', pidIsPositive: true }, psHeader: ['PID', 'INFO'], psRows: 1, psListsInit: true }),
  });

  differential(ctx, 'pause and resume', async (env) => {
    const id = env.id('pause');
    await env.runDetached(id);
    const pause = await env.ctr.run(['task', 'pause', id]);
    const paused = await env.ctr.taskStatus(id);
    const execWhilePaused = await env.ctr.run(['task', 'exec', '--exec-id', 'p1', id, 'true'], { timeoutMs: 10_000 });
    const resume = await env.ctr.run(['task', 'resume', id]);
    const resumed = await env.ctr.taskStatus(id);
    const exec = await env.ctr.run(['task', 'exec', '--exec-id', 'p2', id, 'echo', 'alive']);
    return {
      pause: outcome(pause, env.ids), paused, resume: outcome(resume, env.ids), resumed, exec: outcome(exec, env.ids),
      execWhilePaused: execWhilePaused.timedOut ? 'timed out' : failure(execWhilePaused, env.ids),
    };
  }, {
    check: (o) => {
      assert.equal(o.pause.exitCode, 0, o.pause.stderr);
      assert.equal(o.paused, 'PAUSED');
      assert.equal(o.resume.exitCode, 0, o.resume.stderr);
      assert.equal(o.resumed, 'RUNNING');
      assert.deepEqual(o.exec, { exitCode: 0, stdout: 'alive\n', stderr: '' });
    },
    compare: (mine, ref) => {
      const { execWhilePaused: a, ...restMine } = mine;
      const { execWhilePaused: b, ...restRef } = ref;
      assert.deepEqual(restMine, restRef);
      if (typeof a === 'string' || typeof b === 'string') assert.equal(a, b);
      else assertSameFailure(a, b, { stateRefusal: true });
    },
  });

  differential(ctx, 'task delete of a running task is refused', async (env) => {
    const id = env.id('rmrunning');
    await env.runDetached(id);
    const del = failure(await env.ctr.run(['task', 'rm', id]), env.ids);
    const still = await env.ctr.taskStatus(id);
    return { del, still };
  }, {
    check: (o) => { assert.notEqual(o.del.exitCode, 0); assert.equal(o.still, 'RUNNING'); },
    compare: (mine, ref) => { assert.equal(mine.still, ref.still); assertSameFailure(mine.del, ref.del, { stateRefusal: true }); },
  });
});
