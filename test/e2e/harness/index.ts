// The end-to-end harness: a private containerd, ctr, an event recorder, a local busybox image,
// runtime selection and differential comparison. test/e2e/**/*.test.ts import from here.
export * from './command.js';
export * from './paths.js';
export * from './tar.js';
export * from './oci-image.js';
export * from './ctr.js';
export * from './cleanup.js';
export * from './containerd.js';
export * from './events.js';
export * from './runtimes.js';
export * from './host.js';
export * from './compare.js';
export * from './differential.js';
export * from './shim-task.js';
