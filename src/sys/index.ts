/**
 * The native calls Node lacks, behind one import. Everything here is synchronous and thin; the
 * reasoning for each call and for koffi is in docs/native.md.
 */
export { koffi, libc, lastErrno } from './libc.js';
export * from './errors.js';
export * from './process.js';
export * from './socket.js';
export * from './mount.js';
export * from './eventfd.js';
export * from './pipes.js';
export * from './tty.js';
export * from './flock.js';
export * from './spawn.js';
export * from './memfd.js';
