/**
 * The state machines of the init process and of exec processes (task-api.md §4), as exhaustive
 * switches: adding a state or a verb without deciding every cell fails to compile.
 *
 * Refusals use the reference shim's texts (clients match on them) but the FailedPrecondition class.
 */
import { ProcessError, stateRefusal } from './errors.js';

/** Where an init process is. `created-checkpoint` reports as created; `deleted` is only seen by racing calls. */
export type InitStatus = 'created' | 'created-checkpoint' | 'running' | 'paused' | 'stopped' | 'deleted';

/** Where an exec process is. */
export type ExecStatus = 'created' | 'running' | 'stopped' | 'deleted';

/** Verbs whose legality depends on the init's state. Kill is always legal for the init (the runtime decides). */
export type InitVerb = 'start' | 'delete' | 'pause' | 'resume' | 'update' | 'checkpoint' | 'exec';

/** Verbs whose legality depends on an exec's state. */
export type ExecVerb = 'start' | 'delete' | 'resize';

/** Returns the refusal for `verb` in `status`, or undefined when the verb may proceed. */
export function initRefusal(verb: InitVerb, status: InitStatus): ProcessError | undefined {
  switch (status) {
    case 'created':
      switch (verb) {
        case 'start': case 'delete': case 'update': case 'exec': return undefined;
        case 'pause': return stateRefusal('cannot pause task in created state');
        case 'resume': return stateRefusal('cannot resume task in created state');
        case 'checkpoint': return stateRefusal('cannot checkpoint a task in created state');
      }
      return assertNever(verb);
    case 'created-checkpoint':
      switch (verb) {
        case 'start': case 'delete': case 'update': return undefined;
        case 'pause': return stateRefusal('cannot pause task in created state');
        case 'resume': return stateRefusal('cannot resume task in created state');
        case 'checkpoint': return stateRefusal('cannot checkpoint a task in created state');
        case 'exec': return stateRefusal('cannot exec in a created state');
      }
      return assertNever(verb);
    case 'running':
      switch (verb) {
        case 'pause': case 'update': case 'checkpoint': case 'exec': return undefined;
        case 'start': return stateRefusal('cannot start a running process');
        case 'delete': return stateRefusal('cannot delete a running process');
        case 'resume': return stateRefusal('cannot resume a running process');
      }
      return assertNever(verb);
    case 'paused':
      switch (verb) {
        case 'resume': case 'update': case 'checkpoint': return undefined;
        case 'start': return stateRefusal('cannot start a paused process');
        case 'delete': return stateRefusal('cannot delete a paused process');
        case 'pause': return stateRefusal('cannot pause a paused container');
        case 'exec': return stateRefusal('cannot exec in a paused state');
      }
      return assertNever(verb);
    case 'stopped':
      switch (verb) {
        case 'delete': return undefined;
        case 'start': return stateRefusal('cannot start a stopped process');
        case 'pause': return stateRefusal('cannot pause a stopped container');
        case 'resume': return stateRefusal('cannot resume a stopped container');
        case 'update': return stateRefusal('cannot update a stopped container');
        case 'checkpoint': return stateRefusal('cannot checkpoint a stopped container');
        case 'exec': return stateRefusal('cannot exec in a stopped state');
      }
      return assertNever(verb);
    case 'deleted':
      switch (verb) {
        case 'delete': return new ProcessError('not-found', 'cannot delete a deleted process');
        case 'exec': return stateRefusal('cannot exec in a deleted state');
        case 'start': case 'pause': case 'resume': case 'update': case 'checkpoint':
          return stateRefusal(`cannot ${verb} a deleted process`);
      }
      return assertNever(verb);
  }
  return assertNever(status);
}

/** Returns the refusal for `verb` on an exec in `status`, or undefined when it may proceed. */
export function execRefusal(verb: ExecVerb, status: ExecStatus): ProcessError | undefined {
  switch (status) {
    case 'created':
      return verb === 'start' || verb === 'delete' || verb === 'resize' ? undefined : assertNever(verb);
    case 'running':
      switch (verb) {
        case 'start': return stateRefusal('cannot start a running process');
        case 'delete': return stateRefusal('cannot delete a running process');
        case 'resize': return undefined;
      }
      return assertNever(verb);
    case 'stopped':
      switch (verb) {
        case 'start': return stateRefusal('cannot start a stopped process');
        case 'delete': return undefined;
        case 'resize': return stateRefusal('cannot resize a stopped container');
      }
      return assertNever(verb);
    case 'deleted':
      return new ProcessError('not-found', `cannot ${verb} a deleted process`);
  }
  return assertNever(status);
}

/** The containerd status word a State reply reports for an init status. */
export function reportedInitStatus(status: InitStatus, pausing: boolean): 'created' | 'running' | 'paused' | 'pausing' | 'stopped' {
  if (pausing) return 'pausing';
  switch (status) {
    case 'created': case 'created-checkpoint': return 'created';
    case 'running': return 'running';
    case 'paused': return 'paused';
    case 'stopped': case 'deleted': return 'stopped';
  }
  return assertNever(status);
}

function assertNever(value: never): never {
  throw new Error(`unhandled state ${String(value)}`);
}
