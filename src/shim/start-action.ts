/**
 * `containerd-shim-ts-v2 … start`: make sure a daemon serves this task, print its address, exit.
 * containerd reads our combined stdout+stderr until every holder closes it, so the daemon gets
 * none of our stdio; it gets the listening socket as fd 3 (accepting before we exit, so containerd's
 * immediate dial never fails) and the bundle's `log` fifo as its stderr.
 */
import { spawn } from 'node:child_process';
import { closeSync, constants, fstatSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { claimMarkerPath, groupKey, socketAddress, socketPath, SOCKET_DIR, warmMarkerPath } from './address.js';
import { loadHostConfig } from './config-file.js';
import { setCloseOnExec, tryLockExclusive } from '../sys/index.js';

export interface StartParams {
  readonly namespace: string;
  readonly id: string;
  readonly containerdAddress: string;
  readonly debug: boolean;
  readonly bundle: string;
  /** argv to re-run this binary (node executable + script). */
  readonly selfCommand: readonly string[];
}

/** Resolves when something accepts connections on `socket` (within `timeoutMs`). */
function isListening(socket: string, timeoutMs = 100): Promise<boolean> {
  return new Promise((resolve) => {
    const conn = net.connect(socket);
    const timer = setTimeout(() => {
      conn.destroy();
      resolve(false);
    }, timeoutMs);
    conn.once('connect', () => {
      clearTimeout(timer);
      conn.destroy();
      resolve(true);
    });
    conn.once('error', () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
}

/** The pid in a shared daemon's warm marker, when that process is alive. */
export function warmDaemonPid(socket: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(warmMarkerPath(socket), 'utf8').trim(), 10);
    if (!Number.isSafeInteger(pid) || pid <= 0) return undefined;
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  }
}

/** Writes `<bundle>/address` atomically with no trailing newline (containerd 1.6 reads it verbatim). */
function writeAddressFile(bundle: string, address: string): void {
  const tmp = path.join(bundle, '.address');
  rmSync(tmp, { force: true });
  writeFileSync(tmp, address, { mode: 0o666, flag: 'wx' });
  renameSync(tmp, path.join(bundle, 'address'));
}

function listen(socket: string): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(socket, () => resolve(server));
  });
}

/** The daemon's oom_score_adj: containerd's plus one (clamped), so the kernel kills shims before containerd. */
function adjustOomScore(daemonPid: number): void {
  try {
    const parent = Number.parseInt(readFileSync(`/proc/${process.ppid}/oom_score_adj`, 'utf8').trim(), 10);
    const score = Math.max(-1000, Math.min(1000, (Number.isFinite(parent) ? parent : 0) + 1));
    writeFileSync(`/proc/${daemonPid}/oom_score_adj`, String(score));
  } catch {
    // not permitted (rootless, user namespace): the reference ignores this too
  }
}

/** How long a `start` waits for another `start` holding the socket-directory lock. */
const START_LOCK_TIMEOUT_MS = 15_000;

/**
 * Runs `fn` holding an exclusive flock on the socket directory, so concurrent `start` actions
 * (many containers of one pod or namespace at once) decide one at a time whether a daemon exists.
 * Locking the directory itself leaves no lock file behind, and the lock dies with its holder.
 * `inherited` is that lock already taken by the launcher (inheritedStartLock).
 */
