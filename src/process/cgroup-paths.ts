/**
 * The cgroups a container lives in, as `/proc/<pid>/cgroup` names them. Recorded once right after
 * `runtime create` (or restore) so Stats keeps answering after the init exited: the cgroup
 * directories stay until `runtime delete`, but `/proc/<pid>` of a reaped init is gone.
 */
import { readFileSync } from 'node:fs';

/**
 * Controller → path relative to its hierarchy. v1 hierarchies that mount several controllers
 * (`cpu,cpuacct`) give each its own key; named hierarchies lose their `name=` prefix; the v2
 * entry has the key `''`.
 */
export type CgroupPaths = ReadonlyMap<string, string>;

/** Parses the text of `/proc/<pid>/cgroup`. */
export function parseProcCgroup(text: string): CgroupPaths {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    if (m[1] === '') out.set('', m[2]!);
    for (const c of m[1]!.split(',')) if (c) out.set(c.replace(/^name=/, ''), m[2]!);
  }
  return out;
}

/** The cgroups of a live process, or undefined when `/proc/<pid>` cannot be read (it is gone). */
export function readCgroupPaths(pid: number): CgroupPaths | undefined {
  if (pid <= 0) return undefined;
  try {
    return parseProcCgroup(readFileSync(`/proc/${pid}/cgroup`, 'utf8'));
  } catch {
    return undefined;
  }
}
