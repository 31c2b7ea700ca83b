// resolveBinary: the cached PATH look-up the process monitor spawns runtime binaries through.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { forgetBinary, resolveBinary } from '../../../src/runtime/resolve-binary.js';

test('resolveBinary finds the first executable on the search path and leaves paths alone', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'resolve-bin-'));
  try {
    const a = path.join(dir, 'a');
    const b = path.join(dir, 'b');
    mkdirSync(a);
    mkdirSync(b);
    // The first directory's "tool" is not executable, so the second one's is the answer.
    writeFileSync(path.join(a, 'tool'), '#!/bin/sh\n');
    writeFileSync(path.join(b, 'tool'), '#!/bin/sh\n');
    chmodSync(path.join(b, 'tool'), 0o755);
    const search = `${a}:${b}`;
    assert.equal(resolveBinary('tool', search), path.join(b, 'tool'));
    assert.equal(resolveBinary('missing-tool', search), undefined);
    assert.equal(resolveBinary('/bin/sh', search), undefined, 'a name with a slash is spawned as given');
    assert.equal(resolveBinary('tool', `:${b}`), undefined, 'an empty PATH entry (cwd) is left to spawn');
    // The answer is cached until forgotten (or its few seconds pass).
    chmodSync(path.join(a, 'tool'), 0o755);
    assert.equal(resolveBinary('tool', search), path.join(b, 'tool'));
    forgetBinary('tool');
    assert.equal(resolveBinary('tool', search), path.join(a, 'tool'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
