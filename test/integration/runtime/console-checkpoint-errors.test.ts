// A tty container through the console socket (with a resize), checkpoint/restore where criu can,
// and bad input: missing binary, garbage runtime, bad id, bad bundle — typed errors, no leaks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, closeSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConsoleSocket, OciRuntime, ProcessMonitor, RuntimeArgumentError, RuntimeError, runtimeFailureMessage } from '../../../src/runtime/index.js';
import { setWindowSize } from '../../../src/sys/index.js';
import { bundleUnavailable, createBusyboxBundle, hasBinary, readUntil } from '../../fixtures/bundle.js';

const monitor = ProcessMonitor.get();
const unavailable = bundleUnavailable();
const fdCount = (): number => readdirSync('/proc/self/fd').length;

for (const binary of ['runc', 'crun']) {
  test(`tty container through the console socket, with a resize (${binary})`, { skip: unavailable ?? (hasBinary(binary) ? false : `${binary} missing`), timeout: 60_000 }, async () => {
    const before = fdCount();
    const bundle = createBusyboxBundle({ args: ['sh', '-c', 'stty size; echo tty=$(tty); exec sleep 300'], terminal: true });
    const root = mkdtempSync(path.join(os.tmpdir(), 'rt-tty-'));
    const rt = new OciRuntime({ binary, root, log: path.join(bundle.dir, 'log.json'), logFormat: 'json' }, monitor);
    const id = `tty-${binary}-${process.pid}`;
    const socket = await ConsoleSocket.create();
    let master: number | undefined;
    try {
      await rt.create(id, { bundle: bundle.dir, pidFile: path.join(bundle.dir, 'init.pid'), consoleSocket: socket.path });
      master = await socket.receiveMaster(5000);
      setWindowSize(master, { rows: 41, columns: 123 });
      await rt.start(id);
      const text = await readUntil(master, /tty=\S+/);
      assert.match(text, /41 123/, 'the container saw the size we set');
      assert.match(text, /tty=\/dev\/(pts\/\d+|console)/);
      const pid = Number(readFileSync(path.join(bundle.dir, 'init.pid'), 'utf8'));
      const exit = monitor.waitForExit(pid);
      await rt.kill(id, 9); // pid 1 of a pid namespace ignores SIGTERM without a handler
      assert.equal((await exit).exitStatus, 137);
      await rt.delete(id);
    } finally {
      await rt.delete(id, { force: true }).catch(() => undefined);
      await socket.close();
      if (master !== undefined) closeSync(master);
      bundle.remove();
      rmSync(root, { recursive: true, force: true });
    }
    assert.equal(fdCount(), before, 'no fd leaked');
  });
}

test('checkpoint and restore with criu (runc)', { skip: unavailable ?? (hasBinary('criu') ? false : 'criu missing'), timeout: 60_000 }, async (t) => {
  const bundle = createBusyboxBundle({ args: ['sh', '-c', 'i=0; while true; do i=$((i+1)); sleep 0.1; done'] });
  const root = mkdtempSync(path.join(os.tmpdir(), 'rt-criu-'));
  const rt = new OciRuntime({ binary: 'runc', root, log: path.join(bundle.dir, 'log.json'), logFormat: 'json' }, monitor);
  const id = `cr-${process.pid}`;
  const image = path.join(bundle.dir, 'image');
  try {
    await rt.create(id, { bundle: bundle.dir, pidFile: path.join(bundle.dir, 'init.pid') });
    const pid = Number(readFileSync(path.join(bundle.dir, 'init.pid'), 'utf8'));
    const exit = monitor.waitForExit(pid);
    await rt.start(id);
    try {
      await rt.checkpoint(id, { imagePath: image, workPath: path.join(bundle.dir, 'work') });
    } catch (err) {
      assert.ok(err instanceof RuntimeError);
      let dump = '';
      try {
        dump = readFileSync(path.join(bundle.dir, 'work', 'dump.log'), 'utf8');
      } catch {
        // no dump log
      }
      const lines = dump.split('\n');
      const reason = (lines.find((l) => /kerndat.*failed|failed.*vdso/i.test(l)) ?? lines.find((l) => /Error/.test(l)))?.trim() ?? err.logError ?? err.message;
      t.skip(`criu cannot checkpoint on this host: ${reason}`);
      return;
    }
    assert.equal((await exit).exitStatus !== undefined, true);
    await rt.delete(id, { force: true });
    await rt.restore(id, { imagePath: image, workPath: path.join(bundle.dir, 'work'), bundle: bundle.dir, detach: true, pidFile: path.join(bundle.dir, 'init.pid') });
    assert.equal((await rt.state(id)).status, 'running');
  } finally {
    await rt.delete(id, { force: true }).catch(() => undefined);
    bundle.remove();
    rmSync(root, { recursive: true, force: true });
  }
});

test('bad input gives clear typed errors and leaks nothing', { skip: unavailable ?? false }, async () => {
  const before = fdCount();
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'rt-bad-'));
  try {
    const missing = new OciRuntime({ binary: 'no-such-runtime-binary' }, monitor);
    await assert.rejects(missing.kind(), (e: unknown) => e instanceof RuntimeError && e.exitStatus === undefined && /executable file not found/.test(e.message));

    const garbage = path.join(tmp, 'garbage');
    writeFileSync(garbage, '#!/bin/sh\necho "hello, I am not a runtime"\n');
    chmodSync(garbage, 0o755);
    await assert.rejects(new OciRuntime({ binary: garbage }, monitor).kind(), (e: unknown) => e instanceof RuntimeError && /not a recognised OCI runtime/.test(e.message));

    const rt = new OciRuntime({ binary: 'runc', root: path.join(tmp, 'root'), log: path.join(tmp, 'log.json'), logFormat: 'json' }, monitor);
    await assert.rejects(rt.start('../etc'), RuntimeArgumentError);
    await assert.rejects(rt.start('--all'), RuntimeArgumentError);
    await assert.rejects(rt.create('ok', { bundle: 'relative/bundle' }), RuntimeArgumentError);

    // A bundle without config.json: the runtime's own reason comes from its JSON log.
    const err = await rt.create('bad-bundle', { bundle: tmp }).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof RuntimeError);
    assert.equal(err.exitStatus, 1);
    assert.match(err.logError ?? '', /config\.json/);
    assert.match(runtimeFailureMessage('OCI runtime create failed', err), /^OCI runtime create failed: .*config\.json/);
    // A second failure reports its own reason, not the stale record of the first.
    const err2 = await rt.kill('not-there', 9).then(() => undefined, (e: unknown) => e);
    assert.ok(err2 instanceof RuntimeError);
    assert.match(err2.logError ?? '', /does not exist/);
    assert.match(err2.message, /^runc did not terminate successfully: exit status 1: /);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  assert.equal(fdCount(), before, 'no fd leaked');
});
