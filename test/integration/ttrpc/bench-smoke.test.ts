// Smoke test of the ttrpc benchmark command (a few hundred calls per server): it runs, both
// servers answer without failures, and it prints the table and a parseable JSON line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { buildGoProbe } from './go-probe.js';

const built = buildGoProbe();
const skip = 'skip' in built ? built.skip : false;

test('bench/ttrpc runs both servers and reports medians', { skip, timeout: 60_000 }, () => {
  const script = fileURLToPath(new URL('../../../bench/ttrpc/run.js', import.meta.url));
  const res = spawnSync(process.execPath, [script, '--rounds', '1', '--duration-ms', '100', '--concurrency', '1,8'], { encoding: 'utf8', timeout: 55_000 });
  assert.equal(res.status, 0, res.stderr);
  const lines = res.stdout.trim().split('\n');
  assert.match(lines[1]!, /Go calls\/s \| TS calls\/s/);
  const json = JSON.parse(lines.at(-1)!) as { results: { concurrency: number; goCallsPerSec: number; tsCallsPerSec: number; tsP99us: number; failures: number }[] };
  assert.deepEqual(json.results.map((r) => r.concurrency), [1, 8]);
  for (const r of json.results) {
    assert.equal(r.failures, 0);
    // At least a few hundred calls/s each (100 ms windows: tens of calls at minimum).
    assert.ok(r.goCallsPerSec > 200 && r.tsCallsPerSec > 200, JSON.stringify(r));
    assert.ok(r.tsP99us > 0);
  }
});

test('bench/ttrpc/server-micro answers every Ping and reports a per-call cost', { timeout: 60_000 }, () => {
  const script = fileURLToPath(new URL('../../../bench/ttrpc/server-micro.js', import.meta.url));
  const res = spawnSync(process.execPath, [script, '--calls', '2000', '--rounds', '1'], { encoding: 'utf8', timeout: 55_000 });
  // It exits non-zero when a round got fewer replies than it sent calls.
  assert.equal(res.status, 0, res.stderr);
  const json = JSON.parse(res.stdout.trim().split('\n').at(-1)!) as { bench: string; calls: number; medianUsPerCall: number };
  assert.equal(json.bench, 'ttrpc-server-micro');
  assert.equal(json.calls, 2000);
  assert.ok(json.medianUsPerCall > 0 && Number.isFinite(json.medianUsPerCall), JSON.stringify(json));
});
