/**
 * The one place where errors become ttrpc status codes (ARCHITECTURE: errdefs → gRPC mapping).
 * containerd strips a trailing ": <class text>" and re-appends its own, so we append the class text
 * that matches the code; the user sees e.g. `container not created: not found`.
 */
import { Code, TtrpcError } from '../ttrpc/index.js';
import { TypeUrlMismatchError, UnknownTypeUrlError } from '../api/typeurl.js';
import { ProcessError, type ErrorKind } from '../process/index.js';

const KIND_TO_CODE: Readonly<Record<ErrorKind, Code>> = {
  'invalid-argument': Code.InvalidArgument,
  'not-found': Code.NotFound,
  'already-exists': Code.AlreadyExists,
  'failed-precondition': Code.FailedPrecondition,
  unavailable: Code.Unavailable,
  'not-implemented': Code.Unimplemented,
  'deadline-exceeded': Code.DeadlineExceeded,
  canceled: Code.Canceled,
  unknown: Code.Unknown,
};

/** containerd's class texts, appended to messages of these codes. */
const CLASS_TEXT: ReadonlyMap<Code, string> = new Map([
  [Code.InvalidArgument, 'invalid argument'],
  [Code.NotFound, 'not found'],
  [Code.AlreadyExists, 'already exists'],
  [Code.FailedPrecondition, 'failed precondition'],
  [Code.Unavailable, 'unavailable'],
  [Code.Unimplemented, 'not implemented'],
]);

function withClassText(code: Code, message: string): string {
  const text = CLASS_TEXT.get(code);
  if (!text || message.endsWith(`: ${text}`)) return message;
  return `${message}: ${text}`;
}

/** Maps anything a handler threw to the TtrpcError sent to containerd. */
export function toTtrpcError(err: unknown): TtrpcError {
  if (err instanceof TtrpcError) return err;
  if (err instanceof ProcessError) {
    const code = KIND_TO_CODE[err.kind];
    return new TtrpcError(code, withClassText(code, err.message));
  }
  if (err instanceof UnknownTypeUrlError || err instanceof TypeUrlMismatchError) {
    return new TtrpcError(Code.InvalidArgument, withClassText(Code.InvalidArgument, err.message));
  }
  const message = err instanceof Error ? err.message : String(err);
  return new TtrpcError(Code.Unknown, message);
}

/** Builds an error of a given code with the class text, for checks done in the shim layer itself. */
export function statusError(code: Code, message: string): TtrpcError {
  return new TtrpcError(code, withClassText(code, message));
}
