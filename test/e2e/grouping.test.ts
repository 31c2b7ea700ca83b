// Several containers in one shim daemon. Pod grouping (`grouping = "pod"`: the reference's
// annotations `io.containerd.runc.v2.group` / `io.kubernetes.cri.sandbox-id`) is compared with
// the reference; namespace grouping (our default: one daemon per containerd namespace, lingering
// `idle_exit_seconds`) and a SIGKILLed shared daemon are ours only, with the reference's
// one-shim-per-container behaviour as the comparison where one exists.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';
import {
  Containerd, REFERENCE, TS_RUNC, busyboxImage, runtimeFlags, runtimeSkipReason, shimConnect, shimSocket, sleep,
  mountsUnder, EventRecorder, type RuntimeUnderTest,
} from './harness/index.js';

const NS = 'e2e';

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** A private containerd whose shims read `hostConfig` as their host-level config file. */
function useGroupingContainerd(hostConfig: string): { cd: () => Containerd; image: () => string } {
  let cd: Containerd | undefined;
  let image = '';
  before(async () => {
    cd = await Containerd.start({ namespace: NS, shimHostConfig: hostConfig });
    image = await cd.importImage(busyboxImage());
  }, { timeout: 120_000 });
  after(async () => {
    await cd?.stop();
  }, { timeout: 120_000 });
  return { cd: () => cd!, image: () => image };
}

let counter = 0;
const uid = (name: string, rt: RuntimeUnderTest): string => `${name}-${rt.reference ? 'ref' : 'ts'}-${++counter}`;

describe('pod grouping by annotation, ours vs the reference', () => {
  const env = useGroupingContainerd('grouping = "pod"\n');
  const observed = new Map<string, unknown>();
  for (const annotation of ['io.containerd.runc.v2.group', 'io.kubernetes.cri.sandbox-id']) {
    for (const rt of [REFERENCE, TS_RUNC]) {
      test(`${annotation}: ${rt.label}`, { timeout: 90_000, skip: runtimeSkipReason(rt) ?? false }, async () => {
        const cd = env.cd();
        const ctr = cd.ctr;
        const group = uid('pod', rt);
        const [a, b, c] = [uid('ga', rt), uid('gb', rt), uid('gc', rt)];
        const run = async (id: string, grouped: boolean): Promise<void> => {
          const extra = grouped ? ['--annotation', `${annotation}=${group}`] : [];
          const r = await ctr.run(['run', '-d', ...extra, ...runtimeFlags(cd, rt), env.image(), id, 'sleep', '1000']);
          assert.equal(r.code, 0, r.err);
        };
        try {
          await run(a, true);
          await run(b, true);
          await run(c, false);
          const [sa, sb, sc] = [await shimConnect(cd, NS, a), await shimConnect(cd, NS, b), await shimConnect(cd, NS, c)];
          const socket = shimSocket(cd, NS, a);
          const rm = async (id: string): Promise<void> => {
            await ctr.run(['task', 'kill', '-s', 'SIGKILL', id]);
            await waitFor(`${id} stopped`, async () => (await ctr.taskStatus(id)) === 'STOPPED');
            assert.equal((await ctr.run(['task', 'rm', id])).code, 0);
            assert.equal((await ctr.run(['containers', 'rm', id])).code, 0);
          };
          await rm(a);
          await sleep(500);
          const aliveAfterFirst = alive(sa.shimPid);
          const execInSecond = (await ctr.run(['task', 'exec', '--exec-id', 'x', b, 'echo', 'still'])).out;
          await rm(b);
          await waitFor('the pod daemon to exit', () => !alive(sa.shimPid));
          await waitFor('the pod socket to go', () => !existsSync(socket));
          const o = {
            sameDaemon: sa.shimPid === sb.shimPid,
            otherDaemon: sc.shimPid !== sa.shimPid,
            aliveAfterFirst,
            execInSecond,
            cStillRunning: (await ctr.taskStatus(c)) === 'RUNNING',
          };
          assert.deepEqual(o, { sameDaemon: true, otherDaemon: true, aliveAfterFirst: true, execInSecond: 'still\n', cStillRunning: true });
          if (rt.reference) observed.set(annotation, o);
          else if (observed.has(annotation)) assert.deepEqual(o, observed.get(annotation));
        } finally {
          for (const id of [a, b, c]) {
            await ctr.run(['task', 'rm', '-f', id]);
            await ctr.run(['containers', 'rm', id]);
          }
        }
      });
    }
  }
});

