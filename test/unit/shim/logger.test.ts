import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, readSync } from 'node:fs';
import { DaemonLogger, FdLogger, formatLogLine, formatTimestamp } from '../../../src/shim/logger.js';
import { createPipe, setNonBlocking } from '../../../src/sys/pipes.js';

test('log lines use the logrus text layout containerd shims write', () => {
  const line = formatLogLine('info', 'starting signal loop', { path: '/run/x y', namespace: 'default', pid: 42 }, new Date('2024-01-02T03:04:05.006Z'));
  // Fields sorted by key, like logrus; values quoted only when logrus would quote them.
  assert.equal(line, 'time="2024-01-02T03:04:05.006000000Z" level=info msg="starting signal loop" namespace=default path="/run/x y" pid=42\n');
});

test('values are quoted exactly when logrus quotes them', () => {
  const line = formatLogLine('error', 'serving...', {
    a: 'plain-1.2_x/y@z^+', b: 'has:colon', c: '', d: 'tab\there', e: 7, f: true, g: new Error('boom: x'), h: undefined,
  }, new Date(0));
  assert.equal(line, 'time="1970-01-01T00:00:00.000000000Z" level=error msg=serving... a=plain-1.2_x/y@z^+ b="has:colon" c= d="tab\\there" e=7 f=true g="boom: x"\n');
});

test('timestamps have nine fractional digits (RFC3339NanoFixed)', () => {
  assert.equal(formatTimestamp(1_700_000_000_123_456_789n), '2023-11-14T22:13:20.123456789Z');
  assert.equal(formatTimestamp(5n), '1970-01-01T00:00:00.000000005Z');
  const live = formatLogLine('debug', 'x', {});
  assert.match(live, /^time="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z" level=debug msg=x\n$/);
  const t = Date.parse(/time="([^"]+)"/.exec(live)![1]!);
  assert.ok(Math.abs(t - Date.now()) < 5_000, 'the live timestamp is the current time');
});

test('the daemon logger writes to the newest open task log, then the one before it', () => {
  const pipes = [createPipe(), createPipe()];
  const [a, b] = pipes.map((p) => new FdLogger(p.write, false, { id: 'task' }, true));
  const read = (fd: number): string => {
    const buf = Buffer.alloc(4096);
    try {
      return buf.subarray(0, readSync(fd, buf)).toString();
    } catch {
      return ''; // EAGAIN: nothing written
    }
  };
  for (const p of pipes) setNonBlocking(p.read, true);
  const daemon = new DaemonLogger(false, { namespace: 'ns', pid: 1 });
  daemon.follow(a!);
  daemon.follow(b!);
  daemon.info('to b');
  assert.match(read(pipes[1]!.read), /msg="to b" namespace=ns pid=1\n$/);
  assert.equal(read(pipes[0]!.read), '');
  b!.close();
  daemon.info('to a');
  const line = read(pipes[0]!.read);
  assert.match(line, /msg="to a" namespace=ns pid=1\n$/);
  assert.doesNotMatch(line, /id=task/, 'the daemon\'s lines carry its own fields, not the task\'s');
  daemon.debug('not without -debug');
  assert.equal(read(pipes[0]!.read), '');
  a!.close();
  for (const p of pipes) closeSync(p.read);
});
