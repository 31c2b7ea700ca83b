// PipeIO against real pipes and fifos: what the container writes is what the client reads, EOF
// reaches the client when the container's writers are gone, stdin follows CloseIO semantics.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, createHash } from 'node:crypto';
import { closeSync, constants, openSync, readlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PipeIO, StdioError } from '../../../src/stdio/index.js';
import { FifoReader, container, fdCount, makeFifos, openStdinWriter, sleep, within, type Fifos } from './helpers.js';

const options = { containerId: 'c1', namespace: 'test', openTimeoutMs: 5000 };

/**
 * Started stdio with all three fifos of `f`, a stand-in container running `script` on its
 * runtime fds (killed after the test) and both client readers.
 */
async function startedWithStdin(t: TestContext, f: Fifos, script: string): Promise<{ io: PipeIO; c: ReturnType<typeof container>; out: FifoReader; err: FifoReader }> {
  const io = await PipeIO.create({ stdin: f.stdin, stdout: f.stdout, stderr: f.stderr, terminal: false }, options);
  const c = container(script, io.runtimeStdio);
  t.after(() => c.child.kill('SIGKILL'));
  const out = new FifoReader(f.stdout);
  const err = new FifoReader(f.stderr);
  await io.start();
  return { io, c, out, err };
}

test('stdout and stderr reach the client byte for byte, last line without newline included', async (t) => {
  const f = makeFifos();
  t.after(f.cleanup);
  const io = await PipeIO.create({ stdin: '', stdout: f.stdout, stderr: f.stderr, terminal: false }, options);
  t.after(() => io.dispose());
  for (const fd of Object.values(io.runtimeStdio)) assert.match(readlinkSync(`/proc/self/fd/${fd}`), /^pipe:/);
  const c = container('printf "line1\\nno newline"; printf "to-err" >&2', io.runtimeStdio);
  assert.equal(await c.exited, 0);
  const out = new FifoReader(f.stdout);
  const err = new FifoReader(f.stderr);
  await io.start();
  assert.equal((await within(out.ended, 5000, 'stdout EOF')).toString(), 'line1\nno newline');
  assert.equal((await within(err.ended, 5000, 'stderr EOF')).toString(), 'to-err');
  assert.equal(await io.waitDrained(2000), true);
});

test('8 MiB of binary data arrive intact', async (t) => {
  const f = makeFifos();
  t.after(f.cleanup);
  const payload = randomBytes(8 << 20);
  const src = path.join(f.dir, 'payload');
  writeFileSync(src, payload);
  const io = await PipeIO.create({ stdin: '', stdout: f.stdout, stderr: f.stderr, terminal: false }, options);
  t.after(() => io.dispose());
  const out = new FifoReader(f.stdout);
  const err = new FifoReader(f.stderr);
  const c = container(`cat '${src}'`, io.runtimeStdio);
  await io.start();
  const got = await within(out.ended, 20000, 'stdout EOF');
  await err.ended;
  assert.equal(await c.exited, 0);
  assert.equal(got.length, payload.length);
  assert.equal(createHash('sha256').update(got).digest('hex'), createHash('sha256').update(payload).digest('hex'));
});

test('start waits for the client reader and fails with deadline-exceeded without one', async (t) => {
  const f = makeFifos();
  t.after(f.cleanup);
  const io = await PipeIO.create({ stdin: '', stdout: f.stdout, stderr: f.stderr, terminal: false }, { ...options, openTimeoutMs: 300 });
  t.after(() => io.dispose());
  const out = new FifoReader(f.stdout); // stderr has no reader
  t.after(() => out.close());
  const t0 = Date.now();
  await assert.rejects(io.start(), (e: unknown) => e instanceof StdioError && e.kind === 'deadline-exceeded' && e.message.includes(`opening w/o fifo "${f.stderr}"`) && e.message.includes('context deadline exceeded'));
  assert.ok(Date.now() - t0 >= 250);
});

test('stdin is forwarded and the container sees EOF only after CloseIO and the client closing', async (t) => {
  const f = makeFifos();
  t.after(f.cleanup);
  const { io, c, out, err } = await startedWithStdin(t, f, 'cat; echo done');
  t.after(() => io.dispose());
  const w = openStdinWriter(f.stdin);
  w.write('hello ');
  w.end('world');
  await sleep(300);
  assert.equal(out.data().toString(), 'hello world', 'bytes forwarded');
  assert.equal(c.child.exitCode, null, 'no EOF while the shim holds its stdin writer');
  await io.closeStdin();
  await io.closeStdin(); // idempotent
  assert.equal((await within(out.ended, 5000, 'stdout EOF')).toString(), 'hello worlddone\n');
  await err.ended;
  assert.equal(await c.exited, 0);
});

test('CloseIO before the client closes: EOF comes when the client closes', async (t) => {
  const f = makeFifos();
  t.after(f.cleanup);
  const { io, c, out, err } = await startedWithStdin(t, f, 'wc -c');
  t.after(() => io.dispose());
  const w = openStdinWriter(f.stdin);
  await io.closeStdin();
  w.write(Buffer.alloc(100000, 7));
  await sleep(200);
  assert.equal(c.child.exitCode, null);
  w.end();
  assert.equal((await within(out.ended, 5000, 'stdout EOF')).toString().trim(), '100000');
  await err.ended;
});

