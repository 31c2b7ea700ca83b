/**
 * An opt-in memory diagnosis hook for the long-lived daemon. containerd starts the daemon (not us),
 * so `--inspect` or `--expose-gc` on its command line are awkward; instead, when
 * `CONTAINERD_SHIM_TS_HEAPSNAPSHOT_DIR` is set in the daemon's environment (containerd passes its
 * own on), SIGUSR2 makes the daemon collect garbage, write `process.memoryUsage()` and its PSS into
 * that directory and, unless asked for `gc` only, a V8 heap snapshot next to it. Without the
 * variable nothing is installed and SIGUSR2 keeps its default meaning. (SIGUSR1 is left alone: Node
 * starts its inspector on it, and the reference shim dumps stacks on it.)
 *
 * Protocol, so that a test can wait for the answer: the request is the optional file
 * `<dir>/request` (`gc` or `snapshot`; absent means `snapshot`); the answer is
 * `<dir>/memory-<pid>-<seq>.json` ({@link MemoryReport}), written atomically after the snapshot.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';

/** The environment variable that enables the hook and names where it writes. */
export const HEAPSNAPSHOT_DIR_ENV = 'CONTAINERD_SHIM_TS_HEAPSNAPSHOT_DIR';

/** What one SIGUSR2 wrote. */
export interface MemoryReport {
  readonly pid: number;
  /** 1 for the first signal, then 2, … (the file name carries it too). */
  readonly seq: number;
  readonly request: 'gc' | 'snapshot';
  /** Whether a full garbage collection ran before the numbers were taken. */
  readonly gc: boolean;
  /** `process.memoryUsage()` after the collection, in bytes. */
  readonly memoryUsage: NodeJS.MemoryUsage;
  /** Rss and Pss of /proc/self/smaps_rollup after the collection, in KiB (0 when unreadable). */
  readonly rssKiB: number;
  readonly pssKiB: number;
  /** Used and committed (`size`) bytes of each V8 heap space (new, old, code, large objects…) after the collection. */
  readonly heapSpaces: Readonly<Record<string, { readonly used: number; readonly size: number }>>;
  /** Pss in KiB by kind of mapping (`[heap]` is malloc's brk heap, `[anon]` other anonymous memory, else the file's name). */
  readonly mappingsPssKiB: Readonly<Record<string, number>>;
  /** The heap snapshot's path, for a `snapshot` request. */
  readonly snapshot?: string;
  /** Milliseconds the collections, the wait for V8 to release pages and the snapshot took. */
  readonly tookMs: number;
}

/** How long after the collections the numbers are taken (V8 releases freed pages asynchronously). */
const UNMAP_WAIT_MS = 1000;

/**
 * A function that runs a full, synchronous garbage collection. `--expose-gc` gives `globalThis.gc`;
 * without it the flag can still be set at run time, and a fresh context then has `gc` (V8 installs
 * the extension into contexts created after the flag). Only ever called when the hook is enabled.
 */
function collector(): (() => void) | undefined {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (typeof exposed === 'function') return exposed;
  try {
    v8.setFlagsFromString('--expose-gc');
    const fromContext: unknown = vm.runInNewContext('gc');
    if (typeof fromContext === 'function') return fromContext as () => void;
  } catch {
    // not available in this build of node
  }
  return undefined;
}

function smapsKiB(): { rss: number; pss: number } {
  try {
    const text = readFileSync('/proc/self/smaps_rollup', 'utf8');
    const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0);
    return { rss: field('Rss'), pss: field('Pss') };
  } catch {
    return { rss: 0, pss: 0 };
  }
}

/** Pss by mapping kind from /proc/self/smaps: where memory outside the JS heap goes. */
function mappingsPss(): Record<string, number> {
  const out: Record<string, number> = {};
  let kind = '';
  try {
    for (const line of readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
      const header = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \d+\s*(.*)$/.exec(line);
      if (header) {
        const name = header[1]!;
        kind = name === '' ? '[anon]' : name.startsWith('[') ? name : path.basename(name);
        continue;
      }
      const pss = /^Pss:\s+(\d+) kB/.exec(line);
      if (pss) out[kind] = (out[kind] ?? 0) + Number(pss[1]);
    }
  } catch {
    // no smaps
  }
  return out;
}

/**
 * Installs the SIGUSR2 handler when `env[HEAPSNAPSHOT_DIR_ENV]` is set; returns the directory, or
 * undefined (nothing installed). Failures are reported to `onError` and never reach the daemon.
 */
export function installMemoryDebugHook(env: NodeJS.ProcessEnv, onError: (err: unknown) => void): string | undefined {
  const dir = env[HEAPSNAPSHOT_DIR_ENV];
  if (!dir || !path.isAbsolute(dir)) return undefined;
  let seq = 0;
  let gc: (() => void) | undefined | null = null;
  let queue = Promise.resolve();
  const answer = async (): Promise<void> => {
    seq++;
    let request: 'gc' | 'snapshot' = 'snapshot';
    try {
      if (readFileSync(path.join(dir, 'request'), 'utf8').trim() === 'gc') request = 'gc';
    } catch {
      // no request file: the default
    }
    const started = Date.now();
    if (gc === null) gc = collector();
    // Twice: the first collection's finalizers and weak callbacks free more in the second.
    gc?.();
    gc?.();
    // V8 unmaps the pages a collection freed on a background thread, a moment later.
    await new Promise((resolve) => setTimeout(resolve, UNMAP_WAIT_MS));
    const mem = smapsKiB();
    const numbers = {
      memoryUsage: process.memoryUsage(),
      heapSpaces: Object.fromEntries(v8.getHeapSpaceStatistics().map((h) => [h.space_name, { used: h.space_used_size, size: h.space_size }])),
      mappingsPssKiB: mappingsPss(),
      rssKiB: mem.rss, pssKiB: mem.pss,
    };
    // After the numbers: writing a snapshot allocates tens of MiB (malloc keeps much of it).
    const snapshot = request === 'snapshot' ? v8.writeHeapSnapshot(path.join(dir, `daemon-${process.pid}-${seq}.heapsnapshot`)) : undefined;
    const report: MemoryReport = {
      pid: process.pid, seq, request, gc: gc !== undefined, ...numbers,
      ...(snapshot !== undefined ? { snapshot } : {}), tookMs: Date.now() - started,
    };
    const file = path.join(dir, `memory-${process.pid}-${seq}.json`);
    writeFileSync(`${file}.tmp`, JSON.stringify(report), { mode: 0o600 });
    renameSync(`${file}.tmp`, file);
  };
  process.on('SIGUSR2', () => {
    // One answer at a time, in signal order.
    queue = queue.then(answer).catch(onError);
  });
  return dir;
}
