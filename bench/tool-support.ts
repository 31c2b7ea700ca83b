// What the stand-alone bench tools share: reading `--name value` flags, the NAME=value specs they
// take for our shims' environment, and a running busybox task to exec into.
import type { Containerd } from '../test/e2e/harness/containerd.js';
import { runtimeFlags, type RuntimeUnderTest } from '../test/e2e/harness/runtimes.js';

/** The value after `--name` on the command line, or `fallback`. */
export function flag(name: string, fallback: string, argv: readonly string[] = process.argv): string {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : fallback;
}

/** `NAME=value,NAME2=value2` → an environment ("=" may appear in values). */
export function parseEnvSpec(spec: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const part of spec.split(',').filter((p) => p !== '')) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new Error(`not NAME=value: ${JSON.stringify(part)}`);
    env[part.slice(0, eq)] = part.slice(eq + 1);
  }
  return env;
}

/**
 * Starts a long-running busybox task `id` under `rt` and execs into it three times untimed: the
 * daemon's first execs load code and fill its caches.
 */
export async function runWarmTask(cd: Containerd, image: string, rt: RuntimeUnderTest, id: string): Promise<void> {
  const run = await cd.ctr.run(['run', '-d', ...runtimeFlags(cd, rt), image, id, 'sleep', '100000']);
  if (run.code !== 0) throw new Error(`ctr run ${id} failed: ${run.err}`);
  for (let i = 0; i < 3; i++) await cd.ctr.run(['task', 'exec', '--exec-id', `warm${i}`, id, '/bin/true']);
}
