// The benchmark's pure parts: statistics, flag parsing, the ttrpc report mapping, target judging
// and the table. No containerd needed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { quantile, ratio, summarize } from '../../bench/stats.js';
import { parseOptions, HelpRequested } from '../../bench/options.js';
import { mapTtrpcReport, lastJsonLine } from '../../bench/sections/ttrpc.js';
import { METRICS, result, targetText } from '../../bench/metrics.js';
import { formatTable, ratioText } from '../../bench/report.js';
import { threadsCpuMs } from '../../bench/procfs.js';

test('summarize: median, interpolated percentiles, extremes, samples kept in order', () => {
  const s = summarize([5, 1, 4, 2, 3]);
  assert.equal(s.median, 3);
  assert.equal(s.min, 1);
  assert.equal(s.max, 5);
  assert.ok(Math.abs(s.p10 - 1.4) < 1e-9);
  assert.ok(Math.abs(s.p90 - 4.6) < 1e-9);
  assert.deepEqual(s.samples, [5, 1, 4, 2, 3]);
  assert.equal(summarize([2, 4]).median, 3);
  assert.equal(quantile([7], 0.9), 7);
  assert.throws(() => quantile([], 0.5));
});

test('ratio is ours/reference of medians, null without both', () => {
  assert.equal(ratio(summarize([50]), summarize([100])), 0.5);
  assert.equal(ratio({ status: 'failed', reason: 'x' }, summarize([1])), null);
});

test('parseOptions: quick defaults, flags over env, validation', () => {
  const q = parseOptions(['--quick'], {});
  assert.equal(q.quick, true);
  assert.equal(q.coldReps, 3);
  assert.equal(q.throughputMiB, 64);
  assert.equal(q.concurrent, 5);
  const full = parseOptions([], {});
  assert.deepEqual([full.memSmall, full.memLarge, full.concurrent, full.throughputMiB], [20, 100, 50, 1024]);
  const mixed = parseOptions(['--cold-reps=7', '--sections', 'cold,exec'], { BENCH_QUICK: '1', BENCH_COLD_REPS: '9', BENCH_EXEC_REPS: '4' });
  assert.equal(mixed.coldReps, 7);
  assert.equal(mixed.execReps, 4);
  assert.deepEqual(mixed.sections, ['cold', 'exec']);
  assert.equal(parseOptions(['--rep-gap-ms', '0'], {}).repGapMs, 0);
  assert.equal(full.repGapMs, 200);
  assert.throws(() => parseOptions(['--sections', 'bogus'], {}), /unknown section/);
  assert.throws(() => parseOptions(['--mem-small', '10', '--mem-large', '10'], {}), /larger/);
  assert.throws(() => parseOptions(['--cold-reps', '0'], {}), /integer/);
  assert.throws(() => parseOptions(['--help'], {}), HelpRequested);
});

test('mapTtrpcReport reads the ttrpc benchmark line, one level per concurrency, p99 in ms', () => {
  const line = JSON.stringify({ bench: 'ttrpc-unary', rounds: 5, durationMs: 2000, results: [
    { concurrency: 1, goCallsPerSec: 1000, tsCallsPerSec: 1500, goP99us: 500, tsP99us: 250, goCpuUsPerCall: 100, tsCpuUsPerCall: 70 },
    { concurrency: 64, goCallsPerSec: 0, tsCallsPerSec: 9000, goP99us: 900, tsP99us: 800 },
  ] });
  const report = lastJsonLine(`table\n${line}\n`);
  assert.ok(report);
  const levels = mapTtrpcReport(report);
  assert.equal(levels.length, 2);
  const [one, many] = levels;
  assert.equal(one!.concurrency, 1);
  assert.equal(one!.calls.ours?.status === 'ok' && one!.calls.ours.median, 1500);
  assert.equal(one!.calls.ours?.status === 'ok' && one!.calls.ours.n, 5);
  assert.equal(one!.p99Ms.reference?.status === 'ok' && one!.p99Ms.reference.median, 0.5);
  assert.equal(many!.calls.reference?.status, 'failed');
  assert.equal(one!.cpuUsPerCall.ours?.status === 'ok' && one!.cpuUsPerCall.ours.median, 70);
  assert.equal(many!.cpuUsPerCall.ours?.status, 'failed', 'a report without CPU figures fails that row with a reason');
  const cpu = result(METRICS.ttrpcServerCpuUs, one!.cpuUsPerCall, undefined, '@1');
  assert.equal(cpu.ratio, 0.7);
  assert.equal(cpu.met, null, 'informative: no target');
  const judged = result(METRICS.ttrpcCallsPerSec, one!.calls, undefined, '@1');
  assert.equal(judged.id, 'ttrpcCallsPerSec@1');
  assert.equal(judged.ratio, 1.5);
  assert.equal(judged.met, true);
});

test('targets: ratio and absolute judging, and the table shows verdicts and failure notes', () => {
  const exec = result(METRICS.execMs, { reference: summarize([100, 110]), ours: summarize([90, 95]) });
  assert.equal(exec.met, false); // 0.925x against ≤ 0.8x
  const marginal = result(METRICS.marginalPss, { reference: summarize([2400]), ours: summarize([200]) });
  assert.equal(marginal.met, true);
  assert.equal(targetText(METRICS.marginalPss), '< 250 KiB');
  const failed = result(METRICS.coldRunMs, { reference: summarize([100]), ours: { status: 'failed', reason: 'shim did not start' } });
  assert.equal(failed.met, null);
  const table = formatTable([exec, marginal, failed]);
  assert.match(table, /\| NO /);
  assert.match(table, /\| yes /);
  assert.match(table, /FAILED \[1\]/);
  assert.match(table, /\[1\] shim did not start/);
});

test('ratio text: two decimals, three where two would round onto the target', () => {
  const calls = { ratio: 0.9963, target: { kind: 'ratio', op: '>=', value: 1 } } as const;
  assert.equal(ratioText(calls), '0.996x');
  assert.equal(ratioText({ ...calls, ratio: 1 }), '1.00x');
  assert.equal(ratioText({ ...calls, ratio: 0.97 }), '0.97x');
  assert.equal(ratioText({ ratio: 0.8009, target: { kind: 'ratio', op: '<=', value: 0.8 } }), '0.801x');
  assert.equal(ratioText({ ratio: 0.0223, target: { kind: 'absolute', op: '<', value: 250 } }), '0.02x');
  assert.equal(ratioText({ ratio: null, target: undefined }), '—');
  const table = formatTable([result(METRICS.ttrpcCallsPerSec, { reference: summarize([5785]), ours: summarize([5764]) })]);
  assert.match(table, /\| 0\.996x +\| ≥ 1\.00x +\| NO /);
});

test('threadsCpuMs: this process has run, and busy work adds to it', () => {
  const before = threadsCpuMs(process.pid);
  assert.ok(before !== undefined && before > 0);
  const until = performance.now() + 30;
  let spin = 0;
  while (performance.now() < until) spin++;
  assert.ok(spin > 0);
  const after = threadsCpuMs(process.pid)!;
  assert.ok(after - before >= 20, `30 ms of spinning showed as ${(after - before).toFixed(1)} ms`);
  assert.equal(threadsCpuMs(2 ** 22 + 1), undefined, 'a pid that does not exist');
});
