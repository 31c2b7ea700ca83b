// Smoke run of the A/B tool (bench/ab.ts) with two execs per side: it starts its two containerds,
// runs every exec, reports both sides' environments and medians, and leaves no containerd behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { e2eSkipReason } from '../e2e/harness/host.js';
import { pidsByArgv } from '../fixtures/procfs.js';

const entry = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'ab.js');

test('bench/ab: two environments, execs alternating, one JSON line', { skip: e2eSkipReason() ?? false, timeout: 180_000 }, () => {
  const res = spawnSync(process.execPath, [entry, '--a', 'CONTAINERD_SHIM_TS_EARLY_EXEC=1', '--b', 'CONTAINERD_SHIM_TS_EARLY_EXEC=0', '--reps', '2', '--gap-ms', '10'], { encoding: 'utf8', timeout: 170_000 });
  assert.equal(res.status, 0, res.stderr);
  const out = JSON.parse(res.stdout.trim().split('\n').at(-1)!) as {
    bench: string; reps: number; ratio: number;
    a: { env: Record<string, string>; median: number }; b: { env: Record<string, string>; median: number };
  };
  assert.equal(out.bench, 'containerd-shim-ts-ab');
  assert.equal(out.reps, 2);
  assert.deepEqual(out.a.env, { CONTAINERD_SHIM_TS_EARLY_EXEC: '1' });
  assert.deepEqual(out.b.env, { CONTAINERD_SHIM_TS_EARLY_EXEC: '0' });
  assert.ok(out.a.median > 0 && out.b.median > 0 && out.ratio > 0, JSON.stringify(out));
  // Its shim daemons (namespace `ab`, used by nothing else) are gone with it.
  assert.deepEqual(pidsByArgv((argv) => argv.some((a, i) => a === '-namespace' && argv[i + 1] === 'ab')), []);
});
