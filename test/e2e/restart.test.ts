// containerd restarts under running tasks: the shims keep them, containerd re-attaches through
// each bundle's `address` file, and exec, kill and delete work again. An exit that happens while
// containerd is down is published again by the shim's retry queue and reaches containerd once it
// is back (events.md §6: retries after 1, 3, 6, 10, 15 s). Ours vs the reference, for an orderly
// stop (SIGTERM) and a crash (SIGKILL).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Containerd, EventRecorder, REFERENCE, TS_RUNC, busyboxImage, runtimeFlags, runtimeSkipReason, shimConnect, sleep,
  type RuntimeUnderTest,
} from './harness/index.js';

const NS = 'e2e';

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

let counter = 0;

describe('containerd restart with running tasks', () => {
  let cd: Containerd | undefined;
  let image = '';
  before(async () => {
    cd = await Containerd.start({ namespace: NS });
    image = await cd.importImage(busyboxImage());
  }, { timeout: 120_000 });
  after(async () => { await cd?.stop(); }, { timeout: 120_000 });

  for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
    const observed: Record<string, unknown> = {};
    for (const rt of [REFERENCE, TS_RUNC] as RuntimeUnderTest[]) {
      test(`${signal}: ${rt.label}${rt.reference ? '' : ' vs reference'}`, { timeout: 120_000, skip: runtimeSkipReason(rt) ?? false }, async () => {
        const ctr = cd!.ctr;
        const tag = `${rt.reference ? 'ref' : 'ts'}-${signal.toLowerCase()}-${++counter}`;
        const keep = `keep-${tag}`;
        const ends = `ends-${tag}`;
        try {
          for (const [id, cmd] of [[keep, ['sleep', '1000']], [ends, ['sleep', '3']]] as const) {
            const r = await ctr.run(['run', '-d', ...runtimeFlags(cd!, rt), image, id, ...cmd]);
            assert.equal(r.code, 0, r.err);
          }
          const before = await shimConnect(cd!, NS, keep);
          // containerd goes away for ~5 s; `ends` exits (after 3 s) while nobody listens.
          await cd!.restart(signal, () => sleep(5_000));
          const events = await EventRecorder.start(ctr);
          const after = await shimConnect(cd!, NS, keep);
          const listed = await ctr.tasks();
          const keepRow = listed.find((t) => t.id === keep);
          const exec = await ctr.run(['task', 'exec', '--exec-id', 'after', keep, 'echo', 'reattached']);
          // The exit of `ends` reaches containerd through the shim's retries.
          const exitSeen = await events.waitUntil((evs) => evs.some((e) => e.topic === '/tasks/exit' && e.event.container_id === ends), 20_000);
          let endsStatus: string | undefined;
          for (let i = 0; i < 100 && (endsStatus = await ctr.taskStatus(ends)) === 'RUNNING'; i++) await sleep(100);
          const kill = await ctr.run(['task', 'kill', '-s', 'SIGKILL', keep]);
          let keepStatus: string | undefined;
          for (let i = 0; i < 100 && (keepStatus = await ctr.taskStatus(keep)) !== 'STOPPED'; i++) await sleep(100);
          const rmKeep = await ctr.run(['task', 'rm', keep]);
          const rmEnds = await ctr.run(['task', 'rm', ends]);
          await events.stop();
          if (rt.reference) {
            // One shim per task: it exits with its task. (Ours is the namespace's shared daemon,
            // which lingers idle_exit_seconds for the next task; grouping.test.ts covers that.)
            for (let i = 0; i < 100 && alive(before.shimPid); i++) await sleep(100);
            assert.equal(alive(before.shimPid), false, 'the reference shim exits after its task');
          }
          const o = {
            sameShim: before.shimPid === after.shimPid,
            keepListedRunning: keepRow?.status === 'RUNNING' && keepRow.pid === before.taskPid,
            exec: exec.out,
            exitSeen,
            endsStatus,
            kill: kill.code,
            keepStatus,
            rmKeep: [rmKeep.code, /exit code 137/.test(rmKeep.err)],
            rmEnds: rmEnds.code,
            gone: (await ctr.tasks()).filter((t) => t.id === keep || t.id === ends).length,
          };
          assert.deepEqual(o, {
            sameShim: true, keepListedRunning: true, exec: 'reattached\n', exitSeen: true, endsStatus: 'STOPPED',
            kill: 0, keepStatus: 'STOPPED', rmKeep: [0, true], rmEnds: 0, gone: 0,
          });
          if (rt.reference) observed[signal] = o;
          else if (observed[signal]) assert.deepEqual(o, observed[signal]);
        } finally {
          for (const id of [keep, ends]) {
            await ctr.run(['task', 'rm', '-f', id]);
            await ctr.run(['containers', 'rm', id]);
          }
        }
      });
    }
  }
});
