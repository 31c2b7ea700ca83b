// Disk full while writing state: the runtime state root (runc's `--root`, where it writes each
// container's state.json) is a 64 KiB tmpfs the test fills before `ctr run`. Only what the runtime
// writes is starved; containerd's own state and the bundles stay on the normal file system, so the
// test measures the shims, not containerd. (A full file system under the bundle cannot be made this
// way: containerd creates the bundle directory itself, just before it starts the shim, so there is
// no moment to mount over it; see docs/reliability.md.)
// Both shims must fail fast with an error that says "no space left on device", leave no task,
// container, process, mount or runtime state, and run the next container once space is freed.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import {
  ctrError, e2eSkipReason, mountsUnder, REFERENCE, runtimeSkipReason, sleep, TS_RUNC, useContainerd,
  type RuntimeUnderTest,
} from '../harness/index.js';
import { ourDaemons, processes } from './probe.js';
import { report } from './load.js';

const tag = randomBytes(3).toString('hex');

/** Why this host cannot mount a tmpfs (not root, or mount refused), or undefined. */
function tmpfsSkipReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'mounting a tmpfs needs root';
  return undefined;
}

/** Mounts a 64 KiB tmpfs on `dir` (throws with mount's message if that fails). */
function mountSmallTmpfs(dir: string): void {
  mkdirSync(dir, { recursive: true });
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k,mode=0711', 'tmpfs', dir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`mount -t tmpfs on ${dir} failed: ${r.stderr || r.error?.message || `exit ${String(r.status)}`}`);
}

/** Unmounts `dir` if it is a mount point (lazily, so a stray open fd cannot keep it). */
function unmount(dir: string): void {
  if (mountsUnder(dir).includes(dir)) spawnSync('umount', ['-l', dir], { stdio: 'ignore' });
}

/** Writes `file` until the file system says ENOSPC; returns the bytes written. */
function fill(file: string): number {
  const fd = openSync(file, 'w', 0o600);
  const chunk = Buffer.alloc(4096, 0x78);
  let total = 0;
  try {
    for (;;) {
      try {
        total += writeSync(fd, chunk);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOSPC') return total;
        throw err;
      }
    }
  } finally {
    closeSync(fd);
  }
}

