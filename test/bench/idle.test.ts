// Smoke run of the idle-cost tool (bench/idle.ts) with one container per side and short windows:
// it measures both sides, prints one JSON line, and leaves no shim behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { e2eSkipReason } from '../e2e/harness/host.js';
import { pidsByArgv } from '../fixtures/procfs.js';

const entry = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'idle.js');

test('bench/idle: both shims measured over one window, one JSON line', { skip: e2eSkipReason() ?? false, timeout: 180_000 }, () => {
  const res = spawnSync(process.execPath, [entry, '--containers', '1', '--settle-ms', '500', '--window-ms', '1000'], { encoding: 'utf8', timeout: 170_000 });
  assert.equal(res.status, 0, res.stderr);
  type Side = { shimProcesses: number; wakeupsPerSec: number; cpuMsPerSec: number };
  const out = JSON.parse(res.stdout.trim().split('\n').at(-1)!) as { bench: string; containers: number; ours: Side; reference: Side };
  assert.equal(out.bench, 'containerd-shim-ts-idle');
  assert.equal(out.containers, 1);
  for (const side of [out.ours, out.reference]) {
    assert.equal(side.shimProcesses, 1, JSON.stringify(out));
    assert.ok(side.wakeupsPerSec >= 0 && side.cpuMsPerSec >= 0, JSON.stringify(out));
  }
  // Its shims (namespace `idle`, used by nothing else) are gone with it.
  assert.deepEqual(pidsByArgv((argv) => argv.some((a, i) => a === '-namespace' && argv[i + 1] === 'idle')), []);
});
