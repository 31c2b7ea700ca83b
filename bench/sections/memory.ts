// 3. Memory: PSS and private dirty of every process of one shim kind, divided by the number of
// running containers, at a small and a large count (20 and 100 by default), and the marginal cost
// of one more container between the two. One side is measured at a time, with nothing else of
// that side running, so the sum is exactly that side's shims.
import { containerId, pool, removeContainers, startDetached, alternate, type BenchContext, type Side } from '../context.js';
import { METRICS, result, type MetricResult } from '../metrics.js';
import { shimProcesses, totalMemory, type MemoryKiB } from '../procfs.js';
import { sleep } from '../../test/e2e/harness/command.js';

async function measure(ctx: BenchContext, side: Side): Promise<MemoryKiB & { processes: number; heldMemfd: number }> {
  await sleep(ctx.options.memSettleMs);
  return totalMemory(shimProcesses(ctx.cd.address, side.marker).map((p) => p.pid));
}

/** Ramps each side to memSmall then memLarge running containers and reads shim memory at both. */
export async function memorySection(ctx: BenchContext): Promise<MetricResult[]> {
  const { memSmall: small, memLarge: large } = ctx.options;
  const names = ['pssSmall', 'privateDirtySmall', 'pssLarge', 'privateDirtyLarge', 'marginalPss', 'marginalPrivateDirty', 'shimProcessesLarge'] as const;
  const results = await alternate(ctx, 'memory', ctx.options.memReps, names, async (side) => {
    const ids: string[] = [];
    const ramp = async (to: number): Promise<void> => {
      const more = Array.from({ length: to - ids.length }, () => containerId('mem', side));
      ids.push(...more);
      await pool(more, ctx.options.startParallelism, (id) => startDetached(ctx, side, id));
    };
    try {
      await ramp(small);
      const a = await measure(ctx, side);
      await ramp(large);
      const b = await measure(ctx, side);
      if (a.processes === 0 || b.processes === 0) throw new Error(`no ${side.marker} processes found for containerd ${ctx.cd.address}`);
      ctx.log(`memory: ${side.rt.label}: ${small} containers → ${a.processes} shim processes, PSS ${a.pss} KiB; ` +
        `${large} → ${b.processes}, PSS ${b.pss} KiB (of which held memfds ${b.heldMemfd} KiB)`);
      return {
        pssSmall: a.pss / small,
        privateDirtySmall: a.privateDirty / small,
        pssLarge: b.pss / large,
        privateDirtyLarge: b.privateDirty / large,
        marginalPss: (b.pss - a.pss) / (large - small),
        marginalPrivateDirty: (b.privateDirty - a.privateDirty) / (large - small),
        shimProcessesLarge: b.processes,
      };
    } finally {
      await removeContainers(ctx, ids);
    }
  });
  const label = (text: string): string => text.replace('@small', `@${small}`).replace('@large', `@${large}`);
  return names.map((n) => result(METRICS[n], results[n], label(METRICS[n].label)));
}
