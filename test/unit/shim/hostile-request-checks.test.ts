// Hostile request fields refused before anything touches the file system (request-checks.ts),
// and containerd's identifier rule applied to ids that become file names.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bundleParentProblem, stdioProblem, stdioUriProblem } from '../../../src/shim/request-checks.js';
import { identifierProblem } from '../../../src/process/identifiers.js';

test('stdio: plain paths, empty fields and the three schemes pass', () => {
  for (const v of ['', '/run/containerd/fifo/x/stdout', 'fifo:///a', 'file:///var/log/x', 'binary:///bin/logger?id=1']) {
    assert.equal(stdioUriProblem('stdout', v), undefined, v);
  }
});

test('stdio: unknown schemes, NUL and unparsable URIs are refused', () => {
  assert.match(stdioUriProblem('stdout', 'tcp://1.2.3.4:5')!, /unknown STDIO scheme tcp/);
  assert.match(stdioUriProblem('stderr', 'weird-scheme://nowhere')!, /unknown STDIO scheme weird-scheme/);
  assert.match(stdioUriProblem('stdin', '/a\u0000b')!, /NUL/);
  assert.match(stdioUriProblem('stdout', 'file://[bad')!, /invalid STDIO URI/);
  assert.match(stdioProblem({ stdin: '', stdout: '', stderr: 'ftp://x' })!, /^stderr/);
});

test('bundle: only siblings of the first bundle, nothing when the directory is unknown', () => {
  const parent = '/state/io.containerd.runtime.v2.task/ns';
  assert.equal(bundleParentProblem(`${parent}/task1`, parent), undefined);
  assert.match(bundleParentProblem('/tmp/evil/ns/task1', parent)!, /outside the task state directory/);
  assert.match(bundleParentProblem(`${parent}/a/b`, parent)!, /outside/);
  assert.equal(bundleParentProblem('/anywhere/ns/x', undefined), undefined);
});

test('identifiers: /, .., NUL, empty and 1,000 characters are refused; containerd-style ids pass', () => {
  for (const bad of ['a/b', '..', '../../etc', 'a\u0000b', '', 'x'.repeat(1000), '-a', 'a..b', 'a b']) {
    assert.notEqual(identifierProblem(bad), undefined, JSON.stringify(bad));
  }
  for (const good of ['a', 'abc-123', 'a.b_c-d', 'x'.repeat(76)]) assert.equal(identifierProblem(good), undefined, good);
  assert.notEqual(identifierProblem('x'.repeat(77)), undefined);
});