describe('disk full while writing runtime state', { skip: e2eSkipReason() ?? tmpfsSkipReason() ?? false }, () => {
  const ctx = useContainerd();
  const results: Record<string, { exitCode: number | null; class: string; message: string }> = {};

  /** `ctr run` flags putting `rt`'s runtime state in `root`. */
  const flagsFor = (rt: RuntimeUnderTest, root: string): string[] => {
    if (rt.reference) return ['--runtime', rt.runtime, '--runc-binary', rt.oci, '--runc-root', root];
    const file = path.join(ctx.cd.dir, 'runtimes', `disk-full-${tag}.toml`);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, `binary_name = ${JSON.stringify(rt.oci)}\nroot = ${JSON.stringify(root)}\n`);
    return ['--runtime', rt.runtime, '--runtime-config-path', file];
  };
  /** Processes naming `id`, except our shared daemon, once short-lived ones had time to end. */
  const lingering = async (id: string): Promise<number[]> => {
    const of = (): number[] => {
      const procs = processes();
      const daemons = new Set(ourDaemons(ctx.cd, procs).map((p) => p.pid));
      return procs.filter((p) => !daemons.has(p.pid) && p.argv.some((a) => a.includes(id))).map((p) => p.pid);
    };
    const deadline = Date.now() + 10_000;
    while (of().length > 0 && Date.now() < deadline) await sleep(200);
    return of();
  };

  // The reference first, so ours can be compared with its error class and exit code.
  for (const rt of [REFERENCE, TS_RUNC]) {
    test(`${rt.label}: runtime root full: clear ENOSPC error, nothing left, works once freed`, { skip: runtimeSkipReason(rt) ?? false, timeout: 60_000 }, async (t) => {
      const side = rt.reference ? 'ref' : 'ts';
      // Registered with the harness, so teardown also sweeps it; mounted over by the small tmpfs.
      const root = ctx.cd.runtimeRoot(rt.oci, `disk-full-${side}-${tag}`);
      const id = `diskfull-${side}-${tag}`;
      mountSmallTmpfs(root);
      try {
        const filler = path.join(root, 'filler');
        const filled = fill(filler);
        const flags = flagsFor(rt, root);
        const r = await ctx.cd.ctr.run(['run', '--rm', ...flags, ctx.image, id, 'echo', 'never'], { timeoutMs: 45_000 });
        const err = ctrError(r.err, { [id]: '<id>', [root]: '<root>' });
        const tasks = await ctx.cd.ctr.tasks();
        const containers = (await ctx.cd.ctr.run(['containers', 'ls', '-q'], { timeoutMs: 10_000 })).out.split('\n').filter(Boolean);
        const procs = await lingering(id);
        const mounts = mountsUnder(ctx.cd.dir).filter((m) => m !== root);
        const state = readdirSync(root).filter((n) => n !== 'filler').flatMap((ns) => {
          try { return readdirSync(path.join(root, ns)).map((c) => `${ns}/${c}`); } catch { return [ns]; }
        });
        const bundle = existsSync(path.join(ctx.cd.state, 'io.containerd.runtime.v2.task', ctx.cd.namespace, id));
        const o = { runtime: rt.label, filled, exitCode: r.code, timedOut: r.timedOut, durationMs: r.durationMs, error: err, stdout: r.out,
          tasks: tasks.map((x) => x.id).filter((x) => x === id), containers: containers.filter((x) => x === id), procs, mounts, state, bundle };
        t.diagnostic(JSON.stringify(o));
        report('disk-full', o);

        assert.equal(r.timedOut, false, 'ctr returned by itself');
        assert.notEqual(r.code, 0, 'the run failed');
        assert.ok(r.durationMs < 20_000, `failed fast: ${r.durationMs} ms`);
        assert.equal(r.out, '', 'the container never ran');
        // The failing step: runc's create, saving its state. (runc 1.1 drops the ENOSPC itself from
        // that message: `unable to store init state: %!w(<nil>)`.)
        assert.match(err.message, /runc create failed: .*unable to store init state/, 'the error names the failing step');
        if (!rt.reference) {
          // Ours names the full file system and which directory it is (src/shim/disk-full.ts).
          assert.ok(err.message.endsWith(`: runtime state root <root>/${ctx.cd.namespace}: no space left on device (ENOSPC)`), 'the error names the full disk and its directory');
        }
        assert.deepEqual(o.tasks, [], 'no task left');
        assert.deepEqual(o.containers, [], 'no container left (ctr run --rm)');
        assert.deepEqual(procs, [], 'no process left');
        assert.deepEqual(mounts, [], 'no rootfs or other mount left');
        assert.deepEqual(state, [], 'no runtime state left in the root');
        assert.equal(bundle, false, 'no bundle left');
        results[side] = { exitCode: r.code, class: err.class, message: err.message };
        const ref = results.ref;
        if (!rt.reference && ref) {
          assert.deepEqual({ exitCode: r.code, class: err.class }, { exitCode: ref.exitCode, class: ref.class }, 'the same exit code and error class as the reference');
          // The one documented difference: the reference's message, plus the hint, unless its runtime already named it.
          const hint = /no space left on device/i.test(ref.message) ? '' : `: runtime state root <root>/${ctx.cd.namespace}: no space left on device (ENOSPC)`;
          assert.equal(err.message, `${ref.message}${hint}`, 'the reference\'s message plus the disk-full hint');
        }

        // Free the space: the next container on the same root runs.
        rmSync(filler);
        const after = await ctx.cd.ctr.run(['run', '--rm', ...flags, ctx.image, `${id}-after`, 'echo', 'space again'], { timeoutMs: 45_000 });
        assert.deepEqual({ code: after.code, out: after.out }, { code: 0, out: 'space again\n' }, after.err);
      } finally {
        await ctx.cd.ctr.run(['task', 'rm', '-f', id], { timeoutMs: 20_000 });
        await ctx.cd.ctr.run(['containers', 'rm', id], { timeoutMs: 20_000 });
        unmount(root);
      }
    });
  }
});
