/**
 * Plain data of the runtime client: how to invoke a runtime (RuntimeConfig, JSON-serialisable so
 * the shim can store it in the bundle for its `delete` action), what runtimes print (state, ps,
 * stats, version), and the OCI Process spec exec takes.
 */

/** Which OCI runtime a binary is, recognised from what `<binary> --version` prints. */
export type RuntimeKind = 'runc' | 'crun' | 'runsc';

/** How crun is run on a cgroup v1/v2 hybrid host (see docs/runtime-client.md). */
export type CrunHybridMode = 'auto' | 'namespace' | 'off';

/** runsc's own global flags (ignored for other runtimes). */
export interface RunscGlobalOptions {
  /** `--platform`: `ptrace` (default) or `kvm`. */
  readonly platform?: string;
  /** `--network`: `sandbox` (default), `host` or `none`; `none` is what works without a CNI set-up. */
  readonly network?: 'sandbox' | 'host' | 'none';
  /** `--ignore-cgroups`. */
  readonly ignoreCgroups?: boolean;
}

/** Everything global about invoking one runtime; plain JSON so it can be written to a file. */
export interface RuntimeConfig {
  /** The executable: a bare name looked up in PATH, or a path. */
  readonly binary: string;
  /** `--root <dir>`: the runtime's state directory. */
  readonly root?: string;
  /** `--log <file>`: where the runtime appends its log records. */
  readonly log?: string;
  /** `--log-format`; `json` lets failures carry the runtime's own reason. */
  readonly logFormat?: 'json' | 'text';
  /** `--debug`. */
  readonly debug?: boolean;
  /** `--systemd-cgroup`. */
  readonly systemdCgroup?: boolean;
  /** `--criu <path>` (runc only; dropped for crun and runsc, which do not accept it). */
  readonly criu?: string;
  /** runsc-only global flags. */
  readonly runsc?: RunscGlobalOptions;
  /** Extra global arguments, appended after the ones above (e.g. `--network=none`). */
  readonly extraGlobalArgs?: readonly string[];
  /** crun on hybrid cgroups: `auto` (default) applies the private-namespace set-up when needed. */
  readonly crunHybrid?: CrunHybridMode;
  /** Kill a runtime command that runs longer than this (milliseconds); no limit when unset. */
  readonly commandTimeoutMs?: number;
  /**
   * runc only: run it from a sealed in-memory copy, which `runc init` accepts without copying
   * itself again (runtime/sealed-binary.ts). Costs the binary's size in shmem per process.
   */
  readonly sealedCopy?: boolean;
}

/** File descriptors given to a runtime command as its stdio; missing entries mean /dev/null. */
export interface RuntimeStdio {
  readonly stdin?: number;
  readonly stdout?: number;
  readonly stderr?: number;
}

/** `state` output, the fields common to runc, crun and runsc. */
export interface ContainerState {
  readonly ociVersion?: string;
  readonly id: string;
  /** Init pid (runsc: sandbox pid); 0 (runsc −1) when stopped. */
  readonly pid: number;
  readonly status: 'creating' | 'created' | 'running' | 'paused' | 'stopped' | string;
  /** Absolute for runc/crun; as given to create for runsc. */
  readonly bundle: string;
  readonly rootfs?: string;
  readonly created?: string;
  readonly owner?: string;
  readonly annotations?: Record<string, string>;
}

/** What `--version` printed, parsed. */
export interface RuntimeVersion {
  readonly kind: RuntimeKind;
  /** e.g. `1.1.5+ds1`, `1.8.1`, `0.0~20221219.0`. */
  readonly version: string;
  readonly commit?: string;
  readonly spec?: string;
  /** The whole output, for logs. */
  readonly raw: string;
}

/** One sample of `events --stats` (`data` is kept as the runtime printed it). */
export interface RuntimeStats {
  readonly type: string;
  readonly id: string;
  readonly data: {
    readonly cpu?: { readonly usage?: { readonly total?: number; readonly kernel?: number; readonly user?: number; readonly percpu?: number[] } };
    readonly memory?: { readonly usage?: { readonly limit?: number; readonly usage?: number; readonly max?: number; readonly failcnt?: number }; readonly raw?: Record<string, number> };
    readonly pids?: { readonly current?: number; readonly limit?: number };
    readonly [key: string]: unknown;
  };
}

/** One event of the `events` stream (`stats`, `oom`, …). */
export interface RuntimeEvent {
  readonly type: string;
  readonly id: string;
  readonly data?: unknown;
}

/** POSIX rlimit of an OCI process. */
export interface OciRlimit {
  readonly type: string;
  readonly hard: number;
  readonly soft: number;
}

/** The OCI runtime-spec `Process` object exec runs (unknown extra fields are passed through). */
export interface OciProcess {
  readonly terminal?: boolean;
  readonly consoleSize?: { readonly height: number; readonly width: number };
  readonly user?: { readonly uid: number; readonly gid: number; readonly umask?: number; readonly additionalGids?: number[]; readonly username?: string };
  readonly args?: readonly string[];
  readonly commandLine?: string;
  readonly env?: readonly string[];
  readonly cwd: string;
  readonly capabilities?: {
    readonly bounding?: readonly string[];
    readonly effective?: readonly string[];
    readonly inheritable?: readonly string[];
    readonly permitted?: readonly string[];
    readonly ambient?: readonly string[];
  };
  readonly rlimits?: readonly OciRlimit[];
  readonly noNewPrivileges?: boolean;
  readonly apparmorProfile?: string;
  readonly oomScoreAdj?: number;
  readonly selinuxLabel?: string;
  readonly [key: string]: unknown;
}

/** A runtime `exec` started ahead of its spec (`OciRuntime.prepareExec`; runc only, others start at run()). */
export interface PreparedExec {
  /** Cannot run: already run or cancelled, or the runtime exited before its spec (it failed, or timed out). */
  readonly stale: boolean;
  /** Hands the spec over; resolves or rejects exactly like `exec` with the same options. Once. */
  run(): Promise<number>;
  /** Gives up: the runtime reads a spec that is not JSON and exits without entering the container (others: nothing ran). */
  cancel(): Promise<void>;
}
