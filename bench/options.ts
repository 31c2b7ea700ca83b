// Benchmark sizes and switches, from command-line flags with BENCH_* environment fallbacks, so the
// same run can be reproduced from a shell history line or a CI job's environment.

/** The sections the runner knows, in the order it runs them. */
export const SECTIONS = ['cold', 'exec', 'memory', 'throughput', 'concurrent', 'ttrpc'] as const;
/** One benchmark section. */
export type Section = (typeof SECTIONS)[number];

/** Which shims to measure. */
export type SideKey = 'reference' | 'ours';

/** Everything a run is parameterised by. */
export interface BenchOptions {
  /** Tiny sizes for the CI smoke test. */
  readonly quick: boolean;
  readonly sections: readonly Section[];
  readonly sides: readonly SideKey[];
  /** Repetitions per side of the cold `ctr run` measurement. */
  readonly coldReps: number;
  /** Repetitions per side of the exec measurement. */
  readonly execReps: number;
  /** The two container counts of the memory measurement (e.g. 20 and 100). */
  readonly memSmall: number;
  readonly memLarge: number;
  /**
   * Idle time before each timed cold run and exec, ms, so one side's run never rides on the kernel
   * state the other side's run just left warm (the cgroup-move lock stays fast for ~20–50 ms after
   * a writer; docs/benchmarks.md, round 4).
   */
  readonly repGapMs: number;
  /** Repetitions per side of the whole memory ramp. */
  readonly memReps: number;
  /** How long to let shims settle before reading their memory, ms. */
  readonly memSettleMs: number;
  /** Containers started at once while ramping up for the memory measurement. */
  readonly startParallelism: number;
  /** Bytes written to stdout per throughput run, in MiB. */
  readonly throughputMiB: number;
  readonly throughputReps: number;
  /** Containers of the concurrent start/teardown measurement. */
  readonly concurrent: number;
  readonly concurrentReps: number;
  /** OCI runtime our shim drives (the reference always uses runc). */
  readonly oursOci: 'runc' | 'crun';
  /** Print only the JSON line (no table). */
  readonly jsonOnly: boolean;
}

const FULL = {
  coldReps: 20, execReps: 30, repGapMs: 200, memSmall: 20, memLarge: 100, memReps: 2, memSettleMs: 1000, startParallelism: 4,
  throughputMiB: 1024, throughputReps: 5, concurrent: 50, concurrentReps: 3,
};
const QUICK: typeof FULL = {
  coldReps: 3, execReps: 3, repGapMs: 50, memSmall: 2, memLarge: 5, memReps: 1, memSettleMs: 200, startParallelism: 4,
  throughputMiB: 64, throughputReps: 2, concurrent: 5, concurrentReps: 1,
};

/** The usage text printed by `--help`. */
export const USAGE = `usage: npm run bench -- [flags]
  --quick                 tiny sizes (CI smoke): 3 reps, 2/5 containers, 64 MiB, 5 concurrent
  --sections a,b          subset of ${SECTIONS.join(',')}
  --sides a,b             subset of reference,ours (default both)
  --cold-reps N --exec-reps N
  --rep-gap-ms N          idle time before each timed cold run and exec (default 200)
  --mem-small N --mem-large N --mem-reps N --mem-settle-ms N --start-parallelism N
  --throughput-mib N --throughput-reps N
  --concurrent N --concurrent-reps N
  --ours-oci runc|crun    OCI runtime our shim drives (default runc, like the reference)
  --json-only             print only the JSON line
Every flag also reads BENCH_<NAME> from the environment (e.g. BENCH_QUICK=1, BENCH_COLD_REPS=50).`;

function envName(flag: string): string {
  return `BENCH_${flag.toUpperCase().replace(/-/g, '_')}`;
}

function list<T extends string>(value: string, allowed: readonly T[], what: string): T[] {
  const items = value.split(',').map((s) => s.trim()).filter(Boolean);
  for (const i of items) if (!(allowed as readonly string[]).includes(i)) throw new Error(`unknown ${what} ${JSON.stringify(i)} (known: ${allowed.join(', ')})`);
  return items as T[];
}

/** Thrown for `--help`, carrying the usage text. */
export class HelpRequested extends Error {}

/** Parses flags (`--name value` or `--name=value`) over BENCH_* environment defaults. */
export function parseOptions(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): BenchOptions {
  const given = new Map<string, string>();
  const booleans = new Set(['quick', 'json-only']);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') throw new HelpRequested(USAGE);
    if (!arg.startsWith('--')) throw new Error(`unexpected argument ${JSON.stringify(arg)}\n${USAGE}`);
    const eq = arg.indexOf('=');
    const name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
    if (booleans.has(name)) {
      given.set(name, eq >= 0 ? arg.slice(eq + 1) : '1');
      continue;
    }
    const value = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new Error(`--${name} needs a value`);
    given.set(name, value);
  }
  const get = (name: string): string | undefined => given.get(name) ?? env[envName(name)];
  const flag = (name: string): boolean => {
    const v = get(name);
    return v !== undefined && v !== '' && v !== '0' && v !== 'false';
  };
  const quick = flag('quick');
  const base = quick ? QUICK : FULL;
  const int = (name: string, fallback: number, min = 1): number => {
    const v = get(name);
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer ≥ ${min}, got ${JSON.stringify(v)}`);
    return n;
  };
  const known = new Set(['quick', 'json-only', 'sections', 'sides', 'cold-reps', 'exec-reps', 'rep-gap-ms', 'mem-small', 'mem-large', 'mem-reps',
    'mem-settle-ms', 'start-parallelism', 'throughput-mib', 'throughput-reps', 'concurrent', 'concurrent-reps', 'ours-oci']);
  for (const name of given.keys()) if (!known.has(name)) throw new Error(`unknown flag --${name}\n${USAGE}`);
  const oci = get('ours-oci') ?? 'runc';
  if (oci !== 'runc' && oci !== 'crun') throw new Error(`--ours-oci must be runc or crun, got ${JSON.stringify(oci)}`);
  const memSmall = int('mem-small', base.memSmall);
  const memLarge = int('mem-large', base.memLarge);
  if (memLarge <= memSmall) throw new Error('--mem-large must be larger than --mem-small');
  return {
    quick,
    sections: list(get('sections') ?? SECTIONS.join(','), SECTIONS, 'section'),
    sides: list(get('sides') ?? 'reference,ours', ['reference', 'ours'] as const, 'side'),
    coldReps: int('cold-reps', base.coldReps),
    execReps: int('exec-reps', base.execReps),
    repGapMs: int('rep-gap-ms', base.repGapMs, 0),
    memSmall,
    memLarge,
    memReps: int('mem-reps', base.memReps),
    memSettleMs: int('mem-settle-ms', base.memSettleMs, 0),
    startParallelism: int('start-parallelism', base.startParallelism),
    throughputMiB: int('throughput-mib', base.throughputMiB),
    throughputReps: int('throughput-reps', base.throughputReps),
    concurrent: int('concurrent', base.concurrent),
    concurrentReps: int('concurrent-reps', base.concurrentReps),
    oursOci: oci,
    jsonOnly: flag('json-only'),
  };
}
