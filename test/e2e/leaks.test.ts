// After a batch of varied scenarios, nothing is left behind: no shim, runtime or container
// processes, no mounts, no fifos (ctr's in the harness's --fifo-dir, and any in containerd's state
// dir), no shim sockets in /run/containerd/s for this containerd's address (named by the sha256 of
// address/namespace/key, src/shim/address.ts), no runtime state, no bundles.
//
// Our shared daemon lingers after its last task (idle_exit_seconds); the test sets a short linger
// through the default config file (the harness's shimHostConfig), waits until the daemon has exited
// by itself, and only then looks. The same batch runs on the reference shim, which must leave
// nothing behind either.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SHARED_GROUP_KEY, socketPath, warmMarkerPath } from '../../src/shim/address.js';
import {
  Containerd, REFERENCE, TS_RUNC, busyboxImage, e2eSkipReason, mountsUnder, pidsWithArgument, runtimeFlags, runtimeSkipReason,
  sleep, tsShimSkipReason, type RuntimeUnderTest,
} from './harness/index.js';

const CGROUP_ROOT = '/sys/fs/cgroup';

/** Every path below `dir` (depth-first), without following symlinks. */
function walk(dir: string, out: string[] = []): string[] {
  let names: string[];
  try { names = readdirSync(dir); } catch { return out; }
  for (const name of names) {
    const full = path.join(dir, name);
    out.push(full);
    try { if (statSync(full).isDirectory()) walk(full, out); } catch { /* vanished */ }
  }
  return out;
}

/** Pids in any cgroup named after `namespace` (ctr puts a container in `/<namespace>/<id>`). */
function pidsInNamespaceCgroups(namespace: string): string[] {
  const found: string[] = [];
  let controllers: string[];
  try { controllers = readdirSync(CGROUP_ROOT); } catch { return found; }
  for (const c of controllers) {
    const base = path.join(CGROUP_ROOT, c, namespace);
    if (!existsSync(base)) continue;
    for (const p of [base, ...walk(base)].filter((x) => path.basename(x) === 'cgroup.procs')) {
      const procs = p;
      try {
        const text = readFileSync(procs, 'utf8').trim();
        if (text !== '') found.push(`${procs}: ${text.replace(/\n/g, ' ')}`);
      } catch { /* not a cgroup dir */ }
    }
  }
  return [...new Set(found)];
}

const skip = e2eSkipReason() ?? tsShimSkipReason() ?? false;

