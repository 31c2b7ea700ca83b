// src/api/*_pb.ts must be exactly what `npm run generate` makes from proto/: regenerate into a
// temporary directory and compare byte for byte, in both directions (no stale extra files).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from './descriptor-sets.js';

/** Generated files under dir, relative to it. */
function generated(dir: string, prefix = ''): string[] {
  let out: string[] = [];
  for (const name of readdirSync(path.join(dir, prefix)).sort()) {
    const rel = path.join(prefix, name);
    if (statSync(path.join(dir, rel)).isDirectory()) out = out.concat(generated(dir, rel));
    else if (name.endsWith('_pb.ts')) out.push(rel);
  }
  return out;
}

test('src/api matches a fresh `npm run generate`', () => {
  const root = repoRoot();
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'shim-ts-generate-'));
  try {
    const r = spawnSync(process.execPath, [path.join(root, 'scripts', 'generate.mjs'), '--out', tmp], { encoding: 'utf8' });
    assert.equal(r.status, 0, `generate failed:\n${r.stdout}\n${r.stderr}`);
    const fresh = path.join(tmp, 'src', 'api');
    const committed = path.join(root, 'src', 'api');
    const freshFiles = generated(fresh);
    assert.ok(freshFiles.length >= 9, `only ${freshFiles.length} files generated`);
    assert.deepEqual(generated(committed), freshFiles, 'file list differs: run npm run generate');
    for (const rel of freshFiles) {
      const same = readFileSync(path.join(fresh, rel)).equals(readFileSync(path.join(committed, rel)));
      assert.ok(same, `src/api/${rel} is stale: run npm run generate`);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
