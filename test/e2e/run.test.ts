// `ctr run --rm` on the reference shim and on ours: output bytes, exit codes, stdin, signals.
import { describe } from 'node:test';
import assert from 'node:assert/strict';
import { differential, e2eSkipReason, outcome, useContainerd, waitFor, type Outcome } from './harness/index.js';

describe('ctr run', { skip: e2eSkipReason() ?? false }, () => {
  const ctx = useContainerd();

  differential(ctx, 'echo: exact stdout, exit 0', async (env) => {
    return outcome(await env.run(env.id('echo'), ['echo', 'hello from containerd']), env.ids);
  }, { check: (o) => assert.deepEqual(o, { exitCode: 0, stdout: 'hello from containerd\n', stderr: '' }) });

  differential(ctx, 'exit code propagation (sh -c "exit 7")', async (env) => {
    return outcome(await env.run(env.id('exit7'), ['sh', '-c', 'exit 7']), env.ids);
  }, { check: (o) => assert.deepEqual(o, { exitCode: 7, stdout: '', stderr: '' }) });

  differential(ctx, 'last line without newline is not lost', async (env) => {
    return outcome(await env.run(env.id('nonl'), ['sh', '-c', 'printf "one\\ntwo\\nno newline"']), env.ids);
  }, { check: (o) => assert.equal(o.stdout, 'one\ntwo\nno newline') });

  differential(ctx, 'stderr is kept apart from stdout', async (env) => {
    return outcome(await env.run(env.id('stderr'), ['sh', '-c', 'echo out; echo err >&2; exit 3']), env.ids);
  }, { check: (o) => assert.deepEqual(o, { exitCode: 3, stdout: 'out\n', stderr: 'err\n' }) });

  const input = Array.from({ length: 200 }, (_v, i) => `line ${i}\n`).join('') + 'tail without newline';
  differential(ctx, 'stdin piped into ctr run reaches the container and EOF ends it', async (env) => {
    return outcome(await env.run(env.id('stdin'), ['sh', '-c', 'cat; echo; echo done'], { input }), env.ids);
  }, { check: (o) => assert.deepEqual(o, { exitCode: 0, stdout: `${input}\ndone\n`, stderr: '' }) });

  differential(ctx, 'killed by SIGKILL: ctr run reports 137', async (env): Promise<Outcome> => {
    const id = env.id('sigkill');
    const running = env.run(id, ['sleep', '1000']);
    await env.waitStatus(id, 'RUNNING', 20_000);
    const kill = await env.ctr.run(['task', 'kill', '-s', 'SIGKILL', id]);
    assert.equal(kill.code, 0, kill.err);
    return outcome(await running, env.ids);
  }, { check: (o) => assert.deepEqual(o, { exitCode: 137, stdout: '', stderr: '' }) });

  // pid 1 of a pid namespace ignores signals it has no handler for (SIGTERM would do nothing), so
  // death by SIGTERM is shown on an exec process, which is not pid 1.
  differential(ctx, 'exec killed by SIGTERM: ctr task exec reports 143', async (env): Promise<Outcome> => {
    const id = env.id('sigterm');
    await env.runDetached(id);
    const exec = env.ctr.run(['task', 'exec', '--exec-id', 'victim', id, 'sleep', '1000']);
    await waitFor('exec to run', async () => {
      const ps = await env.ctr.run(['task', 'ps', id]);
      return ps.out.trim().split('\n').length >= 3 ? true : undefined;
    });
    const kill = await env.ctr.run(['task', 'kill', '--exec-id', 'victim', '-s', 'SIGTERM', id]);
    assert.equal(kill.code, 0, kill.err);
    return outcome(await exec, env.ids);
  }, { check: (o) => assert.deepEqual(o, { exitCode: 143, stdout: '', stderr: '' }) });
});
