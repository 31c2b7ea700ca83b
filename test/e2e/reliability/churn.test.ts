// Churn: many containers created, run, exec'd into and deleted through containerd, then a count of
// everything a leak would leave: processes, zombies, the shared daemon's fds and memory, mounts,
// fifos, sockets, bundles and runtime state dirs. Our shim (one daemon per namespace) and the
// reference (one shim per container) go through the same cycle; both must leave nothing behind.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import {
  e2eSkipReason, REFERENCE, runtimeFlags, runtimeSkipReason, sleep, TS_RUNC, useContainerd, waitFor,
  type RuntimeUnderTest,
} from '../harness/index.js';
import { socketPath } from '../../../src/shim/address.js';
import {
  descendants, diskLeftovers, fdKinds, fdTargets, memoryKiB, ourDaemons, processes, referenceShims, type Proc,
} from './probe.js';
import { pool, report, sizeFromEnv } from './load.js';
import { DaemonMemoryProbe } from './daemon-memory.js';
import type { MemoryReport } from '../../../src/shim/memory-debug.js';

const CHURN = sizeFromEnv('RELIABILITY_CHURN', 100);
const CHURN_REF = sizeFromEnv('RELIABILITY_CHURN_REF', 20);
const PARALLEL = sizeFromEnv('RELIABILITY_PARALLEL', 4);
// Enough that the JIT and malloc's arenas have warmed up before the memory baseline is taken.
const WARMUP = 30;
const tag = randomBytes(3).toString('hex');
// RELIABILITY_HEAPSNAPSHOT_DIR=<dir>: also write the daemon's heap snapshots before and after the
// churn into <dir> (compare them with scripts/heap-diff.mjs).
const SNAPSHOT_DIR = process.env.RELIABILITY_HEAPSNAPSHOT_DIR || undefined;

/** Live bytes in the V8 spaces that hold objects (not compiled code, which grows as the JIT warms up). */
const jsObjectBytes = (r: MemoryReport): number =>
  Object.entries(r.heapSpaces).filter(([name]) => !name.includes('code')).reduce((sum, [, s]) => sum + s.used, 0);

/** The daemon's own memory: anonymous mappings (V8's heap pages, malloc arenas) and malloc's brk heap. */
const privateAnonKiB = (r: MemoryReport): number => (r.mappingsPssKiB['[anon]'] ?? 0) + (r.mappingsPssKiB['[heap]'] ?? 0);

