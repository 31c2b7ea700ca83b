// `node dist/bench/exec-phases.js [--reps 30] [--gap-ms 200] [--env VAR=1,…]` (needs `perf`, root): where a
// `ctr task exec /bin/true` spends its time, ours against the reference in one private
// containerd. The kernel's sched_process_exec/exit tracepoints (`perf record -a`, no probes in
// either shim) give, for every ctr process, when its runc was started and when it exited, so each
// exec splits into: before runc (ctr start-up, containerd, the shim's Exec, and for the reference
// its Start), runc (spawn to exit; ours waits for its spec in part of it) and after runc (the
// shim's Start reply, Wait and Delete, containerd, ctr's exit). Prints one JSON line of medians,
// and each shim's own CPU time per exec (its threads' schedstat over the timed execs; not runc's).
// `--env` goes to containerd and so to our shims (a lever to look at; the Go shim ignores it).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Containerd } from '../test/e2e/harness/containerd.js';
import { busyboxImage } from '../test/e2e/harness/oci-image.js';
import { REFERENCE, TS_RUNC } from '../test/e2e/harness/runtimes.js';
import { flag, parseEnvSpec, runWarmTask } from './tool-support.js';
import { summarize } from './stats.js';
import { processesSchedstat, schedstatSince, shimProcesses, type ThreadsSchedstat } from './procfs.js';

interface TraceEvent {
  readonly ms: number;
  readonly pid: number;
  readonly kind: 'exec' | 'exit';
  readonly filename: string;
}

/** `perf script -F pid,time,event,trace` lines → exec/exit events. */
export function parsePerfScript(text: string): TraceEvent[] {
  const out: TraceEvent[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*(\d+)\s+([\d.]+):\s+sched:sched_process_(exec|exit):\s*(.*)$/.exec(line);
    if (!m) continue;
    const filename = /filename=(\S+)/.exec(m[4]!)?.[1] ?? '';
    out.push({ pid: Number(m[1]), ms: Number(m[2]) * 1000, kind: m[3] as 'exec' | 'exit', filename });
  }
  return out;
}

export interface ExecPhases {
  readonly side: 'ours' | 'reference';
  readonly totalMs: number;
  readonly beforeRuncMs: number;
  readonly runcMs: number;
  readonly afterRuncMs: number;
}

/**
 * One entry per ctr process during which a runc (from disk, or our sealed copy `/proc/self/fd/N`)
 * was started and exited; `isOurs(ctrStartMs)` says which shim that ctr talked to.
 */
export function splitPhases(events: readonly TraceEvent[], isOurs: (ctrStartMs: number) => boolean): ExecPhases[] {
  const exits = new Map<number, number[]>();
  for (const e of events) if (e.kind === 'exit') (exits.get(e.pid) ?? exits.set(e.pid, []).get(e.pid)!).push(e.ms);
  const rows: ExecPhases[] = [];
  for (const ctr of events) {
    if (ctr.kind !== 'exec' || !ctr.filename.endsWith('/ctr')) continue;
    const end = exits.get(ctr.pid)?.find((t) => t >= ctr.ms);
    if (end === undefined) continue;
    const runc = events.find((e) => e.kind === 'exec' && e.ms >= ctr.ms && e.ms <= end && (e.filename.endsWith('/runc') || /^\/proc\/self\/fd\/\d+$/.test(e.filename)));
    if (!runc) continue;
    const runcEnd = exits.get(runc.pid)?.find((t) => t >= runc.ms);
    if (runcEnd === undefined || runcEnd > end) continue;
    rows.push({ side: isOurs(ctr.ms) ? 'ours' : 'reference', totalMs: end - ctr.ms, beforeRuncMs: runc.ms - ctr.ms, runcMs: runcEnd - runc.ms, afterRuncMs: end - runcEnd });
  }
  return rows;
}

/** Stops `perf record` (SIGINT makes it write its data) and waits for it; nothing if it is gone. */
async function stopPerf(perf: ChildProcess | undefined): Promise<void> {
  if (!perf || perf.exitCode !== null || perf.signalCode !== null) return;
  const exited = new Promise((r) => perf.once('exit', r));
  perf.kill('SIGINT');
  await exited;
}

