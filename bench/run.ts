// `npm run bench`: starts a private containerd, measures the reference shim
// (containerd-shim-runc-v2) and ours (containerd-shim-ts-v2) side by side, prints a table and one
// JSON line, and removes everything it created — also after a failure or Ctrl-C.
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { Containerd } from '../test/e2e/harness/containerd.js';
import { busyboxImage } from '../test/e2e/harness/oci-image.js';
import { e2eSkipReason, ociSkipReason, tsShimSkipReason } from '../test/e2e/harness/host.js';
import { REFERENCE, type RuntimeUnderTest } from '../test/e2e/harness/runtimes.js';
import { removeAll, type BenchContext, type Side } from './context.js';
import { failedBoth, METRICS, result, type MetricId, type MetricResult } from './metrics.js';
import { HelpRequested, parseOptions, type BenchOptions, type Section, type SideKey } from './options.js';
import { formatJson, formatTable, type BenchReport } from './report.js';
import { coldSection } from './sections/cold.js';
import { execSection } from './sections/exec.js';
import { memorySection } from './sections/memory.js';
import { throughputSection } from './sections/throughput.js';
import { concurrentSection } from './sections/concurrent.js';
import { ttrpcSection } from './sections/ttrpc.js';

/** What each section reports, so a section that blows up still shows its rows as failed. */
const SECTION_METRICS: Record<Section, readonly MetricId[]> = {
  cold: ['coldRunMs'],
  exec: ['execMs'],
  memory: ['pssSmall', 'privateDirtySmall', 'pssLarge', 'privateDirtyLarge', 'marginalPss', 'marginalPrivateDirty', 'shimProcessesLarge'],
  throughput: ['throughputMiBs', 'shimCpuPerGiB'],
  concurrent: ['concurrentStartMs', 'concurrentTeardownMs'],
  ttrpc: ['ttrpcCallsPerSec', 'ttrpcP99Ms', 'ttrpcServerCpuUs'],
};

const RUNNERS: Record<Section, (ctx: BenchContext) => Promise<MetricResult[]>> = {
  cold: coldSection,
  exec: execSection,
  memory: memorySection,
  throughput: throughputSection,
  concurrent: concurrentSection,
  ttrpc: ttrpcSection,
};

/** Sections that need containerd (ttrpc does not). */
const NEEDS_CONTAINERD: ReadonlySet<Section> = new Set(['cold', 'exec', 'memory', 'throughput', 'concurrent']);

function firstLine(cmd: string, args: readonly string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.split('\n')[0]!.trim() : 'unknown';
}

function hostInfo(): Record<string, string | number> {
  return {
    kernel: os.release(),
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memMiB: Math.round(os.totalmem() / 2 ** 20),
    node: process.version,
    containerd: firstLine('containerd', ['--version']),
    runc: firstLine('runc', ['--version']),
  };
}

function makeSides(options: BenchOptions): Side[] {
  const ours: RuntimeUnderTest = { label: `ts.v2/${options.oursOci}`, runtime: 'io.containerd.ts.v2', oci: options.oursOci, reference: false };
  const sides: Side[] = [];
  if (options.sides.includes('reference')) sides.push({ key: 'reference', rt: REFERENCE, marker: 'containerd-shim-runc-v2' });
  if (options.sides.includes('ours')) {
    const why = tsShimSkipReason() ?? ociSkipReason(options.oursOci);
    sides.push({ key: 'ours', rt: ours, marker: 'containerd-shim-ts-v2', ...(why !== undefined ? { unavailable: why } : {}) });
  }
  return sides;
}

function log(message: string): void {
  process.stderr.write(`bench: ${message}\n`);
}

