/**
 * The typed OCI runtime client (runc, crun, runsc), its process monitor and console socket.
 * Usable on its own: see docs/runtime-client.md.
 */
export * from './types.js';
export * from './errors.js';
export * from './options.js';
export * from './validate.js';
export * from './version.js';
export * from './json-stream.js';
export * from './monitor.js';
export * from './console-socket.js';
export * from './runtime.js';
export { crunNeedsPrivateNamespace } from './crun-hybrid.js';
export { runscHasContainer, RUNSC_DEFAULT_ROOT } from './runsc-ids.js';
export { SealedCopies, sealedCopies } from './sealed-binary.js';
export { everySecond } from './second-ticker.js';
