// Faults: the OCI runtime failing or hanging on one verb (a wrapper script as `binary_name`), and a
// reader of stdout that goes away. A failure must come back as a clear error in bounded time,
// leave no stuck task, runtime state or process behind, and later tasks must work. (containerd
// restarts and a SIGKILLed shim are covered by other tests, a full runtime state root by
// disk-full.test.ts.)
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import {
  ctrError, e2eSkipReason, REFERENCE, runtimeFlags, runtimeSkipReason, sleep, TS_RUNC, useContainerd, waitFor,
  type RuntimeUnderTest,
} from '../harness/index.js';
import { ourDaemons, processes } from './probe.js';
import { report } from './load.js';

const tag = randomBytes(3).toString('hex');
const TIMEOUT_S = 3;

type Verb = 'create' | 'start' | 'kill';
type Mode = 'fail' | 'hang';

/** A runc wrapper that fails (exit 3) or hangs (sleeps) when it is asked to run `verb`. */
function wrapperScript(verb: Verb, mode: Mode): string {
  const act = mode === 'fail' ? `echo "injected failure on $verb" >&2; exit 3` : 'exec sleep 100000';
  return [
    '#!/bin/sh',
    '# Test fault injection: find the subcommand after runc\'s global flags.',
    'verb=',
    'for a in "$@"; do case $a in create|start|kill|delete|exec|state|ps|pause|resume) verb=$a; break ;; esac; done',
    `if [ "$verb" = ${verb} ]; then ${act}; fi`,
    'exec runc "$@"',
    '',
  ].join('\n');
}

