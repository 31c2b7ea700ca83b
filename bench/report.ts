// Turns metric results into the two outputs: a table for people and one JSON line for machines
// (the last line of stdout, so `tail -1 | jq` works).
import type { MetricResult } from './metrics.js';
import { targetText } from './metrics.js';
import type { Measurement } from './stats.js';

/** The whole outcome of a run, as printed on the JSON line. */
export interface BenchReport {
  /** Always `containerd-shim-ts-bench`, so a consumer can find the line among others. */
  readonly bench: 'containerd-shim-ts-bench';
  /** Version of this layout. */
  readonly schema: 1;
  /** ISO-8601 start time. */
  readonly date: string;
  /** The command line that produced it. */
  readonly command: string;
  readonly durationSec: number;
  readonly host: Readonly<Record<string, string | number>>;
  readonly options: Readonly<Record<string, unknown>>;
  readonly sides: Readonly<Record<string, Readonly<Record<string, string>>>>;
  readonly metrics: readonly MetricResult[];
  /** True when every selected reference measurement succeeded (the benchmark itself works). */
  readonly referenceOk: boolean;
}

function decimals(unit: string, v: number): number {
  if (unit === 's/GiB') return 3;
  if (unit === 'ms') return v < 10 ? 2 : 1;
  if (unit === 'count') return 0;
  return v < 10 ? 2 : 0;
}

function num(v: number, unit: string): string {
  return v.toFixed(decimals(unit, Math.abs(v)));
}

function cell(m: Measurement, unit: string, notes: string[]): string {
  if (m.status !== 'ok') {
    let i = notes.indexOf(m.reason);
    if (i < 0) { notes.push(m.reason); i = notes.length - 1; }
    return `${m.status === 'na' ? 'n/a' : 'FAILED'} [${i + 1}]`;
  }
  // One sample — or a median reported without its spread (the ttrpc benchmark) — has no range.
  if (m.n === 1 || m.samples.length === 1) return num(m.median, unit);
  return `${num(m.median, unit)} (${num(m.p10, unit)}–${num(m.p90, unit)})`;
}

/**
 * ours/ref with two decimals, or three where two would round onto the target's own value (0.996x
 * against ≥ 1.00x would read "1.00x … NO").
 */
export function ratioText(m: Pick<MetricResult, 'ratio' | 'target'>): string {
  if (m.ratio === null) return '—';
  const two = m.ratio.toFixed(2);
  const onTheLine = m.target?.kind === 'ratio' && m.ratio !== m.target.value && two === m.target.value.toFixed(2);
  return `${onTheLine ? m.ratio.toFixed(3) : two}x`;
}

/** The human table: one row per metric, medians with p10–p90, the ratio and the target verdict. */
export function formatTable(metrics: readonly MetricResult[]): string {
  const notes: string[] = [];
  const header = ['metric', 'unit', 'reference median (p10–p90)', 'ours median (p10–p90)', 'ours/ref', 'target', 'met'];
  const rows = metrics.map((m) => [
    m.label, m.unit, cell(m.reference, m.unit, notes), cell(m.ours, m.unit, notes),
    ratioText(m), targetText(m), m.met === null ? (m.target ? '?' : '') : m.met ? 'yes' : 'NO',
  ]);
  const width = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cols: readonly string[]): string => `| ${cols.map((c, i) => c.padEnd(width[i]!)).join(' | ')} |`;
  const out = [line(header), `|${width.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)];
  if (notes.length > 0) out.push('', ...notes.map((n, i) => `[${i + 1}] ${n.replace(/\s+/g, ' ').slice(0, 400)}`));
  return out.join('\n');
}

/** The JSON line (no newlines inside). */
export function formatJson(report: BenchReport): string {
  return JSON.stringify(report);
}
