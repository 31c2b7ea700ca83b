/** Version and build information, filled in by the bundler (`npm run build`). */
declare const __SHIM_VERSION__: string | undefined;
declare const __SHIM_REVISION__: string | undefined;

export const VERSION = typeof __SHIM_VERSION__ === 'string' ? __SHIM_VERSION__ : '0.0.0-dev';
export const REVISION = typeof __SHIM_REVISION__ === 'string' ? __SHIM_REVISION__ : 'unknown';

/** What `-v` prints, in the layout of containerd's own shims. */
export function versionText(): string {
  return `containerd-shim-ts-v2:\n  Version:  ${VERSION}\n  Revision: ${REVISION}\n  Node:     ${process.version}\n  Platform: ${process.platform}/${process.arch}\n`;
}
