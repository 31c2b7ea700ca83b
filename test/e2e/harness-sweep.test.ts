// The harness's last-resort sweep (harness/cleanup.ts) must find what a failed test leaves in a
// runtime root: for runsc that includes the per-pod roots `<root>/<namespace>/<pod key>` our shim
// uses (src/shim/runsc-root.ts), and runsc must be recognised by what `--version` prints, not by
// its file name (here it is reached through a symlink with another name).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runtimeKindOf, runtimeStateRoots, sweepRuntimeRoot } from './harness/index.js';
import { bundleUnavailable, createBusyboxBundle, hasBinary } from '../fixtures/bundle.js';

function which(binary: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${binary}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

function list(binary: string, root: string): string[] {
  const r = spawnSync(binary, ['--root', root, 'list', '-quiet'], { encoding: 'utf8', timeout: 10_000 });
  return r.stdout.split('\n').map((s) => s.trim()).filter(Boolean);
}

const skip = bundleUnavailable() ?? (hasBinary('runsc') ? undefined : 'runsc is not installed');

test('sweepRuntimeRoot removes runsc containers from per-pod roots, runsc known by --version', { skip: skip ?? false, timeout: 120_000 }, () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'e2e-sweep-'));
  const bundle = createBusyboxBundle({ args: ['sleep', '300'] });
  const runsc = which('runsc')!;
  // A name that says nothing: only `--version` tells what it is.
  const alias = path.join(tmp, 'oci-runtime');
  symlinkSync(runsc, alias);
  const root = path.join(tmp, 'root');
  const podRoot = path.join(root, 'default', 'pod-a');
  mkdirSync(podRoot, { recursive: true });
  const id = `sweep-${process.pid}`;
  try {
    assert.equal(runtimeKindOf(alias), 'runsc');
    // stderr to a file, not a pipe: the sandbox inherits it and would keep a pipe open for good.
    const errFile = path.join(tmp, 'create.err');
    const errFd = openSync(errFile, 'w');
    let created;
    try {
      created = spawnSync(runsc, ['--root', podRoot, '--network=none', 'create', '--bundle', bundle.dir, id], { stdio: ['ignore', 'ignore', errFd], timeout: 60_000 });
    } finally {
      closeSync(errFd);
    }
    assert.equal(created.status, 0, `runsc create: ${readFileSync(errFile, 'utf8')}`);
    assert.deepEqual(list(runsc, podRoot), [id]);
    assert.deepEqual(runtimeStateRoots({ binary: alias, root }), [path.join(root, 'default'), podRoot]);

    const removed = sweepRuntimeRoot({ binary: alias, root });

    assert.deepEqual(removed, [`default/pod-a/${id}`]);
    assert.deepEqual(list(runsc, podRoot), []);
  } finally {
    spawnSync(runsc, ['--root', podRoot, 'delete', '--force', id], { stdio: 'ignore', timeout: 30_000 });
    bundle.remove();
    rmSync(tmp, { recursive: true, force: true });
  }
});
