/**
 * `containerd-shim-ts-v2 … start`: make sure a daemon serves this task, print its address, exit.
 * containerd reads our combined stdout+stderr until every holder closes it, so the daemon gets
 * none of our stdio; it gets the listening socket as fd 3 (accepting before we exit, so containerd's
 * immediate dial never fails) and the bundle's `log` fifo as its stderr.
 */
import { spawn } from 'node:child_process';
import { closeSync, constants, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { groupKey, socketAddress, socketPath, SOCKET_DIR, warmMarkerPath } from './address.js';
import { loadHostConfig } from './config-file.js';

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

/** Runs the start action; returns the address to print. */
export async function runStart(params: StartParams): Promise<string> {
  const host = loadHostConfig();
  const key = groupKey(params.bundle, params.id, host.grouping);
  const socket = socketPath(params.containerdAddress, params.namespace, key);
  const address = socketAddress(socket);
  if (await isListening(socket)) {
    if (host.grouping !== 'namespace' || warmDaemonPid(socket) !== undefined) {
      // A daemon for this group is alive and accepting: it will serve this task too.
      writeAddressFile(params.bundle, address);
      return address;
    }
    // A shared daemon that withdrew its warm marker is exiting: let it go, then start afresh.
    for (let waited = 0; waited < 3000 && (await isListening(socket)); waited += 50) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  mkdirSync(SOCKET_DIR, { recursive: true, mode: 0o700 });
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
  const args = [...prefix, '-namespace', params.namespace, '-id', params.id, '-address', params.containerdAddress];
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
  if (child.pid) adjustOomScore(child.pid);
  child.unref();
  return address;
}
