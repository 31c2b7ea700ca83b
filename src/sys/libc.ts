/**
 * The one handle on the C library that every native call in `sys/` goes through.
 *
 * koffi ships prebuilt binaries inside its npm package (no install script, no compiler), which is
 * why it was chosen over a node-gyp addon; see docs/native.md. The library is loaded lazily so
 * that code paths which never make a native call (the shim's `start`) do not pay for it.
 */
import { createRequire } from 'node:module';
import type * as Koffi from 'koffi';

const require = createRequire(import.meta.url);

let koffiModule: typeof Koffi | undefined;
let libcHandle: Koffi.LibraryHandle | undefined;

/** The koffi module, loaded on first use. */
export function koffi(): typeof Koffi {
  koffiModule ??= require('koffi') as typeof Koffi;
  return koffiModule;
}

/** glibc, loaded on first use. */
export function libc(): Koffi.LibraryHandle {
  libcHandle ??= koffi().load('libc.so.6');
  return libcHandle;
}

/** The calling thread's errno after a failed libc call (koffi exposes it via `errno()`). */
export function lastErrno(): number {
  return koffi().errno();
}

/** A bound libc function as koffi returns it (koffi does not export this type by name). */
export type NativeFunction = ReturnType<Koffi.LibraryHandle['func']>;
