/**
 * Per-verb option objects and the argv each renders, in the reference's order
 * (oci-runtime-cli.md §2). Rendering knows the runtime kind, because runsc refuses flags runc and
 * crun accept (`--no-pivot`, `--no-new-keyring`, `--criu`) and has its own (`kill --pid`,
 * `exec --internal-pid-file`). Values are validated here, before anything runs.
 */
import { RuntimeArgumentError } from './errors.js';
import type { RuntimeConfig, RuntimeKind, RuntimeStdio } from './types.js';
import { checkAbsolutePath, checkId, checkPid, checkSignal, checkValue } from './validate.js';

/** `create` (and the shared part of `run`). */
export interface CreateOptions {
  /** Absolute bundle directory (runsc stores it verbatim). */
  readonly bundle: string;
  readonly pidFile?: string;
  readonly consoleSocket?: string;
  readonly noPivot?: boolean;
  readonly noNewKeyring?: boolean;
  /** `--detach` (create is detached anyway; for `run` it returns once the container runs). */
  readonly detach?: boolean;
  /** `--preserve-fds N`: pass fds 3…3+N-1 on to the container. */
  readonly preserveFds?: number;
  /** The container's stdio (create/run hand it to the container); /dev/null when absent. */
  readonly stdio?: RuntimeStdio;
}

/** `run`: create + start in one command. */
export type RunOptions = CreateOptions;

/** `exec` (the process comes separately, as the OCI Process object). */
export interface ExecOptions {
  readonly detach?: boolean;
  readonly pidFile?: string;
  readonly consoleSocket?: string;
  /** runsc: `--internal-pid-file`, the sandbox-internal pid of the workload. */
  readonly internalPidFile?: string;
  readonly preserveFds?: number;
  readonly stdio?: RuntimeStdio;
}

/** `kill`. */
export interface KillOptions {
  /** `--all`: every process of the container. */
  readonly all?: boolean;
  /** runsc only: `--pid`, a pid in the sandbox's root pid namespace. */
  readonly pid?: number;
}

/** `delete`. */
export interface DeleteOptions {
  /** `--force`: kill the container first if it runs; succeeds if it is missing. */
  readonly force?: boolean;
}

/** CRIU flags shared by checkpoint and restore. */
export interface CriuOptions {
  readonly imagePath: string;
  readonly workPath?: string;
  readonly parentPath?: string;
  readonly tcpEstablished?: boolean;
  readonly extUnixSk?: boolean;
  readonly shellJob?: boolean;
  readonly pageServer?: string;
  readonly fileLocks?: boolean;
  readonly manageCgroupsMode?: 'soft' | 'full' | 'strict';
  readonly emptyNamespaces?: readonly string[];
  readonly lazyPages?: boolean;
}

/** `checkpoint`. */
export interface CheckpointOptions extends CriuOptions {
  readonly leaveRunning?: boolean;
  readonly preDump?: boolean;
}

/** `restore`. */
export interface RestoreOptions extends CriuOptions {
  readonly bundle: string;
  readonly detach?: boolean;
  readonly pidFile?: string;
  readonly consoleSocket?: string;
  readonly noPivot?: boolean;
  /** `-no-subreaper` (single dash, as the reference writes it). */
  readonly noSubreaper?: boolean;
  readonly stdio?: RuntimeStdio;
}

/** `events`. */
export interface EventsOptions {
  /** Seconds between stats samples (`--interval=<N>s`; runsc takes a bare integer). */
  readonly intervalSeconds?: number;
}

function flag(args: string[], on: boolean | undefined, name: string): void {
  if (on) args.push(name);
}

function pathFlag(args: string[], value: string | undefined, name: string, what: string): void {
  if (value !== undefined) args.push(name, checkAbsolutePath(value, what));
}

function checkCount(n: number | undefined, what: string): number | undefined {
  if (n === undefined) return undefined;
  if (!Number.isSafeInteger(n) || n < 0) throw new RuntimeArgumentError(`invalid ${what} ${String(n)}`);
  return n;
}

