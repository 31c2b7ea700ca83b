// 1. Cold start: wall time of `ctr run --rm <image> <new id> /bin/true`, i.e. create, start, wait,
// delete of a brand-new container, as a user (or kubelet-less script) sees it.
import { alternate, check, containerId, removeContainers, sideFlags, timed, type BenchContext, type Side } from '../context.js';
import { METRICS, result, type MetricResult } from '../metrics.js';

async function runTrue(ctx: BenchContext, side: Side): Promise<number> {
  const id = containerId('cold', side);
  try {
    const { ms, value } = await timed(() => ctx.ctr.run(['run', '--rm', ...sideFlags(ctx, side), ctx.image, id, '/bin/true'], { timeoutMs: 60_000 }));
    check(value, `ctr run --rm ${id}`);
    return ms;
  } catch (e) {
    await removeContainers(ctx, [id]);
    throw e;
  }
}

/** Measures cold `ctr run --rm … /bin/true` on each side, after one untimed warm-up run each. */
export async function coldSection(ctx: BenchContext): Promise<MetricResult[]> {
  // The warm-up pulls the snapshot and binaries into the page cache; a shim that cannot run a
  // container at all fails there once rather than on every rep.
  const results = await alternate(ctx, 'cold', ctx.options.coldReps, ['coldRunMs'],
    async (side) => ({ coldRunMs: await runTrue(ctx, side) }), 1, ctx.options.repGapMs);
  return [result(METRICS.coldRunMs, results.coldRunMs)];
}
