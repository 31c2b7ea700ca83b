// The start lock protocol of a shared (namespace) daemon (docs/architecture.md, "Shared daemon:
// start and idle exit"): a `start` that picks the warm daemon leaves a claim first; the idle
// daemon does not withdraw its warm marker while a claim is newer than its last Create. So a start
// that is slow between choosing the daemon and containerd's Create (longer than the 2 s grace that
// used to be the only guard) still finds it. Ours only: the reference has one
// shim per container and no idle exit.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Containerd, TS_RUNC, busyboxImage, runtimeFlags, runtimeSkipReason, shimConnect, sleep, waitFor } from './harness/index.js';

const NS = 'e2e';
const IDLE_S = 1;
/** The daemon's grace between withdrawing its marker and exiting (daemon.ts IDLE_GRACE_MS). */
const GRACE_S = 2;

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

const skip = runtimeSkipReason(TS_RUNC);

describe('shared daemon: a claimed start keeps the idle daemon', { skip: skip ?? false }, () => {
  let cd: Containerd | undefined;
  let image = '';
  before(async () => {
    cd = await Containerd.start({ namespace: NS, shimHostConfig: `grouping = "namespace"\nidle_exit_seconds = ${IDLE_S}\n` });
    image = await cd.importImage(busyboxImage());
  }, { timeout: 120_000 });
  after(async () => {
    await cd?.stop();
  }, { timeout: 120_000 });

  test('a claim newer than the last Create holds the marker; the claimer\'s Create is served; then it exits', { timeout: 90_000 }, async () => {
    const ctr = cd!.ctr;
    const flags = runtimeFlags(cd!, TS_RUNC);
    const socket = path.join('/run/containerd/s', createHash('sha256').update(path.posix.join(cd!.address, NS, '.ts-shared')).digest('hex'));
    assert.equal((await ctr.run(['run', '--rm', ...flags, image, 'claim-first', 'true'])).code, 0);
    const daemon = Number(readFileSync(`${socket}.warm`, 'utf8'));
    assert.ok(alive(daemon));
    // A start that picked the daemon now, claiming as the launcher's fast path does (no lock), and
    // whose Create will come late.
    writeFileSync(`${socket}.claim`, `${process.pid}\n`);
    // Without the claim the daemon would have gone after IDLE_S + GRACE_S.
    await sleep((IDLE_S + GRACE_S + 1.5) * 1000);
    assert.ok(alive(daemon), 'the claimed daemon is still running');
    assert.ok(existsSync(`${socket}.warm`), 'and still warm');
    // The late Create: served by the same daemon.
    const r = await ctr.run(['run', '-d', ...flags, image, 'claim-late', 'sleep', '1000']);
    assert.equal(r.code, 0, r.err);
    assert.equal((await shimConnect(cd!, NS, 'claim-late')).shimPid, daemon);
    await ctr.run(['task', 'rm', '-f', 'claim-late']);
    await ctr.run(['containers', 'rm', 'claim-late']);
    // That Create served the claim: the daemon now exits as usual and takes its files along.
    await waitFor('the idle daemon to exit', () => (alive(daemon) ? undefined : true), (IDLE_S + GRACE_S + 10) * 1000);
    assert.equal(existsSync(socket), false);
    assert.equal(existsSync(`${socket}.warm`), false);
    assert.equal(existsSync(`${socket}.claim`), false);
  });
});
