// `node dist/bench/ab.js --a VAR=1 --b VAR=0 [--reps 80] [--gap-ms 200]`: our shim against itself
// under two environments (a lever on and off), exec latency only. Two private containerds run at
// once, each with one environment handed to its shims and one running busybox container; the
// `ctr task exec /bin/true` calls alternate between them (A B, B A, …) with an idle gap before
// each, so drift of a busy host falls on both alike. Prints one JSON line: medians, p10–p90 and
// the ratio A/B. This is how the levers of round 5 in docs/benchmarks.md were decided.
import { Containerd } from '../test/e2e/harness/containerd.js';
import { busyboxImage } from '../test/e2e/harness/oci-image.js';
import { TS_RUNC } from '../test/e2e/harness/runtimes.js';
import { flag, parseEnvSpec, runWarmTask } from './tool-support.js';
import { summarize } from './stats.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  const envs = [parseEnvSpec(flag('a', '')), parseEnvSpec(flag('b', ''))] as const;
  const reps = Number(flag('reps', '80'));
  const gapMs = Number(flag('gap-ms', '200'));
  const image = busyboxImage();
  const cds: Containerd[] = [];
  const samples: [number[], number[]] = [[], []];
  try {
    for (const env of envs) {
      const cd = await Containerd.start({ namespace: 'ab', extraEnv: env });
      cds.push(cd);
      await runWarmTask(cd, await cd.importImage(image), TS_RUNC, 'ab');
    }
    for (let i = 0; i < reps; i++) {
      for (const k of i % 2 === 0 ? [0, 1] : [1, 0]) {
        await sleep(gapMs);
        const t0 = performance.now();
        const r = await cds[k]!.ctr.run(['task', 'exec', '--exec-id', `x${i}`, 'ab', '/bin/true']);
        const ms = performance.now() - t0;
        if (r.code !== 0) throw new Error(`exec on side ${k === 0 ? 'A' : 'B'} exited ${String(r.code)}: ${r.err}`);
        samples[k]!.push(ms);
      }
    }
  } finally {
    for (const cd of cds) await cd.stop();
  }
  const [a, b] = [summarize(samples[0]), summarize(samples[1])];
  const round = (v: number): number => Math.round(v * 100) / 100;
  console.log(JSON.stringify({
    bench: 'containerd-shim-ts-ab',
    command: `node dist/bench/ab.js ${process.argv.slice(2).join(' ')}`,
    date: new Date().toISOString(),
    reps,
    a: { env: envs[0], median: round(a.median), p10: round(a.p10), p90: round(a.p90) },
    b: { env: envs[1], median: round(b.median), p10: round(b.p10), p90: round(b.p90) },
    ratio: Math.round((a.median / b.median) * 1000) / 1000,
  }));
}

await main();
