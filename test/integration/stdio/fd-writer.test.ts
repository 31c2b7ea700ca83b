// FdWriter against real pipes: small output leaves through write(2) with no libuv handle and its
// end closes the fd; output beyond what the pipe holds makes the handle and still arrives whole and
// in order, and once there is room again writes go straight to the fd; a reader that went away fails the stream without throwing; destroy closes the fd once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { fstatSync } from 'node:fs';
import { Socket } from 'node:net';
import { FdWriter } from '../../../src/stdio/fd-writer.js';
import { createPipe, getPipeSize, setNonBlocking } from '../../../src/sys/pipes.js';
import { fdCount, sleep, within } from './helpers.js';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** A pipe whose write end is non-blocking (as the shim's ends are), and a reader collecting it to EOF. */
function pipeWithReader(): { writeFd: number; reader: Socket; received: () => Buffer; ended: Promise<Buffer> } {
  const pipe = createPipe();
  setNonBlocking(pipe.write, true);
  const reader = new Socket({ fd: pipe.read, readable: true, writable: false });
  const chunks: Buffer[] = [];
  reader.on('data', (c: Buffer) => chunks.push(c));
  const received = (): Buffer => Buffer.concat(chunks);
  const ended = new Promise<Buffer>((resolve, reject) => {
    reader.once('end', () => resolve(received()));
    reader.once('error', reject);
  });
  return { writeFd: pipe.write, reader, received, ended };
}

const isOpen = (fd: number): boolean => {
  try {
    fstatSync(fd);
    return true;
  } catch {
    return false;
  }
};

test('small writes go out through write(2) without a handle, and the end closes the fd', async () => {
  const p = pipeWithReader();
  const writer = new FdWriter(p.writeFd);
  assert.equal(writer.write(Buffer.from('one\n')), true);
  writer.write(Buffer.from('two\n'));
  await new Promise<void>((resolve) => writer.end(resolve));
  assert.equal(writer.hasHandle, false, 'no libuv handle for output that fit in the pipe');
  assert.equal(isOpen(p.writeFd), false, 'the end closed the fd');
  assert.equal((await within(p.ended, 5000, 'reader EOF')).toString(), 'one\ntwo\n');
});

test('more than the pipe holds, with a reader that pauses: a write that would block makes the handle, every byte arrives in order', async (t) => {
  const p = pipeWithReader();
  t.after(() => p.reader.destroy());
  p.reader.pause();
  const writer = new FdWriter(p.writeFd);
  const payload = randomBytes(getPipeSize(p.writeFd) * 8 + 12345);
  // Odd-sized pieces, so the first blocked write is a partial one.
  let ok = true;
  for (let off = 0; off < payload.length; off += 7000) ok = writer.write(payload.subarray(off, Math.min(payload.length, off + 7000))) && ok;
  assert.equal(ok, false, 'back-pressure reported once the pipe is full');
  await sleep(20);
  assert.equal(writer.hasHandle, true, 'a write that would block made the handle');
  p.reader.resume();
  await within(new Promise((resolve) => writer.once('drain', resolve)), 10_000, 'writer drained');
  // With room in the pipe again, the next chunk goes straight to the fd, not queued behind the
  // handle: pump splices only while nothing waits in user space (a handle carrying every later
  // write cut stdout throughput to a quarter).
  const tail = Buffer.from('after the handle\n');
  writer.write(tail);
  assert.equal(writer.writableLength, 0, 'written at once with write(2)');
  const ended = new Promise<void>((resolve) => writer.end(resolve));
  await within(ended, 10_000, 'writer finished');
  assert.equal(sha(await within(p.ended, 10_000, 'reader EOF')), sha(Buffer.concat([payload, tail])));
});

test('a reader that went away fails the stream (no throw), and the fd is closed', async () => {
  const p = pipeWithReader();
  p.reader.destroy();
  await sleep(20);
  const writer = new FdWriter(p.writeFd);
  const errored = new Promise<NodeJS.ErrnoException>((resolve) => writer.once('error', resolve));
  writer.write(Buffer.from('nobody reads this\n'));
  assert.equal((await within(errored, 5000, 'write error')).code, 'EPIPE');
  await new Promise((resolve) => (writer.closed ? resolve(undefined) : writer.once('close', resolve)));
  assert.equal(isOpen(p.writeFd), false);
});

test('destroy without a handle closes the fd exactly once', async () => {
  const before = fdCount();
  const p = pipeWithReader();
  const writer = new FdWriter(p.writeFd);
  writer.destroy();
  writer.destroy();
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(isOpen(p.writeFd), false);
  assert.equal((await within(p.ended, 5000, 'reader EOF')).length, 0);
  p.reader.destroy();
  await sleep(10);
  assert.equal(fdCount(), before, 'no fd left behind');
});
