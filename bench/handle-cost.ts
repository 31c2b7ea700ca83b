// `node dist/bench/handle-cost.js [--tries 40] [--gap-ms 100]`: what one output writer costs the
// shim's thread, after an idle gap as between an exec's steps: a libuv pipe handle
// (`net.Socket({fd})`) made and written once, against an FdWriter that writes with write(2) and
// ends with close(2) (docs/stdio.md). Each try uses a fresh pipe with a reader attached, so every
// write fits. Prints one JSON line of medians and p90s in microseconds.
import { Socket } from 'node:net';
import { closeSync } from 'node:fs';
import path from 'node:path';
import { FdWriter } from '../src/stdio/fd-writer.js';
import { createPipe, setNonBlocking } from '../src/sys/pipes.js';
import { flag } from './tool-support.js';
import { summarize } from './stats.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const since = (t: bigint): number => Number(process.hrtime.bigint() - t) / 1e3;

async function main(): Promise<void> {
  const tries = Number(flag('tries', '40'));
  const gapMs = Number(flag('gap-ms', '100'));
  const line = Buffer.from('one line of output\n');
  const socketUs: number[] = [];
  const fdWriterUs: number[] = [];
  for (let i = 0; i < tries; i++) {
    for (const kind of i % 2 === 0 ? ['socket', 'fd-writer'] : ['fd-writer', 'socket']) {
      const pipe = createPipe();
      setNonBlocking(pipe.write, true);
      await sleep(gapMs);
      const t0 = process.hrtime.bigint();
      if (kind === 'socket') {
        const socket = new Socket({ fd: pipe.write, readable: false, writable: true });
        socket.on('error', () => undefined);
        socket.write(line);
        const ended = new Promise<void>((resolve) => socket.end(resolve));
        socketUs.push(since(t0));
        await ended;
        socket.destroy();
      } else {
        const writer = new FdWriter(pipe.write);
        writer.write(line);
        writer.end();
        fdWriterUs.push(since(t0));
        await new Promise((resolve) => writer.once('close', resolve));
      }
      closeSync(pipe.read);
    }
  }
  const round = (v: number): number => Math.round(v * 10) / 10;
  const report = (v: number[]) => {
    const s = summarize(v);
    return { medianUs: round(s.median), p90Us: round(s.p90) };
  };
  console.log(JSON.stringify({ bench: 'containerd-shim-ts-handle-cost', date: new Date().toISOString(), tries, gapMs, socket: report(socketUs), fdWriter: report(fdWriterUs) }));
}

if (process.argv[1] && path.resolve(process.argv[1]).endsWith(path.join('bench', 'handle-cost.js'))) await main();
