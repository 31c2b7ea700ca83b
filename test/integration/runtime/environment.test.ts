// The environment runtime commands get: ours without NOTIFY_SOCKET (runc would pass systemd's
// notify socket into the container), copied once per runtime client at its first command — a copy
// of process.env costs 70–185 µs, which an exec used to pay before its runc could start.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { OciRuntime, ProcessMonitor } from '../../../src/runtime/index.js';

/** A stand-in runc: `--version` says runc; `state` reports two variables through annotations. */
const FAKE_RUNC = `#!/bin/sh
case "$*" in
  *--version*) echo "runc version 1.1.5"; echo "spec: 1.0.2-dev"; exit 0 ;;
esac
printf '{"ociVersion":"1.0.2","id":"x","pid":1,"status":"running","bundle":"/","rootfs":"/","created":"2020-01-01T00:00:00Z","owner":"","annotations":{"notify":"%s","probe":"%s"}}' "\${NOTIFY_SOCKET:-unset}" "\${SHIM_TS_ENV_PROBE:-unset}"
`;

test('runtime commands get our environment minus NOTIFY_SOCKET, fixed per runtime client at its first command', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rt-env-'));
  const saved = { notify: process.env['NOTIFY_SOCKET'], probe: process.env['SHIM_TS_ENV_PROBE'] };
  t.after(() => {
    rmSync(dir, { recursive: true, force: true });
    for (const [name, value] of [['NOTIFY_SOCKET', saved.notify], ['SHIM_TS_ENV_PROBE', saved.probe]] as const) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });
  const binary = path.join(dir, 'runc');
  writeFileSync(binary, FAKE_RUNC, { mode: 0o755 });
  const monitor = ProcessMonitor.get();
  process.env['NOTIFY_SOCKET'] = path.join(dir, 'notify');
  process.env['SHIM_TS_ENV_PROBE'] = 'first';

  const rt = new OciRuntime({ binary, root: path.join(dir, 'root') }, monitor);
  const first = await rt.state('x');
  assert.deepEqual(first.annotations, { notify: 'unset', probe: 'first' });

  process.env['SHIM_TS_ENV_PROBE'] = 'second';
  assert.deepEqual((await rt.state('x')).annotations, { notify: 'unset', probe: 'first' }, 'the same client keeps its copy');
  const later = new OciRuntime({ binary, root: path.join(dir, 'root') }, monitor);
  assert.deepEqual((await later.state('x')).annotations, { notify: 'unset', probe: 'second' }, 'a new client copies afresh');
});
