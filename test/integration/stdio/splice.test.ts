// The zero-copy path of the copy loop: pipe → fifo through splice(2), against real pipes. What
// must hold: every byte arrives in order whatever the reader's pace, the kernel path is really
// taken, and a destination that cannot be spliced into falls back to plain copies without loss.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, constants, createWriteStream, openSync, readFileSync, writeSync } from 'node:fs';
import { Writable } from 'node:stream';
import path from 'node:path';
import { Socket } from 'node:net';
import { OutputSink, pump, readPipe } from '../../../src/stdio/copy.js';
import { openOutput } from '../../../src/stdio/fifo-open.js';
import { createPipe, setPipeSize } from '../../../src/sys/pipes.js';
import { FifoReader, makeFifos, sleep, within } from './helpers.js';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** A libuv handle writing a pipe's write end (the "container" side of these tests). */
function writePipe(fd: number): Socket {
  const socket = new Socket({ fd, readable: false, writable: true });
  socket.on('error', () => undefined);
  return socket;
}

/** Writes `payload` into a pipe's write end in odd-sized pieces, then closes it (the "container"). */
async function feed(fd: number, payload: Buffer): Promise<void> {
  const writer = writePipe(fd);
  let off = 0;
  let piece = 1;
  while (off < payload.length) {
    // Sizes from 1 byte to 3 MiB, so chunks and splices start and end at every kind of offset.
    const n = Math.min(payload.length - off, (piece * 7919) % (3 << 20) || 1);
    piece++;
    if (!writer.write(payload.subarray(off, off + n))) await new Promise((r) => writer.once('drain', r));
    off += n;
  }
  await new Promise<void>((r) => writer.end(r));
}

test('pipe → fifo: 96 MiB through splice arrive in order, with a reader that keeps pausing', async (t) => {
  const f = makeFifos();
  t.after(f.cleanup);
  const payload = randomBytes(96 << 20);
  const src = createPipe();
  setPipeSize(src.read, 1 << 20);
  const reader = new FifoReader(f.stdout);
  // The shim's side of the fifo: write end plus its keep-alive reader, opened as for a container.
  const sink = OutputSink.forTarget(await openOutput(f.stdout, 5000));
  // A slow client: stops reading for a moment every few MiB, so the fifo fills and splice meets EAGAIN.
  let seen = 0;
  reader.socket.on('data', (c: Buffer) => {
    seen += c.length;
    if (seen % (5 << 20) < c.length) {
      reader.socket.pause();
      setTimeout(() => reader.socket.resume(), 20);
    }
  });
  const source = readPipe(src.read);
  const copied = pump(source, sink.acquire().stream, undefined, sink.spliceFrom(src.read));
  await feed(src.write, payload);
  const result = await within(copied, 60_000, 'pump end');
  await sink.release();
  const got = await within(reader.ended, 10_000, 'client EOF');
  assert.equal(got.length, payload.length);
  assert.equal(sha(got), sha(payload));
  assert.equal(result.copiedBytes + result.splicedBytes, payload.length);
  // The kernel path carried data (most of it, when the writer is ahead of us; not asserted as a share).
  assert.ok(result.splicedBytes > 0, `spliced ${result.splicedBytes} of ${payload.length}`);
});

test('a chunk still queued in the destination stream is never overtaken by a splice', async () => {
  // A destination whose writes complete later (as a libuv write does when the fifo is full):
  // write() says "go on" while the chunk is still queued, exactly when a splice would jump ahead.
  const payload = randomBytes(4 << 20);
  const src = createPipe();
  // As PipeIO does: 1 MiB in the source, so after libuv's 64 KiB read there is more to splice.
  setPipeSize(src.read, 1 << 20);
  const dst = createPipe();
  setPipeSize(dst.write, 1 << 20);
  const late = new Writable({
    highWaterMark: 8 << 20,
    write(chunk: Buffer, _enc, done): void {
      setTimeout(() => {
        writeSync(dst.write, chunk);
        done();
      }, 2);
    },
  });
  const out = readPipe(dst.read);
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  const copied = pump(readPipe(src.read), late, undefined, { from: src.read, to: dst.write });
  await feed(src.write, payload);
  const result = await within(copied, 30_000, 'pump end');
  await new Promise<void>((r) => late.end(r));
  closeSync(dst.write);
  await within(new Promise((r) => out.once('end', r)), 10_000, 'reader EOF');
  assert.equal(sha(Buffer.concat(chunks)), sha(payload));
  assert.equal(result.copiedBytes + result.splicedBytes, payload.length);
});

test('fifo → pipe (the stdin direction) splices too and keeps order', async () => {
  const payload = randomBytes(16 << 20);
  const src = createPipe();
  setPipeSize(src.read, 1 << 20);
  const dst = createPipe();
  setPipeSize(dst.write, 1 << 20);
  const sink = OutputSink.forPipe(dst.write).acquire();
  const out = readPipe(dst.read);
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  const ended = new Promise<void>((r) => out.once('end', () => r()));
  const copied = pump(readPipe(src.read), sink.stream, undefined, sink.spliceFrom(src.read));
  await feed(src.write, payload);
  const result = await within(copied, 30_000, 'pump end');
  await sink.release();
  await within(ended, 10_000, 'reader EOF');
  assert.equal(sha(Buffer.concat(chunks)), sha(payload));
  assert.equal(result.copiedBytes + result.splicedBytes, payload.length);
  assert.ok(result.splicedBytes > 0, `spliced ${result.splicedBytes} of ${payload.length}`);
});

test('a destination splice refuses (O_APPEND file) falls back to copies without losing a byte', async (t) => {
  const f = makeFifos();
  t.after(f.cleanup);
  const payload = randomBytes(8 << 20);
  const file = path.join(f.dir, 'log');
  const fd = openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND, 0o600);
  const stream = createWriteStream('', { fd, autoClose: true });
  const src = createPipe();
  // Offer the file's fd as a splice target on purpose: the kernel answers EINVAL for O_APPEND.
  const copied = pump(readPipe(src.read), stream, undefined, { from: src.read, to: fd });
  await feed(src.write, payload);
  const result = await within(copied, 30_000, 'pump end');
  await new Promise<void>((r) => stream.end(r));
  assert.equal(result.splicedBytes, 0);
  assert.equal(result.copiedBytes, payload.length);
  assert.equal(sha(readFileSync(file)), sha(payload));
});

test('a stopped pump splices nothing more: bytes written after the stop stay in the source', async (t) => {
  const f = makeFifos();
  t.after(f.cleanup);
  const src = createPipe();
  const reader = new FifoReader(f.stdout);
  const sink = OutputSink.forTarget(await openOutput(f.stdout, 5000)).acquire();
  const stop = new AbortController();
  const source = readPipe(src.read);
  const copied = pump(source, sink.stream, stop.signal, sink.spliceFrom(src.read));
  const input = writePipe(src.write);
  input.write(Buffer.from('before\n'));
  for (let i = 0; i < 50 && reader.data().length < 7; i++) await sleep(10);
  stop.abort();
  await copied;
  input.write(Buffer.from('after\n'));
  await sleep(50);
  await sink.release();
  input.destroy();
  source.destroy();
  assert.equal((await within(reader.ended, 5000, 'client EOF')).toString(), 'before\n');
});
