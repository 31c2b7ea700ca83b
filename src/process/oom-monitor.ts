/**
 * OOM notification for one container (task-api.md §11), armed right after Create (or restore).
 *
 * cgroup v1 (legacy and hybrid hosts): a non-blocking eventfd registered for the memory cgroup's
 * `memory.oom_control` through `cgroup.event_control`. cgroup v2: the `oom_kill` counter of
 * `memory.events`, watched with fs.watch (inotify). Either way nothing blocks a thread: the
 * notification is read with a non-blocking read, driven by (a) the daemon's shared
 * once-a-second ticker or the inotify event, and (b) a synchronous {@link OomMonitor.check}
 * that every exit path calls just before it queues TaskExit. The kernel signals the eventfd (or bumps `oom_kill`) before
 * the victim dies, so (b) guarantees TaskOOM is queued before the exit it caused. Why this and
 * not a blocking read or a helper thread: docs/architecture.md, "OOM watching".
 */
import { closeSync, existsSync, openSync, readFileSync, watch, writeFileSync, type FSWatcher } from 'node:fs';
import path from 'node:path';
import { eventfd, EventfdFlags, readEventfd } from '../sys/index.js';
import { everySecond } from '../runtime/index.js';
import type { EventSink, Logger } from './types.js';

const CGROUP_ROOT = '/sys/fs/cgroup';

/** True when /sys/fs/cgroup itself is the cgroup2 hierarchy (a unified host). */
function unifiedHost(): boolean {
  return existsSync(path.join(CGROUP_ROOT, 'cgroup.controllers'));
}

/** The cgroup path of `controller` (or of the v2 hierarchy for `''`) in /proc/<pid>/cgroup text. */
export function cgroupPathOf(procCgroup: string, controller: string): string | undefined {
  for (const line of procCgroup.split('\n')) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    const controllers = m[1]!.split(',');
    if (controller === '' ? m[1] === '' : controllers.includes(controller)) return m[2]!;
  }
  return undefined;
}

/** The `oom_kill` counter in `memory.events` text (0 when absent). */
export function oomKillCount(memoryEvents: string): number {
  const m = /^oom_kill (\d+)$/m.exec(memoryEvents);
  return m ? Number(m[1]) : 0;
}

interface Source {
  /** True when an OOM happened since the last call; consumes it. */
  take(): boolean;
  /** True when the cgroup is gone (no more events can come). */
  gone(): boolean;
  close(): void;
}

/** v1: the eventfd's counter is the number of OOM notifications (or a removal) since the last read. */
function v1Source(memoryDir: string): Source {
  const efd = eventfd(0, EventfdFlags.EFD_CLOEXEC | EventfdFlags.EFD_NONBLOCK);
  try {
    const control = openSync(path.join(memoryDir, 'memory.oom_control'), 'r');
    try {
      writeFileSync(path.join(memoryDir, 'cgroup.event_control'), `${efd} ${control} `);
    } finally {
      closeSync(control);
    }
  } catch (err) {
    closeSync(efd);
    throw err;
  }
  let fd: number | undefined = efd;
  return {
    take(): boolean {
      if (fd === undefined) return false;
      return readEventfd(fd) > 0n;
    },
    // Removing the cgroup also signals the eventfd; a notification then is not an OOM.
    gone: () => !existsSync(path.join(memoryDir, 'memory.oom_control')),
    close(): void {
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
    },
  };
}

/** v2: `oom_kill` in memory.events only grows; an increase since the last look is an OOM kill. */
function v2Source(dir: string, onChange: () => void): Source {
  const file = path.join(dir, 'memory.events');
  const read = (): number | undefined => {
    try {
      return oomKillCount(readFileSync(file, 'utf8'));
    } catch {
      return undefined;
    }
  };
  let seen = read() ?? 0;
  let watcher: FSWatcher | undefined = watch(file, { persistent: false }, onChange);
  watcher.on('error', () => undefined);
  return {
    take(): boolean {
      const now = read();
      if (now === undefined || now <= seen) return false;
      seen = now;
      return true;
    },
    gone: () => read() === undefined,
    close(): void {
      watcher?.close();
      watcher = undefined;
    },
  };
}

/** Armed monitors the shared timer polls. */
const armed = new Set<OomMonitor>();
let stopPolling: (() => void) | undefined;

/**
 * Armed v1 watches are polled once a second on the daemon's shared ticker, when no exit prompts a
 * check: this is only for OOM kills that end no process we track (a child inside the container),
 * since every exit path checks first. Such a TaskOOM comes within a second; the poll shares its
 * wake-up with the exit monitor's (a wake-up of the daemon costs more than the reads,
 * docs/benchmarks.md round 11). It does not keep the process alive.
 */
function schedule(): void {
  if (armed.size === 0) {
    stopPolling?.();
    stopPolling = undefined;
  } else {
    stopPolling ??= everySecond(() => {
      for (const m of armed) m.check();
    }, { keepAlive: false });
  }
}

/** OOM watching for one container; publishes `oom` events into the container's ordered sink. */
export class OomMonitor {
  private source: Source | undefined;

  constructor(private readonly containerId: string, private readonly emit: EventSink, private readonly log: Logger) {}

  /**
   * Starts watching the memory cgroup `pid` lives in. A host without a memory controller, or a
   * runtime whose processes are not in a host cgroup we can see, leaves the monitor unarmed
   * (logged, not an error: the task works, it just gets no TaskOOM).
   */
  watch(pid: number): void {
    if (this.source || pid <= 0) return;
    try {
      const procCgroup = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
      if (unifiedHost()) {
        const rel = cgroupPathOf(procCgroup, '');
        if (rel === undefined) throw new Error('no cgroup2 entry in /proc/<pid>/cgroup');
        this.source = v2Source(path.join(CGROUP_ROOT, rel), () => this.check());
      } else {
        const rel = cgroupPathOf(procCgroup, 'memory');
        if (rel === undefined) throw new Error('no memory controller in /proc/<pid>/cgroup');
        this.source = v1Source(path.join(CGROUP_ROOT, 'memory', rel));
        armed.add(this);
        schedule();
      }
    } catch (err) {
      this.log.warn('OOM events unavailable for this container', { error: err instanceof Error ? err.message : String(err) });
    }
  }

  /**
   * Queues TaskOOM if an OOM happened since the last check. Exit paths call this right before
   * queueing TaskExit, which is what orders TaskOOM before the exit.
   */
  check(): void {
    const source = this.source;
    if (!source) return;
    let happened = false;
    try {
      happened = source.take();
    } catch (err) {
      this.log.warn('reading OOM notification failed', { error: String(err) });
      this.close();
      return;
    }
    if (!happened) return;
    if (source.gone()) {
      this.close();
      return;
    }
    this.emit({ type: 'oom', containerId: this.containerId });
  }

  /** Stops watching (Delete). Idempotent. */
  close(): void {
    this.source?.close();
    this.source = undefined;
    armed.delete(this);
    schedule();
  }
}
