import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigFileError, parseToml, shimConfigFromToml } from '../../../src/shim/config-file.js';

test('parses the documented config', () => {
  const doc = parseToml(`
# choose gVisor
binary_name = "runsc"   # on PATH
root = '/run/containerd/runsc'
runtime_args = [
  "--platform=ptrace",
]
systemd_cgroup = false
io_uid = 1000

[runsc_config]
network = "none"
debug = true
`);
  const config = shimConfigFromToml(doc);
  assert.equal(config.binaryName, 'runsc');
  assert.equal(config.root, '/run/containerd/runsc');
  assert.deepEqual(config.runtimeArgs, ['--platform=ptrace', '--network=none', '--debug=true']);
  assert.equal(config.systemdCgroup, false);
  assert.equal(config.ioUid, 1000);
});

test('bad config is a clear error', () => {
  assert.throws(() => shimConfigFromToml(parseToml('binary = "runc"')), /unknown key binary/);
  assert.throws(() => shimConfigFromToml(parseToml('root = 5')), /root must be a string/);
  assert.throws(() => parseToml('root = "unterminated'), ConfigFileError);
  assert.throws(() => parseToml('just words'), /line 1: expected key = value/);
});
