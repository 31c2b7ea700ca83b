/**
 * Failures of runtime commands. A RuntimeError's message is the raw text the reference produces
 * (`<binary> did not terminate successfully: exit status N: <output>`); the runtime's own reason,
 * the last `error` record it appended to its JSON log during this command, rides along as
 * `logError` so callers can build the reference's `<prefix>: <msg>` (runtimeFailureMessage).
 */

/** Details of one failed runtime command. */
export interface RuntimeErrorDetails {
  /** The executable as invoked. */
  readonly binary: string;
  /** Full argv after the executable. */
  readonly args: readonly string[];
  /** Exit status (128+signal when killed); undefined when the command could not be run at all. */
  readonly exitStatus: number | undefined;
  /** Captured stdout and stderr, interleaved as they arrived ("" when stdio went to the container). */
  readonly output: string;
  /** Captured stderr alone. */
  readonly stderr: string;
  /** msg of the last `"level":"error"` record appended to the JSON log by this command. */
  readonly logError: string | undefined;
  /** Why the log could not be read or decoded, when that happened. */
  readonly logReadError: string | undefined;
  /** Whether the captured output went to the container instead (create, exec, restore). */
  readonly stdioAttached: boolean;
}

/** A runtime command that failed (non-zero status, killed, timed out, or could not start). */
export class RuntimeError extends Error {
  override readonly name = 'RuntimeError';
  readonly binary: string;
  readonly args: readonly string[];
  readonly exitStatus: number | undefined;
  readonly output: string;
  readonly stderr: string;
  readonly logError: string | undefined;
  readonly logReadError: string | undefined;

  constructor(details: RuntimeErrorDetails, options?: { cause?: unknown; message?: string }) {
    super(options?.message ?? rawMessage(details), options?.cause !== undefined ? { cause: options.cause } : undefined);
    this.binary = details.binary;
    this.args = details.args;
    this.exitStatus = details.exitStatus;
    this.output = details.output;
    this.stderr = details.stderr;
    this.logError = details.logError;
    this.logReadError = details.logReadError;
  }

  /** The subcommand that failed (`create`, `kill`…), found after the global flags. */
  get subcommand(): string | undefined {
    return this.args.find((a, i) => !a.startsWith('-') && !(i > 0 && globalFlagTakesValue(this.args[i - 1]!)));
  }
}

function globalFlagTakesValue(flag: string): boolean {
  return ['--root', '--log', '--log-format', '--criu', '--platform', '--network'].includes(flag);
}

function rawMessage(d: RuntimeErrorDetails): string {
  const head = `${d.binary} did not terminate successfully: exit status ${d.exitStatus ?? 'unknown'}`;
  if (d.stdioAttached || d.output === '') return head;
  return `${head}: ${d.output}`;
}

/** A bad value given to the client (id, path, signal…): refused before anything is run. */
export class RuntimeArgumentError extends TypeError {
  override readonly name = 'RuntimeArgumentError';
}

/**
 * The reference's message for a failed lifecycle command: `<prefix>: <runtime's logged reason>`,
 * or `<prefix>: <raw error>` when the runtime logged none, or the "unable to retrieve" form when
 * the log could not be decoded. Non-RuntimeErrors give `<prefix>: <message>`.
 */
export function runtimeFailureMessage(prefix: string, err: unknown): string {
  if (err instanceof RuntimeError) {
    if (err.logError !== undefined) return `${prefix}: ${err.logError}`;
    if (err.logReadError !== undefined) return `${prefix}: unable to retrieve OCI runtime error (${err.logReadError}): ${err.message}`;
    return `${prefix}: ${err.message}`;
  }
  return `${prefix}: ${err instanceof Error ? err.message : String(err)}`;
}

/** How a failed `kill` of the init is classified (oci-runtime-cli.md §5.4). */
export type KillErrorClass = 'already-finished' | 'not-found' | 'unknown';

/** Classifies a failed kill by the substrings the reference matches. */
export function classifyKillError(err: unknown): KillErrorClass {
  const parts: string[] = [];
  if (err instanceof RuntimeError) parts.push(err.message, err.output, err.logError ?? '');
  else parts.push(err instanceof Error ? err.message : String(err));
  if ((err as { code?: unknown } | null)?.code === 'ESRCH') return 'already-finished';
  const text = parts.join('\n');
  if (text.includes('container not running') || /no such process/i.test(text) || text.includes('os: process already finished')) {
    return 'already-finished';
  }
  if (text.includes('does not exist')) return 'not-found';
  return 'unknown';
}

/** One decoded log record. */
export interface LogRecord {
  readonly level?: string;
  readonly msg?: string;
  readonly time?: string;
}

/**
 * Decodes a runtime log as a stream of concatenated JSON values (runsc writes no newlines between
 * records, so splitting on lines is wrong). Throws SyntaxError on the first value that does not
 * decode, like the reference's decoder.
 */
export function parseLogRecords(text: string): LogRecord[] {
  const records: LogRecord[] = [];
  let i = 0;
  const n = text.length;
  while (i < n) {
    while (i < n && /\s/.test(text[i]!)) i++;
    if (i >= n) break;
    if (text[i] !== '{') throw new SyntaxError(`invalid character ${JSON.stringify(text[i])} looking for beginning of value at offset ${i}`);
    // Find the matching close brace, honouring strings and escapes.
    let depth = 0;
    let inString = false;
    let j = i;
    for (; j < n; j++) {
      const c = text[j]!;
      if (inString) {
        if (c === '\\') j++;
        else if (c === '"') inString = false;
      } else if (c === '"') inString = true;
      else if (c === '{') depth++;
      else if (c === '}' && --depth === 0) break;
    }
    if (j >= n) throw new SyntaxError(`unexpected end of JSON input at offset ${i}`);
    records.push(JSON.parse(text.slice(i, j + 1)) as LogRecord);
    i = j + 1;
  }
  return records;
}

/** The trimmed msg of the last record whose level is exactly `error`, if any. */
export function lastLogError(records: readonly LogRecord[]): string | undefined {
  for (let k = records.length - 1; k >= 0; k--) {
    const r = records[k]!;
    if (r.level === 'error') return String(r.msg ?? '').trim();
  }
  return undefined;
}
