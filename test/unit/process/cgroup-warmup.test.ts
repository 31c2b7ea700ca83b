// The cgroup warm-up's parsing (which hierarchies are mounted where, which cgroup.procs is ours)
// on mountinfo texts of the shapes seen in practice, and the warm-up itself on this host: it
// writes while held, stops when released, and never moves this process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { CgroupWarmup, parseCgroupMounts, procsFileFor } from '../../../src/process/cgroup-warmup.js';

const HYBRID = [
  '31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
  '32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct',
  '33 31 0:30 / /sys/fs/cgroup/pids rw,nosuid - cgroup cgroup rw,pids',
  '34 31 0:31 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd,release_agent=/x',
  '35 31 0:32 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw,nsdelegate',
  '36 31 0:33 / /mnt/pids\\040copy rw - cgroup cgroup rw,pids',
].join('\n');

test('parseCgroupMounts: v1 controllers, named hierarchies, v2, first mount wins', () => {
  const mounts = parseCgroupMounts(HYBRID);
  assert.deepEqual(mounts.map((m) => [m.key, m.mountPoint]), [
    ['cpu', '/sys/fs/cgroup/cpu,cpuacct'],
    ['cpuacct', '/sys/fs/cgroup/cpu,cpuacct'],
    ['pids', '/sys/fs/cgroup/pids'],
    ['systemd', '/sys/fs/cgroup/systemd'],
    ['', '/sys/fs/cgroup/unified'],
  ]);
  assert.deepEqual(parseCgroupMounts('40 1 0:35 / /mnt/a\\040b rw - cgroup2 cgroup2 rw').map((m) => m.mountPoint), ['/mnt/a b']);
  assert.deepEqual(parseCgroupMounts('garbage\n\n50 1 0:1 / /proc rw - proc proc rw'), []);
});

test('procsFileFor: paths under the mount root, and cgroups the mount does not show', () => {
  const [cpu] = parseCgroupMounts(HYBRID);
  assert.equal(procsFileFor(cpu!, '/'), '/sys/fs/cgroup/cpu,cpuacct/cgroup.procs');
  assert.equal(procsFileFor(cpu!, '/system.slice/containerd.service'), '/sys/fs/cgroup/cpu,cpuacct/system.slice/containerd.service/cgroup.procs');
  // Inside a container the mount shows only a subtree (mountinfo's root field).
  const [inner] = parseCgroupMounts('60 1 0:40 /kubepods/pod1 /sys/fs/cgroup rw - cgroup2 cgroup2 rw');
  assert.equal(procsFileFor(inner!, '/kubepods/pod1/shim'), '/sys/fs/cgroup/shim/cgroup.procs');
  assert.equal(procsFileFor(inner!, '/kubepods/pod1'), '/sys/fs/cgroup/cgroup.procs');
  assert.equal(procsFileFor(inner!, '/elsewhere'), undefined);
});

test('CgroupWarmup on this host: writes while held, stops when released, never moves us', { skip: process.getuid?.() !== 0 ? 'needs root' : false }, async () => {
  const before = readFileSync('/proc/self/cgroup', 'utf8');
  const warmup = new CgroupWarmup(true);
  try {
    const release = warmup.hold();
    // The grace period starts at hold(), not a loop turn (or several, on a busy loop) later.
    assert.equal(warmup.issued, 1, 'the first write is on its way before hold() returns');
    for (let i = 0; i < 200 && warmup.writes < 2; i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(warmup.writes >= 2, `expected repeated writes while held, saw ${warmup.writes}`);
    for (let i = 0; i < 200 && warmup.syncWrites < 2; i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(warmup.syncWrites >= 2, `rewrites of a warm lock are made on this thread (saw ${warmup.syncWrites}, ${warmup.issued} on the pool)`);
    release();
    release(); // idempotent
    await warmup.settled();
    const after = warmup.writes;
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(warmup.writes, after, 'no writes once released');
    assert.equal(warmup.writes, warmup.issued + warmup.syncWrites, 'every write made, none failed');
    assert.equal(readFileSync('/proc/self/cgroup', 'utf8'), before);
  } finally {
    await warmup.close();
  }
});

test('CgroupWarmup: a rewrite on this thread found slow sends every later one to the pool', { skip: process.getuid?.() !== 0 ? 'needs root' : false }, async () => {
  // Every write counts as slow here, as on a host whose grace periods are shorter than the
  // interval: the event loop may be held up once, never again.
  const warmup = new CgroupWarmup(true, { slowSyncWriteMs: -1 });
  try {
    const release = warmup.hold();
    for (let i = 0; i < 300 && warmup.issued < 4; i++) await new Promise((r) => setTimeout(r, 10));
    release();
    await warmup.settled();
    assert.ok(warmup.syncWrites <= 1, `at most one rewrite on this thread, saw ${warmup.syncWrites}`);
    assert.ok(warmup.issued >= 4, `the pool took the rewrites after it, saw ${warmup.issued}`);
  } finally {
    await warmup.close();
  }
});

test('CgroupWarmup: a hold expires by itself, and a disabled one never writes', { timeout: 10_000 }, async () => {
  const off = new CgroupWarmup(false);
  off.hold()();
  await off.settled();
  assert.equal(off.writes, 0);
  const warmup = new CgroupWarmup(true);
  try {
    warmup.hold(30);
    await new Promise((r) => setTimeout(r, 80));
    await warmup.settled();
  } finally {
    await warmup.close();
  }
});
