// waitUntilRead: the wait that keeps an exit from being announced while the client has not yet
// read the output the shim put into its fifo (issue 7).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, readSync, writeSync } from 'node:fs';
import { createPipe } from '../../../src/sys/pipes.js';
import { waitUntilRead } from '../../../src/stdio/client-read.js';

test('resolves at once when nothing is unread', async () => {
  const p = createPipe();
  try {
    const r = await waitUntilRead(() => p.write, 1_000);
    assert.deepEqual({ unreadAtStart: r.unreadAtStart, unread: r.unread }, { unreadAtStart: 0, unread: 0 });
    assert.ok(r.waitedMs < 50);
  } finally {
    closeSync(p.read);
    closeSync(p.write);
  }
});

test('resolves once the reader has consumed the bytes', async () => {
  const p = createPipe();
  try {
    writeSync(p.write, 'hello\n');
    setTimeout(() => readSync(p.read, Buffer.alloc(64), 0, 64, null), 150);
    const r = await waitUntilRead(() => p.write, 5_000);
    assert.equal(r.unreadAtStart, 6);
    assert.equal(r.unread, 0);
    assert.ok(r.waitedMs >= 100 && r.waitedMs < 1_000, `waited ${r.waitedMs} ms`);
  } finally {
    closeSync(p.read);
    closeSync(p.write);
  }
});

test('gives up after the bound when nobody reads', async () => {
  const p = createPipe();
  try {
    writeSync(p.write, 'x'.repeat(100));
    const r = await waitUntilRead(() => p.write, 200);
    assert.equal(r.unread, 100);
    assert.ok(r.waitedMs >= 200 && r.waitedMs < 1_000, `waited ${r.waitedMs} ms`);
  } finally {
    closeSync(p.read);
    closeSync(p.write);
  }
});

test('stops polling as soon as the owner closed the fd (its number may be reused)', async () => {
  const p = createPipe();
  let fd: number | undefined = p.write;
  try {
    writeSync(p.write, 'unread');
    setTimeout(() => { fd = undefined; }, 100);
    const r = await waitUntilRead(() => fd, 5_000);
    assert.equal(r.unread, 0);
    assert.ok(r.waitedMs < 1_000, `waited ${r.waitedMs} ms`);
  } finally {
    closeSync(p.read);
    closeSync(p.write);
  }
});