/** Global flags, in the reference's order, then runsc's, then the configured extras. */
export function renderGlobalArgs(config: RuntimeConfig, kind: RuntimeKind): string[] {
  const args: string[] = [];
  pathFlag(args, config.root, '--root', 'runtime root');
  flag(args, config.debug, '--debug');
  pathFlag(args, config.log, '--log', 'runtime log');
  if (config.logFormat) args.push('--log-format', config.logFormat);
  if (config.criu && kind === 'runc') args.push('--criu', checkValue(config.criu, 'criu path'));
  flag(args, config.systemdCgroup, '--systemd-cgroup');
  if (kind === 'runsc' && config.runsc) {
    if (config.runsc.platform) args.push(`--platform=${checkValue(config.runsc.platform, 'runsc platform')}`);
    if (config.runsc.network) args.push(`--network=${checkValue(config.runsc.network, 'runsc network')}`);
    flag(args, config.runsc.ignoreCgroups, '--ignore-cgroups');
  }
  for (const extra of config.extraGlobalArgs ?? []) {
    if (typeof extra !== 'string' || extra.includes('\0')) throw new RuntimeArgumentError('extra global arguments must be strings without NUL');
    args.push(extra);
  }
  return args;
}

/** `create --bundle B [--pid-file P] [--console-socket S] [--no-pivot] [--no-new-keyring] [--detach] [--preserve-fds N] <id>`. */
export function renderCreate(id: string, o: CreateOptions, kind: RuntimeKind, verb: 'create' | 'run' = 'create'): string[] {
  const args = [verb, '--bundle', checkAbsolutePath(o.bundle, 'bundle')];
  pathFlag(args, o.pidFile, '--pid-file', 'pid file');
  pathFlag(args, o.consoleSocket, '--console-socket', 'console socket');
  // runsc fails with "flag provided but not defined" on these two.
  if (kind !== 'runsc') {
    flag(args, o.noPivot, '--no-pivot');
    flag(args, o.noNewKeyring, '--no-new-keyring');
  }
  flag(args, o.detach, '--detach');
  const preserve = checkCount(o.preserveFds, 'preserve-fds count');
  if (preserve) args.push('--preserve-fds', String(preserve));
  args.push(checkId(id));
  return args;
}

/** `exec --process F [--console-socket S] [--detach] [--pid-file P] [--internal-pid-file I] [--preserve-fds N] <id>`. */
export function renderExec(id: string, processFile: string, o: ExecOptions, kind: RuntimeKind): string[] {
  const args = ['exec', '--process', checkAbsolutePath(processFile, 'process file')];
  pathFlag(args, o.consoleSocket, '--console-socket', 'console socket');
  flag(args, o.detach, '--detach');
  pathFlag(args, o.pidFile, '--pid-file', 'pid file');
  if (o.internalPidFile !== undefined) {
    if (kind !== 'runsc') throw new RuntimeArgumentError('--internal-pid-file exists only for runsc');
    pathFlag(args, o.internalPidFile, '--internal-pid-file', 'internal pid file');
  }
  const preserve = checkCount(o.preserveFds, 'preserve-fds count');
  if (preserve) args.push('--preserve-fds', String(preserve));
  args.push(checkId(id));
  return args;
}

/** `kill [--all] [--pid N] <id> <signal>` (the signal as a decimal number). */
export function renderKill(id: string, signal: number, o: KillOptions, kind: RuntimeKind): string[] {
  const args = ['kill'];
  flag(args, o.all, '--all');
  if (o.pid !== undefined) {
    if (kind !== 'runsc') throw new RuntimeArgumentError('kill --pid exists only for runsc');
    args.push('--pid', String(checkPid(o.pid)));
  }
  args.push(checkId(id), String(checkSignal(signal)));
  return args;
}

