// A burst of container starts with no shared daemon running (a node's pods after boot): the
// launcher queues the `start`s on the start lock and looks for the warm marker again once the lock
// is its own, so one Node start makes the daemon and the others answer from the shell
// (bin/containerd-shim-ts-v2, src/shim/start-action.ts). Ours only: the reference starts one shim
// per container anyway. What is asserted is the decision each launcher took (its trace line), not a
// timing.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Containerd, TS_RUNC, busyboxImage, runtimeFlags, runtimeSkipReason, shimConnect } from './harness/index.js';

const NS = 'e2e';
const BURST = 8;
const skip = runtimeSkipReason(TS_RUNC);

/** The launcher's decisions for `start` invocations, from its trace (pid → last decision). */
function startDecisions(trace: string): string[] {
  const starts = new Set<string>();
  const decision = new Map<string, string>();
  for (const line of readFileSync(trace, 'utf8').split('\n')) {
    const [, pid, ...rest] = line.split(' ');
    if (pid === undefined || rest.length === 0) continue;
    if (rest[0] === 'begin') {
      if (rest[rest.length - 1] === 'start') starts.add(pid);
    } else {
      decision.set(pid, rest.join(' '));
    }
  }
  return [...starts].map((pid) => decision.get(pid) ?? 'none');
}

describe('a burst of cold starts makes one daemon with one Node start', { skip: skip ?? false }, () => {
  let cd: Containerd | undefined;
  let image = '';
  const traceDir = mkdtempSync(path.join(os.tmpdir(), 'start-burst-'));
  const trace = path.join(traceDir, 'launch-trace');
  before(async () => {
    cd = await Containerd.start({ namespace: NS, extraEnv: { CONTAINERD_SHIM_TS_LAUNCH_TRACE: trace } });
    image = await cd.importImage(busyboxImage());
  }, { timeout: 120_000 });
  after(async () => {
    await cd?.stop();
    rmSync(traceDir, { recursive: true, force: true });
  }, { timeout: 120_000 });

  test(`${BURST} containers started at once: one full start, the others warm, all in one daemon`, { timeout: 120_000 }, async () => {
    rmSync(trace, { force: true });
    const flags = runtimeFlags(cd!, TS_RUNC);
    const ids = Array.from({ length: BURST }, (_, i) => `burst-${i}`);
    try {
      const runs = await Promise.all(ids.map((id) => cd!.ctr.run(['run', '-d', ...flags, image, id, 'sleep', '1000'], { timeoutMs: 60_000 })));
      runs.forEach((r, i) => assert.equal(r.code, 0, `${ids[i]}: ${r.err}`));
      const decisions = startDecisions(trace);
      assert.equal(decisions.length, BURST, `one start per container: ${decisions.join(', ')}`);
      assert.equal(decisions.filter((d) => d === 'full').length, 1, `exactly one start ran Node: ${decisions.join(', ')}`);
      assert.equal(decisions.filter((d) => d.endsWith('warm')).length, BURST - 1, decisions.join(', '));
      const pids = new Set<number>();
      for (const id of ids) pids.add((await shimConnect(cd!, NS, id)).shimPid);
      assert.equal(pids.size, 1, `one daemon serves them all: ${[...pids].join(', ')}`);
      // The lock was handed to the Node start, never on to the daemon it spawned (else every later
      // cold start would wait for that daemon's exit).
      const [daemon] = [...pids];
      const held = readdirSync(`/proc/${daemon}/fd`).map((fd) => { try { return readlinkSync(`/proc/${daemon}/fd/${fd}`); } catch { return ''; } });
      assert.ok(!held.includes('/run/containerd/s'), `the daemon holds no fd on the socket directory: ${held.join(' ')}`);
    } finally {
      await Promise.all(ids.map(async (id) => {
        await cd!.ctr.run(['task', 'rm', '-f', id]);
        await cd!.ctr.run(['containers', 'rm', id]);
      }));
    }
  });
});
