// No data lost: many runs of a container that writes a known payload to stdout and stderr (each
// ending in a line without newline) and exits at once. Every byte must reach ctr, and containerd
// must see exactly one /tasks/exit per task, with the container's own status.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  e2eSkipReason, REFERENCE, runtimeFlags, runtimeSkipReason, TS_RUNC, useContainerd, type RuntimeUnderTest,
} from '../harness/index.js';
import { pool, report, sizeFromEnv } from './load.js';

const RUNS = sizeFromEnv('RELIABILITY_OUTPUT_RUNS', 200);
const RUNS_REF = sizeFromEnv('RELIABILITY_OUTPUT_RUNS_REF', 50);
const PARALLEL = sizeFromEnv('RELIABILITY_PARALLEL', 4);
const tag = randomBytes(3).toString('hex');

/** What run `i` prints: 1..N on stdout then an unterminated tail; the same shape on stderr. */
function expected(i: number): { stdout: string; stderr: string; code: number } {
  const lines = (n: number): string => Array.from({ length: n }, (_v, k) => `${k + 1}\n`).join('');
  return { stdout: `${lines(1500 + i)}out-tail-${i}`, stderr: `${lines(300)}err-tail-${i}`, code: i % 128 };
}

function script(i: number): string {
  return `seq 1 ${1500 + i}; printf out-tail-${i}; seq 1 300 >&2; printf err-tail-${i} >&2; exit ${i % 128}`;
}

describe('no output or exit status lost', { skip: e2eSkipReason() ?? false }, () => {
  const ctx = useContainerd();

  const campaign = async (rt: RuntimeUnderTest, runs: number): Promise<Record<string, unknown>> => {
    const ids = Array.from({ length: runs }, (_v, i) => `out-${rt.reference ? 'ref' : 'ts'}-${tag}-${i}`);
    const started = Date.now();
    const results = await pool(runs, PARALLEL, (i) => ctx.cd.ctr.run(
      ['run', '--rm', ...runtimeFlags(ctx.cd, rt), ctx.image, ids[i]!, 'sh', '-c', script(i)], { timeoutMs: 60_000 }));
    const elapsedMs = Date.now() - started;
    const bad: string[] = [];
    results.forEach((r, i) => {
      const e = expected(i);
      if (r.timedOut) bad.push(`${ids[i]}: timed out`);
      else if (r.code !== e.code) bad.push(`${ids[i]}: exit ${String(r.code)}, expected ${e.code}: ${r.err.slice(-300)}`);
      else if (r.out !== e.stdout) bad.push(`${ids[i]}: stdout ${r.out.length} bytes, expected ${e.stdout.length}; ends ${JSON.stringify(r.out.slice(-20))}`);
      else if (r.err !== e.stderr) bad.push(`${ids[i]}: stderr ${r.err.length} bytes, expected ${e.stderr.length}; ends ${JSON.stringify(r.err.slice(-20))}`);
    });
    // ctr run --rm returns after the delete; the events it caused may still be on their way.
    await ctx.events.waitUntil((es) => ids.every((id) => es.some((x) => x.topic === '/tasks/delete' && x.event.container_id === id)), 15_000);
    const eventProblems: string[] = [];
    ids.forEach((id, i) => {
      const exits = ctx.events.for(id).filter((e) => e.topic === '/tasks/exit' && (e.event.id ?? id) === id);
      const statuses = exits.map((e) => Number(e.event.exit_status ?? 0));
      if (statuses.length !== 1 || statuses[0] !== expected(i).code) eventProblems.push(`${id}: /tasks/exit statuses ${JSON.stringify(statuses)}, expected [${expected(i).code}]`);
      // The container exits at once, often before Start has replied: its exit must still follow its start.
      const order = ctx.events.topicsFor(id).filter((x) => ['/tasks/create', '/tasks/start', '/tasks/exit', '/tasks/delete'].includes(x));
      if (order.join(' ') !== '/tasks/create /tasks/start /tasks/exit /tasks/delete') eventProblems.push(`${id}: events ${order.join(' → ')}`);
    });
    return { runtime: rt.label, runs, parallel: PARALLEL, elapsedMs, outputProblems: bad, eventProblems };
  };

  test(`${TS_RUNC.label}: ${RUNS} runs, every byte and exactly one exit each`, {
    skip: runtimeSkipReason(TS_RUNC) ?? false, timeout: Math.max(180_000, RUNS * 2_000),
  }, async (t) => {
    const o = await campaign(TS_RUNC, RUNS);
    t.diagnostic(JSON.stringify({ ...o, outputProblems: (o.outputProblems as string[]).length, eventProblems: (o.eventProblems as string[]).length }));
    report('output', o);
    assert.deepEqual(o.outputProblems, [], 'output lost or wrong');
    assert.deepEqual(o.eventProblems, [], 'exit events lost, duplicated or wrong');
  });

  test(`${REFERENCE.label}: ${RUNS_REF} runs (reported; ours must do at least as well)`, {
    skip: runtimeSkipReason(REFERENCE) ?? false, timeout: Math.max(120_000, RUNS_REF * 2_000),
  }, async (t) => {
    const o = await campaign(REFERENCE, RUNS_REF);
    t.diagnostic(JSON.stringify(o));
    report('output-reference', o);
    // The reference is the baseline, not the bar: its losses are recorded in the report, and the
    // exit statuses (which it does keep) must be right so the test itself is known to be sound.
    assert.deepEqual(o.eventProblems, [], 'reference exit events');
  });
});
