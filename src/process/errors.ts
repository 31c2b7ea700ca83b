/**
 * Domain errors of the process layer. They carry a stable `kind` string and never a wire code:
 * exactly one function in shim/ maps kinds to ttrpc status codes (see shim/status-mapping.ts).
 */
export type ErrorKind =
  | 'invalid-argument'
  | 'not-found'
  | 'already-exists'
  | 'failed-precondition'
  | 'unavailable'
  | 'not-implemented'
  | 'deadline-exceeded'
  | 'canceled'
  | 'unknown';

/** An error whose class the task API reports to containerd. */
export class ProcessError extends Error {
  override readonly name = 'ProcessError';
  constructor(
    readonly kind: ErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** `container not created` — the id is unknown to this shim. */
export function containerNotFound(): ProcessError {
  return new ProcessError('not-found', 'container not created');
}

/** `process does not exist <execId>` — the exec id is unknown in that container. */
export function execNotFound(execId: string): ProcessError {
  return new ProcessError('not-found', `process does not exist ${execId}`);
}

/**
 * A verb refused by a process's state. The reference answers these with Unknown; we answer
 * FailedPrecondition (a deliberate improvement the task API issue asks for) with the same text.
 */
export function stateRefusal(message: string): ProcessError {
  return new ProcessError('failed-precondition', message);
}

export function invalidArgument(message: string, cause?: unknown): ProcessError {
  return new ProcessError('invalid-argument', message, { cause });
}

/** Wraps anything thrown by a lower layer into an Unknown-class error with the given text. */
export function unknownError(message: string, cause?: unknown): ProcessError {
  return new ProcessError('unknown', message, { cause });
}
