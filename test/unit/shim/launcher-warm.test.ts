// The shell launcher's warm path: with a shared daemon's socket and warm marker in place, `start`
// must answer (address on stdout and in ./address) without starting Node. The marker holds the
// pid with no trailing newline, which once made `read` fail and sent every start to Node.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const launcher = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..', 'bin', 'containerd-shim-ts-v2');
const SOCKET_DIR = '/run/containerd/s';
const skip = process.getuid?.() !== 0 ? 'needs root (the launcher looks in /run/containerd/s)' : undefined;

test('launcher answers start from a warm shared daemon without Node', { skip }, async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'launcher-warm-'));
  const address = path.join(dir, 'containerd.sock');
  const ns = 'launcher-test';
  const sock = path.join(SOCKET_DIR, createHash('sha256').update(`${address}/${ns}/.ts-shared`).digest('hex'));
  const server = net.createServer();
  try {
    mkdirSync(SOCKET_DIR, { recursive: true, mode: 0o700 });
    await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(sock, resolve); });
    writeFileSync(`${sock}.warm`, String(process.pid)); // exactly as the daemon writes it: no newline
    const bundle = path.join(dir, 'bundle');
    mkdirSync(bundle);
    const trace = path.join(dir, 'trace');
    const r = spawnSync('sh', [launcher, '-namespace', ns, '-address', address, '-publish-binary', '/bin/false', '-id', 'c1', 'start'], {
      cwd: bundle, encoding: 'utf8', input: '', env: { ...process.env, CONTAINERD_SHIM_TS_LAUNCH_TRACE: trace }, timeout: 20_000,
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, `unix://${sock}`);
    assert.equal(readFileSync(path.join(bundle, 'address'), 'utf8'), `unix://${sock}`);
    const lines = readFileSync(trace, 'utf8');
    assert.match(lines, / warm$/m);
    assert.doesNotMatch(lines, / full$/m);
    // The claim the daemon's idle exit looks at (docs/architecture.md): written by this start.
    assert.equal(readFileSync(`${sock}.claim`, 'utf8').trim(), String(r.pid));
  } finally {
    rmSync(`${sock}.claim`, { force: true });
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(`${sock}.warm`, { force: true });
    rmSync(sock, { force: true });
    rmSync(dir, { recursive: true, force: true });
  }
});
