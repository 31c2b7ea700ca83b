// OciRuntime.prepareExec against real runc: the runtime starts ahead of its spec and waits on a
// pipe it inherited as fd 3; run() must behave exactly like exec(), cancel() must leave nothing behind and never let
// the process into the container, and a runtime that died early must be reported, not hung on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { OciRuntime, ProcessMonitor, RuntimeArgumentError, RuntimeError, type OciProcess } from '../../../src/runtime/index.js';
import { createPipe } from '../../../src/sys/index.js';
import { bundleUnavailable, createBusyboxBundle, hasBinary, readUntil } from '../../fixtures/bundle.js';
import { runtimeExecsFor } from '../../fixtures/procfs.js';

const monitor = ProcessMonitor.get();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function proc(args: string[], extra: Partial<OciProcess> = {}): OciProcess {
  return { args, cwd: '/', env: ['PATH=/bin'], user: { uid: 0, gid: 0 }, ...extra };
}

function fdCount(): number {
  return readdirSync('/proc/self/fd').length;
}

/** Process-file dirs (other runtimes, plain exec) go in the loop's next check phase after the result. */
const removalsRan = (): Promise<void> => new Promise((r) => setImmediate(r));


const why = bundleUnavailable() ?? (hasBinary('runc') ? undefined : 'runc is not installed');

test('prepared exec with runc', { skip: why ?? false, timeout: 120_000 }, async (t) => {
  const bundle = createBusyboxBundle({ args: ['sleep', '300'] });
  const root = mkdtempSync(path.join(os.tmpdir(), 'rt-prep-'));
  // Process files would go to XDG_RUNTIME_DIR: a private one shows that none is made or left.
  const fifoDir = mkdtempSync(path.join(os.tmpdir(), 'rt-prep-fifos-'));
  const savedXdg = process.env['XDG_RUNTIME_DIR'];
  process.env['XDG_RUNTIME_DIR'] = fifoDir;
  const rt = new OciRuntime({ binary: 'runc', root, log: path.join(bundle.dir, 'log.json'), logFormat: 'json' }, monitor);
  const id = `prep-${process.pid}`;
  try {
    await rt.run(id, { bundle: bundle.dir, detach: true, noPivot: false, noNewKeyring: true, pidFile: path.join(bundle.dir, 'init.pid') });
    const fdsBefore = fdCount();

    const runBoth = async (wait: number): Promise<void> => {
      const p = createPipe();
      try {
        const prepared = await rt.prepareExec(id, proc(['sh', '-c', 'echo prepared-out; exit 7']), { stdio: { stdout: p.write } });
        closeSync(p.write);
        assert.equal(prepared.stale, false);
        if (wait > 0) await sleep(wait);
        assert.equal(await prepared.run(), 7);
        assert.equal(prepared.stale, true);
        assert.match(await readUntil(p.read, /prepared-out/), /prepared-out/);
      } finally {
        closeSync(p.read);
      }
    };
    await t.test('the spec handed over before the runtime opened its pipe', () => runBoth(0));
    await t.test('the spec handed over while the runtime waits', () => runBoth(300));

    await t.test('cancel: the process never runs, the runtime exits, nothing is left', async () => {
      for (const wait of [0, 300]) {
        const prepared = await rt.prepareExec(id, proc(['touch', `/cancelled-${wait}`]));
        if (wait > 0) {
          await sleep(wait);
          const waiting = runtimeExecsFor(id);
          assert.equal(waiting.length, 1, 'the prepared runtime waits for its spec');
          assert.match(readlinkSync(`/proc/${waiting[0]}/fd/3`), /^pipe:/, 'runc reads its spec from the inherited pipe');
          assert.deepEqual(readdirSync(fifoDir), [], 'no process file for runc');
        }
        await prepared.cancel();
        assert.equal(prepared.stale, true);
        await assert.rejects(prepared.run(), /already used or cancelled/);
        assert.deepEqual(runtimeExecsFor(id), []);
        assert.equal(await rt.exec(id, proc(['test', '-e', `/cancelled-${wait}`])), 1, 'the cancelled process must not have run');
      }
      await removalsRan();
      assert.deepEqual(readdirSync(fifoDir), []);
    });

    await t.test('a spec larger than a pipe holds by default', async () => {
      // 10 variables of 20 KB: 200 KB of spec, each string under execve's 128 KiB limit.
      const env = ['PATH=/bin', ...Array.from({ length: 10 }, (_, i) => `BIG${i}=${String(i).repeat(20_000)}`)];
      const prepared = await rt.prepareExec(id, proc(['sh', '-c', 'test ${#BIG9} -eq 20000 && test ${#BIG0} -eq 20000'], { env }));
      assert.equal(await prepared.run(), 0);
    });

    await t.test('a spec larger than a pipe may hold here (3 MiB): a plain exec reads it from a file', async () => {
      // Beyond pipe-max-size (1 MiB) a pipe grows only with CAP_SYS_RESOURCE.
      const args = ['true', ...Array.from({ length: 3 * 1024 }, () => 'a'.repeat(1023))];
      const outcome = (p: Promise<number>) => p.then((status) => ({ status, error: undefined }), (error: unknown) => ({ status: undefined, error }));
      const plain = await outcome(rt.exec(id, proc(args)));
      assert.ok(!(plain.error instanceof RuntimeArgumentError), `plain exec refused the spec: ${String(plain.error)}`);
      const prepared = await rt.prepareExec(id, proc(args)).then((p) => p, (e: unknown) => e);
      if (prepared instanceof RuntimeArgumentError) {
        assert.match(prepared.message, /does not fit in a pipe/);
      } else {
        assert.ok(!(prepared instanceof Error), String(prepared));
        const early = await outcome((prepared as Awaited<ReturnType<typeof rt.prepareExec>>).run());
        assert.equal(early.status, plain.status);
        assert.equal(early.error instanceof RuntimeError, plain.error instanceof RuntimeError);
      }
      await removalsRan();
      assert.deepEqual(readdirSync(fifoDir), [], 'the process file is gone');
    });

    await t.test('a runtime that fails before its spec: stale, and run() reports its error like exec()', async () => {
      const missing = `${id}-missing`;
      const plain = await rt.exec(missing, proc(['true'])).then(() => undefined, (e: unknown) => e);
      assert.ok(plain instanceof RuntimeError);
      const prepared = await rt.prepareExec(missing, proc(['true']));
      for (let i = 0; i < 100 && !prepared.stale; i++) await sleep(20);
      assert.equal(prepared.stale, true, 'the runtime exited before it was given a spec');
      const early = await prepared.run().then(() => undefined, (e: unknown) => e);
      assert.ok(early instanceof RuntimeError);
      assert.equal(early.exitStatus, plain.exitStatus);
      assert.equal(early.logError, plain.logError);
    });

    await removalsRan();
    assert.deepEqual(readdirSync(fifoDir), []);
    assert.equal(fdCount(), fdsBefore);
  } finally {
    if (savedXdg === undefined) delete process.env['XDG_RUNTIME_DIR'];
    else process.env['XDG_RUNTIME_DIR'] = savedXdg;
    await rt.delete(id, { force: true }).catch(() => undefined);
    for (const pid of runtimeExecsFor(id)) process.kill(pid, 'SIGKILL');
    rmSync(fifoDir, { recursive: true, force: true });
    rmSync(root, { recursive: true, force: true });
    bundle.remove();
  }
});
