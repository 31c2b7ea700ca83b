// The idle daemon's reading of a start's claim (daemon.ts claimPending): pending only when newer
// than the last Create and younger than the claim TTL.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { claimPending } from '../../../src/shim/daemon.js';

test('claimPending: newer than the last Create and not expired', () => {
  const now = 1_000_000;
  assert.equal(claimPending(undefined, 0, now), false, 'no claim');
  assert.equal(claimPending(now - 100, 0, now), true, 'claimed, no Create yet');
  assert.equal(claimPending(now - 100, now - 50, now), false, 'a Create came after the claim');
  assert.equal(claimPending(now - 100, now - 100, now), false, 'same instant counts as served');
  assert.equal(claimPending(now - 29_000, now - 40_000, now), true, 'still within the TTL');
  assert.equal(claimPending(now - 31_000, now - 40_000, now), false, 'a claim whose Create never came expires');
});
