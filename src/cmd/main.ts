// Entry point of containerd-shim-ts-v2 (placeholder until the shim core lands).
process.stdout.write('containerd-shim-ts-v2\n');
