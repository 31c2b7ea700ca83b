// The one build: type-check and emit everything with tsc (libraries, tests, benchmarks),
// then bundle the shim binary's entry point into a single ES module so that `start`,
// which containerd runs once per container, loads one file instead of dozens.
import { spawnSync } from 'node:child_process';
import { chmodSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { build } from 'esbuild';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const result = spawnSync(process.execPath, [tsc, '-p', root], { stdio: 'inherit' });
if (result.status !== 0) process.exit(result.status ?? 1);

await build({
  entryPoints: [path.join(root, 'src', 'cmd', 'main.ts')],
  outfile: path.join(root, 'dist', 'containerd-shim-ts-v2.mjs'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // koffi ships a native module; it is loaded from node_modules at run time.
  external: ['koffi'],
  banner: { js: "import { createRequire as __shimCreateRequire } from 'node:module'; const require = __shimCreateRequire(import.meta.url);" },
  legalComments: 'none',
  logLevel: 'warning',
});
chmodSync(path.join(root, 'bin', 'containerd-shim-ts-v2'), 0o755);
