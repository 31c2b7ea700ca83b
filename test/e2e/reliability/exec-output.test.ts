// Exec output under churn (issue 7): `ctr task exec … echo` while other containers of the same
// namespace are created, exec'd into, killed and deleted through the one shared daemon. Every exec
// must print exactly its own line and exit with its own code.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { e2eSkipReason, REFERENCE, runtimeFlags, runtimeSkipReason, TS_RUNC, useContainerd, type RuntimeUnderTest } from '../harness/index.js';
import { pool, report, sizeFromEnv } from './load.js';

const CYCLES = sizeFromEnv('RELIABILITY_EXEC_CYCLES', 40);
const EXECS_PER = sizeFromEnv('RELIABILITY_EXECS_PER_CONTAINER', 4);
const PARALLEL = sizeFromEnv('RELIABILITY_EXEC_PARALLEL', 6);
const tag = randomBytes(3).toString('hex');

describe('exec output under churn', { skip: e2eSkipReason() ?? false }, () => {
  const ctx = useContainerd({ logLevel: process.env.RELIABILITY_DEBUG ? 'debug' : 'info' });

  const churn = async (rt: RuntimeUnderTest, cycles: number): Promise<{ lost: string[]; execs: number; elapsedMs: number }> => {
    const ctr = ctx.cd.ctr;
    const lost: string[] = [];
    let execs = 0;
    const started = Date.now();
    await pool(cycles, PARALLEL, async (n) => {
      const id = `xo-${tag}-${rt.reference ? 'ref' : 'ts'}-${n}`;
      const run = await ctr.run(['run', '-d', ...runtimeFlags(ctx.cd, rt), ctx.image, id, 'sleep', '1000'], { timeoutMs: 60_000 });
      assert.equal(run.code, 0, `run ${id}: ${run.err}`);
      try {
        await Promise.all(Array.from({ length: EXECS_PER }, async (_v, k) => {
          const code = (n * EXECS_PER + k) % 200;
          const exec = await ctr.run(['task', 'exec', '--exec-id', `e${k}`, id, 'sh', '-c', `echo exec ${n}.${k}; exit ${code}`], { timeoutMs: 60_000 });
          execs++;
          assert.equal(exec.code, code, `exec ${n}.${k} in ${id}: ${exec.err}`);
          if (exec.out !== `exec ${n}.${k}\n`) lost.push(`${id} e${k}: ${JSON.stringify(exec.out)} ${JSON.stringify(exec.err)}`);
        }));
      } finally {
        await ctr.run(['task', 'kill', '-s', 'SIGKILL', id], { timeoutMs: 30_000 });
        await ctr.run(['task', 'rm', '-f', id], { timeoutMs: 30_000 });
        await ctr.run(['containers', 'rm', id], { timeoutMs: 30_000 });
      }
    });
    return { lost, execs, elapsedMs: Date.now() - started };
  };

  const only = process.env.RELIABILITY_EXEC_ONLY;
  for (const rt of [TS_RUNC, REFERENCE].filter((r) => only === undefined || (only === 'reference') === r.reference)) {
    test(`${rt.label}: ${CYCLES} containers × ${EXECS_PER} execs, ${PARALLEL} in parallel, no exec output lost`, {
      skip: runtimeSkipReason(rt) ?? false, timeout: Math.max(120_000, CYCLES * 3_000),
    }, async (t) => {
      const r = await churn(rt, CYCLES);
      const numbers = { runtime: rt.label, containers: CYCLES, execsPerContainer: EXECS_PER, parallel: PARALLEL, execs: r.execs, lost: r.lost.length, elapsedMs: r.elapsedMs };
      t.diagnostic(JSON.stringify(numbers));
      for (const l of r.lost) t.diagnostic(`lost: ${l}`);
      report('exec-output', numbers);
      assert.deepEqual(r.lost, [], `${rt.label}: exec output lost`);
    });
  }
});
