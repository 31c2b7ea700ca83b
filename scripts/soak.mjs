// Long reliability soak: the test/e2e/reliability files at soak size (1,000 containers of churn,
// 1,000 output runs, …) with a bounded run time, and every measurement collected into one report.
// Usage: npm run build && node scripts/soak.mjs [--minutes 60] [--report soak-report.jsonl] [file …]
// Sizes can be overridden with the same environment variables the tests read (docs/reliability.md).
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const args = process.argv.slice(2);
let minutes = 60;
let reportFile = path.join(process.cwd(), 'soak-report.jsonl');
const files = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--minutes') minutes = Number(args[++i]);
  else if (args[i] === '--report') reportFile = path.resolve(args[++i]);
  else files.push(args[i]);
}
if (!Number.isFinite(minutes) || minutes <= 0) throw new Error('--minutes must be a positive number');

const SOAK_SIZES = {
  RELIABILITY_CHURN: '1000',
  RELIABILITY_CHURN_REF: '200',
  RELIABILITY_OUTPUT_RUNS: '1000',
  RELIABILITY_OUTPUT_RUNS_REF: '200',
  RELIABILITY_EXECS: '64',
  RELIABILITY_CONTAINERS: '50',
};
const env = { ...process.env, RELIABILITY_REPORT: reportFile };
for (const [k, v] of Object.entries(SOAK_SIZES)) env[k] ??= v;

const dir = path.join(root, 'dist', 'test', 'e2e', 'reliability');
const chosen = files.length > 0
  ? files.map((f) => path.join(root, 'dist', path.relative(root, path.resolve(f)).replace(/\.ts$/, '.js')))
  : ['churn', 'output', 'concurrency', 'faults', 'hostile', 'access'].map((n) => path.join(dir, `${n}.test.js`));
for (const f of chosen) if (!existsSync(f)) { console.error(`${f} is missing: run npm run build`); process.exit(1); }
writeFileSync(reportFile, '');

// One child for all files; its process group is ended when the time is up (the tests' own teardown
// runs on SIGTERM through the harness's exit hooks; SIGKILL follows after a grace period).
const child = spawn(process.execPath, ['--test', '--test-concurrency=1', '--test-reporter=spec', '--test-timeout=86400000', ...chosen], {
  cwd: root, env, stdio: 'inherit', detached: true,
});
const limit = setTimeout(() => {
  console.error(`soak: ${minutes} min are up, stopping the tests`);
  try { process.kill(-child.pid, 'SIGTERM'); } catch { /* gone */ }
  setTimeout(() => { try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ } }, 30_000).unref();
}, minutes * 60_000);
child.on('exit', (code, signal) => {
  clearTimeout(limit);
  const lines = existsSync(reportFile) ? readFileSync(reportFile, 'utf8').split('\n').filter(Boolean) : [];
  console.log(`\nsoak: ${lines.length} measurements in ${reportFile}`);
  for (const l of lines) {
    const o = JSON.parse(l);
    const { test, at, ...rest } = o;
    console.log(`  ${test}: ${JSON.stringify(rest).slice(0, 400)}`);
  }
  process.exit(code ?? (signal ? 1 : 0));
});
