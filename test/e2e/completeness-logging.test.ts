// Log URIs instead of fifos (stdio.md §6, §7), on the reference shim and on ours:
// `ctr run --log-uri file:///…` and `binary:///…?args` with a tiny logging program
// (fixtures/binary-logger.sh, which follows containerd's fd 3/4/5 contract).
import { describe } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { differential, e2eSkipReason, repoRoot, useContainerd, waitFor, replaceAll, sleep } from './harness/index.js';

/** A fresh temp dir, removed by the returned function. */
function tempDir(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

function readOr(file: string): string | undefined {
  try { return readFileSync(file, 'utf8'); } catch { return undefined; }
}

const COMMAND = ['sh', '-c', 'echo to-out; echo to-err >&2; sleep 0.2; echo last-out'];

describe('log URIs', { skip: e2eSkipReason() ?? false }, () => {
  const ctx = useContainerd();

  differential(ctx, 'file:// appends stdout and stderr to one file; ctr shows nothing', async (env) => {
    const tmp = tempDir('e2e-filelog-');
    try {
      const id = env.id('filelog');
      // A directory that does not exist yet: the shim creates it.
      const file = path.join(tmp.dir, 'sub', 'task.log');
      const r = await env.run(id, COMMAND, { extra: ['--log-uri', `file://${file}`] });
      const text = readOr(file) ?? '<missing>';
      // The two streams are copied independently, so only the lines of each are ordered.
      const lines = text.split(/(?<=\n)/).sort();
      return { code: r.code, stdout: r.out, lines };
    } finally {
      tmp.remove();
    }
  }, {
    check: (o) => assert.deepEqual(o, { code: 0, stdout: '', lines: ['last-out\n', 'to-err\n', 'to-out\n'].sort() }),
  });

  differential(ctx, 'binary:// starts the logger with fds 3/4/5, its args and env; SIGTERM at delete', async (env) => {
    const tmp = tempDir('e2e-binlog-');
    try {
      const id = env.id('binlog');
      const logger = path.join(tmp.dir, 'logger.sh');
      copyFileSync(path.join(repoRoot(), 'test', 'e2e', 'fixtures', 'binary-logger.sh'), logger);
      chmodSync(logger, 0o755);
      const out = path.join(tmp.dir, 'out');
      mkdirSync(out);
      const r = await env.run(id, COMMAND, { detach: true, extra: ['--log-uri', `binary://${logger}?dir=${encodeURIComponent(out)}`] });
      assert.equal(r.code, 0, r.err);
      await env.waitStatus(id, 'STOPPED');
      await sleep(500);
      // The shim keeps the pipes' write ends until Delete, so the logger has not seen EOF yet.
      const beforeDelete = readOr(path.join(out, 'events')) ?? '';
      await env.ctr.ok(['task', 'rm', id]);
      await waitFor('the logger to get SIGTERM', () => (readOr(path.join(out, 'events')) ?? '').includes('TERM') || undefined, 15_000).catch(() => undefined);
      return {
        code: r.code,
        stdout: r.out,
        env: replaceAll(readOr(path.join(out, 'env')) ?? '<missing>', env.ids),
        loggedOut: readOr(path.join(out, 'stdout')),
        loggedErr: readOr(path.join(out, 'stderr')),
        beforeDelete,
        // "eof" may or may not be seen before the signal arrives; the signal must come.
        afterDelete: (readOr(path.join(out, 'events')) ?? '').replace('eof\n', ''),
      };
    } finally {
      tmp.remove();
    }
  }, {
    check: (o) => assert.deepEqual(o, {
      code: 0, stdout: '', env: `<binlog> ${ctx.cd.namespace}\n`,
      loggedOut: 'to-out\nlast-out\n', loggedErr: 'to-err\n', beforeDelete: '', afterDelete: 'TERM\n',
    }),
    timeoutMs: 60_000,
  });
});