describe('namespace grouping: one lingering daemon per namespace (ours only)', { skip: runtimeSkipReason(TS_RUNC) ?? false }, () => {
  const IDLE_S = 2;
  const env = useGroupingContainerd(`grouping = "namespace"\nidle_exit_seconds = ${IDLE_S}\n`);
  const sharedSocket = (cd: Containerd): string =>
    path.join('/run/containerd/s', createHash('sha256').update(path.posix.join(cd.address, NS, '.ts-shared')).digest('hex'));
  const bundles = (cd: Containerd): string[] => {
    try { return readdirSync(path.join(cd.state, 'io.containerd.runtime.v2.task', NS)); } catch { return []; }
  };

  test('many containers share one daemon; it lingers, is reused, then exits leaving nothing', { timeout: 120_000 }, async () => {
    const cd = env.cd();
    const ctr = cd.ctr;
    const flags = runtimeFlags(cd, TS_RUNC);
    const ids = Array.from({ length: 6 }, () => uid('ns', TS_RUNC));
    const runs = await Promise.all(ids.map((id) => ctr.run(['run', '-d', ...flags, env.image(), id, 'sleep', '1000'], { timeoutMs: 90_000 })));
    for (const r of runs) assert.equal(r.code, 0, r.err);
    const pids = await Promise.all(ids.map((id) => shimConnect(cd, NS, id).then((c) => c.shimPid)));
    assert.equal(new Set(pids).size, 1, `one daemon for all: ${pids.join(',')}`);
    const daemon = pids[0]!;
    const socket = sharedSocket(cd);
    assert.equal(shimSocket(cd, NS, ids[0]!), socket);
    for (const id of ids) {
      await ctr.run(['task', 'rm', '-f', id]);
      await ctr.run(['containers', 'rm', id]);
    }
    // Lingering: still there, socket and warm marker present.
    await sleep(500);
    assert.ok(alive(daemon), 'the daemon lingers after its last task');
    assert.ok(existsSync(socket) && existsSync(`${socket}.warm`));
    // A container started while it lingers is served by it.
    const again = uid('ns-again', TS_RUNC);
    const r = await ctr.run(['run', '-d', ...flags, env.image(), again, 'sleep', '1000']);
    assert.equal(r.code, 0, r.err);
    assert.equal((await shimConnect(cd, NS, again)).shimPid, daemon);
    await ctr.run(['task', 'rm', '-f', again]);
    await ctr.run(['containers', 'rm', again]);
    // Then it goes (idle time + the 2 s grace), and takes its socket and marker with it.
    await waitFor('the idle daemon to exit', () => !alive(daemon), (IDLE_S + 10) * 1000);
    assert.equal(existsSync(socket), false);
    assert.equal(existsSync(`${socket}.warm`), false);
    assert.deepEqual(bundles(cd), []);
    assert.deepEqual(mountsUnder(cd.state), []);
  });

  test('starts racing the idle exit are never lost', { timeout: 150_000 }, async () => {
    const cd = env.cd();
    const ctr = cd.ctr;
    const flags = runtimeFlags(cd, TS_RUNC);
    const first = uid('race0', TS_RUNC);
    assert.equal((await ctr.run(['run', '--rm', ...flags, env.image(), first, 'true'])).code, 0);
    // The daemon withdraws its warm marker IDLE_S after its last task and exits 2 s later unless
    // a task arrives: start the next container right around both moments.
    const offsets = [-50, 0, 50, 1950, 2050];
    const results: { code: number | null; out: string; err: string }[] = [];
    for (const [i, offset] of offsets.entries()) {
      await sleep(IDLE_S * 1000 + offset);
      const id = uid('race', TS_RUNC);
      results.push(await ctr.run(['run', '--rm', ...flags, env.image(), id, 'echo', `r${i}`], { timeoutMs: 60_000 }));
    }
    assert.deepEqual(results.map((x) => [x.code, x.out, x.err.trim()]), offsets.map((_x, i) => [0, `r${i}\n`, '']));
    await waitFor('the idle daemon to exit', () => !existsSync(sharedSocket(cd)), (IDLE_S + 15) * 1000);
    assert.equal(existsSync(`${sharedSocket(cd)}.warm`), false);
    assert.deepEqual(bundles(cd), []);
  });

  test('SIGKILL of the shared daemon: every task is reported dead (137) and cleaned up', { timeout: 120_000 }, async () => {
    const cd = env.cd();
    const ctr = cd.ctr;
    const flags = runtimeFlags(cd, TS_RUNC);
    const ids = Array.from({ length: 3 }, () => uid('kill9', TS_RUNC));
    for (const id of ids) assert.equal((await ctr.run(['run', '-d', ...flags, env.image(), id, 'sleep', '1000'])).code, 0);
    const { shimPid, taskPid } = await shimConnect(cd, NS, ids[0]!);
    const socket = sharedSocket(cd);
    const events = await EventRecorder.start(ctr);
    process.kill(shimPid, 'SIGKILL');
    // containerd runs `delete` for each task (runc delete --force kills the container) and forgets it.
    await waitFor('containerd to drop every task', async () => (await ctr.tasks()).filter((t) => ids.includes(t.id)).length === 0, 30_000);
    await waitFor('the containers to die', () => !alive(taskPid));
    assert.equal(existsSync(socket), false, 'dead socket removed');
    assert.equal(existsSync(`${socket}.warm`), false, 'warm marker removed');
    assert.deepEqual(bundles(cd), [], 'bundles removed');
    assert.deepEqual(mountsUnder(cd.state), []);
    // Like the reference for its one task (below): containerd reports each exit as 137.
    for (const id of ids) {
      const exit = await events.waitFor('/tasks/exit', id, 10_000);
      assert.equal(exit.event.exit_status, 137, JSON.stringify(exit.event));
    }
    await events.stop();
    for (const id of ids) await ctr.run(['containers', 'rm', id]);
    // The namespace still works: the next container gets a new daemon.
    const next = uid('after-kill9', TS_RUNC);
    const r = await ctr.run(['run', '--rm', ...flags, env.image(), next, 'echo', 'fresh']);
    assert.equal(r.out, 'fresh\n', r.err);
  });
});

