/**
 * Stats: the container's cgroup counters in containerd's metrics types (task-api.md §12). The shim
 * reads cgroup files itself, as the reference does, instead of asking the runtime.
 * Hybrid and legacy hosts use the v1 hierarchies; a unified host uses v2.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import type { Any } from '@bufbuild/protobuf/wkt';
import { MetricsSchema as V1MetricsSchema, MemoryStatSchema as V1MemoryStatSchema, MemoryEntrySchema } from '../api/containerd/cgroups/v1/metrics_pb.js';
import { MetricsSchema as V2MetricsSchema } from '../api/containerd/cgroups/v2/metrics_pb.js';
import { ProcessError, type CgroupPaths } from '../process/index.js';
import { packEvent } from './events.js';

const CGROUP_ROOT = '/sys/fs/cgroup';

/** Which cgroup layout the host has. */
export function cgroupMode(root = CGROUP_ROOT): 'unified' | 'hybrid' | 'legacy' {
  try {
    readFileSync(path.join(root, 'cgroup.controllers'));
    return 'unified';
  } catch {
    // not a cgroup2 root
  }
  try {
    readFileSync(path.join(root, 'unified', 'cgroup.controllers'));
    return 'hybrid';
  } catch {
    return 'legacy';
  }
}

function readOr(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

function num(text: string | undefined, maxValue: bigint): bigint {
  if (text === undefined) return 0n;
  const t = text.trim();
  if (t === 'max') return maxValue;
  try {
    return BigInt(t);
  } catch {
    return 0n;
  }
}

function keyed(text: string | undefined): Map<string, bigint> {
  const out = new Map<string, bigint>();
  for (const line of (text ?? '').split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined) {
      try {
        out.set(k, BigInt(v));
      } catch {
        // non-numeric
      }
    }
  }
  return out;
}

const V1_MEMORY_KEYS = ['cache', 'rss', 'rss_huge', 'mapped_file', 'dirty', 'writeback', 'pgpgin', 'pgpgout', 'pgfault', 'pgmajfault', 'inactive_anon', 'active_anon', 'inactive_file', 'active_file', 'unevictable', 'hierarchical_memory_limit', 'hierarchical_memsw_limit'] as const;
const V1_MEMORY_FIELDS = ['cache', 'rss', 'rssHuge', 'mappedFile', 'dirty', 'writeback', 'pgPgIn', 'pgPgOut', 'pgFault', 'pgMajFault', 'inactiveAnon', 'activeAnon', 'inactiveFile', 'activeFile', 'unevictable', 'hierarchicalMemoryLimit', 'hierarchicalSwapLimit'] as const;

