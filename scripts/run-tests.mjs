// Runs the compiled test files with node's built-in test runner.
// Usage: node scripts/run-tests.mjs [unit|integration|e2e|bench|<test file> ...]  (default: all suites)
// A test file may be given as its source (test/e2e/run.test.ts) or compiled path (dist/...js).
import { readdirSync, statSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const suites = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['unit', 'integration', 'e2e', 'bench'];

function collect(dir) {
  let out = [];
  let entries;
  try { entries = readdirSync(dir); } catch { return out; }
  for (const name of entries.sort()) {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) out = out.concat(collect(full));
    else if (name.endsWith('.test.js')) out.push(full);
  }
  return out;
}

/** A suite name → its compiled files; a file path → its compiled counterpart. */
function resolve(arg) {
  if (!arg.endsWith('.ts') && !arg.endsWith('.js')) return collect(path.join(root, 'dist', 'test', arg));
  const rel = path.relative(root, path.resolve(arg));
  const compiled = rel.startsWith('dist' + path.sep) ? rel : path.join('dist', rel.replace(/\.ts$/, '.js'));
  return [path.join(root, compiled)];
}

const files = suites.flatMap(resolve);
if (files.length === 0) {
  console.error('no test files found; did you run npm run build?');
  process.exit(1);
}
// Suites that drive real containerd and runtimes share host resources (mounts, cgroups,
// /run/containerd/s): run files one at a time to keep failures attributable.
const result = spawnSync(process.execPath, ['--test', '--test-concurrency=1', '--test-reporter=spec', ...files], {
  stdio: 'inherit',
  cwd: root,
});
process.exit(result.status ?? 1);
