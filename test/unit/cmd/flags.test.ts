import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FlagError, parseFlags } from '../../../src/cmd/flags.js';

test('parses the argv containerd 1.6 passes to start and delete', () => {
  const start = parseFlags(['-namespace', 'default', '-address', '/run/containerd/containerd.sock', '-publish-binary', '/usr/bin/containerd', '-id', 'abc', '-debug', 'start']);
  assert.equal(start.namespace, 'default');
  assert.equal(start.address, '/run/containerd/containerd.sock');
  assert.equal(start.publishBinary, '/usr/bin/containerd');
  assert.equal(start.id, 'abc');
  assert.equal(start.debug, true);
  assert.equal(start.action, 'start');
  const del = parseFlags(['-namespace', 'k8s.io', '-address', '/a', '-publish-binary', '/b', '-id', 'x', '-bundle', '/run/b/x', 'delete']);
  assert.equal(del.bundle, '/run/b/x');
  assert.equal(del.action, 'delete');
});

test('accepts every Go flag spelling and ignores unknown flags', () => {
  const f = parseFlags(['--namespace=ns', '-id=i', '--debug=false', '-v', '-debug-socket', '/x', '-future-flag', 'v']);
  assert.equal(f.namespace, 'ns');
  assert.equal(f.id, 'i');
  assert.equal(f.debug, false);
  assert.equal(f.version, true);
  assert.deepEqual(f.unknown, ['debug-socket', 'future-flag']);
  assert.equal(f.action, '');
  assert.equal(parseFlags(['-id', 'a', '--', 'start']).action, 'start');
});

test('bad flags are errors', () => {
  assert.throws(() => parseFlags(['-id']), FlagError);
  assert.throws(() => parseFlags(['-debug=maybe']), FlagError);
});
