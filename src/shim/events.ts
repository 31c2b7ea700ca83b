/**
 * Task events as containerd expects them: topic strings and bare type URLs (events.md §4), built
 * from the process layer's plain events.
 */
import type { DescMessage, MessageInitShape } from '@bufbuild/protobuf';
import type { Any } from '@bufbuild/protobuf/wkt';
import {
  TaskCreateSchema,
  TaskDeleteSchema,
  TaskExecAddedSchema,
  TaskExecStartedSchema,
  TaskExitSchema,
  TaskOOMSchema,
  TaskPausedSchema,
  TaskResumedSchema,
  TaskStartSchema,
} from '../api/containerd/events/task_pb.js';
import { GO_ZERO_TIME, packAny, timestampFromDate } from '../api/typeurl.js';
import { encodeMessage } from '../ttrpc/index.js';
import type { ProcessEvent } from '../process/index.js';
import type { Timestamp } from '@bufbuild/protobuf/wkt';

export const TOPICS = {
  create: '/tasks/create',
  start: '/tasks/start',
  exit: '/tasks/exit',
  delete: '/tasks/delete',
  oom: '/tasks/oom',
  execAdded: '/tasks/exec-added',
  execStarted: '/tasks/exec-started',
  paused: '/tasks/paused',
  resumed: '/tasks/resumed',
} as const;

/** Packs an event into an Any with containerd's bare type URL, through ttrpc's generated codecs. */
export function packEvent<D extends DescMessage>(schema: D, message: MessageInitShape<D>): Any {
  return packAny(schema, message, encodeMessage);
}

/** Go's zero time when a process has no exit time, as the reference always encodes it. */
export function exitTime(date: Date | undefined): Timestamp {
  return date ? timestampFromDate(date) : GO_ZERO_TIME;
}

/** The topic of each kind of process-layer event. */
export const PROCESS_EVENT_TOPICS: Readonly<Record<ProcessEvent['type'], string>> = {
  start: TOPICS.start,
  'exec-started': TOPICS.execStarted,
  exit: TOPICS.exit,
  paused: TOPICS.paused,
  resumed: TOPICS.resumed,
  oom: TOPICS.oom,
};

/** The payload of a process-layer event (its topic is {@link PROCESS_EVENT_TOPICS}). */
export function packProcessEvent(event: ProcessEvent): Any {
  switch (event.type) {
    case 'start':
      return packEvent(TaskStartSchema, { containerId: event.containerId, pid: event.pid });
    case 'exec-started':
      return packEvent(TaskExecStartedSchema, { containerId: event.containerId, execId: event.execId, pid: event.pid });
    case 'exit':
      return packEvent(TaskExitSchema, {
        containerId: event.containerId,
        id: event.id,
        pid: event.pid,
        exitStatus: event.exitStatus,
        exitedAt: exitTime(event.exitedAt),
      });
    case 'paused':
      return packEvent(TaskPausedSchema, { containerId: event.containerId });
    case 'resumed':
      return packEvent(TaskResumedSchema, { containerId: event.containerId });
    case 'oom':
      return packEvent(TaskOOMSchema, { containerId: event.containerId });
  }
}

export { TaskCreateSchema, TaskDeleteSchema, TaskExecAddedSchema };
