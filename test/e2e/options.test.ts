// Runtime selection the way containerd really passes it to io.containerd.ts.v2 (README, "Choosing
// runc, crun or runsc"):
// - `ctr run --runtime io.containerd.ts.v2` sends no options at all: the shim reads the default
//   config file, which $CONTAINERD_SHIM_TS_CONFIG names (containerd passes its environment on to
//   shims; tests never write /etc/containerd-shim-ts/config.toml), else runc on PATH;
// - `ctr run --runtime-config-path <file>` sends runtimeoptions.v1.Options{config_path}: that file
//   wins over the default one;
// - a bad file (wrong type, unknown key, TOML syntax, missing file) fails the create with an error
//   that names the file and the key or line.
// The reference shim has no equivalent (ctr ignores --runtime-config-path for runc.v2), so these
// checks are absolute; CRI's TypeUrl/ConfigPath path is covered by test/e2e/cri.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Containerd, busyboxImage, e2eSkipReason, sleep, tsShimSkipReason, type Ctr } from './harness/index.js';

const NS = 'opts';

describe('runtime options and config files', { skip: e2eSkipReason() ?? tsShimSkipReason() ?? false }, () => {
  let cd: Containerd | undefined;
  let image = '';
  let confDir = '';
  let defaultFile = '';

  before(async () => {
    confDir = mkdtempSync(path.join(os.tmpdir(), 'shim-opts-'));
    defaultFile = path.join(confDir, 'default.toml');
    writeFileSync(defaultFile, '');
    // containerd hands its environment to the shims it starts: this is how an operator points the
    // shim elsewhere. (The file is rewritten per test, so it is named here, not via shimHostConfig.)
    cd = await Containerd.start({ namespace: NS, extraEnv: { CONTAINERD_SHIM_TS_CONFIG: defaultFile } });
    image = await cd.importImage(busyboxImage());
  }, { timeout: 120_000 });

  after(async () => {
    await cd?.stop();
    if (confDir) rmSync(confDir, { recursive: true, force: true });
    // runc leaves the namespace's empty parent cgroups behind; rmdir removes only empty ones.
    for (const c of existsSync('/sys/fs/cgroup') ? readdirSync('/sys/fs/cgroup') : []) {
      try { rmdirSync(path.join('/sys/fs/cgroup', c, NS)); } catch { /* absent or in use */ }
    }
  }, { timeout: 120_000 });

  const ctr = (): Ctr => cd!.ctr;
  const newId = (name: string): string => `${name}-${randomBytes(3).toString('hex')}`;

  /** `ctr run -d … sleep 1000`, then the runc state of the container under `root/<ns>`. */
  async function runDetachedAndState(id: string, extra: readonly string[], root: string): Promise<{ status?: string; pid?: number }> {
    await ctr().ok(['run', '-d', '--runtime', 'io.containerd.ts.v2', ...extra, image, id, 'sleep', '1000']);
    try {
      for (let i = 0; i < 100; i++) {
        const st = spawnSync('runc', ['--root', path.join(root, NS), 'state', id], { encoding: 'utf8' });
        if (st.status === 0) return JSON.parse(st.stdout) as { status?: string; pid?: number };
        await sleep(50);
      }
      return {};
    } finally {
      await ctr().run(['task', 'kill', '-s', 'SIGKILL', id]);
      for (let i = 0; i < 100 && (await ctr().taskStatus(id)) === 'RUNNING'; i++) await sleep(50);
      await ctr().run(['task', 'rm', '-f', id]);
      await ctr().run(['containers', 'rm', id]);
    }
  }

  /** A run that must fail; returns ctr's stderr. */
  async function failingRun(id: string, extra: readonly string[]): Promise<string> {
    const r = await ctr().run(['run', '--rm', '--runtime', 'io.containerd.ts.v2', ...extra, image, id, 'true']);
    await ctr().run(['containers', 'rm', id]);
    assert.notEqual(r.code, 0, `ctr run ${id} should have failed: ${r.out}`);
    return r.err;
  }

  test('no options: an empty default file means runc on PATH', async () => {
    writeFileSync(defaultFile, '# nothing set\n');
    const r = await ctr().run(['run', '--rm', '--runtime', 'io.containerd.ts.v2', image, newId('dflt'), 'sh', '-c', 'echo plain; exit 2']);
    assert.equal(r.code, 2, r.err);
    assert.equal(r.out, 'plain\n');
  });

  test('no options: the default file named by $CONTAINERD_SHIM_TS_CONFIG chooses the runtime and its root', async () => {
    const root = cd!.runtimeRoot('runc', 'opts-default');
    writeFileSync(defaultFile, `binary_name = "runc"\nroot = ${JSON.stringify(root)}\n`);
    const id = newId('envfile');
    const state = await runDetachedAndState(id, [], root);
    assert.equal(state.status, 'running', `the container should live under ${root}/${NS}`);
    assert.ok((state.pid ?? 0) > 0);
  });

  test('--runtime-config-path (runtimeoptions.v1.Options) wins over the default file', async () => {
    const defaultRoot = cd!.runtimeRoot('runc', 'opts-default');
    const explicitRoot = cd!.runtimeRoot('runc', 'opts-explicit');
    writeFileSync(defaultFile, `root = ${JSON.stringify(defaultRoot)}\n`);
    const explicit = path.join(confDir, 'explicit.toml');
    writeFileSync(explicit, `binary_name = "runc"\nroot = ${JSON.stringify(explicitRoot)}\nruntime_args = []\n`);
    const id = newId('explicit');
    const state = await runDetachedAndState(id, ['--runtime-config-path', explicit], explicitRoot);
    assert.equal(state.status, 'running');
    const inDefault = spawnSync('runc', ['--root', path.join(defaultRoot, NS), 'state', id], { encoding: 'utf8' });
    assert.notEqual(inDefault.status, 0, 'the container must not be under the default file\'s root');
  });

  test('a key of the wrong type: the error names the file and the key', async () => {
    writeFileSync(defaultFile, '');
    const bad = path.join(confDir, 'wrong-type.toml');
    writeFileSync(bad, 'binary_name = 42\n');
    const err = await failingRun(newId('badtype'), ['--runtime-config-path', bad]);
    assert.ok(err.includes(bad), err);
    assert.match(err, /binary_name must be a string/);
    assert.match(err, /invalid argument/);
  });

  test('an unknown key is an error (documented: typos must not pass silently)', async () => {
    const bad = path.join(confDir, 'typo.toml');
    writeFileSync(bad, 'binary_nmae = "crun"\n');
    const err = await failingRun(newId('typo'), ['--runtime-config-path', bad]);
    assert.ok(err.includes(bad), err);
    assert.match(err, /unknown key binary_nmae/);
  });

  test('a TOML syntax error names the file and the line', async () => {
    const bad = path.join(confDir, 'syntax.toml');
    writeFileSync(bad, '# ok\nroot = "/x"\nthis is not toml\n');
    const err = await failingRun(newId('syntax'), ['--runtime-config-path', bad]);
    assert.ok(err.includes(bad), err);
    assert.match(err, /line 3/);
  });

  test('a broken default file fails the create the same way', async () => {
    writeFileSync(defaultFile, 'systemd_cgroup = "yes"\n');
    try {
      const err = await failingRun(newId('baddefault'), []);
      assert.ok(err.includes(defaultFile), err);
      assert.match(err, /systemd_cgroup must be a boolean/);
    } finally {
      writeFileSync(defaultFile, '');
    }
  });

  test('a config path that does not exist names the file', async () => {
    const missing = path.join(confDir, 'missing.toml');
    const err = await failingRun(newId('missing'), ['--runtime-config-path', missing]);
    assert.ok(err.includes(missing), err);
    assert.match(err, /ENOENT|no such file/i);
  });

  test('a binary_name that does not exist: the error names the binary', async () => {
    const bad = path.join(confDir, 'nobinary.toml');
    writeFileSync(bad, 'binary_name = "no-such-oci-runtime"\n');
    const err = await failingRun(newId('nobin'), ['--runtime-config-path', bad]);
    assert.match(err, /no-such-oci-runtime/);
  });
});
