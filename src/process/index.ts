/** The process layer: containers, init and exec processes as state machines, rootfs mounts. */
export { Container, type CreateContainerRequest, type ContainerServices } from './container.js';
export { parseProcCgroup, readCgroupPaths, type CgroupPaths } from './cgroup-paths.js';
export type { CheckpointRequest } from './init-process.js';
export { ProcessError, type ErrorKind, containerNotFound, invalidArgument } from './errors.js';
export { identifierProblem, MAX_IDENTIFIER_LENGTH } from './identifiers.js';
export { mountAll, unmountAll, parseMountOptions, type MountSpec } from './rootfs.js';
export type { DeleteResult, EventSink, ExitRecord, Logger, ProcessEvent, ProcessListing, ProcessState, RuntimeSettings, StdioConfig } from './types.js';