/** `delete [--force] <id>`. */
export function renderDelete(id: string, o: DeleteOptions): string[] {
  const args = ['delete'];
  flag(args, o.force, '--force');
  args.push(checkId(id));
  return args;
}

function renderCriu(args: string[], o: CriuOptions, kind: RuntimeKind): void {
  pathFlag(args, o.imagePath, '--image-path', 'checkpoint image path');
  pathFlag(args, o.workPath, '--work-path', 'checkpoint work path');
  if (kind === 'runsc') return; // runsc takes nothing else of the CRIU set
  pathFlag(args, o.parentPath, '--parent-path', 'parent checkpoint path');
  flag(args, o.tcpEstablished, '--tcp-established');
  flag(args, o.extUnixSk, '--ext-unix-sk');
  flag(args, o.shellJob, '--shell-job');
  if (o.pageServer !== undefined) args.push('--page-server', checkValue(o.pageServer, 'page server'));
  flag(args, o.fileLocks, '--file-locks');
  if (o.manageCgroupsMode !== undefined) {
    if (!['soft', 'full', 'strict'].includes(o.manageCgroupsMode)) throw new RuntimeArgumentError(`invalid manage-cgroups-mode ${String(o.manageCgroupsMode)}`);
    args.push('--manage-cgroups-mode', o.manageCgroupsMode);
  }
  for (const ns of o.emptyNamespaces ?? []) args.push('--empty-ns', checkValue(ns, 'empty namespace'));
  flag(args, o.lazyPages, '--lazy-pages');
}

/** `checkpoint <criu flags> [--leave-running|--pre-dump] <id>`. */
export function renderCheckpoint(id: string, o: CheckpointOptions, kind: RuntimeKind): string[] {
  const args = ['checkpoint'];
  renderCriu(args, o, kind);
  flag(args, o.leaveRunning, '--leave-running');
  if (kind !== 'runsc') flag(args, o.preDump, '--pre-dump');
  args.push(checkId(id));
  return args;
}

/** `restore <criu flags> [--detach] [--pid-file P] [--console-socket S] [--no-pivot] [-no-subreaper] --bundle B <id>`. */
export function renderRestore(id: string, o: RestoreOptions, kind: RuntimeKind): string[] {
  const args = ['restore'];
  renderCriu(args, o, kind);
  flag(args, o.detach, '--detach');
  pathFlag(args, o.pidFile, '--pid-file', 'pid file');
  pathFlag(args, o.consoleSocket, '--console-socket', 'console socket');
  if (kind !== 'runsc') flag(args, o.noPivot, '--no-pivot');
  flag(args, o.noSubreaper, '-no-subreaper');
  args.push('--bundle', checkAbsolutePath(o.bundle, 'bundle'), checkId(id));
  return args;
}

/** `events --stats <id>` or `events --interval=<N>s <id>`. */
export function renderEvents(id: string, o: EventsOptions | 'stats', kind: RuntimeKind): string[] {
  if (o === 'stats') return ['events', '--stats', checkId(id)];
  const args = ['events'];
  if (o.intervalSeconds !== undefined) {
    const n = o.intervalSeconds;
    if (!Number.isInteger(n) || n <= 0) throw new RuntimeArgumentError(`invalid events interval ${String(n)}`);
    args.push(kind === 'runsc' ? `--interval=${n}` : `--interval=${n}s`);
  }
  args.push(checkId(id));
  return args;
}

/** Verbs that take just `<id>`. */
export function renderSimple(verb: 'start' | 'state' | 'pause' | 'resume', id: string): string[] {
  return [verb, checkId(id)];
}

/** `ps --format json <id>`. */
export function renderPs(id: string): string[] {
  return ['ps', '--format', 'json', checkId(id)];
}

/** `update --resources - <id>` (the resources JSON goes to stdin). */
export function renderUpdate(id: string): string[] {
  return ['update', '--resources', '-', checkId(id)];
}

/** `list --format=json`. */
export function renderList(): string[] {
  return ['list', '--format=json'];
}
