// Concurrency: 64 `ctr task exec` at once into one container and 50 containers started at once.
// Nothing may hang, and every exec and container must report its own distinct exit code and output.
import { describe } from 'node:test';
import assert from 'node:assert/strict';
import { differential, e2eSkipReason, outcome, useContainerd } from '../harness/index.js';
import { report, sizeFromEnv } from './load.js';

const EXECS = sizeFromEnv('RELIABILITY_EXECS', 64);
const CONTAINERS = sizeFromEnv('RELIABILITY_CONTAINERS', 50);

describe('concurrency', { skip: e2eSkipReason() ?? false }, () => {
  const ctx = useContainerd();

  differential(ctx, `${EXECS} concurrent execs into one container`, async (env) => {
    const id = env.id('execs');
    await env.runDetached(id);
    const started = Date.now();
    const runs = await Promise.all(Array.from({ length: EXECS }, (_v, i) =>
      env.ctr.run(['task', 'exec', '--exec-id', `c${i}`, id, 'sh', '-c', `echo exec ${i}; echo err ${i} >&2; exit ${i}`], { timeoutMs: 120_000 })));
    const elapsedMs = Date.now() - started;
    report('concurrent-execs', { runtime: env.rt.label, execs: EXECS, elapsedMs, slowestMs: Math.max(...runs.map((r) => r.durationMs)) });
    // The container is still fine afterwards.
    const after = await env.ctr.run(['task', 'exec', '--exec-id', 'after', id, 'echo', 'still serving']);
    return { execs: runs.map((r) => outcome(r, env.ids)), after: outcome(after, env.ids) };
  }, {
    timeoutMs: 180_000,
    check: (o, rt) => {
      const want = Array.from({ length: EXECS }, (_v, i) => ({ exitCode: i, stdout: `exec ${i}\n`, stderr: `err ${i}\n` }));
      assert.deepEqual(o.execs.map((e) => e.exitCode), want.map((e) => e.exitCode), 'every exec exits with its own code');
      assert.deepEqual(o.after, { exitCode: 0, stdout: 'still serving\n', stderr: '' });
      const lost = o.execs.filter((e, i) => e.stdout !== want[i]!.stdout || e.stderr !== want[i]!.stderr).length;
      report('concurrent-execs-output', { runtime: rt.label, execs: EXECS, outputLost: lost });
      // The reference loses some execs' output when many exit at once (its copy races the exit);
      // that is recorded above. Ours must deliver every byte.
      if (!rt.reference) assert.deepEqual(o.execs, want);
    },
    compare: (mine) => assert.equal(mine.execs.length, EXECS),
  });

  differential(ctx, `${CONTAINERS} containers started at once`, async (env) => {
    const started = Date.now();
    const runs = await Promise.all(Array.from({ length: CONTAINERS }, (_v, i) =>
      env.run(env.id(`burst${i}`), ['sh', '-c', `echo container ${i}; exit ${i}`], { timeoutMs: 150_000 })));
    const elapsedMs = Date.now() - started;
    report('concurrent-containers', { runtime: env.rt.label, containers: CONTAINERS, elapsedMs, slowestMs: Math.max(...runs.map((r) => r.durationMs)) });
    return runs.map((r) => outcome(r, env.ids));
  }, {
    timeoutMs: 240_000,
    check: (o) => assert.deepEqual(o, Array.from({ length: CONTAINERS }, (_v, i) => ({ exitCode: i, stdout: `container ${i}\n`, stderr: '' }))),
  });
});
