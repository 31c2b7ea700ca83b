// 2. Exec latency: wall time of `ctr task exec --exec-id <new> <task> /bin/true` into a task that
// is already running, one long-lived container per side.
import { alternate, check, containerId, removeContainers, startDetached, timed, type BenchContext, type Side } from '../context.js';
import { METRICS, result, type MetricResult } from '../metrics.js';

/** Measures exec latency on each side (the first exec of each is an untimed warm-up). */
export async function execSection(ctx: BenchContext): Promise<MetricResult[]> {
  const running = new Map<string, string>();
  let n = 0;
  const target = async (side: Side): Promise<string> => {
    let id = running.get(side.key);
    if (id === undefined) {
      id = containerId('exec', side);
      running.set(side.key, id);
      await startDetached(ctx, side, id);
    }
    return id;
  };
  try {
    const results = await alternate(ctx, 'exec', ctx.options.execReps, ['execMs'], async (side) => {
      const id = await target(side);
      const execId = `e${++n}`;
      const { ms, value } = await timed(() => ctx.ctr.run(['task', 'exec', '--exec-id', execId, id, '/bin/true'], { timeoutMs: 30_000 }));
      check(value, `ctr task exec ${id} ${execId}`);
      return { execMs: ms };
    }, 1, ctx.options.repGapMs);
    return [result(METRICS.execMs, results.execMs)];
  } finally {
    await removeContainers(ctx, [...running.values()]);
  }
}