describe('SIGKILL of the reference shim (one shim per container), for comparison', { skip: runtimeSkipReason(REFERENCE) ?? false }, () => {
  const env = useGroupingContainerd('grouping = "task"\n');
  test('the killed task is reported dead (137) and cleaned up; its neighbour lives on', { timeout: 90_000 }, async () => {
    const cd = env.cd();
    const ctr = cd.ctr;
    const [a, b] = [uid('refk', REFERENCE), uid('refk', REFERENCE)];
    for (const id of [a, b]) assert.equal((await ctr.run(['run', '-d', ...runtimeFlags(cd, REFERENCE), env.image(), id, 'sleep', '1000'])).code, 0);
    const { shimPid, taskPid } = await shimConnect(cd, NS, a);
    const events = await EventRecorder.start(ctr);
    process.kill(shimPid, 'SIGKILL');
    await waitFor('containerd to drop the task', async () => (await ctr.taskStatus(a)) === undefined, 30_000);
    await waitFor('the container to die', () => !alive(taskPid));
    const exit = await events.waitFor('/tasks/exit', a, 10_000);
    assert.equal(exit.event.exit_status, 137);
    await events.stop();
    assert.equal(await ctr.taskStatus(b), 'RUNNING');
    for (const id of [a, b]) {
      await ctr.run(['task', 'rm', '-f', id]);
      await ctr.run(['containers', 'rm', id]);
    }
  });
});
