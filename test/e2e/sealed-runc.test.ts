// The shared daemon runs runc from a sealed in-memory copy (runtime/sealed-binary.ts): through a
// real containerd, the daemon holds the copy once it has run runc, execs behave as from disk, and
// CONTAINERD_SHIM_TS_SEALED_RUNC=0 keeps the daemon on the file.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readlinkSync } from 'node:fs';
import { TS_RUNC, runtimeFlags, runtimeSkipReason, sleep, useContainerd } from './harness/index.js';
import { pidsByArgv } from '../fixtures/procfs.js';

/** Links of the memfds our daemons for `address` hold open. */
function daemonMemfds(address: string): string[] {
  const daemons = pidsByArgv((argv) => argv.includes(address) && argv.some((a) => a.includes('containerd-shim-ts-v2')));
  const links: string[] = [];
  for (const pid of daemons) {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        const link = readlinkSync(`/proc/${pid}/fd/${fd}`);
        if (link.startsWith('/memfd:')) links.push(link);
      } catch {
        // closed meanwhile
      }
    }
  }
  return links;
}

for (const [title, env, expectCopy] of [
  ['the shared daemon (default)', {}, true],
  ['CONTAINERD_SHIM_TS_SEALED_RUNC=0', { CONTAINERD_SHIM_TS_SEALED_RUNC: '0' }, false],
] as const) {
  describe(`sealed runc copy: ${title}`, { skip: runtimeSkipReason(TS_RUNC) ?? false }, () => {
    const suite = useContainerd({ namespace: 'e2e', extraEnv: env });

    test(expectCopy ? 'holds one copy of runc, and exec works through it' : 'holds no copy, and exec works', { timeout: 120_000 }, async () => {
      const c = suite.cd;
      const id = `sealed-${expectCopy ? 'on' : 'off'}`;
      const r = await c.ctr.run(['run', '-d', ...runtimeFlags(c, TS_RUNC), suite.image, id, 'sleep', '1000']);
      assert.equal(r.code, 0, r.err);
      try {
        // The copy is made in the background after the first runc call (the create above).
        let links = daemonMemfds(c.address);
        for (let i = 0; i < 50 && expectCopy && links.length === 0; i++) {
          await sleep(50);
          links = daemonMemfds(c.address);
        }
        if (expectCopy) assert.deepEqual(links.map((l) => l.replace(/ \(deleted\)$/, '')), ['/memfd:runc']);
        else assert.deepEqual(links, []);
        for (let i = 0; i < 3; i++) {
          const e = await c.ctr.run(['task', 'exec', '--exec-id', `x${i}`, id, 'sh', '-c', `echo sealed-${i}; exit ${i + 2}`]);
          assert.equal(e.code, i + 2, e.err);
          assert.equal(e.out, `sealed-${i}\n`);
        }
        assert.equal(daemonMemfds(c.address).length, expectCopy ? 1 : 0, 'still one copy after the execs');
      } finally {
        await c.ctr.run(['task', 'kill', '-s', 'SIGKILL', id]);
        for (let i = 0; i < 50 && (await c.ctr.taskStatus(id)) !== 'STOPPED'; i++) await sleep(100);
        await c.ctr.run(['task', 'rm', id]);
        await c.ctr.run(['containers', 'rm', id]);
      }
    });
  });
}
