/**
 * The stdio layer's error. Its `kind` uses the same strings as the process layer's ErrorKind
 * (which this layer cannot import: stdio sits below process), so the process layer can pass it on
 * unchanged when it wraps the message with the reference's prefix.
 */

/** The error classes stdio failures fall into (a subset of the process layer's ErrorKind). */
export type StdioErrorKind = 'invalid-argument' | 'not-found' | 'deadline-exceeded' | 'canceled' | 'unknown';

/** A stdio setup or copy failure. The message follows the reference shim's wording. */
export class StdioError extends Error {
  override readonly name = 'StdioError';
  constructor(
    readonly kind: StdioErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The text of any thrown value, for building messages. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
