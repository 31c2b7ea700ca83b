// What every section gets: the private containerd, the image, the two sides (reference shim and
// ours) and the A B A B repetition loop that turns per-side samples into summaries.
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import type { Containerd } from '../test/e2e/harness/containerd.js';
import type { Ctr, CtrResult } from '../test/e2e/harness/ctr.js';
import { runtimeFlags, type RuntimeUnderTest } from '../test/e2e/harness/runtimes.js';
import type { BenchOptions, SideKey } from './options.js';
import { measurement, type Measurement } from './stats.js';

/** One shim under test. */
export interface Side {
  readonly key: SideKey;
  readonly rt: RuntimeUnderTest;
  /** File-name prefix that identifies this shim's processes in argv (see procfs.shimProcesses). */
  readonly marker: string;
  /** Set when the side cannot be measured at all (e.g. our shim is not built). */
  readonly unavailable?: string;
}

/** The shared state of one benchmark run. */
export interface BenchContext {
  readonly cd: Containerd;
  readonly ctr: Ctr;
  readonly image: string;
  readonly options: BenchOptions;
  readonly sides: readonly Side[];
  /** Progress output (stderr), so stdout holds only the table and the JSON line. */
  log(message: string): void;
  /**
   * Sides given up on for the rest of the run, with why: a side that timed out once would only
   * burn the time budget again in every later section.
   */
  readonly abandoned: Map<SideKey, string>;
}

/** Why `side` is not measured at all any more, or undefined. */
export function skipReason(ctx: BenchContext, side: Side): string | undefined {
  return side.unavailable ?? ctx.abandoned.get(side.key);
}

/** Per-side results of one metric. */
export type SideResults = Partial<Record<SideKey, Measurement>>;

let serial = 0;
/** A container id unique within this run, naming the side so leftovers are easy to attribute. */
export function containerId(prefix: string, side: Side): string {
  return `${prefix}-${side.key}-${++serial}`;
}

const flagCache = new Map<string, string[]>();
/** The `ctr run` flags that select this side's runtime (state kept under containerd's temp dir). */
export function sideFlags(ctx: BenchContext, side: Side): string[] {
  let f = flagCache.get(side.key);
  if (!f) {
    f = runtimeFlags(ctx.cd, side.rt);
    flagCache.set(side.key, f);
  }
  return f;
}

/** Throws a readable error unless ctr exited 0. */
export function check(r: CtrResult, what: string): CtrResult {
  if (r.code !== 0 || r.timedOut) {
    const status = r.timedOut ? 'timed out' : `exit ${String(r.code ?? r.signal)}`;
    throw new Error(`${what}: ${status}: ${r.err.trim().split('\n').slice(-3).join(' | ') || '(no stderr)'}`);
  }
  return r;
}

/** Runs `fn` and returns how long it took in milliseconds, with its value. */
export async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  const value = await fn();
  return { ms: performance.now() - t0, value };
}

/** Maps `fn` over `items` with at most `parallelism` in flight; rejects with the first error after all settle. */
export async function pool<T, R>(items: readonly T[], parallelism: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  let firstError: unknown;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      try { results[i] = await fn(items[i]!); } catch (e) { firstError ??= e; }
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallelism, items.length) }, worker));
  if (firstError !== undefined) throw firstError;
  return results;
}

/** Kills (if needed) and deletes the tasks and containers `ids`, ignoring ones already gone. */
export async function removeContainers(ctx: BenchContext, ids: readonly string[], parallelism = 8): Promise<void> {
  await pool(ids, parallelism, async (id) => {
    await ctx.ctr.run(['task', 'rm', '-f', id], { timeoutMs: 30_000 });
    await ctx.ctr.run(['containers', 'rm', id], { timeoutMs: 30_000 });
  });
}

/**
 * Removes every task and container of the bench namespace (between sections), or only those of
 * `side` (after that side failed, while the other side's containers must stay).
 */
export async function removeAll(ctx: BenchContext, side?: Side): Promise<void> {
  const listed = await ctx.ctr.run(['containers', 'ls', '-q'], { timeoutMs: 15_000 });
  const ids = listed.code === 0 ? listed.out.split('\n').map((s) => s.trim()).filter(Boolean) : [];
  const mine = side === undefined ? ids : ids.filter((id) => id.includes(`-${side.key}-`));
  if (mine.length > 0) await removeContainers(ctx, mine);
}

/** `ctr run -d … sleep 1000` on `side`; resolves once ctr returns (the task has started). */
export async function startDetached(ctx: BenchContext, side: Side, id: string): Promise<void> {
  check(await ctx.ctr.run(['run', '-d', ...sideFlags(ctx, side), ctx.image, id, 'sleep', '1000'], { timeoutMs: 60_000 }),
    `ctr run -d ${id}`);
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * The repetition loop: for rep 1..reps, runs `fn` on each available side in turn (A B A B …), so
 * slow drift of the host (page cache, thermal, other load) hits both sides alike. `fn` returns one
 * number for each of `metrics`. A side that throws is marked failed for this section and not tried
 * again (its partial samples are discarded: a half-working shim's numbers would mislead).
 * `warmup` untimed rounds come first (fn sees a negative rep); their values are dropped.
 */
export async function alternate<M extends string>(ctx: BenchContext, section: string, reps: number, metrics: readonly M[],
  fn: (side: Side, rep: number) => Promise<Record<M, number>>, warmup = 0, gapMs = 0): Promise<Record<M, SideResults>> {
  const samples = new Map<SideKey, Record<string, number[]>>();
  const errors = new Map<SideKey, string>();
  for (let rep = -warmup; rep < reps; rep++) {
    for (const side of ctx.sides) {
      if (skipReason(ctx, side) !== undefined || errors.has(side.key)) continue;
      try {
        if (gapMs > 0) await delay(gapMs);
        const values = await fn(side, rep);
        if (rep < 0) continue;
        const bySide = samples.get(side.key) ?? {};
        samples.set(side.key, bySide);
        for (const name of metrics) {
          const v = values[name];
          if (!Number.isFinite(v)) throw new Error(`${name} came out as ${String(v)}`);
          (bySide[name] ??= []).push(v);
        }
      } catch (e) {
        const msg = `${rep < 0 ? 'warm-up' : `rep ${rep + 1}`}: ${errorText(e)}`;
        errors.set(side.key, msg);
        ctx.log(`${section}: ${side.rt.label} failed: ${msg}`);
        if (/timed out/.test(msg)) ctx.abandoned.set(side.key, `not tried after it timed out in ${section} (${msg.slice(0, 200)})`);
        await removeAll(ctx, side).catch(() => undefined);
      }
    }
    if (rep >= 0) ctx.log(`${section}: rep ${rep + 1}/${reps} done`);
  }
  const out = {} as Record<M, SideResults>;
  for (const name of metrics) {
    const r: SideResults = {};
    for (const side of ctx.sides) {
      const skipped = errors.has(side.key) ? undefined : skipReason(ctx, side);
      r[side.key] = skipped !== undefined
        ? { status: 'na', reason: skipped }
        : measurement(samples.get(side.key)?.[name] ?? [], errors.get(side.key));
    }
    out[name] = r;
  }
  return out;
}