describe('no leaks after a batch of scenarios', { skip }, () => {
  let cd: Containerd | undefined;
  let image = '';
  let confDir = '';
  const namespace = `leaks-${randomBytes(3).toString('hex')}`;
  /** Every container id the batch used, per runtime label. */
  const ids = new Map<string, string[]>();

  before(async () => {
    confDir = mkdtempSync(path.join(os.tmpdir(), 'shim-leaks-'));
    // Only host-level keys: no-options runs still get runc on PATH.
    cd = await Containerd.start({ namespace, shimHostConfig: 'idle_exit_seconds = 1\n' });
    image = await cd.importImage(busyboxImage());
  }, { timeout: 120_000 });

  after(async () => {
    await cd?.stop();
    // runc leaves the namespace's (empty) parent cgroups; rmdir removes only empty ones.
    for (const c of existsSync(CGROUP_ROOT) ? readdirSync(CGROUP_ROOT) : []) {
      try { rmdirSync(path.join(CGROUP_ROOT, c, namespace)); } catch { /* absent or not empty */ }
    }
    if (confDir) rmSync(confDir, { recursive: true, force: true });
  }, { timeout: 120_000 });

  /** Runs the batch on `rt`; returns the ids it used. Each scenario checks its own outcome. */
  async function batch(rt: RuntimeUnderTest): Promise<string[]> {
    const ctr = cd!.ctr;
    const used: string[] = [];
    const id = (name: string): string => {
      const v = `${name}-${rt.reference ? 'ref' : 'ts'}-${randomBytes(3).toString('hex')}`;
      used.push(v);
      return v;
    };
    const flags = runtimeFlags(cd!, rt);
    const run = (i: string, cmd: string[], input?: string) =>
      ctr.run(['run', '--rm', ...flags, image, i, ...cmd], input === undefined ? {} : { input });
    const waitStatus = async (i: string, status: string): Promise<void> => {
      for (let n = 0; n < 200 && (await ctr.taskStatus(i)) !== status; n++) await sleep(50);
      assert.equal(await ctr.taskStatus(i), status, `${i} did not become ${status}`);
    };

    // Plain run, exit code, stdin.
    assert.equal((await run(id('echo'), ['echo', 'hi'])).out, 'hi\n');
    assert.equal((await run(id('exit'), ['sh', '-c', 'exit 3'])).code, 3);
    // A background child outlives the init's shell: it must die with the container.
    // (Only the exit code is checked: the reference sometimes loses the output of this one.)
    assert.equal((await run(id('orphan'), ['sh', '-c', 'sleep 300 & echo started'])).code, 0);
    // Several at once.
    const many = await Promise.all([0, 1, 2, 3].map((n) => run(id(`many${n}`), ['sh', '-c', `echo ${n}`])));
    assert.deepEqual(many.map((r) => r.out), ['0\n', '1\n', '2\n', '3\n']);

    // Detached: exec (ok and failing), pause/resume, kill, delete.
    const d = id('detached');
    await ctr.ok(['run', '-d', ...flags, image, d, 'sleep', '1000']);
    await waitStatus(d, 'RUNNING');
    const ex = await ctr.run(['task', 'exec', '--exec-id', 'e1', d, 'sh', '-c', 'cat; exit 4'], { input: 'in\n' });
    assert.deepEqual([ex.code, ex.out], [4, 'in\n']);
    assert.notEqual((await ctr.run(['task', 'exec', '--exec-id', 'e2', d, '/no/such/binary'])).code, 0);
    const longExec = ctr.run(['task', 'exec', '--exec-id', 'e3', d, 'sleep', '1000']);
    await sleep(300);
    await ctr.ok(['task', 'pause', d]);
    await ctr.ok(['task', 'resume', d]);
    await ctr.ok(['task', 'kill', '-s', 'SIGKILL', d]);
    await waitStatus(d, 'STOPPED');
    await longExec;
    await ctr.ok(['task', 'rm', d]);
    await ctr.ok(['containers', 'rm', d]);

    // Killed by a signal while `ctr run --rm` waits.
    const k = id('killed');
    const killed = run(k, ['sleep', '1000']);
    await waitStatus(k, 'RUNNING');
    await ctr.ok(['task', 'kill', '-s', 'SIGKILL', k]);
    assert.equal((await killed).code, 137);

    // A create that fails in the runtime.
    const bad = id('badcreate');
    const badFlags = rt.reference
      ? ['--runtime', rt.runtime, '--runc-binary', '/nonexistent/oci-runtime']
      : ['--runtime', rt.runtime, '--runtime-config-path', path.join(confDir, 'bad.toml')];
    writeFileSync(path.join(confDir, 'bad.toml'), 'binary_name = "/nonexistent/oci-runtime"\n');
    assert.notEqual((await ctr.run(['run', '--rm', ...badFlags, image, bad, 'true'])).code, 0);
    await ctr.run(['containers', 'rm', bad]);

    // A process that does not exist as the init.
    const noinit = id('noinit');
    assert.notEqual((await run(noinit, ['/no/such/init'])).code, 0);
    await ctr.run(['containers', 'rm', noinit]);
    return used;
  }

  for (const rt of [REFERENCE, TS_RUNC]) {
    test(`${rt.label}: the batch runs`, { skip: runtimeSkipReason(rt) ?? false, timeout: 90_000 }, async () => {
      ids.set(rt.label, await batch(rt));
    });
  }

  test('then nothing is left behind', { timeout: 60_000 }, async (t) => {
    const all = [...ids.values()].flat();
    assert.ok(all.length > 0, 'the batch ran');
    // Shims exit by themselves: the reference with its last task, ours after idle_exit_seconds.
    const deadline = Date.now() + 30_000;
    while (pidsWithArgument(cd!.address).length > 0 && Date.now() < deadline) await sleep(100);
    const lingering = pidsWithArgument(cd!.address).map((p) => {
      try { return `${p}: ${readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' ')}`; } catch { return String(p); }
    });
    assert.deepEqual(lingering, [], 'shim processes still running for this containerd');

    // containerd still knows nothing of them.
    assert.equal((await cd!.ctr.ok(['task', 'ls', '-q'])).out.trim(), '');
    assert.equal((await cd!.ctr.ok(['containers', 'ls', '-q'])).out.trim(), '');

    // Container processes (cgroups of this namespace) and anything carrying our temp dir.
    assert.deepEqual(pidsInNamespaceCgroups(namespace), [], 'processes left in the namespace\'s cgroups');
    assert.deepEqual(pidsWithArgument(cd!.dir), []);
    for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
      let cmdline = '';
      try { cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8'); } catch { continue; }
      assert.ok(!all.some((i) => cmdline.split('\0').includes(i)), `process ${pid} still names a container: ${cmdline.replace(/\0/g, ' ')}`);
    }

    // Mounts.
    assert.deepEqual(mountsUnder(cd!.dir), [], 'mounts left under the containerd dir');

    // Bundles and fifos in containerd's state dir.
    const taskDir = path.join(cd!.state, 'io.containerd.runtime.v2.task', namespace);
    assert.deepEqual(existsSync(taskDir) ? readdirSync(taskDir) : [], [], 'bundles left');
    const fifosInState = walk(cd!.state).filter((p) => { try { return statSync(p).isFIFO(); } catch { return false; } });
    assert.deepEqual(fifosInState, [], 'fifos left in containerd\'s state dir');
    // ctr's stdio fifos are named after the container id.
    // ctr removes its fifos when the process it attached to is deleted (the teardown above).
    const ctrFifos = walk(cd!.ctrFifoDir).filter((p) => all.some((i) => path.basename(p).startsWith(`${i}-`)));
    assert.deepEqual(ctrFifos, [], `fifos left in ${cd!.ctrFifoDir}`);

    // Shim sockets (and our warm markers) for this containerd's address.
    const keys = [...all, SHARED_GROUP_KEY];
    const sockets = keys.map((k) => socketPath(cd!.address, namespace, k)).flatMap((s) => [s, warmMarkerPath(s)]).filter((s) => existsSync(s));
    assert.deepEqual(sockets, [], 'shim sockets left in /run/containerd/s');

    // Runtime state: the roots the harness handed out, and runc's default root for this namespace.
    const roots = walk(path.join(cd!.dir, 'runtime-root')).filter((p) => all.some((i) => path.basename(p) === i));
    assert.deepEqual(roots, [], 'runtime state left');
    const defaultRoot = path.join('/run/containerd/runc', namespace);
    assert.deepEqual(existsSync(defaultRoot) ? readdirSync(defaultRoot) : [], []);
    t.diagnostic(`checked ${all.length} containers`);
  });
});
