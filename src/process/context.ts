/**
 * What every process of one container shares: its identity, the runtime client, the reaper and
 * the event sink.
 */
import { readFileSync } from 'node:fs';
import type { OciRuntime, ProcessMonitor, RuntimeKind } from '../runtime/index.js';
import { unknownError } from './errors.js';
import type { OomMonitor } from './oom-monitor.js';
import type { EventSink, Logger, RuntimeSettings } from './types.js';

export interface ContainerContext {
  readonly id: string;
  readonly bundle: string;
  readonly namespace: string;
  readonly runtime: OciRuntime;
  readonly runtimeKind: RuntimeKind;
  readonly monitor: ProcessMonitor;
  readonly settings: RuntimeSettings;
  readonly emit: EventSink;
  readonly log: Logger;
  /** OOM watching; every exit path calls `oom.check()` right before it queues TaskExit. */
  readonly oom: OomMonitor;
}

/** Reads a pid file written by the runtime (decimal, with or without a trailing newline). */
export function readPidFile(file: string): number {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw unknownError(`failed to retrieve OCI runtime container pid: ${(err as Error).message}`, err);
  }
  const pid = Number.parseInt(text.trim(), 10);
  if (!Number.isSafeInteger(pid) || pid <= 0) {
    throw unknownError(`failed to retrieve OCI runtime container pid: invalid pid ${JSON.stringify(text.trim())} in ${file}`);
  }
  return pid;
}
