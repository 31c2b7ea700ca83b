// binary:// logging: the logger gets the container's stdout/stderr as fds 3 and 4, signals
// readiness on fd 5, sees only CONTAINER_ID/CONTAINER_NAMESPACE, and is stopped at dispose.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PipeIO } from '../../../src/stdio/index.js';
import { container, fdCount, makeFifos, sleep, within } from './helpers.js';

/** A tiny logging program: records argv and env, waits a bit, signals ready, copies fds 3/4. */
function writeLogger(dir: string): string {
  const file = path.join(dir, 'logger.sh');
  writeFileSync(file, `#!/bin/sh
out="$2"
printf '%s\\n' "$@" > "$out.argv"
/usr/bin/env > "$out.env"
/bin/sleep 0.3
exec 5>&-
trap 'echo term > "$out.term"; exit 0' TERM
/bin/cat <&3 > "$out.stdout" &
/bin/cat <&4 > "$out.stderr" &
wait
# EOF came (the shim closed its write ends); stay until the shim's SIGTERM, as a real logger would.
while :; do /bin/sleep 0.05; done
`);
  chmodSync(file, 0o755);
  return file;
}

async function until(what: string, cond: () => boolean, ms = 5000): Promise<void> {
  await within((async () => {
    while (!cond()) await sleep(20);
  })(), ms, what);
}

test('binary:// starts the logger with fds 3/4/5, its args and env, and stops it at dispose', async (t) => {
  const f = makeFifos();
  t.after(f.cleanup);
  const logger = writeLogger(f.dir);
  const out = path.join(f.dir, 'log');
  const uri = `binary://${logger}?--out=${encodeURIComponent(out)}&flag&k=v1&k=v2`;
  const before = fdCount();
  const t0 = Date.now();
  const io = await PipeIO.create({ stdin: '', stdout: uri, stderr: uri, terminal: false }, { containerId: 'c1', namespace: 'ns1', cwd: f.dir });
  t.after(() => io.dispose());
  assert.ok(Date.now() - t0 >= 250, 'create waited for the ready fd');
  const c = container('printf "hello no newline"; printf oops >&2', io.runtimeStdio);
  await io.start();
  assert.equal(await c.exited, 0);
  await until('logger output', () => existsSync(`${out}.stderr`) && readFileSync(`${out}.stdout`, 'utf8') === 'hello no newline' && readFileSync(`${out}.stderr`, 'utf8') === 'oops');
  assert.deepEqual(readFileSync(`${out}.argv`, 'utf8').split('\n').slice(0, -1), ['--out', out, 'flag', '', 'k', 'v1']);
  const env = readFileSync(`${out}.env`, 'utf8').split('\n').filter((l) => l !== '' && !l.startsWith('PWD=') && !l.startsWith('SHLVL=') && !l.startsWith('_='));
  assert.deepEqual(env.sort(), ['CONTAINER_ID=c1', 'CONTAINER_NAMESPACE=ns1']);
  assert.equal(await io.waitDrained(10), true, 'nothing to drain: the logger reads the pipes itself');
  await io.dispose();
  assert.equal(readFileSync(`${out}.term`, 'utf8'), 'term\n');
  await sleep(50);
  assert.equal(fdCount(), before);
});

test('a logging binary that cannot be started fails create', async () => {
  await assert.rejects(
    PipeIO.create({ stdin: '', stdout: 'binary:///nonexistent/logger', stderr: '', terminal: false }, { containerId: 'c1', namespace: 'ns1' }),
    /failed to start binary process/,
  );
});
