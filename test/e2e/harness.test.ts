// The harness itself: the tar writer is readable by GNU tar, the busybox image imports and runs,
// and stopping a containerd leaves no process, mount or directory behind.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Containerd, busyboxImage, e2eSkipReason, mountsUnder, parseEventLine, pidsWithArgument, runtimeFlags, REFERENCE, writeTar } from './harness/index.js';

test('writeTar output is read back by tar, long names and symlinks included', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'shim-e2e-tar-'));
  try {
    const long = `${'d'.repeat(80)}/${'e'.repeat(60)}/file.txt`;
    const archive = writeTar([
      { type: 'dir', name: 'a' },
      { type: 'file', name: 'a/hello', data: Buffer.from('hello\n'), mode: 0o755 },
      { type: 'symlink', name: 'a/link', target: '/a/hello' },
      { type: 'file', name: long, data: Buffer.alloc(1000, 0x41) },
    ]);
    assert.equal(archive.length % 512, 0);
    writeFileSync(path.join(dir, 'x.tar'), archive);
    const r = spawnSync('tar', ['-xf', 'x.tar'], { cwd: dir, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(readFileSync(path.join(dir, 'a/hello'), 'utf8'), 'hello\n');
    assert.equal(spawnSync('readlink', [path.join(dir, 'a/link')], { encoding: 'utf8' }).stdout.trim(), '/a/hello');
    assert.equal(readFileSync(path.join(dir, long)).length, 1000);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('parseEventLine reads ctr events lines', () => {
  const e = parseEventLine('2026-12-01 07:40:35.500128946 +0000 UTC default /tasks/exit {"container_id":"c","id":"c","pid":9,"exit_status":5}');
  assert.deepEqual(e, { timestamp: '2026-12-01 07:40:35.500128946 +0000 UTC', namespace: 'default', topic: '/tasks/exit',
    event: { container_id: 'c', id: 'c', pid: 9, exit_status: 5 } });
  assert.equal(parseEventLine('not an event'), undefined);
});

describe('private containerd', { skip: e2eSkipReason() ?? false }, () => {
  test('the busybox image is cached by content and stable', () => {
    const a = busyboxImage();
    const b = busyboxImage();
    assert.equal(a.path, b.path);
    assert.equal(a.manifestDigest, b.manifestDigest);
    const list = spawnSync('tar', ['-tf', a.path], { encoding: 'utf8' });
    assert.equal(list.status, 0);
    assert.ok(list.stdout.includes('oci-layout') && list.stdout.includes('index.json'));
  });

  test('start, import, run, stop leaves nothing behind', { timeout: 120_000 }, async () => {
    const cd = await Containerd.start();
    let dir = cd.dir;
    try {
      dir = cd.dir;
      const image = await cd.importImage(busyboxImage());
      const imgs = await cd.ctr.ok(['images', 'ls', '-q']);
      assert.ok(imgs.out.split('\n').includes(image), imgs.out);
      // A detached task is left running on purpose: stop() must clean it up.
      const r = await cd.ctr.run(['run', '-d', ...runtimeFlags(cd, REFERENCE), image, 'left-running', 'sleep', '1000']);
      assert.equal(r.code, 0, r.err);
      assert.equal(await cd.ctr.taskStatus('left-running'), 'RUNNING');
      assert.ok(mountsUnder(dir).length > 0, 'the running container has its rootfs mounted under the temp dir');
      assert.ok(pidsWithArgument(cd.address).length > 0, 'a shim serves the task');
    } finally {
      await cd.stop();
    }
    assert.deepEqual(pidsWithArgument(cd.address), []);
    assert.deepEqual(mountsUnder(dir), []);
    assert.equal(existsSync(dir), false);
  });
});
