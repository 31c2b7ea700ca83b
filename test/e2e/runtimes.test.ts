// Long: our shim driving crun and runsc, compared with the reference shim on runc. Output bytes
// and exit codes do not depend on the OCI runtime, so the reference is runc for every row.
import { describe } from 'node:test';
import assert from 'node:assert/strict';
import { differential, e2eSkipReason, longSkipReason, outcome, useContainerd, TS_CRUN, TS_RUNSC, TS_RUNC } from './harness/index.js';

describe('OCI runtimes under our shim', { skip: e2eSkipReason() ?? longSkipReason() ?? false }, () => {
  const ctx = useContainerd();
  const ours = [TS_RUNC, TS_CRUN, TS_RUNSC];

  differential(ctx, 'run --rm with stdout, stderr and exit code', async (env) => {
    return outcome(await env.run(env.id('rt'), ['sh', '-c', 'echo out; printf "err" >&2; exit 4']), env.ids);
  }, { ours, timeoutMs: 90_000, check: (o) => assert.deepEqual(o, { exitCode: 4, stdout: 'out\n', stderr: 'err' }) });

  differential(ctx, 'stdin and exec', async (env) => {
    const id = env.id('rt-exec');
    await env.runDetached(id);
    const ex = await env.ctr.run(['task', 'exec', '--exec-id', 'x', id, 'sh', '-c', 'cat; exit 9'], { input: 'abc\n' });
    return outcome(ex, env.ids);
  }, { ours, timeoutMs: 90_000, check: (o) => assert.deepEqual(o, { exitCode: 9, stdout: 'abc\n', stderr: '' }) });

  differential(ctx, '64 MiB of stdout byte-exact', async (env) => {
    const r = await env.run(env.id('big'), ['sh', '-c', 'head -c 67108864 /dev/zero | tr "\\0" "x"; echo end'], { timeoutMs: 120_000 });
    return { exitCode: r.code, length: r.stdout.length, allX: r.stdout.subarray(0, r.stdout.length - 4).every((b) => b === 0x78),
      tail: r.stdout.subarray(r.stdout.length - 4).toString() };
  }, { ours, timeoutMs: 150_000, check: (o) => assert.deepEqual(o, { exitCode: 0, length: 67108864 + 4, allX: true, tail: 'end\n' }) });

  differential(ctx, '20 containers at once', async (env) => {
    const runs = await Promise.all(Array.from({ length: 20 }, (_v, i) =>
      env.run(env.id(`many${i}`), ['sh', '-c', `echo container ${i}; exit ${i}`], { timeoutMs: 120_000 })));
    return runs.map((r) => outcome(r, env.ids));
  }, {
    timeoutMs: 150_000,
    check: (o) => assert.deepEqual(o, Array.from({ length: 20 }, (_v, i) => ({ exitCode: i, stdout: `container ${i}\n`, stderr: '' }))),
  });
});
