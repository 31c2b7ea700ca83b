// Exec output and the exit (issue 7). ctr opens its fifo readers with a blocking open(2) in a
// goroutine and, once Wait returns, calls DeleteProcess and cancels that open: a reader whose open
// has not returned yet is closed unread, and the bytes the shim already put in the fifo are lost
// (seen as `ctr task exec … echo` printing nothing with the right exit code, about 1 in 300 under
// churn, more often with the reference). Ours therefore answers Wait (and queues TaskExit) only
// after the client has read its fifo empty, bounded by 2 s; the reference answers at once.
//
// 1. Deterministic: a client that holds the fifos open but does not read; Wait must stay
//    unanswered while the output sits unread, answer right after the client reads, and answer
//    anyway after the bound when the client never reads.
// 2. Statistical: `ctr task exec … echo` while other containers of the namespace are created,
//    exec'd into, killed and deleted (RELIABILITY_EXEC_CYCLES containers × RELIABILITY_EXECS_PER_CONTAINER).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { closeSync, constants, mkdtempSync, openSync, readSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { create } from '@bufbuild/protobuf';
import { AnySchema } from '@bufbuild/protobuf/wkt';
import {
  e2eSkipReason, REFERENCE, runtimeFlags, runtimeSkipReason, sleep, TS_RUNC, useContainerd, withShim, TaskService,
  type RuntimeUnderTest,
} from '../harness/index.js';
import { bytesReadable, mkfifo } from '../../../src/sys/index.js';
import { pool, report, sizeFromEnv } from './load.js';

const CYCLES = sizeFromEnv('RELIABILITY_EXEC_CYCLES', 30);
const CYCLES_REF = sizeFromEnv('RELIABILITY_EXEC_CYCLES_REF', 15);
const EXECS_PER = sizeFromEnv('RELIABILITY_EXECS_PER_CONTAINER', 4);
const PARALLEL = sizeFromEnv('RELIABILITY_EXEC_PARALLEL', 6);
const tag = randomBytes(3).toString('hex');

