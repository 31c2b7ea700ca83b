// A private containerd for end-to-end tests: its own root, state, sockets and config.toml in a
// temp dir, the checkout's bin/ first on its PATH (so it finds containerd-shim-ts-v2), and a
// teardown that removes tasks, containers, processes, mounts and the directory even after failures.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Ctr } from './ctr.js';
import { sleep } from './command.js';
import { binDir } from './paths.js';
import { killPids, pidsWithArgument, removeDeadShimSockets, shimSocketEntries, sweepRuntimeRoot, unmountUnder, type RuntimeRoot } from './cleanup.js';
import type { ImageArchive } from './oci-image.js';

/** The files and sockets of one private containerd. */
export interface ContainerdPaths {
  /** The temp dir holding everything below. */
  readonly dir: string;
  readonly root: string;
  readonly state: string;
  /** gRPC socket (what `ctr --address` takes). */
  readonly address: string;
  /** ttrpc socket (what shims get as TTRPC_ADDRESS). */
  readonly ttrpcAddress: string;
  readonly configPath: string;
  readonly logPath: string;
}

/** Options for {@link Containerd.start}. */
export interface ContainerdOptions {
  /** Default namespace of {@link Containerd.ctr} (default `e2e`). */
  readonly namespace?: string;
  /** containerd's log level (default `info`; `debug` also makes containerd pass -debug to shims). */
  readonly logLevel?: 'trace' | 'debug' | 'info' | 'warn' | 'error';
  /**
   * Enables the CRI plugin (disabled by default). `config` is TOML appended to config.toml, e.g.
   * `[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.ts] …`; a function gets the paths first.
   */
  readonly cri?: { readonly config: string | ((paths: ContainerdPaths) => string) };
  /** Extra TOML appended to config.toml. */
  readonly extraConfig?: string;
  /** Directories put before the checkout's bin/ on containerd's PATH. */
  readonly extraPath?: readonly string[];
  /** How long to wait for the socket to answer (default 20 s). */
  readonly readyTimeoutMs?: number;
  /**
   * Host-level TOML for our shim (`grouping`, `idle_exit_seconds`, …), written into the temp dir and
   * named by `CONTAINERD_SHIM_TS_CONFIG` in containerd's environment, which containerd hands on to
   * every shim it starts.
   */
  readonly shimHostConfig?: string;
  /** More variables for containerd's environment (and so every shim's), e.g. CONTAINERD_SHIM_TS_LAUNCH_TRACE. */
  readonly extraEnv?: Readonly<Record<string, string>>;
}

function tomlString(s: string): string {
  return JSON.stringify(s); // a JSON string is a valid TOML basic string for the paths we write
}

/** Every containerd started by this process, so an unexpected exit still kills them. */
const live = new Set<Containerd>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const c of live) c.killNow();
  });
}

/** A running private containerd. Always call {@link Containerd.stop} (e.g. in `after`). */
export class Containerd implements ContainerdPaths {
  readonly dir: string;
  readonly root: string;
  readonly state: string;
  readonly address: string;
  readonly ttrpcAddress: string;
  readonly configPath: string;
  readonly logPath: string;
  /** Where ctr makes its stdio fifos (`--fifo-dir`), inside {@link dir}. */
  readonly ctrFifoDir: string;
  /** ctr bound to this containerd and the default namespace. */
  readonly ctr: Ctr;
  /** Namespaces the harness used (for teardown). */
  private readonly namespaces = new Set<string>();
  private readonly runtimeRoots: RuntimeRoot[] = [];
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private stopped = false;
  /** The shim socket directory's entries before this containerd started (see stop()). */
  private readonly socketsBefore = shimSocketEntries();

  private constructor(dir: string, readonly namespace: string) {
    this.dir = dir;
    this.root = path.join(dir, 'root');
    this.state = path.join(dir, 'state');
    this.address = path.join(dir, 'containerd.sock');
    this.ttrpcAddress = `${this.address}.ttrpc`;
    this.configPath = path.join(dir, 'config.toml');
    this.logPath = path.join(dir, 'containerd.log');
    // ctr's fifos in our temp dir, not the host-wide default: removed with it, whatever ctr did.
    this.ctrFifoDir = path.join(dir, 'ctr-fifo');
    mkdirSync(this.ctrFifoDir, { recursive: true, mode: 0o700 });
    this.ctr = new Ctr(this.address, namespace, 'ctr', this.ctrFifoDir);
    this.namespaces.add(namespace);
  }

  /** The containerd process id (undefined once stopped). */
  get pid(): number | undefined {
    return this.stopped ? undefined : this.child?.pid;
  }