async function main(): Promise<void> {
  const reps = Number(flag('reps', '30'));
  const gapMs = Number(flag('gap-ms', '200'));
  if (spawnSync('perf', ['--version']).status !== 0) {
    console.error('exec-phases needs perf (Debian: linux-perf)');
    process.exit(2);
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'exec-phases-'));
  const data = path.join(dir, 'perf.data');
  const env = parseEnvSpec(flag('env', ''));
  const cd = await Containerd.start({ namespace: 'phases', extraEnv: env });
  // Whose each timed ctr was, in start order: the execs run one at a time.
  const order: ('ours' | 'reference')[] = [];
  const shims = { ours: [] as number[], reference: [] as number[] };
  let perf: ChildProcess | undefined;
  const zero: ThreadsSchedstat = { cpuMs: 0, waitMs: 0, slices: 0 };
  const before = { ours: zero, reference: zero };
  const unmeasured: ThreadsSchedstat = { cpuMs: NaN, waitMs: NaN, slices: NaN };
  const spent = { ours: unmeasured, reference: unmeasured };
  try {
    const image = await cd.importImage(busyboxImage());
    for (const [id, rt] of [['ref', REFERENCE], ['ts', TS_RUNC]] as const) await runWarmTask(cd, image, rt, id);
    // The shim processes themselves (argv holds the address), not their runtimes or helpers.
    const shimRoots = (marker: string): number[] => shimProcesses(cd.address, marker).filter((p) => p.argv.includes(cd.address)).map((p) => p.pid);
    for (const [side, marker] of [['ours', 'containerd-shim-ts-v2'], ['reference', 'containerd-shim-runc-v2']] as const) shims[side] = shimRoots(marker);
    const statNow = (side: 'ours' | 'reference'): ThreadsSchedstat => processesSchedstat(shims[side]);
    before.ours = statNow('ours');
    before.reference = statNow('reference');
    perf = spawn('perf', ['record', '-q', '-e', 'sched:sched_process_exec', '-e', 'sched:sched_process_exit', '-a', '-o', data], { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 1000));
    for (let i = 0; i < reps; i++) {
      for (const id of i % 2 === 0 ? ['ts', 'ref'] : ['ref', 'ts']) {
        await new Promise((r) => setTimeout(r, gapMs));
        order.push(id === 'ts' ? 'ours' : 'reference');
        const r = await cd.ctr.run(['task', 'exec', '--exec-id', `x${i}`, id, '/bin/true']);
        if (r.code !== 0) throw new Error(`exec failed: ${r.err}`);
      }
    }
    for (const side of ['ours', 'reference'] as const) spent[side] = schedstatSince(before[side], statNow(side));
    await stopPerf(perf);
  } catch (err) {
    // A failed exec must not leave the recorder running system-wide, nor its data behind.
    await stopPerf(perf);
    rmSync(dir, { recursive: true, force: true });
    throw err;
  } finally {
    await cd.stop();
  }
  const script = spawnSync('perf', ['script', '-i', data, '-F', 'pid,time,event,trace'], { encoding: 'utf8', maxBuffer: 256 << 20 });
  rmSync(dir, { recursive: true, force: true });
  const events = parsePerfScript(script.stdout);
  // The timed ctr processes in start order (only `ctr task exec` ran while perf recorded);
  // `order` says whose each was.
  const ctrStarts = events.filter((e) => e.kind === 'exec' && e.filename.endsWith('/ctr')).map((e) => e.ms).sort((a, b) => a - b);
  if (ctrStarts.length !== order.length) throw new Error(`perf saw ${ctrStarts.length} ctr processes for ${order.length} execs`);
  const sideOf = new Map(ctrStarts.map((t, i) => [t, order[i]!]));
  const rows = splitPhases(events, (t) => sideOf.get(t) === 'ours');
  const median = (side: 'ours' | 'reference', k: keyof Omit<ExecPhases, 'side'>): number => {
    const v = rows.filter((r) => r.side === side).map((r) => r[k]);
    return v.length > 0 ? Math.round(summarize(v).median * 100) / 100 : NaN;
  };
  const report = (side: 'ours' | 'reference') => ({
    n: rows.filter((r) => r.side === side).length,
    totalMs: median(side, 'totalMs'),
    beforeRuncMs: median(side, 'beforeRuncMs'),
    runcMs: median(side, 'runcMs'),
    afterRuncMs: median(side, 'afterRuncMs'),
    shimCpuMsPerExec: Math.round((spent[side].cpuMs / reps) * 100) / 100,
    shimRunQueueMsPerExec: Math.round((spent[side].waitMs / reps) * 100) / 100,
    shimTimeslicesPerExec: Math.round((spent[side].slices / reps) * 10) / 10,
  });
  console.log(JSON.stringify({ bench: 'containerd-shim-ts-exec-phases', date: new Date().toISOString(), reps, gapMs, env, ours: report('ours'), reference: report('reference') }));
}

if (process.argv[1] && path.resolve(process.argv[1]).endsWith(path.join('bench', 'exec-phases.js'))) await main();