describe('exec output under churn', { skip: e2eSkipReason() ?? false }, () => {
  const ctx = useContainerd({ logLevel: process.env.RELIABILITY_DEBUG ? 'debug' : 'info' });

  /** Reads what is in the fifo now (non-blocking reader). */
  const drain = (fd: number): string => {
    const buf = Buffer.alloc(65536);
    let text = '';
    for (;;) {
      let n: number;
      try {
        n = readSync(fd, buf, 0, buf.length, null);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') return text;
        throw err;
      }
      if (n === 0) return text;
      text += buf.subarray(0, n).toString('utf8');
    }
  };

  /**
   * Starts an exec whose stdout/stderr fifos the test holds open without reading, and reports
   * whether Wait was answered within `holdMs` and how many output bytes were unread then; reads
   * only after that (or never, with `read: false`) and reports when Wait came.
   */
  const heldReader = async (rt: RuntimeUnderTest, holdMs: number, read: boolean) => {
    const id = `xo-held-${tag}-${rt.reference ? 'ref' : 'ts'}-${read ? 'r' : 'n'}`;
    const dir = mkdtempSync(path.join(os.tmpdir(), 'xo-fifo-'));
    const fds: number[] = [];
    const run = await ctx.cd.ctr.run(['run', '-d', ...runtimeFlags(ctx.cd, rt), ctx.image, id, 'sleep', '1000'], { timeoutMs: 60_000 });
    assert.equal(run.code, 0, `run ${id}: ${run.err}`);
    try {
      const stdout = path.join(dir, 'stdout');
      const stderr = path.join(dir, 'stderr');
      mkfifo(stdout);
      mkfifo(stderr);
      const out = openSync(stdout, constants.O_RDONLY | constants.O_NONBLOCK);
      fds.push(out);
      fds.push(openSync(stderr, constants.O_RDONLY | constants.O_NONBLOCK));
      const meta = { metadata: [['containerd-namespace-ttrpc', ctx.cd.namespace]] as [string, string][], timeoutMs: 20_000 };
      const spec = create(AnySchema, {
        typeUrl: 'types.containerd.io/opencontainers/runtime-spec/1/Process',
        value: Buffer.from(JSON.stringify({ args: ['sh', '-c', 'echo held output; exit 7'], cwd: '/', env: ['PATH=/bin'], user: { uid: 0, gid: 0 } })),
      });
      return await withShim(ctx.cd, ctx.cd.namespace, id, async (client) => {
        await client.call(TaskService.method.exec, { id, execId: 'held', stdout, stderr, spec }, meta);
        await client.call(TaskService.method.start, { id, execId: 'held' }, meta);
        const started = Date.now();
        let waitedMs: number | undefined;
        const wait = client.call(TaskService.method.wait, { id, execId: 'held' }, { ...meta, timeoutMs: 30_000 })
          .then((r) => { waitedMs = Date.now() - started; return r; });
        await sleep(holdMs);
        const answeredWhileHeld = waitedMs !== undefined;
        const unreadWhileHeld = bytesReadable(out);
        const text = read ? drain(out) : '';
        const readAtMs = Date.now() - started;
        const r = await wait;
        const rest = drain(out); // EOF once the shim closed its writer
        await client.call(TaskService.method.delete, { id, execId: 'held' }, meta);
        return { answeredWhileHeld, unreadWhileHeld, text: text + rest, exitStatus: r.exitStatus, waitedMs: waitedMs!, readAtMs };
      });
    } finally {
      for (const fd of fds) closeSync(fd);
      rmSync(dir, { recursive: true, force: true });
      await ctx.cd.ctr.run(['task', 'kill', '-s', 'SIGKILL', id], { timeoutMs: 30_000 });
      await ctx.cd.ctr.run(['task', 'rm', '-f', id], { timeoutMs: 30_000 });
      await ctx.cd.ctr.run(['containers', 'rm', id], { timeoutMs: 30_000 });
    }
  };

  test(`${TS_RUNC.label}: Wait is answered only after the client read the exec's output`, {
    skip: runtimeSkipReason(TS_RUNC) ?? false, timeout: 90_000,
  }, async (t) => {
    const held = await heldReader(TS_RUNC, 700, true);
    t.diagnostic(JSON.stringify(held));
    assert.equal(held.unreadWhileHeld, 'held output\n'.length, 'the output waited in the fifo');
    assert.equal(held.answeredWhileHeld, false, 'Wait answered while the output was still unread');
    assert.equal(held.text, 'held output\n');
    assert.equal(held.exitStatus, 7);
    assert.ok(held.waitedMs >= held.readAtMs && held.waitedMs - held.readAtMs < 1_000, `Wait answered ${held.waitedMs - held.readAtMs} ms after the read`);
    // A client that never reads delays the exit by the bound only.
    const never = await heldReader(TS_RUNC, 0, false);
    t.diagnostic(JSON.stringify(never));
    assert.equal(never.exitStatus, 7);
    assert.ok(never.waitedMs >= 1_500 && never.waitedMs < 6_000, `Wait answered after ${never.waitedMs} ms without a read (bound 2 s)`);
    assert.equal(never.text, 'held output\n', 'the bytes stay in the fifo for a late reader');
  });

  test(`${REFERENCE.label}: Wait is answered while the exec's output is still unread (the race ctr loses)`, {
    skip: runtimeSkipReason(REFERENCE) ?? false, timeout: 90_000,
  }, async (t) => {
    const held = await heldReader(REFERENCE, 700, true);
    t.diagnostic(JSON.stringify(held));
    assert.equal(held.answeredWhileHeld, true, 'the reference answers Wait without waiting for the client');
    assert.equal(held.unreadWhileHeld, 'held output\n'.length);
    assert.equal(held.text, 'held output\n');
    assert.equal(held.exitStatus, 7);
  });

  // A background job that keeps the exec's stdout: the reference answers Wait at once and cuts the
  // copy off in Delete after 2 s; ours waits those 2 s before the exit and Delete shares that wait,
  // so ctr returns after one cut-off either way (it once took two, ≈ 4 s against 2).
  const leftover: Partial<Record<'ours' | 'reference', number>> = {};
  for (const rt of [REFERENCE, TS_RUNC]) {
    test(`${rt.label}: an exec whose background child keeps its stdout returns after one 2 s cut-off`, {
      skip: runtimeSkipReason(rt) ?? false, timeout: 90_000,
    }, async (t) => {
      const id = `xo-leftover-${tag}-${rt.reference ? 'ref' : 'ts'}`;
      const run = await ctx.cd.ctr.run(['run', '-d', ...runtimeFlags(ctx.cd, rt), ctx.image, id, 'sleep', '1000'], { timeoutMs: 60_000 });
      assert.equal(run.code, 0, `run ${id}: ${run.err}`);
      try {
        const started = Date.now();
        const exec = await ctx.cd.ctr.run(['task', 'exec', '--exec-id', 'bg', id, 'sh', '-c', 'sleep 40 & echo before-exit; exit 3'], { timeoutMs: 60_000 });
        const elapsedMs = Date.now() - started;
        t.diagnostic(JSON.stringify({ elapsedMs }));
        assert.equal(exec.code, 3, exec.err);
        assert.equal(exec.out, 'before-exit\n');
        assert.ok(elapsedMs >= 1_500 && elapsedMs < 30_000, `ctr returned after ${elapsedMs} ms: neither before the cut-off nor only when the child ended`);
        leftover[rt.reference ? 'reference' : 'ours'] = elapsedMs;
        const ref = leftover.reference;
        if (!rt.reference && ref !== undefined) {
          assert.ok(elapsedMs - ref < 1_500, `ours ${elapsedMs} ms against the reference's ${ref} ms: more than one cut-off`);
        }
      } finally {
        await ctx.cd.ctr.run(['task', 'kill', '-s', 'SIGKILL', id], { timeoutMs: 30_000 });
        await ctx.cd.ctr.run(['task', 'rm', '-f', id], { timeoutMs: 30_000 });
        await ctx.cd.ctr.run(['containers', 'rm', id], { timeoutMs: 30_000 });
      }
    });
  }

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
    const cycles = rt.reference ? CYCLES_REF : CYCLES;
    test(`${rt.label}: ${cycles} containers × ${EXECS_PER} execs, ${PARALLEL} in parallel, ${rt.reference ? 'output loss counted' : 'no exec output lost'}`, {
      skip: runtimeSkipReason(rt) ?? false, timeout: Math.max(120_000, cycles * 3_000),
    }, async (t) => {
      const r = await churn(rt, cycles);
      const numbers = { runtime: rt.label, containers: cycles, execsPerContainer: EXECS_PER, parallel: PARALLEL, execs: r.execs, lost: r.lost.length, elapsedMs: r.elapsedMs };
      t.diagnostic(JSON.stringify(numbers));
      for (const l of r.lost) t.diagnostic(`lost: ${l}`);
      report('exec-output', numbers);
      // Exit codes are asserted for both; the reference loses output here (see the file comment),
      // which is only counted. Ours must deliver every byte.
      if (!rt.reference) assert.deepEqual(r.lost, [], `${rt.label}: exec output lost`);
    });
  }
});