  /** Creates the temp dir and config, starts containerd and waits until it answers. */
  static async start(options: ContainerdOptions = {}): Promise<Containerd> {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'shim-e2e-'));
    const c = new Containerd(dir, options.namespace ?? 'e2e');
    live.add(c);
    installExitHook();
    try {
      await c.launch(options);
    } catch (e) {
      const log = c.logTail(40);
      await c.stop();
      throw new Error(`containerd did not start: ${(e as Error).message}\n--- containerd log ---\n${log}`);
    }
    return c;
  }

  private configText(options: ContainerdOptions): string {
    const lines = [
      'version = 2',
      `root = ${tomlString(this.root)}`,
      `state = ${tomlString(this.state)}`,
      // The CRI plugin wants CNI, images and more; only tests that ask for it get it.
      `disabled_plugins = ${options.cri ? '[]' : '["io.containerd.grpc.v1.cri"]'}`,
      '[grpc]',
      `  address = ${tomlString(this.address)}`,
      '[ttrpc]',
      `  address = ${tomlString(this.ttrpcAddress)}`,
      '[debug]',
      '  address = ""',
      '[metrics]',
      '  address = ""',
      // Keeps the opt plugin from creating /opt/containerd on the host.
      '[plugins."io.containerd.internal.v1.opt"]',
      `  path = ${tomlString(path.join(this.dir, 'opt'))}`,
    ];
    if (options.cri) {
      const cri = options.cri.config;
      lines.push(typeof cri === 'function' ? cri(this) : cri);
    }
    if (options.extraConfig) lines.push(options.extraConfig);
    return `${lines.join('\n')}\n`;
  }

  /** The options containerd was started with (a restart reuses them). */
  private launchOptions: ContainerdOptions = {};

  /**
   * Stops containerd alone — SIGTERM (orderly) or SIGKILL (crash) — leaving its shims, tasks,
   * root, state and sockets' directory as they are, then starts it again on the same config and
   * directories, as an operator's restart would. Resolves when the new containerd answers.
   * `whileDown` runs between the two (e.g. to make a shim publish events while nobody listens).
   */
  async restart(signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM', whileDown?: () => Promise<void>): Promise<void> {
    if (this.stopped) throw new Error('containerd was stopped; restart needs a running instance');
    const pid = this.child?.pid;
    if (pid !== undefined && this.child?.exitCode === null && this.child.signalCode === null) {
      try { process.kill(pid, signal); } catch { /* gone */ }
      let timer: NodeJS.Timeout | undefined;
      const exited = await Promise.race([
        this.exited.then(() => true),
        new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), 10_000); }),
      ]);
      clearTimeout(timer);
      if (!exited) {
        try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
        await this.exited;
      }
    }
    await whileDown?.();
    await this.launch(this.launchOptions);
  }

  private async launch(options: ContainerdOptions): Promise<void> {
    this.launchOptions = options;
    writeFileSync(this.configPath, this.configText(options));
    const log = openSync(this.logPath, 'a');
    const PATH = [...(options.extraPath ?? []), binDir(), process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'].join(':');
    const env: NodeJS.ProcessEnv = { ...process.env, ...options.extraEnv, PATH };
    if (options.shimHostConfig !== undefined) {
      env.CONTAINERD_SHIM_TS_CONFIG = path.join(this.dir, 'shim-host.toml');
      writeFileSync(env.CONTAINERD_SHIM_TS_CONFIG, options.shimHostConfig);
    }
    // Own process group (detached) so a Ctrl-C of the test runner reaches us, not containerd first;
    // teardown signals it by pid.
    const child = spawn('containerd', ['--config', this.configPath, '--log-level', options.logLevel ?? 'info'], {
      stdio: ['ignore', log, log], detached: true, env, cwd: this.dir,
    });
    closeSync(log);
    this.child = child;
    this.exited = new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      else child.once('exit', () => resolve());
    });
    let spawnError: Error | undefined;
    child.once('error', (e) => { spawnError = e; });
    child.unref();
    const deadline = Date.now() + (options.readyTimeoutMs ?? 20_000);
    for (;;) {
      if (spawnError) throw spawnError;
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`containerd exited (${String(child.exitCode ?? child.signalCode)})`);
      if (existsSync(this.address)) {
        const v = await this.ctr.run(['version'], { timeoutMs: 5_000 });
        if (v.code === 0 && v.out.includes('Server:')) return;
      }
      if (Date.now() > deadline) throw new Error('timed out waiting for the gRPC socket');
      await sleep(50);
    }
  }

  /** Records a namespace the test used, so teardown empties it too. */
  useNamespace(namespace: string): Ctr {
    this.namespaces.add(namespace);
    return this.ctr.withNamespace(namespace);
  }

  /**
   * A fresh runtime state root under the temp dir, swept with `binary` on teardown. Give it to
   * the shim (`--runc-root`, or `root` in a runtime config file) so no state lands in /run.
   */
  runtimeRoot(binary: string, label: string): string {
    const root = path.join(this.dir, 'runtime-root', label);
    mkdirSync(root, { recursive: true });
    if (!this.runtimeRoots.some((r) => r.root === root)) this.runtimeRoots.push({ binary, root });
    return root;
  }

  /** Imports an OCI archive into `namespace` (default the client's) and returns the image name. */
  async importImage(image: ImageArchive, namespace = this.namespace): Promise<string> {
    const ctr = this.useNamespace(namespace);
    await ctr.ok(['images', 'import', image.path], { timeoutMs: 120_000 });
    return image.name;
  }

  /** The last `lines` lines of containerd's log (which includes the shims' logs). */
  logTail(lines = 60): string {
    try {
      return readFileSync(this.logPath, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }

  /** Synchronous last resort used at process exit: SIGKILL containerd and its shims. */
  killNow(): void {
    if (this.stopped) return;
    killPids(pidsWithArgument(this.address));
    if (this.child?.pid !== undefined) {
      try { process.kill(this.child.pid, 'SIGKILL'); } catch { /* gone */ }
    }
  }

  private async removeTasksAndContainers(): Promise<void> {
    if (this.child?.exitCode !== null || this.child?.signalCode !== null) return;
    const listed = await this.ctr.run(['namespaces', 'ls', '-q'], { timeoutMs: 10_000 });
    const namespaces = new Set(this.namespaces);
    if (listed.code === 0) for (const ns of listed.out.split('\n').map((s) => s.trim()).filter(Boolean)) namespaces.add(ns);
    for (const ns of namespaces) {
      const ctr = this.ctr.withNamespace(ns);
      const tasks = await ctr.run(['task', 'ls', '-q'], { timeoutMs: 10_000 });
      for (const id of tasks.code === 0 ? tasks.out.split('\n').map((s) => s.trim()).filter(Boolean) : []) {
        await ctr.run(['task', 'rm', '-f', id], { timeoutMs: 15_000 });
      }
      const containers = await ctr.run(['containers', 'ls', '-q'], { timeoutMs: 10_000 });
      const ids = containers.code === 0 ? containers.out.split('\n').map((s) => s.trim()).filter(Boolean) : [];
      if (ids.length > 0) await ctr.run(['containers', 'rm', ...ids], { timeoutMs: 15_000 });
    }
  }

  /**
   * Stops everything this containerd started and removes the temp dir: tasks and containers
   * (through ctr), containerd (SIGTERM, then SIGKILL after 5 s), leftover shims (by their
   * `-address <our socket>` argument), runtime containers in our roots, mounts, the directory.
   * Safe to call twice and after a failed start. With E2E_KEEP=1 the directory is kept.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    try {
      await this.removeTasksAndContainers();
    } catch { /* teardown continues whatever ctr says */ }
    const pid = this.child?.pid;
    if (pid !== undefined && this.child?.exitCode === null && this.child.signalCode === null) {
      try { process.kill(pid, 'SIGTERM'); } catch { /* gone */ }
      let timer: NodeJS.Timeout | undefined;
      const killed = await Promise.race([
        this.exited.then(() => true),
        new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), 5_000); }),
      ]);
      clearTimeout(timer);
      if (!killed) {
        try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
        await this.exited;
      }
    }
    this.stopped = true;
    live.delete(this);
    // Shims normally exit after their last task is deleted; anything still holding our address is a leak.
    // A lingering shim gets SIGTERM first (so it removes its socket and markers), SIGKILL later.
    for (let i = 0; i < 40; i++) {
      const left = pidsWithArgument(this.address);
      if (left.length === 0) break;
      if (i === 10) killPids(left, 'SIGTERM');
      if (i >= 30) killPids(left);
      await sleep(100);
    }
    for (const r of this.runtimeRoots) sweepRuntimeRoot(r);
    unmountUnder(this.dir);
    // Shims that died without removing their socket (the reference after a crash, killed daemons).
    const dead = await removeDeadShimSockets(this.socketsBefore);
    if (dead.length > 0) process.stderr.write(`e2e: removed dead shim sockets of ${this.dir}: ${dead.join(' ')}\n`);
    if (process.env.E2E_KEEP === '1') {
      process.stderr.write(`e2e: kept ${this.dir}\n`);
      return;
    }
    if (process.env.E2E_LOG_DIR) {
      try {
        mkdirSync(process.env.E2E_LOG_DIR, { recursive: true });
        copyFileSync(this.logPath, path.join(process.env.E2E_LOG_DIR, `${path.basename(this.dir)}.log`));
      } catch { /* logs are a convenience */ }
    }
    rmSync(this.dir, { recursive: true, force: true, maxRetries: 3 });
  }

  /** `await using cd = await Containerd.start()` support. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
