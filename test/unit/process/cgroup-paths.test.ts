// Parsing /proc/<pid>/cgroup into the paths Stats reads after the init is gone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseProcCgroup, readCgroupPaths } from '../../../src/process/cgroup-paths.js';

test('parseProcCgroup: comma-joined v1 controllers, named hierarchies and the v2 entry', () => {
  const paths = parseProcCgroup('12:cpu,cpuacct:/e2e/c1\n11:memory:/e2e/c1\n1:name=systemd:/sys\n0::/unified/c1\n');
  assert.equal(paths.get('cpu'), '/e2e/c1');
  assert.equal(paths.get('cpuacct'), '/e2e/c1');
  assert.equal(paths.get('memory'), '/e2e/c1');
  assert.equal(paths.get('systemd'), '/sys');
  assert.equal(paths.get(''), '/unified/c1');
  assert.equal(paths.get('pids'), undefined);
});

test('readCgroupPaths: this process has cgroups; no pid or a gone pid has none', () => {
  assert.ok(readCgroupPaths(process.pid)!.size > 0);
  assert.equal(readCgroupPaths(0), undefined);
  assert.equal(readCgroupPaths(2 ** 22 + 1), undefined);
});
