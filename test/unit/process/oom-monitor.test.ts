import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cgroupPathOf, oomKillCount, OomMonitor } from '../../../src/process/oom-monitor.js';
import { criuFailureReason } from '../../../src/process/init-process.js';
import type { ProcessEvent } from '../../../src/process/types.js';

const HYBRID = '12:pids:/e2e/c1\n5:memory:/e2e/c1\n4:cpu,cpuacct:/e2e/c1\n1:name=systemd:/e2e/c1\n0::/e2e/c1\n';

test('cgroupPathOf finds a v1 controller in a comma list and the v2 entry', () => {
  assert.equal(cgroupPathOf(HYBRID, 'memory'), '/e2e/c1');
  assert.equal(cgroupPathOf(HYBRID, 'cpuacct'), '/e2e/c1');
  assert.equal(cgroupPathOf(HYBRID, ''), '/e2e/c1');
  assert.equal(cgroupPathOf('0::/only/v2\n', 'memory'), undefined);
});

test('oomKillCount reads the oom_kill line only', () => {
  assert.equal(oomKillCount('low 0\nhigh 0\nmax 4\noom 2\noom_kill 1\n'), 1);
  assert.equal(oomKillCount('low 0\noom 3\n'), 0);
});

test('a monitor for a pid without a visible memory cgroup stays unarmed and silent', () => {
  const events: ProcessEvent[] = [];
  const warnings: string[] = [];
  const log = { debug() {}, info() {}, warn: (m: string) => { warnings.push(m); }, error() {} };
  const m = new OomMonitor('c1', (e) => events.push(e), log);
  m.watch(0x7ffffff0); // no such pid: /proc/<pid>/cgroup is missing
  m.check();
  m.close();
  assert.deepEqual(events, []);
  assert.equal(warnings.length, 1);
});

test('criuFailureReason skips helper exit lines and returns the first real error', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'criu-log-'));
  try {
    const log = path.join(dir, 'dump.log');
    writeFileSync(log, '(00.005980) Error (criu/util.c:642): exited, status=1\n' +
      '(00.064281) Error (criu/vdso.c:381): vdso: Unexpected rt vDSO area bounds\n' +
      '(00.064286) Error (criu/kerndat.c:1615): kerndat_vdso_fill_symtable failed when initializing kerndat.\n');
    assert.equal(criuFailureReason(log), 'vdso: Unexpected rt vDSO area bounds');
    assert.equal(criuFailureReason(path.join(dir, 'missing.log')), '');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
