// 4. Stdout throughput: a container writes N MiB of zeros to stdout, `ctr run` copies it to
// /dev/null. The clock and the shim CPU counters are read when the container says it starts
// writing and when it says it has finished (markers on stderr), while the container is still
// alive — so neither the shim's own start-up nor the container's reaped CPU time is counted.
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { alternate, containerId, removeContainers, sideFlags, type BenchContext, type Side } from '../context.js';
import { METRICS, result, type MetricResult } from '../metrics.js';
import { readCpuTicks, shimProcesses, ticksPerSecond } from '../procfs.js';

const START = 'BENCH-START';
const DONE = 'BENCH-DONE';

/** CPU ticks of each process of `side`'s shim now. */
function cpuSnapshot(ctx: BenchContext, side: Side): Map<number, number> {
  const out = new Map<number, number>();
  for (const p of shimProcesses(ctx.cd.address, side.marker)) {
    const t = readCpuTicks(p.pid);
    if (t !== undefined) out.set(p.pid, t);
  }
  return out;
}

/** Ticks used between two snapshots (a process that appeared in between counts in full). */
function cpuDelta(before: Map<number, number>, after: Map<number, number>): number {
  let sum = 0;
  for (const [pid, t] of after) sum += t - (before.get(pid) ?? 0);
  return sum;
}

interface OneRun { readonly seconds: number; readonly ticks: number }

function runOnce(ctx: BenchContext, side: Side, id: string, mib: number): Promise<OneRun> {
  // `read` keeps the container (and its shim's counters) alive until we have sampled them; our
  // closing ctr's stdin ends it.
  const script = `echo ${START} >&2; dd if=/dev/zero bs=1M count=${mib} 2>/dev/null; echo ${DONE} >&2; read x; exit 0`;
  const argv = ['--address', ctx.cd.address, '-n', ctx.cd.namespace, 'run', '--rm', ...sideFlags(ctx, side), ctx.image, id, 'sh', '-c', script];
  const devnull = openSync('/dev/null', 'w');
  return new Promise<OneRun>((resolve, reject) => {
    const child = spawn('ctr', argv, { stdio: ['pipe', devnull, 'pipe'] });
    closeSync(devnull);
    const stdin = child.stdin!;
    const stderrStream = child.stderr!;
    let stderr = '';
    let t0 = 0, cpu0 = new Map<number, number>();
    let measured: OneRun | undefined;
    // Generous: a broken shim that copies at 2 MiB/s still finishes a quick run.
    let timedOut = false;
    const timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, 60_000 + mib * 500);
    stdin.on('error', () => undefined);
    stderrStream.setEncoding('utf8');
    stderrStream.on('data', (chunk: string) => {
      stderr += chunk;
      if (t0 === 0 && stderr.includes(START)) {
        cpu0 = cpuSnapshot(ctx, side);
        t0 = performance.now();
      }
      if (t0 !== 0 && measured === undefined && stderr.includes(DONE)) {
        const t1 = performance.now();
        const cpu1 = cpuSnapshot(ctx, side);
        measured = { seconds: (t1 - t0) / 1000, ticks: cpuDelta(cpu0, cpu1) };
        stdin.end();
      }
    });
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (measured !== undefined && code === 0) resolve(measured);
      else reject(new Error(`ctr run ${id}: ${timedOut ? 'timed out' : signal ?? `exit ${String(code)}`}${measured ? '' : ' before the container finished writing'}: ` +
        `${stderr.replace(START, '').replace(DONE, '').trim().slice(-300) || '(no stderr)'}`));
    });
  });
}

/** Measures stdout MiB/s through each shim and the shim CPU seconds spent per GiB. */
export async function throughputSection(ctx: BenchContext): Promise<MetricResult[]> {
  const mib = ctx.options.throughputMiB;
  const hz = ticksPerSecond();
  const results = await alternate(ctx, 'throughput', ctx.options.throughputReps, ['throughputMiBs', 'shimCpuPerGiB'], async (side) => {
    const id = containerId('tput', side);
    try {
      const r = await runOnce(ctx, side, id, mib);
      return { throughputMiBs: mib / r.seconds, shimCpuPerGiB: r.ticks / hz / (mib / 1024) };
    } catch (e) {
      await removeContainers(ctx, [id]);
      throw e;
    }
  });
  return [
    result(METRICS.throughputMiBs, results.throughputMiBs, `stdout throughput (${mib} MiB)`),
    result(METRICS.shimCpuPerGiB, results.shimCpuPerGiB),
  ];
}
