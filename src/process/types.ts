/**
 * Plain data the process layer exchanges with the shim layer. No wire types here: the shim turns
 * these into protobuf messages (and back).
 */
import type { RuntimeConfig } from '../runtime/index.js';
import type { StdioConfig } from '../stdio/index.js';

export type { StdioConfig };

/** How the shim wants the OCI runtime driven for one container. */
export interface RuntimeSettings {
  /** Binary, root (already including the namespace), log file and global flags. */
  readonly config: RuntimeConfig;
  readonly noPivotRoot: boolean;
  readonly noNewKeyring: boolean;
  /** Owner of the container-side ends of the stdio pipes. */
  readonly ioUid: number;
  readonly ioGid: number;
  /** `--work-path` for restore; `<bundle>/work` when empty. */
  readonly criuWorkPath: string;
}

/** A recorded exit. `exitedAt` is when the shim processed it (the reference's convention). */
export interface ExitRecord {
  readonly exitStatus: number;
  /** Undefined means "no exit time" (Go's zero time on the wire). */
  readonly exitedAt: Date | undefined;
}

/** Events the process layer reports, in the order they must reach containerd. */
export type ProcessEvent =
  | { readonly type: 'start'; readonly containerId: string; readonly pid: number }
  | { readonly type: 'exec-started'; readonly containerId: string; readonly execId: string; readonly pid: number }
  | {
      readonly type: 'exit';
      readonly containerId: string;
      /** The container id for the init, the exec id for an exec. */
      readonly id: string;
      readonly pid: number;
      readonly exitStatus: number;
      readonly exitedAt: Date;
    }
  | { readonly type: 'paused'; readonly containerId: string }
  | { readonly type: 'resumed'; readonly containerId: string }
  | { readonly type: 'oom'; readonly containerId: string };

/** Where the process layer sends its events; must enqueue synchronously (ordering depends on it). */
export type EventSink = (event: ProcessEvent) => void;

/** Minimal structured logger the shim provides. */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** What State reports for one process. */
export interface ProcessState {
  readonly id: string;
  readonly bundle: string;
  readonly pid: number;
  readonly status: 'created' | 'running' | 'paused' | 'pausing' | 'stopped';
  readonly stdio: StdioConfig;
  readonly exit: ExitRecord | undefined;
}

/** One row of Pids. */
export interface ProcessListing {
  readonly pid: number;
  /** Set when the pid belongs to a known exec. */
  readonly execId: string | undefined;
}

/** Reply of Delete, for the init or an exec. */
export interface DeleteResult {
  readonly pid: number;
  readonly exitStatus: number;
  readonly exitedAt: Date | undefined;
}
