// Sealed in-memory copies of runtime binaries (runtime/sealed-binary.ts): the copy is exactly the
// file, cannot be written, runs with the caller's argv[0], is dropped as soon as the file on disk
// changes, and a real runc runs from it (create, start, exec) with the same results as from disk.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, fstatSync, mkdirSync, mkdtempSync, openSync, closeSync, readFileSync, readdirSync, readlinkSync, rmSync, renameSync, writeFileSync, writeSync, constants as fsConstants } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { OciRuntime, ProcessMonitor, SealedCopies, sealedCopies, type OciProcess } from '../../../src/runtime/index.js';
import { createPipe, getSeals, IMMUTABLE_SEALS } from '../../../src/sys/index.js';
import { bundleUnavailable, busyboxPath, createBusyboxBundle, hasBinary, readUntil } from '../../fixtures/bundle.js';
import { runtimeExecsFor } from '../../fixtures/procfs.js';

const monitor = ProcessMonitor.get();
const sha = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');
const fdOf = (executable: string): number => Number(/^\/proc\/self\/fd\/(\d+)$/.exec(executable)?.[1] ?? NaN);
const fdCount = (): number => readdirSync('/proc/self/fd').length;

const busybox = busyboxPath();

test('sealed copies of a binary', { skip: busybox ? false : 'busybox-static is not installed', timeout: 60_000 }, async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sealed-'));
  const file = path.join(dir, 'busybox');
  copyFileSync(busybox!, file);
  chmodSync(file, 0o755);
  const copies = new SealedCopies();
  const fdsBefore = fdCount();
  try {
    await t.test('the first use runs the file and starts the copy; then the copy is used', async () => {
      assert.equal(copies.executableFor(file), file);
      await copies.settled();
      const exe = copies.executableFor(file);
      assert.match(exe, /^\/proc\/self\/fd\/\d+$/);
      assert.match(readlinkSync(exe), /^\/memfd:busybox/);
      assert.equal(copies.executableFor(file), exe, 'the same copy on every use');
    });

    await t.test('the copy holds the same bytes, carries every seal and refuses writes', () => {
      const exe = copies.executableFor(file);
      assert.equal(sha(exe), sha(file));
      assert.equal(getSeals(fdOf(exe)) & IMMUTABLE_SEALS, IMMUTABLE_SEALS);
      const w = openSync(exe, fsConstants.O_WRONLY);
      try {
        assert.throws(() => writeSync(w, Buffer.from('x')), { code: 'EPERM' });
      } finally {
        closeSync(w);
      }
    });

    await t.test('it runs with the caller\'s argv[0] (busybox picks its applet by it)', async () => {
      const exe = copies.executableFor(file);
      const result = await monitor.run({ binary: 'echo', executable: exe, args: ['from', 'the', 'copy'] });
      assert.equal(result.exitStatus, 0);
      assert.equal(result.stdout, 'from the copy\n');
    });

    await t.test('a replaced file is run itself until its own copy is ready', async () => {
      const old = copies.executableFor(file);
      const oldIno = fstatSync(fdOf(old)).ino;
      // Same name, new inode: what a package upgrade does. Append a byte so the content differs too.
      const next = path.join(dir, 'busybox.new');
      copyFileSync(busybox!, next);
      const fd = openSync(next, 'a');
      writeSync(fd, Buffer.from([0]));
      closeSync(fd);
      chmodSync(next, 0o755);
      renameSync(next, file);
      assert.equal(copies.executableFor(file), file);
      // The stale copy's fd is closed (its number may already hold the new copy being written).
      const reused = ((): number | undefined => { try { return fstatSync(fdOf(old)).ino; } catch { return undefined; } })();
      assert.notEqual(reused, oldIno, 'the stale copy is closed');
      await copies.settled();
      const fresh = copies.executableFor(file);
      assert.match(fresh, /^\/proc\/self\/fd\/\d+$/);
      assert.equal(sha(fresh), sha(file));
    });

    await t.test('forget: the file runs from then on, until it changes', () => {
      copies.forget(file);
      assert.equal(copies.executableFor(file), file);
      assert.equal(copies.executableFor(file), file);
    });

    await t.test('what cannot be copied is run from disk and not retried on every use', async () => {
      const notAFile = path.join(dir, 'a-directory');
      mkdirSync(notAFile);
      assert.equal(copies.executableFor(notAFile), notAFile);
      await copies.settled();
      const fds = fdCount();
      assert.equal(copies.executableFor(notAFile), notAFile);
      await copies.settled();
      assert.equal(fdCount(), fds, 'no second copy attempt');
      assert.equal(copies.executableFor(path.join(dir, 'missing')), path.join(dir, 'missing'));
      // A script: its interpreter could not open /proc/self/fd/N (closed on exec), so it runs from disk.
      const script = path.join(dir, 'wrapper.sh');
      writeFileSync(script, '#!/bin/sh\necho from-script\n', { mode: 0o755 });
      assert.equal(copies.executableFor(script), script);
      await copies.settled();
      assert.equal(copies.executableFor(script), script, 'a script is never copied');
      const ran = await monitor.run({ binary: script, executable: copies.executableFor(script), args: [] });
      assert.equal(ran.stdout, 'from-script\n');
      assert.equal(copies.executableFor('relative-name'), 'relative-name');
    });
  } finally {
    copies.close();
    rmSync(dir, { recursive: true, force: true });
  }
  assert.equal(fdCount(), fdsBefore, 'close() released every copy');
});

