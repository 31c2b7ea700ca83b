// `node dist/bench/idle.js [--containers 5] [--settle-ms 15000] [--window-ms 20000]`: what each
// shim costs while nothing happens. One private containerd runs `--containers` busybox `sleep`
// tasks under our shim and as many under the reference; after `--settle-ms` of quiet, every
// thread of each side's shim processes is read (`/proc/PID/task/TID/schedstat`) at the start and
// end of `--window-ms`. Prints one JSON line: per side the shim processes, wake-ups per second
// (times a thread was put on a CPU) and CPU ms per second. Round 11 of docs/benchmarks.md.
import { Containerd } from '../test/e2e/harness/containerd.js';
import { busyboxImage } from '../test/e2e/harness/oci-image.js';
import { REFERENCE, TS_RUNC } from '../test/e2e/harness/runtimes.js';
import { processesSchedstat, schedstatSince, shimProcesses, type ThreadsSchedstat } from './procfs.js';
import { flag, runWarmTask } from './tool-support.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const SIDES = [
  { side: 'ours', rt: TS_RUNC, marker: 'containerd-shim-ts-v2', prefix: 'ts' },
  { side: 'reference', rt: REFERENCE, marker: 'containerd-shim-runc-v2', prefix: 'ref' },
] as const;

async function main(): Promise<void> {
  const containers = Number(flag('containers', '5'));
  const settleMs = Number(flag('settle-ms', '15000'));
  const windowMs = Number(flag('window-ms', '20000'));
  const cd = await Containerd.start({ namespace: 'idle' });
  try {
    const image = await cd.importImage(busyboxImage());
    for (let i = 0; i < containers; i++) for (const s of SIDES) await runWarmTask(cd, image, s.rt, `${s.prefix}${i}`);
    await sleep(settleMs);
    // Both sides in the same window, so a busy moment of the host falls on both alike.
    const pids = SIDES.map((s) => shimProcesses(cd.address, s.marker).filter((p) => p.argv.includes(cd.address)).map((p) => p.pid));
    const read = (): ThreadsSchedstat[] => pids.map(processesSchedstat);
    const before = read();
    await sleep(windowMs);
    const after = read();
    const seconds = windowMs / 1000;
    const report = Object.fromEntries(
      SIDES.map((s, i) => {
        const spent = schedstatSince(before[i]!, after[i]!);
        return [s.side, {
          shimProcesses: pids[i]!.length,
          wakeupsPerSec: Math.round((spent.slices / seconds) * 10) / 10,
          cpuMsPerSec: Math.round((spent.cpuMs / seconds) * 100) / 100,
        }];
      }),
    );
    console.log(JSON.stringify({ bench: 'containerd-shim-ts-idle', date: new Date().toISOString(), containers, settleMs, windowMs, ...report }));
  } finally {
    await cd.stop();
  }
}

await main();
