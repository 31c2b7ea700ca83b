import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { groupKey, socketAddress, socketPath } from '../../../src/shim/address.js';

test('socket address matches the Go framework (shim-binary.md §4.2 example)', () => {
  const socket = socketPath('/run/containerd/containerd.sock', 'default', 'abc');
  assert.equal(socket, '/run/containerd/s/8cb244a719603fe00870d5ce1d8e1f1db43a654cb993d107df1f1ae23ddffa59');
  assert.equal(socketAddress(socket).length, 89);
  // filepath.Join semantics: duplicate and trailing slashes are cleaned
  assert.equal(socketPath('/run/containerd//containerd.sock/', 'default', 'abc'), socket);
});

test('group key: group annotations in the reference order, else the id', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'groupkey-'));
  try {
    assert.equal(groupKey(dir, 'id1'), 'id1');
    writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ annotations: { 'io.kubernetes.cri.sandbox-id': 'sb', 'io.containerd.runc.v2.group': 'g' } }));
    assert.equal(groupKey(dir, 'id1'), 'g');
    writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ annotations: { 'io.kubernetes.cri.sandbox-id': 'sb' } }));
    assert.equal(groupKey(dir, 'id1'), 'sb');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