/** Runs the benchmark with `argv` (flags after the script) and returns the process exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  let options: BenchOptions;
  try {
    options = parseOptions(argv);
  } catch (e) {
    if (e instanceof HelpRequested) {
      process.stdout.write(`${e.message}\n`);
      return 0;
    }
    process.stderr.write(`bench: ${(e as Error).message}\n`);
    return 2;
  }
  const started = new Date();
  const sides = makeSides(options);
  const metrics: MetricResult[] = [];
  const wantsContainerd = options.sections.some((s) => NEEDS_CONTAINERD.has(s));
  const skip = wantsContainerd ? e2eSkipReason() : undefined;
  let cd: Containerd | undefined;
  const abandoned = new Map<SideKey, string>();
  const stopOnSignal = (signal: NodeJS.Signals): void => {
    log(`${signal}: cleaning up`);
    void (cd?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
  };
  process.once('SIGINT', stopOnSignal);
  process.once('SIGTERM', stopOnSignal);
  try {
    let ctx: BenchContext | undefined;
    if (wantsContainerd && skip === undefined) {
      log('starting a private containerd');
      cd = await Containerd.start({ namespace: 'bench' });
      // Named on stderr so a caller (the smoke test) can check that exactly this dir is removed.
      log(`private containerd in ${cd.dir}`);
      const image = await cd.importImage(busyboxImage());
      ctx = { cd, ctr: cd.ctr, image, options, sides, log, abandoned };
    }
    for (const section of options.sections) {
      const fail = (reason: string, status: 'failed' | 'na' = 'failed'): void => {
        for (const id of SECTION_METRICS[section]) metrics.push(result(METRICS[id], failedBoth(reason, status)));
      };
      if (NEEDS_CONTAINERD.has(section) && ctx === undefined) {
        fail(skip ?? 'containerd did not start', 'na');
        continue;
      }
      log(`section ${section}`);
      try {
        // ttrpc needs no containerd; it still gets a context for options and logging.
        const c: BenchContext = ctx ?? { cd: undefined as never, ctr: undefined as never, image: '', options, sides, log, abandoned };
        metrics.push(...await RUNNERS[section](c));
      } catch (e) {
        log(`section ${section} failed: ${(e as Error).stack ?? String(e)}`);
        fail(`section error: ${(e as Error).message}`);
      }
      if (ctx !== undefined && NEEDS_CONTAINERD.has(section)) await removeAll(ctx).catch(() => undefined);
    }
  } catch (e) {
    log(`setup failed: ${(e as Error).message}`);
    for (const section of options.sections) {
      if (metrics.some((m) => SECTION_METRICS[section].some((id) => m.id.startsWith(id)))) continue;
      for (const id of SECTION_METRICS[section]) metrics.push(result(METRICS[id], failedBoth(`setup failed: ${(e as Error).message}`)));
    }
  } finally {
    await cd?.stop();
    process.off('SIGINT', stopOnSignal);
    process.off('SIGTERM', stopOnSignal);
  }
  const referenceSelected = sides.some((s) => s.key === 'reference');
  const referenceOk = !referenceSelected || metrics.every((m) => m.reference.status === 'ok' || m.reference.status === 'na');
  const script = path.relative(process.cwd(), process.argv[1] ?? 'dist/bench/run.js') || 'dist/bench/run.js';
  const report: BenchReport = {
    bench: 'containerd-shim-ts-bench',
    schema: 1,
    date: started.toISOString(),
    command: ['node', script, ...argv].join(' '),
    durationSec: Math.round((Date.now() - started.getTime()) / 100) / 10,
    host: hostInfo(),
    options: { ...options },
    sides: Object.fromEntries(sides.map((s) => [s.key, {
      label: s.rt.label, runtime: s.rt.runtime, oci: s.rt.oci, ...(s.unavailable !== undefined ? { unavailable: s.unavailable } : {}),
    }])),
    metrics,
    referenceOk,
  };
  if (!options.jsonOnly) {
    process.stdout.write(`\ncontainerd-shim-ts benchmark, ${report.date}, ${report.command}\n`);
    for (const s of sides) process.stdout.write(`  ${s.key}: ${s.rt.label} (${s.rt.runtime})${s.unavailable ? ` — unavailable: ${s.unavailable}` : ''}\n`);
    process.stdout.write(`\n${formatTable(metrics)}\n\n`);
  }
  process.stdout.write(`${formatJson(report)}\n`);
  return referenceOk ? 0 : 1;
}

// Exit explicitly once stdout is flushed: teardown helpers may leave a timer pending for seconds.
main(process.argv.slice(2)).then((code) => {
  process.stdout.write('', () => process.exit(code));
}, (e: unknown) => {
  process.stderr.write(`bench: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
  process.exit(1);
});
