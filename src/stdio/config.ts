/**
 * What the client asked for (the four stdio values of Create/Exec) and how they select a mode;
 * see docs/stdio.md. Only `stdout` chooses the mode, as in the reference shim.
 */
import { StdioError } from './errors.js';

/** The stdio values of CreateTaskRequest / ExecProcessRequest, echoed unchanged by State. */
export interface StdioConfig {
  /** Client fifo path for stdin, or "" for none. */
  readonly stdin: string;
  /** Client fifo path, `file://` or `binary://` URI, or "". */
  readonly stdout: string;
  /** Client fifo path (or the same URI as stdout), or "". */
  readonly stderr: string;
  /** Whether the process gets a pty instead of pipes. */
  readonly terminal: boolean;
}

/** Who the stdio belongs to and how to set it up. */
export interface StdioOptions {
  /** Task id: CONTAINER_ID of a logging binary. */
  readonly containerId: string;
  /** containerd namespace: CONTAINER_NAMESPACE of a logging binary. */
  readonly namespace: string;
  /** Owner given (fchown) to the container-side pipe ends (runtime option io_uid). */
  readonly ioUid?: number;
  /** Group given to the container-side pipe ends (runtime option io_gid). */
  readonly ioGid?: number;
  /** Working directory of a logging binary (the reference uses the shim's cwd, the bundle). */
  readonly cwd?: string;
  /** How long to wait for the client to open its stdout/stderr fifo (default 30 s, as the reference). */
  readonly openTimeoutMs?: number;
  /** How long a logging binary gets between SIGTERM and SIGKILL at dispose (default 12 s). */
  readonly loggerStopTimeoutMs?: number;
}

/** The mode `stdout` selects. */
export type StdioMode =
  | { readonly kind: 'null' }
  | { readonly kind: 'fifo' }
  | { readonly kind: 'file'; readonly path: string }
  | { readonly kind: 'binary'; readonly path: string; readonly args: readonly string[] };

const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):/;

/** Parses `config` into its mode; unknown schemes fail like the reference (Unknown). */
export function stdioMode(config: StdioConfig): StdioMode {
  if (config.stdin === '' && config.stdout === '' && config.stderr === '') return { kind: 'null' };
  const scheme = SCHEME.exec(config.stdout)?.[1]?.toLowerCase();
  if (scheme === undefined) return { kind: 'fifo' };
  let url: URL;
  try {
    url = new URL(config.stdout);
  } catch (err) {
    throw new StdioError('invalid-argument', `invalid STDIO URI ${config.stdout}`, { cause: err });
  }
  const path = decodeURIComponent(url.pathname);
  switch (scheme) {
    case 'fifo':
      return { kind: 'fifo' };
    case 'file':
      return { kind: 'file', path };
    case 'binary':
      return { kind: 'binary', path, args: binaryArgs(url) };
    default:
      throw new StdioError('unknown', `unknown STDIO scheme ${scheme}`);
  }
}

/**
 * argv of a logging binary: each query key followed by its first value ("" when it has none).
 * The reference iterates a Go map (random order); we keep the order of the URI.
 */
export function binaryArgs(url: URL): string[] {
  const args: string[] = [];
  const seen = new Set<string>();
  for (const [key, value] of url.searchParams) {
    if (seen.has(key)) continue;
    seen.add(key);
    args.push(key, value);
  }
  return args;
}

/** A fifo-mode stdio value: plain path, or the path of a `fifo://` URI. */
export function fifoPath(value: string): string {
  return value.startsWith('fifo:') ? decodeURIComponent(new URL(value).pathname) : value;
}