test('file:// appends both streams to one file and creates its directories', async (t) => {
  const f = makeFifos();
  t.after(f.cleanup);
  const log = path.join(f.dir, 'a', 'b', 'log.txt');
  const uri = `file://${log}`;
  const io = await PipeIO.create({ stdin: '', stdout: uri, stderr: uri, terminal: false }, options);
  t.after(() => io.dispose());
  const c = container('printf to-out; printf to-err >&2; printf tail', io.runtimeStdio);
  await io.start();
  await c.exited;
  assert.equal(await io.waitDrained(5000), true);
  const { readFileSync, statSync } = await import('node:fs');
  const text = readFileSync(log, 'utf8');
  assert.equal(text.length, 'to-outto-errtail'.length);
  assert.ok(text.includes('to-err') && text.replace('to-err', '') === 'to-outtail', text);
  assert.equal(statSync(log).mode & 0o777, 0o644 & ~process.umask());
});

test('one of stdout/stderr without the other is refused before the runtime runs', async () => {
  await assert.rejects(PipeIO.create({ stdin: '', stdout: '/x', stderr: '', terminal: false }, options), (e: unknown) => e instanceof StdioError && e.kind === 'unknown' && /opening file ""/.test(e.message));
});

test('an unknown scheme is refused with the reference message', async () => {
  await assert.rejects(PipeIO.create({ stdin: '', stdout: 'tcp://x', stderr: 'tcp://x', terminal: false }, options), (e: unknown) => e instanceof StdioError && e.message === 'unknown STDIO scheme tcp');
});

test('a stdout path that does not exist fails start with the reference message', async (t) => {
  const f = makeFifos();
  t.after(f.cleanup);
  const missing = path.join(f.dir, 'nope');
  const io = await PipeIO.create({ stdin: '', stdout: missing, stderr: missing, terminal: false }, options);
  t.after(() => io.dispose());
  await assert.rejects(io.start(), (e: unknown) => e instanceof StdioError && e.message === `containerd-shim: opening file "${missing}" failed: open ${missing}: no such file or directory`);
});

test('null I/O gives the runtime nothing and drains at once', async (t) => {
  const io = await PipeIO.create({ stdin: '', stdout: '', stderr: '', terminal: false }, options);
  t.after(() => io.dispose());
  assert.deepEqual(io.runtimeStdio, {});
  await io.start();
  assert.equal(await io.waitDrained(10), true);
});

test('a client reader that goes away neither wedges nor crashes the shim; a new reader gets every byte', async (t) => {
  const f = makeFifos();
  t.after(f.cleanup);
  const io = await PipeIO.create({ stdin: '', stdout: f.stdout, stderr: f.stderr, terminal: false }, options);
  t.after(() => io.dispose());
  // Readers that open the fifos and never read, then go away.
  const outFd = openSync(f.stdout, constants.O_RDONLY | constants.O_NONBLOCK);
  const errFd = openSync(f.stderr, constants.O_RDONLY | constants.O_NONBLOCK);
  const c = container('head -c 3000000 /dev/zero', io.runtimeStdio);
  t.after(() => c.child.kill('SIGKILL'));
  await io.start();
  await sleep(100);
  closeSync(outFd);
  closeSync(errFd);
  // The container is blocked in write(2) behind the full pipe and fifo; the shim's loop is fine.
  assert.equal(await io.waitDrained(300), false);
  assert.equal(c.child.exitCode, null);
  const again = new FifoReader(f.stdout);
  const err = new FifoReader(f.stderr);
  const rest = await within(again.ended, 10000, 'EOF after reconnect');
  await err.ended;
  assert.equal(rest.length, 3000000, 'nothing lost while no reader was there');
  assert.equal(await c.exited, 0);
  assert.equal(await io.waitDrained(2000), true);
});

test('dispose closes every fd it opened, also mid-copy; and is idempotent', async (t) => {
  const f = makeFifos();
  t.after(f.cleanup);
  const before = fdCount();
  const io = await PipeIO.create({ stdin: f.stdin, stdout: f.stdout, stderr: f.stderr, terminal: false }, options);
  const c = container('sleep 30', io.runtimeStdio);
  t.after(() => c.child.kill('SIGKILL'));
  const out = new FifoReader(f.stdout);
  const err = new FifoReader(f.stderr);
  await io.start();
  assert.ok(fdCount() > before + 2);
  out.close();
  err.close();
  c.child.kill('SIGKILL');
  await c.exited;
  await io.dispose();
  await io.dispose();
  await sleep(50); // libuv closes handles on the next loop turn
  assert.equal(fdCount(), before);
});

test('stdin written before the copy starts arrives; a dispose in the same turn as start() leaks nothing', async (t) => {
  const f = makeFifos();
  t.after(f.cleanup);
  // The stdin copy begins in the loop turn after start(): bytes the client wrote first wait in
  // the fifo and reach the container all the same.
  const { io, c, out, err } = await startedWithStdin(t, f, 'cat');
  const w = openStdinWriter(f.stdin);
  w.end('early bytes\n');
  await io.closeStdin();
  assert.equal(await within(c.exited, 5000, 'cat sees EOF'), 0);
  await within(io.waitDrained(5000), 6000, 'drained');
  assert.equal(out.data().toString(), 'early bytes\n');
  out.close();
  err.close();
  await io.dispose();
  await sleep(50);

  const before = fdCount();
  const { io: io2, c: c2, out: out2, err: err2 } = await startedWithStdin(t, f, 'sleep 30');
  const disposed = io2.dispose(); // before the stdin copy was set up
  c2.child.kill('SIGKILL');
  await c2.exited;
  await disposed;
  out2.close();
  err2.close();
  await sleep(50); // libuv closes handles on the next loop turn
  assert.equal(fdCount(), before);
});
