/**
 * Checks of request fields that become paths or stdio targets, made before anything touches the
 * file system, so hostile input is refused as InvalidArgument instead of failing later (Unknown)
 * after files were written.
 */
import path from 'node:path';

/** Schemes a stdio URI may carry (a plain path or an empty string means a fifo / nothing). */
const STDIO_SCHEMES: ReadonlySet<string> = new Set(['fifo', 'file', 'binary']);
const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):/;

/** Why a stdio field is unusable, or undefined when it is a plain path, empty, or a known scheme. */
export function stdioUriProblem(field: string, value: string): string | undefined {
  if (value.includes('\u0000')) return `${field} ${JSON.stringify(value)} contains NUL`;
  const scheme = SCHEME.exec(value)?.[1]?.toLowerCase();
  if (scheme === undefined) return undefined;
  if (!STDIO_SCHEMES.has(scheme)) return `${field}: unknown STDIO scheme ${scheme}`;
  try {
    new URL(value);
  } catch {
    return `${field}: invalid STDIO URI ${value}`;
  }
  return undefined;
}

/** The first problem among a request's stdio fields, or undefined. */
export function stdioProblem(io: { readonly stdin: string; readonly stdout: string; readonly stderr: string }): string | undefined {
  return stdioUriProblem('stdin', io.stdin) ?? stdioUriProblem('stdout', io.stdout) ?? stdioUriProblem('stderr', io.stderr);
}

/**
 * Why `bundle` is not a bundle containerd would hand this daemon: every bundle of a namespace
 * lives in one directory (`<state>/io.containerd.runtime.v2.task/<namespace>`), the one the daemon
 * was started in. Undefined when it is there, or when that directory is unknown (started by hand).
 */
export function bundleParentProblem(bundle: string, bundleParent: string | undefined): string | undefined {
  if (bundleParent === undefined) return undefined;
  if (path.dirname(bundle) === bundleParent) return undefined;
  return `bundle path ${JSON.stringify(bundle)} is outside the task state directory ${JSON.stringify(bundleParent)}`;
}
