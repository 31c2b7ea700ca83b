// 5. Many at once: N `ctr run -d … sleep 1000` started together (wall time until every one has
// returned, i.e. every task is running), then all N torn down together (`ctr task rm -f` and
// `ctr containers rm` per container, all in parallel).
import { alternate, check, containerId, removeContainers, sideFlags, timed, type BenchContext } from '../context.js';
import { METRICS, result, type MetricResult } from '../metrics.js';

/** Measures concurrent start and teardown of `options.concurrent` containers on each side. */
export async function concurrentSection(ctx: BenchContext): Promise<MetricResult[]> {
  const n = ctx.options.concurrent;
  const results = await alternate(ctx, 'concurrent', ctx.options.concurrentReps, ['concurrentStartMs', 'concurrentTeardownMs'], async (side) => {
    const ids = Array.from({ length: n }, () => containerId('conc', side));
    let torn = false;
    try {
      const start = await timed(() => Promise.all(ids.map((id) =>
        ctx.ctr.run(['run', '-d', ...sideFlags(ctx, side), ctx.image, id, 'sleep', '1000'], { timeoutMs: 120_000 }))));
      start.value.forEach((r, i) => check(r, `ctr run -d ${ids[i]!}`));
      // allSettled: a failed teardown must not stop the clock while other removals still run.
      const teardown = await timed(() => Promise.allSettled(ids.map(async (id) => {
        check(await ctx.ctr.run(['task', 'rm', '-f', id], { timeoutMs: 120_000 }), `ctr task rm -f ${id}`);
        check(await ctx.ctr.run(['containers', 'rm', id], { timeoutMs: 120_000 }), `ctr containers rm ${id}`);
      })));
      const failed = teardown.value.find((s): s is PromiseRejectedResult => s.status === 'rejected');
      if (failed) throw failed.reason;
      torn = true;
      return { concurrentStartMs: start.ms, concurrentTeardownMs: teardown.ms };
    } finally {
      if (!torn) await removeContainers(ctx, ids);
    }
  });
  return [
    result(METRICS.concurrentStartMs, results.concurrentStartMs, `concurrent ctr run -d (${n} at once)`),
    result(METRICS.concurrentTeardownMs, results.concurrentTeardownMs, `concurrent teardown (${n} at once)`),
  ];
}