const why = bundleUnavailable() ?? (hasBinary('runc') ? undefined : 'runc is not installed');

function proc(args: string[]): OciProcess {
  return { args, cwd: '/', env: ['PATH=/bin'], user: { uid: 0, gid: 0 } };
}

test('runc from its sealed copy', { skip: why ?? false, timeout: 120_000 }, async (t) => {
  const bundle = createBusyboxBundle({ args: ['sleep', '300'] });
  const root = mkdtempSync(path.join(os.tmpdir(), 'rt-sealed-'));
  const config = { binary: 'runc', root, log: path.join(bundle.dir, 'log.json'), logFormat: 'json' as const };
  const sealed = new OciRuntime({ ...config, sealedCopy: true }, monitor);
  const plain = new OciRuntime(config, monitor);
  const id = `sealed-${process.pid}`;
  try {
    await sealed.version(); // the version probe runs from disk
    await sealed.state(id).catch(() => undefined); // the first runc call starts the copy
    await sealedCopies.settled();

    await t.test('create and start run from the copy', async () => {
      await sealed.create(id, { bundle: bundle.dir, noPivot: false, noNewKeyring: true, pidFile: path.join(bundle.dir, 'init.pid') });
      const pid = Number(readFileSync(path.join(bundle.dir, 'init.pid'), 'utf8'));
      // Until start, the container's process 1 is `runc init`, running from the sealed copy.
      assert.match(readlinkSync(`/proc/${pid}/exe`), /^\/memfd:runc/);
      await sealed.start(id);
      assert.equal((await sealed.state(id)).status, 'running');
    });

    await t.test('exec: runc runs from the copy, with the same output and status as from disk', async () => {
      for (const rt of [sealed, plain]) {
        const p = createPipe();
        try {
          // exec() spawns after an await: our write end stays open until it has returned.
          const running = rt.exec(id, proc(['sh', '-c', 'sleep 0.5; echo exec-out; exit 5']), { detach: false, stdio: { stdout: p.write } });
          const [execs] = await waitFor(() => runtimeExecsFor(id), (l) => l.length > 0);
          const exe = readlinkSync(`/proc/${execs!}/exe`);
          if (rt === sealed) assert.match(exe, /^\/memfd:runc/);
          else assert.doesNotMatch(exe, /memfd/, 'from disk');
          assert.equal(await running, 5);
          closeSync(p.write);
          assert.match(await readUntil(p.read, /exec-out/), /exec-out/);
        } finally {
          closeSync(p.read);
        }
      }
    });
  } finally {
    await plain.delete(id, { force: true }).catch(() => undefined);
    rmSync(root, { recursive: true, force: true });
    bundle.remove();
  }
});

async function waitFor<T>(get: () => T, ok: (v: T) => boolean, timeoutMs = 5000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = get();
    if (ok(v)) return v;
    if (Date.now() > until) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
}
