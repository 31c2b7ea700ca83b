// Regenerates the TypeScript in src/api/ from proto/ (buf.yaml, buf.gen.yaml at the root):
// one `<name>_pb.ts` per .proto, written by protoc-gen-es, never edited by hand.
//
// Usage: node scripts/generate.mjs [--out DIR]
//   --out DIR   write into DIR/src/api instead of the checkout (the staleness test uses this).
//
// Both tools come from node_modules: buf's npm package ships the CLI binary, and
// protoc-gen-es is found by buf through PATH.
import { spawnSync } from 'node:child_process';
import { readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));

function parseArgs(argv) {
  let out = root;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--out' && argv[i + 1]) out = path.resolve(argv[++i]);
    else {
      console.error(`generate: unknown argument ${argv[i]}`);
      process.exit(2);
    }
  }
  return { out };
}

/** Every generated file under dir (recursively), so that files of deleted protos go too. */
function generatedFiles(dir) {
  let found = [];
  let names;
  try {
    names = readdirSync(dir);
  } catch {
    return found;
  }
  for (const name of names) {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) found = found.concat(generatedFiles(full));
    else if (name.endsWith('_pb.ts')) found.push(full);
  }
  return found;
}

const { out } = parseArgs(process.argv.slice(2));
// buf.gen.yaml has clean: false because src/api also holds hand-written typeurl.ts.
for (const file of generatedFiles(path.join(out, 'src', 'api'))) rmSync(file);

const bin = path.join(root, 'node_modules', '.bin');
const env = {
  ...process.env,
  // protoc-gen-es starts with `#!/usr/bin/env node`: put this node first, then the plugin.
  PATH: [bin, path.dirname(process.execPath), process.env.PATH ?? ''].join(path.delimiter),
};
const result = spawnSync(
  path.join(bin, 'buf'),
  ['generate', '--template', path.join(root, 'buf.gen.yaml'), '--output', out, root],
  { cwd: root, env, stdio: 'inherit' },
);
if (result.error) {
  console.error(`generate: cannot run buf: ${result.error.message}`);
  process.exit(1);
}
process.exit(result.status ?? 1);
