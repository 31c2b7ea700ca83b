// Argv rendering, validation, log decoding, kill classification and version parsing (no runtime run).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  classifyKillError, lastLogError, parseLogRecords, parseVersion, renderCheckpoint, renderCreate, renderExec, renderGlobalArgs,
  renderKill, renderRestore, RuntimeArgumentError, RuntimeError, runtimeFailureMessage,
} from '../../../src/runtime/index.js';

const err = (output: string, logError?: string): RuntimeError =>
  new RuntimeError({ binary: 'runc', args: ['kill'], exitStatus: 1, output, stderr: output, logError, logReadError: undefined, stdioAttached: false });

test('global args in the reference order; runsc flags only for runsc; criu only for runc', () => {
  const config = { binary: 'x', root: '/run/r/ns', log: '/b/log.json', logFormat: 'json' as const, criu: '/usr/sbin/criu', systemdCgroup: true, runsc: { network: 'none' as const, platform: 'ptrace' }, extraGlobalArgs: ['--debug-log=/tmp/x'] };
  assert.deepEqual(renderGlobalArgs(config, 'runc'), ['--root', '/run/r/ns', '--log', '/b/log.json', '--log-format', 'json', '--criu', '/usr/sbin/criu', '--systemd-cgroup', '--debug-log=/tmp/x']);
  assert.deepEqual(renderGlobalArgs(config, 'runsc'), ['--root', '/run/r/ns', '--log', '/b/log.json', '--log-format', 'json', '--systemd-cgroup', '--platform=ptrace', '--network=none', '--debug-log=/tmp/x']);
});

test('create drops --no-pivot/--no-new-keyring for runsc', () => {
  const o = { bundle: '/b', pidFile: '/b/init.pid', consoleSocket: '/s', noPivot: true, noNewKeyring: true };
  assert.deepEqual(renderCreate('c1', o, 'runc'), ['create', '--bundle', '/b', '--pid-file', '/b/init.pid', '--console-socket', '/s', '--no-pivot', '--no-new-keyring', 'c1']);
  assert.deepEqual(renderCreate('c1', o, 'runsc'), ['create', '--bundle', '/b', '--pid-file', '/b/init.pid', '--console-socket', '/s', 'c1']);
});

test('exec, kill, checkpoint, restore argv', () => {
  assert.deepEqual(renderExec('c', '/tmp/p.json', { consoleSocket: '/s', detach: true, pidFile: '/b/e.pid' }, 'runc'), ['exec', '--process', '/tmp/p.json', '--console-socket', '/s', '--detach', '--pid-file', '/b/e.pid', 'c']);
  assert.throws(() => renderExec('c', '/p', { internalPidFile: '/i' }, 'runc'), RuntimeArgumentError);
  assert.deepEqual(renderKill('c', 9, { all: true }, 'runc'), ['kill', '--all', 'c', '9']);
  assert.deepEqual(renderKill('c', 15, { pid: 3 }, 'runsc'), ['kill', '--pid', '3', 'c', '15']);
  assert.throws(() => renderKill('c', 99, {}, 'runc'), RuntimeArgumentError);
  assert.deepEqual(
    renderCheckpoint('c', { imagePath: '/i', workPath: '/w', tcpEstablished: true, extUnixSk: true, shellJob: true, fileLocks: true, emptyNamespaces: ['network'], leaveRunning: true }, 'runc'),
    ['checkpoint', '--image-path', '/i', '--work-path', '/w', '--tcp-established', '--ext-unix-sk', '--shell-job', '--file-locks', '--empty-ns', 'network', '--leave-running', 'c'],
  );
  assert.deepEqual(
    renderRestore('c', { imagePath: '/i', workPath: '/w', detach: true, pidFile: '/b/init.pid', noSubreaper: true, bundle: '/b' }, 'runc'),
    ['restore', '--image-path', '/i', '--work-path', '/w', '--detach', '--pid-file', '/b/init.pid', '-no-subreaper', '--bundle', '/b', 'c'],
  );
});

test('ids and paths are validated', () => {
  for (const bad of ['', '-x', '../a', 'a/b', 'a b', 'x\0']) assert.throws(() => renderKill(bad, 9, {}, 'runc'), RuntimeArgumentError, bad);
  assert.throws(() => renderCreate('c', { bundle: 'rel' }, 'runc'), RuntimeArgumentError);
});

test('log decoding: concatenated values (runsc), last error wins, garbage throws', () => {
  const runsc = '{"msg":"first","level":"error","time":"t"}{"msg":"debug","level":"debug"}{"msg":" last \\n","level":"error","time":"t"}';
  assert.equal(lastLogError(parseLogRecords(runsc)), 'last');
  assert.equal(lastLogError(parseLogRecords('{"level":"warning","msg":"w"}\n')), undefined);
  assert.throws(() => parseLogRecords('{"level":"error"} garbage'), SyntaxError);
});

test('runtimeFailureMessage and kill classification', () => {
  assert.equal(runtimeFailureMessage('OCI runtime start failed', err('x\n', 'container not running')), 'OCI runtime start failed: container not running');
  assert.equal(runtimeFailureMessage('P', err('boom\n')), 'P: runc did not terminate successfully: exit status 1: boom\n');
  assert.equal(classifyKillError(err('container not running\n')), 'already-finished');
  assert.equal(classifyKillError(err('kill container: No such process\n')), 'already-finished');
  assert.equal(classifyKillError(err('container does not exist\n')), 'not-found');
  assert.equal(classifyKillError(err('sandbox is not running\n')), 'unknown');
});

test('runtime kind from --version output, not the file name', () => {
  assert.equal(parseVersion('runc version 1.1.5+ds1\ncommit: c\nspec: 1.0.2-dev\n')?.kind, 'runc');
  assert.equal(parseVersion('crun version 1.8.1\ncommit: f8a\nrundir: /run/crun\nspec: 1.0.0\n')?.version, '1.8.1');
  assert.equal(parseVersion('runsc version 0.0~20221219.0\nspec: 1.0.2-dev\n')?.kind, 'runsc');
  assert.equal(parseVersion('youki 0.1'), undefined);
});
