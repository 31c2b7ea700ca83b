// 6. ttrpc unary calls/s and p99: delegated to the ttrpc benchmark (bench/ttrpc/, written
// separately), which drives our server and Go's with the same Go client. Its compiled entry runs
// as a child process; this section finds it, picks its sizes and maps its JSON line to our rows.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCommand } from '../../test/e2e/harness/command.js';
import type { BenchContext, SideResults } from '../context.js';
import { failedBoth, METRICS, result, type MetricResult } from '../metrics.js';
import { summarize, type Measurement } from '../stats.js';

/** Entry file names tried, in order, under dist/bench/ttrpc/. */
const ENTRIES = ['run.js', 'index.js', 'main.js'];

/** The compiled ttrpc benchmark entry, or undefined when it has not been written/built. */
export function ttrpcEntry(): string | undefined {
  const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'ttrpc');
  return ENTRIES.map((e) => path.join(dir, e)).find((f) => existsSync(f));
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** One level of the ttrpc report: calls in flight and both servers' medians. */
export interface TtrpcLevel {
  readonly concurrency: number;
  readonly calls: SideResults;
  readonly p99Ms: SideResults;
  /** Each server's CPU per call (absent from reports of older builds: failed with a reason). */
  readonly cpuUsPerCall: SideResults;
}

/**
 * A median the ttrpc benchmark reported over `rounds` rounds. It reports medians only, so the
 * spread columns repeat the median; n says how many rounds it came from.
 */
function reported(v: unknown, rounds: number, scale: number, what: string): Measurement {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) return { status: 'failed', reason: `ttrpc benchmark reported no ${what}` };
  const m = v * scale;
  return { ...summarize([m]), n: rounds };
}

/**
 * Maps the ttrpc benchmark's JSON line — `{ bench: 'ttrpc-unary', rounds, results: [{ concurrency,
 * goCallsPerSec, tsCallsPerSec, goP99us, tsP99us, goCpuUsPerCall, tsCpuUsPerCall, … }] }` — to one
 * entry per concurrency level.
 */
export function mapTtrpcReport(report: Json): TtrpcLevel[] {
  const rounds = typeof report.rounds === 'number' ? report.rounds : 1;
  const rows = Array.isArray(report.results) ? report.results.filter(isObject) : [];
  return rows.map((row) => ({
    concurrency: typeof row.concurrency === 'number' ? row.concurrency : 0,
    calls: { ours: reported(row.tsCallsPerSec, rounds, 1, 'calls/s'), reference: reported(row.goCallsPerSec, rounds, 1, 'calls/s') },
    p99Ms: { ours: reported(row.tsP99us, rounds, 1e-3, 'p99'), reference: reported(row.goP99us, rounds, 1e-3, 'p99') },
    cpuUsPerCall: { ours: reported(row.tsCpuUsPerCall, rounds, 1, 'server CPU per call'), reference: reported(row.goCpuUsPerCall, rounds, 1, 'server CPU per call') },
  }));
}

/** The last line of `text` that parses as a JSON object. */
export function lastJsonLine(text: string): Json | undefined {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('{'));
  for (let i = lines.length - 1; i >= 0; i--) {
    try {
      const v: unknown = JSON.parse(lines[i]!);
      if (isObject(v)) return v;
    } catch { /* not JSON */ }
  }
  return undefined;
}

/** Runs the ttrpc benchmark if it is built (quick: one short round per level), else reports n/a. */
export async function ttrpcSection(ctx: BenchContext): Promise<MetricResult[]> {
  const entry = ttrpcEntry();
  const both = (r: SideResults): MetricResult[] => [result(METRICS.ttrpcCallsPerSec, r), result(METRICS.ttrpcP99Ms, r), result(METRICS.ttrpcServerCpuUs, r)];
  if (entry === undefined) return both(failedBoth('bench/ttrpc is not built (no dist/bench/ttrpc/run.js)', 'na'));
  const sizes = ctx.options.quick ? ['--rounds', '1', '--duration-ms', '300'] : [];
  ctx.log(`ttrpc: running ${path.basename(path.dirname(entry))}/${path.basename(entry)} ${sizes.join(' ')}`);
  const r = await runCommand([process.execPath, entry, ...sizes], { timeoutMs: ctx.options.quick ? 120_000 : 900_000 });
  const stderr = r.stderr.toString('utf8').trim().slice(-300);
  // Exit 2 is the ttrpc benchmark's "cannot run here" (no Go toolchain for the reference server).
  if (r.code === 2) return both(failedBoth(`ttrpc benchmark cannot run here: ${stderr}`, 'na'));
  const report = lastJsonLine(r.stdout.toString('utf8'));
  if (r.code !== 0 || report === undefined) {
    const why = r.timedOut ? 'timed out' : `exit ${String(r.code)}`;
    return both(failedBoth(`ttrpc benchmark ${why}: ${stderr || 'no JSON line on stdout'}`));
  }
  const levels = mapTtrpcReport(report);
  if (levels.length === 0) return both(failedBoth('ttrpc benchmark printed no results'));
  return levels.flatMap((l) => [
    result(METRICS.ttrpcCallsPerSec, l.calls, `ttrpc unary calls/s (${l.concurrency} in flight)`, `@${l.concurrency}`),
    result(METRICS.ttrpcP99Ms, l.p99Ms, `ttrpc unary p99 (${l.concurrency} in flight)`, `@${l.concurrency}`),
    result(METRICS.ttrpcServerCpuUs, l.cpuUsPerCall, `ttrpc server CPU per call (${l.concurrency} in flight)`, `@${l.concurrency}`),
  ]);
}