function v1Metrics(paths: CgroupPaths): Any {
  const dir = (controller: string): string | undefined => {
    const p = paths.get(controller);
    return p === undefined ? undefined : path.join(CGROUP_ROOT, controller, p);
  };
  const init: MessageInitShape<typeof V1MetricsSchema> = {};
  const pids = dir('pids');
  if (pids) init.pids = { current: num(readOr(path.join(pids, 'pids.current')), 0n), limit: num(readOr(path.join(pids, 'pids.max')), 0n) };
  const cpuacct = dir('cpuacct');
  const cpu = dir('cpu');
  if (cpuacct || cpu) {
    const stat = keyed(cpuacct ? readOr(path.join(cpuacct, 'cpuacct.stat')) : undefined);
    const throttle = keyed(cpu ? readOr(path.join(cpu, 'cpu.stat')) : undefined);
    const perCpu = (cpuacct ? readOr(path.join(cpuacct, 'cpuacct.usage_percpu')) : undefined)?.trim().split(/\s+/).filter(Boolean).map((v) => BigInt(v)) ?? [];
    // cpuacct.stat is in USER_HZ ticks; containerd reports nanoseconds.
    const tick = 10_000_000n;
    init.cpu = {
      usage: {
        total: num(cpuacct ? readOr(path.join(cpuacct, 'cpuacct.usage')) : undefined, 0n),
        kernel: (stat.get('system') ?? 0n) * tick,
        user: (stat.get('user') ?? 0n) * tick,
        perCpu,
      },
      throttling: { periods: throttle.get('nr_periods') ?? 0n, throttledPeriods: throttle.get('nr_throttled') ?? 0n, throttledTime: throttle.get('throttled_time') ?? 0n },
    };
  }
  const memory = dir('memory');
  if (memory) {
    const stat = keyed(readOr(path.join(memory, 'memory.stat')));
    const m = create(V1MemoryStatSchema);
    const record = m as unknown as Record<string, bigint>;
    V1_MEMORY_KEYS.forEach((key, i) => {
      record[V1_MEMORY_FIELDS[i]!] = stat.get(key) ?? 0n;
      const totalField = 'total' + V1_MEMORY_FIELDS[i]![0]!.toUpperCase() + V1_MEMORY_FIELDS[i]!.slice(1);
      if (totalField in record) record[totalField] = stat.get('total_' + key) ?? 0n;
    });
    const entry = (prefix: string) => ({
      limit: num(readOr(path.join(memory, `${prefix}.limit_in_bytes`)), 0n),
      usage: num(readOr(path.join(memory, `${prefix}.usage_in_bytes`)), 0n),
      max: num(readOr(path.join(memory, `${prefix}.max_usage_in_bytes`)), 0n),
      failcnt: num(readOr(path.join(memory, `${prefix}.failcnt`)), 0n),
    });
    m.usage = create(MemoryEntrySchema, entry('memory'));
    m.swap = create(MemoryEntrySchema, entry('memory.memsw'));
    m.kernel = create(MemoryEntrySchema, entry('memory.kmem'));
    m.kernelTcp = create(MemoryEntrySchema, entry('memory.kmem.tcp'));
    init.memory = m;
    const oom = keyed(readOr(path.join(memory, 'memory.oom_control')));
    init.memoryOomControl = { oomKillDisable: oom.get('oom_kill_disable') ?? 0n, underOom: oom.get('under_oom') ?? 0n, oomKill: oom.get('oom_kill') ?? 0n };
  }
  if (dir('blkio')) init.blkio = {};
  return packEvent(V1MetricsSchema, init);
}

function v2Metrics(cgroupPath: string): Any {
  const dir = path.join(CGROUP_ROOT, cgroupPath);
  const max = 18446744073709551615n;
  const cpu = keyed(readOr(path.join(dir, 'cpu.stat')));
  const mem = keyed(readOr(path.join(dir, 'memory.stat')));
  const events = readOr(path.join(dir, 'memory.events'));
  const ev = keyed(events);
  return packEvent(V2MetricsSchema, {
    pids: { current: num(readOr(path.join(dir, 'pids.current')), max), limit: num(readOr(path.join(dir, 'pids.max')), max) },
    cpu: {
      usageUsec: cpu.get('usage_usec') ?? 0n,
      userUsec: cpu.get('user_usec') ?? 0n,
      systemUsec: cpu.get('system_usec') ?? 0n,
      nrPeriods: cpu.get('nr_periods') ?? 0n,
      nrThrottled: cpu.get('nr_throttled') ?? 0n,
      throttledUsec: cpu.get('throttled_usec') ?? 0n,
    },
    memory: {
      anon: mem.get('anon') ?? 0n,
      file: mem.get('file') ?? 0n,
      usage: num(readOr(path.join(dir, 'memory.current')), max),
      usageLimit: num(readOr(path.join(dir, 'memory.max')), max),
      swapUsage: num(readOr(path.join(dir, 'memory.swap.current')), max),
      swapLimit: num(readOr(path.join(dir, 'memory.swap.max')), max),
    },
    ...(events !== undefined ? { memoryEvents: { low: ev.get('low') ?? 0n, high: ev.get('high') ?? 0n, max: ev.get('max') ?? 0n, oom: ev.get('oom') ?? 0n, oomKill: ev.get('oom_kill') ?? 0n } } : {}),
  });
}

/**
 * Reads the metrics of a container's cgroups (as recorded at create, so a stopped task that is not
 * deleted yet still answers, as the reference's does). `undefined`: no cgroups known.
 */
export async function readContainerStats(paths: CgroupPaths | undefined): Promise<Any> {
  if (paths === undefined) throw new ProcessError('not-found', 'cgroup does not exist');
  if (cgroupMode() === 'unified') return v2Metrics(paths.get('') ?? '/');
  return v1Metrics(paths);
}
