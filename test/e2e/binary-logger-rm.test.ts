// `binary://` logging under `ctr run --rm` (stdio.md §7): the task is deleted the moment its init
// exits and the shim is shut down right after, so this is where a logger could miss the SIGTERM
// that Delete owes it, see its output cut, or still be running when Delete returns. Repeated
// (BINLOG_RM_RUNS, default 3) on both shims because a race shows only now and then.
import { describe } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { differential, e2eSkipReason, repoRoot, useContainerd } from './harness/index.js';

function readOr(file: string): string | undefined {
  try { return readFileSync(file, 'utf8'); } catch { return undefined; }
}

const RUNS = Math.max(1, Number(process.env.BINLOG_RM_RUNS ?? '3') || 3);
// Exits at once: Delete follows the logger's start as closely as `ctr run --rm` can make it.
const COMMAND = ['sh', '-c', 'echo to-out; echo to-err >&2'];

describe('binary:// logging under ctr run --rm', { skip: e2eSkipReason() ?? false }, () => {
  const ctx = useContainerd();

  differential(ctx, `ctr run --rm: the logger gets all output, then EOF and SIGTERM (${RUNS} runs)`, async (env) => {
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'e2e-binlog-rm-'));
    try {
      const logger = path.join(tmp, 'logger.sh');
      copyFileSync(path.join(repoRoot(), 'test', 'e2e', 'fixtures', 'binary-logger.sh'), logger);
      chmodSync(logger, 0o755);
      const runs: { code: number | null; loggedOut: string | undefined; loggedErr: string | undefined; events: string }[] = [];
      for (let i = 0; i < RUNS; i++) {
        const out = path.join(tmp, `out-${i}`);
        mkdirSync(out);
        const id = env.id('binlog-rm');
        const r = await env.run(id, COMMAND, { extra: ['--log-uri', `binary://${logger}?dir=${encodeURIComponent(out)}`] });
        // No waiting here: Delete waits for the logger to exit (SIGTERM, up to 12 s, then SIGKILL)
        // and `ctr run --rm` returns after Delete, so the logger's last line is already written.
        const events = readOr(path.join(out, 'events')) ?? '<missing>';
        runs.push({ code: r.code, loggedOut: readOr(path.join(out, 'stdout')), loggedErr: readOr(path.join(out, 'stderr')), events: events.replace('eof\n', '') });
      }
      return runs;
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }, {
    check: (runs) => {
      for (const [i, run] of runs.entries()) {
        assert.deepEqual(run, { code: 0, loggedOut: 'to-out\n', loggedErr: 'to-err\n', events: 'TERM\n' }, `run ${i + 1} of ${runs.length}`);
      }
    },
    timeoutMs: 30_000 + RUNS * 15_000,
  });
});
