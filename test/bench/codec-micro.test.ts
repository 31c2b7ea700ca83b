// Smoke run of bench/ttrpc/codec-micro.ts with a few rounds: every case measured on both sides, one JSON line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const entry = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'ttrpc', 'codec-micro.js');

test('bench/ttrpc/codec-micro: protobuf-es and the generated codecs, hot and cold, in one JSON line', { timeout: 60_000 }, () => {
  const res = spawnSync(process.execPath, [entry, '--rounds', '3'], { encoding: 'utf8', timeout: 50_000 });
  assert.equal(res.status, 0, res.stderr);
  const out = JSON.parse(res.stdout.trim().split('\n').at(-1)!) as {
    bench: string; rounds: number; results: Record<string, Record<string, { hotUs: number; coldUs: number }>>;
  };
  assert.equal(out.bench, 'containerd-shim-ts-codec-micro');
  assert.equal(out.rounds, 3);
  assert.deepEqual(Object.keys(out.results).sort(), ['pingDecodeEncode', 'stateDecode', 'stateEncode']);
  for (const sides of Object.values(out.results)) {
    for (const side of ['protobufEs', 'generated']) assert.ok(sides[side]!.hotUs > 0 && sides[side]!.coldUs > 0, JSON.stringify(out));
  }
});
