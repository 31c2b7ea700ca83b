// Puts containerd-shim-ts-v2 on containerd's PATH and prints the containerd configuration for it.
// Usage: npm run install-shim [-- --prefix /usr/local]
import { existsSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const prefixIndex = process.argv.indexOf('--prefix');
const prefix = prefixIndex > 0 ? process.argv[prefixIndex + 1] : '/usr/local';
const source = path.join(root, 'bin', 'containerd-shim-ts-v2');
if (!existsSync(path.join(root, 'dist', 'bundle', 'containerd-shim-ts-v2.mjs'))) {
  console.error('install-shim: build first (npm ci && npm run build)');
  process.exit(1);
}
const binDir = path.join(prefix, 'bin');
mkdirSync(binDir, { recursive: true });
const target = path.join(binDir, 'containerd-shim-ts-v2');
rmSync(target, { force: true });
symlinkSync(source, target);
console.log(`installed ${target} -> ${source}

Add to /etc/containerd/config.toml (CRI runtime handler "ts"):

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.ts]
  runtime_type = "io.containerd.ts.v2"
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.ts.options]
  TypeUrl = "io.containerd.ts.v2.options"
  ConfigPath = "/etc/containerd-shim-ts/config.toml"

and choose the OCI runtime in /etc/containerd-shim-ts/config.toml, e.g.:

binary_name = "runc"
`);
