// Terminal mode end to end: `ctr run -t`, `ctr task exec -t`, the window size ctr sends with
// ResizePty, and CloseIO on a terminal — each on the reference shim and on ours.
//
// `ctr -t` insists that its own stdin is a terminal, so ctr runs under `script` (util-linux),
// which gives it a pty. The command first sets that pty's size with `stty`; ctr reads it and
// resizes the task's pty (ResizePty right after start), so `stty size` inside the container
// prints what we chose.
import { describe } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { differential, e2eSkipReason, runCommand, sleep, useContainerd, type ScenarioEnv, type CommandResult } from './harness/index.js';
import { withShim, TaskService } from './harness/shim-task.js';

/** Quotes one argument for `sh -c`. */
function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Runs `ctr <args>` under a fresh pty of `rows`×`cols` (via `script`); output has pty line endings. */
async function ctrOnPty(env: ScenarioEnv, args: readonly string[], rows: number, cols: number,
  later?: { task: string; afterSeconds: number; rows: number; cols: number }, timeoutMs = 30_000): Promise<CommandResult & { text: string }> {
  const ctrArgv = env.ctr.argv(args);
  // A later size change on ctr's pty makes the kernel send ctr SIGWINCH; ctr answers with ResizePty.
  // (A background job's stdin is /dev/null, so that stty names the terminal itself.)
  // The clock starts when the task is RUNNING, so a slow start cannot reorder the resize.
  const ls = [env.ctr.binary, '--address', env.ctr.address, '-n', env.ctr.namespace, 'task', 'ls'].map(shq).join(' ');
  const resizeLater = later
    ? `(until ${ls} | grep -q ${shq(`^${later.task} .*RUNNING`)}; do sleep 0.1; done; sleep ${later.afterSeconds}; ` +
      `stty rows ${later.rows} cols ${later.cols} </dev/tty) & `
    : '';
  const inner = `stty rows ${rows} cols ${cols}; ${resizeLater}exec ${ctrArgv.map(shq).join(' ')}`;
  // -q quiet, -f flush, -e return the child's exit code; the typescript file is discarded.
  // script's stdin stays open (an empty pipe) until ctr is done: at EOF on its stdin script
  // would send the pty an end-of-file byte, which the container would then read.
  let finished: () => void = () => undefined;
  const done = new Promise<void>((resolve) => { finished = resolve; });
  const r = await runCommand(['script', '-qfec', inner, '/dev/null'], { timeoutMs, input: '', endInputAfter: done })
    .finally(() => finished());
  return { ...r, text: r.stdout.toString('utf8').replace(/\r\n/g, '\n').replace(/\r/g, '') };
}

const skip = e2eSkipReason() ?? (existsSync('/usr/bin/script') ? undefined : 'script (util-linux) is missing: needed to give ctr a pty');

describe('terminal mode', { skip: skip ?? false }, () => {
  const ctx = useContainerd();

  // ctr resizes only after Start (and again on SIGWINCH), hence the sleeps before `stty size`.
  differential(ctx, 'ctr run -t: the container sees a tty of the size ctr resized it to, and a later resize', async (env) => {
    const id = env.id('tty');
    const r = await ctrOnPty(env, ['run', '-t', '--rm', ...env.flags, ctx.image, id, 'sh', '-c', 'tty; sleep 1; stty size; sleep 3; stty size; echo done'],
      40, 100, { task: id, afterSeconds: 2, rows: 50, cols: 120 });
    return { code: r.code, text: r.text };
  }, {
    check: (o) => {
      assert.equal(o.code, 0, o.text);
      assert.match(o.text, /^\/dev\/pts\/\d+\n40 100\n50 120\ndone\n$/);
    },
    compare: (mine, ref) => {
      assert.equal(mine.code, ref.code);
      // The pts number is the runtime's choice; everything else must be identical.
      const norm = (t: string): string => t.replace(/\/dev\/pts\/\d+/, '/dev/pts/N');
      assert.equal(norm(mine.text), norm(ref.text));
    },
  });

  differential(ctx, 'ctr task exec -t: exec on its own pty with the caller size, exit code kept', async (env) => {
    const id = env.id('ttyexec');
    await env.runDetached(id);
    const r = await ctrOnPty(env, ['task', 'exec', '-t', '--exec-id', 'tx', id, 'sh', '-c', 'sleep 1; test -t 0 && test -t 1 && stty size; exit 3'], 25, 132);
    return { code: r.code, text: r.text };
  }, {
    // ctr resizes an exec's pty only after starting it, hence the sleep before `stty size`.
    check: (o) => {
      assert.equal(o.code, 3, o.text);
      assert.equal(o.text, '25 132\n');
    },
  });

  // ctr never sends CloseIO for a terminal (its console is not an EOF-able stream), so the call
  // goes to the shim's ttrpc socket. `ctr run -d -t` leaves no client writer on the stdin fifo;
  // CloseIO closes the shim's own, the stdin copy ends and the shim closes the pty master: the
  // kernel hangs the terminal up and the shell's HUP trap exits 9 (stdio.md §8.5).
  differential(ctx, 'CloseIO on a terminal hangs it up (SIGHUP to the container)', async (env) => {
    const id = env.id('ttyclose');
    const r = await ctrOnPty(env, ['run', '-d', '-t', ...env.flags, ctx.image, id, 'sh', '-c', 'trap "exit 9" HUP; while true; do sleep 0.1; done'], 24, 80);
    assert.equal(r.code, 0, r.text);
    await env.waitStatus(id, 'RUNNING');
    await sleep(300);
    const before = await env.ctr.taskStatus(id);
    await withShim(ctx.cd, ctx.cd.namespace, id, (c) => c.call(TaskService.method.closeIO, { id, stdin: true }));
    const exit = await ctx.events.waitFor('/tasks/exit', id, 10_000);
    return { before, exitStatus: exit.event.exit_status ?? 0 };
  }, {
    check: (o) => assert.deepEqual(o, { before: 'RUNNING', exitStatus: 9 }),
  });
});
