// The exec-phase split of bench/exec-phases.ts on a hand-written `perf script` excerpt, and the
// NAME=value specs the bench tools take for our shims' environment. The split: which
// events are kept, how one ctr process splits into before/during/after its runc, and that ctrs
// without a runc (or whose runc outlived them) are left out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { flag, parseEnvSpec } from '../../bench/tool-support.js';
import { parsePerfScript, splitPhases } from '../../bench/exec-phases.js';

const SCRIPT = [
  '  100  1000.000000: sched:sched_process_exec: filename=/usr/bin/ctr pid=100 old_pid=100',
  '  101  1000.020000: sched:sched_process_exec: filename=/usr/sbin/runc pid=101 old_pid=101',
  '  102  1000.030000: sched:sched_process_exec: filename=/proc/self/exe pid=102 old_pid=102',
  '  101  1000.050000: sched:sched_process_exit: comm=runc pid=101 prio=120',
  '  100  1000.060000: sched:sched_process_exit: comm=ctr pid=100 prio=120',
  '  200  2000.000000: sched:sched_process_exec: filename=/usr/bin/ctr pid=200 old_pid=200',
  '  201  2000.010000: sched:sched_process_exec: filename=/proc/self/fd/19 pid=201 old_pid=201',
  '  201  2000.030000: sched:sched_process_exit: comm=19 pid=201 prio=120',
  '  200  2000.045000: sched:sched_process_exit: comm=ctr pid=200 prio=120',
  // A ctr that started no runc (ctr task ls, say) and one whose runc outlived it.
  '  300  3000.000000: sched:sched_process_exec: filename=/usr/bin/ctr pid=300 old_pid=300',
  '  300  3000.010000: sched:sched_process_exit: comm=ctr pid=300 prio=120',
  '  400  4000.000000: sched:sched_process_exec: filename=/usr/bin/ctr pid=400 old_pid=400',
  '  401  4000.001000: sched:sched_process_exec: filename=/usr/sbin/runc pid=401 old_pid=401',
  '  400  4000.002000: sched:sched_process_exit: comm=ctr pid=400 prio=120',
  '  401  4000.009000: sched:sched_process_exit: comm=runc pid=401 prio=120',
  'garbage line',
].join('\n');

test('perf script lines become exec and exit events; others are ignored', () => {
  const events = parsePerfScript(SCRIPT);
  assert.equal(events.length, 15);
  assert.deepEqual(events[0], { pid: 100, ms: 1_000_000, kind: 'exec', filename: '/usr/bin/ctr' });
  assert.equal(events[3]!.kind, 'exit');
  assert.equal(events[3]!.filename, '');
});

test('each ctr with a runc inside it splits into before, runc and after', () => {
  const rows = splitPhases(parsePerfScript(SCRIPT), (start) => start === 2_000_000);
  assert.equal(rows.length, 2);
  const near = (a: number, b: number): boolean => Math.abs(a - b) < 1e-6;
  const [ref, ours] = rows;
  assert.equal(ref!.side, 'reference');
  assert.ok(near(ref!.totalMs, 60) && near(ref!.beforeRuncMs, 20) && near(ref!.runcMs, 30) && near(ref!.afterRuncMs, 10), JSON.stringify(ref));
  assert.equal(ours!.side, 'ours');
  assert.ok(near(ours!.totalMs, 45) && near(ours!.beforeRuncMs, 10) && near(ours!.runcMs, 20) && near(ours!.afterRuncMs, 15), JSON.stringify(ours));
});

test('--env / --a / --b specs: NAME=value pairs, commas between, "=" allowed in values', () => {
  assert.deepEqual(parseEnvSpec(''), {});
  assert.deepEqual(parseEnvSpec('A=1,B=x=y'), { A: '1', B: 'x=y' });
  assert.deepEqual(parseEnvSpec('CONTAINERD_SHIM_TS_NODE_ARGS=--max-semi-space-size=8'), { CONTAINERD_SHIM_TS_NODE_ARGS: '--max-semi-space-size=8' });
  assert.throws(() => parseEnvSpec('novalue'), /not NAME=value/);
  assert.throws(() => parseEnvSpec('=1'), /not NAME=value/);
});

test('--name value flags: the value after the flag, else the fallback', () => {
  assert.equal(flag('reps', '30', ['node', 'x.js', '--reps', '80']), '80');
  assert.equal(flag('reps', '30', ['node', 'x.js']), '30');
  assert.equal(flag('reps', '30', ['node', 'x.js', '--reps']), '30', 'a flag without a value');
});
