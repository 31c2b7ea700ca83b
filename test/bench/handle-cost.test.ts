// Smoke run of bench/handle-cost.ts with a few tries: both writers measured, one JSON line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const entry = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'handle-cost.js');

test('bench/handle-cost: a libuv handle and an FdWriter, medians in one JSON line', { timeout: 60_000 }, () => {
  const res = spawnSync(process.execPath, [entry, '--tries', '4', '--gap-ms', '1'], { encoding: 'utf8', timeout: 50_000 });
  assert.equal(res.status, 0, res.stderr);
  const out = JSON.parse(res.stdout.trim().split('\n').at(-1)!) as {
    bench: string; tries: number; socket: { medianUs: number }; fdWriter: { medianUs: number };
  };
  assert.equal(out.bench, 'containerd-shim-ts-handle-cost');
  assert.equal(out.tries, 4);
  assert.ok(out.socket.medianUs > 0 && out.fdWriter.medianUs > 0, JSON.stringify(out));
});