describe('churn', { skip: e2eSkipReason() ?? false }, () => {
  // Before useContainerd: containerd, and so our daemon, inherit the hook's variable at start.
  const memProbe = new DaemonMemoryProbe(SNAPSHOT_DIR);
  after(() => memProbe.dispose());
  const ctx = useContainerd();
  const ctr = () => ctx.cd.ctr;
  const lostOutput: string[] = [];

  /** One full cycle: run -d, exec (own exit code and output), kill, delete task and container. */
  const cycle = async (rt: RuntimeUnderTest, id: string, n: number): Promise<void> => {
    const run = await ctr().run(['run', '-d', ...runtimeFlags(ctx.cd, rt), ctx.image, id, 'sleep', '1000'], { timeoutMs: 60_000 });
    assert.equal(run.code, 0, `run ${id}: ${run.err}`);
    const code = n % 200;
    const exec = await ctr().run(['task', 'exec', '--exec-id', `x${n}`, id, 'sh', '-c', `echo exec ${n}; exit ${code}`], { timeoutMs: 60_000 });
    assert.equal(exec.code, code, `exec in ${id}: ${exec.err}`);
    // Counted, and asserted for ours after the leak numbers are in (the reference is only reported).
    if (exec.out !== `exec ${n}\n`) lostOutput.push(`${rt.label} ${id}: ${JSON.stringify(exec.out)}`);
    const kill = await ctr().run(['task', 'kill', '-s', 'SIGKILL', id], { timeoutMs: 30_000 });
    assert.equal(kill.code, 0, `kill ${id}: ${kill.err}`);
    // rm -f waits for the exit the kill causes, then deletes.
    const rm = await ctr().run(['task', 'rm', '-f', id], { timeoutMs: 30_000 });
    assert.equal(rm.code, 0, `task rm ${id}: ${rm.err}`);
    const crm = await ctr().run(['containers', 'rm', id], { timeoutMs: 30_000 });
    assert.equal(crm.code, 0, `containers rm ${id}: ${crm.err}`);
  };

  /** Waits until `probe` holds (leftovers can take a moment: shims exit after their last delete). */
  const settle = async (probe: () => boolean, ms = 15_000): Promise<boolean> => {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      if (probe()) return true;
      await sleep(200);
    }
    return probe();
  };

  const leftoverChecks = (rt: RuntimeUnderTest, ids: readonly string[], anchor: string): Record<string, unknown> => {
    const disk = diskLeftovers(ctx.cd, ctx.cd.namespace);
    const sockets = ids.filter((id) => existsSync(socketPath(ctx.cd.address, ctx.cd.namespace, id)));
    const fifoDir = ctx.cd.ctrFifoDir;
    let ctrFifos: string[] = [];
    try {
      ctrFifos = readdirSync(fifoDir).flatMap((d) => { try { return readdirSync(path.join(fifoDir, d)); } catch { return []; } })
        .filter((f) => ids.some((id) => f.startsWith(`${id}-`)));
    } catch { /* no fifo dir */ }
    assert.deepEqual(disk.bundles, [anchor], `${rt.label}: bundles left`);
    assert.deepEqual(disk.runtimeState.filter((d) => !d.endsWith(`/${anchor}`)), [], `${rt.label}: runtime state left`);
    assert.deepEqual(disk.fifos.filter((f) => !f.includes(`/${anchor}/`)), [], `${rt.label}: fifos under the containerd dir`);
    assert.deepEqual(disk.mounts.filter((m) => !m.includes(`/${anchor}/`)), [], `${rt.label}: mounts left`);
    assert.deepEqual(sockets, [], `${rt.label}: per-task sockets left`);
    assert.deepEqual(ctrFifos, [], `${rt.label}: client fifos left`);
    return { bundles: disk.bundles.length, mounts: disk.mounts.length, fifos: disk.fifos.length, runtimeState: disk.runtimeState.length, sockets: sockets.length };
  };

  /**
   * The daemon's numbers after a full GC; with RELIABILITY_HEAPSNAPSHOT_DIR also its smaps and a
   * heap snapshot (taken after the numbers: writing a snapshot allocates).
   */
  const measureMemory = async (daemon: number, when: string): Promise<MemoryReport | undefined> => {
    const numbers = await memProbe.measure(daemon, 'gc');
    if (SNAPSHOT_DIR) {
      // (copyFileSync copies nothing of a /proc file: its size is 0)
      writeFileSync(path.join(memProbe.dir, `smaps-${daemon}-${when}`), readFileSync(`/proc/${daemon}/smaps`));
      const snap = await memProbe.measure(daemon, 'snapshot');
      if (snap?.snapshot) renameSync(snap.snapshot, path.join(memProbe.dir, `daemon-${daemon}-${when}.heapsnapshot`));
    }
    return numbers;
  };

  const zombiesUnder = (pids: readonly number[], procs: readonly Proc[]): Proc[] =>
    procs.filter((p) => p.state === 'Z' && (pids.includes(p.ppid) || pids.some((r) => descendants(r, procs).some((d) => d.pid === p.pid))));

  test(`${TS_RUNC.label}: ${CHURN} containers through one shared daemon leak nothing`, {
    skip: runtimeSkipReason(TS_RUNC) ?? false, timeout: Math.max(180_000, CHURN * 3_000),
  }, async (t) => {
    const anchor = `churn-anchor-${tag}`;
    const run = await ctr().run(['run', '-d', ...runtimeFlags(ctx.cd, TS_RUNC), ctx.image, anchor, 'sleep', '100000']);
    assert.equal(run.code, 0, run.err);
    try {
      const daemons = await waitFor('our daemon', () => { const d = ourDaemons(ctx.cd); return d.length > 0 ? d : undefined; });
      assert.equal(daemons.length, 1, `one shared daemon expected, found ${daemons.map((d) => d.pid).join(', ')}`);
      const daemon = daemons[0]!.pid;
      const ids: string[] = [];
      const idFor = (i: number): string => { const id = `churn-${tag}-${i}`; ids.push(id); return id; };
      await pool(WARMUP, PARALLEL, (i) => cycle(TS_RUNC, idFor(i), i));
      await sleep(1_000);
      const gcBefore = await measureMemory(daemon, 'before');
      const before = { fds: fdTargets(daemon).length, kinds: fdKinds(daemon), mem: memoryKiB(daemon)!, children: descendants(daemon).map((p) => p.pid).sort() };
      const started = Date.now();
      await pool(CHURN, PARALLEL, (i) => cycle(TS_RUNC, idFor(WARMUP + i), WARMUP + i));
      const elapsedMs = Date.now() - started;
      // Let copies finish and the runtime's helpers exit before counting.
      await settle(() => fdTargets(daemon).length <= before.fds && descendants(daemon).length === before.children.length);
      const gcAfter = await measureMemory(daemon, 'after');
      const procs = processes();
      const after = { fds: fdTargets(daemon).length, kinds: fdKinds(daemon), mem: memoryKiB(daemon)!, children: descendants(daemon, procs).map((p) => p.pid).sort() };
      const numbers = {
        runtime: TS_RUNC.label, containers: CHURN, warmup: WARMUP, parallel: PARALLEL, elapsedMs,
        perContainerMs: Math.round(elapsedMs / CHURN * PARALLEL),
        fdsBefore: before.fds, fdsAfter: after.fds, fdKindsBefore: before.kinds, fdKindsAfter: after.kinds,
        rssKiBBefore: before.mem.rss, rssKiBAfter: after.mem.rss, pssKiBBefore: before.mem.pss, pssKiBAfter: after.mem.pss,
        ...(gcBefore && gcAfter ? {
          gcHeapUsedKiBBefore: Math.round(gcBefore.memoryUsage.heapUsed / 1024), gcHeapUsedKiBAfter: Math.round(gcAfter.memoryUsage.heapUsed / 1024),
          gcHeapTotalKiBBefore: Math.round(gcBefore.memoryUsage.heapTotal / 1024), gcHeapTotalKiBAfter: Math.round(gcAfter.memoryUsage.heapTotal / 1024),
          gcNewSpaceKiBBefore: Math.round((gcBefore.heapSpaces['new_space']?.size ?? 0) / 1024), gcNewSpaceKiBAfter: Math.round((gcAfter.heapSpaces['new_space']?.size ?? 0) / 1024),
          gcExternalKiBBefore: Math.round(gcBefore.memoryUsage.external / 1024), gcExternalKiBAfter: Math.round(gcAfter.memoryUsage.external / 1024),
          gcPssKiBBefore: gcBefore.pssKiB, gcPssKiBAfter: gcAfter.pssKiB, gcRssKiBBefore: gcBefore.rssKiB, gcRssKiBAfter: gcAfter.rssKiB,
          // Where PSS went, by mapping kind (malloc's [heap], other [anon]ymous memory, files).
          gcPssGrowthKiBByMapping: Object.fromEntries(Object.entries(gcAfter.mappingsPssKiB)
            .map(([k, v]) => [k, v - (gcBefore.mappingsPssKiB[k] ?? 0)] as const).filter(([, d]) => Math.abs(d) >= 128)),
        } : {}),
        ...(gcBefore && gcAfter ? {
          gcJsObjectsKiBGrowth: Math.round((jsObjectBytes(gcAfter) - jsObjectBytes(gcBefore)) / 1024),
          gcAnonKiBGrowth: privateAnonKiB(gcAfter) - privateAnonKiB(gcBefore),
        } : {}),
        daemonsAfter: ourDaemons(ctx.cd, procs).length,
        execOutputLost: lostOutput.filter((l) => l.startsWith(TS_RUNC.label)).length,
      };
      t.diagnostic(JSON.stringify(numbers));
      assert.deepEqual(ourDaemons(ctx.cd, procs).map((p) => p.pid), [daemon], `still exactly one daemon: ${JSON.stringify(ourDaemons(ctx.cd, procs))}`);
      assert.ok(procs.some((p) => p.pid === daemon), 'the same daemon served the whole churn');
      assert.deepEqual(zombiesUnder([daemon], procs), [], 'zombies under the daemon');
      assert.deepEqual(after.children, before.children, 'the daemon has the same children (the anchor container) as before');
      assert.ok(after.fds <= before.fds, `daemon fds: ${before.fds} before, ${after.fds} after (${JSON.stringify(before.kinds)} → ${JSON.stringify(after.kinds)})`);
      // Memory, after a full GC in the daemon (PSS seen from outside also counts garbage not yet
      // collected, and shifts with how many other node processes share the binary's pages). A leak
      // of 20 KiB per container fails both bounds at CI size (see docs/reliability.md).
      assert.ok(gcBefore && gcAfter, `the daemon did not answer the memory request (${memProbe.dir})`);
      const jsGrowthKiB = Math.round((jsObjectBytes(gcAfter) - jsObjectBytes(gcBefore)) / 1024);
      const jsBoundKiB = 512 + 4 * CHURN;
      assert.ok(jsGrowthKiB < jsBoundKiB, `the daemon's live JS objects grew ${jsGrowthKiB} KiB over ${CHURN} containers (bound ${jsBoundKiB})`);
      // V8 may keep more free heap after the GC than before (its sizing: seen once as +1.3 MiB of
      // slack with +0.4 MiB of live objects); the live part is the JS bound's, so only the rest —
      // malloc, external buffers, V8's own tables — counts against this one.
      const slack = (m: typeof gcAfter): number => m.memoryUsage.heapTotal - m.memoryUsage.heapUsed;
      const v8SlackGrowthKiB = Math.max(0, Math.round((slack(gcAfter) - slack(gcBefore)) / 1024));
      const anonGrowthKiB = privateAnonKiB(gcAfter) - privateAnonKiB(gcBefore) - v8SlackGrowthKiB;
      // 4 MiB of fixed slack: after the GC the daemon's anonymous memory grows 1.7–4.2 MiB over
      // 100 containers whatever the build (nine runs at 75865e7 and after round 11, live JS +350–
      // 460 KiB; docs/reliability.md). At CI size this bound catches native leaks from ≈ 35 KiB
      // per container; the live-JS bound above catches JS leaks from ≈ 5 KiB, and the
      // 1,000-container soak smaller native ones.
      const anonBoundKiB = 4096 + 8 * CHURN;
      assert.ok(anonGrowthKiB < anonBoundKiB, `the daemon's anonymous memory grew ${anonGrowthKiB} KiB (after ${v8SlackGrowthKiB} KiB more free V8 heap) over ${CHURN} containers (bound ${anonBoundKiB})`);
      // A backstop on what an operator sees, GC or not.
      const boundKiB = 16 * 1024;
      assert.ok(after.mem.pss - before.mem.pss < boundKiB, `daemon PSS grew ${after.mem.pss - before.mem.pss} KiB over ${CHURN} containers (bound ${boundKiB})`);
      const disk = leftoverChecks(TS_RUNC, ids, anchor);
      report('churn', { ...numbers, disk });
      assert.deepEqual(lostOutput.filter((l) => l.startsWith(TS_RUNC.label)), [], 'exec output lost');
    } finally {
      await ctr().run(['task', 'rm', '-f', anchor], { timeoutMs: 30_000 });
      await ctr().run(['containers', 'rm', anchor], { timeoutMs: 30_000 });
    }
  });

  test(`${REFERENCE.label}: ${CHURN_REF} containers, the same leftover checks`, {
    skip: runtimeSkipReason(REFERENCE) ?? false, timeout: Math.max(120_000, CHURN_REF * 3_000),
  }, async (t) => {
    const anchor = `churn-ref-anchor-${tag}`;
    const run = await ctr().run(['run', '-d', ...runtimeFlags(ctx.cd, REFERENCE), ctx.image, anchor, 'sleep', '100000']);
    assert.equal(run.code, 0, run.err);
    try {
      const ids = Array.from({ length: CHURN_REF }, (_v, i) => `churn-ref-${tag}-${i}`);
      const started = Date.now();
      await pool(CHURN_REF, PARALLEL, (i) => cycle(REFERENCE, ids[i]!, i));
      const elapsedMs = Date.now() - started;
      // One reference shim per container: all but the anchor's must exit.
      const gone = await settle(() => referenceShims(ctx.cd).length === 1);
      const shims = referenceShims(ctx.cd);
      const procs = processes();
      const numbers = { runtime: REFERENCE.label, containers: CHURN_REF, parallel: PARALLEL, elapsedMs, shimsAfter: shims.length, execOutputLost: lostOutput.filter((l) => l.startsWith(REFERENCE.label)).length };
      t.diagnostic(JSON.stringify(numbers));
      assert.ok(gone, `reference shims left: ${shims.map((s) => s.pid).join(', ')}`);
      assert.deepEqual(zombiesUnder(shims.map((s) => s.pid), procs), [], 'zombies under the reference shim');
      const disk = leftoverChecks(REFERENCE, ids, anchor);
      report('churn-reference', { ...numbers, disk });
    } finally {
      await ctr().run(['task', 'rm', '-f', anchor], { timeoutMs: 30_000 });
      await ctr().run(['containers', 'rm', anchor], { timeoutMs: 30_000 });
    }
  });
});
