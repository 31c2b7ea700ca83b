/**
 * Checks on values that end up in a runtime's argv. Nothing runs through a shell, but a value that
 * starts with `-` would still be read as a flag, and a relative path would be resolved against
 * whatever the runtime's cwd is (runsc even stores it), so both are refused up front.
 */
import path from 'node:path';
import { RuntimeArgumentError } from './errors.js';

const ID = /^[A-Za-z0-9][A-Za-z0-9_.+-]*$/;

/** A container id: letters, digits and `_ . + -`, not starting with a punctuation mark, ≤ 1024 chars. */
export function checkId(id: string, what = 'container id'): string {
  if (typeof id !== 'string' || id.length === 0) throw new RuntimeArgumentError(`${what} must not be empty`);
  if (id.length > 1024) throw new RuntimeArgumentError(`${what} is longer than 1024 characters`);
  if (!ID.test(id)) throw new RuntimeArgumentError(`invalid ${what} ${JSON.stringify(id)}: only letters, digits and "_.+-" are allowed, starting with a letter or digit`);
  return id;
}

/** An absolute path without NUL bytes; returned normalised. */
export function checkAbsolutePath(value: string, what: string): string {
  if (typeof value !== 'string' || value.length === 0) throw new RuntimeArgumentError(`${what} must not be empty`);
  if (value.includes('\0')) throw new RuntimeArgumentError(`${what} contains a NUL byte`);
  if (!path.isAbsolute(value)) throw new RuntimeArgumentError(`${what} must be an absolute path, got ${JSON.stringify(value)}`);
  return path.normalize(value);
}

/** A signal number 0–64 (runsc rejects 0, the others use it as "probe"). */
export function checkSignal(signal: number): number {
  if (!Number.isInteger(signal) || signal < 0 || signal > 64) throw new RuntimeArgumentError(`invalid signal ${String(signal)}`);
  return signal;
}

/** A positive pid. */
export function checkPid(pid: number, what = 'pid'): number {
  if (!Number.isSafeInteger(pid) || pid <= 0) throw new RuntimeArgumentError(`invalid ${what} ${String(pid)}`);
  return pid;
}

/** A free-form flag value (namespace name, address…): non-empty, no NUL, not flag-like. */
export function checkValue(value: string, what: string): string {
  if (typeof value !== 'string' || value.length === 0) throw new RuntimeArgumentError(`${what} must not be empty`);
  if (value.includes('\0')) throw new RuntimeArgumentError(`${what} contains a NUL byte`);
  if (value.startsWith('-')) throw new RuntimeArgumentError(`${what} must not start with "-": ${JSON.stringify(value)}`);
  return value;
}

/** The runtime executable: a bare name (looked up in PATH) or a path; no NUL, not flag-like. */
export function checkBinary(binary: string): string {
  return checkValue(binary, 'runtime binary');
}
