// The posix_spawn path of ProcessMonitor.run (runtime/fast-spawn.ts), driven directly so it is
// covered whether or not CONTAINERD_SHIM_TS_SPAWN=libuv turns it off: statuses, captured output, stdin
// bytes, fds given as stdio or inherited as 3, 4, …, default signal dispositions, timeouts and a
// missing program.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, readFileSync, writeSync } from 'node:fs';
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

test('inheritFds: the child gets them as fds 3, 4, … (posix_spawn and child_process alike)', async () => {
  const a = createPipe();
  const b = createPipe();
  try {
    writeSync(a.write, 'from-a');
    writeSync(b.write, 'from-b');
    closeSync(a.write);
    closeSync(b.write);
    const fast = await run(['-c', 'cat <&3; echo; cat <&4'], { inheritFds: [a.read, b.read] });
    assert.equal(fast?.stdout, 'from-a\nfrom-b');
    // Close-on-exec stays on our copies: only the targets reach the child.
    const ours = [a.read, b.read].filter((fd) => fd !== 3);
    const leaked = await run(['-c', `for f in ${ours.join(' ')}; do [ -e /proc/self/fd/$f ] && echo leak $f; done; readlink /proc/self/fd/3`], { inheritFds: [a.read] });
    assert.match(leaked?.stdout ?? '', /^pipe:\[\d+\]\n$/, 'fd 3 is the pipe, and our own copies did not leak');
    const c = createPipe();
    writeSync(c.write, 'via-libuv');
    closeSync(c.write);
    const slow = await monitor.start({ binary: 'sh', args: ['-c', 'cat <&3'], inheritFds: [c.read] }).result;
    closeSync(c.read);
    assert.equal(slow.stdout, 'via-libuv');
  } finally {
    closeSync(a.read);
    closeSync(b.read);
  }
});
