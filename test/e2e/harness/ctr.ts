// `ctr` bound to one private containerd and namespace.
import { runCommand, type CommandOptions, type CommandResult } from './command.js';

/** A finished ctr invocation with its output decoded. */
export interface CtrResult extends CommandResult {
  /** stdout as UTF-8. */
  readonly out: string;
  /** stderr as UTF-8. */
  readonly err: string;
}

/** Options for one ctr call. */
export interface CtrOptions extends Omit<CommandOptions, 'env'> {
  /** Namespace for this call instead of the client's. */
  readonly namespace?: string;
}

/** Runs `ctr --address <socket> -n <namespace> …`. */
export class Ctr {
  /**
   * @param address containerd's gRPC socket path
   * @param namespace default namespace for calls
   * @param binary the ctr executable
   * @param fifoDir where `run`, `task start` and `task exec` make their stdio fifos (ctr's default
   *   is the host-wide /run/containerd/fifo, where a ctr that is killed, or whose detached task
   *   vanishes, leaves them for good); a private containerd passes one inside its temp dir
   */
  constructor(readonly address: string, readonly namespace: string, readonly binary = 'ctr', readonly fifoDir?: string) {}

  /** The whole argv of `ctr <args>`: global flags, and `--fifo-dir` where the verb makes fifos. */
  argv(args: readonly string[], namespace = this.namespace): string[] {
    const verbLength = args[0] === 'run' || args[0] === 'r' ? 1 : args[0] === 'task' || args[0] === 't' ? (['exec', 'start'].includes(args[1] ?? '') ? 2 : 0) : 0;
    // `task exec` refuses --fifo-dir next to --log-uri (run and start let the log URI win).
    const logUri = args.some((a) => /^--?log-uri(=|$)/.test(a));
    const fifoDirFits = verbLength === 1 || (verbLength === 2 && !(args[1] === 'exec' && logUri));
    const withFifoDir = this.fifoDir && fifoDirFits ? [...args.slice(0, verbLength), '--fifo-dir', this.fifoDir, ...args.slice(verbLength)] : args;
    return [this.binary, '--address', this.address, '-n', namespace, ...withFifoDir];
  }

  /** Runs ctr with `args` after the global flags; never throws for a non-zero exit. */
  async run(args: readonly string[], options: CtrOptions = {}): Promise<CtrResult> {
    const argv = this.argv(args, options.namespace ?? this.namespace);
    const r = await runCommand(argv, { timeoutMs: 60_000, ...options });
    return { ...r, out: r.stdout.toString('utf8'), err: r.stderr.toString('utf8') };
  }

  /** Runs ctr and throws (with its output) unless it exits 0. */
  async ok(args: readonly string[], options: CtrOptions = {}): Promise<CtrResult> {
    const r = await this.run(args, options);
    if (r.code !== 0 || r.timedOut) {
      throw new Error(`ctr ${args.join(' ')} failed (${r.timedOut ? 'timeout' : `exit ${String(r.code)}`}): ${r.err.trim()}`);
    }
    return r;
  }

  /** Same client for another namespace. */
  withNamespace(namespace: string): Ctr {
    return new Ctr(this.address, namespace, this.binary, this.fifoDir);
  }

  /** The tasks of the namespace as `ctr task ls` reports them. */
  async tasks(): Promise<TaskRow[]> {
    return parseTaskList((await this.ok(['task', 'ls'])).out);
  }

  /** The status of one task (`RUNNING`, `STOPPED`, `PAUSED`, `CREATED`…), or undefined if absent. */
  async taskStatus(id: string): Promise<string | undefined> {
    return (await this.tasks()).find((t) => t.id === id)?.status;
  }
}

/** One row of `ctr task ls`. */
export interface TaskRow {
  readonly id: string;
  readonly pid: number;
  readonly status: string;
}

/** Parses `ctr task ls` output (header `TASK PID STATUS`, whitespace-separated columns). */
export function parseTaskList(text: string): TaskRow[] {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  return lines.slice(1).map((l) => {
    const [id = '', pid = '0', status = ''] = l.trim().split(/\s+/);
    return { id, pid: Number(pid), status };
  });
}
