/**
 * gRPC status code numbers, which ttrpc carries unchanged in `google.rpc.Status.code` (spec §7.1).
 */

/** The gRPC status codes; the numbers are part of the wire format. */
export enum Code {
  OK = 0,
  Canceled = 1,
  Unknown = 2,
  InvalidArgument = 3,
  DeadlineExceeded = 4,
  NotFound = 5,
  AlreadyExists = 6,
  PermissionDenied = 7,
  ResourceExhausted = 8,
  FailedPrecondition = 9,
  Aborted = 10,
  OutOfRange = 11,
  Unimplemented = 12,
  Internal = 13,
  Unavailable = 14,
  DataLoss = 15,
  Unauthenticated = 16,
}

/** The code's name (`NotFound`), or `Code(<n>)` for numbers outside the table. */
export function codeName(code: number): string {
  return Code[code] ?? `Code(${code})`;
}
