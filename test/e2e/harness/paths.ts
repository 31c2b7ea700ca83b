// Locates the checkout from the compiled module, so the harness works from any clone and cwd.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The checkout's root: the nearest directory above this module whose package.json is ours. */
export function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = path.join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'containerd-shim-ts') return dir;
      } catch { /* not ours; keep walking */ }
    }
    const up = path.dirname(dir);
    if (up === dir) throw new Error('cannot find the containerd-shim-ts checkout above the harness');
    dir = up;
  }
}

/** The checkout's `bin/` directory, which holds `containerd-shim-ts-v2`. */
export function binDir(): string {
  return path.join(repoRoot(), 'bin');
}
