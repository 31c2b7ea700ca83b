// Sizes and reporting shared by the reliability tests: CI runs a bounded size, scripts/soak.mjs
// raises it through environment variables, and every test can append its numbers to a JSON file.
import { appendFileSync } from 'node:fs';

/** A positive integer from the environment, else `fallback`. */
export function sizeFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer, not ${JSON.stringify(raw)}`);
  return n;
}

/** Appends one measurement as a JSON line to $RELIABILITY_REPORT (if set). */
export function report(test: string, numbers: Record<string, unknown>): void {
  const file = process.env.RELIABILITY_REPORT;
  if (file) appendFileSync(file, `${JSON.stringify({ test, at: new Date().toISOString(), ...numbers })}\n`);
}

/** Runs `count` jobs with at most `parallel` in flight; resolves to their results in order. */
export async function pool<T>(count: number, parallel: number, job: (i: number) => Promise<T>): Promise<T[]> {
  const results: T[] = new Array<T>(count);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      results[i] = await job(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, count) }, () => worker()));
  return results;
}
