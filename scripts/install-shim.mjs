// Puts containerd-shim-ts-v2 on containerd's PATH and prints the containerd configuration for it.
// Usage: npm run install-shim [-- --prefix <dir>]   (default prefix /usr/local; the link goes in <prefix>/bin)
// The link points into this checkout, so a later `npm run build` updates the installed shim.
import { existsSync, lstatSync, mkdirSync, readlinkSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));

function usage(code) {
  (code === 0 ? console.log : console.error)('usage: npm run install-shim [-- --prefix <dir>]');
  process.exit(code);
}

let prefix = '/usr/local';
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  const arg = args[i];
  if (arg === '--help' || arg === '-h') usage(0);
  else if (arg === '--prefix') {
    if (!args[i + 1]) usage(2);
    prefix = args[++i];
  } else if (arg.startsWith('--prefix=')) prefix = arg.slice('--prefix='.length);
  else {
    console.error(`install-shim: unknown argument ${arg}`);
    usage(2);
  }
}
prefix = path.resolve(prefix);

const source = path.join(root, 'bin', 'containerd-shim-ts-v2');
if (!existsSync(path.join(root, 'dist', 'bundle', 'containerd-shim-ts-v2.mjs'))) {
  console.error('install-shim: build first (npm ci && npm run build)');
  process.exit(1);
}
const binDir = path.join(prefix, 'bin');
mkdirSync(binDir, { recursive: true });
const target = path.join(binDir, 'containerd-shim-ts-v2');
let previous;
try {
  if (lstatSync(target).isSymbolicLink()) previous = readlinkSync(target);
  else {
    console.error(`install-shim: ${target} exists and is not a symlink; remove it first`);
    process.exit(1);
  }
} catch {
  // nothing installed yet
}
// Replace atomically: containerd may be starting a shim right now.
const tmp = `${target}.install-${process.pid}`;
rmSync(tmp, { force: true });
symlinkSync(source, tmp);
renameSync(tmp, target);

const version = spawnSync(target, ['-v'], { encoding: 'utf8' });
if (version.status !== 0) {
  console.error(`install-shim: ${target} -v failed: ${version.stderr || version.stdout}`);
  process.exit(1);
}
console.log(`installed ${target} -> ${source}${previous && previous !== source ? ` (was -> ${previous})` : ''}
${version.stdout.trimEnd()}

Add to /etc/containerd/config.toml (CRI runtime handler "ts"), then restart containerd:

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.ts]
  runtime_type = "io.containerd.ts.v2"
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.ts.options]
  TypeUrl = "io.containerd.ts.v2.options"
  ConfigPath = "/etc/containerd-shim-ts/config.toml"

and choose the OCI runtime in /etc/containerd-shim-ts/config.toml, e.g.:

binary_name = "runc"    # or "crun", or "runsc" with [runsc_config] network = "none"

Kubernetes pods select it through a RuntimeClass whose handler is "ts" (see README.md).
`);
