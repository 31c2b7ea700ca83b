// Keeps the layering of docs/architecture.md: every import between src/ layers must point
// down the allowed edges. A new edge needs an architecture change first, not a quiet import.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const src = path.join(root, 'src');

/** Which layers each layer may import (besides itself). */
export const allowedImports: Record<string, readonly string[]> = {
  cmd: ['shim', 'process', 'runtime', 'stdio', 'ttrpc', 'api', 'sys'],
  shim: ['process', 'runtime', 'stdio', 'ttrpc', 'api', 'sys'],
  process: ['runtime', 'stdio', 'sys'],
  runtime: ['sys'],
  stdio: ['sys'],
  ttrpc: [],
  api: [],
  sys: [],
};

function tsFiles(dir: string): string[] {
  let out: string[] = [];
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) out = out.concat(tsFiles(full));
    else if (name.endsWith('.ts')) out.push(full);
  }
  return out;
}

test('src/ has only the known layers', () => {
  const layers = readdirSync(src).filter((n) => statSync(path.join(src, n)).isDirectory());
  for (const layer of layers) assert.ok(layer in allowedImports, `unknown layer src/${layer}`);
});

test('imports between layers point down only', () => {
  const violations: string[] = [];
  for (const file of tsFiles(src)) {
    const layer = path.relative(src, file).split(path.sep)[0]!;
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/(?:from\s+|import\s*\(\s*)['"](\.[^'"]+)['"]/g)) {
      const target = path.resolve(path.dirname(file), m[1]!);
      const rel = path.relative(src, target);
      if (rel.startsWith('..')) { violations.push(`${path.relative(root, file)} imports outside src: ${m[1]}`); continue; }
      const targetLayer = rel.split(path.sep)[0]!;
      if (targetLayer === layer) continue;
      if (!(allowedImports[layer] ?? []).includes(targetLayer)) {
        violations.push(`${path.relative(root, file)} (${layer}) imports ${targetLayer}: ${m[1]}`);
      }
    }
  }
  assert.deepEqual(violations, []);
});
