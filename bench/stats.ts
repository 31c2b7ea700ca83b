// Order statistics for benchmark samples. Medians and percentiles rather than means, because a
// single slow outlier (a page-cache miss, a GC pause) should not move the headline number.

/** A summary of repeated measurements of one quantity. */
export interface Summary {
  readonly status: 'ok';
  /** Number of samples. */
  readonly n: number;
  readonly median: number;
  /** 10th percentile (nearest-rank after linear interpolation). */
  readonly p10: number;
  /** 90th percentile. */
  readonly p90: number;
  readonly min: number;
  readonly max: number;
  /** The raw samples in measurement order, so a reader can check the summary. */
  readonly samples: readonly number[];
}

/** A measurement that could not be made, with the reason. */
export interface Unavailable {
  /** `failed`: attempted and went wrong; `na`: not attempted (missing binary, section off). */
  readonly status: 'failed' | 'na';
  readonly reason: string;
}

/** What one side of a metric holds. */
export type Measurement = Summary | Unavailable;

/** The `q`-quantile (0..1) of sorted values, interpolating linearly between neighbours. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) throw new Error('quantile of no samples');
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  const a = sorted[lo]!;
  const b = sorted[hi]!;
  return a + (b - a) * (pos - lo);
}

/** Summarises samples; throws on an empty list (callers turn that into {@link Unavailable}). */
export function summarize(samples: readonly number[]): Summary {
  const sorted = [...samples].sort((x, y) => x - y);
  return {
    status: 'ok',
    n: samples.length,
    median: quantile(sorted, 0.5),
    p10: quantile(sorted, 0.1),
    p90: quantile(sorted, 0.9),
    min: sorted[0]!,
    max: sorted[sorted.length - 1]!,
    samples: [...samples],
  };
}

/** Summary of `samples`, or `failed` with `error` when there are none (or an error happened). */
export function measurement(samples: readonly number[], error: string | undefined): Measurement {
  if (error !== undefined) return { status: 'failed', reason: error };
  if (samples.length === 0) return { status: 'failed', reason: 'no samples' };
  return summarize(samples);
}

/** ours/reference of the medians, or null when either side has no number. */
export function ratio(ours: Measurement, reference: Measurement): number | null {
  if (ours.status !== 'ok' || reference.status !== 'ok' || reference.median === 0) return null;
  return ours.median / reference.median;
}
