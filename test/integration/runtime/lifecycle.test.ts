// The full lifecycle against real runtimes with busybox bundles: create, state, start, exec with
// output, ps, pause/resume, update, stats, kill, reaping by the monitor, delete. runc, crun (with
// the hybrid-cgroup namespace when needed) and runsc (--network=none), each where it runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { OciRuntime, ProcessMonitor, RuntimeError, type RuntimeConfig, type RuntimeKind } from '../../../src/runtime/index.js';
import { createPipe } from '../../../src/sys/index.js';
import { bundleUnavailable, createBusyboxBundle, hasBinary, readUntil } from '../../fixtures/bundle.js';

const monitor = ProcessMonitor.get();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function fdCount(): number {
  return readdirSync('/proc/self/fd').length;
}

const runtimes: { binary: string; extra: Partial<RuntimeConfig> }[] = [
  { binary: 'runc', extra: {} },
  { binary: 'crun', extra: {} },
  { binary: 'runsc', extra: { runsc: { network: 'none' } } },
];

for (const { binary, extra } of runtimes) {
  const why = bundleUnavailable() ?? (hasBinary(binary) ? undefined : `${binary} is not installed`);
  test(`lifecycle with ${binary}`, { skip: why ?? false, timeout: 120_000 }, async (t) => {
    const fdsBefore = fdCount();
    const bundle = createBusyboxBundle({ args: ['sh', '-c', 'echo hello-init; exec sleep 300'] });
    const root = mkdtempSync(path.join(os.tmpdir(), `rt-${binary}-`));
    const rt = new OciRuntime({ binary, root, log: path.join(bundle.dir, 'log.json'), logFormat: 'json', ...extra }, monitor);
    const kind: RuntimeKind = await rt.kind();
    assert.equal(kind, binary);
    const id = `lc-${binary}-${process.pid}`;
    const out = createPipe();
    let outWriteOpen = true;
    try {
      const pidFile = path.join(bundle.dir, 'init.pid');
      const tCreate = performance.now();
      await rt.create(id, { bundle: bundle.dir, pidFile, noPivot: false, noNewKeyring: true, stdio: { stdout: out.write, stderr: out.write } });
      t.diagnostic(`create took ${(performance.now() - tCreate).toFixed(0)} ms`);
      closeSync(out.write);
      outWriteOpen = false;
      const pid = Number(readFileSync(pidFile, 'utf8').trim());
      assert.ok(pid > 0);
      const exited = monitor.waitForExit(pid);

      const created = await rt.state(id);
      assert.equal(created.status, 'created');
      assert.equal(created.id, id);

      await rt.start(id);
      assert.equal((await rt.state(id)).status, 'running');
      assert.match(await readUntil(out.read, /hello-init/), /hello-init/);

      await t.test('exec with output and exit status', async () => {
        const p = createPipe();
        try {
          const status = await rt.exec(id, { args: ['sh', '-c', 'echo exec-out; exit 3'], cwd: '/', env: ['PATH=/bin'], user: { uid: 0, gid: 0 } }, { stdio: { stdout: p.write } });
          assert.equal(status, 3);
          closeSync(p.write);
          assert.match(await readUntil(p.read, /exec-out/), /exec-out/);
        } finally {
          closeSync(p.read);
        }
      });

      await t.test('prepared exec: the spec handed over later runs like exec (runc: a pipe, others: a fifo)', async () => {
        const p = createPipe();
        try {
          const prepared = await rt.prepareExec(id, { args: ['sh', '-c', 'echo prepared-out; exit 4'], cwd: '/', env: ['PATH=/bin'], user: { uid: 0, gid: 0 } }, { stdio: { stdout: p.write } });
          closeSync(p.write);
          await sleep(200);
          assert.equal(await prepared.run(), 4);
          assert.match(await readUntil(p.read, /prepared-out/), /prepared-out/);
        } finally {
          closeSync(p.read);
        }
      });

      await t.test('exec --detach writes a pid file; the monitor reaps the exec', async () => {
        const execPid = path.join(bundle.dir, 'e1.pid');
        await rt.exec(id, { args: ['sh', '-c', 'exit 5'], cwd: '/', env: ['PATH=/bin'], user: { uid: 0, gid: 0 } }, { detach: true, pidFile: execPid });
        const epid = Number(readFileSync(execPid, 'utf8').trim());
        // It may be gone before we ask: the monitor keeps (or can still reap) its status.
        await sleep(300);
        const exit = await monitor.waitForExit(epid);
        assert.equal(exit.exitStatus, 5);
      });

      await t.test('ps', async () => {
        const pids = await rt.ps(id);
        assert.ok(pids.length >= 1);
        if (kind !== 'runsc') assert.ok(pids.includes(pid), `${pids} includes ${pid}`);
      });

      await t.test('pause and resume', async () => {
        await rt.pause(id);
        assert.equal((await rt.state(id)).status, 'paused');
        await rt.resume(id);
        assert.equal((await rt.state(id)).status, 'running');
      });

      await t.test('update of resources', async () => {
        if (kind === 'runsc') {
          await assert.rejects(rt.update(id, { pids: { limit: 123 } }), RuntimeError, 'runsc has no update');
          return;
        }
        await rt.update(id, { pids: { limit: 123 } });
        const line = readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').find((l) => /:pids:/.test(l));
        assert.ok(line, 'init is in a pids cgroup');
        const cg = line.split(':')[2]!;
        assert.equal(readFileSync(path.join('/sys/fs/cgroup/pids', cg, 'pids.max'), 'utf8').trim(), '123');
      });

      await t.test('stats', { skip: kind === 'crun' ? 'crun has no events command' : false }, async () => {
        const stats = await rt.stats(id);
        assert.equal(stats.type, 'stats');
        assert.ok((stats.data.pids?.current ?? 0) >= 1);
      });

      await t.test('list', async () => {
        const all = await rt.list();
        assert.ok(all.some((c) => c.id === id));
      });

      await t.test('kill, reaped by the monitor, delete', async () => {
        await rt.kill(id, 9);
        const exit = await exited;
        assert.equal(exit.exitStatus, 137);
        assert.equal((await rt.state(id)).status, 'stopped');
        await rt.delete(id);
        await assert.rejects(rt.state(id), (err: unknown) => err instanceof RuntimeError && err.exitStatus !== 0);
      });
    } finally {
      await rt.delete(id, { force: true }).catch(() => undefined);
      if (outWriteOpen) closeSync(out.write);
      closeSync(out.read);
      bundle.remove();
      rmSync(root, { recursive: true, force: true });
    }
    await sleep(100);
    assert.equal(fdCount(), fdsBefore, 'no fd leaked');
  });
}
