// ttrpc benchmark: unary calls/s and latency of our TtrpcServer vs Go's ttrpc server, both driven
// by the same Go ttrpc client (one connection, N calls in flight), rounds alternating which server
// goes first; reports medians as a table and one JSON line.
//
//   node dist/bench/ttrpc/run.js [--rounds 10] [--duration-ms 1000] [--concurrency 1,64]
//
// Ten 1-second rounds rather than five of 2 s: on a shared 2-core VM the rate drifts by ±10 %
// over seconds, and more, shorter, alternating rounds make the medians follow both servers alike.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildGoProbe, startGoServer, stopChild } from '../../test/integration/ttrpc/go-probe.js';
import { threadsCpuMs } from '../procfs.js';
import { flag } from '../tool-support.js';

interface Sample {
  calls: number;
  callsPerSec: number;
  p50us: number;
  p99us: number;
  failures: number;
  /** The server's CPU (all its threads) per call over the client's warm-up and measured time; NaN when unreadable. */
  serverCpuUsPerCall: number;
}


const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

async function startTsServer(socket: string): Promise<ChildProcess> {
  const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'ts-server.js');
  const child = spawn(process.execPath, [script, socket], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`ts server exited with ${code}`)));
  });
  return child;
}

/**
 * One client run against the server `serverPid`. The server's CPU is read before and after; the
 * calls it answered meanwhile are estimated from the measured rate over warm-up plus measured
 * time (the client counts only the latter), which is close once the server is warm.
 */
function runClient(binary: string, socket: string, concurrency: number, durationMs: number, serverPid: number | undefined): Sample {
  const warmupMs = Math.min(500, durationMs);
  const cpuBefore = serverPid === undefined ? undefined : threadsCpuMs(serverPid);
  const sample = runClientOnce(binary, socket, concurrency, durationMs, warmupMs);
  const cpuAfter = serverPid === undefined ? undefined : threadsCpuMs(serverPid);
  const calls = (sample.callsPerSec * (durationMs + warmupMs)) / 1000;
  const cpuUs = cpuBefore === undefined || cpuAfter === undefined ? NaN : (cpuAfter - cpuBefore) * 1000;
  return { ...sample, serverCpuUsPerCall: calls > 0 ? cpuUs / calls : NaN };
}

function runClientOnce(binary: string, socket: string, concurrency: number, durationMs: number, warmupMs: number): Omit<Sample, 'serverCpuUsPerCall'> {
  const res = spawnSync(binary, ['bench', '-socket', socket, '-concurrency', String(concurrency), '-duration', `${durationMs}ms`, '-warmup', `${warmupMs}ms`], {
    encoding: 'utf8',
    timeout: durationMs * 3 + 30_000,
  });
  if (res.status !== 0) throw new Error(`go bench client failed: ${res.stderr}`);
  return JSON.parse(res.stdout) as Omit<Sample, 'serverCpuUsPerCall'>;
}

async function main(): Promise<void> {
  const rounds = Number(flag('rounds', '10'));
  const durationMs = Number(flag('duration-ms', '1000'));
  const levels = flag('concurrency', '1,64').split(',').map(Number);
  const built = buildGoProbe();
  if ('skip' in built) {
    console.error(`ttrpc benchmark needs Go: ${built.skip}`);
    process.exit(2);
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ttrpc-bench-'));
  const servers: Record<'go' | 'ts', ChildProcess | undefined> = { go: undefined, ts: undefined };
  try {
    const sockets = { go: path.join(dir, 'go.sock'), ts: path.join(dir, 'ts.sock') };
    servers.go = await startGoServer(built.binary, sockets.go);
    servers.ts = await startTsServer(sockets.ts);
    const results: { concurrency: number; go: Sample[]; ts: Sample[] }[] = [];
    for (const c of levels) {
      const entry = { concurrency: c, go: [] as Sample[], ts: [] as Sample[] };
      for (let r = 0; r < rounds; r++) {
        const order: ('go' | 'ts')[] = r % 2 === 0 ? ['go', 'ts'] : ['ts', 'go'];
        for (const who of order) entry[who].push(runClient(built.binary, sockets[who], c, durationMs, servers[who]?.pid));
      }
      results.push(entry);
    }
    const summary = results.map(({ concurrency, go, ts }) => {
      const m = (xs: Sample[], k: keyof Sample): number => Math.round(median(xs.map((x) => x[k])) * 10) / 10;
      const row = {
        concurrency,
        goCallsPerSec: m(go, 'callsPerSec'),
        tsCallsPerSec: m(ts, 'callsPerSec'),
        goP99us: m(go, 'p99us'),
        tsP99us: m(ts, 'p99us'),
        goP50us: m(go, 'p50us'),
        tsP50us: m(ts, 'p50us'),
        goCpuUsPerCall: m(go, 'serverCpuUsPerCall'),
        tsCpuUsPerCall: m(ts, 'serverCpuUsPerCall'),
        failures: [...go, ...ts].reduce((n, s) => n + s.failures, 0),
      };
      const ratio = (a: number, b: number): number => Math.round((a / b) * 100) / 100;
      return { ...row, callsRatio: ratio(row.tsCallsPerSec, row.goCallsPerSec), p99Ratio: ratio(row.tsP99us, row.goP99us), cpuRatio: ratio(row.tsCpuUsPerCall, row.goCpuUsPerCall) };
    });
    console.log(`ttrpc unary Ping, Go client, one connection; ${rounds} rounds x ${durationMs} ms, medians (node ${process.version}, ${os.cpus().length} cpus)`);
    console.log('in flight | Go calls/s | TS calls/s | TS/Go | Go p50 us | TS p50 us | Go p99 us | TS p99 us | p99 TS/Go | Go CPU us/call | TS CPU us/call | CPU TS/Go');
    for (const s of summary) {
      console.log(
        [s.concurrency, s.goCallsPerSec, s.tsCallsPerSec, s.callsRatio, s.goP50us, s.tsP50us, s.goP99us, s.tsP99us, s.p99Ratio, s.goCpuUsPerCall, s.tsCpuUsPerCall, s.cpuRatio]
          .map((v, i) => String(v).padStart(i === 0 ? 9 : 10))
          .join(' | '),
      );
    }
    console.log(JSON.stringify({ bench: 'ttrpc-unary', rounds, durationMs, results: summary }));
  } finally {
    await stopChild(servers.go);
    await stopChild(servers.ts);
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
