// The metrics the benchmark reports, their units and the targets from issue 6 (ours/reference
// ratios from the same run, plus one absolute bound), and how a result is judged against them.
import type { SideKey } from './options.js';
import { ratio, type Measurement } from './stats.js';
import type { SideResults } from './context.js';

/** A goal for one metric. `ratio` compares ours/reference medians; `absolute` bounds our median. */
export type Target =
  | { readonly kind: 'ratio'; readonly op: '<=' | '>='; readonly value: number }
  | { readonly kind: 'absolute'; readonly op: '<'; readonly value: number };

/** Static description of one metric. */
export interface MetricDef {
  readonly id: string;
  readonly label: string;
  readonly unit: string;
  /** Which direction is better, for readers of the table. */
  readonly better: 'lower' | 'higher';
  readonly target?: Target;
}

/** One metric's outcome in a run. */
export interface MetricResult extends MetricDef {
  readonly reference: Measurement;
  readonly ours: Measurement;
  /** ours/reference of the medians, or null. */
  readonly ratio: number | null;
  /** Whether the target is met; null when there is no target or not enough data to judge. */
  readonly met: boolean | null;
}

const r = (op: '<=' | '>=', value: number): Target => ({ kind: 'ratio', op, value });

/** Every metric, by id. Ids are stable: the JSON line and docs/benchmarks.md use them. */
export const METRICS = {
  coldRunMs: { id: 'coldRunMs', label: 'cold ctr run --rm /bin/true', unit: 'ms', better: 'lower', target: r('<=', 1.0) },
  execMs: { id: 'execMs', label: 'ctr task exec /bin/true', unit: 'ms', better: 'lower', target: r('<=', 0.8) },
  pssSmall: { id: 'pssSmall', label: 'shim PSS per container @small', unit: 'KiB', better: 'lower', target: r('<=', 1.0) },
  privateDirtySmall: { id: 'privateDirtySmall', label: 'shim private dirty per container @small', unit: 'KiB', better: 'lower' },
  pssLarge: { id: 'pssLarge', label: 'shim PSS per container @large', unit: 'KiB', better: 'lower', target: r('<=', 0.25) },
  privateDirtyLarge: { id: 'privateDirtyLarge', label: 'shim private dirty per container @large', unit: 'KiB', better: 'lower' },
  marginalPss: { id: 'marginalPss', label: 'marginal PSS per extra container', unit: 'KiB', better: 'lower', target: { kind: 'absolute', op: '<', value: 250 } },
  marginalPrivateDirty: { id: 'marginalPrivateDirty', label: 'marginal private dirty per extra container', unit: 'KiB', better: 'lower' },
  shimProcessesLarge: { id: 'shimProcessesLarge', label: 'shim processes @large', unit: 'count', better: 'lower' },
  throughputMiBs: { id: 'throughputMiBs', label: 'stdout throughput', unit: 'MiB/s', better: 'higher', target: r('>=', 1.5) },
  shimCpuPerGiB: { id: 'shimCpuPerGiB', label: 'shim CPU per GiB of stdout', unit: 's/GiB', better: 'lower', target: r('<=', 0.5) },
  concurrentStartMs: { id: 'concurrentStartMs', label: 'concurrent ctr run -d (N at once)', unit: 'ms', better: 'lower', target: r('<=', 1.0) },
  concurrentTeardownMs: { id: 'concurrentTeardownMs', label: 'concurrent teardown (N at once)', unit: 'ms', better: 'lower' },
  ttrpcCallsPerSec: { id: 'ttrpcCallsPerSec', label: 'ttrpc unary calls/s', unit: 'calls/s', better: 'higher', target: r('>=', 1.0) },
  ttrpcP99Ms: { id: 'ttrpcP99Ms', label: 'ttrpc unary p99 latency', unit: 'ms', better: 'lower' },
  ttrpcServerCpuUs: { id: 'ttrpcServerCpuUs', label: 'ttrpc server CPU per call', unit: 'µs', better: 'lower' },
} as const satisfies Record<string, MetricDef>;

/** A metric id. */
export type MetricId = keyof typeof METRICS;

function judge(def: MetricDef, ours: Measurement, q: number | null): boolean | null {
  const t = def.target;
  if (t === undefined) return null;
  if (t.kind === 'absolute') return ours.status === 'ok' ? ours.median < t.value : null;
  if (q === null) return null;
  return t.op === '<=' ? q <= t.value : q >= t.value;
}

const missing: Measurement = { status: 'na', reason: 'side not selected' };

/** Combines a definition with per-side results into a judged {@link MetricResult}. */
export function result(def: MetricDef, sides: SideResults, labelOverride?: string, idSuffix?: string): MetricResult {
  const get = (k: SideKey): Measurement => sides[k] ?? missing;
  const reference = get('reference');
  const ours = get('ours');
  const q = ratio(ours, reference);
  return {
    ...def, ...(labelOverride ? { label: labelOverride } : {}), ...(idSuffix ? { id: `${def.id}${idSuffix}` } : {}),
    reference, ours, ratio: q, met: judge(def, ours, q),
  };
}

/** The same failure for both sides, for a section that could not run at all. */
export function failedBoth(reason: string, status: 'failed' | 'na' = 'failed'): SideResults {
  return { reference: { status, reason }, ours: { status, reason } };
}

/** Text of a target, e.g. `≤ 0.8x` or `< 250 KiB`. */
export function targetText(def: MetricDef): string {
  const t = def.target;
  if (t === undefined) return '';
  if (t.kind === 'absolute') return `< ${t.value} ${def.unit}`;
  return `${t.op === '<=' ? '≤' : '≥'} ${t.value.toFixed(2)}x`;
}
