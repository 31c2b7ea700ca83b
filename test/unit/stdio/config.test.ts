// Mode selection from the stdio strings, as the reference parses stdout.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stdioMode, StdioError } from '../../../src/stdio/index.js';

const cfg = (stdout: string, stdin = '', stderr = stdout) => ({ stdin, stdout, stderr, terminal: false });

test('all empty is null I/O; a plain path is fifo mode', () => {
  assert.deepEqual(stdioMode(cfg('')), { kind: 'null' });
  assert.deepEqual(stdioMode(cfg('', '/run/x-stdin')), { kind: 'fifo' });
  assert.deepEqual(stdioMode(cfg('/run/containerd/fifo/1/c-stdout')), { kind: 'fifo' });
  assert.deepEqual(stdioMode(cfg('fifo:///run/x')), { kind: 'fifo' });
});

test('file:// and binary:// with argv from the query (first value of each key)', () => {
  assert.deepEqual(stdioMode(cfg('file:///var/log/a%20b.log')), { kind: 'file', path: '/var/log/a b.log' });
  assert.deepEqual(stdioMode(cfg('binary:///usr/bin/logger?--opt=x&flag&k=v1&k=v2')), {
    kind: 'binary',
    path: '/usr/bin/logger',
    args: ['--opt', 'x', 'flag', '', 'k', 'v1'],
  });
});

test('other schemes fail as unknown', () => {
  assert.throws(() => stdioMode(cfg('http://x/y')), (e: unknown) => e instanceof StdioError && e.kind === 'unknown' && e.message === 'unknown STDIO scheme http');
});
