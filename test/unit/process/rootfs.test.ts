import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMountOptions } from '../../../src/process/rootfs.js';
import { identifierProblem } from '../../../src/process/identifiers.js';

test('mount options become flags, propagation and data', () => {
  const overlay = parseMountOptions(['index=off', 'workdir=/w', 'upperdir=/u', 'lowerdir=/a:/b']);
  assert.equal(overlay.flags, 0);
  assert.equal(overlay.data, 'index=off,workdir=/w,upperdir=/u,lowerdir=/a:/b');
  const bind = parseMountOptions(['rbind', 'ro', 'rprivate']);
  assert.equal(bind.flags, 0x1000 | 0x4000 | 0x1);
  assert.equal(bind.propagation, 0x40000 | 0x4000);
  assert.equal(bind.data, '');
  // later options win: rw clears an earlier ro
  assert.equal(parseMountOptions(['ro', 'rw', 'nosuid']).flags, 0x2);
  assert.equal(parseMountOptions(['defaults']).flags, 0);
});

test('identifiers follow containerd rules', () => {
  assert.equal(identifierProblem('abc-1.x_y'), undefined);
  for (const bad of ['', '-a', 'a/b', '..', 'a..b', 'a\0b', 'x'.repeat(77), 'a b']) {
    assert.ok(identifierProblem(bad), `${JSON.stringify(bad)} must be refused`);
  }
  assert.equal(identifierProblem('x'.repeat(76)), undefined);
});
