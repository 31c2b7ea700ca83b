// Smoke run of the benchmark with tiny sizes (`--quick`), so it cannot rot: it must start its
// containerd, measure the reference shim in every section, try ours, print a table and a
// well-formed JSON line, and clean up. No timing is asserted — only shape and sanity of the output.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { e2eSkipReason } from '../e2e/harness/host.js';
import { lastJsonLine } from '../../bench/sections/ttrpc.js';
import type { BenchReport } from '../../bench/report.js';
import type { MetricResult } from '../../bench/metrics.js';
import type { Measurement } from '../../bench/stats.js';

const entry = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'run.js');

interface Finished { code: number | null; stdout: string; stderr: string }

/** Runs the benchmark; on the deadline sends SIGTERM (it cleans up on that), SIGKILL 30 s later. */
function runBench(args: readonly string[], timeoutMs: number): Promise<Finished> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [entry, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => { stdout += s; });
    child.stderr.setEncoding('utf8').on('data', (s: string) => { stderr += s; });
    let kill: NodeJS.Timeout | undefined;
    const term = setTimeout(() => {
      child.kill('SIGTERM');
      kill = setTimeout(() => child.kill('SIGKILL'), 30_000);
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(term);
      if (kill) clearTimeout(kill);
      resolve({ code, stdout, stderr });
    });
  });
}

function benchDirs(): string[] {
  return readdirSync(os.tmpdir()).filter((n) => n.startsWith('shim-e2e-'));
}

/** Processes whose argv names a file inside a private-containerd temp dir that has been removed. */
/** Processes that still name the bench's own (removed) private containerd dir. */
function orphans(own: string): string[] {
  const prefix = path.join(os.tmpdir(), 'shim-e2e-');
  const out: string[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let argv: string[];
    try { argv = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0'); } catch { continue; }
    for (const a of argv) {
      if (!a.startsWith(prefix)) continue;
      const dir = a.slice(0, a.indexOf('/', prefix.length) < 0 ? a.length : a.indexOf('/', prefix.length));
      if (dir === own) out.push(`${name}: ${argv.join(' ')}`);
    }
  }
  return out;
}

function assertMeasurement(m: Measurement, where: string): void {
  if (m.status === 'ok') {
    assert.ok(m.n >= 1, `${where}: n`);
    for (const k of ['median', 'p10', 'p90', 'min', 'max'] as const) assert.ok(Number.isFinite(m[k]), `${where}: ${k} is ${m[k]}`);
    assert.ok(m.min <= m.p10 && m.p10 <= m.median && m.median <= m.p90 && m.p90 <= m.max, `${where}: order of statistics`);
  } else {
    assert.ok(m.status === 'failed' || m.status === 'na', `${where}: status ${String((m as { status: unknown }).status)}`);
    assert.equal(typeof m.reason, 'string');
    assert.ok(m.reason.length > 0, `${where}: empty reason`);
  }
}

test('npm run bench -- --quick runs every section and prints a table and a JSON line', {
  skip: e2eSkipReason() ?? false, timeout: 180_000,
}, async () => {
  const r = await runBench(['--quick'], 150_000);
  const lines = r.stdout.trimEnd().split('\n');
  assert.equal(r.code, 0, `bench exited ${String(r.code)}\n--- stderr ---\n${r.stderr.slice(-3000)}\n--- stdout ---\n${r.stdout.slice(-3000)}`);

  const report = lastJsonLine(lines[lines.length - 1] ?? '') as unknown as BenchReport | undefined;
  assert.ok(report, `last stdout line is not JSON: ${lines[lines.length - 1]}`);
  assert.equal(report.bench, 'containerd-shim-ts-bench');
  assert.equal(report.schema, 1);
  assert.ok(!Number.isNaN(Date.parse(report.date)));
  assert.match(report.command, /--quick/);
  assert.equal(report.referenceOk, true);
  assert.ok(report.sides.reference && report.sides.ours, 'both sides are listed');

  const ids = report.metrics.map((m: MetricResult) => m.id);
  for (const id of ['coldRunMs', 'execMs', 'pssSmall', 'privateDirtySmall', 'pssLarge', 'privateDirtyLarge', 'marginalPss',
    'marginalPrivateDirty', 'shimProcessesLarge', 'throughputMiBs', 'shimCpuPerGiB', 'concurrentStartMs', 'concurrentTeardownMs']) {
    assert.ok(ids.includes(id), `metric ${id} is reported`);
  }
  assert.ok(ids.some((id) => id.startsWith('ttrpcCallsPerSec')), 'the ttrpc section is reported');
  for (const m of report.metrics) {
    assertMeasurement(m.reference, `${m.id} reference`);
    assertMeasurement(m.ours, `${m.id} ours`);
    if (!m.id.startsWith('ttrpc')) assert.equal(m.reference.status, 'ok', `${m.id}: the reference side must measure (${JSON.stringify(m.reference)})`);
    assert.ok(m.ratio === null || Number.isFinite(m.ratio), `${m.id}: ratio`);
    assert.ok(m.met === null || typeof m.met === 'boolean', `${m.id}: met`);
  }
  // With --quick the memory ramp is 2 → 5 containers; the reference runs one shim per container.
  const procs = report.metrics.find((m) => m.id === 'shimProcessesLarge')!.reference;
  assert.ok(procs.status === 'ok' && procs.median >= 5, `reference shim processes at 5 containers: ${JSON.stringify(procs)}`);

  assert.ok(r.stdout.includes('| metric'), 'the human table is printed');
  // Everything it started is gone: no new temp dir left, and no process (containerd, shim, ctr)
  // still names a socket in a private containerd dir that no longer exists.
  // Other suites may create and remove their own shim-e2e-* dirs meanwhile: check the bench's own
  // dir (named on its stderr).
  const own = /private containerd in (\S+)/.exec(r.stderr)?.[1];
  assert.ok(own, 'the bench names its private containerd dir on stderr');
  assert.equal(existsSync(own), false, `temp dir ${own} removed`);
  assert.ok(!benchDirs().includes(path.basename(own)), 'temp dirs removed');
  assert.deepEqual(orphans(own), [], 'no process of the removed private containerd is left');
});

test('bad flags are refused with exit 2 and usage', async () => {
  const r = await runBench(['--no-such-flag', '1'], 30_000);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown flag --no-such-flag/);
});
