// Which daemons run runc from a sealed in-memory copy, and what the settings of a container say.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveSettings, sealedRuncWanted } from '../../../src/shim/options.js';

test('sealed runc copy: on for a shared daemon, off for per-pod or per-task ones; the variable decides either way', () => {
  assert.equal(sealedRuncWanted(true, {}), true);
  assert.equal(sealedRuncWanted(false, {}), false);
  assert.equal(sealedRuncWanted(false, { CONTAINERD_SHIM_TS_SEALED_RUNC: '1' }), true);
  assert.equal(sealedRuncWanted(true, { CONTAINERD_SHIM_TS_SEALED_RUNC: '0' }), false);
  // Anything else is not a decision: the default stands.
  assert.equal(sealedRuncWanted(true, { CONTAINERD_SHIM_TS_SEALED_RUNC: 'yes' }), true);
  assert.equal(sealedRuncWanted(false, { CONTAINERD_SHIM_TS_SEALED_RUNC: '' }), false);
});

test('resolveSettings passes the sealed-copy choice to the runtime client only when asked', () => {
  const config = { runtimeArgs: [] };
  assert.equal(resolveSettings(config, 'ns', '/b').config.sealedCopy, undefined);
  assert.equal(resolveSettings(config, 'ns', '/b', { sealedCopy: false }).config.sealedCopy, undefined);
  assert.equal(resolveSettings(config, 'ns', '/b', { sealedCopy: true }).config.sealedCopy, true);
  assert.equal(resolveSettings(config, 'ns', '/b').config.binary, 'runc');
});
