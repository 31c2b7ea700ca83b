// The daemon's memory after a forced garbage collection, through its opt-in SIGUSR2 hook
// (src/shim/memory-debug.ts): PSS read from outside includes garbage V8 has not collected yet, which
// says little about leaks; the numbers after a full GC do.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { HEAPSNAPSHOT_DIR_ENV, type MemoryReport } from '../../../src/shim/memory-debug.js';
import { sleep } from '../harness/index.js';

/** A directory the daemon writes its answers into; must be enabled before containerd starts. */
export class DaemonMemoryProbe {
  /** Where answers (and snapshots) go. */
  readonly dir: string;
  private readonly owned: boolean;
  private seq = new Map<number, number>();

  /**
   * Puts the hook's variable into this process's environment, which the harness' containerd and
   * so our daemon inherit. `keepDir`: write into (and keep) this directory, e.g. for snapshots.
   */
  constructor(keepDir?: string) {
    this.owned = keepDir === undefined;
    this.dir = keepDir !== undefined ? path.resolve(keepDir) : mkdtempSync(path.join(os.tmpdir(), 'shim-mem-'));
    process.env[HEAPSNAPSHOT_DIR_ENV] = this.dir;
  }

  /**
   * Asks daemon `pid` for a GC and its numbers (`snapshot`: also a heap snapshot) and waits for the
   * answer. Undefined when the daemon does not answer (started without the variable).
   */
  async measure(pid: number, request: 'gc' | 'snapshot' = 'gc', timeoutMs = 60_000): Promise<MemoryReport | undefined> {
    const seq = (this.seq.get(pid) ?? 0) + 1;
    this.seq.set(pid, seq);
    writeFileSync(path.join(this.dir, 'request'), request);
    process.kill(pid, 'SIGUSR2');
    const file = path.join(this.dir, `memory-${pid}-${seq}.json`);
    const deadline = Date.now() + timeoutMs;
    while (!existsSync(file)) {
      if (Date.now() > deadline) return undefined;
      await sleep(50);
    }
    return JSON.parse(readFileSync(file, 'utf8')) as MemoryReport;
  }

  /** Removes the variable and, unless the caller chose the directory, the directory. */
  dispose(): void {
    delete process.env[HEAPSNAPSHOT_DIR_ENV];
    if (this.owned) rmSync(this.dir, { recursive: true, force: true });
  }
}