describe('faults', { skip: e2eSkipReason() ?? false }, () => {
  const ctx = useContainerd();

  const wrapper = (verb: Verb, mode: Mode): string => {
    const dir = path.join(ctx.cd.dir, 'fault-bin');
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `runc-${mode}-${verb}`);
    writeFileSync(file, wrapperScript(verb, mode));
    chmodSync(file, 0o755);
    return file;
  };
  /** `ctr run` flags selecting the wrapper on either shim (ours with a command timeout). */
  const faultFlags = (rt: RuntimeUnderTest, verb: Verb, mode: Mode): string[] => {
    const bin = wrapper(verb, mode);
    const root = ctx.cd.runtimeRoot('runc', `fault-${rt.reference ? 'ref' : 'ts'}-${mode}-${verb}`);
    if (rt.reference) return ['--runtime', rt.runtime, '--runc-binary', bin, '--runc-root', root];
    const file = path.join(ctx.cd.dir, 'runtimes', `fault-${mode}-${verb}.toml`);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, `binary_name = ${JSON.stringify(bin)}\nroot = ${JSON.stringify(root)}\ncommand_timeout_seconds = ${TIMEOUT_S}\n`);
    return ['--runtime', rt.runtime, '--runtime-config-path', file];
  };
  const runtimeStateOf = (rt: RuntimeUnderTest, verb: Verb, mode: Mode, id: string): boolean =>
    existsSync(path.join(ctx.cd.dir, 'runtime-root', `fault-${rt.reference ? 'ref' : 'ts'}-${mode}-${verb}`, ctx.cd.namespace, id));
  /** Processes naming `id`, except our shared daemon (whose argv names the task it was started for). */
  const processesOf = (id: string): number[] => {
    const procs = processes();
    const daemons = new Set(ourDaemons(ctx.cd, procs).map((p) => p.pid));
    return procs.filter((p) => !daemons.has(p.pid) && p.argv.some((a) => a.includes(id))).map((p) => p.pid);
  };
  /** Removes what is left of `id`; `gone` says whether containerd then knows neither task nor container. */
  const removeAll = async (id: string): Promise<{ task: number | null; container: number | null; gone: boolean }> => {
    const task = await ctx.cd.ctr.run(['task', 'rm', '-f', id], { timeoutMs: 30_000 });
    const container = await ctx.cd.ctr.run(['containers', 'rm', id], { timeoutMs: 30_000 });
    const ls = await ctx.cd.ctr.run(['containers', 'ls', '-q'], { timeoutMs: 10_000 });
    const gone = ls.code === 0 && !ls.out.split('\n').includes(id) && (await ctx.cd.ctr.taskStatus(id)) === undefined;
    return { task: task.code, container: container.code, gone };
  };
  /** Processes naming `id` once the short-lived ones (shim `delete` actions) had time to end. */
  const lingering = async (id: string): Promise<number[]> => {
    const deadline = Date.now() + 10_000;
    while (processesOf(id).length > 0 && Date.now() < deadline) await sleep(200);
    return processesOf(id);
  };
  const failClass: Record<string, string> = {};
  /** A plain container on the same shim still runs afterwards. */
  const healthy = async (rt: RuntimeUnderTest, id: string): Promise<void> => {
    const r = await ctx.cd.ctr.run(['run', '--rm', ...runtimeFlags(ctx.cd, rt), ctx.image, id, 'echo', 'healthy'], { timeoutMs: 60_000 });
    assert.deepEqual({ code: r.code, out: r.out }, { code: 0, out: 'healthy\n' }, r.err);
  };

  for (const verb of ['create', 'start'] as const) {
    for (const rt of [REFERENCE, TS_RUNC]) {
      test(`${rt.label}: runtime fails on ${verb}: clear error, nothing left`, { skip: runtimeSkipReason(rt) ?? false, timeout: 90_000 }, async (t) => {
        const id = `fail-${verb}-${rt.reference ? 'ref' : 'ts'}-${tag}`;
        const r = await ctx.cd.ctr.run(['run', '--rm', ...faultFlags(rt, verb, 'fail'), ctx.image, id, 'true'], { timeoutMs: 60_000 });
        const err = ctrError(r.err);
        const removed = await removeAll(id);
        const o = { runtime: rt.label, verb, exitCode: r.code, error: err, durationMs: r.durationMs, state: runtimeStateOf(rt, verb, 'fail', id), procs: (await lingering(id)).length };
        t.diagnostic(JSON.stringify({ ...o, removed }));
        report('fault-fail', o);
        assert.notEqual(r.code, 0);
        // create runs with the container's stdio, so the runtime's stderr goes there, not into the error.
        assert.match(r.err, verb === 'create' ? /exit status 3/ : /exit status 3: injected failure on start/, 'the runtime\'s failure reaches the user');
        assert.equal(removed.gone, true, 'neither task nor container left');
        if (rt.reference) failClass[verb] = err.class;
        else {
          if (failClass[verb] !== undefined) assert.equal(err.class, failClass[verb], 'the same error class as the reference');
          assert.equal(o.state, false, 'no runtime state left');
          assert.equal(o.procs, 0, 'no process left');
        }
        await healthy(rt, `${id}-after`);
      });
    }
  }

  for (const verb of ['create', 'start', 'kill'] as const) {
    test(`${TS_RUNC.label}: runtime hangs on ${verb}: error after ${TIMEOUT_S} s, no stuck task`, { skip: runtimeSkipReason(TS_RUNC) ?? false, timeout: 120_000 }, async (t) => {
      const id = `hang-${verb}-${tag}`;
      const flags = faultFlags(TS_RUNC, verb, 'hang');
      let r;
      if (verb === 'kill') {
        const run = await ctx.cd.ctr.run(['run', '-d', ...flags, ctx.image, id, 'sleep', '1000'], { timeoutMs: 60_000 });
        assert.equal(run.code, 0, run.err);
        r = await ctx.cd.ctr.run(['task', 'kill', '-s', 'SIGKILL', id], { timeoutMs: 60_000 });
        // The task is still managed: its state answers, and once its process dies (killed here
        // by pid, since the runtime cannot) the shim reports the exit and deletes it.
        const rows = await ctx.cd.ctr.tasks();
        const row = rows.find((x) => x.id === id);
        assert.equal(row?.status, 'RUNNING', 'the task is still there and answering');
        process.kill(row.pid, 'SIGKILL');
        await waitFor('STOPPED', async () => (await ctx.cd.ctr.taskStatus(id)) === 'STOPPED' ? true : undefined, 15_000);
      } else {
        r = await ctx.cd.ctr.run(['run', '--rm', ...flags, ctx.image, id, 'true'], { timeoutMs: 60_000 });
      }
      const removed = await removeAll(id);
      const o = { verb, exitCode: r.code, error: ctrError(r.err), durationMs: r.durationMs, timedOut: r.timedOut, removed, state: runtimeStateOf(TS_RUNC, verb, 'hang', id), procs: await lingering(id) };
      t.diagnostic(JSON.stringify(o));
      report('fault-hang', o);
      assert.equal(r.timedOut, false, 'ctr returned by itself');
      assert.notEqual(r.code, 0);
      assert.ok(r.durationMs < (TIMEOUT_S + 20) * 1000, `bounded: ${r.durationMs} ms`);
      assert.match(r.err, new RegExp(`killed after ${TIMEOUT_S * 1000} ms`), 'the error says the runtime was killed');
      assert.equal(removed.gone, true, 'neither task nor container left');
      assert.equal(o.state, false, 'no runtime state left');
      assert.deepEqual(o.procs, [], 'no process left');
      await healthy(TS_RUNC, `${id}-after`);
    });
  }

  for (const rt of [REFERENCE, TS_RUNC]) {
    test(`${rt.label}: the reader of stdout goes away mid-stream`, { skip: runtimeSkipReason(rt) ?? false, timeout: 90_000 }, async (t) => {
      const id = `reader-${rt.reference ? 'ref' : 'ts'}-${tag}`;
      const run = await ctx.cd.ctr.run(['run', '-d', ...runtimeFlags(ctx.cd, rt), ctx.image, id, 'sleep', '1000'], { timeoutMs: 60_000 });
      assert.equal(run.code, 0, run.err);
      try {
        // An exec that floods stdout; its ctr is SIGKILLed once output flows.
        let pid = 0;
        const flood = ctx.cd.ctr.run(['task', 'exec', '--exec-id', 'flood', id, 'yes', 'y'], { timeoutMs: 60_000, onSpawn: (p) => { pid = p; } });
        await sleep(1_500);
        assert.ok(pid > 0);
        process.kill(pid, 'SIGKILL');
        const killed = await flood;
        // The shim stays responsive; the writer is killed through the normal API; later execs work.
        const started = Date.now();
        const ls = await ctx.cd.ctr.run(['task', 'ps', id], { timeoutMs: 10_000 });
        const psMs = Date.now() - started;
        const kill = await ctx.cd.ctr.run(['task', 'kill', '--exec-id', 'flood', '-s', 'SIGKILL', id], { timeoutMs: 15_000 });
        const later = await ctx.cd.ctr.run(['task', 'exec', '--exec-id', 'later', id, 'echo', 'still fine'], { timeoutMs: 20_000 });
        const o = { runtime: rt.label, floodSignal: killed.signal, psCode: ls.code, psMs, killCode: kill.code, later: { code: later.code, out: later.out } };
        t.diagnostic(JSON.stringify(o));
        report('fault-reader-gone', o);
        assert.equal(killed.signal, 'SIGKILL');
        assert.equal(ls.code, 0, 'the shim still answers');
        assert.ok(psMs < 5_000, `ps answered in ${psMs} ms`);
        assert.equal(kill.code, 0, kill.err);
        assert.deepEqual(o.later, { code: 0, out: 'still fine\n' });
        await healthy(rt, `${id}-after`);
      } finally {
        await removeAll(id);
      }
    });
  }
});