async function withStartLock<T>(fn: () => Promise<T>, inherited: number | undefined): Promise<T> {
  if (inherited !== undefined) {
    try {
      return await fn();
    } finally {
      closeSync(inherited);
    }
  }
  mkdirSync(SOCKET_DIR, { recursive: true, mode: 0o700 });
  const fd = openSync(SOCKET_DIR, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    const deadline = Date.now() + START_LOCK_TIMEOUT_MS;
    while (!tryLockExclusive(fd)) {
      if (Date.now() > deadline) throw new Error(`timed out after ${START_LOCK_TIMEOUT_MS} ms waiting for another shim start to release ${SOCKET_DIR}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return await fn();
  } finally {
    closeSync(fd); // releases the lock
  }
}

/** Names the fd on which the shell launcher hands over the start lock it already holds. */
export const START_LOCK_FD_ENV = 'CONTAINERD_SHIM_TS_START_LOCK_FD';

/**
 * The start lock the launcher took before running us (bin/containerd-shim-ts-v2 queues cold
 * starts on it), or undefined. Accepted only if the fd is the socket directory and the lock is
 * already this open file's (flock then succeeds at once). It is made close-on-exec, so the daemon
 * we spawn cannot hold it for life (the spawn here does not pass extra fds on today, but that is
 * not a promise we rely on), and the variable is dropped from our environment, which the daemon
 * gets. An fd on the directory that fails the check is closed, so we never wait on a lock
 * we hold ourselves.
 */
function inheritedStartLock(): number | undefined {
  const raw = process.env[START_LOCK_FD_ENV];
  delete process.env[START_LOCK_FD_ENV];
  if (raw === undefined || !/^[0-9]+$/.test(raw)) return undefined;
  const fd = Number(raw);
  if (fd < 3) return undefined;
  try {
    const held = fstatSync(fd);
    const dir = statSync(SOCKET_DIR);
    if (!held.isDirectory() || held.dev !== dir.dev || held.ino !== dir.ino) return undefined;
  } catch {
    return undefined;
  }
  try {
    setCloseOnExec(fd);
    if (tryLockExclusive(fd)) return fd;
  } catch {
    // fall through: not usable
  }
  closeSync(fd);
  return undefined;
}

/**
 * Records, under the start lock, that this start picked the shared daemon on `socket`: the daemon
 * does not withdraw its warm marker while a claim is newer than its last Create (daemon.ts).
 */
function claim(socket: string): void {
  writeFileSync(claimMarkerPath(socket), String(process.pid), { mode: 0o600 });
}

/** Whether a live daemon serves `socket` and will take another task (shared daemons: warm marker). */
async function reusable(socket: string, shared: boolean): Promise<boolean> {
  if (!(await isListening(socket))) return false;
  return !shared || warmDaemonPid(socket) !== undefined;
}

/** Runs the start action; returns the address to print. */
export async function runStart(params: StartParams): Promise<string> {
  const host = loadHostConfig();
  const shared = host.grouping === 'namespace';
  const key = groupKey(params.bundle, params.id, host.grouping);
  const socket = socketPath(params.containerdAddress, params.namespace, key);
  const address = socketAddress(socket);
  let handedOver = inheritedStartLock();
  if (handedOver !== undefined && !shared) {
    // Only the shared daemon's starts queue on it: pod and task daemons must not wait for each other.
    closeSync(handedOver);
    handedOver = undefined;
  }
  // Unlocked first look for a task or pod daemon: it needs no lock and no native code. A shared
  // daemon may be withdrawing its marker: picking it takes the lock and a claim (claim()).
  if (!shared && (await reusable(socket, shared))) {
    writeAddressFile(params.bundle, address);
    return address;
  }
  return withStartLock(async () => {
    if (await reusable(socket, shared)) {
      // A warm daemon, or another start made (or re-warmed) one while we waited for the lock.
      if (shared) claim(socket);
      writeAddressFile(params.bundle, address);
      return address;
    }
    if (await isListening(socket)) {
      // A shared daemon that withdrew its warm marker is exiting: let it go, then start afresh.
      // If it re-warms instead (a task reached it in its grace period), use it.
      for (let waited = 0; waited < 5000; waited += 50) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        if (!(await isListening(socket))) break;
        if (warmDaemonPid(socket) !== undefined) {
          claim(socket);
          writeAddressFile(params.bundle, address);
          return address;
        }
      }
      // Never unlink a live daemon's socket: its tasks would become unreachable after a containerd restart.
      if (await isListening(socket)) throw new Error(`shim daemon on ${socket} is neither accepting tasks nor exiting`);
    }
    return spawnDaemon(params, socket, address, shared);
  }, handedOver);
}

/**
 * V8 flags for the long-lived daemon. V8 grows the young generation under steady allocation (in
 * a shared daemon from 8 to 32 MiB over a 300-container churn, +25 MiB PSS that looked like a
 * leak) and does not shrink it again in a process that never tells V8 it is idle. The
 * daemon allocates little per request, so 1 MiB semi-spaces cost no measurable CPU (more, shorter
 * scavenges) and keep it near its idle size (docs/reliability.md, "Daemon memory").
 */
export const DAEMON_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=1'];

async function spawnDaemon(params: StartParams, socket: string, address: string, shared: boolean): Promise<string> {
  rmSync(socket, { force: true });
  const server = await listen(socket);
  chmodSync(socket, 0o600);
  writeAddressFile(params.bundle, address);

  const handle = (server as unknown as { _handle?: { fd?: number } })._handle;
  const listenFd = handle?.fd;
  if (typeof listenFd !== 'number' || listenFd < 0) throw new Error('cannot obtain the listening socket fd');
  let logFd: number | 'ignore' = 'ignore';
  try {
    // containerd holds the reading end open already, so this never waits for a reader.
    logFd = openSync(path.join(params.bundle, 'log'), constants.O_WRONLY | constants.O_NONBLOCK);
  } catch {
    logFd = 'ignore';
  }
  const [command, ...prefix] = params.selfCommand;
  // prefix is node's own flags, then the script: ours go first so that flags given through
  // CONTAINERD_SHIM_TS_NODE_ARGS (later on the command line) override them.
  const args = [...DAEMON_NODE_FLAGS, ...prefix, '-namespace', params.namespace, '-id', params.id, '-address', params.containerdAddress];
  if (params.debug) args.push('-debug');
  const child = spawn(command!, args, {
    cwd: params.bundle,
    detached: true,
    stdio: ['ignore', 'ignore', logFd, listenFd],
    env: process.env,
  });
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', () => resolve());
    child.once('error', reject);
  });
  if (typeof logFd === 'number') closeSync(logFd);
  if (child.pid) {
    adjustOomScore(child.pid);
    // Written before the lock is released, so the next start (which may come before the daemon
    // has run a line) sees a warm daemon instead of one that looks like it is exiting.
    if (shared) {
      writeFileSync(warmMarkerPath(socket), String(child.pid), { mode: 0o600 });
      claim(socket);
    }
  }
  child.unref();
  return address;
}
