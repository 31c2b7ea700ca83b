import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execRefusal, initRefusal, reportedInitStatus, type InitStatus, type InitVerb } from '../../../src/process/state.js';

// The reference's table (task-api.md §4.1), with the FailedPrecondition class instead of Unknown.
const INIT_TABLE: Record<InitStatus, Partial<Record<InitVerb, string>>> = {
  created: {
    pause: 'cannot pause task in created state',
    resume: 'cannot resume task in created state',
    checkpoint: 'cannot checkpoint a task in created state',
  },
  'created-checkpoint': {
    pause: 'cannot pause task in created state',
    resume: 'cannot resume task in created state',
    checkpoint: 'cannot checkpoint a task in created state',
    exec: 'cannot exec in a created state',
  },
  running: {
    start: 'cannot start a running process',
    delete: 'cannot delete a running process',
    resume: 'cannot resume a running process',
  },
  paused: {
    start: 'cannot start a paused process',
    delete: 'cannot delete a paused process',
    pause: 'cannot pause a paused container',
    exec: 'cannot exec in a paused state',
  },
  stopped: {
    start: 'cannot start a stopped process',
    pause: 'cannot pause a stopped container',
    resume: 'cannot resume a stopped container',
    update: 'cannot update a stopped container',
    checkpoint: 'cannot checkpoint a stopped container',
    exec: 'cannot exec in a stopped state',
  },
  deleted: {
    delete: 'cannot delete a deleted process',
    start: 'cannot start a deleted process',
    pause: 'cannot pause a deleted process',
    resume: 'cannot resume a deleted process',
    update: 'cannot update a deleted process',
    checkpoint: 'cannot checkpoint a deleted process',
    exec: 'cannot exec in a deleted state',
  },
};
const VERBS: InitVerb[] = ['start', 'delete', 'pause', 'resume', 'update', 'checkpoint', 'exec'];

test('init state machine: every cell matches the reference text', () => {
  for (const [status, refusals] of Object.entries(INIT_TABLE) as [InitStatus, Partial<Record<InitVerb, string>>][]) {
    for (const verb of VERBS) {
      const refusal = initRefusal(verb, status);
      const expected = refusals[verb];
      if (expected === undefined) assert.equal(refusal, undefined, `${verb} in ${status} should be allowed`);
      else {
        assert.ok(refusal, `${verb} in ${status} should be refused`);
        assert.equal(refusal.message, expected);
        assert.equal(refusal.kind, status === 'deleted' && verb === 'delete' ? 'not-found' : 'failed-precondition');
      }
    }
  }
});

test('exec state machine', () => {
  assert.equal(execRefusal('start', 'created'), undefined);
  assert.equal(execRefusal('delete', 'created'), undefined);
  assert.equal(execRefusal('start', 'running')?.message, 'cannot start a running process');
  assert.equal(execRefusal('delete', 'running')?.message, 'cannot delete a running process');
  assert.equal(execRefusal('resize', 'stopped')?.message, 'cannot resize a stopped container');
  assert.equal(execRefusal('delete', 'stopped'), undefined);
  assert.equal(execRefusal('start', 'deleted')?.kind, 'not-found');
});

test('reported status', () => {
  assert.equal(reportedInitStatus('created-checkpoint', false), 'created');
  assert.equal(reportedInitStatus('running', true), 'pausing');
  assert.equal(reportedInitStatus('deleted', false), 'stopped');
});
