// Window size and pending-byte ioctls on a real pty made with posix_openpt.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, constants, openSync, writeSync } from 'node:fs';
import { bytesReadable, getWindowSize, isTerminal, openPty, setWindowSize } from '../../../src/sys/tty.js';
import { createPipe } from '../../../src/sys/pipes.js';

test('setWindowSize on the master is what the slave sees', () => {
  const pty = openPty();
  const slave = openSync(pty.slavePath, constants.O_RDWR | constants.O_NOCTTY);
  try {
    assert.deepEqual(getWindowSize(pty.master), { columns: 0, rows: 0 });
    setWindowSize(pty.master, { columns: 100, rows: 40 });
    assert.deepEqual(getWindowSize(slave), { columns: 100, rows: 40 });
  } finally {
    closeSync(slave);
    closeSync(pty.master);
  }
});

test('bytesReadable counts what the slave wrote; isTerminal tells a pty from a pipe', async () => {
  const pty = openPty();
  const slave = openSync(pty.slavePath, constants.O_RDWR | constants.O_NOCTTY);
  const pipe = createPipe();
  try {
    assert.equal(bytesReadable(pty.master), 0);
    writeSync(slave, 'abcd');
    await new Promise((r) => setTimeout(r, 50)); // the tty layer hands bytes over asynchronously
    assert.equal(bytesReadable(pty.master), 4);
    assert.equal(isTerminal(pty.master), true);
    assert.equal(isTerminal(pipe.read), false);
  } finally {
    closeSync(slave);
    closeSync(pty.master);
    closeSync(pipe.read);
    closeSync(pipe.write);
  }
});
