// The posix_spawn path of ProcessMonitor.run (runtime/fast-spawn.ts), driven directly so it is
// covered whether or not CONTAINERD_SHIM_TS_SPAWN=libuv turns it off: statuses, captured output, stdin
// bytes, fds given as stdio, default signal dispositions, timeouts and a missing program.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, readFileSync } from 'node:fs';
import { FastSpawnError, fastRun } from '../../../src/runtime/fast-spawn.js';
import { ProcessMonitor } from '../../../src/runtime/index.js';
import { createPipe } from '../../../src/sys/index.js';

const monitor = ProcessMonitor.get();
const waitExit = (pid: number): ReturnType<ProcessMonitor['waitForExit']> => monitor.waitForExit(pid);

function run(args: string[], extra: Partial<Parameters<typeof fastRun>[0]> = {}): ReturnType<typeof fastRun> {
  return fastRun({ binary: 'sh', args, ...extra }, '/bin/sh', waitExit);
}

test('status, separate and interleaved capture, env and cwd', async () => {
  const r = await run(['-c', 'echo out; echo err >&2; echo "$FOO $(pwd)"; exit 3'], { env: { FOO: 'bar' }, cwd: '/' });
  assert.ok(r);
  assert.equal(r.exitStatus, 3);
  assert.equal(r.stdout, 'out\nbar /\n');
  assert.equal(r.stderr, 'err\n');
  assert.equal(r.output.length, r.stdout.length + r.stderr.length);
});

test('stdin bytes, an fd as stdout, and SIGPIPE at its default (Node ignores it)', async () => {
  const cat = await run(['-c', 'cat'], { stdin: Buffer.from('{"a":1}') });
  assert.equal(cat?.stdout, '{"a":1}');
  const p = createPipe();
  const r = run(['-c', 'echo to-fd'], { stdout: p.write, stderr: 'null' });
  closeSync(p.write);
  assert.equal(readFileSync(p.read, 'utf8'), 'to-fd\n');
  closeSync(p.read);
  assert.equal((await r)?.exitStatus, 0);
  const pipe = await run(['-c', 'kill -PIPE $$']);
  assert.equal(pipe?.exitStatus, 141);
  assert.equal(pipe?.signal, 13);
});

test('timeout kills, a missing program throws before any child exists', async () => {
  const slow = await fastRun({ binary: 'sleep', args: ['10'], timeoutMs: 100 }, '/bin/sleep', waitExit);
  assert.equal(slow?.timedOut, true);
  assert.equal(slow?.exitStatus, 137);
  assert.throws(() => fastRun({ binary: 'nope', args: [] }, '/nonexistent/nope', waitExit), (e: unknown) => e instanceof FastSpawnError && e.code === 'ENOENT');
});
