import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatLogLine } from '../../../src/shim/logger.js';

test('log lines use the logrus text layout containerd shims write', () => {
  const line = formatLogLine('info', 'starting signal loop', { namespace: 'default', path: '/run/x y', pid: 42 }, new Date('2024-01-02T03:04:05.006Z'));
  assert.equal(line, 'time="2024-01-02T03:04:05.006Z" level=info msg="starting signal loop" namespace=default path="/run/x y" pid=42\n');
});
