// Our shim driving gVisor's runsc, where the reference shim falls short (see the compatibility
// table in docs/compatibility.md). Ours only: the reference cannot run runsc on this host at all,
// because it has no way to pass `--network=none` (spec: oci-runtime-cli.md §7.1).
//
// Every scenario runs twice: with `binary_name = "runsc"` and with a wrapper script named
// `oci-rt`, so each runsc decision provably comes from what `--version` prints, not the name.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { e2eSkipReason, ociSkipReason, tsShimSkipReason } from './harness/host.js';
import {
  Containerd, busyboxImage, ctrError, sleep, shimConnect, withShim, TaskService, type Ctr,
} from './harness/index.js';

const skip = e2eSkipReason() ?? tsShimSkipReason() ?? ociSkipReason('runsc') ?? false;
const NS = 'e2e';

/** One way of naming runsc in the runtime config. */
interface RunscFlavour {
  readonly label: string;
  /** Writes the config file (and wrapper) under cd.dir; returns the `ctr run` runtime flags and the state root. */
  setup(cd: Containerd): { flags: string[]; root: string };
}

function configFlags(cd: Containerd, name: string, binary: string, root: string): string[] {
  const dir = path.join(cd.dir, 'runsc-test');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.toml`);
  writeFileSync(file, `binary_name = ${JSON.stringify(binary)}\nroot = ${JSON.stringify(root)}\n\n[runsc_config]\nnetwork = "none"\n`);
  return ['--runtime', 'io.containerd.ts.v2', '--runtime-config-path', file];
}

const FLAVOURS: readonly RunscFlavour[] = [
  {
    label: 'runsc',
    setup(cd) {
      const root = cd.runtimeRoot('runsc', 'runsc-direct');
      return { flags: configFlags(cd, 'runsc', 'runsc', root), root };
    },
  },
  {
    label: 'runsc behind a wrapper named oci-rt',
    setup(cd) {
      const dir = path.join(cd.dir, 'runsc-test', 'bin');
      mkdirSync(dir, { recursive: true });
      const wrapper = path.join(dir, 'oci-rt');
      writeFileSync(wrapper, '#!/bin/sh\nexec runsc "$@"\n');
      chmodSync(wrapper, 0o755);
      const root = cd.runtimeRoot(wrapper, 'runsc-wrapped');
      return { flags: configFlags(cd, 'oci-rt', wrapper, root), root };
    },
  },
];

/** cgroup directories named `<ns>/<id>` in any hierarchy (runsc puts its sandbox there). */
function cgroupsOf(id: string): string[] {
  const found: string[] = [];
  let hierarchies: string[] = [];
  try { hierarchies = readdirSync('/sys/fs/cgroup'); } catch { return found; }
  for (const h of hierarchies) {
    const dir = path.join('/sys/fs/cgroup', h, NS, id);
    if (existsSync(dir)) found.push(dir);
  }
  return found;
}

/**
 * What runsc keeps for `id`: its pod root `<root>/<ns>/<id>` (our shim gives each pod its own
 * root, see src/shim/runsc-root.ts) and any state file for the id in the namespace root.
 */
function runscStateOf(root: string, id: string): string[] {
  const left: string[] = [];
  if (existsSync(path.join(root, NS, id))) left.push(path.join(root, NS, id));
  try {
    left.push(...readdirSync(path.join(root, NS)).filter((n) => n.startsWith(`${id}_sandbox:`)));
  } catch { /* no namespace root */ }
  return left;
}

async function waitStatus(ctr: Ctr, id: string, status: string | undefined, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const now = await ctr.taskStatus(id);
    if (now === status) return;
    if (Date.now() > deadline) throw new Error(`task ${id} is ${String(now)}, not ${String(status)}`);
    await sleep(100);
  }
}

let counter = 0;

describe('runsc under our shim (ours only: the reference cannot pass --network=none to runsc)', { skip }, () => {
  let cd: Containerd | undefined;
  let image = '';
  const made: string[] = [];
  before(async () => {
    cd = await Containerd.start({ namespace: NS });
    image = await cd.importImage(busyboxImage());
  }, { timeout: 120_000 });
  after(async () => {
    if (cd) {
      for (const id of made) {
        await cd.ctr.run(['task', 'rm', '-f', id], { timeoutMs: 20_000 });
        await cd.ctr.run(['containers', 'rm', id], { timeoutMs: 20_000 });
      }
      await cd.stop();
    }
  }, { timeout: 120_000 });

  for (const flavour of FLAVOURS) {
    describe(flavour.label, () => {
      let flags: string[] = [];
      let root = '';
      before(() => {
        ({ flags, root } = flavour.setup(cd!));
      });
      const newId = (name: string): string => {
        const id = `${name}-${flavour.label === 'runsc' ? 'd' : 'w'}${++counter}`;
        made.push(id);
        return id;
      };
      const runDetached = async (id: string, command: readonly string[] = ['sleep', '1000']): Promise<void> => {
        const r = await cd!.ctr.run(['run', '-d', ...flags, image, id, ...command], { timeoutMs: 60_000 });
        assert.equal(r.code, 0, r.err);
        await waitStatus(cd!.ctr, id, 'RUNNING');
      };
      const remove = async (id: string): Promise<void> => {
        await cd!.ctr.run(['task', 'rm', '-f', id], { timeoutMs: 20_000 });
        await cd!.ctr.run(['containers', 'rm', id], { timeoutMs: 20_000 });
      };

      test('the task pid is the sandbox process, Connect agrees, and SIGKILL reports 137', { timeout: 90_000 }, async () => {
        const ctr = cd!.ctr;
        const id = newId('rs-pid');
        await runDetached(id);
        const row = (await ctr.tasks()).find((t) => t.id === id)!;
        // Like gVisor's own shim: the workload has no host pid of its own; the sandbox stands for it.
        const cmdline = readFileSync(`/proc/${row.pid}/cmdline`, 'utf8').split('\0');
        assert.ok(cmdline.includes('boot'), `pid ${row.pid} is the runsc sandbox (${cmdline.join(' ')})`);
        const connected = await shimConnect(cd!, NS, id);
        assert.equal(connected.taskPid, row.pid);
        assert.notEqual(connected.shimPid, row.pid);
        const k = await ctr.run(['task', 'kill', '-s', 'SIGKILL', id]);
        assert.equal(k.code, 0, k.err);
        await waitStatus(ctr, id, 'STOPPED');
        const rm = await ctr.run(['task', 'rm', id]);
        assert.equal(rm.code, 0, rm.err);
        assert.match(rm.err, /exit code 137/);
        await remove(id);
        assert.deepEqual(runscStateOf(root, id), []);
        assert.deepEqual(cgroupsOf(id), []);
      });

      test('ps lists the sandbox pids and names the exec by its sandbox pid', { timeout: 90_000 }, async () => {
        const ctr = cd!.ctr;
        const id = newId('rs-ps');
        await runDetached(id);
        const ex = await ctr.run(['task', 'exec', '-d', '--exec-id', 'ex1', id, 'sleep', '900']);
        assert.equal(ex.code, 0, ex.err);
        let lines: string[] = [];
        for (let i = 0; i < 50; i++) {
          const ps = await ctr.ok(['task', 'ps', id]);
          lines = ps.out.trim().split('\n').slice(1);
          if (lines.some((l) => l.includes('ex1'))) break;
          await sleep(100);
        }
        const pids = lines.map((l) => Number(l.trim().split(/\s+/)[0]));
        assert.ok(pids.includes(1), `the init is pid 1 inside the sandbox: ${lines.join(' | ')}`);
        const execLine = lines.find((l) => l.includes('ex1'));
        assert.ok(execLine, `the exec is identified: ${lines.join(' | ')}`);
        assert.ok(Number(execLine.trim().split(/\s+/)[0]) > 1);
        await remove(id);
      });

      test('kill --all stops every process of the container', { timeout: 90_000 }, async () => {
        const ctr = cd!.ctr;
        const id = newId('rs-all');
        await runDetached(id, ['sh', '-c', 'sleep 1000 & sleep 1000 & wait']);
        const k = await ctr.run(['task', 'kill', '--all', '-s', 'SIGKILL', id]);
        assert.equal(k.code, 0, k.err);
        await waitStatus(ctr, id, 'STOPPED');
        await remove(id);
        assert.deepEqual(runscStateOf(root, id), []);
      });

      test('pause and resume, with exec refused while paused', { timeout: 90_000 }, async () => {
        const ctr = cd!.ctr;
        const id = newId('rs-pause');
        await runDetached(id);
        assert.equal((await ctr.run(['task', 'pause', id])).code, 0);
        assert.equal(await ctr.taskStatus(id), 'PAUSED');
        const refused = await ctr.run(['task', 'exec', '--exec-id', 'p1', id, 'true']);
        assert.notEqual(refused.code, 0);
        assert.equal((await ctr.run(['task', 'resume', id])).code, 0);
        assert.equal(await ctr.taskStatus(id), 'RUNNING');
        const ok = await ctr.run(['task', 'exec', '--exec-id', 'p2', id, 'echo', 'back']);
        assert.equal(ok.code, 0, ok.err);
        assert.equal(ok.out, 'back\n');
        await remove(id);
      });

      test('Update fails with a clear not-implemented error', { timeout: 90_000 }, async () => {
        const id = newId('rs-upd');
        await runDetached(id);
        const resources = Buffer.from(JSON.stringify({ memory: { limit: 64 * 1024 * 1024 } }));
        // ctr 1.6 has no `task update`; call the shim's Task.Update the way containerd does.
        const err = await withShim(cd!, NS, id, async (client) => client.call(TaskService.method.update, {
          id, resources: { typeUrl: 'types.containerd.io/opencontainers/runtime-spec/1/LinuxResources', value: resources },
        }).then(() => undefined, (e: unknown) => e as Error & { code?: number }));
        assert.ok(err, 'Update must fail on runsc');
        assert.equal(err.code, 12, `NotImplemented, got ${String(err.code)}: ${err.message}`);
        assert.match(err.message, /runsc/);
        assert.equal(await cd!.ctr.taskStatus(id), 'RUNNING');
        await remove(id);
      });

      test('a failed start leaves no sandbox, state or cgroup behind', { timeout: 90_000 }, async () => {
        const ctr = cd!.ctr;
        const id = newId('rs-bad');
        const r = await ctr.run(['run', '--rm', ...flags, image, id, '/nonexistent'], { timeoutMs: 60_000 });
        assert.notEqual(r.code, 0);
        assert.match(ctrError(r.err).message, /^OCI runtime start failed: .*nonexistent/);
        // Gone right away, before anyone deletes the task (the reference keeps the sandbox running).
        assert.deepEqual(runscStateOf(root, id), []);
        assert.deepEqual(cgroupsOf(id), []);
        // The sandbox's exit was reported, so `ctr run --rm` could delete the task; if ctr kept
        // it, it is STOPPED and deletes cleanly.
        const status = await ctr.taskStatus(id);
        assert.ok(status === undefined || status === 'STOPPED', `task is ${String(status)}`);
        if (status) assert.equal((await ctr.run(['task', 'rm', id])).code, 0);
        await remove(id);
        assert.equal(existsSync(path.join(cd!.state, 'io.containerd.runtime.v2.task', NS, id)), false);
      });

      test('many containers with common id prefixes start, run and go at once', { timeout: 150_000 }, async () => {
        const ctr = cd!.ctr;
        const base = newId('pfx');
        // `<base>-1` is a prefix of `<base>-10`, `<base>-11`, `<base>-12`.
        const ids = Array.from({ length: 12 }, (_v, i) => `${base}-${i + 1}`);
        made.push(...ids);
        const runs = await Promise.all(ids.map((id, i) =>
          ctr.run(['run', '--rm', ...flags, image, id, 'sh', '-c', `echo ${i + 1}`], { timeoutMs: 120_000 })));
        assert.deepEqual(runs.map((r) => [r.code, r.out, r.err.trim()]), ids.map((_id, i) => [0, `${i + 1}\n`, '']));
        // A short id gone must never hit its longer neighbour: keep `<base>-12x` running, run and
        // remove `<base>-1` and `<base>-12` around it.
        const keeper = `${base}-12x`;
        made.push(keeper);
        await runDetached(keeper);
        const short = await ctr.run(['run', '--rm', ...flags, image, `${base}-12`, 'true'], { timeoutMs: 60_000 });
        assert.equal(short.code, 0, short.err);
        const shim = await shimConnect(cd!, NS, keeper);
        assert.ok(shim.taskPid > 0);
        assert.equal(await ctr.taskStatus(keeper), 'RUNNING');
        const ex = await ctr.run(['task', 'exec', '--exec-id', 'k1', keeper, 'echo', 'alive']);
        assert.equal(ex.out, 'alive\n', ex.err);
        for (const id of ids) assert.deepEqual(runscStateOf(root, id), [], `${id} left runsc state`);
        await remove(keeper);
      });
    });
  }
});
