// The one build: type-check and emit everything with tsc (libraries, tests, benchmarks),
// then bundle the shim binary's entry point into a single ES module so that `start`,
// which containerd runs once per container, loads one file instead of dozens.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { build } from 'esbuild';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const result = spawnSync(process.execPath, [tsc, '-p', root], { stdio: 'inherit' });
if (result.status !== 0) process.exit(result.status ?? 1);

const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
const git = spawnSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: root, encoding: 'utf8' });
const revision = git.status === 0 ? git.stdout.trim() : 'unknown';

const bundleDir = path.join(root, 'dist', 'bundle');
const output = await build({
  write: false,
  entryPoints: { 'containerd-shim-ts-v2': path.join(root, 'src', 'cmd', 'main.ts') },
  outdir: bundleDir,
  outExtension: { '.js': '.mjs' },
  // The daemon's modules go into chunks that `start` and `delete` never load.
  splitting: true,
  chunkNames: 'chunk-[hash]',
  define: { __SHIM_VERSION__: JSON.stringify(pkg.version), __SHIM_REVISION__: JSON.stringify(revision) },
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
// Daemons started from an earlier build may still import their chunks lazily, and tests may be
// launching the shim while we build: chunks are content-named, so old ones are left in place and
// new ones added; the entry file is replaced atomically, last.
mkdirSync(bundleDir, { recursive: true });
const entry = path.join(bundleDir, 'containerd-shim-ts-v2.mjs');
for (const file of output.outputFiles) {
  if (file.path === entry || existsSync(file.path)) continue;
  writeFileSync(`${file.path}.tmp`, file.contents);
  renameSync(`${file.path}.tmp`, file.path);
}
const entryFile = output.outputFiles.find((f) => f.path === entry);
if (!entryFile) throw new Error('esbuild produced no shim entry');
writeFileSync(`${entry}.tmp`, entryFile.contents);
renameSync(`${entry}.tmp`, entry);
// The shim's launcher runs under containerd's PATH, which need not contain node: remember ours.
writeFileSync(path.join(root, 'dist', 'node-path'), process.execPath + '\n');
chmodSync(path.join(root, 'bin', 'containerd-shim-ts-v2'), 0o755);
