// Normalising and comparing what ctr reports, so runs on different shims can be compared byte for
// byte where bytes are stable and by class where they are not (pids, ids, timestamps).
import assert from 'node:assert/strict';
import type { CtrResult } from './ctr.js';

/** Error classes containerd's errdefs print at the end of a message (`…: not found`). */
export const ERROR_CLASSES = ['not found', 'already exists', 'failed precondition', 'invalid argument', 'unavailable',
  'not implemented', 'deadline exceeded', 'canceled', 'unknown', 'conflict'] as const;

/** One of {@link ERROR_CLASSES}, or `none` when the message ends otherwise. */
export type ErrorClass = (typeof ERROR_CLASSES)[number] | 'none';

/** A ctr error split into its text and trailing class. */
export interface CtrError {
  /** The message without the `ctr: ` prefix, trailing class and whitespace, ids replaced. */
  readonly message: string;
  readonly class: ErrorClass;
}

/** Replaces every occurrence of each `ids` key with its value (container ids → `<id>`, …). */
export function replaceAll(text: string, ids: Readonly<Record<string, string>>): string {
  let out = text;
  // Longest first, so an id that contains another is replaced whole.
  for (const k of Object.keys(ids).sort((a, b) => b.length - a.length)) if (k !== '') out = out.split(k).join(ids[k]!);
  return out;
}

/** Parses the last `ctr: …` line of stderr into message and class. */
export function ctrError(stderr: string, ids: Readonly<Record<string, string>> = {}): CtrError {
  const lines = stderr.split('\n').map((l) => l.trim()).filter(Boolean);
  const line = [...lines].reverse().find((l) => l.startsWith('ctr: ')) ?? lines[lines.length - 1] ?? '';
  let message = replaceAll(line.replace(/^ctr: /, ''), ids);
  let cls: ErrorClass = 'none';
  for (const c of ERROR_CLASSES) {
    if (message.endsWith(`: ${c}`)) { cls = c; message = message.slice(0, -(c.length + 2)); break; }
  }
  return { message, class: cls };
}

/** Replaces the timestamps of ctr's own logrus lines (`time="…"`), which never compare equal. */
export function stableLog(text: string): string {
  return text.replace(/time="[^"]*"/g, 'time="<time>"');
}

/** What a ctr command showed the user: exit code and both streams, exact bytes as UTF-8. */
export interface Outcome {
  readonly exitCode: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** The user-visible outcome of a ctr call, with `ids` replaced in both streams. */
export function outcome(r: CtrResult, ids: Readonly<Record<string, string>> = {}): Outcome {
  if (r.timedOut) throw new Error(`ctr ${r.argv.slice(5).join(' ')} timed out after ${r.durationMs} ms; stderr: ${r.err}`);
  return { exitCode: r.code, stdout: replaceAll(r.out, ids), stderr: stableLog(replaceAll(r.err, ids)) };
}

/** The failure of a ctr call: exit code plus parsed error (for commands expected to fail). */
export interface FailureOutcome {
  readonly exitCode: number | null;
  readonly error: CtrError;
}

/** Describes a ctr call expected to fail. */
export function failure(r: CtrResult, ids: Readonly<Record<string, string>> = {}): FailureOutcome {
  if (r.timedOut) throw new Error(`ctr ${r.argv.slice(5).join(' ')} timed out; stderr: ${r.err}`);
  return { exitCode: r.code, error: ctrError(r.err, ids) };
}

/** Options for {@link assertSameFailure}. */
export interface SameFailureOptions {
  /**
   * The reference answers state refusals ("cannot … in … state") with code Unknown; ours
   * deliberately answers FailedPrecondition. When true that one difference is accepted.
   */
  readonly stateRefusal?: boolean;
  /** Compare only the class, not the message text. */
  readonly classOnly?: boolean;
}

/** Asserts that our shim failed the way the reference did (exit code, class, message). */
export function assertSameFailure(mine: FailureOutcome, ref: FailureOutcome, options: SameFailureOptions = {}): void {
  assert.equal(mine.exitCode, ref.exitCode, `exit code: ours ${String(mine.exitCode)}, reference ${String(ref.exitCode)}`);
  const accepted = options.stateRefusal === true && ref.error.class === 'unknown' && mine.error.class === 'failed precondition';
  if (!accepted) assert.equal(mine.error.class, ref.error.class, `error class: ours "${mine.error.message}: ${mine.error.class}", reference "${ref.error.message}: ${ref.error.class}"`);
  if (!options.classOnly) assert.equal(mine.error.message, ref.error.message, 'error message');
}

/** Asserts two outcomes are identical byte for byte, with a readable diff on failure. */
export function assertSameOutcome(mine: Outcome, ref: Outcome, what = 'outcome'): void {
  assert.deepEqual(mine, ref, `${what} differs from the reference shim`);
}

/** Asserts that `actual` is `expected` in order, showing both on failure. */
export function assertOrder(actual: readonly string[], expected: readonly string[], what = 'events'): void {
  assert.deepEqual([...actual], [...expected], `${what}: got ${actual.join(' → ')}, expected ${expected.join(' → ')}`);
}

/** True when `sub` appears in `seq` in order (not necessarily adjacent). */
export function isSubsequence(sub: readonly string[], seq: readonly string[]): boolean {
  let i = 0;
  for (const s of seq) if (i < sub.length && s === sub[i]) i++;
  return i === sub.length;
}
