// The native pipe calls, run for real.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, constants, mkdtempSync, openSync, readSync, readlinkSync, rmSync, statSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SysCallError, createPipe, getPipeSize, isNonBlocking, mkfifo, setNonBlocking, setPipeSize, splice } from '../../../src/sys/pipes.js';

test('createPipe makes a real pipe: bytes written at one end are read at the other', () => {
  const p = createPipe();
  try {
    assert.match(readlinkSync(`/proc/self/fd/${p.read}`), /^pipe:\[\d+\]$/);
    assert.equal(writeSync(p.write, Buffer.from('abc')), 3);
    const buf = Buffer.alloc(8);
    assert.equal(readSync(p.read, buf), 3);
    assert.equal(buf.subarray(0, 3).toString(), 'abc');
    // O_CLOEXEC: FD_CLOEXEC shows in /proc/self/fdinfo flags (02000000).
    const flags = /flags:\s+(\d+)/.exec(fdinfo(p.read))![1]!;
    assert.ok((parseInt(flags, 8) & 0o2000000) !== 0);
  } finally {
    closeSync(p.read);
    closeSync(p.write);
  }
});

function fdinfo(fd: number): string {
  const buf = Buffer.alloc(4096);
  const f = openSync(`/proc/self/fdinfo/${fd}`, 'r');
  try {
    return buf.subarray(0, readSync(f, buf)).toString();
  } finally {
    closeSync(f);
  }
}

test('setNonBlocking affects only that end, and reads then fail with EAGAIN', () => {
  const p = createPipe();
  try {
    setNonBlocking(p.read, true);
    assert.equal(isNonBlocking(p.read), true);
    assert.equal(isNonBlocking(p.write), false);
    assert.throws(() => readSync(p.read, Buffer.alloc(1)), { code: 'EAGAIN' });
    setNonBlocking(p.read, false);
    assert.equal(isNonBlocking(p.read), false);
  } finally {
    closeSync(p.read);
    closeSync(p.write);
  }
});

test('pipe size can be read and raised', () => {
  const p = createPipe();
  try {
    assert.equal(getPipeSize(p.read), 65536);
    assert.ok(setPipeSize(p.read, 256 * 1024) >= 256 * 1024);
    assert.ok(getPipeSize(p.write) >= 256 * 1024);
  } finally {
    closeSync(p.read);
    closeSync(p.write);
  }
});

test('mkfifo creates a fifo; errors carry the errno name', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pipes-test-'));
  try {
    const f = path.join(dir, 'f');
    mkfifo(f, 0o600);
    assert.ok(statSync(f).isFIFO());
    assert.throws(() => mkfifo(f), (e: unknown) => e instanceof SysCallError && e.code === 'EEXIST');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('splice moves bytes from a pipe into a fifo, returns -1 when empty and 0 at EOF', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pipes-test-'));
  const p = createPipe();
  const fifo = path.join(dir, 'f');
  mkfifo(fifo);
  const r = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
  const w = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
  try {
    writeSync(p.write, Buffer.from('hello splice'));
    assert.equal(splice(p.read, w, 1 << 16), 12);
    const buf = Buffer.alloc(32);
    assert.equal(buf.subarray(0, readSync(r, buf)).toString(), 'hello splice');
    assert.equal(splice(p.read, w, 1 << 16), -1);
    closeSync(p.write);
    assert.equal(splice(p.read, w, 1 << 16), 0);
  } finally {
    closeSync(p.read);
    try { closeSync(p.write); } catch { /* closed above */ }
    closeSync(r);
    closeSync(w);
    rmSync(dir, { recursive: true, force: true });
  }
});
